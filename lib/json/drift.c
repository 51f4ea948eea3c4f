/* Rule-driven comparison and repair of a live object against a desired one: the path walk
 * is shared by both, the comparison at the end of a path is cp_json_contains or
 * cJSON_Compare (order-insensitive for object members, exact for arrays). */
#include "json/drift.h"
#include "json/json.h"

#include <stdio.h>
#include <string.h>

#define STEP_MAX 256

/* Copies the next step of path p into step (unescaped) and returns the rest after '/'
 * (or the terminating NUL). */
static const char *next_step(const char *p, char step[STEP_MAX]) {
  size_t n = 0;
  for (; *p && *p != '/'; p++) {
    char ch = *p;
    if (ch == '~' && (p[1] == '0' || p[1] == '1'))
      ch = *++p == '0' ? '~' : '/';
    if (n + 1 < STEP_MAX)
      step[n++] = ch;
  }
  step[n] = '\0';
  return *p == '/' ? p + 1 : p;
}

/* The top-level object without the apiVersion and kind live lacks (LIST items). */
static bool compare_top(const cJSON *live, const cJSON *want, bool exact) {
  if (!cJSON_IsObject(live) || !cJSON_IsObject(want))
    return exact ? cJSON_Compare(live, want, 1) : cp_json_contains(live, want);
  const cJSON *w;
  int matched = 0;
  cJSON_ArrayForEach(w, want) {
    const cJSON *l = cJSON_GetObjectItemCaseSensitive(live, w->string);
    if (!l && (strcmp(w->string, "apiVersion") == 0 || strcmp(w->string, "kind") == 0))
      continue;
    if (!(exact ? cJSON_Compare(l, w, 1) : cp_json_contains(l, w)))
      return false;
    matched++;
  }
  return !exact || matched == cJSON_GetArraySize(live);
}

static bool match_at(const cJSON *live, const cJSON *want, const char *p, bool exact, bool top) {
  if (!*p) {
    if (top)
      return compare_top(live, want, exact);
    return exact ? (live && cJSON_Compare(live, want, 1)) : cp_json_contains(live, want);
  }
  char step[STEP_MAX];
  const char *rest = next_step(p, step);
  if (strcmp(step, "*") == 0) {
    if (!cJSON_IsArray(want))
      return true; /* nothing owned below */
    if (!cJSON_IsArray(live) || cJSON_GetArraySize(live) != cJSON_GetArraySize(want))
      return false;
    const cJSON *l = live->child, *w;
    cJSON_ArrayForEach(w, want) {
      if (!match_at(l, w, rest, exact, false))
        return false;
      l = l->next;
    }
    return true;
  }
  const cJSON *w = cJSON_IsObject(want) ? cJSON_GetObjectItemCaseSensitive(want, step) : NULL;
  if (!w)
    return true;
  const cJSON *l = cJSON_IsObject(live) ? cJSON_GetObjectItemCaseSensitive(live, step) : NULL;
  return match_at(l, w, rest, exact, false);
}

const char *cp_json_drift(const cJSON *live, const cJSON *desired, const cp_json_rule_t *rules) {
  for (const cp_json_rule_t *r = rules; r && r->path; r++) {
    if (!live || !match_at(live, desired, r->path, r->exact, true))
      return r->path;
  }
  return NULL;
}

static bool is_exact_path(const cp_json_rule_t *rules, const char *path) {
  for (const cp_json_rule_t *r = rules; r && r->path; r++)
    if (r->exact && strcmp(r->path, path) == 0)
      return true;
  return false;
}

/* Appends key, escaped, to path (of length n) as one more step. Returns the new length, or
 * 0 when it does not fit (then no rule can match: rule paths are short). */
static size_t path_push(char *path, size_t cap, size_t n, const char *key) {
  if (n > 0) {
    if (n + 1 >= cap)
      return 0;
    path[n++] = '/';
  }
  for (; *key; key++) {
    const char *e = *key == '~' ? "~0" : *key == '/' ? "~1" : NULL;
    size_t add = e ? 2 : 1;
    if (n + add >= cap)
      return 0;
    if (e) {
      memcpy(path + n, e, 2);
    } else {
      path[n] = *key;
    }
    n += add;
  }
  path[n] = '\0';
  return n;
}

/* Lays src over dst (both objects); path holds dst's path, n its length. */
static bool merge(cJSON *dst, const cJSON *src, const cp_json_rule_t *rules, char *path, size_t cap,
                  size_t n) {
  const cJSON *s;
  cJSON_ArrayForEach(s, src) {
    size_t m = path_push(path, cap, n, s->string);
    cJSON *d = cJSON_GetObjectItemCaseSensitive(dst, s->string);
    bool whole = !m || !cJSON_IsObject(s) || !cJSON_IsObject(d) || is_exact_path(rules, path);
    if (whole) {
      cJSON *copy = cJSON_Duplicate(s, 1);
      if (!copy || cp_json_set(dst, s->string, copy) != 0)
        return false;
    } else if (!merge(d, s, rules, path, cap, m)) {
      return false;
    }
    path[n] = '\0';
  }
  return true;
}

cJSON *cp_json_repaired(const cJSON *live, const cJSON *desired, const cp_json_rule_t *rules) {
  if (!cJSON_IsObject(live) || !cJSON_IsObject(desired))
    return NULL;
  cJSON *out = cJSON_Duplicate(live, 1);
  if (!out)
    return NULL;
  cJSON_DeleteItemFromObjectCaseSensitive(out, "status");
  cJSON *md = cJSON_GetObjectItemCaseSensitive(out, "metadata");
  if (cJSON_IsObject(md))
    cJSON_DeleteItemFromObjectCaseSensitive(md, "managedFields");
  char path[1024] = "";
  if (!merge(out, desired, rules, path, sizeof path, 0)) {
    cJSON_Delete(out);
    return NULL;
  }
  return out;
}

/* Keeps in node what lies on one of the n paths (escaped suffixes); removes the rest. Arrays
 * understand only "*": another step there keeps the element whole. */
static void keep_at(cJSON *node, const char *const *paths, size_t n) {
  for (size_t i = 0; i < n; i++)
    if (!*paths[i])
      return; /* the whole subtree */
  bool obj = cJSON_IsObject(node);
  if (!obj && !cJSON_IsArray(node))
    return;
  cJSON *it = node->child;
  while (it) {
    cJSON *next = it->next;
    const char *sub[CP_JSON_KEEP_MAX];
    size_t m = 0;
    for (size_t i = 0; i < n; i++) {
      char step[STEP_MAX];
      const char *rest = next_step(paths[i], step);
      if (strcmp(step, "*") == 0 || (obj && strcmp(step, it->string) == 0))
        sub[m++] = rest;
      else if (!obj)
        sub[m++] = "";
    }
    if (m == 0)
      cJSON_Delete(cJSON_DetachItemViaPointer(node, it));
    else
      keep_at(it, sub, m);
    it = next;
  }
}

void cp_json_keep(cJSON *obj, const cp_json_rule_t *const *tables) {
  const char *paths[CP_JSON_KEEP_MAX];
  size_t n = 0;
  for (const cp_json_rule_t *const *t = tables; t && *t; t++)
    for (const cp_json_rule_t *r = *t; r->path; r++) {
      if (n == CP_JSON_KEEP_MAX)
        return; /* more than we can track: keep everything */
      paths[n++] = r->path;
    }
  keep_at(obj, paths, n);
}
