/* The three login buckets, taken in order (see the header). */
#include "auth/loginlimit.h"

#include "core/error.h"

#include <stdio.h>

#define CP_LOGIN_LIMIT_KEY_MAX 168

void cp_login_limit_init(cp_login_limit_t *l, double per_client, double per_user_and_client,
                         double per_user) {
  cp_ratelimit_init(&l->client, per_client / 60.0, per_client, 0);
  cp_ratelimit_init(&l->pair, per_user_and_client / 60.0, per_user_and_client, 0);
  cp_ratelimit_init(&l->user, per_user / 60.0, per_user, 0);
}

int cp_login_limit_take(cp_login_limit_t *l, const char *user, const char *client, double now,
                        long *retry_after) {
  /* Keys are cut (a username comes from the request before it is validated, and keys
   * are kept): usernames longer than any valid one share a key, which only makes them
   * stricter. An address never holds a space, so "address username" is unambiguous. */
  char pair[CP_LOGIN_LIMIT_KEY_MAX], name[CP_LOGIN_LIMIT_KEY_MAX];
  snprintf(pair, sizeof pair, "%.64s %.100s", client, user);
  snprintf(name, sizeof name, "%.100s", user);
  int rc = cp_ratelimit_take(&l->client, client, now, retry_after);
  if (rc == 0)
    rc = cp_ratelimit_take(&l->pair, pair, now, retry_after);
  if (rc == 0)
    rc = cp_ratelimit_take(&l->user, name, now, retry_after);
  return rc;
}

void cp_login_limit_free(cp_login_limit_t *l) {
  if (!l)
    return;
  cp_ratelimit_free(&l->client);
  cp_ratelimit_free(&l->pair);
  cp_ratelimit_free(&l->user);
}
