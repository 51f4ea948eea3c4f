/* Structured JSON logs, one line per event, for the commands and controllers.
 *
 * Library code never logs (STYLE.md); binaries log at their boundary. Each line is a JSON
 * object: {"ts":"2026-11-22T02:26:21.123Z","level":"info","msg":"...", <fields>}. Fields are
 * given as key/value string pairs ending with NULL; values are JSON-escaped by cJSON, so a
 * hostile object name cannot forge a field. Lines are written with one write(2) so
 * concurrent threads never interleave. Thread-safe.
 */
#ifndef CP_LOG_LOG_H
#define CP_LOG_LOG_H

typedef enum cp_log_level_e {
  CP_LOG_DEBUG = 0,
  CP_LOG_INFO = 1,
  CP_LOG_WARN = 2,
  CP_LOG_ERROR = 3,
} cp_log_level_t;

/* Sets the minimum level written (default INFO) and the file descriptor (default 2). */
void cp_log_setup(cp_log_level_t min, int fd);

/* Parses "debug", "info", "warn" or "error". Returns 0 or CP_EINVAL. */
int cp_log_parse_level(const char *s, cp_log_level_t *out);

/* Writes one line: msg plus NULL-terminated key, value pairs (values may be NULL, then
 * the pair is skipped). Never fails loudly: on ENOMEM the line is dropped. The compiler
 * refuses a call whose last argument is not NULL (a missing terminator reads past the
 * arguments). */
void cp_log(cp_log_level_t level, const char *msg, ...) __attribute__((sentinel));

#define cp_log_info(...) cp_log(CP_LOG_INFO, __VA_ARGS__)
#define cp_log_warn(...) cp_log(CP_LOG_WARN, __VA_ARGS__)
#define cp_log_error(...) cp_log(CP_LOG_ERROR, __VA_ARGS__)
#define cp_log_debug(...) cp_log(CP_LOG_DEBUG, __VA_ARGS__)

#endif
