/* clawctl status, start [--wait], stop, open, events: the user's runtime. start --wait
 * follows the runtime's Server-Sent Events (a snapshot, then each change) and decides from
 * each event's observed state: Ready (phase Running, ready True) ends it well; phase
 * Failed, a Degraded=True condition, a Stopped desired state or a deleted runtime end it
 * with the reason. On a terminal the progress is one line redrawn with a spinner; otherwise
 * one plain line per change. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli/table.h"
#include "core/error.h"
#include "core/parse.h"
#include "core/str.h"
#include "ctl.h"
#include "json/json.h"

static int runtime_path(const char *user, const char *tail, char *buf, size_t n) {
  char u[200];
  if (ctl_user_path(user, u, sizeof u) != 0)
    return EXIT_USAGE;
  int w = snprintf(buf, n, "/api/v1/users/%s/runtime%s", u, tail);
  return w < 0 || (size_t)w >= n ? EXIT_USAGE : 0;
}

/* Reason and message of the Degraded condition when it is True, else NULL. */
static const cJSON *degraded(const cJSON *observed) {
  const cJSON *conds = cJSON_GetObjectItemCaseSensitive(observed, "conditions");
  const cJSON *c;
  cJSON_ArrayForEach(c, conds) {
    const char *type = cp_json_strv(c, "type", NULL), *status = cp_json_strv(c, "status", NULL);
    if (type && status && strcmp(type, "Degraded") == 0 && strcmp(status, "True") == 0)
      return c;
  }
  return NULL;
}

static void print_runtime(const cJSON *rt) {
  const cJSON *d = cJSON_GetObjectItemCaseSensitive(rt, "desired");
  const cJSON *o = cJSON_GetObjectItemCaseSensitive(rt, "observed");
  char b[8][CP_CLI_CELL_MAX];
  const char *h[] = {"USER", "STATE", "PHASE", "READY", "PROFILE", "RESTARTS", "MESSAGE"};
  cp_cli_table_t *t = cp_cli_table_new(7, h);
  if (!t)
    return;
  const cJSON *deg = degraded(o);
  char msg[CP_CLI_CELL_MAX];
  ctl_str(o, "message", msg, sizeof msg);
  if (deg && !msg[0]) {
    char r[64], m[200];
    ctl_str(deg, "reason", r, sizeof r);
    ctl_str(deg, "message", m, sizeof m);
    snprintf(msg, sizeof msg, "%.60s: %.180s", r, m);
  }
  const char *row[] = {ctl_str(rt, "user", b[0], sizeof b[0]),
                       ctl_str(d, "state", b[1], sizeof b[1]),
                       ctl_str(o, "phase", b[2], sizeof b[2]),
                       ctl_str(o, "ready", b[3], sizeof b[3]),
                       ctl_str(d, "profile", b[4], sizeof b[4]),
                       ctl_str(o, "restarts", b[5], sizeof b[5]),
                       msg};
  cp_cli_table_add(t, row);
  cp_cli_table_print(t, stdout);
  cp_cli_table_free(t);
}

/* `CMD [--user U]`: parses the flags and GETs the runtime into *rt (the caller frees it).
 * Returns 0 or the exit code, with a hint when there is no runtime yet. */
static int get_runtime(ctl_t *ctl, const char *what, int argc, char **argv, cJSON **rt) {
  ctl_opt_t o[] = {{"--user", 1, NULL}};
  int rc = ctl_parse(ctl, argc, argv, o, 1, NULL, 0, 0);
  if (rc)
    return rc;
  char path[512];
  if ((rc = runtime_path(o[0].value, "", path, sizeof path)))
    return rc;
  if ((rc = ctl_call(ctl, what, "GET", path, NULL, rt)) == EXIT_NOTFOUND)
    fprintf(stderr, "No runtime yet; clawctl start creates it.\n");
  return rc;
}

int ctl_cmd_status(ctl_t *ctl, int argc, char **argv) {
  cJSON *rt = NULL;
  int rc = get_runtime(ctl, "status", argc, argv, &rt);
  if (rc)
    return rc;
  if (!ctl_print_structured(ctl, rt))
    print_runtime(rt);
  cJSON_Delete(rt);
  return 0;
}

int ctl_cmd_stop(ctl_t *ctl, int argc, char **argv) {
  ctl_opt_t o[] = {{"--user", 1, NULL}};
  int rc = ctl_parse(ctl, argc, argv, o, 1, NULL, 0, 0);
  if (rc)
    return rc;
  char path[512];
  if ((rc = runtime_path(o[0].value, "/stop", path, sizeof path)))
    return rc;
  cJSON *rt = NULL;
  if ((rc = ctl_call(ctl, "stop", "POST", path, NULL, &rt)))
    return rc;
  if (!ctl_print_structured(ctl, rt)) {
    char u[64];
    fprintf(stderr, "Runtime %s stopping; its storage stays. clawctl start brings it back.\n",
            ctl_str(rt, "user", u, sizeof u));
  }
  cJSON_Delete(rt);
  return 0;
}

/* The runtime's URL: the context's runtime-url, else USER.HOST[:PORT] of the server. */
static int runtime_url(const ctl_t *ctl, const char *user, char *out, size_t n) {
  if (ctl->ctx.runtime_url[0] && (!user || strcmp(user, ctl->ctx.user) == 0)) {
    cp_str_copy(out, n, ctl->ctx.runtime_url);
    return 0;
  }
  const char *s = ctl->ctx.server;
  const char *host = strstr(s, "://");
  if (!host)
    return CP_EINVAL;
  host += 3;
  size_t hl = strcspn(host, "/");
  int w = snprintf(out, n, "%.*s%s.%.*s/", (int)(host - s), s, user, (int)hl, host);
  return w < 0 || (size_t)w >= n ? CP_ETOOBIG : 0;
}

int ctl_cmd_open(ctl_t *ctl, int argc, char **argv) {
  cJSON *rt = NULL;
  int rc = get_runtime(ctl, "open", argc, argv, &rt);
  if (rc)
    return rc;
  char user[64], url[1100], phase[32];
  ctl_str(rt, "user", user, sizeof user);
  ctl_str(cJSON_GetObjectItemCaseSensitive(rt, "observed"), "phase", phase, sizeof phase);
  if (!user[0] || runtime_url(ctl, user, url, sizeof url) != 0) {
    fprintf(stderr, "clawctl open: cannot tell the runtime's URL; set it with clawctl config "
                    "set-context NAME --runtime-url URL\n");
    cJSON_Delete(rt);
    return EXIT_ERROR;
  }
  printf("%s\n", url);
  if (strcmp(phase, "Running") != 0 && strcmp(phase, "Hibernated") != 0)
    fprintf(stderr, "Note: the runtime is %s; clawctl start --wait brings it up.\n",
            phase[0] ? phase : "not running");
  else if (strcmp(phase, "Hibernated") == 0)
    fprintf(stderr, "Note: the runtime is hibernated; opening the URL wakes it.\n");
  cJSON_Delete(rt);
  return 0;
}

/* start --wait and events: what the last event said, and how to show it. */
typedef struct follow_s {
  ctl_t *ctl;
  int wait;       /* start --wait: stop at Ready or failure */
  int spinner;    /* redraw one line on stderr */
  int outcome;    /* 0 going on, 1 ready, 2 failed */
  int seen;       /* the stream has shown the runtime with desired state Running: before
                     that, ABSENT or Stopped is the apiserver's cache not having caught up
                     with our start yet, not news */
  char line[400]; /* the current progress text */
  char reason[400];
  time_t began;
  unsigned ticks;
} follow_t;

static void draw(follow_t *f) {
  static const char frames[] = "|/-\\";
  fprintf(stderr, "\r\033[K%c %s (%lds)", frames[(f->ticks / 2) % 4], f->line,
          (long)(time(NULL) - f->began));
  fflush(stderr);
}

static void on_tick(void *ud) {
  follow_t *f = ud;
  f->ticks++;
  if (f->spinner && f->line[0])
    draw(f);
}

/* Judges one observed state for start --wait: sets outcome and reason. */
static void judge(follow_t *f, const char *type, const cJSON *rt) {
  const cJSON *d = cJSON_GetObjectItemCaseSensitive(rt, "desired");
  const cJSON *o = cJSON_GetObjectItemCaseSensitive(rt, "observed");
  const char *phase = cp_json_strv(o, "phase", NULL), *ready = cp_json_strv(o, "ready", NULL);
  const char *state = cp_json_strv(d, "state", NULL);
  const cJSON *deg = degraded(o);
  char msg[300];
  cp_cli_cell_clean(msg, sizeof msg, cp_json_strv(o, "message", NULL));
  if (!f->seen) {
    if (strcmp(type, "DELETED") == 0 || strcmp(type, "ABSENT") == 0 ||
        (state && strcmp(state, "Stopped") == 0))
      return; /* keep waiting: the start has not reached the stream yet */
    f->seen = 1;
  }
  if (strcmp(type, "DELETED") == 0 || strcmp(type, "ABSENT") == 0) {
    f->outcome = 2;
    snprintf(f->reason, sizeof f->reason, "the runtime was deleted");
  } else if (phase && ready && strcmp(phase, "Running") == 0 && strcmp(ready, "True") == 0) {
    f->outcome = 1; /* usable; a Degraded condition beside it is worth a warning */
    if (deg)
      snprintf(f->reason, sizeof f->reason, "warning: ready but degraded: %.60s",
               cp_json_strv(deg, "reason", NULL) ? cp_json_strv(deg, "reason", NULL) : "");
  } else if (phase && strcmp(phase, "Failed") == 0) {
    f->outcome = 2;
    snprintf(f->reason, sizeof f->reason, "the runtime failed: %s", msg[0] ? msg : "no message");
  } else if (deg) {
    char r[64], m[300];
    cp_cli_cell_clean(r, sizeof r, cp_json_strv(deg, "reason", NULL));
    cp_cli_cell_clean(m, sizeof m, cp_json_strv(deg, "message", NULL));
    f->outcome = 2;
    snprintf(f->reason, sizeof f->reason, "the runtime is degraded: %.60s: %.300s", r, m);
  } else if (state && strcmp(state, "Stopped") == 0) {
    f->outcome = 2;
    snprintf(f->reason, sizeof f->reason, "the runtime was stopped meanwhile");
  }
}

static int on_event(const char *event, const char *data, void *ud) {
  follow_t *f = ud;
  if (strcmp(event, "shutdown") == 0) {
    snprintf(f->reason, sizeof f->reason, "the apiserver is shutting down");
    return CP_EUNAVAILABLE;
  }
  cJSON *ev = NULL;
  if (cp_json_parse(data, strlen(data), CP_CLI_EVENT_MAX, &ev) != 0)
    return 0;                                    /* not ours to judge; the next event will say */
  if (!f->wait && f->ctl->output != OUT_TABLE) { /* one JSON line (or YAML document) each */
    if (f->ctl->output == OUT_JSON) {
      char *line = cJSON_PrintUnformatted(ev);
      if (line)
        printf("%s\n", line);
      free(line);
    } else {
      printf("---\n");
      ctl_print_structured(f->ctl, ev);
    }
    fflush(stdout);
    cJSON_Delete(ev);
    return 0;
  }
  const char *type = cp_json_strv(ev, "type", NULL);
  const cJSON *rt = cJSON_GetObjectItemCaseSensitive(ev, "runtime");
  const cJSON *o = cJSON_GetObjectItemCaseSensitive(rt, "observed");
  char phase[32], ready[16], msg[300], line[sizeof f->line];
  ctl_str(o, "phase", phase, sizeof phase);
  ctl_str(o, "ready", ready, sizeof ready);
  cp_cli_cell_clean(msg, sizeof msg, cp_json_strv(o, "message", NULL));
  snprintf(line, sizeof line, "%s: phase %s, ready %s%s%.300s", type ? type : "?",
           phase[0] ? phase : "-", ready[0] ? ready : "-", msg[0] ? ", " : "", msg);
  if (!f->wait) {
    char ts[32];
    time_t now = time(NULL);
    strftime(ts, sizeof ts, "%H:%M:%S", localtime(&now));
    printf("%s  %s\n", ts, line);
    fflush(stdout);
  } else {
    judge(f, type ? type : "", rt);
    if (strcmp(line, f->line) != 0) {
      cp_str_copy(f->line, sizeof f->line, line);
      if (f->spinner)
        draw(f);
      else
        fprintf(stderr, "%s\n", line);
    }
  }
  cJSON_Delete(ev);
  return f->outcome ? 1 : 0;
}

static int follow(ctl_t *ctl, const char *user, long timeout_s, int wait) {
  char path[512];
  int rc = runtime_path(user, "/events", path, sizeof path);
  if (rc)
    return rc;
  follow_t f = {.ctl = ctl, .wait = wait, .spinner = wait && ctl->stderr_tty, .began = time(NULL)};
  cp_cli_status_t st;
  rc = cp_cli_stream(ctl->client, path, timeout_s * 1000, on_event, on_tick, &f, &st);
  if (f.spinner)
    fprintf(stderr, "\r\033[K%s\n", f.line);
  if (!wait)
    return rc == 0 || rc == CP_ETIMEOUT ? 0 : ctl_fail(ctl, "events", rc, &st);
  if (f.outcome == 1) {
    if (f.reason[0])
      fprintf(stderr, "clawctl start: %s\n", f.reason);
    return 0;
  }
  if (f.outcome == 2) {
    fprintf(stderr, "clawctl start: %s\n", f.reason);
    return EXIT_RUNTIME;
  }
  if (rc == CP_ETIMEOUT) {
    fprintf(stderr, "clawctl start: not Ready after %ld s (last: %s); see clawctl status\n",
            timeout_s, f.line[0] ? f.line : "no event");
    return EXIT_RUNTIME;
  }
  if (f.reason[0])
    fprintf(stderr, "clawctl start: %s\n", f.reason);
  return ctl_fail(ctl, "start --wait", rc, &st);
}

int ctl_cmd_start(ctl_t *ctl, int argc, char **argv) {
  ctl_opt_t o[] = {{"--user", 1, NULL}, {"--wait", 0, NULL}, {"--timeout", 1, NULL}};
  int rc = ctl_parse(ctl, argc, argv, o, 3, NULL, 0, 0);
  if (rc)
    return rc;
  long timeout = 300;
  if (o[2].value && cp_parse_long(o[2].value, 1, 86400, &timeout) != 0) {
    fprintf(stderr, "clawctl start: --timeout takes seconds, 1 to 86400\n");
    return EXIT_USAGE;
  }
  char path[512];
  if ((rc = runtime_path(o[0].value, "/start", path, sizeof path)))
    return rc;
  cJSON *rt = NULL;
  if ((rc = ctl_call(ctl, "start", "POST", path, NULL, &rt)))
    return rc;
  char user[64];
  ctl_str(rt, "user", user, sizeof user);
  if (!o[1].value) {
    if (!ctl_print_structured(ctl, rt))
      fprintf(stderr, "Runtime %s starting; clawctl start --wait follows it until Ready.\n", user);
    cJSON_Delete(rt);
    return 0;
  }
  cJSON_Delete(rt);
  fprintf(stderr, "Starting runtime %s...\n", user);
  rc = follow(ctl, o[0].value, timeout, 1);
  if (rc == 0) {
    char url[1100];
    if (runtime_url(ctl, user, url, sizeof url) == 0)
      fprintf(stderr, "Runtime %s is ready: %s\n", user, url);
    else
      fprintf(stderr, "Runtime %s is ready.\n", user);
  }
  return rc;
}

int ctl_cmd_events(ctl_t *ctl, int argc, char **argv) {
  ctl_opt_t o[] = {{"--user", 1, NULL}, {"--timeout", 1, NULL}};
  int rc = ctl_parse(ctl, argc, argv, o, 2, NULL, 0, 0);
  if (rc)
    return rc;
  long timeout = 0;
  if (o[1].value && cp_parse_long(o[1].value, 1, 86400 * 365, &timeout) != 0) {
    fprintf(stderr, "clawctl events: --timeout takes seconds\n");
    return EXIT_USAGE;
  }
  if ((rc = ctl_connect(ctl)))
    return rc;
  return follow(ctl, o[0].value, timeout, 0);
}
