/* Fuzzes the header values a client chooses: Accept-Encoding, If-None-Match, and the
 * Sec-Fetch-Site / Origin / Host trio of a write. The input is split at newlines into the
 * values. Nothing may read past a value; a strong tag always matches a list made of itself,
 * and a write with a bearer token is never cross-site. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "http/negotiate.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  char buf[4096];
  if (size >= sizeof buf)
    size = sizeof buf - 1;
  memcpy(buf, data, size);
  buf[size] = '\0';
  char *v[4] = {buf, "", "", ""};
  for (int i = 1; i < 4; i++) {
    char *nl = strchr(v[i - 1], '\n');
    if (!nl)
      break;
    *nl = '\0';
    v[i] = nl + 1;
  }
  (void)cp_http_accepts_gzip(v[0]);
  (void)cp_http_etag_match(v[1], v[0]);
  if (v[0][0] && !strpbrk(v[0], ", \t") && strncmp(v[0], "W/", 2) != 0 &&
      !cp_http_etag_match(v[0], v[0]))
    abort();
  cp_http_header_t h[4] = {{"Sec-Fetch-Site", v[1]}, {"Origin", v[2]}, {"Host", v[3]}};
  cp_http_request_t req = {.method = "POST", .headers = h, .nheaders = v[1][0] ? 3 : 2};
  if (!v[1][0])
    h[0] = h[2]; /* no Sec-Fetch-Site: Origin against Host */
  (void)cp_http_cross_site(&req);
  h[req.nheaders] = (cp_http_header_t){"Authorization", "Bearer x"};
  req.nheaders++;
  if (cp_http_cross_site(&req))
    abort();
  return 0;
}
