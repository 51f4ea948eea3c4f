/* The runtime NetworkPolicy: default deny, then a short allowlist.
 *
 * Ingress: the apiserver and (optionally) the ingress controller pods, on TCP 18789; with
 * the file service on, a second rule admits the apiserver alone on TCP 8090.
 * Egress: DNS, the modelproxy pods, and the profile's CIDR allowlist. Each allowlisted
 * CIDR carries `except` entries for cloud metadata and private ranges, but only those
 * that are strict subsets of it: the API server refuses an except that is not inside its
 * cidr, and one equal to the cidr would silently allow nothing. So 0.0.0.0/0 excepts all
 * of them, 203.0.113.0/24 none, and an exactly allowlisted 10.0.0.0/8 stays open (the
 * platform asked for it). CIDRs are compared bitwise on inet_pton's output, so IPv4 and
 * IPv6 go through the same code.
 */
#include "userruntime/desired.h"
#include "core/error.h"
#include "json/json.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct cidr_s {
  int family; /* AF_INET or AF_INET6 */
  unsigned char a[16];
  int prefix;
} cidr_t;

/* Ranges excepted from every allowlisted CIDR that strictly contains them. */
static const char *const BLOCKED[] = {
    "169.254.169.254/32", /* cloud metadata */
    "10.0.0.0/8",         "172.16.0.0/12",     "192.168.0.0/16",
    "100.64.0.0/10",      "fd00:ec2::254/128", /* AWS metadata over IPv6 */
    "fc00::/7",                                /* IPv6 unique local addresses */
};

static bool bit(const unsigned char *a, int i) {
  return (a[i / 8] >> (7 - i % 8)) & 1;
}

/* Parses "addr/prefix". Returns 0, -1 (malformed) or -2 (host bits set; c holds the
 * masked network so the caller can suggest it). */
static int cidr_parse(const char *s, cidr_t *c) {
  const char *slash = strchr(s, '/');
  char host[64];
  if (!slash || (size_t)(slash - s) >= sizeof(host))
    return -1;
  memcpy(host, s, (size_t)(slash - s));
  host[slash - s] = '\0';
  memset(c, 0, sizeof(*c));
  int max;
  if (inet_pton(AF_INET, host, c->a) == 1) {
    c->family = AF_INET;
    max = 32;
  } else if (inet_pton(AF_INET6, host, c->a) == 1) {
    c->family = AF_INET6;
    max = 128;
  } else {
    return -1;
  }
  const char *p = slash + 1;
  size_t n = strlen(p);
  if (n == 0 || n > 3 || (n > 1 && p[0] == '0'))
    return -1;
  c->prefix = 0;
  for (; *p; p++) {
    if (*p < '0' || *p > '9')
      return -1;
    c->prefix = c->prefix * 10 + (*p - '0');
  }
  if (c->prefix > max)
    return -1;
  bool host_bits = false;
  for (int i = c->prefix; i < max; i++) {
    if (bit(c->a, i)) {
      host_bits = true;
      c->a[i / 8] &= (unsigned char)~(1u << (7 - i % 8));
    }
  }
  return host_bits ? -2 : 0;
}

/* inner is a strict subset of outer. */
static bool strict_subset(const cidr_t *outer, const cidr_t *inner) {
  if (outer->family != inner->family || inner->prefix <= outer->prefix)
    return false;
  for (int i = 0; i < outer->prefix; i++)
    if (bit(outer->a, i) != bit(inner->a, i))
      return false;
  return true;
}

/* {namespaceSelector: {matchLabels: {kubernetes.io/metadata.name: ns}}, podSelector: ..} */
static int peer(cJSON *list, const char *ns, const char *selector, bool *ok, char *err,
                size_t errlen) {
  cJSON *labels = NULL;
  int rc = cp__desired_selector_parse(selector, &labels, err, errlen);
  if (rc < 0)
    return rc;
  cJSON *p = cp__dj_obj(list, NULL, ok);
  cJSON *nsl = cp__dj_obj(cp__dj_obj(p, "namespaceSelector", ok), "matchLabels", ok);
  cp__dj_str(nsl, "kubernetes.io/metadata.name", ns, ok);
  cp__dj_add(cp__dj_obj(p, "podSelector", ok), "matchLabels", labels, ok);
  return 0;
}

static void port(cJSON *ports, const char *proto, int num, bool *ok) {
  cJSON *p = cp__dj_obj(ports, NULL, ok);
  cp__dj_str(p, "protocol", proto, ok);
  cp__dj_num(p, "port", num, ok);
}

static int egress_entry(cJSON *egress, const cJSON *entry, int idx, const char *pname, bool *ok,
                        char *err, size_t errlen) {
  const char *s = cp_json_strv(entry, "cidr", NULL);
  cidr_t c;
  int prc = s ? cidr_parse(s, &c) : -1;
  if (prc == -2) {
    char net[INET6_ADDRSTRLEN];
    inet_ntop(c.family, c.a, net, sizeof(net));
    return cp__desired_err(err, errlen, CP_EINVAL,
                           "profile %s network.egress[%d].cidr \"%s\" has host bits set; use "
                           "%s/%d",
                           pname, idx, s, net, c.prefix);
  }
  if (prc < 0)
    return cp__desired_err(err, errlen, CP_EINVAL,
                           "profile %s network.egress[%d].cidr must be an IPv4 or IPv6 CIDR "
                           "such as 203.0.113.0/24",
                           pname, idx);
  const cJSON *ports = cp_json_getv(entry, "ports", NULL), *it;
  if (ports && !cJSON_IsArray(ports) && !cJSON_IsNull(ports))
    return cp__desired_err(err, errlen, CP_EINVAL,
                           "profile %s network.egress[%d].ports must be a list of port numbers",
                           pname, idx);
  if (cJSON_GetArraySize(ports) > CP_DESIRED_MAX_EGRESS_PORTS)
    return cp__desired_err(err, errlen, CP_ETOOBIG,
                           "profile %s network.egress[%d] has more than %d ports", pname, idx,
                           CP_DESIRED_MAX_EGRESS_PORTS);
  cJSON_ArrayForEach(it, ports) {
    double d = cJSON_IsNumber(it) ? it->valuedouble : 0;
    if (d < 1 || d > 65535 || d != (double)(int)d)
      return cp__desired_err(err, errlen, CP_EINVAL,
                             "profile %s network.egress[%d].ports must be numbers 1-65535", pname,
                             idx);
  }

  cJSON *rule = cp__dj_obj(egress, NULL, ok);
  cJSON *block = cp__dj_obj(cp__dj_obj(cp__dj_arr(rule, "to", ok), NULL, ok), "ipBlock", ok);
  cp__dj_str(block, "cidr", s, ok);
  cJSON *except = NULL;
  for (size_t i = 0; i < sizeof(BLOCKED) / sizeof(BLOCKED[0]); i++) {
    cidr_t b;
    if (cidr_parse(BLOCKED[i], &b) == 0 && strict_subset(&c, &b)) {
      if (!except)
        except = cp__dj_arr(block, "except", ok);
      cp__dj_str(except, NULL, BLOCKED[i], ok);
    }
  }
  if (cJSON_GetArraySize(ports) > 0) {
    cJSON *pl = cp__dj_arr(rule, "ports", ok);
    cJSON_ArrayForEach(it, ports) {
      port(pl, "TCP", (int)it->valuedouble, ok);
    }
  }
  return 0;
}

static int build(const cp__desired_ident_t *id, const cJSON *profile, const char *pname,
                 const cp_desired_opts_t *o, cJSON *np, bool *ok, char *err, size_t errlen) {
  int rc;
  cJSON *spec = cp__dj_obj(np, "spec", ok);
  cJSON *pod_sel = cp__dj_obj(spec, "podSelector", ok);
  cJSON *ml = cp__dj_obj(pod_sel, "matchLabels", ok);
  cp__dj_str(ml, "app.kubernetes.io/name", "openclaw", ok);
  cp__dj_str(ml, "app.kubernetes.io/instance", id->name, ok);
  cJSON *types = cp__dj_arr(spec, "policyTypes", ok);
  cp__dj_str(types, NULL, "Ingress", ok);
  cp__dj_str(types, NULL, "Egress", ok);

  /* Ingress: no peers configured means no rule, i.e. all ingress denied. */
  bool api = *o->apiserver_namespace;
  bool ing = o->ingress_namespace && *o->ingress_namespace;
  if (api || ing) {
    cJSON *rule = cp__dj_obj(cp__dj_arr(spec, "ingress", ok), NULL, ok);
    cJSON *from = cp__dj_arr(rule, "from", ok);
    if (api &&
        (rc = peer(from, o->apiserver_namespace, o->apiserver_selector, ok, err, errlen)) < 0)
      return rc;
    if (ing && (rc = peer(from, o->ingress_namespace, o->ingress_selector, ok, err, errlen)) < 0)
      return rc;
    port(cp__dj_arr(rule, "ports", ok), "TCP", CP_DESIRED_PORT, ok);
  }
  /* The file service: the apiserver alone, on its own port (a rule of its own, so the
   * ingress controller never reaches 8090). */
  if (api && o->files_image) {
    cJSON *rule = cp__dj_obj(cJSON_GetObjectItemCaseSensitive(spec, "ingress"), NULL, ok);
    if ((rc = peer(cp__dj_arr(rule, "from", ok), o->apiserver_namespace, o->apiserver_selector, ok,
                   err, errlen)) < 0)
      return rc;
    port(cp__dj_arr(rule, "ports", ok), "TCP", CP_DESIRED_FILES_PORT, ok);
  }

  cJSON *egress = cp__dj_arr(spec, "egress", ok);
  cJSON *dns = cp__dj_obj(egress, NULL, ok);
  if ((rc = peer(cp__dj_arr(dns, "to", ok), o->dns_namespace, o->dns_selector, ok, err, errlen)) <
      0)
    return rc;
  cJSON *dports = cp__dj_arr(dns, "ports", ok);
  port(dports, "UDP", 53, ok);
  port(dports, "TCP", 53, ok);
  cJSON *mp = cp__dj_obj(egress, NULL, ok);
  if ((rc = peer(cp__dj_arr(mp, "to", ok), o->modelproxy_namespace, o->modelproxy_selector, ok, err,
                 errlen)) < 0)
    return rc;
  port(cp__dj_arr(mp, "ports", ok), "TCP", o->modelproxy_port, ok);

  const cJSON *list = cp_json_getv(profile, "spec", "network", "egress", NULL), *it;
  if (list && !cJSON_IsArray(list) && !cJSON_IsNull(list))
    return cp__desired_err(err, errlen, CP_EINVAL,
                           "profile %s network.egress must be a list of {cidr, ports}", pname);
  if (cJSON_GetArraySize(list) > CP_DESIRED_MAX_EGRESS)
    return cp__desired_err(err, errlen, CP_ETOOBIG,
                           "profile %s network.egress has more than %d entries", pname,
                           CP_DESIRED_MAX_EGRESS);
  int idx = 0;
  cJSON_ArrayForEach(it, list) {
    if ((rc = egress_entry(egress, it, idx++, pname, ok, err, errlen)) < 0)
      return rc;
  }
  return 0;
}

int cp_desired_netpol(const cJSON *ur, const cJSON *profile, const cp_desired_opts_t *opts,
                      cJSON **out, char *err, size_t errlen) {
  cp__desired_ident_t id;
  cp_desired_opts_t o = cp__desired_opts(opts);
  int rc = cp__desired_ident(ur, &id, err, errlen);
  if (rc < 0)
    return rc;
  if (!profile)
    return cp__desired_err(err, errlen, CP_EINVAL, "RuntimeProfile is required");
  const char *pname = cp_json_strv(profile, "metadata", "name", NULL);
  bool ok = true;
  cJSON *np = cp__desired_object(&id, "networking.k8s.io/v1", "NetworkPolicy", NULL, true);
  if (!np)
    ok = false;
  rc = build(&id, profile, pname && *pname ? pname : "(unnamed)", &o, np, &ok, err, errlen);
  if (rc == 0 && !ok)
    rc = cp__desired_err(err, errlen, CP_ENOMEM, "out of memory");
  if (rc < 0) {
    cJSON_Delete(np);
    return rc;
  }
  *out = np;
  return 0;
}
