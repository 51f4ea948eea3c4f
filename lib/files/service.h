/* The file service's HTTP API (/v1/files/{path}): authentication, path rules, and the
 * operations of the contract (list, stat, download with Range, tar archive, upload,
 * mkdir, move, delete) on one workspace directory, with JSON errors
 * {"error":{"code":N,"message":"..."}} that name the path involved.
 *
 * Transfers stream: downloads read at most CP_FILES_CHUNK bytes at a time and only when
 * the connection's unsent output fell below the same amount (on_drain); uploads take
 * the body through the server's streamed-body sink, gather it into CP_FILES_CHUNK pieces
 * and write each to the temporary file when full (a blocking write on the loop: the disk
 * is the sidecar's only work). Memory per transfer is one chunk. Loop thread only.
 */
#ifndef CP_FILES_SERVICE_H
#define CP_FILES_SERVICE_H

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "http/server.h"
#include "metrics/metrics.h"

#define CP_FILES_CHUNK (256 * 1024)
#define CP_FILES_JSON_MAX (16 * 1024) /* POST bodies; the server's max_body_bytes */

typedef struct cp_files_service_s cp_files_service_t;

typedef struct cp_files_service_opts_s {
  const char *root;    /* the workspace directory (must exist) */
  const char *token;   /* the credential, >= 32 bytes */
  uint64_t max_upload; /* bytes per file, 0 = no cap but free space */
} cp_files_service_opts_t;

/* Opens the root and registers metrics in reg (may be NULL). Returns 0 and *out,
 * CP_EINVAL (token too short, root not a directory) or CP_ENOMEM. */
int cp_files_service_new(const cp_files_service_opts_t *opts, cp_metrics_t *reg,
                         cp_files_service_t **out);

/* For cp_http_server_set_stream_filter (ud is the service): streams PUT bodies under
 * /v1/files. */
int cp_files_service_stream_filter(const cp_http_request_t *req, void *ud);

/* Answers one request whose path starts with "/v1/". */
void cp_files_service_handle(cp_files_service_t *svc, cp_http_request_t *req);

/* 1 when the root is (still) a directory: for /readyz. */
int cp_files_service_ready(cp_files_service_t *svc);

/* Transfers (uploads, downloads, archives) in flight. */
size_t cp_files_service_active(const cp_files_service_t *svc);

/* Frees the service. Every transfer must be over (the HTTP server closed first: its
 * aborts end them). Accepts NULL. */
void cp_files_service_free(cp_files_service_t *svc);

/* Parses a Range header value against a file of size bytes: one range "bytes=a-b",
 * "bytes=a-" or "bytes=-n". Returns 0 with *start, *len; CP_ENOTFOUND when the header
 * is to be ignored (absent, another unit, several ranges, malformed): serve it whole;
 * CP_EINVAL when unsatisfiable (416). Pure. */
int cp_files_range_parse(const char *value, uint64_t size, uint64_t *start, uint64_t *len);

#endif
