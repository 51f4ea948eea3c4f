/* The client's address behind trusted reverse proxies, from X-Forwarded-For.
 *
 * Each proxy appends the address it received the request from to X-Forwarded-For (or
 * adds one more header line; lines count as one list, in order). Everything to the left
 * of what the proxy in front of us appended was sent by the client and may be forged, so
 * the list is read from the right: entries that lie in a trusted proxy range (a further
 * proxy of ours in front of the one that connects to us) are skipped, and the first one
 * that does not is the client. With no trusted ranges that is the right-most entry: the
 * one the proxy appended. If every entry is a trusted proxy the left-most is taken. An
 * entry must be an IP address (IPv4, IPv6, optionally "[v6]", "[v6]:port" or "v4:port");
 * the answer is printed back in canonical form, so nothing but an address comes out.
 * Whether to read the header at all is the caller's choice: only when every connection
 * comes through the proxy. Pure, any thread.
 */
#ifndef CP_HTTP_FORWARDED_H
#define CP_HTTP_FORWARDED_H

#include <stddef.h>

#include "http/server.h"

/* An address range: family AF_INET or AF_INET6, network bytes, prefix length. */
typedef struct cp_http_cidr_s {
  int family;
  unsigned char addr[16];
  unsigned bits;
} cp_http_cidr_t;

/* Parses a comma-separated list of addresses or CIDR ranges ("10.0.0.0/8, 192.0.2.7,
 * fd00::/8") into out[0..max). Returns 0 with *n set, CP_EINVAL (a bad entry, nothing
 * written to *n) or CP_ETOOBIG (more than max). An empty list is 0 entries. */
int cp_http_cidr_parse_list(const char *s, cp_http_cidr_t *out, size_t max, size_t *n);

/* Finds the client address in req's X-Forwarded-For lines as described above and writes
 * it to out (NUL-terminated; 46 bytes hold any address). Returns 0, CP_ENOTFOUND (no
 * header, or the entry found is not an IP address: the caller uses the peer address) or
 * CP_ETOOBIG (out too small). */
int cp_http_forwarded_for(const cp_http_request_t *req, const cp_http_cidr_t *trusted,
                          size_t ntrusted, char *out, size_t outlen);

#endif
