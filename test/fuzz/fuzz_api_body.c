/* Fuzzes the apiserver's request body parsing and every body validator. Each accepted
 * body must keep the validator's promises: required strings present, enums within their
 * values, usernames valid, new passwords within the length rules, quota numbers in range,
 * and a runtime change must always make a printable apply body. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "api/body.h"
#include "api/runtime.h"
#include "auth/password.h"
#include "core/utf8.h"

static void check(int cond) {
  if (!cond)
    abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  cJSON *body = NULL;
  char err[256];
  if (cp_api_body_parse((const char *)data, size, &body, err, sizeof err) != 0) {
    check(strlen(err) > 0);
    return 0;
  }
  check(cJSON_IsObject(body));
  check(cp_utf8_valid_len((const char *)data, size) == size); /* never a PostgreSQL error */

  cp_api_login_t l;
  if (cp_api_parse_login(body, &l, err, sizeof err) == 0)
    check(l.username && l.password && l.password_len <= CP_PASSWORD_MAX_BYTES);

  cp_api_password_change_t pc;
  if (cp_api_parse_password_change(body, &pc, err, sizeof err) == 0)
    check(pc.current && pc.next && pc.next_len >= CP_PASSWORD_MIN_LEN);

  cp_api_user_create_t uc;
  if (cp_api_parse_user_create(body, &uc, err, sizeof err) == 0)
    check(cp_api_valid_username(uc.username) &&
          (!strcmp(uc.role, "user") || !strcmp(uc.role, "admin")) &&
          (!uc.password || uc.password_len >= CP_PASSWORD_MIN_LEN));

  cp_api_runtime_put_t rp;
  if (cp_api_parse_runtime_put(body, &rp, err, sizeof err) == 0) {
    check(rp.state || rp.profile || rp.resources);
    check(!rp.state || !strcmp(rp.state, "Running") || !strcmp(rp.state, "Stopped"));
    check(!rp.profile || cp_api_valid_profile(rp.profile));
    cp_api_runtime_change_t chg = {.state = rp.state,
                                   .profile = rp.profile,
                                   .resources = rp.resources,
                                   .retain_on_delete = -1};
    cJSON *apply = NULL;
    check(cp_api_runtime_apply_body(NULL, "ns", "alice", "alice", "m", &chg, &apply) == 0);
    char *s = cJSON_PrintUnformatted(apply);
    check(s != NULL);
    cJSON_free(s);
    cJSON_Delete(apply);
  }

  cp_api_invite_t inv;
  if (cp_api_parse_invite(body, &inv, err, sizeof err) == 0)
    check(cp_api_valid_username(inv.username) && inv.ttl_hours >= 1 && inv.ttl_hours <= 720);

  cp_api_accept_t acc;
  if (cp_api_parse_accept(body, &acc, err, sizeof err) == 0)
    check(acc.token && acc.password_len >= CP_PASSWORD_MIN_LEN);

  cp_api_token_create_t tc;
  if (cp_api_parse_token_create(body, &tc, err, sizeof err) == 0) {
    check(tc.name && *tc.name && tc.ttl_days >= 0 && tc.ttl_days <= 3650);
    size_t chars = 0; /* the spec's maxLength: 128 characters, not bytes */
    for (const char *c = tc.name; *c; c++)
      chars += ((unsigned char)*c & 0xC0) != 0x80;
    check(chars <= 128 && strlen(tc.name) <= 4 * 128);
  }

  cp_api_quota_t q;
  if (cp_api_parse_quota(body, &q, err, sizeof err) == 0) {
    check(q.nmodels <= CP_API_MAX_MODELS);
    for (size_t i = 0; i < q.nmodels; i++)
      check(q.models[i] && *q.models[i]);
    check(q.token_budget_set != CP_API_SET || q.token_budget >= 0);
    check(q.rpm_set != CP_API_SET || (q.rpm >= 0 && q.rpm <= INT32_MAX));
  }
  cJSON_Delete(body);
  return 0;
}
