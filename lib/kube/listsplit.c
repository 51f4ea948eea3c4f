/* The splitter reads each byte once and decides where it goes: the rest (the List around
 * the items), the current item, or nowhere (the commas and blanks between items). Bytes
 * going to the same place in one chunk form a run, appended in one piece when the place
 * changes or the chunk ends; an item whose run covers all of it is handed over straight
 * from the chunk, without a copy. */
#include "kube/listsplit.h"
#include "core/error.h"

#include <string.h>

#define MAX_DEPTH 1024 /* deeper than any object; cJSON itself stops at 1000 */

enum { TO_SKIP, TO_REST, TO_ITEM };

void cp_list_split_init(cp_list_split_t *s, size_t max_item, size_t max_rest) {
  memset(s, 0, sizeof *s);
  cp_buf_init(&s->item, max_item);
  cp_buf_init(&s->rest, max_rest);
}

void cp_list_split_free(cp_list_split_t *s) {
  if (!s)
    return;
  cp_buf_free(&s->item);
  cp_buf_free(&s->rest);
}

static int is_blank(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

static int put(cp_list_split_t *s, int to, const char *p, size_t n) {
  if (n == 0 || to == TO_SKIP)
    return 0;
  return cp_buf_append(to == TO_REST ? &s->rest : &s->item, p, n);
}

/* The rest so far ends with the top-level key "items" and its colon, so a '[' now opens
 * the items. The quote before items must open the key: after '{' or ',' (a key such as
 * "a\"items" ends the same way). */
static int items_key_ends(const cp_buf_t *b) {
  size_t i = b->len;
  while (i && is_blank(b->data[i - 1]))
    i--;
  if (!i || b->data[--i] != ':')
    return 0;
  while (i && is_blank(b->data[i - 1]))
    i--;
  if (i < 7 || memcmp(b->data + i - 7, "\"items\"", 7) != 0)
    return 0;
  i -= 7;
  while (i && is_blank(b->data[i - 1]))
    i--;
  return i && (b->data[i - 1] == '{' || b->data[i - 1] == ',');
}

static int fail(cp_list_split_t *s, int err) {
  s->err = err;
  cp_buf_free(&s->item);
  return err;
}

/* Where byte c, outside any string, goes; *close says it closes an item. Returns TO_* or a
 * negative CP_E* code. */
static int route(cp_list_split_t *s, char c, int *close) {
  *close = 0;
  if (s->depth == 0) {
    if (is_blank(c))
      return TO_SKIP;
    return c == '{' && !s->done ? TO_REST : CP_EPARSE;
  }
  if (s->in_items && s->depth == 2) { /* between items */
    if (is_blank(c) || c == ',' || c == ']')
      return c == ']' ? TO_REST : TO_SKIP;
    return c == '{' ? TO_ITEM : CP_EPARSE; /* items are objects */
  }
  if (s->in_items && s->depth == 3 && (c == '}' || c == ']')) {
    if (c == ']')
      return CP_EPARSE; /* an item's object closed by ']' */
    *close = 1;
  }
  return s->in_items && s->depth >= 3 ? TO_ITEM : TO_REST;
}

int cp_list_split_feed(cp_list_split_t *s, const char *p, size_t n, cp_list_item_fn fn, void *ud) {
  if (s->err)
    return s->err;
  size_t start = 0;
  int run = s->to, rc = 0; /* a string cut by the chunk goes on where it went */
  for (size_t i = 0; i < n; i++) {
    char c = p[i];
    if (s->in_str) { /* the string's bytes go where its quote went: the run goes on */
      if (s->esc)
        s->esc = 0;
      else if (c == '\\')
        s->esc = 1;
      else if (c == '"')
        s->in_str = 0;
      continue;
    }
    int close, to = route(s, c, &close);
    if (to < 0)
      return fail(s, to);
    if (to != run) {
      if ((rc = put(s, run, p + start, i - start)) != 0)
        return fail(s, rc);
      run = to;
      start = i;
    }
    switch (c) {
    case '"':
      s->in_str = 1;
      break;
    case '{':
    case '[':
      if (s->depth == 1 && c == '[') { /* the key before it must be in the rest to be read */
        if ((rc = put(s, run, p + start, i - start)) != 0)
          return fail(s, rc);
        start = i;
        s->in_items = items_key_ends(&s->rest);
      }
      if (++s->depth > MAX_DEPTH)
        return fail(s, CP_EPARSE);
      break;
    case '}':
    case ']':
      s->depth--;
      if (s->in_items && s->depth == 1)
        s->in_items = 0; /* the items' ']' */
      if (s->depth == 0)
        s->done = 1;
      break;
    default:
      break;
    }
    if (close) { /* the item's last byte: hand it over */
      size_t len = i + 1 - start;
      if (s->item.len == 0) {
        rc = len > s->item.limit ? CP_ETOOBIG : fn(p + start, len, ud);
      } else if ((rc = put(s, TO_ITEM, p + start, len)) == 0) {
        rc = fn(s->item.data, s->item.len, ud);
        cp_buf_reset(&s->item);
      }
      if (rc != 0)
        return fail(s, rc);
      run = TO_SKIP;
      start = i + 1;
    }
  }
  if ((rc = put(s, run, p + start, n - start)) != 0)
    return fail(s, rc);
  s->to = run;
  return 0;
}

int cp_list_split_end(cp_list_split_t *s, cJSON **list) {
  *list = NULL;
  if (s->err)
    return s->err;
  if (!s->done || s->item.len)
    return CP_EPARSE;
  cJSON *j = cJSON_ParseWithLength(s->rest.data, s->rest.len);
  if (!cJSON_IsObject(j)) {
    cJSON_Delete(j);
    return CP_EPARSE;
  }
  *list = j;
  return 0;
}
