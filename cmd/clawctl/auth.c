/* clawctl login, logout, whoami, password and the config subcommands: everything that
 * reads or writes credentials. Passwords and tokens live only in bounded buffers that are
 * cleared after use and are never printed. */
#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/prompt.h"
#include "cli/table.h"
#include "core/error.h"
#include "core/str.h"
#include "ctl.h"
#include "json/json.h"

#define SECRET_MAX 1025 /* the API's passwords are at most 1024 bytes */

/* Reads a secret from stdin (piped) or the terminal. Returns 0 or an exit code. */
static int read_secret(int from_stdin, const char *prompt, const char *flag, char *buf, size_t n) {
  int rc;
  if (from_stdin) {
    rc = cp_cli_read_line(stdin, buf, n);
  } else {
    rc = cp_cli_prompt(prompt, 1, buf, n);
    if (rc == CP_EIO) {
      fprintf(stderr, "clawctl: no terminal to ask for the password; pipe it with %s\n", flag);
      return EXIT_USAGE;
    }
  }
  if (rc == CP_ETOOBIG) {
    fprintf(stderr, "clawctl: longer than %d bytes\n", (int)n - 1);
    return EXIT_USAGE;
  }
  if (rc || !buf[0]) {
    fprintf(stderr, "clawctl: nothing was entered\n");
    return EXIT_USAGE;
  }
  return 0;
}

/* "alice@host:port" from the server URL, for a new context's name. */
static void context_name_for(const char *user, const char *server, char *out, size_t n) {
  const char *host = strstr(server, "://");
  host = host ? host + 3 : server;
  size_t hl = strcspn(host, "/");
  snprintf(out, n, "%s@%.*s", user, (int)hl, host);
  if (!cp_cli_context_name_valid(out))
    snprintf(out, n, "%s", user);
}

/* Saves server/user/token into the context named by --context, else the current one if
 * it is for the same server and user, else USER@HOST; makes it current. */
static int store_login(ctl_t *ctl, const char *server, const char *user, const char *token,
                       char *name_out, size_t n) {
  char name[64];
  cp_cli_context_t *cur =
      ctl->cfg->current[0] ? cp_cli_config_find(ctl->cfg, ctl->cfg->current) : NULL;
  if (ctl->context_flag)
    cp_str_copy(name, sizeof name, ctl->context_flag);
  else if (cur && strcmp(cur->server, server) == 0 && strcmp(cur->user, user) == 0)
    cp_str_copy(name, sizeof name, cur->name);
  else
    context_name_for(user, server, name, sizeof name);
  cp_cli_context_t *c = cp_cli_config_upsert(ctl->cfg, name);
  if (!c) {
    fprintf(stderr, "clawctl: cannot add context %s: the file holds at most %d contexts\n", name,
            CP_CLI_MAX_CONTEXTS);
    return EXIT_ERROR;
  }
  cp_str_copy(c->server, sizeof c->server, server);
  cp_str_copy(c->user, sizeof c->user, user);
  cp_str_copy(c->token, sizeof c->token, token);
  cp_str_copy(ctl->cfg->current, sizeof ctl->cfg->current, name);
  cp_str_copy(name_out, n, name);
  return ctl_save(ctl);
}

int ctl_cmd_login(ctl_t *ctl, int argc, char **argv) {
  ctl_opt_t o[] = {{"--server", 1, NULL},
                   {"--username", 1, NULL},
                   {"--password-stdin", 0, NULL},
                   {"--token-stdin", 0, NULL}};
  int rc = ctl_parse(ctl, argc, argv, o, 4, NULL, 0, 0);
  if (rc)
    return rc;
  const char *server = o[0].value ? o[0].value : ctl->ctx.server;
  if (!server[0]) {
    fprintf(stderr, "clawctl login: which server? clawctl login --server https://HOST\n");
    return EXIT_USAGE;
  }
  if (!cp_cli_server_valid(server)) {
    fprintf(stderr, "clawctl login: \"%s\" is not an http:// or https:// URL\n", server);
    return EXIT_USAGE;
  }
  if (o[2].value && o[3].value) {
    fprintf(stderr, "clawctl login: --password-stdin or --token-stdin, not both\n");
    return EXIT_USAGE;
  }
  char user[64] = "", secret[SECRET_MAX] = "", ctxname[64];
  cJSON *body = NULL, *resp = NULL;
  cp_cli_client_t *cl = NULL;
  cp_cli_status_t st;
  const char *what = "login";
  if (o[3].value) { /* an API token: ask the server whose it is */
    if ((rc = read_secret(1, NULL, "--token-stdin", secret, sizeof secret)))
      goto out;
    if (strlen(secret) >= sizeof ctl->ctx.token) {
      fprintf(stderr, "clawctl login: the token is too long\n");
      rc = EXIT_USAGE;
      goto out;
    }
    rc = cp_cli_client_new(server, secret, &cl);
    rc = rc ? rc : cp_cli_call(cl, "GET", "/api/v1/users/me", NULL, &resp, &st);
    what = "login with the token";
  } else {
    const char *u = o[1].value ? o[1].value : (ctl->have_ctx ? ctl->ctx.user : "");
    if (u[0]) {
      cp_str_copy(user, sizeof user, u);
    } else if (cp_cli_prompt("Username: ", 0, user, sizeof user) != 0 || !user[0]) {
      fprintf(stderr, "clawctl login: which user? clawctl login --username NAME\n");
      rc = EXIT_USAGE;
      goto out;
    }
    if ((rc = read_secret(o[2].value != NULL, "Password: ", "--password-stdin", secret,
                          sizeof secret)))
      goto out;
    body = cJSON_CreateObject();
    if (!body || !cJSON_AddStringToObject(body, "username", user) ||
        !cJSON_AddStringToObject(body, "password", secret)) {
      rc = CP_ENOMEM;
    } else {
      rc = cp_cli_client_new(server, NULL, &cl);
      rc = rc ? rc : cp_cli_call(cl, "POST", "/api/v1/auth/login", body, &resp, &st);
    }
  }
  if (rc == CP_EUNAUTHORIZED) {
    fprintf(stderr, "clawctl login: %s. Check the username and password%s.\n",
            st.message[0] ? st.message : "refused", o[3].value ? " (the token)" : "");
    rc = EXIT_AUTH;
    goto out;
  }
  if (rc) {
    rc = ctl_fail(ctl, what, rc, &st);
    goto out;
  }
  const char *token = o[3].value ? secret : cp_json_strv(resp, "token", NULL);
  const char *name = o[3].value ? cp_json_strv(resp, "username", NULL)
                                : cp_json_strv(resp, "user", "username", NULL);
  const char *role =
      o[3].value ? cp_json_strv(resp, "role", NULL) : cp_json_strv(resp, "user", "role", NULL);
  if (!token || !name || strlen(token) >= sizeof ctl->ctx.token || strlen(name) >= 64) {
    fprintf(stderr, "clawctl login: the server's answer has no token or user\n");
    rc = EXIT_ERROR;
    goto out;
  }
  if ((rc = store_login(ctl, server, name, token, ctxname, sizeof ctxname)))
    goto out;
  const char *exp = cp_json_strv(resp, "expires_at", NULL);
  fprintf(stderr, "Logged in to %s as %s (%s); context %s%s%s.\n", server, name,
          role ? role : "user", ctxname, exp ? ", session expires " : "", exp ? exp : "");
out:
  OPENSSL_cleanse(secret, sizeof secret);
  if (body) {
    cJSON *pw = cJSON_GetObjectItemCaseSensitive(body, "password");
    if (cJSON_IsString(pw))
      OPENSSL_cleanse(pw->valuestring, strlen(pw->valuestring));
  }
  cJSON_Delete(body);
  cJSON_Delete(resp);
  cp_cli_client_free(cl);
  return rc < 0 && rc != -1 ? EXIT_ERROR : rc;
}

int ctl_cmd_logout(ctl_t *ctl, int argc, char **argv) {
  int rc = ctl_parse(ctl, argc, argv, NULL, 0, NULL, 0, 0);
  if (rc)
    return rc;
  if ((rc = ctl_connect(ctl)))
    return rc;
  cp_cli_status_t st;
  int r = cp_cli_call(ctl->client, "POST", "/api/v1/auth/logout", NULL, NULL, &st);
  if (r && r != CP_EUNAUTHORIZED) /* 401: already over, forget it all the same */
    return ctl_fail(ctl, "logout", r, &st);
  cp_cli_context_t *c = ctl->have_ctx ? cp_cli_config_find(ctl->cfg, ctl->ctx.name) : NULL;
  if (c && c->token[0] && strcmp(c->token, ctl->ctx.token) == 0) {
    OPENSSL_cleanse(c->token, sizeof c->token);
    if ((rc = ctl_save(ctl)))
      return rc;
  }
  fprintf(stderr, "Logged out of %s.\n", ctl->ctx.server);
  return 0;
}

int ctl_cmd_whoami(ctl_t *ctl, int argc, char **argv) {
  int rc = ctl_parse(ctl, argc, argv, NULL, 0, NULL, 0, 0);
  if (rc)
    return rc;
  cJSON *me = NULL;
  if ((rc = ctl_call(ctl, "whoami", "GET", "/api/v1/users/me", NULL, &me)))
    return rc;
  if (!ctl_print_structured(ctl, me)) {
    char b[4][128];
    printf("user:     %s\nrole:     %s\nstate:    %s\nserver:   %s\ncontext:  %s\n",
           ctl_str(me, "username", b[0], sizeof b[0]), ctl_str(me, "role", b[1], sizeof b[1]),
           ctl_str(me, "state", b[2], sizeof b[2]), ctl->ctx.server,
           ctl->ctx.name[0] ? ctl->ctx.name : "(environment)");
    const char *exp = cp_json_strv(me, "session_expires_at", NULL);
    if (exp)
      printf("expires:  %s\n", cp_cli_cell_clean(b[3], sizeof b[3], exp));
  }
  cJSON_Delete(me);
  return 0;
}

int ctl_cmd_password(ctl_t *ctl, int argc, char **argv) {
  ctl_opt_t o[] = {{"--password-stdin", 0, NULL}};
  int rc = ctl_parse(ctl, argc, argv, o, 1, NULL, 0, 0);
  if (rc)
    return rc;
  if ((rc = ctl_connect(ctl)))
    return rc;
  int piped = o[0].value != NULL;
  char cur[SECRET_MAX] = "", nw[SECRET_MAX] = "", again[SECRET_MAX] = "";
  cJSON *body = NULL;
  if ((rc = read_secret(piped, "Current password: ", "--password-stdin", cur, sizeof cur)) ||
      (rc = read_secret(piped, "New password: ", "--password-stdin", nw, sizeof nw)))
    goto out;
  if (!piped) {
    if ((rc = read_secret(0, "New password again: ", "--password-stdin", again, sizeof again)))
      goto out;
    if (strcmp(nw, again) != 0) {
      fprintf(stderr, "clawctl password: the new passwords differ; nothing changed\n");
      rc = EXIT_USAGE;
      goto out;
    }
  }
  body = cJSON_CreateObject();
  if (!body || !cJSON_AddStringToObject(body, "current_password", cur) ||
      !cJSON_AddStringToObject(body, "new_password", nw)) {
    rc = EXIT_ERROR;
    goto out;
  }
  if ((rc = ctl_call(ctl, "password", "PUT", "/api/v1/users/me/password", body, NULL)))
    goto out;
  fprintf(stderr, "Password changed; your other sessions have ended.\n");
out:
  OPENSSL_cleanse(cur, sizeof cur);
  OPENSSL_cleanse(nw, sizeof nw);
  OPENSSL_cleanse(again, sizeof again);
  for (cJSON *m = body ? body->child : NULL; m; m = m->next)
    if (cJSON_IsString(m))
      OPENSSL_cleanse(m->valuestring, strlen(m->valuestring));
  cJSON_Delete(body);
  return rc;
}

int ctl_cmd_config_view(ctl_t *ctl, int argc, char **argv) {
  int rc = ctl_parse(ctl, argc, argv, NULL, 0, NULL, 0, 0);
  if (rc)
    return rc;
  for (size_t i = 0; i < ctl->cfg->ncontexts; i++)
    if (ctl->cfg->contexts[i].token[0])
      snprintf(ctl->cfg->contexts[i].token, sizeof ctl->cfg->contexts[i].token, "REDACTED");
  char *s = cp_cli_config_dump(ctl->cfg);
  if (!s)
    return EXIT_ERROR;
  printf("%s\n", s);
  free(s);
  return 0;
}

int ctl_cmd_config_get_contexts(ctl_t *ctl, int argc, char **argv) {
  int rc = ctl_parse(ctl, argc, argv, NULL, 0, NULL, 0, 0);
  if (rc)
    return rc;
  const char *h[] = {"CURRENT", "NAME", "SERVER", "USER", "LOGGED-IN"};
  cp_cli_table_t *t = cp_cli_table_new(5, h);
  if (!t)
    return EXIT_ERROR;
  for (size_t i = 0; i < ctl->cfg->ncontexts; i++) {
    const cp_cli_context_t *c = &ctl->cfg->contexts[i];
    const char *row[] = {strcmp(c->name, ctl->cfg->current) == 0 ? "*" : " ", c->name, c->server,
                         c->user, c->token[0] ? "yes" : "no"};
    cp_cli_table_add(t, row);
  }
  if (cp_cli_table_rows(t) == 0)
    fprintf(stderr, "No contexts in %s yet: clawctl login --server URL\n", ctl->cfg_path);
  else
    cp_cli_table_print(t, stdout);
  cp_cli_table_free(t);
  return 0;
}

int ctl_cmd_config_current_context(ctl_t *ctl, int argc, char **argv) {
  int rc = ctl_parse(ctl, argc, argv, NULL, 0, NULL, 0, 0);
  if (rc)
    return rc;
  if (!ctl->cfg->current[0]) {
    fprintf(stderr, "clawctl: no current context: clawctl login --server URL, or clawctl config "
                    "use-context NAME\n");
    return EXIT_NOTFOUND;
  }
  printf("%s\n", ctl->cfg->current);
  return 0;
}

int ctl_cmd_config_use_context(ctl_t *ctl, int argc, char **argv) {
  char *pos[1];
  int rc = ctl_parse(ctl, argc, argv, NULL, 0, pos, 1, 1);
  if (rc)
    return rc;
  if (!cp_cli_config_find(ctl->cfg, pos[0])) {
    fprintf(stderr, "clawctl: no context \"%s\"; see clawctl config get-contexts\n", pos[0]);
    return EXIT_NOTFOUND;
  }
  cp_str_copy(ctl->cfg->current, sizeof ctl->cfg->current, pos[0]);
  if ((rc = ctl_save(ctl)))
    return rc;
  fprintf(stderr, "Switched to context \"%s\".\n", pos[0]);
  return 0;
}

int ctl_cmd_config_set_context(ctl_t *ctl, int argc, char **argv) {
  ctl_opt_t o[] = {{"--server", 1, NULL}, {"--runtime-url", 1, NULL}};
  char *pos[1];
  int rc = ctl_parse(ctl, argc, argv, o, 2, pos, 1, 1);
  if (rc)
    return rc;
  cp_cli_context_t *c = cp_cli_config_find(ctl->cfg, pos[0]);
  if (!c && !o[0].value) {
    fprintf(stderr, "clawctl: a new context needs --server URL\n");
    return EXIT_USAGE;
  }
  for (int i = 0; i < 2; i++)
    if (o[i].value && o[i].value[0] && !cp_cli_server_valid(o[i].value)) {
      fprintf(stderr, "clawctl: %s: \"%s\" is not an http:// or https:// URL\n", o[i].name,
              o[i].value);
      return EXIT_USAGE;
    }
  if (!c && !(c = cp_cli_config_upsert(ctl->cfg, pos[0]))) {
    fprintf(stderr,
            "clawctl: \"%s\" is not a valid context name (1-63 letters, digits or "
            "._@:-), or there are already %d contexts\n",
            pos[0], CP_CLI_MAX_CONTEXTS);
    return EXIT_USAGE;
  }
  if (o[0].value && strcmp(o[0].value, c->server) != 0) {
    cp_str_copy(c->server, sizeof c->server, o[0].value);
    OPENSSL_cleanse(c->token, sizeof c->token); /* a token belongs to its server */
  }
  if (o[1].value)
    cp_str_copy(c->runtime_url, sizeof c->runtime_url, o[1].value);
  if (!ctl->cfg->current[0])
    cp_str_copy(ctl->cfg->current, sizeof ctl->cfg->current, c->name);
  if ((rc = ctl_save(ctl)))
    return rc;
  fprintf(stderr, "Context \"%s\" set.\n", pos[0]);
  return 0;
}

int ctl_cmd_config_delete_context(ctl_t *ctl, int argc, char **argv) {
  char *pos[1];
  int rc = ctl_parse(ctl, argc, argv, NULL, 0, pos, 1, 1);
  if (rc)
    return rc;
  if (cp_cli_config_remove(ctl->cfg, pos[0]) != 0) {
    fprintf(stderr, "clawctl: no context \"%s\"; see clawctl config get-contexts\n", pos[0]);
    return EXIT_NOTFOUND;
  }
  if ((rc = ctl_save(ctl)))
    return rc;
  fprintf(stderr, "Deleted context \"%s\".\n", pos[0]);
  return 0;
}
