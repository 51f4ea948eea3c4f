/* Request body validators: strict members, typed getters, messages that name the field.
 *
 * Every validator follows the same three steps: refuse unknown members, read each member
 * with its type and bounds, then check the cross-field rules. Getters write err only on
 * failure, so the first problem found is the one reported.
 */
#include "api/body.h"

#include "auth/password.h"
#include "core/error.h"
#include "core/parse.h"
#include "core/utf8.h"
#include "kube/quantity.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int fail(char *err, size_t errlen, int rc, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static int fail(char *err, size_t errlen, int rc, const char *fmt, ...) {
  if (err && errlen) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
  }
  return rc;
}

/* 1 when a JSON string in s holds the escape \u0000, which cJSON would decode into a NUL
 * that silently cuts the string short (a password, a key). */
static int has_nul_escape(const char *s, size_t n) {
  int in = 0;
  for (size_t i = 0; i < n; i++) {
    if (!in) {
      in = s[i] == '"';
    } else if (s[i] == '"') {
      in = 0;
    } else if (s[i] == '\\' && i + 1 < n) {
      if (s[i + 1] == 'u' && i + 5 < n && !strncmp(s + i + 2, "0000", 4))
        return 1;
      i++; /* the escaped character */
    }
  }
  return 0;
}

int cp_api_body_parse(const char *body, size_t len, cJSON **out, char *err, size_t errlen) {
  if (!body || len == 0)
    return fail(err, errlen, CP_EINVAL, "a JSON body is required");
  if (len > CP_API_MAX_BODY)
    return fail(err, errlen, CP_ETOOBIG, "request body is larger than %d bytes", CP_API_MAX_BODY);
  if (memchr(body, '\0', len))
    return fail(err, errlen, CP_EPARSE, "request body is not valid JSON");
  size_t ok = cp_utf8_valid_len(body, len);
  if (ok != len)
    return fail(err, errlen, CP_EPARSE,
                "request body is not valid UTF-8 (invalid sequence at byte %zu)", ok);
  if (has_nul_escape(body, len))
    return fail(err, errlen, CP_EINVAL, "strings must not contain NUL characters (\\u0000)");
  const char *end = NULL;
  cJSON *root = cJSON_ParseWithLengthOpts(body, len, &end, 0);
  /* cJSON stops after the first value: anything but blanks after it is garbage */
  size_t used = root && end ? (size_t)(end - body) : 0;
  while (root && used < len && strchr(" \t\r\n", body[used]) && body[used])
    used++;
  if (!root || used != len) {
    cJSON_Delete(root);
    return fail(err, errlen, CP_EPARSE, "request body is not valid JSON");
  }
  if (!cJSON_IsObject(root)) {
    cJSON_Delete(root);
    return fail(err, errlen, CP_EINVAL, "request body must be a JSON object");
  }
  *out = root;
  return 0;
}

static int is_lower_alnum(char c) {
  return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

/* DNS-1123 label of at most max characters; first must be a letter when letter_first. */
static int label_ok(const char *s, size_t n, int letter_first) {
  if (n == 0 || n > 63)
    return 0;
  if (letter_first ? !(s[0] >= 'a' && s[0] <= 'z') : !is_lower_alnum(s[0]))
    return 0;
  if (!is_lower_alnum(s[n - 1]))
    return 0;
  for (size_t i = 0; i < n; i++)
    if (!is_lower_alnum(s[i]) && s[i] != '-')
      return 0;
  return 1;
}

int cp_api_valid_username(const char *s) {
  return s && label_ok(s, strlen(s), 1);
}

int cp_api_valid_profile(const char *s) {
  if (!s)
    return 0;
  size_t n = strlen(s);
  if (n == 0 || n > 253)
    return 0;
  const char *p = s;
  while (1) {
    const char *dot = strchr(p, '.');
    size_t l = dot ? (size_t)(dot - p) : strlen(p);
    if (!label_ok(p, l, 0))
      return 0;
    if (!dot)
      return 1;
    p = dot + 1;
  }
}

/* Refuses members not in the NULL-terminated list. */
static int only(const cJSON *body, const char *const *allowed, char *err, size_t errlen) {
  const cJSON *it;
  cJSON_ArrayForEach(it, body) {
    int ok = 0;
    for (const char *const *a = allowed; *a && !ok; a++)
      ok = it->string && !strcmp(it->string, *a);
    if (!ok)
      return fail(err, errlen, CP_EINVAL, "unknown field \"%.64s\"", it->string ? it->string : "");
  }
  return 0;
}

/* Reads a string member. Absent: CP_ENOTFOUND when optional (out untouched), an error when
 * required. */
static int str(const cJSON *body, const char *key, int required, size_t maxlen, const char **out,
               size_t *outlen, char *err, size_t errlen) {
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(body, key);
  if (!v) {
    if (required)
      return fail(err, errlen, CP_EINVAL, "%s is required", key);
    return CP_ENOTFOUND;
  }
  if (!cJSON_IsString(v) || !v->valuestring)
    return fail(err, errlen, CP_EINVAL, "%s must be a string", key);
  size_t n = strlen(v->valuestring);
  if (n > maxlen)
    return fail(err, errlen, CP_EINVAL, "%s must be at most %zu bytes", key, maxlen);
  *out = v->valuestring;
  if (outlen)
    *outlen = n;
  return 0;
}

static int username(const cJSON *body, const char **out, char *err, size_t errlen) {
  int rc = str(body, "username", 1, 253, out, NULL, err, errlen);
  if (rc == 0 && !cp_api_valid_username(*out))
    rc = fail(err, errlen, CP_EINVAL,
              "username must be 1 to 63 lowercase letters, digits or '-', starting with a "
              "letter and ending with a letter or digit");
  return rc;
}

static int role(const cJSON *body, const char **out, char *err, size_t errlen) {
  *out = "user";
  int rc = str(body, "role", 0, 16, out, NULL, err, errlen);
  if (rc == CP_ENOTFOUND)
    return 0;
  if (rc == 0 && strcmp(*out, "user") != 0 && strcmp(*out, "admin") != 0)
    rc = fail(err, errlen, CP_EINVAL, "role must be \"user\" or \"admin\"");
  return rc;
}

static int new_password(const char *key, const char *pw, size_t len, char *err, size_t errlen) {
  const char *why = NULL;
  if (cp_password_check(pw, len, &why) != 0)
    return fail(err, errlen, CP_EINVAL, "%s: %s", key, why);
  return 0;
}

int cp_api_parse_login(const cJSON *body, cp_api_login_t *out, char *err, size_t errlen) {
  static const char *const allowed[] = {"username", "password", NULL};
  cp_api_login_t v = {0};
  int rc = only(body, allowed, err, errlen);
  if (rc == 0)
    rc = str(body, "username", 1, 63, &v.username, NULL, err, errlen);
  if (rc == 0)
    rc = str(body, "password", 1, CP_PASSWORD_MAX_BYTES, &v.password, &v.password_len, err, errlen);
  if (rc == 0)
    *out = v;
  return rc;
}

int cp_api_parse_password_change(const cJSON *body, cp_api_password_change_t *out, char *err,
                                 size_t errlen) {
  static const char *const allowed[] = {"current_password", "new_password", NULL};
  cp_api_password_change_t v = {0};
  int rc = only(body, allowed, err, errlen);
  if (rc == 0)
    rc = str(body, "current_password", 1, CP_PASSWORD_MAX_BYTES, &v.current, &v.current_len, err,
             errlen);
  if (rc == 0)
    rc = str(body, "new_password", 1, CP_PASSWORD_MAX_BYTES, &v.next, &v.next_len, err, errlen);
  if (rc == 0)
    rc = new_password("new_password", v.next, v.next_len, err, errlen);
  if (rc == 0)
    *out = v;
  return rc;
}

int cp_api_parse_user_create(const cJSON *body, cp_api_user_create_t *out, char *err,
                             size_t errlen) {
  static const char *const allowed[] = {"username", "role", "password", NULL};
  cp_api_user_create_t v = {0};
  int rc = only(body, allowed, err, errlen);
  if (rc == 0)
    rc = username(body, &v.username, err, errlen);
  if (rc == 0)
    rc = role(body, &v.role, err, errlen);
  if (rc == 0) {
    rc = str(body, "password", 0, CP_PASSWORD_MAX_BYTES, &v.password, &v.password_len, err, errlen);
    if (rc == 0)
      rc = new_password("password", v.password, v.password_len, err, errlen);
    else if (rc == CP_ENOTFOUND)
      rc = 0;
  }
  if (rc == 0)
    *out = v;
  return rc;
}

static int resource_map(const cJSON *m, const char *what, char *err, size_t errlen) {
  if (!cJSON_IsObject(m))
    return fail(err, errlen, CP_EINVAL, "resources.%s must be an object", what);
  const cJSON *it;
  cJSON_ArrayForEach(it, m) {
    const char *k = it->string ? it->string : "";
    if (strcmp(k, "cpu") != 0 && strcmp(k, "memory") != 0 && strcmp(k, "ephemeral-storage") != 0)
      return fail(err, errlen, CP_EINVAL,
                  "resources.%s: unknown resource \"%.64s\" (cpu, memory or ephemeral-storage)",
                  what, k);
    int64_t milli = 0;
    int rc;
    if (cJSON_IsString(it) && strlen(it->valuestring) <= CP_QUANTITY_MAX_LEN) {
      rc = cp_quantity_parse(it->valuestring, &milli);
    } else if (cJSON_IsNumber(it) && isfinite(it->valuedouble) && it->valuedouble >= 0.001 &&
               it->valuedouble < 1e15) {
      rc = 0;
      milli = (int64_t)(it->valuedouble * 1000);
    } else {
      rc = CP_EPARSE;
    }
    /* A quantity in the spec's grammar that is zero or too large for the API server is
     * well-formed but unacceptable: CP_EINVALID (422), like the API server's own answer. */
    if (rc == CP_EPARSE || rc == CP_EINVAL || (rc == 0 && milli < 0))
      return fail(err, errlen, CP_EINVAL,
                  "resources.%s.%s must be a positive Kubernetes quantity such as 500m or 1Gi",
                  what, k);
    if (rc != 0 || milli <= 0)
      return fail(err, errlen, CP_EINVALID,
                  "resources.%s.%s must be a positive Kubernetes quantity such as 500m or 1Gi "
                  "and at most 9.2e15",
                  what, k);
  }
  return 0;
}

int cp_api_parse_runtime_put(const cJSON *body, cp_api_runtime_put_t *out, char *err,
                             size_t errlen) {
  static const char *const allowed[] = {"state", "profile", "resources", NULL};
  cp_api_runtime_put_t v = {0};
  int rc = only(body, allowed, err, errlen);
  if (rc == 0 && !cJSON_GetArraySize(body))
    rc = fail(err, errlen, CP_EINVAL, "give at least one of state, profile, resources");
  if (rc == 0) {
    rc = str(body, "state", 0, 16, &v.state, NULL, err, errlen);
    if (rc == 0 && strcmp(v.state, "Running") != 0 && strcmp(v.state, "Stopped") != 0)
      rc = fail(err, errlen, CP_EINVAL, "state must be \"Running\" or \"Stopped\"");
    else if (rc == CP_ENOTFOUND)
      rc = 0;
  }
  if (rc == 0) {
    rc = str(body, "profile", 0, 253, &v.profile, NULL, err, errlen);
    if (rc == 0 && !cp_api_valid_profile(v.profile))
      rc = fail(err, errlen, CP_EINVAL,
                "profile must be a RuntimeProfile name (lowercase DNS subdomain, at most 253 "
                "characters)");
    else if (rc == CP_ENOTFOUND)
      rc = 0;
  }
  const cJSON *res = cJSON_GetObjectItemCaseSensitive(body, "resources");
  if (rc == 0 && res) {
    static const char *const rallowed[] = {"requests", "limits", NULL};
    if (cJSON_IsNull(res)) {
      v.resources = res;
    } else if (!cJSON_IsObject(res)) {
      rc = fail(err, errlen, CP_EINVAL, "resources must be an object or null");
    } else {
      rc = only(res, rallowed, err, errlen);
      const cJSON *rq = cJSON_GetObjectItemCaseSensitive(res, "requests");
      const cJSON *lm = cJSON_GetObjectItemCaseSensitive(res, "limits");
      if (rc == 0 && rq)
        rc = resource_map(rq, "requests", err, errlen);
      if (rc == 0 && lm)
        rc = resource_map(lm, "limits", err, errlen);
      v.resources = res;
    }
  }
  if (rc == 0)
    *out = v;
  return rc;
}

static int integer(const cJSON *body, const char *key, int64_t lo, int64_t hi, cp_api_opt_t *set,
                   int64_t *out, char *err, size_t errlen) {
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(body, key);
  if (!v) {
    *set = CP_API_ABSENT;
    return 0;
  }
  if (cJSON_IsNull(v)) {
    *set = CP_API_NULL;
    return 0;
  }
  double d = cJSON_IsNumber(v) ? v->valuedouble : NAN;
  if (!isfinite(d) || d != floor(d) || d < (double)lo || d > (double)hi)
    return fail(err, errlen, CP_EINVAL, "%s must be null or an integer from %lld to %lld", key,
                (long long)lo, (long long)hi);
  *set = CP_API_SET;
  *out = (int64_t)d;
  return 0;
}

int cp_api_parse_invite(const cJSON *body, cp_api_invite_t *out, char *err, size_t errlen) {
  static const char *const allowed[] = {"username", "role", "ttl_hours", NULL};
  cp_api_invite_t v = {.ttl_hours = 72};
  int rc = only(body, allowed, err, errlen);
  if (rc == 0)
    rc = username(body, &v.username, err, errlen);
  if (rc == 0)
    rc = role(body, &v.role, err, errlen);
  cp_api_opt_t set;
  int64_t ttl = 0;
  if (rc == 0)
    rc = integer(body, "ttl_hours", 1, 720, &set, &ttl, err, errlen);
  if (rc == 0 && set == CP_API_SET)
    v.ttl_hours = (long)ttl;
  if (rc == 0)
    *out = v;
  return rc;
}

int cp_api_parse_accept(const cJSON *body, cp_api_accept_t *out, char *err, size_t errlen) {
  static const char *const allowed[] = {"token", "password", NULL};
  cp_api_accept_t v = {0};
  int rc = only(body, allowed, err, errlen);
  if (rc == 0)
    rc = str(body, "token", 1, 128, &v.token, NULL, err, errlen);
  if (rc == 0)
    rc = str(body, "password", 1, CP_PASSWORD_MAX_BYTES, &v.password, &v.password_len, err, errlen);
  if (rc == 0)
    rc = new_password("password", v.password, v.password_len, err, errlen);
  if (rc == 0)
    *out = v;
  return rc;
}

int cp_api_parse_token_create(const cJSON *body, cp_api_token_create_t *out, char *err,
                              size_t errlen) {
  static const char *const allowed[] = {"name", "ttl_days", NULL};
  cp_api_token_create_t v = {0};
  size_t n = 0;
  int rc = only(body, allowed, err, errlen);
  if (rc == 0)
    rc = str(body, "name", 1, 4 * 128, &v.name, &n, err, errlen);
  size_t chars = 0; /* the spec's maxLength counts characters: UTF-8 takes up to 4 bytes */
  for (size_t i = 0; rc == 0 && i < n; i++) {
    chars += ((unsigned char)v.name[i] & 0xC0) != 0x80;
    if ((unsigned char)v.name[i] < 0x20 || v.name[i] == 0x7f)
      rc = fail(err, errlen, CP_EINVAL, "name must not contain control characters");
  }
  if (rc == 0 && chars > 128)
    rc = fail(err, errlen, CP_EINVAL, "name must be at most 128 characters");
  if (rc == 0 && n == 0)
    rc = fail(err, errlen, CP_EINVAL, "name must not be empty");
  cp_api_opt_t set;
  int64_t ttl = 0;
  if (rc == 0)
    rc = integer(body, "ttl_days", 1, 3650, &set, &ttl, err, errlen);
  if (rc == 0 && set == CP_API_SET)
    v.ttl_days = (long)ttl;
  if (rc == 0)
    *out = v;
  return rc;
}

int cp_api_parse_quota(const cJSON *body, cp_api_quota_t *out, char *err, size_t errlen) {
  static const char *const allowed[] = {
      "allowed_models",      "monthly_token_budget",   "monthly_cost_budget_microusd",
      "requests_per_minute", "max_concurrent_streams", NULL};
  cp_api_quota_t v = {0};
  int rc = only(body, allowed, err, errlen);
  if (rc == 0 && !cJSON_GetArraySize(body))
    rc = fail(err, errlen, CP_EINVAL, "give at least one quota field");
  const cJSON *m = cJSON_GetObjectItemCaseSensitive(body, "allowed_models");
  if (rc == 0 && m) {
    if (cJSON_IsNull(m)) {
      v.models_set = CP_API_NULL;
    } else if (!cJSON_IsArray(m)) {
      rc = fail(err, errlen, CP_EINVAL, "allowed_models must be null or an array of strings");
    } else if (cJSON_GetArraySize(m) > CP_API_MAX_MODELS) {
      rc = fail(err, errlen, CP_EINVAL, "allowed_models may list at most %d models",
                CP_API_MAX_MODELS);
    } else {
      v.models_set = CP_API_SET;
      const cJSON *it;
      cJSON_ArrayForEach(it, m) {
        const char *s = cJSON_IsString(it) ? it->valuestring : NULL;
        size_t n = s ? strlen(s) : 0, chars = 0; /* the spec's maxLength counts characters */
        int printable = n > 0 && n <= 4 * 256;
        for (size_t i = 0; printable && i < n; i++) {
          chars += ((unsigned char)s[i] & 0xC0) != 0x80;
          printable = (unsigned char)s[i] > 0x20 && s[i] != 0x7f;
        }
        printable = printable && chars <= 256;
        if (!printable) {
          rc = fail(err, errlen, CP_EINVAL,
                    "allowed_models[%zu] must be a model name of 1 to 256 visible characters",
                    v.nmodels);
          break;
        }
        v.models[v.nmodels++] = s;
      }
    }
  }
  if (rc == 0)
    rc = integer(body, "monthly_token_budget", 0, INT64_C(1) << 53, &v.token_budget_set,
                 &v.token_budget, err, errlen);
  if (rc == 0)
    rc = integer(body, "monthly_cost_budget_microusd", 0, INT64_C(1) << 53, &v.cost_budget_set,
                 &v.cost_budget, err, errlen);
  if (rc == 0)
    rc = integer(body, "requests_per_minute", 0, INT32_MAX, &v.rpm_set, &v.rpm, err, errlen);
  if (rc == 0)
    rc = integer(body, "max_concurrent_streams", 0, INT32_MAX, &v.streams_set, &v.streams, err,
                 errlen);
  if (rc == 0)
    *out = v;
  return rc;
}

int cp_api_query_get(const char *q, const char *key, char *out, size_t outlen) {
  if (!q || !key || !out || !outlen)
    return CP_ENOTFOUND;
  size_t kl = strlen(key);
  const char *p = q;
  while (*p) {
    const char *amp = strchr(p, '&');
    size_t seg = amp ? (size_t)(amp - p) : strlen(p);
    if (seg >= kl && !strncmp(p, key, kl) && (seg == kl || p[kl] == '=')) {
      const char *v = seg == kl ? p + kl : p + kl + 1;
      const char *end = p + seg;
      size_t o = 0;
      for (; v < end; v++) {
        char c = *v;
        if (c == '+') {
          c = ' ';
        } else if (c == '%') {
          if (end - v < 3 || cp_parse_hex_digit(v[1]) < 0 || cp_parse_hex_digit(v[2]) < 0)
            return CP_EPARSE;
          c = (char)(cp_parse_hex_digit(v[1]) * 16 + cp_parse_hex_digit(v[2]));
          if (c == '\0')
            return CP_EPARSE;
          v += 2;
        }
        if (o + 1 >= outlen)
          return CP_ETOOBIG;
        out[o++] = c;
      }
      out[o] = '\0';
      return 0;
    }
    p += seg;
    if (*p == '&')
      p++;
  }
  return CP_ENOTFOUND;
}

int cp_api_query_long(const char *q, const char *key, long lo, long hi, long *out, char *err,
                      size_t errlen) {
  char v[32];
  int rc = cp_api_query_get(q, key, v, sizeof v);
  if (rc == CP_ENOTFOUND)
    return rc;
  char *end = NULL;
  errno = 0;
  long x = rc == 0 ? strtol(v, &end, 10) : 0;
  if (rc != 0 || errno || end == v || *end || x < lo || x > hi)
    return fail(err, errlen, CP_EINVAL, "query parameter %s must be an integer from %ld to %ld",
                key, lo, hi);
  *out = x;
  return 0;
}
