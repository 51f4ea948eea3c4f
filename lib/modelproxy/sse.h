/* An incremental splitter for Server-Sent Events (text/event-stream), for a proxy that
 * passes a stream through event by event.
 *
 * Bytes go in as they arrive, in pieces of any size; each complete event comes out once,
 * as the raw bytes it was sent as (so the proxy forwards it unchanged) plus its parsed
 * `event:` name and its `data:` lines joined with '\n' (as the SSE spec joins them).
 * Only the current, unfinished event is held: its size is capped, so a hostile upstream
 * that never ends an event cannot make memory grow. Lines end with "\n" or "\r\n" (a lone
 * "\r" line ending, which no model API sends, is kept as part of the line). Comment lines
 * (": ping") are part of the raw bytes and yield an event with no data when they stand
 * alone. Not thread-safe; one parser per stream.
 */
#ifndef CP_MODELPROXY_SSE_H
#define CP_MODELPROXY_SSE_H

#include <stddef.h>

#include "core/buf.h"

typedef struct cp_sse_event_s {
  const char *raw; /* the event's bytes as received, blank line included */
  size_t raw_len;
  const char *event; /* value of the last `event:` field, "" when none */
  const char *data;  /* `data:` values joined with '\n', NUL-terminated; "" when none */
  size_t data_len;
  int has_data; /* 1 if the event had at least one data field */
} cp_sse_event_t;

/* Called once per complete event. The event's pointers are valid only during the call.
 * Returns 0 to go on, or a negative code that stops cp_sse_feed and is returned by it. */
typedef int (*cp_sse_event_fn)(const cp_sse_event_t *ev, void *ud);

typedef struct cp_sse_s {
  cp_buf_t ev;   /* bytes of the unfinished event */
  size_t line;   /* offset in ev where the current line starts */
  cp_buf_t data; /* scratch: joined data of the event being emitted */
  char name[64]; /* scratch: event name */
} cp_sse_t;

/* Initializes a parser holding at most max_event bytes of one unfinished event. */
void cp_sse_init(cp_sse_t *p, size_t max_event);

/* Feeds len bytes; calls cb for each event completed by them, in order. Returns 0, the
 * callback's negative code, CP_ETOOBIG (an event grew past max_event; the parser must not
 * be fed again) or CP_ENOMEM. An event is consumed by its callback whatever it returns. */
int cp_sse_feed(cp_sse_t *p, const char *data, size_t len, cp_sse_event_fn cb, void *ud);

/* Bytes held of the unfinished event (0 at a clean event boundary). */
size_t cp_sse_pending(const cp_sse_t *p);

/* Releases the parser's memory. Accepts NULL. */
void cp_sse_free(cp_sse_t *p);

#endif
