/* The runtime's OpenClaw configuration: the platform's part, rendered per UserRuntime.
 *
 * OpenClaw refuses to start without a configuration (exit 78, "Missing config"), and only
 * the platform knows what it must say: where the model proxy is, which proxy may vouch for
 * which user, which origin the Control UI is served from. That part is this document.
 *
 * How it reaches the runtime, and why (see desired_pod.c): the live configuration is
 * OPENCLAW_CONFIG_PATH=~/.openclaw/openclaw.json on the user's volume, so whatever the
 * user sets in the Control UI or with `openclaw config set` survives restarts like the rest
 * of their state. Before the gateway starts, an init container applies this document over
 * it with OpenClaw's own `openclaw config patch --replace-path <platform key>...`: every
 * platform key is written back exactly as rendered at each start (replace-path, so a user
 * cannot leave a sibling key such as an extra trusted proxy inside them), and keys the
 * platform does not own are left alone. A user may edit a platform key while the runtime
 * runs; that edit lasts until the next start and reaches only their own runtime, because
 * isolation does not rest on it: the NetworkPolicy admits only the ingress and the
 * apiserver, Traefik's ForwardAuth admits only the owner, and the model key is the user's
 * own, metered and limited by the model proxy.
 *
 * No secret is ever in this document: the model key is the text ${OPENAI_API_KEY} (the
 * configured env name), which OpenClaw substitutes from the container's environment, which
 * the kubelet fills from the runtime's Secret.
 */
#include "userruntime/desired.h"
#include "core/error.h"
#include "json/json.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The keys the init container replaces whole: the platform owns everything under them. */
const char *const cp__desired_platform_paths[] = {
    "gateway.mode",
    "gateway.bind",
    "gateway.port",
    "gateway.auth",
    "gateway.trustedProxies",
    "gateway.controlUi.allowedOrigins",
    "gateway.http.endpoints.chatCompletions",
    "models.providers.clawplane",
    "agents.defaults.model",
    "agents.defaults.workspace",
    NULL,
};

cJSON *cp__desired_platform_config(const cp__desired_ident_t *id, const cp_desired_effective_t *e,
                                   const cp_desired_opts_t *o) {
  bool ok = true;
  char origin[512], ref[320], primary[300];
  cJSON *doc = cJSON_CreateObject();
  if (!doc)
    return NULL;

  cJSON *gw = cp__dj_obj(doc, "gateway", &ok);
  cp__dj_str(gw, "mode", "local", &ok);
  cp__dj_str(gw, "bind", "lan", &ok);
  cp__dj_num(gw, "port", CP_DESIRED_PORT, &ok);
  cp__dj_add(gw, "trustedProxies", ok ? cJSON_Duplicate(e->trusted_proxies, 1) : NULL, &ok);
  cJSON *auth = cp__dj_obj(gw, "auth", &ok);
  cp__dj_str(auth, "mode", "trusted-proxy", &ok);
  cJSON *tp = cp__dj_obj(auth, "trustedProxy", &ok);
  cp__dj_str(tp, "userHeader", o->identity_header, &ok);
  cp__dj_str(cp__dj_arr(tp, "allowUsers", &ok), NULL, id->user, &ok);
  cJSON *origins = cp__dj_arr(cp__dj_obj(gw, "controlUi", &ok), "allowedOrigins", &ok);
  if (cp__desired_user_origin(o, id->user, origin, sizeof origin) == 0)
    cp__dj_str(origins, NULL, origin, &ok);
  cJSON *ep = cp__dj_obj(cp__dj_obj(gw, "http", &ok), "endpoints", &ok);
  cp__dj_bool(cp__dj_obj(ep, "chatCompletions", &ok), "enabled", true, &ok);

  cJSON *models = cp__dj_obj(doc, "models", &ok);
  cp__dj_str(models, "mode", "merge", &ok);
  cJSON *prov = cp__dj_obj(cp__dj_obj(models, "providers", &ok), "clawplane", &ok);
  cp__dj_str(prov, "baseUrl", e->model_url, &ok);
  snprintf(ref, sizeof ref, "${%s}", o->model_key_env);
  cp__dj_str(prov, "apiKey", ref, &ok);
  cp__dj_str(prov, "api", "openai-completions", &ok);
  cJSON *m = cp__dj_obj(cp__dj_arr(prov, "models", &ok), NULL, &ok);
  cp__dj_str(m, "id", e->model, &ok);
  cp__dj_str(m, "name", e->model, &ok);

  snprintf(primary, sizeof primary, "clawplane/%s", e->model);
  cJSON *agent_model =
      cp__dj_obj(cp__dj_obj(cp__dj_obj(doc, "agents", &ok), "defaults", &ok), "model", &ok);
  cp__dj_str(agent_model, "primary", primary, &ok);
  /* The agent works in /data/workspace, the directory the file service serves, so what
   * users upload is in front of the agent and what it writes can be taken away. */
  cp__dj_str(
      cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(doc, "agents"), "defaults"),
      "workspace", CP_DESIRED_WORKSPACE, &ok);
  if (!ok) {
    cJSON_Delete(doc);
    return NULL;
  }
  return doc;
}

int cp_desired_config(const cJSON *ur, const cJSON *profile, const cp_desired_opts_t *opts,
                      cJSON **out, char *err, size_t errlen) {
  cp__desired_ident_t id;
  cp_desired_effective_t e = {0};
  cp_desired_opts_t o = cp__desired_opts(opts);
  int rc = cp__desired_ident(ur, &id, err, errlen);
  if (rc == 0)
    rc = cp_desired_effective(ur, profile, opts, &e, err, errlen);
  if (rc < 0)
    return rc;
  bool ok = true;
  char *text = NULL;
  cJSON *doc = cp__desired_platform_config(&id, &e, &o);
  if (doc)
    text = cJSON_Print(doc);
  cJSON *cm =
      text ? cp__desired_object(&id, "v1", "ConfigMap", CP_DESIRED_CONFIG_SUFFIX, true) : NULL;
  if (!cm)
    ok = false;
  cp__dj_str(cp__dj_obj(cm, "data", &ok), CP_DESIRED_CONFIG_KEY, text, &ok);
  cJSON_Delete(doc);
  free(text);
  cp_desired_effective_free(&e);
  if (!ok) {
    cJSON_Delete(cm);
    return cp__desired_err(err, errlen, CP_ENOMEM, "out of memory");
  }
  *out = cm;
  return 0;
}
