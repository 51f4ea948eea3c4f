/* Parsing the small values commands take from flags and the environment: bounded
 * numbers, booleans, host:port. Each parser accepts the whole string or nothing: no
 * trailing junk, no silent wrap-around, out untouched on failure. */
#ifndef CP_CORE_PARSE_H
#define CP_CORE_PARSE_H

#include <stddef.h>

/* The value of one hexadecimal digit (0-9, a-f, A-F), or -1 (percent-decoding). */
int cp_parse_hex_digit(char c);

/* Decimal integer in [lo, hi]. Returns 0 or CP_EINVAL. */
int cp_parse_long(const char *s, long lo, long hi, long *out);

/* Decimal floating point in [lo, hi] (no NaN). Returns 0 or CP_EINVAL. */
int cp_parse_double(const char *s, double lo, double hi, double *out);

/* "true"/"1" or "false"/"0". Returns 0 or CP_EINVAL. */
int cp_parse_bool(const char *s, int *out);

/* Splits "host:port", "[v6]:port" or ":port" (host "0.0.0.0") into host (copied into
 * host, hostlen bytes) and a port in 0..65535. Returns 0 or CP_EINVAL. */
int cp_parse_hostport(const char *s, char *host, size_t hostlen, int *port);

/* The environment variable's value if set and not empty, else dflt. */
const char *cp_env_or(const char *name, const char *dflt);

#endif
