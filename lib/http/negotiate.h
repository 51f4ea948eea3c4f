/* Request headers that decide how to answer: content coding, conditional requests, and
 * whether a browser sent the request from another site. Pure functions over header
 * values (NULL means the header is absent); any thread, no allocation.
 */
#ifndef CP_HTTP_NEGOTIATE_H
#define CP_HTTP_NEGOTIATE_H

#include "http/server.h"

/* 1 when an Accept-Encoding value accepts gzip: a "gzip" or "x-gzip" coding (any case)
 * whose q is not zero, else a "*" whose q is not zero; 0 otherwise (also for NULL). An
 * explicit gzip entry wins over "*", as RFC 9110 says. */
int cp_http_accepts_gzip(const char *accept_encoding);

/* 1 when an If-None-Match value is "*" or lists etag (a quoted strong tag such as
 * "\"abc\""); weak entries (W/"abc") match too, as the weak comparison of a GET wants. */
int cp_http_etag_match(const char *if_none_match, const char *etag);

/* 1 when req, a method other than GET or HEAD that carries no Authorization header (so
 * its credentials are a cookie the browser adds by itself), was sent by a page of another
 * site: Sec-Fetch-Site other than "same-origin" or "none", or without it, an Origin whose
 * host[:port] is not the Host header. Requests with neither header are not from a page
 * (curl, scripts) and return 0. */
int cp_http_cross_site(const cp_http_request_t *req);

#endif
