/* SSE splitting: the input is cut at each '\n'; every line is appended to the buffer of
 * the current event, and a blank line ends the event. Fields are parsed only when an
 * event is complete, from the buffered lines, so bytes are looked at twice at most and the
 * raw event can be handed on byte for byte. */
#include "modelproxy/sse.h"
#include "core/error.h"

#include <string.h>

void cp_sse_init(cp_sse_t *p, size_t max_event) {
  memset(p, 0, sizeof *p);
  cp_buf_init(&p->ev, max_event);
  cp_buf_init(&p->data, max_event);
}

/* Parses the fields of the event in ev[0..end) and calls cb. */
static int emit(cp_sse_t *p, size_t end, cp_sse_event_fn cb, void *ud) {
  const char *s = p->ev.data;
  size_t i = 0;
  int has_data = 0;
  cp_buf_reset(&p->data);
  p->name[0] = '\0';
  while (i < end) {
    const char *nl = memchr(s + i, '\n', end - i);
    size_t n = nl ? (size_t)(nl - (s + i)) : end - i;
    size_t l = n;
    if (l && s[i + l - 1] == '\r')
      l--;
    const char *line = s + i;
    i += n + 1;
    if (l == 0 || line[0] == ':')
      continue;
    const char *colon = memchr(line, ':', l);
    size_t flen = colon ? (size_t)(colon - line) : l;
    const char *val = colon ? colon + 1 : line + l;
    size_t vlen = (size_t)(line + l - val);
    if (vlen && *val == ' ') {
      val++;
      vlen--;
    }
    if (flen == 4 && memcmp(line, "data", 4) == 0) {
      int rc = 0;
      if (has_data)
        rc = cp_buf_append(&p->data, "\n", 1);
      if (rc == 0)
        rc = cp_buf_append(&p->data, val, vlen);
      if (rc != 0)
        return rc;
      has_data = 1;
    } else if (flen == 5 && memcmp(line, "event", 5) == 0) {
      size_t k = vlen < sizeof p->name - 1 ? vlen : sizeof p->name - 1;
      memcpy(p->name, val, k);
      p->name[k] = '\0';
    }
  }
  cp_sse_event_t ev = {.raw = p->ev.data,
                       .raw_len = p->ev.len,
                       .event = p->name,
                       .data = p->data.data ? p->data.data : "",
                       .data_len = p->data.len,
                       .has_data = has_data};
  return cb(&ev, ud);
}

int cp_sse_feed(cp_sse_t *p, const char *data, size_t len, cp_sse_event_fn cb, void *ud) {
  while (len > 0) {
    const char *nl = memchr(data, '\n', len);
    size_t n = nl ? (size_t)(nl - data) + 1 : len;
    int rc = cp_buf_append(&p->ev, data, n);
    if (rc != 0)
      return rc;
    data += n;
    len -= n;
    if (!nl)
      break;
    size_t l = p->ev.len - 1 - p->line;
    if (l && p->ev.data[p->line + l - 1] == '\r')
      l--;
    if (l != 0) {
      p->line = p->ev.len;
      continue;
    }
    rc = emit(p, p->line, cb, ud);
    cp_buf_reset(&p->ev);
    p->line = 0;
    if (rc != 0)
      return rc;
  }
  return 0;
}

size_t cp_sse_pending(const cp_sse_t *p) {
  return p->ev.len;
}

void cp_sse_free(cp_sse_t *p) {
  if (!p)
    return;
  cp_buf_free(&p->ev);
  cp_buf_free(&p->data);
}
