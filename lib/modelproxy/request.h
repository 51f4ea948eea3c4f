/* The model-call request bodies the proxy accepts and what it sends upstream instead.
 *
 * A body is a JSON object with a "model" string and optionally "stream" (boolean). The
 * proxy reads just those (and stream_options), routes by model, and rewrites the body for
 * the upstream: the model name the upstream knows it by, and for streamed OpenAI-style
 * calls stream_options.include_usage = true, so the last chunk reports usage (whether the
 * client asked for that chunk is remembered, and it is dropped for clients that did not).
 * Everything else in the body passes through untouched. Pure functions, any thread.
 */
#ifndef CP_MODELPROXY_REQUEST_H
#define CP_MODELPROXY_REQUEST_H

#include <cjson/cJSON.h>
#include <stddef.h>

#define CP_MP_MODEL_MAX 256 /* model names are shorter than this */

/* Which API a call is for. */
typedef enum cp_mp_api_e {
  CP_MP_API_CHAT,        /* POST /v1/chat/completions */
  CP_MP_API_COMPLETIONS, /* POST /v1/completions */
  CP_MP_API_EMBEDDINGS,  /* POST /v1/embeddings */
  CP_MP_API_MESSAGES,    /* POST /v1/messages (Anthropic style) */
} cp_mp_api_t;

typedef struct cp_mp_request_s {
  char model[CP_MP_MODEL_MAX]; /* as the client named it */
  int stream;                  /* 1 for a streamed (SSE) response */
  int client_wants_usage;      /* stream_options.include_usage was true */
} cp_mp_request_t;

/* Maps a request path ("/v1/chat/completions", also without "/v1") to its API.
 * Returns 0 and *out, or CP_ENOTFOUND. */
int cp_mp_api_from_path(const char *path, cp_mp_api_t *out);

/* The upstream path suffix for api: "/chat/completions", "/completions", "/embeddings",
 * "/messages" (appended to an upstream base URL ending in /v1). */
const char *cp_mp_api_path(cp_mp_api_t api);

/* Parses len bytes of a request body for api (at most max bytes). Returns 0 with *root
 * (the caller owns it) and *req filled, or CP_ETOOBIG, CP_EPARSE (not a JSON object, or
 * not valid UTF-8: core/utf8.h) or CP_EINVAL (model missing or not a non-empty string
 * shorter than CP_MP_MODEL_MAX, "stream" or "stream_options" of the wrong type); err gets
 * a sentence for the client. */
int cp_mp_request_parse(const char *body, size_t len, size_t max, cp_mp_api_t api, cJSON **root,
                        cp_mp_request_t *req, char *err, size_t errlen);

/* Rewrites root in place for the upstream (model renamed to upstream_model unless it is
 * NULL or empty; include_usage for streamed chat and completions calls) and prints it.
 * Returns 0 with *out (malloc'd, NUL-terminated; free it) and *outlen, or CP_ENOMEM. */
int cp_mp_request_rewrite(cJSON *root, cp_mp_api_t api, const cp_mp_request_t *req,
                          const char *upstream_model, char **out, size_t *outlen);

#endif
