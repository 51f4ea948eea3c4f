/* The runtime Pod: OpenClaw under Pod Security `restricted`, configured before it starts.
 *
 * The spec is built in one fixed order from the effective settings, so printing it
 * unformatted gives the same bytes for the same inputs; the SHA-256 of the spec together
 * with the platform configuration (desired_config.c) goes into the clawplane.io/spec-hash
 * annotation, and the controller replaces the pod when the hash it finds differs (pods are
 * mostly immutable, so an in-place update is not an option). A changed configuration
 * therefore rolls the pod even though it reaches the pod through a ConfigMap.
 *
 * What the official image needs to start with a read-only root filesystem: WORKDIR /app
 * (set explicitly, so another image's WORKDIR cannot change what runs), a writable HOME
 * (an emptyDir: npm, caches and the CLI write there), /tmp (an emptyDir: OpenClaw logs to
 * /tmp/openclaw), and the state directory on the user's volume, which also holds the live
 * openclaw.json and the agent's workspace. The volume is mounted at /data and the state
 * directory is /data/openclaw, a directory OpenClaw makes itself, never the volume's root:
 * a volume's root belongs to root (the kubelet only gives its group to fsGroup), and
 * OpenClaw narrows the permissions of its state directory at start (chmod 700), which
 * only the owner may do ("EPERM: operation not permitted, fchmod", tried on a real one). The init
 * container `config` runs OpenClaw's own `config patch` to lay the platform's keys over that file
 * before the gateway starts (why, in desired_config.c); it shares the gateway's image, env, mounts
 * and limits.
 *
 * Secrets reach the containers only through secretKeyRef to the runtime's own Secret: the
 * spec, and therefore the hash and anything that prints it, never holds a token.
 */
#include "userruntime/desired.h"
#include "core/error.h"
#include "json/json.h"

#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define UID 1000
#define HOME_DIR "/home/node"
#define DATA_DIR "/data"
#define STATE_DIR DATA_DIR "/openclaw"
#define CONFIG_DIR "/etc/clawplane/openclaw"
#define APP_DIR "/app"

/* Hex SHA-256 of len bytes at data. Returns 0 or CP_EINTERNAL. */
static int sha256_hex(const void *data, size_t len, char out[65]) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int mdlen = 0;
  if (!EVP_Digest(data, len, md, &mdlen, EVP_sha256(), NULL) || mdlen != 32)
    return CP_EINTERNAL;
  static const char hex[] = "0123456789abcdef";
  for (unsigned int i = 0; i < mdlen; i++) {
    out[2 * i] = hex[md[i] >> 4];
    out[2 * i + 1] = hex[md[i] & 15];
  }
  out[64] = '\0';
  return 0;
}

int cp_desired_spec_hash(const cJSON *spec, char out[65]) {
  if (!spec)
    return CP_EINVAL;
  char *text = cJSON_PrintUnformatted(spec);
  if (!text)
    return CP_ENOMEM;
  int rc = sha256_hex(text, strlen(text), out);
  free(text);
  return rc;
}

static void security_context(cJSON *sc, bool container, bool *ok) {
  cp__dj_bool(sc, "runAsNonRoot", true, ok);
  cp__dj_num(sc, "runAsUser", UID, ok);
  cp__dj_num(sc, "runAsGroup", UID, ok);
  if (container) {
    cp__dj_bool(sc, "allowPrivilegeEscalation", false, ok);
    cp__dj_bool(sc, "readOnlyRootFilesystem", true, ok);
    cJSON *drop = cp__dj_arr(cp__dj_obj(sc, "capabilities", ok), "drop", ok);
    cp__dj_str(drop, NULL, "ALL", ok);
  } else {
    cp__dj_num(sc, "fsGroup", UID, ok);
    cp__dj_str(sc, "fsGroupChangePolicy", "OnRootMismatch", ok);
  }
  cp__dj_str(cp__dj_obj(sc, "seccompProfile", ok), "type", "RuntimeDefault", ok);
}

static void probe_port(cJSON *c, const char *key, const char *path, int port, int period,
                       int timeout, int failures, bool *ok) {
  cJSON *p = cp__dj_obj(c, key, ok);
  cJSON *get = cp__dj_obj(p, "httpGet", ok);
  cp__dj_str(get, "path", path, ok);
  cp__dj_num(get, "port", port, ok);
  cp__dj_num(p, "periodSeconds", period, ok);
  cp__dj_num(p, "timeoutSeconds", timeout, ok);
  cp__dj_num(p, "failureThreshold", failures, ok);
}

static void probe(cJSON *c, const char *key, const char *path, int period, int timeout,
                  int failures, bool *ok) {
  probe_port(c, key, path, CP_DESIRED_PORT, period, timeout, failures, ok);
}

static void env_literal(cJSON *env, const char *name, const char *value, bool *ok) {
  cJSON *e = cp__dj_obj(env, NULL, ok);
  cp__dj_str(e, "name", name, ok);
  cp__dj_str(e, "value", value, ok);
}

static void env_secret(cJSON *env, const char *name, const char *secret, const char *key,
                       bool *ok) {
  cJSON *e = cp__dj_obj(env, NULL, ok);
  cp__dj_str(e, "name", name, ok);
  cJSON *ref = cp__dj_obj(cp__dj_obj(e, "valueFrom", ok), "secretKeyRef", ok);
  cp__dj_str(ref, "name", secret, ok);
  cp__dj_str(ref, "key", key, ok);
}

static void mount(cJSON *mounts, const char *name, const char *path, bool *ok) {
  cJSON *m = cp__dj_obj(mounts, NULL, ok);
  cp__dj_str(m, "name", name, ok);
  cp__dj_str(m, "mountPath", path, ok);
}

/* The env both containers share: HOME and the config/state paths, the user's env, the
 * heap limit, then the platform's secrets. */
static void common_env(cJSON *env, const cp__desired_ident_t *id, const cp_desired_effective_t *e,
                       const cp_desired_opts_t *o, bool *ok) {
  char secret[128], node_opts[64];
  snprintf(secret, sizeof(secret), "%s%s", id->name, CP_DESIRED_SECRET_SUFFIX);
  env_literal(env, "HOME", HOME_DIR, ok);
  env_literal(env, "OPENCLAW_STATE_DIR", STATE_DIR, ok);
  env_literal(env, "OPENCLAW_CONFIG_PATH", STATE_DIR "/openclaw.json", ok);
  /* User env first, platform env last: a later duplicate would win in the container,
   * and $(VAR) references in user values cannot expand the platform's secrets. */
  const cJSON *it;
  cJSON_ArrayForEach(it, e->env) {
    env_literal(env, cp_json_strv(it, "name", NULL), cp_json_strv(it, "value", NULL), ok);
  }
  /* 75% of the limit in MiB, rounded down. memory_limit fits int64 milli-units (checked
   * when the effective settings were computed), so * 3 cannot overflow. */
  int64_t mib = e->memory_limit > 0 ? e->memory_limit * 3 / 4 / (1024 * 1024) : 0;
  if (mib > 0) {
    snprintf(node_opts, sizeof(node_opts), "--max-old-space-size=%lld", (long long)mib);
    env_literal(env, "NODE_OPTIONS", node_opts, ok);
  }
  /* The gateway secret as a password, not a token: OpenClaw refuses to start with a token
   * beside trusted-proxy auth ("mutually exclusive"), while a password is what it lets
   * callers inside the pod (loopback, no proxy headers) use next to the proxy. */
  env_secret(env, "OPENCLAW_GATEWAY_PASSWORD", secret, CP_DESIRED_KEY_GATEWAY, ok);
  env_literal(env, o->model_url_env, e->model_url, ok);
  env_secret(env, o->model_key_env, secret, CP_DESIRED_KEY_MODELPROXY, ok);
}

static void common_mounts(cJSON *c, bool *ok) {
  cJSON *mounts = cp__dj_arr(c, "volumeMounts", ok);
  mount(mounts, "tmp", "/tmp", ok);
  mount(mounts, "home", HOME_DIR, ok);
  mount(mounts, "state", DATA_DIR, ok);
  cJSON *m = cp__dj_obj(mounts, NULL, ok);
  cp__dj_str(m, "name", "config", ok);
  cp__dj_str(m, "mountPath", CONFIG_DIR, ok);
  cp__dj_bool(m, "readOnly", true, ok);
}

/* One container: name, image, argv, env, resources, securityContext, mounts. */
static cJSON *container_base(const char *name, const char *const *argv, size_t argc,
                             const cp__desired_ident_t *id, const cp_desired_effective_t *e,
                             const cp_desired_opts_t *o, bool *ok) {
  cJSON *c = *ok ? cJSON_CreateObject() : NULL;
  if (!c)
    *ok = false;
  cp__dj_str(c, "name", name, ok);
  cp__dj_str(c, "image", e->image, ok);
  cJSON *cmd = cp__dj_arr(c, "command", ok);
  for (size_t i = 0; i < argc; i++)
    cp__dj_str(cmd, NULL, argv[i], ok);
  cp__dj_str(c, "workingDir", APP_DIR, ok);
  common_env(cp__dj_arr(c, "env", ok), id, e, o, ok);
  if (cJSON_GetArraySize(e->resources) > 0)
    cp__dj_add(c, "resources", *ok ? cJSON_Duplicate(e->resources, 1) : NULL, ok);
  security_context(cp__dj_obj(c, "securityContext", ok), true, ok);
  common_mounts(c, ok);
  cp__dj_str(c, "terminationMessagePolicy", "FallbackToLogsOnError", ok);
  return c;
}

/* The init container: `openclaw config patch` of the platform's keys, each replaced whole. */
static cJSON *config_container(const cp__desired_ident_t *id, const cp_desired_effective_t *e,
                               const cp_desired_opts_t *o, bool *ok) {
  const char *argv[32];
  size_t n = 0;
  argv[n++] = "node";
  argv[n++] = "openclaw.mjs";
  argv[n++] = "config";
  argv[n++] = "patch";
  argv[n++] = "--file";
  argv[n++] = CONFIG_DIR "/" CP_DESIRED_CONFIG_KEY;
  for (size_t i = 0; cp__desired_platform_paths[i] && n + 2 <= 32; i++) {
    argv[n++] = "--replace-path";
    argv[n++] = cp__desired_platform_paths[i];
  }
  return container_base("config", argv, n, id, e, o, ok);
}

/* The init container `model-check`: one request to <model URL>/models with the runtime's
 * key before the gateway starts. A URL that does not resolve or answer, or a proxy that
 * refuses the key, ends it with one line saying so; the pod then shows an init crash loop,
 * which the controller reports as Degraded with that line, instead of a runtime that is
 * Ready and fails at the first message. Any other answer (even 404 from a provider without
 * /models) passes: the model proxy was reached. The script is ours, short, and in the spec
 * (so in the hash); it runs in the gateway's image with the gateway's Node. */
static cJSON *model_check_container(const cp__desired_ident_t *id, const cp_desired_effective_t *e,
                                    const cp_desired_opts_t *o, bool *ok) {
  char script[1536];
  snprintf(script, sizeof script,
           "const u=process.env.%s||'',k=process.env.%s||'';"
           "const fail=(m)=>{console.error(m);process.exit(1)};"
           "let t;try{t=new URL('models',u.endsWith('/')?u:u+'/')}"
           "catch(e){fail('the model proxy URL '+JSON.stringify(u)+' is not a URL')}"
           "fetch(t,{headers:{authorization:'Bearer '+k},signal:AbortSignal.timeout(15000)})"
           ".then((r)=>{if(r.status===401||r.status===403)"
           "fail('the model proxy at '+u+' refused the runtime key (HTTP '+r.status+')');"
           "console.log('model proxy at '+u+' answered HTTP '+r.status)})"
           ".catch((e)=>fail('the model proxy at '+u+' is unreachable: '+"
           "((e.cause&&(e.cause.code||(e.cause.errors&&e.cause.errors[0].code)||e.cause.message))||"
           "e.message)))",
           o->model_url_env, o->model_key_env);
  const char *argv[] = {"node", "-e", script};
  return container_base("model-check", argv, 3, id, e, o, ok);
}

/* The init container `workspace`: makes the agent's workspace on the volume before the
 * file service (which serves only an existing directory) and OpenClaw start. */
static cJSON *workspace_container(const cp__desired_ident_t *id, const cp_desired_effective_t *e,
                                  const cp_desired_opts_t *o, bool *ok) {
  const char *argv[] = {"node", "-e",
                        "require('fs').mkdirSync('" CP_DESIRED_WORKSPACE
                        "',{recursive:true,mode:0o755})"};
  return container_base("workspace", argv, 3, id, e, o, ok);
}

/* The sidecar `files` (clawplane-files): the workspace over HTTP on 8090 for the apiserver
 * alone (NetworkPolicy), with the token from Secret N-files. It gets the volume at /data
 * like OpenClaw, runs as the same uid (files stay the agent's), a small memory budget
 * (it streams, it never buffers a file), and the profile's per-file upload cap. */
static cJSON *files_container(const cp__desired_ident_t *id, const cp_desired_effective_t *e,
                              const cp_desired_opts_t *o, bool *ok) {
  char secret[128], maxb[32];
  snprintf(secret, sizeof secret, "%s%s", id->name, CP_DESIRED_FILES_SUFFIX);
  snprintf(maxb, sizeof maxb, "%lld", (long long)e->files_max_upload);
  cJSON *c = *ok ? cJSON_CreateObject() : NULL;
  if (!c)
    *ok = false;
  cp__dj_str(c, "name", CP_DESIRED_FILES_CONTAINER, ok);
  cp__dj_str(c, "image", o->files_image, ok);
  cJSON *cmd = cp__dj_arr(c, "command", ok);
  const char *argv[] = {"/usr/local/bin/clawplane-files",
                        "--root",
                        CP_DESIRED_WORKSPACE,
                        "--listen",
                        "0.0.0.0:8090",
                        "--max-upload-bytes",
                        maxb,
                        "--log-format",
                        "json"};
  for (size_t i = 0; i < sizeof argv / sizeof *argv; i++)
    cp__dj_str(cmd, NULL, argv[i], ok);
  env_secret(cp__dj_arr(c, "env", ok), "CLAWPLANE_FILES_TOKEN", secret, CP_DESIRED_KEY_FILES, ok);
  cJSON *port = cp__dj_obj(cp__dj_arr(c, "ports", ok), NULL, ok);
  cp__dj_str(port, "name", CP_DESIRED_FILES_PORT_NAME, ok);
  cp__dj_num(port, "containerPort", CP_DESIRED_FILES_PORT, ok);
  cp__dj_str(port, "protocol", "TCP", ok);
  cJSON *res = cp__dj_obj(c, "resources", ok);
  cJSON *req = cp__dj_obj(res, "requests", ok);
  cp__dj_str(req, "cpu", "10m", ok);
  cp__dj_str(req, "memory", "16Mi", ok);
  cJSON *lim = cp__dj_obj(res, "limits", ok);
  cp__dj_str(lim, "cpu", "500m", ok);
  cp__dj_str(lim, "memory", "64Mi", ok);
  security_context(cp__dj_obj(c, "securityContext", ok), true, ok);
  mount(cp__dj_arr(c, "volumeMounts", ok), "state", DATA_DIR, ok);
  probe_port(c, "readinessProbe", "/readyz", CP_DESIRED_FILES_PORT, 5, 2, 3, ok);
  probe_port(c, "livenessProbe", "/healthz", CP_DESIRED_FILES_PORT, 10, 5, 3, ok);
  cp__dj_str(c, "terminationMessagePolicy", "FallbackToLogsOnError", ok);
  if (!*ok) {
    cJSON_Delete(c);
    return NULL;
  }
  return c;
}

static cJSON *container(const cp__desired_ident_t *id, const cp_desired_effective_t *e,
                        const cp_desired_opts_t *o, bool *ok) {
  static const char *const cmd[] = {"node", "openclaw.mjs", "gateway", "--bind",
                                    "lan",  "--port",       "18789"};
  cJSON *c = container_base(CP_DESIRED_CONTAINER, cmd, sizeof cmd / sizeof *cmd, id, e, o, ok);
  cJSON *port = cp__dj_obj(cp__dj_arr(c, "ports", ok), NULL, ok);
  cp__dj_str(port, "name", CP_DESIRED_PORT_NAME, ok);
  cp__dj_num(port, "containerPort", CP_DESIRED_PORT, ok);
  cp__dj_str(port, "protocol", "TCP", ok);
  probe(c, "startupProbe", "/healthz", 2, 2, 150, ok); /* up to 5 minutes for a cold start */
  probe(c, "readinessProbe", "/readyz", 5, 2, 3, ok);
  probe(c, "livenessProbe", "/healthz", 10, 5, 3, ok);
  if (!*ok) {
    cJSON_Delete(c);
    return NULL;
  }
  return c;
}

/* The hash of the spec and the platform configuration together: {"spec":..,"config":..}
 * printed unformatted. */
static int pod_hash(cJSON *spec, const cp__desired_ident_t *id, const cp_desired_effective_t *e,
                    const cp_desired_opts_t *o, char out[65]) {
  cJSON *both = cJSON_CreateObject();
  cJSON *cfg = cp__desired_platform_config(id, e, o);
  int rc = CP_ENOMEM;
  if (both && cfg && cJSON_AddItemReferenceToObject(both, "spec", spec) &&
      cJSON_AddItemToObject(both, "config", cfg)) {
    cfg = NULL;
    rc = 0;
    /* The sidecar reads its token through secretKeyRef, which a running pod never
     * re-reads: a new files key (a new token) must replace the pod. The key's SHA-256
     * stands for it; neither key nor token is ever in the spec. */
    char kid[65];
    if (o->files_image && o->files_key) {
      rc = sha256_hex(o->files_key, o->files_key_len, kid);
      if (rc == 0 && !cJSON_AddStringToObject(both, "filesKey", kid))
        rc = CP_ENOMEM;
    }
    if (rc == 0)
      rc = cp_desired_spec_hash(both, out);
  }
  cJSON_Delete(cfg);
  cJSON_Delete(both);
  return rc;
}

static int placement(cJSON *spec, const cJSON *profile, const char *pname, bool *ok, char *err,
                     size_t errlen) {
  const cJSON *pl = cp_json_getv(profile, "spec", "placement", NULL);
  const cJSON *ns = cp_json_getv(pl, "nodeSelector", NULL);
  const cJSON *tol = cp_json_getv(pl, "tolerations", NULL);
  const char *prio = cp_json_strv(pl, "priorityClassName", NULL);
  const cJSON *it;
  if (ns && !cJSON_IsObject(ns) && !cJSON_IsNull(ns))
    return cp__desired_err(err, errlen, CP_EINVAL,
                           "profile %s placement.nodeSelector must be a map of strings", pname);
  cJSON_ArrayForEach(it, (cJSON_IsObject(ns) ? ns : NULL)) {
    if (!cJSON_IsString(it))
      return cp__desired_err(err, errlen, CP_EINVAL,
                             "profile %s placement.nodeSelector must be a map of strings", pname);
  }
  if (tol && !cJSON_IsArray(tol) && !cJSON_IsNull(tol))
    return cp__desired_err(err, errlen, CP_EINVAL,
                           "profile %s placement.tolerations must be a list", pname);
  cJSON_ArrayForEach(it, (cJSON_IsArray(tol) ? tol : NULL)) {
    if (!cJSON_IsObject(it))
      return cp__desired_err(err, errlen, CP_EINVAL,
                             "profile %s placement.tolerations must be a list of objects", pname);
  }
  if (cJSON_IsObject(ns) && cJSON_GetArraySize(ns) > 0)
    cp__dj_add(spec, "nodeSelector", *ok ? cJSON_Duplicate(ns, 1) : NULL, ok);
  if (cJSON_IsArray(tol) && cJSON_GetArraySize(tol) > 0)
    cp__dj_add(spec, "tolerations", *ok ? cJSON_Duplicate(tol, 1) : NULL, ok);
  if (prio && *prio)
    cp__dj_str(spec, "priorityClassName", prio, ok);
  return 0;
}

int cp_desired_pod(const cJSON *ur, const cJSON *profile, const cp_desired_opts_t *opts,
                   cJSON **out, char *err, size_t errlen) {
  cp__desired_ident_t id;
  cp_desired_effective_t e = {0};
  cp_desired_opts_t o = cp__desired_opts(opts);
  cJSON *pod = NULL, *spec = NULL;
  char claim[128], cmname[128], hash[65];
  int rc = cp__desired_ident(ur, &id, err, errlen);
  if (rc == 0)
    rc = cp_desired_effective(ur, profile, opts, &e, err, errlen);
  if (rc < 0)
    return rc;

  bool ok = true;
  spec = cJSON_CreateObject();
  if (!spec)
    ok = false;
  cp__dj_str(spec, "hostname", id.name, &ok);
  cp__dj_str(spec, "restartPolicy", "Always", &ok);
  cp__dj_bool(spec, "automountServiceAccountToken", false, &ok);
  cp__dj_bool(spec, "enableServiceLinks", false, &ok);
  security_context(cp__dj_obj(spec, "securityContext", &ok), false, &ok);
  cJSON *inits = cp__dj_arr(spec, "initContainers", &ok);
  cp__dj_add(inits, NULL, config_container(&id, &e, &o, &ok), &ok);
  cp__dj_add(inits, NULL, model_check_container(&id, &e, &o, &ok), &ok);
  if (o.files_image)
    cp__dj_add(inits, NULL, workspace_container(&id, &e, &o, &ok), &ok);
  cJSON *containers = cp__dj_arr(spec, "containers", &ok);
  cp__dj_add(containers, NULL, container(&id, &e, &o, &ok), &ok);
  if (o.files_image)
    cp__dj_add(containers, NULL, files_container(&id, &e, &o, &ok), &ok);
  cJSON *vols = cp__dj_arr(spec, "volumes", &ok);
  cJSON *v = cp__dj_obj(vols, NULL, &ok);
  cp__dj_str(v, "name", "tmp", &ok);
  cp__dj_obj(v, "emptyDir", &ok);
  v = cp__dj_obj(vols, NULL, &ok);
  cp__dj_str(v, "name", "home", &ok);
  cp__dj_obj(v, "emptyDir", &ok);
  v = cp__dj_obj(vols, NULL, &ok);
  cp__dj_str(v, "name", "state", &ok);
  snprintf(claim, sizeof(claim), "%s%s", id.name, CP_DESIRED_PVC_SUFFIX);
  cp__dj_str(cp__dj_obj(v, "persistentVolumeClaim", &ok), "claimName", claim, &ok);
  v = cp__dj_obj(vols, NULL, &ok);
  cp__dj_str(v, "name", "config", &ok);
  snprintf(cmname, sizeof(cmname), "%s%s", id.name, CP_DESIRED_CONFIG_SUFFIX);
  cJSON *cmv = cp__dj_obj(v, "configMap", &ok);
  cp__dj_str(cmv, "name", cmname, &ok);
  cp__dj_num(cmv, "defaultMode", 0444, &ok);
  rc = placement(spec, profile, e.profile, &ok, err, errlen);
  if (rc < 0)
    goto out;
  if (!ok) {
    rc = CP_ENOMEM;
    goto out;
  }
  if ((rc = pod_hash(spec, &id, &e, &o, hash)) < 0)
    goto out;

  pod = cp__desired_object(&id, "v1", "Pod", NULL, true);
  if (!pod)
    ok = false;
  cJSON *md = cJSON_GetObjectItemCaseSensitive(pod, "metadata");
  cp__dj_str(cp__dj_obj(md, "annotations", &ok), CP_DESIRED_HASH_ANNOTATION, hash, &ok);
  if (ok) {
    cp__dj_add(pod, "spec", spec, &ok);
    spec = NULL; /* owned by pod now, or freed by cp__dj_add */
  }
  if (!ok) {
    rc = CP_ENOMEM;
    goto out;
  }
  *out = pod;
  pod = NULL;
out:
  if (rc == CP_ENOMEM)
    cp__desired_err(err, errlen, rc, "out of memory");
  cJSON_Delete(spec);
  cJSON_Delete(pod);
  cp_desired_effective_free(&e);
  return rc;
}
