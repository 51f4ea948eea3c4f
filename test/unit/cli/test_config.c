/* clawctl's config file: what parses, what is refused with which message, the XDG path,
 * the 0600 rule on load and save, and contexts added and removed. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli/config.h"
#include "core/error.h"

static const char good[] =
    "{\"current-context\":\"dev\",\"contexts\":["
    "{\"name\":\"dev\",\"server\":\"http://127.0.0.1:8080\",\"user\":\"alice\",\"token\":\"t1\"},"
    "{\"name\":\"prod@x\",\"server\":\"https://clawplane.example\",\"runtime-url\":"
    "\"https://alice.rt.example\"}]}";

static int parse(const char *s, cp_cli_config_t **cfg, char *err) {
  return cp_cli_config_parse(s, strlen(s), cfg, err, 256);
}

static void parses_contexts(void **state) {
  (void)state;
  cp_cli_config_t *cfg = NULL;
  char err[256] = "";
  assert_int_equal(parse(good, &cfg, err), 0);
  assert_string_equal(cfg->current, "dev");
  assert_int_equal(cfg->ncontexts, 2);
  cp_cli_context_t *dev = cp_cli_config_find(cfg, "dev");
  assert_non_null(dev);
  assert_string_equal(dev->server, "http://127.0.0.1:8080");
  assert_string_equal(dev->user, "alice");
  assert_string_equal(dev->token, "t1");
  assert_string_equal(cp_cli_config_find(cfg, "prod@x")->runtime_url, "https://alice.rt.example");
  assert_null(cp_cli_config_find(cfg, "nope"));
  cp_cli_config_free(cfg);
  assert_int_equal(parse("{}", &cfg, err), 0); /* an empty file is fine */
  assert_int_equal(cfg->ncontexts, 0);
  cp_cli_config_free(cfg);
}

static void refuses_with_the_reason(void **state) {
  (void)state;
  static const struct {
    const char *in, *msg;
  } bad[] = {
      {"[]", "the file is not a JSON object"},
      {"{\"contexts\":[", "not valid JSON"},
      {"{\"colour\":1}", "unknown key: colour"},
      {"{\"contexts\":[{\"name\":\"a\",\"server\":\"http://h\",\"tokn\":\"x\"}]}",
       "unknown key in a context: tokn"},
      {"{\"contexts\":[{\"name\":\"a\",\"server\":\"ftp://h\"}]}",
       "context has no http(s):// \"server\": a"},
      {"{\"contexts\":[{\"name\":\"a b\",\"server\":\"http://h\"}]}",
       "spaces or control characters in: name"},
      {"{\"contexts\":[{\"name\":\"a\",\"server\":\"http://h\"},{\"name\":\"a\",\"server\":"
       "\"http://i\"}]}",
       "two contexts named: a"},
      {"{\"current-context\":\"x\",\"contexts\":[]}", "\"current-context\" names no context: x"},
      {"{\"current-context\":\"a\",\"current-context\":\"a\"}", "duplicate key: current-context"},
      {"{\"contexts\":{}}", "\"contexts\" is not an array"},
      {"{\"contexts\":[{\"name\":\"a\",\"server\":\"http://h\",\"user\":7}]}",
       "not a string: user"},
  };
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    cp_cli_config_t *cfg = (cp_cli_config_t *)0x1;
    char err[256] = "";
    assert_int_equal(parse(bad[i].in, &cfg, err), CP_EPARSE);
    assert_string_equal(err, bad[i].msg);
    assert_ptr_equal(cfg, (cp_cli_config_t *)0x1); /* untouched on failure */
  }
}

static void refuses_oversized(void **state) {
  (void)state;
  char token[600];
  memset(token, 'x', sizeof token - 1);
  token[sizeof token - 1] = '\0';
  char in[1024];
  snprintf(in, sizeof in,
           "{\"contexts\":[{\"name\":\"a\",\"server\":\"http://h\",\"token\":\"%s\"}]}", token);
  cp_cli_config_t *cfg = NULL;
  char err[256];
  assert_int_equal(parse(in, &cfg, err), CP_EPARSE);
  assert_string_equal(err, "value too long: token");
  char *big = calloc(1, CP_CLI_CONFIG_MAX + 2);
  memset(big, ' ', CP_CLI_CONFIG_MAX + 1);
  assert_int_equal(cp_cli_config_parse(big, CP_CLI_CONFIG_MAX + 1, &cfg, err, sizeof err),
                   CP_ETOOBIG);
  free(big);
  /* 33 contexts */
  char *many = malloc(8192);
  size_t o = (size_t)snprintf(many, 8192, "{\"contexts\":[");
  for (int i = 0; i < 33; i++)
    o += (size_t)snprintf(many + o, 8192 - o, "%s{\"name\":\"c%d\",\"server\":\"http://h\"}",
                          i ? "," : "", i);
  snprintf(many + o, 8192 - o, "]}");
  assert_int_equal(parse(many, &cfg, err), CP_EPARSE);
  assert_string_equal(err, "more than 32 contexts");
  free(many);
}

static void path_follows_xdg(void **state) {
  (void)state;
  char p[256];
  setenv("HOME", "/home/u", 1);
  setenv("XDG_CONFIG_HOME", "/x/cfg", 1);
  assert_int_equal(cp_cli_config_path(p, sizeof p), 0);
  assert_string_equal(p, "/x/cfg/clawctl/config");
  setenv("XDG_CONFIG_HOME", "relative", 1); /* the spec says ignore a relative one */
  assert_int_equal(cp_cli_config_path(p, sizeof p), 0);
  assert_string_equal(p, "/home/u/.config/clawctl/config");
  unsetenv("XDG_CONFIG_HOME");
  assert_int_equal(cp_cli_config_path(p, sizeof p), 0);
  assert_string_equal(p, "/home/u/.config/clawctl/config");
  assert_int_equal(cp_cli_config_path(p, 10), CP_ETOOBIG);
  unsetenv("HOME");
  assert_int_equal(cp_cli_config_path(p, sizeof p), CP_ECONFIG);
}

static void save_then_load_keeps_0600(void **state) {
  (void)state;
  char dir[] = "/tmp/cp-cli-config-XXXXXX";
  assert_non_null(mkdtemp(dir));
  char path[256];
  snprintf(path, sizeof path, "%s/sub/clawctl/config", dir);
  char err[512] = "";
  cp_cli_config_t *cfg = NULL, *missing = NULL, *back = NULL;
  assert_int_equal(cp_cli_config_load(path, &missing, err, sizeof err), 0); /* absent: empty */
  assert_int_equal(missing->ncontexts, 0);
  cp_cli_config_free(missing);

  assert_int_equal(parse(good, &cfg, err), 0);
  assert_int_equal(cp_cli_config_save(cfg, path, err, sizeof err), 0);
  struct stat st;
  assert_int_equal(stat(path, &st), 0);
  assert_int_equal(st.st_mode & 0777, 0600);
  char sub[300];
  snprintf(sub, sizeof sub, "%s/sub/clawctl", dir);
  assert_int_equal(stat(sub, &st), 0);
  assert_int_equal(st.st_mode & 0777, 0700);
  assert_int_equal(cp_cli_config_load(path, &back, err, sizeof err), 0);
  assert_string_equal(back->current, "dev");
  assert_string_equal(cp_cli_config_find(back, "dev")->token, "t1");
  cp_cli_config_free(back);

  chmod(path, 0644);
  back = NULL;
  assert_int_equal(cp_cli_config_load(path, &back, err, sizeof err), CP_ECONFIG);
  assert_null(back);
  assert_non_null(strstr(err, "is accessible by others (mode 0644)"));
  assert_non_null(strstr(err, "chmod 600"));

  char cmd[400];
  snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
  assert_int_equal(system(cmd), 0);
  cp_cli_config_free(cfg);
}

static void upsert_and_remove(void **state) {
  (void)state;
  cp_cli_config_t *cfg = NULL;
  char err[256];
  assert_int_equal(parse(good, &cfg, err), 0);
  assert_null(cp_cli_config_upsert(cfg, "bad name"));
  cp_cli_context_t *c = cp_cli_config_upsert(cfg, "new");
  assert_non_null(c);
  assert_int_equal(cfg->ncontexts, 3);
  snprintf(c->server, sizeof c->server, "http://new.example");
  assert_ptr_equal(cp_cli_config_upsert(cfg, "new"), c);
  assert_int_equal(cp_cli_config_remove(cfg, "dev"), 0);
  assert_string_equal(cfg->current, ""); /* it was current */
  assert_int_equal(cfg->ncontexts, 2);
  assert_string_equal(cfg->contexts[0].name, "prod@x");
  assert_int_equal(cp_cli_config_remove(cfg, "dev"), CP_ENOTFOUND);
  /* a dump parses back to the same contexts */
  char *s = cp_cli_config_dump(cfg);
  cp_cli_config_t *back = NULL;
  assert_int_equal(parse(s, &back, err), 0);
  assert_int_equal(back->ncontexts, 2);
  assert_string_equal(back->contexts[1].name, "new");
  free(s);
  cp_cli_config_free(back);
  cp_cli_config_free(cfg);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(parses_contexts),           cmocka_unit_test(refuses_with_the_reason),
      cmocka_unit_test(refuses_oversized),         cmocka_unit_test(path_follows_xdg),
      cmocka_unit_test(save_then_load_keeps_0600), cmocka_unit_test(upsert_and_remove),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
