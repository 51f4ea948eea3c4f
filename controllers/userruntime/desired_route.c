/* The runtime's route through Traefik: a Middleware and an IngressRoute per runtime.
 *
 * Why Traefik's own CRDs rather than a standard Ingress or a Gateway API HTTPRoute: the
 * route is useless without ForwardAuth in front of it, and ForwardAuth exists only as a
 * Traefik Middleware; an Ingress can point at one only through an annotation naming
 * "<ns>-<name>@kubernetescrd" (so the CRDs are needed anyway, and the link is a string
 * nothing validates), and an HTTPRoute only through an ExtensionRef filter to the same
 * CRD. IngressRoute references the Middleware by name in a typed field, in the same
 * namespace (Traefik's allowCrossNamespace can stay off), and WebSocket upgrades need no
 * setting at all.
 *
 * The Middleware is per runtime, owned by the UserRuntime like every child, so the
 * controller needs nothing installed beside it but Traefik's CRDs, and garbage collection
 * removes it with the route. authResponseHeaders makes Traefik copy the identity the
 * apiserver vouched for onto the proxied request, replacing any header of the same name
 * the client sent, so a client cannot claim to be someone else.
 */
#include "userruntime/desired.h"
#include "core/error.h"

#include <stdio.h>
#include <string.h>

#define TRAEFIK_API "traefik.io/v1alpha1"
#define ROLE_HEADER "X-Clawplane-Role"

/* Splits opts.runtime_origin into scheme ("http"/"https"), domain and ":port" (maybe ""). */
static int origin_parts(const cp_desired_opts_t *o, const char **scheme, size_t *slen,
                        const char **domain, size_t *dlen, const char **port) {
  const char *s = o->runtime_origin;
  if (!s || !*s)
    return CP_ENOTFOUND;
  const char *sep = strstr(s, "://");
  if (!sep || !((sep - s == 4 && strncmp(s, "http", 4) == 0) ||
                (sep - s == 5 && strncmp(s, "https", 5) == 0)))
    return CP_EINVAL;
  const char *d = sep + 3;
  size_t n = strcspn(d, ":/");
  if (n == 0 || d[n] == '/')
    return CP_EINVAL;
  for (size_t i = 0; i < n; i++) {
    char ch = d[i];
    if (!((ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || ch == '-' || ch == '.'))
      return CP_EINVAL;
  }
  const char *p = d + n;
  if (*p == ':' && (strlen(p) < 2 || strlen(p) > 6 || strspn(p + 1, "0123456789") != strlen(p) - 1))
    return CP_EINVAL;
  *scheme = s;
  *slen = (size_t)(sep - s);
  *domain = d;
  *dlen = n;
  *port = p;
  return 0;
}

int cp__desired_user_host(const cp_desired_opts_t *o, const char *user, char *buf, size_t len) {
  const char *scheme, *domain, *port;
  size_t slen, dlen;
  int rc = origin_parts(o, &scheme, &slen, &domain, &dlen, &port);
  if (rc < 0)
    return rc;
  int n = snprintf(buf, len, "%s.%.*s", user, (int)dlen, domain);
  return n < 0 || (size_t)n >= len ? CP_ETOOBIG : 0;
}

int cp__desired_user_origin(const cp_desired_opts_t *o, const char *user, char *buf, size_t len) {
  const char *scheme, *domain, *port;
  size_t slen, dlen;
  int rc = origin_parts(o, &scheme, &slen, &domain, &dlen, &port);
  if (rc < 0)
    return rc;
  int n = snprintf(buf, len, "%.*s://%s.%.*s%s", (int)slen, scheme, user, (int)dlen, domain, port);
  return n < 0 || (size_t)n >= len ? CP_ETOOBIG : 0;
}

static void str_list(cJSON *parent, const char *key, const char *csv, bool *ok) {
  cJSON *arr = cp__dj_arr(parent, key, ok);
  for (const char *p = csv; p && *p;) {
    size_t n = strcspn(p, ",");
    char v[128];
    if (n > 0 && n < sizeof v) {
      memcpy(v, p, n);
      v[n] = '\0';
      cp__dj_str(arr, NULL, v, ok);
    }
    p += n + (p[n] == ',');
  }
}

int cp_desired_route(const cJSON *ur, const cp_desired_opts_t *opts, cJSON **mw, cJSON **route,
                     char *err, size_t errlen) {
  cp__desired_ident_t id;
  cp_desired_opts_t o = cp__desired_opts(opts);
  int rc = cp__desired_ident(ur, &id, err, errlen);
  if (rc < 0)
    return rc;
  if (!o.forward_auth_url || !*o.forward_auth_url || !o.runtime_origin || !*o.runtime_origin)
    return CP_ENOTFOUND;
  char host[320], rule[400], mwname[320];
  rc = cp__desired_user_host(&o, id.user, host, sizeof host);
  if (rc < 0)
    return cp__desired_err(err, errlen, CP_EINVAL,
                           "runtime origin \"%.200s\" must be http(s)://domain[:port]",
                           o.runtime_origin);
  snprintf(rule, sizeof rule, "Host(`%s`)", host);
  snprintf(mwname, sizeof mwname, "%s-auth", id.name);

  bool ok = true;
  cJSON *m = cp__desired_object(&id, TRAEFIK_API, "Middleware", "-auth", true);
  cJSON *r = cp__desired_object(&id, TRAEFIK_API, "IngressRoute", NULL, true);
  if (!m || !r)
    ok = false;
  cJSON *fa = cp__dj_obj(cp__dj_obj(m, "spec", &ok), "forwardAuth", &ok);
  cp__dj_str(fa, "address", o.forward_auth_url, &ok);
  cp__dj_bool(fa, "trustForwardHeader", false, &ok); /* never the client's X-Forwarded-* */
  cJSON *rh = cp__dj_arr(fa, "authResponseHeaders", &ok);
  cp__dj_str(rh, NULL, o.identity_header, &ok);
  cp__dj_str(rh, NULL, ROLE_HEADER, &ok);

  cJSON *spec = cp__dj_obj(r, "spec", &ok);
  if (o.route_entrypoints && *o.route_entrypoints)
    str_list(spec, "entryPoints", o.route_entrypoints, &ok);
  cJSON *rt = cp__dj_obj(cp__dj_arr(spec, "routes", &ok), NULL, &ok);
  cp__dj_str(rt, "kind", "Rule", &ok);
  cp__dj_str(rt, "match", rule, &ok);
  cp__dj_str(cp__dj_obj(cp__dj_arr(rt, "middlewares", &ok), NULL, &ok), "name", mwname, &ok);
  cJSON *svc = cp__dj_obj(cp__dj_arr(rt, "services", &ok), NULL, &ok);
  cp__dj_str(svc, "name", id.name, &ok);
  cp__dj_num(svc, "port", CP_DESIRED_PORT, &ok);
  if (!ok) {
    cJSON_Delete(m);
    cJSON_Delete(r);
    return cp__desired_err(err, errlen, CP_ENOMEM, "out of memory");
  }
  *mw = m;
  *route = r;
  return 0;
}
