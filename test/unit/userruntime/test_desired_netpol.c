/* The runtime NetworkPolicy: default deny, the apiserver/ingress peers in, DNS and the
 * modelproxy out, and allowlisted CIDRs that still cannot reach cloud metadata or
 * private ranges unless those are allowlisted themselves. */
#include "desired_fixtures.h"
#include "core/error.h"

#include <stdio.h>

static cJSON *netpol(cJSON *profile, const cp_desired_opts_t *o) {
  cJSON *ur = fx_ur(), *np = NULL;
  char err[512] = "";
  int rc = cp_desired_netpol(ur, profile, o, &np, err, sizeof(err));
  cJSON_Delete(ur);
  if (rc != 0)
    fail_msg("netpol: %s: %s", cp_errname(rc), err);
  return np;
}

/* Builds with a profile whose egress is the given JSON list; returns the policy. */
static cJSON *netpol_egress(const char *egress) {
  cJSON *profile = fx_profile();
  char json[512];
  snprintf(json, sizeof(json), "{\"egress\":%s}", egress);
  fx_spec(profile, "network", json);
  cJSON *np = netpol(profile, NULL);
  cJSON_Delete(profile);
  return np;
}

/* The printed except list of the ipBlock rule for cidr ("" when it has none). */
static void assert_except(const cJSON *np, const char *cidr, const char *want) {
  const cJSON *rule;
  cJSON_ArrayForEach(rule, cp_json_getv(np, "spec", "egress", NULL)) {
    const cJSON *to = cJSON_GetArrayItem(cp_json_getv(rule, "to", NULL), 0);
    const char *c = cp_json_strv(to, "ipBlock", "cidr", NULL);
    if (!c || strcmp(c, cidr) != 0)
      continue;
    const cJSON *ex = cp_json_getv(to, "ipBlock", "except", NULL);
    char *text = ex ? cJSON_PrintUnformatted(ex) : NULL;
    assert_string_equal(text ? text : "", want);
    free(text);
    return;
  }
  fail_msg("no ipBlock rule for %s", cidr);
}

static void peer_is(const cJSON *peer, const char *ns, const char *labels_json) {
  assert_string_equal(
      cp_json_strv(peer, "namespaceSelector", "matchLabels", "kubernetes.io/metadata.name", NULL),
      ns);
  char *l = cJSON_PrintUnformatted(cp_json_getv(peer, "podSelector", "matchLabels", NULL));
  assert_string_equal(l, labels_json);
  free(l);
}

static void port_is(const cJSON *p, const char *proto, int port) {
  assert_string_equal(cp_json_strv(p, "protocol", NULL), proto);
  assert_int_equal((int)fx_num(p, "port"), port);
}

static void default_deny_with_the_fixed_rules(void **state) {
  (void)state;
  cJSON *profile = fx_profile();
  cJSON *np = netpol(profile, NULL);
  assert_string_equal(cp_json_strv(np, "apiVersion", NULL), "networking.k8s.io/v1");
  assert_string_equal(cp_json_strv(np, "kind", NULL), "NetworkPolicy");
  fx_assert_child_meta(np, "alice", true);
  const cJSON *spec = cp_json_getv(np, "spec", NULL);
  char *sel = cJSON_PrintUnformatted(cp_json_getv(spec, "podSelector", NULL));
  assert_string_equal(sel, "{\"matchLabels\":{\"app.kubernetes.io/name\":\"openclaw\","
                           "\"app.kubernetes.io/instance\":\"alice\"}}");
  free(sel);
  char *types = cJSON_PrintUnformatted(cp_json_getv(spec, "policyTypes", NULL));
  assert_string_equal(types, "[\"Ingress\",\"Egress\"]");
  free(types);

  /* Ingress: one rule, from the apiserver pods, TCP 18789 only. */
  const cJSON *ing = cp_json_getv(spec, "ingress", NULL);
  assert_int_equal(cJSON_GetArraySize(ing), 1);
  const cJSON *from = cp_json_getv(cJSON_GetArrayItem(ing, 0), "from", NULL);
  assert_int_equal(cJSON_GetArraySize(from), 1);
  peer_is(cJSON_GetArrayItem(from, 0), "clawplane-system",
          "{\"app.kubernetes.io/name\":\"clawplane-apiserver\"}");
  const cJSON *iports = cp_json_getv(cJSON_GetArrayItem(ing, 0), "ports", NULL);
  assert_int_equal(cJSON_GetArraySize(iports), 1);
  port_is(cJSON_GetArrayItem(iports, 0), "TCP", 18789);

  /* Egress: DNS, the modelproxy, and the profile's 203.0.113.0/24:443. */
  const cJSON *eg = cp_json_getv(spec, "egress", NULL);
  assert_int_equal(cJSON_GetArraySize(eg), 3);
  const cJSON *dns = cJSON_GetArrayItem(eg, 0);
  peer_is(cJSON_GetArrayItem(cp_json_getv(dns, "to", NULL), 0), "kube-system",
          "{\"k8s-app\":\"kube-dns\"}");
  port_is(cJSON_GetArrayItem(cp_json_getv(dns, "ports", NULL), 0), "UDP", 53);
  port_is(cJSON_GetArrayItem(cp_json_getv(dns, "ports", NULL), 1), "TCP", 53);
  const cJSON *mp = cJSON_GetArrayItem(eg, 1);
  peer_is(cJSON_GetArrayItem(cp_json_getv(mp, "to", NULL), 0), "clawplane-system",
          "{\"app.kubernetes.io/name\":\"clawplane-modelproxy\"}");
  assert_int_equal(cJSON_GetArraySize(cp_json_getv(mp, "ports", NULL)), 1);
  port_is(cJSON_GetArrayItem(cp_json_getv(mp, "ports", NULL), 0), "TCP", 8080);
  const cJSON *allow = cJSON_GetArrayItem(eg, 2);
  assert_except(np, "203.0.113.0/24", ""); /* nothing private inside a narrow public /24 */
  assert_int_equal(cJSON_GetArraySize(cp_json_getv(allow, "ports", NULL)), 1);
  port_is(cJSON_GetArrayItem(cp_json_getv(allow, "ports", NULL), 0), "TCP", 443);

  /* Nothing anywhere opens the whole internet. */
  char *all = cJSON_PrintUnformatted(np);
  assert_null(strstr(all, "0.0.0.0/0"));
  assert_null(strstr(all, "::/0"));
  free(all);
  cJSON_Delete(np);
  cJSON_Delete(profile);
}

static void options_change_peers(void **state) {
  (void)state;
  cJSON *profile = fx_profile();
  cp_desired_opts_t o = {
      .ingress_namespace = "traefik",
      .ingress_selector = "app.kubernetes.io/name=traefik,app.kubernetes.io/instance=edge",
      .modelproxy_namespace = "models",
      .modelproxy_selector = "app=mp",
      .modelproxy_port = 9000,
      .dns_namespace = "kube-system",
      .dns_selector = "k8s-app=node-local-dns",
  };
  cJSON *np = netpol(profile, &o);
  const cJSON *from =
      cp_json_getv(cJSON_GetArrayItem(cp_json_getv(np, "spec", "ingress", NULL), 0), "from", NULL);
  assert_int_equal(cJSON_GetArraySize(from), 2);
  peer_is(cJSON_GetArrayItem(from, 1), "traefik",
          "{\"app.kubernetes.io/name\":\"traefik\",\"app.kubernetes.io/instance\":\"edge\"}");
  const cJSON *eg = cp_json_getv(np, "spec", "egress", NULL);
  peer_is(cJSON_GetArrayItem(cp_json_getv(cJSON_GetArrayItem(eg, 0), "to", NULL), 0), "kube-system",
          "{\"k8s-app\":\"node-local-dns\"}");
  const cJSON *mp = cJSON_GetArrayItem(eg, 1);
  peer_is(cJSON_GetArrayItem(cp_json_getv(mp, "to", NULL), 0), "models", "{\"app\":\"mp\"}");
  port_is(cJSON_GetArrayItem(cp_json_getv(mp, "ports", NULL), 0), "TCP", 9000);
  cJSON_Delete(np);

  /* No peers at all: no ingress rule, so every connection in is denied. */
  cp_desired_opts_t none = {.apiserver_namespace = ""};
  np = netpol(profile, &none);
  assert_null(cp_json_getv(np, "spec", "ingress", NULL));
  cJSON_Delete(np);

  /* An empty selector selects every pod in the namespace. */
  cp_desired_opts_t any = {.apiserver_selector = ""};
  np = netpol(profile, &any);
  from =
      cp_json_getv(cJSON_GetArrayItem(cp_json_getv(np, "spec", "ingress", NULL), 0), "from", NULL);
  peer_is(cJSON_GetArrayItem(from, 0), "clawplane-system", "{}");
  cJSON_Delete(np);

  /* A malformed selector is a configuration error. */
  static const char *const bad[] = {"app", "=x", "a=b,", "a=b c", "a=b,,c=d"};
  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
    cp_desired_opts_t b = {.modelproxy_selector = bad[i]};
    cJSON *ur = fx_ur(), *out = (cJSON *)&out;
    char err[256] = "";
    assert_int_equal(cp_desired_netpol(ur, profile, &b, &out, err, sizeof(err)), CP_EINVAL);
    assert_ptr_equal(out, (cJSON *)&out);
    assert_non_null(strstr(err, "label selector"));
    cJSON_Delete(ur);
  }
  cJSON_Delete(profile);
}

static void everything_allowlisted_still_excepts_metadata_and_private(void **state) {
  (void)state;
  cJSON *np = netpol_egress("[{\"cidr\":\"0.0.0.0/0\",\"ports\":[443,80]},{\"cidr\":\"::/0\"}]");
  assert_except(np, "0.0.0.0/0",
                "[\"169.254.169.254/32\",\"10.0.0.0/8\",\"172.16.0.0/12\",\"192.168.0.0/16\","
                "\"100.64.0.0/10\"]");
  assert_except(np, "::/0", "[\"fd00:ec2::254/128\",\"fc00::/7\"]");
  /* The IPv6 rule had no ports: it allows every port (no ports key at all). */
  const cJSON *eg = cp_json_getv(np, "spec", "egress", NULL);
  assert_null(cp_json_getv(cJSON_GetArrayItem(eg, 3), "ports", NULL));
  const cJSON *ports = cp_json_getv(cJSON_GetArrayItem(eg, 2), "ports", NULL);
  port_is(cJSON_GetArrayItem(ports, 0), "TCP", 443);
  port_is(cJSON_GetArrayItem(ports, 1), "TCP", 80);
  cJSON_Delete(np);
}

static void excepts_only_strict_subsets(void **state) {
  (void)state;
  cJSON *np = netpol_egress("[{\"cidr\":\"10.0.0.0/8\"},{\"cidr\":\"169.254.169.254/32\"},"
                            "{\"cidr\":\"169.254.0.0/16\"},{\"cidr\":\"172.0.0.0/8\"},"
                            "{\"cidr\":\"100.0.0.0/8\"},{\"cidr\":\"10.1.0.0/16\"},"
                            "{\"cidr\":\"128.0.0.0/1\"},{\"cidr\":\"2001:db8::/32\"},"
                            "{\"cidr\":\"fc00::/7\"}]");
  assert_except(np, "10.0.0.0/8", "");         /* allowlisted exactly: open */
  assert_except(np, "169.254.169.254/32", ""); /* metadata allowlisted exactly: open */
  assert_except(np, "169.254.0.0/16", "[\"169.254.169.254/32\"]");
  assert_except(np, "172.0.0.0/8", "[\"172.16.0.0/12\"]");
  assert_except(np, "100.0.0.0/8", "[\"100.64.0.0/10\"]");
  assert_except(np, "10.1.0.0/16", ""); /* inside 10/8, not containing it */
  assert_except(np, "128.0.0.0/1", "[\"169.254.169.254/32\",\"172.16.0.0/12\",\"192.168.0.0/16\"]");
  assert_except(np, "2001:db8::/32", "");
  assert_except(np, "fc00::/7", "[\"fd00:ec2::254/128\"]");
  cJSON_Delete(np);
}

static void bad_egress_entries_refused(void **state) {
  (void)state;
  static const struct {
    const char *egress, *want;
  } cases[] = {
      {"[{\"cidr\":\"10.1.2.3/8\"}]", "has host bits set; use 10.0.0.0/8"},
      {"[{\"cidr\":\"2001:db8::1/32\"}]", "use 2001:db8::/32"},
      {"[{\"cidr\":\"10.0.0.0\"}]", "egress[0].cidr must be an IPv4 or IPv6 CIDR"},
      {"[{\"cidr\":\"10.0.0.0/33\"}]", "egress[0].cidr"},
      {"[{\"cidr\":\"10.0.0.0/08\"}]", "egress[0].cidr"},
      {"[{\"cidr\":\"example.com/32\"}]", "egress[0].cidr"},
      {"[{\"ports\":[443]}]", "egress[0].cidr"},
      {"[{\"cidr\":\"203.0.113.0/24\"},{\"cidr\":\"198.51.100.0/24\",\"ports\":[0]}]",
       "egress[1].ports must be numbers 1-65535"},
      {"[{\"cidr\":\"203.0.113.0/24\",\"ports\":[\"https\"]}]", "ports must be numbers"},
      {"[{\"cidr\":\"203.0.113.0/24\",\"ports\":[443.5]}]", "ports must be numbers"},
      {"[{\"cidr\":\"203.0.113.0/24\",\"ports\":443}]", "ports must be a list"},
      {"{\"cidr\":\"203.0.113.0/24\"}", "network.egress must be a list"},
  };
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    cJSON *ur = fx_ur(), *profile = fx_profile(), *out = (cJSON *)&out;
    char json[512], err[512] = "";
    snprintf(json, sizeof(json), "{\"egress\":%s}", cases[i].egress);
    fx_spec(profile, "network", json);
    assert_int_equal(cp_desired_netpol(ur, profile, NULL, &out, err, sizeof(err)), CP_EINVAL);
    assert_ptr_equal(out, (cJSON *)&out);
    if (!strstr(err, cases[i].want))
      fail_msg("case %zu: \"%s\" lacks \"%s\"", i, err, cases[i].want);
    assert_non_null(strstr(err, "profile default"));
    cJSON_Delete(ur);
    cJSON_Delete(profile);
  }
}

static void no_egress_list_means_only_dns_and_modelproxy(void **state) {
  (void)state;
  cJSON *profile = fx_profile();
  cJSON_DeleteItemFromObject(cJSON_GetObjectItem(profile, "spec"), "network");
  cJSON *np = netpol(profile, NULL);
  assert_int_equal(cJSON_GetArraySize(cp_json_getv(np, "spec", "egress", NULL)), 2);
  cJSON_Delete(np);
  cJSON_Delete(profile);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(default_deny_with_the_fixed_rules),
      cmocka_unit_test(options_change_peers),
      cmocka_unit_test(everything_allowlisted_still_excepts_metadata_and_private),
      cmocka_unit_test(excepts_only_strict_subsets),
      cmocka_unit_test(bad_egress_entries_refused),
      cmocka_unit_test(no_egress_list_means_only_dns_and_modelproxy),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
