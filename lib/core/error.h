/* Error codes shared by all of libclawplane.
 *
 * Every fallible function returns 0 on success or one of the negative codes below.
 * The table is an X-macro so the enum and the messages can never drift apart. A failed
 * call leaves its out-params untouched. Kube API failures also fill a cp_status_t
 * (lib/kube/status.h) with what the server said.
 */
#ifndef CP_CORE_ERROR_H
#define CP_CORE_ERROR_H

#define CP_ERRNO_MAP(XX)                                                                           \
  XX(NOMEM, "out of memory")                                                                       \
  XX(INVAL, "invalid argument")                                                                    \
  XX(TOOBIG, "input exceeds its size limit")                                                       \
  XX(PARSE, "malformed input")                                                                     \
  XX(IO, "input/output error")                                                                     \
  XX(CONFIG, "invalid or incomplete configuration")                                                \
  XX(CONNECT, "cannot connect to server")                                                          \
  XX(TLS, "TLS handshake or certificate verification failed")                                      \
  XX(TIMEOUT, "operation timed out")                                                               \
  XX(HTTP, "server answered with an error")                                                        \
  XX(BADREQUEST, "bad request (400)")                                                              \
  XX(UNAUTHORIZED, "unauthorized (401): credentials missing or rejected")                          \
  XX(FORBIDDEN, "forbidden (403)")                                                                 \
  XX(NOTFOUND, "not found (404)")                                                                  \
  XX(CONFLICT, "conflict (409)")                                                                   \
  XX(GONE, "resource version too old (410 Gone): relist")                                          \
  XX(INVALID, "object refused by validation (422)")                                                \
  XX(THROTTLED, "too many requests (429)")                                                         \
  XX(UNAVAILABLE, "service unavailable (5xx)")                                                     \
  XX(CANCELED, "canceled")                                                                         \
  XX(INTERNAL, "internal error")                                                                   \
  XX(METHOD, "method not allowed (405)")

typedef enum cp_errno_e {
  CP_OK = 0,
  CP__ERR_BASE = -1000,
#define CP__XX(code, msg) CP_E##code,
  CP_ERRNO_MAP(CP__XX)
#undef CP__XX
      CP__ERR_END
} cp_errno_t;

/* Returns a static, human-readable message for err (0 or a CP_E* code). Never NULL. */
const char *cp_strerror(int err);

/* Returns the symbolic name ("CP_ENOTFOUND") of err. Never NULL. */
const char *cp_errname(int err);

#endif
