/* Usage extraction: a tolerant reader of the two usage shapes (OpenAI and Anthropic),
 * merged by per-field maximum. Numbers must be non-negative integers below
 * CP_MP_USAGE_MAX_TOKENS; other values are ignored rather than trusted. */
#include "modelproxy/usage.h"

#include <math.h>
#include <string.h>

/* Reads obj[key] as a token count: 1 and *out, or 0 when absent or not believable. */
static int count(const cJSON *obj, const char *key, int64_t *out) {
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
  if (!cJSON_IsNumber(v))
    return 0;
  double d = v->valuedouble;
  if (!(d >= 0) || d >= (double)CP_MP_USAGE_MAX_TOKENS || d != floor(d))
    return 0;
  *out = (int64_t)d;
  return 1;
}

static int merge_usage(cp_mp_usage_t *u, const cJSON *usage) {
  if (!cJSON_IsObject(usage))
    return 0;
  int64_t p = 0, c = 0, v;
  int found = 0;
  if (count(usage, "prompt_tokens", &v))
    p = v, found = 1;
  if (count(usage, "completion_tokens", &v))
    c = v, found = 1;
  if (count(usage, "input_tokens", &v))
    p = v, found = 1;
  if (count(usage, "cache_creation_input_tokens", &v))
    p += v, found = 1;
  if (count(usage, "cache_read_input_tokens", &v))
    p += v, found = 1;
  if (count(usage, "output_tokens", &v))
    c = v, found = 1;
  if (!found)
    return 0;
  if (p > u->prompt_tokens)
    u->prompt_tokens = p;
  if (c > u->completion_tokens)
    u->completion_tokens = c;
  u->seen = 1;
  return 1;
}

int cp_mp_usage_merge_json(cp_mp_usage_t *u, const cJSON *obj) {
  if (!u || !cJSON_IsObject(obj))
    return 0;
  if (merge_usage(u, cJSON_GetObjectItemCaseSensitive(obj, "usage")))
    return 1;
  const cJSON *msg = cJSON_GetObjectItemCaseSensitive(obj, "message");
  return cJSON_IsObject(msg) && merge_usage(u, cJSON_GetObjectItemCaseSensitive(msg, "usage"));
}

static const char *find(const char *hay, size_t len, const char *needle, size_t nlen) {
  if (nlen == 0 || len < nlen)
    return NULL;
  for (size_t i = 0; i + nlen <= len; i++)
    if (hay[i] == needle[0] && memcmp(hay + i, needle, nlen) == 0)
      return hay + i;
  return NULL;
}

int cp_mp_usage_merge_text(cp_mp_usage_t *u, const char *text, size_t len) {
  if (!u || !text || !find(text, len, "\"usage\"", 7))
    return 0;
  cJSON *root = cJSON_ParseWithLength(text, len);
  if (!root)
    return 0;
  int found = cp_mp_usage_merge_json(u, root);
  cJSON_Delete(root);
  return found;
}

int cp_mp_usage_merge_tail(cp_mp_usage_t *u, const char *tail, size_t len) {
  if (!u || !tail)
    return 0;
  const char *last = NULL, *p = tail;
  while ((p = find(p, len - (size_t)(p - tail), "\"usage\"", 7)) != NULL) {
    last = p;
    p += 7;
  }
  if (!last)
    return 0;
  const char *q = last + 7, *end = tail + len;
  while (q < end && (*q == ' ' || *q == '\t' || *q == '\r' || *q == '\n'))
    q++;
  if (q >= end || *q != ':')
    return 0;
  q++;
  const char *stop = NULL;
  cJSON *obj = cJSON_ParseWithLengthOpts(q, (size_t)(end - q), &stop, 0);
  if (!obj)
    return 0;
  int found = merge_usage(u, obj);
  cJSON_Delete(obj);
  return found;
}
