/* Desired state of a UserRuntime's children: pure builders, no I/O.
 *
 * Each builder takes the UserRuntime object (as the API returns it: metadata.name,
 * namespace, uid, spec...), for most of them the RuntimeProfile object, and an options
 * struct, and returns a new cJSON tree ready for server-side apply: apiVersion, kind,
 * metadata (name, namespace, labels, ownerReferences) and the body. Nothing is read from
 * or written to the cluster, nothing is logged, and the same inputs always print to the
 * same bytes, so the controller can compare and apply without spurious writes.
 *
 * Children and their names (N = the UserRuntime name):
 *   Pod N, Service N, NetworkPolicy N, PersistentVolumeClaim N-state, Secret N-credentials.
 * Every child carries the labels
 *   app.kubernetes.io/name=openclaw, app.kubernetes.io/instance=N,
 *   app.kubernetes.io/managed-by=clawplane, clawplane.io/user=<spec.user>
 * and an ownerReference {apiVersion clawplane.io/v1alpha1, kind UserRuntime, name, uid,
 * controller: true, blockOwnerDeletion: true} (the PVC only when retainOnDelete is false).
 *
 * Errors: every builder returns 0 or a negative CP_E* code. On failure *out is untouched
 * and err (if non-NULL) holds one sentence fit for status.message, naming the field and
 * the rule ("image overrides are not allowed by profile default"). Messages never contain
 * token bytes. CP_EINVAL means the objects' content is refused (a user or profile
 * mistake: surface it, do not retry); CP_ETOOBIG a list or value past its cap;
 * CP_ENOMEM is transient.
 *
 * Choices made where the design is silent (a demanding operator's expectations):
 *  - N must be a DNS-1035 label (a-z, 0-9, '-', starting with a letter, <= 63): it names
 *    the Service and is the pod's hostname. spec.user must be a DNS-1123 label.
 *  - An override equal to the profile's value is not an override: spec.image equal to the
 *    profile image is accepted even when image overrides are off; same for resources.
 *  - Resources merge per value: spec.resources.limits.memory replaces only that value of
 *    the profile's resources (replacing the whole block would silently drop the cpu
 *    limit and the requests). allowOverrides follows the CRD defaults when absent
 *    (image false, resources true). Every effective value must be <= maxResources for the
 *    resources it lists (unlisted resources and an absent maxResources mean no ceiling,
 *    as the CRD documents), and requests <= limits, or the API server would refuse the
 *    pod. Keys other than requests/limits in spec.resources are refused, not dropped.
 *  - Storage size is the user's to choose (spec.storage.size, else profile, else 10Gi),
 *    capped by maxResources.storage when the profile sets it. Shrinking a bound PVC is
 *    refused by the API server; that refusal is the controller's to surface.
 *  - retainOnDelete defaults to true: a user's data is never deleted unless they asked.
 *  - Env entries (profile and spec) are name/value strings only; valueFrom is refused,
 *    since secretKeyRef would let a user mount any Secret of the namespace, including
 *    another user's credentials. Names are C identifiers. Reserved names are refused in
 *    both lists, compared case-insensitively, exactly as the CRDs' CEL rule (kept here
 *    too: objects stored before a CRD change skip it): HOME, PATH, NODE_OPTIONS,
 *    NODE_PATH, LD_PRELOAD, LD_LIBRARY_PATH, OPENCLAW_*, CLAWPLANE_*, KUBERNETES_*,
 *    *API_KEY*, *_BASE_URL, plus the model URL and key env names from the options.
 *    Duplicate names within one list are refused; a spec entry replaces the profile entry
 *    of the same name in place; spec-only entries follow.
 *  - The model-proxy credential is exposed as OPENAI_API_KEY by default (what
 *    OpenAI-compatible clients read) next to OPENAI_BASE_URL: its value is the per-user
 *    modelproxy token from the runtime's own Secret, never a provider key.
 *  - The pod also gets HOME=/home/node, a startupProbe (so a slow first start is not
 *    killed by liveness) and terminationMessagePolicy FallbackToLogsOnError (so a crash
 *    explains itself in the pod status the controller reads for Degraded).
 *  - The Secret uses base64 `data` rather than `stringData`: stringData is write-only,
 *    so applying it could never compare equal to the live object.
 *  - Profile egress CIDRs must have zero host bits ("10.1.2.3/8" is refused with a hint).
 *    An entry without ports allows all ports to that CIDR.
 */
#ifndef CP_CONTROLLERS_USERRUNTIME_DESIRED_H
#define CP_CONTROLLERS_USERRUNTIME_DESIRED_H

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CP_DESIRED_API_VERSION "clawplane.io/v1alpha1"
#define CP_DESIRED_KIND "UserRuntime"
#define CP_DESIRED_PORT 18789
#define CP_DESIRED_PORT_NAME "gateway"
#define CP_DESIRED_CONTAINER "openclaw"
#define CP_DESIRED_SECRET_SUFFIX "-credentials"
#define CP_DESIRED_PVC_SUFFIX "-state"
#define CP_DESIRED_KEY_GATEWAY "gateway-token"
#define CP_DESIRED_KEY_MODELPROXY "modelproxy-token"
#define CP_DESIRED_CONFIG_SUFFIX "-openclaw"  /* ConfigMap N-openclaw */
#define CP_DESIRED_CONFIG_KEY "platform.json" /* its one data key */
#define CP_DESIRED_MAX_PROXIES 16             /* trusted proxy CIDRs */
#define CP_DESIRED_HASH_ANNOTATION "clawplane.io/spec-hash"
#define CP_DESIRED_DEFAULT_STORAGE "10Gi"
#define CP_DESIRED_DEFAULT_IDLE "1h"
#define CP_DESIRED_MAX_ENV 128         /* merged env entries */
#define CP_DESIRED_MAX_ENV_VALUE 32768 /* bytes per env value */
#define CP_DESIRED_MAX_EGRESS 64       /* profile egress entries */
#define CP_DESIRED_MAX_EGRESS_PORTS 32 /* ports per egress entry */
#define CP_DESIRED_TOKEN_MAX 4096      /* bytes per token given to cp_desired_secret */
#define CP_DESIRED_FILES_PORT 8090     /* the file service sidecar */
#define CP_DESIRED_FILES_PORT_NAME "files"
#define CP_DESIRED_FILES_CONTAINER "files"
#define CP_DESIRED_FILES_SUFFIX "-files" /* Secret N-files */
#define CP_DESIRED_KEY_FILES "token"     /* its one data key */
#define CP_DESIRED_WORKSPACE "/data/workspace"
#define CP_DESIRED_DEFAULT_MAX_UPLOAD "1Gi"

/* Controller-wide settings. A NULL opts, a NULL string or a 0 port means the default in
 * brackets. Selectors are equality label selectors "k=v,k2=v2"; "" selects every pod of
 * the namespace. */
typedef struct cp_desired_opts_s {
  const char *default_image;        /* when the profile sets no image [none: error] */
  const char *modelproxy_url;       /* when the profile has no modelProxy.url
                                       [http://clawplane-modelproxy.clawplane-system.svc:8080/v1] */
  const char *modelproxy_namespace; /* [clawplane-system] */
  const char *modelproxy_selector;  /* [app.kubernetes.io/name=clawplane-modelproxy] */
  int modelproxy_port;              /* the modelproxy *container* port: NetworkPolicy
                                       sees pod IPs after Service DNAT [8080] */
  const char *apiserver_namespace;  /* [clawplane-system]; "" = no apiserver ingress peer */
  const char *apiserver_selector;   /* [app.kubernetes.io/name=clawplane-apiserver] */
  const char *ingress_namespace;    /* ingress controller (Traefik) [none: no peer] */
  const char *ingress_selector;     /* [""] */
  const char *dns_namespace;        /* [kube-system] */
  const char *dns_selector;         /* [k8s-app=kube-dns] */
  const char *model_url_env;        /* [OPENAI_BASE_URL] */
  const char *model_key_env;        /* [OPENAI_API_KEY] */
  const char *default_model;        /* when the profile names no modelProxy.model [gpt-4o-mini] */
  const char *trusted_proxies;      /* ingress source addresses OpenClaw trusts, comma-separated
                                       CIDRs, when the profile sets no ingress.trustedProxies
                                       [none: no proxy is trusted, the runtime refuses all] */
  const char *identity_header;      /* header carrying the user [X-Clawplane-User] */
  const char *runtime_origin;       /* "scheme://domain[:port]": runtime N of user U is served at
                                       scheme://U.domain[:port] [none: no route, no origin] */
  const char *forward_auth_url;     /* Traefik ForwardAuth address (the apiserver's
                                       /internal/auth/forward) [none: no route] */
  const char *route_entrypoints;    /* Traefik entry points, comma-separated [none: all] */
  const char *files_image;          /* the file service sidecar's image [none: no sidecar,
                                       no files port, no files Secret] */
  const unsigned char *files_key;   /* the key the sidecar's token is derived from
                                       (auth/filestoken.h); needed with files_image */
  size_t files_key_len;
} cp_desired_opts_t;

/* The settings the children are built from: profile defaults merged with the user's
 * overrides, validated against the profile's policy. Owned by the struct; release with
 * cp_desired_effective_free. */
typedef struct cp_desired_effective_s {
  char *profile;            /* profile metadata.name, for messages */
  char *image;              /* never NULL */
  cJSON *resources;         /* {"requests":{..},"limits":{..}}, empty members omitted;
                               values are quantity strings; never NULL (maybe {}) */
  int64_t memory_limit;     /* bytes, -1 when there is no memory limit */
  char *storage_size;       /* never NULL */
  char *storage_class;      /* NULL: omit, the cluster default class is used */
  bool retain_on_delete;    /* default true */
  char *idle_timeout;       /* Go duration text as given, never NULL */
  int64_t idle_timeout_ms;  /* 0 disables hibernation */
  cJSON *env;               /* array of {"name","value"}, merged; never NULL */
  char *model_url;          /* never NULL */
  char *model;              /* default model id at the model proxy, never NULL */
  cJSON *trusted_proxies;   /* array of CIDR strings (maybe empty), never NULL */
  int64_t files_max_upload; /* bytes per uploaded file (profile files.maxUploadSize [1Gi]) */
  int64_t files_quota;      /* bytes of the whole workspace (files.quota), -1: no quota */
} cp_desired_effective_t;

/* Computes the effective settings of ur under profile. Returns 0 and fills *out (owned by
 * the caller, release with cp_desired_effective_free), or CP_EINVAL/CP_ETOOBIG/CP_ENOMEM
 * with err set and *out untouched. Pure; any thread. */
int cp_desired_effective(const cJSON *ur, const cJSON *profile, const cp_desired_opts_t *opts,
                         cp_desired_effective_t *out, char *err, size_t errlen);

/* Releases what e owns and zeroes it. Accepts NULL and a zeroed struct. */
void cp_desired_effective_free(cp_desired_effective_t *e);

/* The Pod N. Effective settings as above; env = HOME, the merged user env, NODE_OPTIONS
 * (--max-old-space-size = 75% of the memory limit in MiB, rounded down; omitted without
 * a memory limit or below 1 MiB), OPENCLAW_GATEWAY_PASSWORD and the model key from Secret
 * N-credentials, the model base URL. metadata.annotations[clawplane.io/spec-hash] is
 * the hex SHA-256 of the unformatted printed spec. Returns 0 and *out (caller frees with
 * cJSON_Delete), or a CP_E* code with err set. */
int cp_desired_pod(const cJSON *ur, const cJSON *profile, const cp_desired_opts_t *opts,
                   cJSON **out, char *err, size_t errlen);

/* The ConfigMap N-openclaw holding the platform's part of the runtime's OpenClaw
 * configuration as one JSON document under data[platform.json]: gateway mode local, bind
 * lan, port 18789; auth mode trusted-proxy with the identity header, allowUsers =
 * [spec.user] and the effective trusted proxies; the Control UI origin of the runtime's
 * route; the OpenAI-compatible chat-completions endpoint; one model provider "clawplane"
 * at the effective model URL whose apiKey is the text ${<model_key_env>}, substituted by
 * OpenClaw from the container's env (which reads the runtime's Secret), so no token is
 * ever in the ConfigMap; the profile's model as the agents' default. Printed with sorted,
 * fixed structure, so equal inputs give equal bytes. Returns as cp_desired_pod. */
int cp_desired_config(const cJSON *ur, const cJSON *profile, const cp_desired_opts_t *opts,
                      cJSON **out, char *err, size_t errlen);

/* The Traefik objects that publish runtime N at U.<domain> (opts.runtime_origin): a
 * Middleware N-auth (forwardAuth to opts.forward_auth_url, authResponseHeaders the
 * identity and role headers, which replace whatever the client sent) and an IngressRoute
 * N (Host rule, the Middleware, the Service N on 18789; WebSockets pass as plain HTTP
 * upgrades). *mw and *route are new objects owned by the caller. Returns CP_ENOTFOUND when
 * routes are off (no origin or no forward-auth URL), else as cp_desired_pod. */
int cp_desired_route(const cJSON *ur, const cp_desired_opts_t *opts, cJSON **mw, cJSON **route,
                     char *err, size_t errlen);

/* The ClusterIP Service N: port 18789 "gateway" (and with opts.files_image port 8090
 * "files") to the pod selected by the instance labels. Needs no profile. Returns as
 * cp_desired_pod. */
int cp_desired_service(const cJSON *ur, const cp_desired_opts_t *opts, cJSON **out, char *err,
                       size_t errlen);

/* The NetworkPolicy N: default deny both ways; ingress from the apiserver and ingress
 * peers on TCP 18789; egress to DNS (UDP+TCP 53), the modelproxy pods, and each profile
 * egress CIDR with except = those of 169.254.169.254/32, 10.0.0.0/8, 172.16.0.0/12,
 * 192.168.0.0/16, 100.64.0.0/10 (IPv6: fd00:ec2::254/128, fc00::/7) that are strict
 * subsets of it. Allowlisting a range exactly (10.0.0.0/8, 169.254.169.254/32) opens it.
 * The modelproxy rule targets the options' modelproxy pods: a profile modelProxy.url that
 * points elsewhere also needs a network.egress entry. DNS goes to the options' DNS pods
 * (default kube-dns); clusters with NodeLocal DNSCache set dns_selector accordingly.
 * Returns as cp_desired_pod. */
int cp_desired_netpol(const cJSON *ur, const cJSON *profile, const cp_desired_opts_t *opts,
                      cJSON **out, char *err, size_t errlen);

/* The PVC N-state: ReadWriteOnce, the effective storage size and class. It carries the
 * ownerReference only when retainOnDelete is false, so garbage collection deletes it
 * with the UserRuntime exactly when the user asked. Applying with retainOnDelete flipped
 * to true drops the ownerReference (server-side apply removes fields the manager stops
 * sending), and a retained PVC is adopted back when a UserRuntime of the same name
 * returns. Returns as cp_desired_pod. */
int cp_desired_pvc(const cJSON *ur, const cJSON *profile, const cp_desired_opts_t *opts,
                   cJSON **out, char *err, size_t errlen);

/* The Opaque Secret N-credentials with data keys gateway-token and modelproxy-token
 * (base64 of the given NUL-terminated tokens, 1..CP_DESIRED_TOKEN_MAX bytes). The caller
 * generates the tokens once (cp_desired_new_token) and reuses the live Secret's values
 * afterwards. The pod reads the tokens through secretKeyRef, so they are not part of its
 * spec hash: after rotating a token the controller must replace the pod itself. Returns
 * as cp_desired_pod; messages never include the tokens. */
int cp_desired_secret(const cJSON *ur, const char *gateway_token, const char *modelproxy_token,
                      cJSON **out, char *err, size_t errlen);

/* The Opaque Secret N-files holding the file service's token under data[token]: the hex
 * HMAC-SHA256 of "<namespace>/<name>/<uid>" with opts.files_key (auth/filestoken.h), which
 * the apiserver derives on its own. The same inputs give the same Secret, so it is
 * applied like any other child; a new key gives a new token (and, through the pod's hash,
 * a new pod). Returns CP_ENOTFOUND when the sidecar is off (no files_image), CP_EINVAL
 * when the key is missing or short, else as cp_desired_pod. */
int cp_desired_files_secret(const cJSON *ur, const cp_desired_opts_t *opts, cJSON **out, char *err,
                            size_t errlen);

/* Writes 64 lowercase hex characters of 32 bytes from OpenSSL RAND_bytes and a NUL into
 * out. Returns 0, or CP_EINTERNAL when the RNG fails (out untouched). Any thread. */
int cp_desired_new_token(char out[65]);

/* Writes the hex SHA-256 of cJSON_PrintUnformatted(spec) into out. Returns 0, CP_EINVAL
 * (spec NULL), CP_ENOMEM or CP_EINTERNAL; out untouched on failure. */
int cp_desired_spec_hash(const cJSON *spec, char out[65]);

/* The labels every child carries, as a new object owned by the caller. Returns 0 or
 * CP_EINVAL (name or spec.user missing or invalid)/CP_ENOMEM with err set. */
int cp_desired_labels(const cJSON *ur, cJSON **out, char *err, size_t errlen);

/* The instance selector {app.kubernetes.io/name: openclaw, app.kubernetes.io/instance: N}
 * used by the Service and the NetworkPolicy. Returns as cp_desired_labels. */
int cp_desired_selector(const cJSON *ur, cJSON **out, char *err, size_t errlen);

/* The ownerReference to ur (a new object owned by the caller). Returns as
 * cp_desired_labels; CP_EINVAL also when metadata.uid is missing. */
int cp_desired_owner_ref(const cJSON *ur, cJSON **out, char *err, size_t errlen);

/* Writes the in-cluster URL "http://N.<namespace>.svc:18789" for status.endpoint.
 * Returns 0, CP_EINVAL (missing name/namespace) or CP_ETOOBIG (buf too small). */
int cp_desired_endpoint(const cJSON *ur, char *buf, size_t len);

/* Parses a Go duration ("1h", "90m", "1h30m", "1.5h", "300ms", "0s", "0") into *ms
 * (rounded down). Negative durations and unitless non-zero numbers are CP_EINVAL,
 * values past int64 nanoseconds (about 292 years) CP_ETOOBIG. *ms written on success. */
int cp_desired_duration_parse(const char *s, int64_t *ms);

/* ---- internal to controllers/userruntime (cp__): not for other callers ---- */

/* Identity of a validated UserRuntime; strings borrowed from the tree. */
typedef struct cp__desired_ident_s {
  const char *name, *ns, *uid, *user;
} cp__desired_ident_t;

/* Validates and extracts the identity. Returns 0 or CP_EINVAL with err set. */
int cp__desired_ident(const cJSON *ur, cp__desired_ident_t *id, char *err, size_t errlen);

/* New {apiVersion, kind, metadata{name, namespace, labels[, ownerReferences]}} for a
 * child of id, named id->name followed by suffix (NULL for none). NULL on ENOMEM. */
cJSON *cp__desired_object(const cp__desired_ident_t *id, const char *api_version, const char *kind,
                          const char *suffix, bool owner);

/* The platform configuration document of cp_desired_config, as a new tree owned by the
 * caller (NULL on ENOMEM). The pod hashes it, so a change of it replaces the pod. */
cJSON *cp__desired_platform_config(const cp__desired_ident_t *id, const cp_desired_effective_t *e,
                                   const cp_desired_opts_t *o);

/* The config paths the platform owns, NULL-terminated: the init container replaces each
 * whole with `openclaw config patch --replace-path`. */
extern const char *const cp__desired_platform_paths[];

/* Writes "U.domain" (the route's host) or "scheme://U.domain[:port]" (the Control UI
 * origin) for user U from o->runtime_origin. Returns 0, CP_ENOTFOUND (no origin set),
 * CP_EINVAL (not http(s)://domain[:port]) or CP_ETOOBIG. */
int cp__desired_user_host(const cp_desired_opts_t *o, const char *user, char *buf, size_t len);
int cp__desired_user_origin(const cp_desired_opts_t *o, const char *user, char *buf, size_t len);

/* opts with every NULL/0 field replaced by its default; opts may be NULL. */
cp_desired_opts_t cp__desired_opts(const cp_desired_opts_t *opts);

/* Parses an equality selector "k=v,k2=v2" into a new matchLabels object. Returns 0 or
 * CP_EINVAL/CP_ENOMEM with err set. */
int cp__desired_selector_parse(const char *sel, cJSON **out, char *err, size_t errlen);

/* snprintf into err (when err and errlen are non-zero); returns rc for tail calls. */
int cp__desired_err(char *err, size_t errlen, int rc, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* Sticky-failure builders: each does nothing when *ok is false or parent is NULL, and
 * clears *ok on ENOMEM. key NULL appends to an array parent. cp__dj_add takes ownership
 * of item in every case. They return the added item (NULL after a failure). */
cJSON *cp__dj_add(cJSON *parent, const char *key, cJSON *item, bool *ok);
cJSON *cp__dj_obj(cJSON *parent, const char *key, bool *ok);
cJSON *cp__dj_arr(cJSON *parent, const char *key, bool *ok);
cJSON *cp__dj_str(cJSON *parent, const char *key, const char *v, bool *ok);
cJSON *cp__dj_num(cJSON *parent, const char *key, double v, bool *ok);
cJSON *cp__dj_bool(cJSON *parent, const char *key, bool v, bool *ok);

#endif
