/* clawctl's admin commands: users, runtimes, quota, audit. Lists follow the API's paging
 * (users: next_after; audit: next_before) up to a fixed number of pages, so a list is
 * complete but a server that never stops paging cannot keep clawctl running. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cli/client.h"
#include "cli/prompt.h"
#include "cli/table.h"
#include "core/error.h"
#include "core/parse.h"
#include "core/time.h"
#include "ctl.h"
#include "json/json.h"
#include <openssl/crypto.h>

#define MAX_PAGES 200

static int name_path(const char *name, const char *tail, char *buf, size_t n) {
  char u[200];
  if (cp_cli_escape(name, u, sizeof u) != 0)
    return EXIT_USAGE;
  int w = snprintf(buf, n, "/api/v1/users/%s%s", u, tail);
  return w < 0 || (size_t)w >= n ? EXIT_USAGE : 0;
}

/* Appends page's items to all (both arrays); the items move. */
static void take_items(cJSON *all, cJSON *page) {
  cJSON *items = cJSON_GetObjectItemCaseSensitive(page, "items");
  while (cJSON_IsArray(items) && items->child)
    cJSON_AddItemToArray(all, cJSON_DetachItemViaPointer(items, items->child));
}

int ctl_cmd_users_list(ctl_t *ctl, int argc, char **argv) {
  int rc = ctl_parse(ctl, argc, argv, NULL, 0, NULL, 0, 0);
  if (rc)
    return rc;
  cJSON *all = cJSON_CreateObject(), *items = all ? cJSON_AddArrayToObject(all, "items") : NULL;
  if (!items) {
    cJSON_Delete(all);
    return EXIT_ERROR;
  }
  char after[200] = "", path[512];
  for (int page = 0; page < MAX_PAGES; page++) {
    snprintf(path, sizeof path, "/api/v1/users?limit=500%s%s", after[0] ? "&after=" : "", after);
    cJSON *p = NULL;
    if ((rc = ctl_call(ctl, "users list", "GET", path, NULL, &p))) {
      cJSON_Delete(all);
      return rc;
    }
    take_items(items, p);
    const char *next = cp_json_strv(p, "next_after", NULL);
    int more = next && next[0] && cp_cli_escape(next, after, sizeof after) == 0;
    cJSON_Delete(p);
    if (!more)
      break;
  }
  if (!ctl_print_structured(ctl, all)) {
    const char *h[] = {"USER", "ROLE", "STATE", "RUNTIME", "CREATED"};
    cp_cli_table_t *t = cp_cli_table_new(5, h);
    const cJSON *it;
    cJSON_ArrayForEach(it, items) {
      char b[5][CP_CLI_CELL_MAX];
      const char *row[] = {
          ctl_str(it, "username", b[0], sizeof b[0]), ctl_str(it, "role", b[1], sizeof b[1]),
          ctl_str(it, "state", b[2], sizeof b[2]), ctl_str(it, "runtime_phase", b[3], sizeof b[3]),
          ctl_str(it, "created_at", b[4], sizeof b[4])};
      cp_cli_table_add(t, row);
    }
    cp_cli_table_print(t, stdout);
    cp_cli_table_free(t);
  }
  cJSON_Delete(all);
  return 0;
}

int ctl_cmd_users_create(ctl_t *ctl, int argc, char **argv) {
  ctl_opt_t o[] = {{"--role", 1, NULL}, {"--password-stdin", 0, NULL}};
  char *pos[1];
  int rc = ctl_parse(ctl, argc, argv, o, 2, pos, 1, 1);
  if (rc)
    return rc;
  if (o[0].value && strcmp(o[0].value, "user") != 0 && strcmp(o[0].value, "admin") != 0) {
    fprintf(stderr, "clawctl users create: --role is user or admin\n");
    return EXIT_USAGE;
  }
  char pw[1025] = "";
  if (o[1].value && (cp_cli_read_line(stdin, pw, sizeof pw) != 0 || !pw[0])) {
    fprintf(stderr, "clawctl users create: --password-stdin: no password on stdin (at most 1024 "
                    "bytes)\n");
    return EXIT_USAGE;
  }
  cJSON *body = cJSON_CreateObject(), *resp = NULL;
  if (!body || !cJSON_AddStringToObject(body, "username", pos[0]) ||
      (o[0].value && !cJSON_AddStringToObject(body, "role", o[0].value)) ||
      (pw[0] && !cJSON_AddStringToObject(body, "password", pw))) {
    rc = EXIT_ERROR;
  } else {
    rc = ctl_call(ctl, "users create", "POST", "/api/v1/users", body, &resp);
  }
  OPENSSL_cleanse(pw, sizeof pw);
  cJSON *p = body ? cJSON_GetObjectItemCaseSensitive(body, "password") : NULL;
  if (cJSON_IsString(p))
    OPENSSL_cleanse(p->valuestring, strlen(p->valuestring));
  cJSON_Delete(body);
  if (rc == 0 && !ctl_print_structured(ctl, resp)) {
    char r[16];
    fprintf(stderr, "User %s created (role %s).\n", pos[0], ctl_str(resp, "role", r, sizeof r));
  }
  cJSON_Delete(resp);
  return rc;
}

/* users invite: the invitation token is printed once, alone on stdout (like tokens create),
 * so `clawctl users invite dave | mail ...` hands it over without anything else. */
int ctl_cmd_users_invite(ctl_t *ctl, int argc, char **argv) {
  ctl_opt_t o[] = {{"--role", 1, NULL}, {"--ttl-hours", 1, NULL}};
  char *pos[1];
  int rc = ctl_parse(ctl, argc, argv, o, 2, pos, 1, 1);
  if (rc)
    return rc;
  if (o[0].value && strcmp(o[0].value, "user") != 0 && strcmp(o[0].value, "admin") != 0) {
    fprintf(stderr, "clawctl users invite: --role is user or admin\n");
    return EXIT_USAGE;
  }
  long ttl = 0;
  if (o[1].value && cp_parse_long(o[1].value, 1, 720, &ttl) != 0) {
    fprintf(stderr, "clawctl users invite: --ttl-hours takes 1 to 720\n");
    return EXIT_USAGE;
  }
  cJSON *body = cJSON_CreateObject(), *resp = NULL;
  if (!body || !cJSON_AddStringToObject(body, "username", pos[0]) ||
      (o[0].value && !cJSON_AddStringToObject(body, "role", o[0].value)) ||
      (ttl && !cJSON_AddNumberToObject(body, "ttl_hours", (double)ttl))) {
    cJSON_Delete(body);
    return EXIT_ERROR;
  }
  rc = ctl_call(ctl, "users invite", "POST", "/api/v1/invitations", body, &resp);
  cJSON_Delete(body);
  if (rc)
    return rc;
  if (!ctl_print_structured(ctl, resp)) {
    char tok[600], exp[64], accept[256];
    fprintf(stderr,
            "Invitation for %s (expires %s); the token is shown only this once. The invitee "
            "sets a password with it: POST %s {\"token\": ..., \"password\": ...}\n",
            pos[0], ctl_str(resp, "expires_at", exp, sizeof exp),
            ctl_str(resp, "accept", accept, sizeof accept));
    printf("%s\n", ctl_str(resp, "token", tok, sizeof tok));
  }
  cJSON_Delete(resp);
  return 0;
}

static int user_action(ctl_t *ctl, int argc, char **argv, const char *action, const char *done) {
  char *pos[1];
  int rc = ctl_parse(ctl, argc, argv, NULL, 0, pos, 1, 1);
  if (rc)
    return rc;
  char path[512], what[64];
  if ((rc = name_path(pos[0], action, path, sizeof path)))
    return rc;
  snprintf(what, sizeof what, "users %s", action + 1);
  cJSON *resp = NULL;
  if ((rc = ctl_call(ctl, what, "POST", path, NULL, &resp)))
    return rc;
  if (!ctl_print_structured(ctl, resp))
    fprintf(stderr, "User %s %s.\n", pos[0], done);
  cJSON_Delete(resp);
  return 0;
}

int ctl_cmd_users_disable(ctl_t *ctl, int argc, char **argv) {
  return user_action(ctl, argc, argv, "/disable",
                     "disabled: sessions and tokens revoked, runtime stopping");
}

int ctl_cmd_users_enable(ctl_t *ctl, int argc, char **argv) {
  return user_action(ctl, argc, argv, "/enable", "enabled");
}

/* users delete: the account, its runtime and its sessions and tokens go for good, so it
 * asks for the name back on a terminal; a script says --yes. */
int ctl_cmd_users_delete(ctl_t *ctl, int argc, char **argv) {
  ctl_opt_t o[] = {{"--yes", 0, NULL}};
  char *pos[1];
  int rc = ctl_parse(ctl, argc, argv, o, 1, pos, 1, 1);
  if (rc)
    return rc;
  if (!o[0].value) {
    char typed[128], q[256];
    snprintf(q, sizeof q,
             "Delete user %s, their runtime, sessions and tokens? This cannot be undone.\n"
             "Type the username to confirm: ",
             pos[0]);
    int prc = cp_cli_prompt(q, 0, typed, sizeof typed);
    if (prc != 0) {
      fprintf(stderr, "clawctl users delete: %s; nothing deleted\n",
              prc == CP_EIO ? "no terminal to confirm on: pass --yes" : "no answer");
      return EXIT_USAGE;
    }
    if (strcmp(typed, pos[0]) != 0) {
      fprintf(stderr, "clawctl users delete: \"%s\" is not \"%s\"; nothing deleted\n", typed,
              pos[0]);
      return EXIT_USAGE;
    }
  }
  char path[512];
  if ((rc = name_path(pos[0], "", path, sizeof path)))
    return rc;
  cJSON *resp = NULL;
  if ((rc = ctl_call(ctl, "users delete", "DELETE", path, NULL, &resp)))
    return rc;
  if (!ctl_print_structured(ctl, resp))
    fprintf(stderr, "User %s deleted, with their runtime; usage and audit history stay.\n", pos[0]);
  cJSON_Delete(resp);
  return 0;
}

int ctl_cmd_runtimes_list(ctl_t *ctl, int argc, char **argv) {
  ctl_opt_t o[] = {{"--phase", 1, NULL}};
  int rc = ctl_parse(ctl, argc, argv, o, 1, NULL, 0, 0);
  if (rc)
    return rc;
  cJSON *l = NULL;
  if ((rc = ctl_call(ctl, "runtimes list", "GET", "/api/v1/runtimes", NULL, &l)))
    return rc;
  cJSON *items = cJSON_GetObjectItemCaseSensitive(l, "items");
  if (o[0].value && cJSON_IsArray(items)) { /* the API has no filter: do it here */
    cJSON *it = items->child;
    while (it) {
      cJSON *next = it->next;
      const char *ph = cp_json_strv(it, "phase", NULL);
      if (!ph || strcasecmp(ph, o[0].value) != 0)
        cJSON_Delete(cJSON_DetachItemViaPointer(items, it));
      it = next;
    }
    cJSON_ReplaceItemInObjectCaseSensitive(l, "count",
                                           cJSON_CreateNumber(cJSON_GetArraySize(items)));
  }
  if (!ctl_print_structured(ctl, l)) {
    const char *h[] = {"NAME", "USER", "STATE", "PHASE", "READY", "PROFILE"};
    cp_cli_table_t *t = cp_cli_table_new(6, h);
    const cJSON *it;
    cJSON_ArrayForEach(it, items) {
      char b[6][CP_CLI_CELL_MAX];
      const char *row[] = {
          ctl_str(it, "name", b[0], sizeof b[0]),  ctl_str(it, "user", b[1], sizeof b[1]),
          ctl_str(it, "state", b[2], sizeof b[2]), ctl_str(it, "phase", b[3], sizeof b[3]),
          ctl_str(it, "ready", b[4], sizeof b[4]), ctl_str(it, "profile", b[5], sizeof b[5])};
      cp_cli_table_add(t, row);
    }
    if (cp_cli_table_rows(t) == 0)
      fprintf(stderr, "No runtimes%s%s.\n", o[0].value ? " in phase " : "",
              o[0].value ? o[0].value : "");
    else
      cp_cli_table_print(t, stdout);
    cp_cli_table_free(t);
  }
  cJSON_Delete(l);
  return 0;
}

static const struct {
  const char *flag, *key, *label;
} quota_fields[] = {
    {"--tokens", "monthly_token_budget", "monthly token budget"},
    {"--cost-microusd", "monthly_cost_budget_microusd", "monthly cost budget (micro-USD)"},
    {"--rpm", "requests_per_minute", "requests per minute"},
    {"--streams", "max_concurrent_streams", "concurrent streams"},
};

static void print_quota(const char *user, const cJSON *q) {
  printf("Quota of %s (- = the profile's default)\n", user);
  for (size_t i = 0; i < 4; i++) {
    char b[64];
    ctl_str(q, quota_fields[i].key, b, sizeof b);
    printf("  %-34s %s\n", quota_fields[i].label, b[0] ? b : "-");
  }
  const cJSON *m = cJSON_GetObjectItemCaseSensitive(q, "allowed_models");
  printf("  %-34s ", "allowed models");
  if (!cJSON_IsArray(m)) {
    printf("-\n");
    return;
  }
  const cJSON *it;
  int first = 1;
  cJSON_ArrayForEach(it, m) {
    char cell[CP_CLI_CELL_MAX];
    if (cJSON_IsString(it))
      printf("%s%s", first ? "" : ",", cp_cli_cell_clean(cell, sizeof cell, it->valuestring));
    first = 0;
  }
  printf("%s\n", first ? "(none)" : "");
}

int ctl_cmd_quota_get(ctl_t *ctl, int argc, char **argv) {
  char *pos[1];
  int rc = ctl_parse(ctl, argc, argv, NULL, 0, pos, 0, 1);
  if (rc)
    return rc;
  char path[512];
  if ((rc = name_path(pos[0] ? pos[0] : "me", "/quota", path, sizeof path)))
    return rc;
  cJSON *q = NULL;
  if ((rc = ctl_call(ctl, "quota get", "GET", path, NULL, &q)))
    return rc;
  if (!ctl_print_structured(ctl, q))
    print_quota(pos[0] ? pos[0] : "you", q);
  cJSON_Delete(q);
  return 0;
}

int ctl_cmd_quota_set(ctl_t *ctl, int argc, char **argv) {
  ctl_opt_t o[] = {{"--tokens", 1, NULL},
                   {"--cost-microusd", 1, NULL},
                   {"--rpm", 1, NULL},
                   {"--streams", 1, NULL},
                   {"--models", 1, NULL}};
  char *pos[1];
  int rc = ctl_parse(ctl, argc, argv, o, 5, pos, 1, 1);
  if (rc)
    return rc;
  int any = 0;
  for (size_t i = 0; i < 5; i++)
    any |= o[i].value != NULL;
  if (!any) {
    fprintf(stderr, "clawctl quota set: nothing to change; give at least one of --tokens, "
                    "--cost-microusd, --rpm, --streams, --models\n");
    return EXIT_USAGE;
  }
  char path[512];
  if ((rc = name_path(pos[0], "/quota", path, sizeof path)))
    return rc;
  cJSON *q = NULL, *resp = NULL;
  /* Read, change what was asked, write back: fields not named keep their value. */
  if ((rc = ctl_call(ctl, "quota set", "GET", path, NULL, &q)))
    return rc;
  for (size_t i = 0; i < 4 && rc == 0; i++) {
    if (!o[i].value)
      continue;
    long v;
    cJSON *nv = NULL;
    if (strcmp(o[i].value, "default") == 0) {
      nv = cJSON_CreateNull();
    } else if (cp_parse_long(o[i].value, 0, 1L << 53, &v) == 0) {
      nv = cJSON_CreateNumber((double)v);
    } else {
      fprintf(stderr, "clawctl quota set: %s takes a number >= 0 or \"default\"\n", o[i].name);
      rc = EXIT_USAGE;
      break;
    }
    if (cp_json_set(q, quota_fields[i].key, nv) != 0)
      rc = EXIT_ERROR;
  }
  if (rc == 0 && o[4].value) {
    cJSON *arr = strcmp(o[4].value, "default") == 0 ? cJSON_CreateNull() : cJSON_CreateArray();
    if (cJSON_IsArray(arr)) {
      char buf[4096];
      snprintf(buf, sizeof buf, "%s", o[4].value);
      char *save = NULL;
      for (char *tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save))
        cJSON_AddItemToArray(arr, cJSON_CreateString(tok));
    }
    if (cp_json_set(q, "allowed_models", arr) != 0)
      rc = EXIT_ERROR;
  }
  if (rc == 0)
    rc = ctl_call(ctl, "quota set", "PUT", path, q, &resp);
  if (rc == 0 && !ctl_print_structured(ctl, resp))
    print_quota(pos[0], resp);
  cJSON_Delete(q);
  cJSON_Delete(resp);
  return rc;
}

/* --since: "30m", "2h", "7d", "90s" back from now, or an RFC 3339 time. */
static int parse_since(const char *s, double *out) {
  size_t n = strlen(s);
  if (n >= 2 && n < 16 && strchr("smhd", s[n - 1])) {
    char num[16];
    memcpy(num, s, n - 1);
    num[n - 1] = '\0';
    long v;
    if (cp_parse_long(num, 0, 100L * 365 * 86400, &v) != 0)
      return -1;
    double mult = s[n - 1] == 's' ? 1 : s[n - 1] == 'm' ? 60 : s[n - 1] == 'h' ? 3600 : 86400;
    *out = cp_time_now() - (double)v * mult;
    return 0;
  }
  return cp_time_parse(s, out) == 0 ? 0 : -1;
}

int ctl_cmd_audit(ctl_t *ctl, int argc, char **argv) {
  ctl_opt_t o[] = {
      {"--actor", 1, NULL}, {"--action", 1, NULL}, {"--since", 1, NULL}, {"--limit", 1, NULL}};
  int rc = ctl_parse(ctl, argc, argv, o, 4, NULL, 0, 0);
  if (rc)
    return rc;
  double since = 0;
  long limit = o[2].value ? 100000 : 50;
  if (o[2].value && parse_since(o[2].value, &since) != 0) {
    fprintf(stderr, "clawctl audit: --since takes a duration (30m, 2h, 7d) or an RFC 3339 time "
                    "(2026-01-02T15:04:05Z)\n");
    return EXIT_USAGE;
  }
  if (o[3].value && cp_parse_long(o[3].value, 1, 100000, &limit) != 0) {
    fprintf(stderr, "clawctl audit: --limit takes 1 to 100000\n");
    return EXIT_USAGE;
  }
  char actor[200] = "", action[200] = "";
  if ((o[0].value && cp_cli_escape(o[0].value, actor, sizeof actor) != 0) ||
      (o[1].value && cp_cli_escape(o[1].value, action, sizeof action) != 0)) {
    fprintf(stderr, "clawctl audit: --actor or --action too long\n");
    return EXIT_USAGE;
  }
  cJSON *all = cJSON_CreateObject(), *items = all ? cJSON_AddArrayToObject(all, "items") : NULL;
  if (!items) {
    cJSON_Delete(all);
    return EXIT_ERROR;
  }
  long before = 0, have = 0;
  int done = 0;
  for (int page = 0; page < MAX_PAGES && !done; page++) {
    char path[700], bq[40] = "";
    if (before)
      snprintf(bq, sizeof bq, "&before=%ld", before);
    long want = limit - have > 500 ? 500 : limit - have;
    snprintf(path, sizeof path, "/api/v1/audit?limit=%ld%s%s%s%s%s", want, bq,
             actor[0] ? "&actor=" : "", actor, action[0] ? "&action=" : "", action);
    cJSON *p = NULL;
    if ((rc = ctl_call(ctl, "audit", "GET", path, NULL, &p))) {
      cJSON_Delete(all);
      return rc;
    }
    cJSON *pi = cJSON_GetObjectItemCaseSensitive(p, "items");
    while (cJSON_IsArray(pi) && pi->child && !done) {
      cJSON *it = cJSON_DetachItemViaPointer(pi, pi->child);
      if (since && cp_time_parse_or(cp_json_strv(it, "at", NULL), 0) < since) {
        cJSON_Delete(it);
        done = 1;
        break;
      }
      cJSON_AddItemToArray(items, it);
      if (++have >= limit)
        done = 1;
    }
    const cJSON *nb = cJSON_GetObjectItemCaseSensitive(p, "next_before");
    if (cJSON_IsNumber(nb) && nb->valuedouble > 0)
      before = (long)nb->valuedouble;
    else
      done = 1;
    cJSON_Delete(p);
  }
  if (!ctl_print_structured(ctl, all)) {
    const char *h[] = {"TIME", "ACTOR", "ACTION", "TARGET", "OUTCOME", "CLIENT"};
    cp_cli_table_t *t = cp_cli_table_new(6, h);
    const cJSON *it;
    cJSON_ArrayForEach(it, items) {
      char b[6][CP_CLI_CELL_MAX];
      const char *row[] = {
          ctl_str(it, "at", b[0], sizeof b[0]),      ctl_str(it, "actor", b[1], sizeof b[1]),
          ctl_str(it, "action", b[2], sizeof b[2]),  ctl_str(it, "target", b[3], sizeof b[3]),
          ctl_str(it, "outcome", b[4], sizeof b[4]), ctl_str(it, "client", b[5], sizeof b[5])};
      cp_cli_table_add(t, row);
    }
    if (cp_cli_table_rows(t) == 0)
      fprintf(stderr, "No audit records match.\n");
    else
      cp_cli_table_print(t, stdout);
    cp_cli_table_free(t);
  }
  cJSON_Delete(all);
  return 0;
}
