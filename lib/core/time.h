/* Wall-clock times as Kubernetes writes them (RFC 3339, UTC, "Z" or an offset, optional
 * fraction), and a monotonic clock for durations. */
#ifndef CP_CORE_TIME_H
#define CP_CORE_TIME_H

#include <stddef.h>

/* Parses "2026-11-22T02:35:02Z", "...02.123456Z" or "...02+01:00" into seconds since the
 * epoch (with fraction). Returns 0 or CP_EPARSE (out untouched). */
int cp_time_parse(const char *s, double *out);

/* Like cp_time_parse, but returns dflt when s is NULL or not a valid time: for optional
 * timestamps in objects ("since it became Ready, or never"). */
double cp_time_parse_or(const char *s, double dflt);

/* Formats t as "2026-11-22T02:35:02Z" (metav1.Time: whole seconds) into out (>= 21 bytes). */
void cp_time_format(double t, char *out, size_t outlen);

/* Seconds since the epoch, with fraction. */
double cp_time_now(void);

/* Monotonic seconds, for measuring durations. */
double cp_time_mono(void);

#endif
