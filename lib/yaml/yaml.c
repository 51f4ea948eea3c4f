/* YAML events to a cJSON tree.
 *
 * One pass over libyaml's event stream with an explicit stack of open containers (at most
 * CP_YAML_MAX_DEPTH, so no recursion and no unbounded growth). Each new node is attached
 * to its parent as soon as it is created, so on any error deleting the root frees
 * everything. libyaml does not resolve plain scalars to types (that is the application's
 * job), so resolve_plain() below implements the YAML 1.2 core schema's regular
 * expressions; it classifies a scalar libyaml already parsed and never parses YAML
 * syntax itself. Duplicate keys are found when a mapping closes by sorting its keys, which
 * keeps huge mappings O(n log n).
 */
#include "yaml/yaml.h"
#include "core/error.h"

#include <errno.h>
#include <math.h>
#include <openssl/crypto.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

typedef struct frame_s {
  cJSON *node;       /* the open mapping or sequence (owned by the tree) */
  char *key;         /* mapping only: key awaiting its value, owned; NULL if a key is next */
  yaml_mark_t start; /* where the container starts, for messages */
} frame_t;

typedef struct conv_s {
  frame_t stack[CP_YAML_MAX_DEPTH];
  int depth;
  cJSON *root;
  char *err;
  size_t errlen;
} conv_t;

__attribute__((format(printf, 3, 4))) static void seterr(char *err, size_t errlen, const char *fmt,
                                                         ...) {
  if (!err || errlen == 0)
    return;
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(err, errlen, fmt, ap);
  va_end(ap);
}

/* libyaml marks are 0-based; people count from 1. */
static size_t line_of(yaml_mark_t m) {
  return m.line + 1;
}

static size_t col_of(yaml_mark_t m) {
  return m.column + 1;
}

static int parser_error(const yaml_parser_t *p, char *err, size_t errlen) {
  const char *problem = p->problem ? p->problem : "unknown problem";
  switch (p->error) {
  case YAML_MEMORY_ERROR:
    seterr(err, errlen, "out of memory while parsing YAML");
    return CP_ENOMEM;
  case YAML_READER_ERROR:
    seterr(err, errlen, "YAML input is not valid text at byte offset %zu: %s", p->problem_offset,
           problem);
    return CP_EPARSE;
  default:
    if (p->context)
      seterr(err, errlen, "YAML syntax error at line %zu, column %zu: %s (%s at line %zu)",
             line_of(p->problem_mark), col_of(p->problem_mark), problem, p->context,
             line_of(p->context_mark));
    else
      seterr(err, errlen, "YAML syntax error at line %zu, column %zu: %s", line_of(p->problem_mark),
             col_of(p->problem_mark), problem);
    return CP_EPARSE;
  }
}

/* ---- plain scalar resolution (YAML 1.2 core schema, section 10.3.2) ---- */

static bool is_one_of(const char *s, const char *const *words) {
  for (; *words; words++)
    if (strcmp(s, *words) == 0)
      return true;
  return false;
}

static bool all_in(const char *s, const char *set) {
  if (!*s)
    return false;
  for (; *s; s++)
    if (!strchr(set, *s))
      return false;
  return true;
}

static size_t count_digits(const char *s) {
  size_t n = 0;
  while (s[n] >= '0' && s[n] <= '9')
    n++;
  return n;
}

/* [-+]? ( \. [0-9]+ | [0-9]+ ( \. [0-9]* )? ) ( [eE] [-+]? [0-9]+ )?
 * which covers the core schema's decimal integers ([-+]?[0-9]+) as well as its floats. */
static bool is_core_number(const char *s) {
  if (*s == '-' || *s == '+')
    s++;
  size_t whole = count_digits(s);
  s += whole;
  if (*s == '.') {
    s++;
    size_t frac = count_digits(s);
    if (whole == 0 && frac == 0)
      return false;
    s += frac;
  } else if (whole == 0) {
    return false;
  }
  if (*s == 'e' || *s == 'E') {
    s++;
    if (*s == '-' || *s == '+')
      s++;
    size_t exp = count_digits(s);
    if (exp == 0)
      return false;
    s += exp;
  }
  return *s == '\0';
}

typedef enum kind_e { K_STRING, K_NULL, K_BOOL, K_NUMBER } kind_t;

/* Classifies a plain scalar; for numbers sets *num, for booleans *flag. Numbers JSON cannot
 * hold (infinities, NaN, overflow) are K_STRING. */
static kind_t resolve_plain(const char *s, double *num, bool *flag) {
  static const char *const nulls[] = {"", "~", "null", "Null", "NULL", NULL};
  static const char *const trues[] = {"true", "True", "TRUE", NULL};
  static const char *const falses[] = {"false", "False", "FALSE", NULL};
  if (is_one_of(s, nulls))
    return K_NULL;
  if (is_one_of(s, trues) || is_one_of(s, falses)) {
    *flag = is_one_of(s, trues);
    return K_BOOL;
  }
  int base = 0;
  if (s[0] == '0' && s[1] == 'o' && all_in(s + 2, "01234567"))
    base = 8;
  else if (s[0] == '0' && s[1] == 'x' && all_in(s + 2, "0123456789abcdefABCDEF"))
    base = 16;
  if (base) {
    errno = 0;
    unsigned long long v = strtoull(s + 2, NULL, base);
    if (errno == ERANGE)
      return K_STRING;
    *num = (double)v;
    return K_NUMBER;
  }
  if (!is_core_number(s))
    return K_STRING;
  double v = strtod(s, NULL);
  if (!isfinite(v))
    return K_STRING;
  *num = v;
  return K_NUMBER;
}

/* ---- tree building ---- */

static bool tag_is(const yaml_char_t *tag, const char *name) {
  return tag && strcmp((const char *)tag, name) == 0;
}

static int scalar_item(conv_t *c, const yaml_event_t *ev, cJSON **item) {
  const char *v = (const char *)ev->data.scalar.value;
  const yaml_char_t *tag = ev->data.scalar.tag;
  bool plain = ev->data.scalar.style == YAML_PLAIN_SCALAR_STYLE;
  double num = 0;
  bool flag = false;
  kind_t kind = K_STRING;

  if (!tag) {
    if (plain)
      kind = resolve_plain(v, &num, &flag);
  } else if (tag_is(tag, "!") || tag_is(tag, YAML_STR_TAG)) {
    kind = K_STRING;
  } else {
    kind_t want;
    if (tag_is(tag, YAML_NULL_TAG))
      want = K_NULL;
    else if (tag_is(tag, YAML_BOOL_TAG))
      want = K_BOOL;
    else if (tag_is(tag, YAML_INT_TAG) || tag_is(tag, YAML_FLOAT_TAG))
      want = K_NUMBER;
    else {
      seterr(c->err, c->errlen, "unsupported YAML tag \"%s\" at line %zu, column %zu",
             (const char *)tag, line_of(ev->start_mark), col_of(ev->start_mark));
      return CP_EPARSE;
    }
    kind = resolve_plain(v, &num, &flag);
    if (kind != want) {
      seterr(c->err, c->errlen, "value at line %zu, column %zu does not match its tag \"%s\"",
             line_of(ev->start_mark), col_of(ev->start_mark), (const char *)tag);
      return CP_EPARSE;
    }
  }

  switch (kind) {
  case K_NULL:
    *item = cJSON_CreateNull();
    break;
  case K_BOOL:
    *item = cJSON_CreateBool(flag);
    break;
  case K_NUMBER:
    *item = cJSON_CreateNumber(num);
    break;
  default:
    *item = cJSON_CreateString(v);
    break;
  }
  return *item ? 0 : CP_ENOMEM;
}

/* Hands item to the innermost open container (or makes it the root). Takes ownership of
 * item even on failure. */
static int attach(conv_t *c, cJSON *item, yaml_mark_t mark) {
  if (c->depth == 0) {
    if (c->root) { /* libyaml never emits two root nodes; guard anyway */
      cJSON_Delete(item);
      seterr(c->err, c->errlen, "unexpected second root node at line %zu", line_of(mark));
      return CP_EPARSE;
    }
    c->root = item;
    return 0;
  }
  frame_t *top = &c->stack[c->depth - 1];
  if (cJSON_IsArray(top->node)) {
    if (!cJSON_AddItemToArray(top->node, item)) {
      cJSON_Delete(item);
      return CP_ENOMEM;
    }
    return 0;
  }
  if (!top->key) {
    cJSON_Delete(item);
    seterr(c->err, c->errlen,
           "a mapping key at line %zu, column %zu is a mapping or sequence; keys must be "
           "scalars",
           line_of(mark), col_of(mark));
    return CP_EPARSE;
  }
  cJSON_bool ok = cJSON_AddItemToObject(top->node, top->key, item);
  free(top->key);
  top->key = NULL;
  if (!ok) {
    cJSON_Delete(item);
    return CP_ENOMEM;
  }
  return 0;
}

static int on_scalar(conv_t *c, const yaml_event_t *ev) {
  if (memchr(ev->data.scalar.value, '\0', ev->data.scalar.length)) {
    seterr(c->err, c->errlen, "the scalar at line %zu, column %zu contains a NUL character",
           line_of(ev->start_mark), col_of(ev->start_mark));
    return CP_EPARSE;
  }
  if (c->depth > 0 && cJSON_IsObject(c->stack[c->depth - 1].node) && !c->stack[c->depth - 1].key) {
    char *key = strdup((const char *)ev->data.scalar.value);
    if (!key)
      return CP_ENOMEM;
    c->stack[c->depth - 1].key = key;
    return 0;
  }
  cJSON *item = NULL;
  int rc = scalar_item(c, ev, &item);
  if (rc)
    return rc;
  return attach(c, item, ev->start_mark);
}

static int on_start(conv_t *c, const yaml_event_t *ev, bool mapping) {
  const yaml_char_t *tag = mapping ? ev->data.mapping_start.tag : ev->data.sequence_start.tag;
  if (tag && !tag_is(tag, "!") && !tag_is(tag, mapping ? YAML_MAP_TAG : YAML_SEQ_TAG)) {
    seterr(c->err, c->errlen, "unsupported YAML tag \"%s\" at line %zu, column %zu",
           (const char *)tag, line_of(ev->start_mark), col_of(ev->start_mark));
    return CP_EPARSE;
  }
  if (c->depth == CP_YAML_MAX_DEPTH) {
    seterr(c->err, c->errlen, "YAML nesting is deeper than %d levels at line %zu, column %zu",
           CP_YAML_MAX_DEPTH, line_of(ev->start_mark), col_of(ev->start_mark));
    return CP_EPARSE;
  }
  cJSON *node = mapping ? cJSON_CreateObject() : cJSON_CreateArray();
  if (!node)
    return CP_ENOMEM;
  int rc = attach(c, node, ev->start_mark);
  if (rc)
    return rc;
  c->stack[c->depth].node = node;
  c->stack[c->depth].key = NULL;
  c->stack[c->depth].start = ev->start_mark;
  c->depth++;
  return 0;
}

static int cmp_str(const void *a, const void *b) {
  return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static int check_unique_keys(conv_t *c, const frame_t *f) {
  size_t n = 0;
  for (const cJSON *it = f->node->child; it; it = it->next)
    n++;
  if (n < 2)
    return 0;
  const char **keys = malloc(n * sizeof *keys);
  if (!keys)
    return CP_ENOMEM;
  size_t i = 0;
  for (const cJSON *it = f->node->child; it; it = it->next)
    keys[i++] = it->string;
  qsort(keys, n, sizeof *keys, cmp_str);
  int rc = 0;
  for (i = 1; i < n; i++) {
    if (strcmp(keys[i - 1], keys[i]) == 0) {
      seterr(c->err, c->errlen, "duplicate key \"%s\" in the mapping that starts at line %zu",
             keys[i], line_of(f->start));
      rc = CP_EPARSE;
      break;
    }
  }
  free(keys);
  return rc;
}

static int on_end(conv_t *c) {
  if (c->depth == 0) { /* libyaml balances start and end events; unreachable */
    seterr(c->err, c->errlen, "unbalanced YAML mapping or sequence end");
    return CP_EPARSE;
  }
  frame_t *f = &c->stack[c->depth - 1];
  int rc = cJSON_IsObject(f->node) ? check_unique_keys(c, f) : 0;
  free(f->key);
  f->key = NULL;
  c->depth--;
  return rc;
}

static void wipe_parser(yaml_parser_t *p) {
  if (p->buffer.start && p->buffer.end > p->buffer.start)
    OPENSSL_cleanse(p->buffer.start, (size_t)(p->buffer.end - p->buffer.start));
  if (p->raw_buffer.start && p->raw_buffer.end > p->raw_buffer.start)
    OPENSSL_cleanse(p->raw_buffer.start, (size_t)(p->raw_buffer.end - p->raw_buffer.start));
}

int cp_yaml_to_json(const char *data, size_t len, size_t max_bytes, cJSON **out, char *err,
                    size_t errlen) {
  if ((!data && len) || !out) {
    seterr(err, errlen, "cp_yaml_to_json was called without input or output");
    return CP_EINVAL;
  }
  if (len > max_bytes) {
    seterr(err, errlen, "YAML input of %zu bytes exceeds the limit of %zu bytes", len, max_bytes);
    return CP_ETOOBIG;
  }
  yaml_parser_t p;
  if (!yaml_parser_initialize(&p)) {
    seterr(err, errlen, "out of memory while parsing YAML");
    return CP_ENOMEM;
  }
  yaml_parser_set_input_string(&p, (const unsigned char *)(data ? data : ""), len);

  conv_t c;
  memset(&c, 0, sizeof c);
  c.err = err;
  c.errlen = errlen;
  int rc = 0, docs = 0;
  bool done = false;
  while (!done && rc == 0) {
    yaml_event_t ev;
    if (!yaml_parser_parse(&p, &ev)) {
      rc = parser_error(&p, err, errlen);
      break;
    }
    switch (ev.type) {
    case YAML_STREAM_END_EVENT:
      done = true;
      break;
    case YAML_DOCUMENT_START_EVENT:
      if (++docs > 1) {
        seterr(err, errlen,
               "the YAML input holds more than one document (the second starts at line %zu); "
               "only one is allowed",
               line_of(ev.start_mark));
        rc = CP_EPARSE;
      }
      break;
    case YAML_ALIAS_EVENT:
      seterr(err, errlen, "YAML aliases such as *%s (line %zu, column %zu) are not supported",
             (const char *)ev.data.alias.anchor, line_of(ev.start_mark), col_of(ev.start_mark));
      rc = CP_EPARSE;
      break;
    case YAML_SCALAR_EVENT:
      rc = on_scalar(&c, &ev);
      break;
    case YAML_SEQUENCE_START_EVENT:
      rc = on_start(&c, &ev, false);
      break;
    case YAML_MAPPING_START_EVENT:
      rc = on_start(&c, &ev, true);
      break;
    case YAML_SEQUENCE_END_EVENT:
    case YAML_MAPPING_END_EVENT:
      rc = on_end(&c);
      break;
    default:
      break;
    }
    if (ev.type == YAML_SCALAR_EVENT && ev.data.scalar.value)
      OPENSSL_cleanse(ev.data.scalar.value, ev.data.scalar.length);
    yaml_event_delete(&ev);
  }
  wipe_parser(&p);
  yaml_parser_delete(&p);

  for (int i = 0; i < c.depth; i++)
    free(c.stack[i].key);
  if (rc == CP_ENOMEM)
    seterr(err, errlen, "out of memory while parsing YAML");
  if (rc) {
    cJSON_Delete(c.root);
    return rc;
  }
  if (!c.root && !(c.root = cJSON_CreateNull())) {
    seterr(err, errlen, "out of memory while parsing YAML");
    return CP_ENOMEM;
  }
  *out = c.root;
  return 0;
}
