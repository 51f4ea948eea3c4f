/* Kubeconfig loading as a user sees it: inline data and files, tokens, context selection,
 * kubectl-style merging, every refusal with its message, size caps, and the in-cluster
 * service account (with a temporary root under /tmp and the env vars set here). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/error.h"
#include "kube/config.h"
#include "testutil.h"

#define KDIR CP_TEST_DATA "/kubeconfig"
#define MIB ((size_t)1 << 20)

static const char *CA = KDIR "/pki/ca.crt";
static const char *CERT = KDIR "/pki/client.crt";
static const char *KEY = KDIR "/pki/client.key";

/* ---- helpers ---- */

static void assert_blob_is_file(const cp_blob_t *b, const char *path) {
  size_t len = 0;
  char *want = cp_test_read_file(path, &len);
  assert_non_null(want);
  assert_non_null(b->data);
  assert_int_equal(b->len, len);
  assert_memory_equal(b->data, want, len);
  assert_int_equal(b->data[b->len], '\0');
  free(want);
}

static void assert_mentions(const char *err, const char *want) {
  if (!strstr(err, want))
    fail_msg("error \"%s\" does not mention \"%s\"", err, want);
}

static cp_kubeconfig_t *load_ok(const char *paths, const char *context) {
  cp_kubeconfig_t *cfg = NULL;
  char err[512] = "";
  int rc = cp_kubeconfig_load(paths, context, &cfg, err, sizeof err);
  if (rc != 0)
    fail_msg("cp_kubeconfig_load(%s) = %s: %s", paths, cp_errname(rc), err);
  return cfg;
}

/* Parses yaml (relative paths against KDIR) and asserts rc plus a message naming `want`;
 * a failed call must leave *out untouched. */
static void parse_fails(const char *yaml, const char *context, int rc, const char *want) {
  cp_kubeconfig_t *sentinel = (cp_kubeconfig_t *)&sentinel, *cfg = sentinel;
  char err[512] = "";
  assert_int_equal(cp_kubeconfig_parse(yaml, strlen(yaml), context, KDIR, &cfg, err, sizeof err),
                   rc);
  assert_ptr_equal(cfg, sentinel);
  assert_mentions(err, want);
}

static cp_kubeconfig_t *parse_ok(const char *yaml, const char *context) {
  cp_kubeconfig_t *cfg = NULL;
  char err[512] = "";
  int rc = cp_kubeconfig_parse(yaml, strlen(yaml), context, KDIR, &cfg, err, sizeof err);
  if (rc != 0)
    fail_msg("cp_kubeconfig_parse = %s: %s", cp_errname(rc), err);
  return cfg;
}

static void write_file(const char *dir, const char *name, const void *data, size_t len) {
  char path[512];
  snprintf(path, sizeof path, "%s/%s", dir, name);
  FILE *f = fopen(path, "wb");
  assert_non_null(f);
  assert_int_equal(fwrite(data, 1, len, f), len);
  assert_int_equal(fclose(f), 0);
}

static void write_str(const char *dir, const char *name, const char *s) {
  write_file(dir, name, s, strlen(s));
}

static void make_tmpdir(char *buf, size_t n) {
  snprintf(buf, n, "/tmp/cp-kcfg-test-XXXXXX");
  assert_non_null(mkdtemp(buf));
}

static void rm_tree(const char *dir) {
  DIR *d = opendir(dir);
  struct dirent *e;
  while (d && (e = readdir(d)) != NULL) {
    if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
      continue;
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
    struct stat st;
    if (lstat(path, &st) == 0 && S_ISDIR(st.st_mode))
      rm_tree(path);
    else
      unlink(path);
  }
  if (d)
    closedir(d);
  rmdir(dir);
}

/* A minimal valid kubeconfig around one user body (YAML flow mapping text). */
static void user_fails(const char *user_body, int rc, const char *want) {
  char yaml[2048];
  snprintf(yaml, sizeof yaml,
           "current-context: dev\n"
           "clusters: [{name: c, cluster: {server: https://k:6443}}]\n"
           "users: [{name: u, user: %s}]\n"
           "contexts: [{name: dev, context: {cluster: c, user: u}}]\n",
           user_body);
  parse_fails(yaml, NULL, rc, want);
}

static void cluster_fails(const char *cluster_body, int rc, const char *want) {
  char yaml[2048];
  snprintf(yaml, sizeof yaml,
           "current-context: dev\n"
           "clusters: [{name: c, cluster: %s}]\n"
           "contexts: [{name: dev, context: {cluster: c}}]\n",
           cluster_body);
  parse_fails(yaml, NULL, rc, want);
}

/* ---- kubeconfig files ---- */

static void inline_data(void **state) {
  (void)state;
  cp_kubeconfig_t *cfg = load_ok(KDIR "/inline.yaml", NULL);
  assert_string_equal(cfg->server, "https://127.0.0.1:6443"); /* trailing slash dropped */
  assert_string_equal(cfg->context, "inline");
  assert_string_equal(cfg->namespace_, "team-a");
  assert_string_equal(cfg->tls_server_name, "kubernetes.default.svc");
  assert_false(cfg->insecure_skip_tls_verify);
  assert_blob_is_file(&cfg->ca, CA);
  assert_blob_is_file(&cfg->client_cert, CERT);
  assert_blob_is_file(&cfg->client_key, KEY);
  assert_null(cfg->token);
  assert_null(cfg->token_file);
  cp_kubeconfig_free(cfg);
}

static void json_kubeconfig(void **state) {
  (void)state;
  cp_kubeconfig_t *cfg = load_ok(KDIR "/config.json", NULL);
  assert_string_equal(cfg->server, "https://10.1.2.3");
  assert_string_equal(cfg->namespace_, "jns");
  assert_string_equal(cfg->token, "json-token");
  assert_blob_is_file(&cfg->ca, CA);
  assert_null(cfg->client_cert.data);
  assert_null(cfg->client_key.data);
  cp_kubeconfig_free(cfg);
}

static void files_relative_to_the_kubeconfig(void **state) {
  (void)state;
  cp_kubeconfig_t *cfg = load_ok(KDIR "/files.yaml", NULL);
  assert_string_equal(cfg->server, "https://kube.example.com:6443");
  assert_string_equal(cfg->namespace_, "default");
  assert_blob_is_file(&cfg->ca, CA);
  assert_blob_is_file(&cfg->client_cert, CERT);
  assert_blob_is_file(&cfg->client_key, KEY);
  cp_kubeconfig_free(cfg);

  /* A relative path in $KUBECONFIG resolves the same way, whatever the cwd. */
  char cwd[1024];
  assert_non_null(getcwd(cwd, sizeof cwd));
  assert_int_equal(chdir(CP_TEST_DATA), 0);
  cfg = load_ok("kubeconfig/files.yaml", NULL);
  assert_int_equal(chdir("/"), 0);
  assert_blob_is_file(&cfg->client_key, KEY);
  cp_kubeconfig_free(cfg);
  assert_int_equal(chdir(cwd), 0);

  /* With parse(), paths resolve against base_dir; a wrong base_dir names the file. */
  size_t len = 0;
  char *yaml = cp_test_read_file(KDIR "/files.yaml", &len);
  assert_non_null(yaml);
  char err[512] = "";
  cfg = NULL;
  assert_int_equal(cp_kubeconfig_parse(yaml, len, NULL, KDIR, &cfg, err, sizeof err), 0);
  assert_blob_is_file(&cfg->ca, CA);
  cp_kubeconfig_free(cfg);
  cfg = NULL;
  assert_int_equal(cp_kubeconfig_parse(yaml, len, NULL, "/nonexistent-dir", &cfg, err, sizeof err),
                   CP_EIO);
  assert_null(cfg);
  assert_mentions(err, "cannot read certificate-authority file \"/nonexistent-dir/pki/ca.crt\" "
                       "of cluster \"c\": No such file or directory");
  free(yaml);
}

static void tokens_and_contexts(void **state) {
  (void)state;
  cp_kubeconfig_t *cfg = load_ok(KDIR "/token.yaml", NULL);
  assert_string_equal(cfg->context, "static");
  assert_string_equal(cfg->server, "https://kube.example.com:6443"); /* https:// added */
  assert_string_equal(cfg->namespace_, "ops");
  assert_string_equal(cfg->token, "s3cr3t-t0ken");
  assert_null(cfg->token_file);
  assert_null(cfg->ca.data);
  cp_kubeconfig_free(cfg);

  cfg = load_ok(KDIR "/token.yaml", "file");
  assert_string_equal(cfg->context, "file");
  assert_string_equal(cfg->server, "http://localhost:8080");
  assert_true(cfg->insecure_skip_tls_verify);
  assert_null(cfg->token);
  assert_string_equal(cfg->token_file, KDIR "/token.txt");
  assert_string_equal(cfg->namespace_, "default");
  cp_kubeconfig_free(cfg);

  cfg = load_ok(KDIR "/token.yaml", "anonymous"); /* a context without a user */
  assert_null(cfg->token);
  assert_null(cfg->token_file);
  assert_null(cfg->client_cert.data);
  cp_kubeconfig_free(cfg);

  cp_kubeconfig_t *sentinel = (cp_kubeconfig_t *)&sentinel;
  cfg = sentinel;
  char err[512] = "";
  assert_int_equal(cp_kubeconfig_load(KDIR "/token.yaml", "nope", &cfg, err, sizeof err),
                   CP_ECONFIG);
  assert_ptr_equal(cfg, sentinel);
  assert_mentions(err, "context \"nope\" is not defined in kubeconfig " KDIR "/token.yaml");

  /* token and tokenFile together: both kept (the file wins in clients). A missing token
   * file is refused up front, naming the resolved path. */
  cfg = parse_ok("current-context: d\nclusters: [{name: c, cluster: {server: https://k}}]\n"
                 "users: [{name: u, user: {token: abc, tokenFile: token.txt}}]\n"
                 "contexts: [{name: d, context: {cluster: c, user: u}}]\n",
                 NULL);
  assert_string_equal(cfg->token, "abc");
  assert_string_equal(cfg->token_file, KDIR "/token.txt");
  cp_kubeconfig_free(cfg);
  user_fails("{tokenFile: missing-token}", CP_EIO,
             "cannot read token file \"" KDIR "/missing-token\" of user \"u\"");
}

static void merge_first_definition_wins(void **state) {
  (void)state;
  const char *list =
      "/nonexistent/config:" KDIR "/merge-1.yaml::" KDIR "/sub/merge-2.yaml:" KDIR "/merge-3.yaml";
  cp_kubeconfig_t *cfg = load_ok(list, NULL);
  /* merge-1 sets no current-context; merge-2 is the first that does. */
  assert_string_equal(cfg->context, "ctx-2");
  assert_string_equal(cfg->namespace_, "two"); /* ctx-2 from merge-2, not merge-3 */
  assert_string_equal(cfg->server, "https://first.example:6443");  /* cluster from merge-1 */
  assert_null(cfg->token);                                         /* user from merge-2 */
  assert_string_equal(cfg->token_file, KDIR "/sub/token-sub.txt"); /* relative to sub/ */
  cp_kubeconfig_free(cfg);

  cfg = load_ok(list, "ctx-3"); /* defined only in merge-3, yet its names resolve first-wins */
  assert_string_equal(cfg->server, "https://first.example:6443");
  assert_string_equal(cfg->token_file, KDIR "/sub/token-sub.txt");
  assert_null(cfg->token);
  cp_kubeconfig_free(cfg);

  cfg = load_ok(KDIR "/merge-1.yaml:" KDIR "/merge-3.yaml", NULL);
  assert_string_equal(cfg->context, "ctx-3");
  assert_string_equal(cfg->token, "must-not-win"); /* merge-2 is not in this list */
  cp_kubeconfig_free(cfg);

  cfg = load_ok(KDIR "/merge-3.yaml:" KDIR "/merge-1.yaml:" KDIR "/sub/merge-2.yaml", NULL);
  assert_string_equal(cfg->context, "ctx-3");
  assert_string_equal(cfg->server, "https://third.example:6443");
  cp_kubeconfig_free(cfg);

  char err[512] = "";
  cp_kubeconfig_t *sentinel = (cp_kubeconfig_t *)&sentinel;
  cfg = sentinel;
  assert_int_equal(cp_kubeconfig_load("/nonexistent/a:/nonexistent/b", NULL, &cfg, err, sizeof err),
                   CP_ECONFIG);
  assert_ptr_equal(cfg, sentinel);
  assert_mentions(err, "none of the kubeconfig files in \"/nonexistent/a:/nonexistent/b\" exists");
  assert_int_equal(cp_kubeconfig_load("", NULL, &cfg, err, sizeof err), CP_ECONFIG);
  assert_int_equal(cp_kubeconfig_load(KDIR, NULL, &cfg, err, sizeof err), CP_EIO);
  assert_mentions(err, "cannot read kubeconfig " KDIR ": Is a directory");
  assert_ptr_equal(cfg, sentinel);
}

static void merge_refuses_duplicates_within_one_file(void **state) {
  (void)state;
  parse_fails("clusters:\n- {name: a, cluster: {server: https://x}}\n"
              "- {name: a, cluster: {server: https://y}}\n",
              "x", CP_ECONFIG, "cluster \"a\" is defined more than once in the kubeconfig");
}

/* ---- refusals ---- */

static void context_selection_errors(void **state) {
  (void)state;
  parse_fails("apiVersion: v1\nkind: Config\nclusters: []\n", NULL, CP_ECONFIG,
              "no context was given and the kubeconfig sets no current-context");
  parse_fails("", NULL, CP_ECONFIG, "sets no current-context"); /* empty file */
  parse_fails("current-context: ghost\ncontexts: []\n", NULL, CP_ECONFIG,
              "current-context \"ghost\" is not defined in the kubeconfig");
  parse_fails("current-context: ghost\n", "dev", CP_ECONFIG,
              "context \"dev\" is not defined in the kubeconfig");
  parse_fails("contexts: [{name: dev, context: {user: u}}]\n", "dev", CP_ECONFIG,
              "context \"dev\" names no cluster");
  parse_fails("contexts: [{name: dev}]\n", "dev", CP_ECONFIG, "context \"dev\" names no cluster");
  parse_fails("contexts: [{name: dev, context: {cluster: c}}]\n", "dev", CP_ECONFIG,
              "context \"dev\" refers to cluster \"c\" which is not defined");
  parse_fails("clusters: [{name: c, cluster: {server: https://k}}]\n"
              "contexts: [{name: dev, context: {cluster: c, user: bob}}]\n",
              "dev", CP_ECONFIG, "context \"dev\" refers to user \"bob\" which is not defined");
}

static void cluster_errors(void **state) {
  (void)state;
  cluster_fails("{}", CP_ECONFIG, "cluster \"c\" has no server");
  cluster_fails("{server: ''}", CP_ECONFIG, "cluster \"c\" has no server");
  cluster_fails("{server: 6443}", CP_ECONFIG, "field \"server\" of cluster \"c\" must be a string");
  cluster_fails("{server: 'ftp://k'}", CP_ECONFIG,
                "cluster \"c\" has server \"ftp://k\", which is not an http(s) URL");
  cluster_fails("{server: 'https://'}", CP_ECONFIG, "not an http(s) URL");
  cluster_fails("{server: 'https://k 1'}", CP_ECONFIG, "not an http(s) URL");
  cluster_fails("{server: https://k, insecure-skip-tls-verify: 'yes'}", CP_ECONFIG,
                "field \"insecure-skip-tls-verify\" of cluster \"c\" must be true or false");
  cluster_fails("{server: https://k, certificate-authority: pki/ca.crt, "
                "certificate-authority-data: QUJD}",
                CP_ECONFIG,
                "cluster \"c\" sets both certificate-authority and certificate-authority-data");
  cluster_fails("{server: https://k, insecure-skip-tls-verify: true, "
                "certificate-authority-data: QUJD}",
                CP_ECONFIG, "sets insecure-skip-tls-verify together with a certificate authority");
  cluster_fails("{server: https://k, certificate-authority: pki}", CP_EIO,
                "cannot read certificate-authority file \"" KDIR "/pki\" of cluster \"c\": Is a "
                "directory");
  cluster_fails("{server: https://k, certificate-authority: /dev/null}", CP_EIO,
                "\"/dev/null\" of cluster \"c\": not a regular file");
}

static void user_errors(void **state) {
  (void)state;
  user_fails("{client-certificate: pki/client.crt}", CP_ECONFIG,
             "user \"u\" has a client certificate but no client key");
  user_fails("{client-key: pki/client.key}", CP_ECONFIG,
             "user \"u\" has a client key but no client certificate");
  user_fails("{client-certificate: pki/client.crt, client-certificate-data: QUJD, "
             "client-key: pki/client.key}",
             CP_ECONFIG, "sets both client-certificate and client-certificate-data");
  user_fails("{exec: {command: aws, apiVersion: client.authentication.k8s.io/v1}}", CP_ECONFIG,
             "user \"u\" uses an exec credential plugin, which is not supported");
  user_fails("{auth-provider: {name: oidc}}", CP_ECONFIG,
             "user \"u\" uses an auth-provider, which is not supported");
  user_fails("{username: admin, password: hunter2}", CP_ECONFIG,
             "uses basic authentication (username/password), which is not supported");
  user_fails("{token: abc, as: someone-else}", CP_ECONFIG,
             "uses impersonation (as), which is not supported");
  user_fails("{token: 12345}", CP_ECONFIG, "field \"token\" of user \"u\" must be a string");
}

static void invalid_base64(void **state) {
  (void)state;
  user_fails("{client-certificate-data: QUJD, client-key-data: 'not base64!'}", CP_ECONFIG,
             "field \"client-key-data\" of user \"u\" is not valid base64");
  user_fails("{client-certificate-data: 'QUJD-QUJD', client-key-data: QUJD}", CP_ECONFIG,
             "field \"client-certificate-data\" of user \"u\" is not valid base64");
  user_fails("{client-certificate-data: QUJDRA, client-key-data: QUJD}", CP_ECONFIG,
             "not valid base64"); /* missing padding */
  user_fails("{client-certificate-data: 'QQ==QUJD', client-key-data: QUJD}", CP_ECONFIG,
             "not valid base64"); /* data after padding */
  cluster_fails("{server: https://k, certificate-authority-data: '===='}", CP_ECONFIG,
                "field \"certificate-authority-data\" of cluster \"c\" is not valid base64");
  /* Line breaks inside the base64 (as `base64` wraps it) are fine. */
  cp_kubeconfig_t *cfg = parse_ok("current-context: d\n"
                                  "clusters: [{name: c, cluster: {server: https://k, "
                                  "certificate-authority-data: \"QUJD\\nREVG\\n\"}}]\n"
                                  "contexts: [{name: d, context: {cluster: c}}]\n",
                                  NULL);
  assert_int_equal(cfg->ca.len, 6);
  assert_string_equal(cfg->ca.data, "ABCDEF");
  cp_kubeconfig_free(cfg);
}

static void malformed_documents(void **state) {
  (void)state;
  parse_fails("clusters:\n  - name: a\n    cluster: {server: [\n", NULL, CP_EPARSE,
              "cannot parse the kubeconfig: YAML syntax error at line 4");
  parse_fails("- just\n- a list\n", NULL, CP_ECONFIG,
              "the kubeconfig is not a kubeconfig: its top level is not a mapping");
  parse_fails("clusters: {name: a}\n", NULL, CP_ECONFIG,
              "clusters in the kubeconfig must be a list");
  parse_fails("users: [{user: {token: x}}]\n", NULL, CP_ECONFIG,
              "entry 1 of users in the kubeconfig has no name");
  parse_fails("contexts: [{name: a, context: [x]}]\n", NULL, CP_ECONFIG,
              "context \"a\" in the kubeconfig has a \"context\" field that is not a mapping");
  parse_fails("current-context: [a]\n", NULL, CP_ECONFIG,
              "current-context in the kubeconfig "
              "must be a string");
  parse_fails("a: &x 1\nb: *x\n", NULL, CP_EPARSE, "aliases");

  /* Errors in a loaded file name that file. */
  char dir[64], path[128];
  make_tmpdir(dir, sizeof dir);
  snprintf(path, sizeof path, "%s/config", dir);
  write_str(dir, "config",
            "current-context: dev\n"
            "clusters: [{name: c, cluster: {server: https://k}}]\n"
            "contexts: [{name: dev, context: {cluster: c, user: bob}}]\n");
  char err[512] = "", want[256];
  cp_kubeconfig_t *cfg = NULL;
  assert_int_equal(cp_kubeconfig_load(path, NULL, &cfg, err, sizeof err), CP_ECONFIG);
  snprintf(want, sizeof want, "context \"dev\" in %s refers to user \"bob\" which is not defined",
           path);
  assert_mentions(err, want);
  write_str(dir, "config", "a: 1\n  b: 2\n");
  assert_int_equal(cp_kubeconfig_load(path, NULL, &cfg, err, sizeof err), CP_EPARSE);
  snprintf(want, sizeof want, "cannot parse kubeconfig %s: YAML syntax error at line 2", path);
  assert_mentions(err, want);
  assert_null(cfg);
  rm_tree(dir);
}

static void size_caps(void **state) {
  (void)state;
  char dir[64], path[128], err[512] = "", want[256];
  make_tmpdir(dir, sizeof dir);
  char *big = malloc(MIB + 1);
  assert_non_null(big);
  memset(big, '#', MIB + 1); /* one long comment */
  cp_kubeconfig_t *cfg = NULL;

  /* Exactly 1 MiB is read (and then has no context); one byte more is refused. */
  write_file(dir, "config", big, MIB);
  snprintf(path, sizeof path, "%s/config", dir);
  assert_int_equal(cp_kubeconfig_load(path, NULL, &cfg, err, sizeof err), CP_ECONFIG);
  assert_mentions(err, "sets no current-context");
  write_file(dir, "config", big, MIB + 1);
  assert_int_equal(cp_kubeconfig_load(path, NULL, &cfg, err, sizeof err), CP_ETOOBIG);
  snprintf(want, sizeof want, "kubeconfig %s is larger than 1 MiB", path);
  assert_mentions(err, want);
  assert_int_equal(cp_kubeconfig_parse(big, MIB + 1, NULL, dir, &cfg, err, sizeof err), CP_ETOOBIG);
  assert_mentions(err, "the kubeconfig is larger than 1 MiB");

  /* Files named by a kubeconfig have the same cap. */
  write_file(dir, "huge.crt", big, MIB + 1);
  const char *yaml = "current-context: d\n"
                     "clusters: [{name: c, cluster: {server: https://k, "
                     "certificate-authority: huge.crt}}]\n"
                     "contexts: [{name: d, context: {cluster: c}}]\n";
  assert_int_equal(cp_kubeconfig_parse(yaml, strlen(yaml), NULL, dir, &cfg, err, sizeof err),
                   CP_ETOOBIG);
  snprintf(want, sizeof want,
           "certificate-authority file \"%s/huge.crt\" of cluster \"c\" is larger than 1 MiB", dir);
  assert_mentions(err, want);
  assert_null(cfg);
  free(big);
  rm_tree(dir);
}

/* ---- in-cluster ---- */

static void set_service_env(const char *host, const char *port) {
  if (host)
    setenv("KUBERNETES_SERVICE_HOST", host, 1);
  else
    unsetenv("KUBERNETES_SERVICE_HOST");
  if (port)
    setenv("KUBERNETES_SERVICE_PORT", port, 1);
  else
    unsetenv("KUBERNETES_SERVICE_PORT");
}

static void make_sa_root(char *dir, size_t n) {
  make_tmpdir(dir, n);
  size_t len = 0;
  char *ca = cp_test_read_file(CA, &len);
  assert_non_null(ca);
  write_file(dir, "ca.crt", ca, len);
  free(ca);
  write_str(dir, "token", "sa-token");
  write_str(dir, "namespace", "team-b\n");
}

static void in_cluster(void **state) {
  (void)state;
  char dir[64], want[256], err[512] = "";
  make_sa_root(dir, sizeof dir);
  set_service_env("10.96.0.1", "443");
  cp_kubeconfig_t *cfg = NULL;
  assert_int_equal(cp_kubeconfig_in_cluster(dir, &cfg, err, sizeof err), 0);
  assert_string_equal(cfg->server, "https://10.96.0.1:443");
  assert_string_equal(cfg->context, "in-cluster");
  assert_string_equal(cfg->namespace_, "team-b");
  snprintf(want, sizeof want, "%s/token", dir);
  assert_string_equal(cfg->token_file, want);
  assert_null(cfg->token);
  assert_blob_is_file(&cfg->ca, CA);
  assert_null(cfg->client_cert.data);
  cp_kubeconfig_free(cfg);

  /* No namespace file: "default". */
  snprintf(want, sizeof want, "%s/namespace", dir);
  assert_int_equal(unlink(want), 0);
  cfg = NULL;
  assert_int_equal(cp_kubeconfig_in_cluster(dir, &cfg, err, sizeof err), 0);
  assert_string_equal(cfg->namespace_, "default");
  cp_kubeconfig_free(cfg);

  /* An empty or unreadable token is refused, naming the file. */
  cp_kubeconfig_t *sentinel = (cp_kubeconfig_t *)&sentinel;
  cfg = sentinel;
  write_str(dir, "token", "");
  assert_int_equal(cp_kubeconfig_in_cluster(dir, &cfg, err, sizeof err), CP_ECONFIG);
  snprintf(want, sizeof want, "the in-cluster service account token %s/token is empty", dir);
  assert_mentions(err, want);
  snprintf(want, sizeof want, "%s/token", dir);
  assert_int_equal(unlink(want), 0);
  assert_int_equal(cp_kubeconfig_in_cluster(dir, &cfg, err, sizeof err), CP_EIO);
  snprintf(want, sizeof want, "cannot read the in-cluster service account token %s/token", dir);
  assert_mentions(err, want);
  assert_ptr_equal(cfg, sentinel);
  rm_tree(dir);
}

static void in_cluster_ipv6_and_env_errors(void **state) {
  (void)state;
  char dir[64], err[512] = "";
  make_sa_root(dir, sizeof dir);
  cp_kubeconfig_t *sentinel = (cp_kubeconfig_t *)&sentinel, *cfg = NULL;
  set_service_env("fd00:10:96::1", "6443");
  assert_int_equal(cp_kubeconfig_in_cluster(dir, &cfg, err, sizeof err), 0);
  assert_string_equal(cfg->server, "https://[fd00:10:96::1]:6443");
  cp_kubeconfig_free(cfg);

  cfg = sentinel;
  set_service_env(NULL, "443");
  assert_int_equal(cp_kubeconfig_in_cluster(dir, &cfg, err, sizeof err), CP_ECONFIG);
  assert_mentions(err, "needs KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT");
  set_service_env("10.0.0.1", NULL);
  assert_int_equal(cp_kubeconfig_in_cluster(dir, &cfg, err, sizeof err), CP_ECONFIG);
  set_service_env("10.0.0.1", "https");
  assert_int_equal(cp_kubeconfig_in_cluster(dir, &cfg, err, sizeof err), CP_ECONFIG);
  assert_mentions(err, "KUBERNETES_SERVICE_PORT \"https\" is not a port number");
  set_service_env("10.0.0.1", "70000");
  assert_int_equal(cp_kubeconfig_in_cluster(dir, &cfg, err, sizeof err), CP_ECONFIG);
  set_service_env("evil.example/path", "443");
  assert_int_equal(cp_kubeconfig_in_cluster(dir, &cfg, err, sizeof err), CP_ECONFIG);
  assert_mentions(err, "is not a host name or IP address");
  assert_ptr_equal(cfg, sentinel);
  set_service_env(NULL, NULL);
  rm_tree(dir);
}

/* ---- source order ---- */

static void load_default_order(void **state) {
  (void)state;
  char home[64], kdir[128], err[512] = "";
  make_tmpdir(home, sizeof home);
  const char *old_home = getenv("HOME");
  char *saved_home = old_home ? strdup(old_home) : NULL;
  setenv("HOME", home, 1);
  set_service_env(NULL, NULL);
  unsetenv("KUBECONFIG");
  cp_kubeconfig_t *cfg = NULL;

  /* Nothing anywhere. */
  assert_int_equal(cp_kubeconfig_load_default(NULL, NULL, &cfg, err, sizeof err), CP_ECONFIG);
  assert_mentions(err, "no Kubernetes configuration found");
  assert_mentions(err, "/.kube/config does not exist");

  /* ~/.kube/config. */
  snprintf(kdir, sizeof kdir, "%s/.kube", home);
  assert_int_equal(mkdir(kdir, 0700), 0);
  write_str(kdir, "config",
            "current-context: home\n"
            "clusters: [{name: c, cluster: {server: https://home:6443}}]\n"
            "contexts: [{name: home, context: {cluster: c}}]\n");
  assert_int_equal(cp_kubeconfig_load_default(NULL, NULL, &cfg, err, sizeof err), 0);
  assert_string_equal(cfg->server, "https://home:6443");
  cp_kubeconfig_free(cfg);

  /* In a pod (service env set), the service account comes before ~/.kube/config. */
  char sa[64];
  make_sa_root(sa, sizeof sa);
  set_service_env("10.0.0.1", "443");
  cfg = NULL;
  int rc = cp_kubeconfig_load_default(NULL, NULL, &cfg, err, sizeof err);
  if (access("/var/run/secrets/kubernetes.io/serviceaccount/token", R_OK) != 0) {
    assert_int_equal(rc, CP_EIO);
    assert_mentions(err, "/var/run/secrets/kubernetes.io/serviceaccount/token");
  } else {
    cp_kubeconfig_free(cfg);
  }
  /* ...unless a context is asked for, which only a kubeconfig can have. */
  cfg = NULL;
  assert_int_equal(cp_kubeconfig_load_default(NULL, "home", &cfg, err, sizeof err), 0);
  assert_string_equal(cfg->server, "https://home:6443");
  cp_kubeconfig_free(cfg);

  /* $KUBECONFIG beats both; an explicit list beats $KUBECONFIG. */
  setenv("KUBECONFIG", KDIR "/token.yaml", 1);
  cfg = NULL;
  assert_int_equal(cp_kubeconfig_load_default(NULL, NULL, &cfg, err, sizeof err), 0);
  assert_string_equal(cfg->context, "static");
  cp_kubeconfig_free(cfg);
  cfg = NULL;
  assert_int_equal(cp_kubeconfig_load_default(KDIR "/inline.yaml", NULL, &cfg, err, sizeof err), 0);
  assert_string_equal(cfg->context, "inline");
  cp_kubeconfig_free(cfg);

  unsetenv("KUBECONFIG");
  set_service_env(NULL, NULL);
  if (saved_home)
    setenv("HOME", saved_home, 1);
  free(saved_home);
  rm_tree(sa);
  rm_tree(home);
}

static void free_and_arguments(void **state) {
  (void)state;
  cp_kubeconfig_free(NULL);
  char err[256] = "";
  cp_kubeconfig_t *cfg = NULL;
  assert_int_equal(cp_kubeconfig_parse("a: 1", 4, NULL, NULL, NULL, err, sizeof err), CP_EINVAL);
  assert_int_equal(cp_kubeconfig_parse(NULL, 4, NULL, NULL, &cfg, err, sizeof err), CP_EINVAL);
  assert_int_equal(cp_kubeconfig_load(NULL, NULL, &cfg, err, sizeof err), CP_EINVAL);
  assert_int_equal(cp_kubeconfig_in_cluster(NULL, NULL, err, sizeof err), CP_EINVAL);
  /* err is optional. */
  assert_int_equal(cp_kubeconfig_parse("", 0, NULL, NULL, &cfg, NULL, 0), CP_ECONFIG);
  assert_null(cfg);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(inline_data),
      cmocka_unit_test(json_kubeconfig),
      cmocka_unit_test(files_relative_to_the_kubeconfig),
      cmocka_unit_test(tokens_and_contexts),
      cmocka_unit_test(merge_first_definition_wins),
      cmocka_unit_test(merge_refuses_duplicates_within_one_file),
      cmocka_unit_test(context_selection_errors),
      cmocka_unit_test(cluster_errors),
      cmocka_unit_test(user_errors),
      cmocka_unit_test(invalid_base64),
      cmocka_unit_test(malformed_documents),
      cmocka_unit_test(size_caps),
      cmocka_unit_test(in_cluster),
      cmocka_unit_test(in_cluster_ipv6_and_env_errors),
      cmocka_unit_test(load_default_order),
      cmocka_unit_test(free_and_arguments),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
