/* Splits a Kubernetes List body into its items as the bytes arrive (pure; no I/O).
 *
 * A LIST answer is one JSON object, {"kind": ..., "metadata": {...}, "items": [{...}, ...]}.
 * Parsed whole, a page of 500 Pods is a tree of about 40 MB; split, memory holds one item's
 * text at a time. Each item's text goes to a callback as soon as its closing brace arrives
 * (straight from the chunk when it lies in one, else from a buffer); everything else, the
 * List with "items": [] in place of the items, is kept (it is small) and parsed at the end,
 * for metadata.continue and metadata.resourceVersion.
 *
 * The splitter is a lexer, not a validator: it follows strings, escapes and nesting and
 * leaves checking each item's JSON to whoever parses it; the List around the items is
 * parsed by cp_list_split_end. A body that is not one object, or whose "items" holds
 * anything but objects, is CP_EPARSE.
 */
#ifndef CP_KUBE_LISTSPLIT_H
#define CP_KUBE_LISTSPLIT_H

#include <cjson/cJSON.h>
#include <stddef.h>

#include "core/buf.h"

/* One item's JSON text, text[0..len), valid during the call only. Returns 0 to go on, or
 * a CP_E* code that stops the split (and is what cp_list_split_feed returns). */
typedef int (*cp_list_item_fn)(const char *text, size_t len, void *ud);

typedef struct cp_list_split_s {
  cp_buf_t item; /* the current item's text when it spans chunks */
  cp_buf_t rest; /* the List without its items' texts */
  int to;        /* where the last byte went (a TO_* of listsplit.c) */
  int depth;     /* objects and arrays open around the next byte */
  int in_items;  /* inside the top-level "items" array (which is depth 2) */
  int in_str;    /* inside a string */
  int esc;       /* after a backslash inside a string */
  int done;      /* the top-level object has closed */
  int err;       /* the first error; every later feed returns it */
} cp_list_split_t;

/* Ready for a body whose items are at most max_item bytes each and whose remainder is at
 * most max_rest bytes (past either: CP_ETOOBIG). */
void cp_list_split_init(cp_list_split_t *s, size_t max_item, size_t max_rest);

/* Reads p[0..n) and calls fn for each item it completes. Returns 0, fn's error, CP_EPARSE,
 * CP_ETOOBIG or CP_ENOMEM; after an error the splitter refuses everything. */
int cp_list_split_feed(cp_list_split_t *s, const char *p, size_t n, cp_list_item_fn fn, void *ud);

/* After the last byte: *list gets the List without its items (the caller deletes it).
 * Returns 0, the feed's error, or CP_EPARSE when the body ended early or the rest is not a
 * JSON object. */
int cp_list_split_end(cp_list_split_t *s, cJSON **list);

/* Frees the buffers. Accepts NULL; the splitter may be initialized again. */
void cp_list_split_free(cp_list_split_t *s);

#endif
