/* clawctl usage and tokens: a user's model usage this month and their API tokens. A new
 * token is printed once, alone on stdout, so `TOKEN=$(clawctl tokens create ci)` works. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/table.h"
#include "core/parse.h"
#include "ctl.h"
#include "json/json.h"

static int user_path(const char *user, const char *tail, char *buf, size_t n) {
  char u[200];
  if (ctl_user_path(user, u, sizeof u) != 0)
    return EXIT_USAGE;
  int w = snprintf(buf, n, "/api/v1/users/%s%s", u, tail);
  return w < 0 || (size_t)w >= n ? EXIT_USAGE : 0;
}

static void usage_row(cp_cli_table_t *t, const char *model, const cJSON *u) {
  char b[5][64];
  double cost = 0;
  const cJSON *c = cJSON_GetObjectItemCaseSensitive(u, "cost_microusd");
  if (cJSON_IsNumber(c))
    cost = c->valuedouble / 1e6;
  snprintf(b[4], sizeof b[4], "%.4f", cost);
  const char *row[] = {model, ctl_str(u, "requests", b[0], sizeof b[0]),
                       ctl_str(u, "prompt_tokens", b[1], sizeof b[1]),
                       ctl_str(u, "completion_tokens", b[2], sizeof b[2]), b[4]};
  cp_cli_table_add(t, row);
}

/* YYYY-MM with a month 01..12. */
static int is_month(const char *s) {
  for (int i = 0; i < 7; i++)
    if (i == 4 ? s[i] != '-' : (s[i] < '0' || s[i] > '9'))
      return 0;
  int m = (s[5] - '0') * 10 + (s[6] - '0');
  return s[7] == '\0' && m >= 1 && m <= 12;
}

int ctl_cmd_usage(ctl_t *ctl, int argc, char **argv) {
  ctl_opt_t o[] = {{"--user", 1, NULL}, {"--month", 1, NULL}};
  int rc = ctl_parse(ctl, argc, argv, o, 2, NULL, 0, 0);
  if (rc)
    return rc;
  if (o[1].value && !is_month(o[1].value)) {
    fprintf(stderr, "clawctl usage: --month takes YYYY-MM (e.g. 2026-11), not \"%s\"\n",
            o[1].value);
    return EXIT_USAGE;
  }
  char path[512];
  if ((rc = user_path(o[0].value, "/usage", path, sizeof path)))
    return rc;
  if (o[1].value) {
    size_t n = strlen(path);
    snprintf(path + n, sizeof path - n, "?month=%s", o[1].value);
  }
  cJSON *u = NULL;
  if ((rc = ctl_call(ctl, "usage", "GET", path, NULL, &u)))
    return rc;
  if (!ctl_print_structured(ctl, u)) {
    char name[64], month[32], model[CP_CLI_CELL_MAX];
    printf("Usage of %s in %s\n\n", ctl_str(u, "username", name, sizeof name),
           ctl_str(u, "month", month, sizeof month));
    const char *h[] = {"MODEL", "REQUESTS", "PROMPT-TOKENS", "COMPLETION-TOKENS", "COST-USD"};
    cp_cli_table_t *t = cp_cli_table_new(5, h);
    const cJSON *m;
    cJSON_ArrayForEach(m, cJSON_GetObjectItemCaseSensitive(u, "by_model")) {
      usage_row(t, ctl_str(m, "model", model, sizeof model), m);
    }
    usage_row(t, "TOTAL", cJSON_GetObjectItemCaseSensitive(u, "total"));
    cp_cli_table_print(t, stdout);
    cp_cli_table_free(t);
    const cJSON *months = cJSON_GetObjectItemCaseSensitive(u, "months");
    if (cJSON_GetArraySize(months) > 0) {
      const char *hm[] = {"MONTH", "REQUESTS", "PROMPT-TOKENS", "COMPLETION-TOKENS", "COST-USD"};
      t = cp_cli_table_new(5, hm);
      cJSON_ArrayForEach(m, months) {
        usage_row(t, ctl_str(m, "month", model, sizeof model), m);
      }
      printf("\nThe last twelve months with usage:\n");
      cp_cli_table_print(t, stdout);
      cp_cli_table_free(t);
    }
    const cJSON *q = cJSON_GetObjectItemCaseSensitive(u, "quota");
    char b[4][64];
    printf("\nQuota (- = the profile's default): tokens/month %s, cost/month (micro-USD) %s, "
           "requests/min %s, streams %s\n",
           ctl_str(q, "monthly_token_budget", b[0], sizeof b[0])[0] ? b[0] : "-",
           ctl_str(q, "monthly_cost_budget_microusd", b[1], sizeof b[1])[0] ? b[1] : "-",
           ctl_str(q, "requests_per_minute", b[2], sizeof b[2])[0] ? b[2] : "-",
           ctl_str(q, "max_concurrent_streams", b[3], sizeof b[3])[0] ? b[3] : "-");
  }
  cJSON_Delete(u);
  return 0;
}

int ctl_cmd_tokens_create(ctl_t *ctl, int argc, char **argv) {
  ctl_opt_t o[] = {{"--user", 1, NULL}, {"--ttl-days", 1, NULL}};
  char *pos[1];
  int rc = ctl_parse(ctl, argc, argv, o, 2, pos, 1, 1);
  if (rc)
    return rc;
  long ttl = 0;
  if (o[1].value && cp_parse_long(o[1].value, 1, 3650, &ttl) != 0) {
    fprintf(stderr, "clawctl tokens create: --ttl-days takes 1 to 3650\n");
    return EXIT_USAGE;
  }
  char path[512];
  if ((rc = user_path(o[0].value, "/tokens", path, sizeof path)))
    return rc;
  cJSON *body = cJSON_CreateObject(), *resp = NULL;
  if (!body || !cJSON_AddStringToObject(body, "name", pos[0]) ||
      (ttl && !cJSON_AddNumberToObject(body, "ttl_days", (double)ttl))) {
    cJSON_Delete(body);
    return EXIT_ERROR;
  }
  rc = ctl_call(ctl, "tokens create", "POST", path, body, &resp);
  cJSON_Delete(body);
  if (rc)
    return rc;
  if (!ctl_print_structured(ctl, resp)) {
    char id[32], tok[600];
    ctl_str(resp, "id", id, sizeof id);
    fprintf(stderr, "Token %s (id %s) created; it is shown only this once:\n", pos[0], id);
    printf("%s\n", ctl_str(resp, "token", tok, sizeof tok));
  }
  cJSON_Delete(resp);
  return 0;
}

int ctl_cmd_tokens_list(ctl_t *ctl, int argc, char **argv) {
  ctl_opt_t o[] = {{"--user", 1, NULL}};
  int rc = ctl_parse(ctl, argc, argv, o, 1, NULL, 0, 0);
  if (rc)
    return rc;
  char path[512];
  if ((rc = user_path(o[0].value, "/tokens", path, sizeof path)))
    return rc;
  cJSON *l = NULL;
  if ((rc = ctl_call(ctl, "tokens list", "GET", path, NULL, &l)))
    return rc;
  if (!ctl_print_structured(ctl, l)) {
    const char *h[] = {"ID", "NAME", "CREATED", "EXPIRES", "LAST-USED", "REVOKED"};
    cp_cli_table_t *t = cp_cli_table_new(6, h);
    const cJSON *it;
    cJSON_ArrayForEach(it, cJSON_GetObjectItemCaseSensitive(l, "items")) {
      char b[6][CP_CLI_CELL_MAX];
      const char *row[] = {ctl_str(it, "id", b[0], sizeof b[0]),
                           ctl_str(it, "name", b[1], sizeof b[1]),
                           ctl_str(it, "created_at", b[2], sizeof b[2]),
                           ctl_str(it, "expires_at", b[3], sizeof b[3]),
                           ctl_str(it, "last_used_at", b[4], sizeof b[4]),
                           ctl_str(it, "revoked", b[5], sizeof b[5])};
      cp_cli_table_add(t, row);
    }
    if (cp_cli_table_rows(t) == 0)
      fprintf(stderr, "No API tokens; clawctl tokens create NAME makes one.\n");
    else
      cp_cli_table_print(t, stdout);
    cp_cli_table_free(t);
  }
  cJSON_Delete(l);
  return 0;
}

int ctl_cmd_tokens_revoke(ctl_t *ctl, int argc, char **argv) {
  ctl_opt_t o[] = {{"--user", 1, NULL}};
  char *pos[1];
  int rc = ctl_parse(ctl, argc, argv, o, 1, pos, 1, 1);
  if (rc)
    return rc;
  long id;
  if (cp_parse_long(pos[0], 1, 1L << 53, &id) != 0) {
    fprintf(stderr, "clawctl tokens revoke: ID is the number clawctl tokens list shows\n");
    return EXIT_USAGE;
  }
  char tail[64], path[512];
  snprintf(tail, sizeof tail, "/tokens/%ld", id);
  if ((rc = user_path(o[0].value, tail, path, sizeof path)))
    return rc;
  if ((rc = ctl_call(ctl, "tokens revoke", "DELETE", path, NULL, NULL)))
    return rc;
  fprintf(stderr, "Token %ld revoked.\n", id);
  return 0;
}
