/* OpenAI wire shapes the proxy writes itself: error bodies, stream error events and the
 * model list. Clients (the openai and anthropic SDKs) turn these into typed exceptions, so
 * every refusal carries the type and code they expect. Pure functions, any thread.
 */
#ifndef CP_MODELPROXY_OPENAI_H
#define CP_MODELPROXY_OPENAI_H

#include <stddef.h>

#include "modelproxy/config.h"
#include "modelproxy/policy.h"

/* {"error":{"message":..,"type":..,"param":null,"code":..}}; code may be NULL (null).
 * Returns a malloc'd string (free it) or NULL on ENOMEM. */
char *cp_mp_error_json(const char *type, const char *code, const char *message);

/* The same error as one SSE event for a stream already under way:
 * "data: {"error":{...}}\n\n". Returns a malloc'd string or NULL. */
char *cp_mp_error_event(const char *type, const char *code, const char *message);

/* {"object":"list","data":[{"id":name,"object":"model","created":0,"owned_by":"clawplane"},
 * ...]}: the configured models (not "*") that limits allow. Returns a malloc'd string or
 * NULL on ENOMEM. */
char *cp_mp_models_json(const cp_mp_config_t *cfg, const cp_mp_limits_t *limits);

/* One model object like the entries above, or NULL if name is not a listed, allowed model
 * (or on ENOMEM). */
char *cp_mp_model_json(const cp_mp_config_t *cfg, const cp_mp_limits_t *limits, const char *name);

#endif
