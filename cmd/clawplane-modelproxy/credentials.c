/* Runtime credentials: an informer on the runtimes' Secrets (label
 * app.kubernetes.io/managed-by=clawplane, name <runtime>-credentials) mirrored into the
 * credential table, plus an optional static file for running without Kubernetes
 * (development and benchmarks). The informer's handlers run on its thread and only touch
 * the thread-safe table; a deleted Secret removes its token at once. Token bytes are wiped
 * from the stack after hashing.
 */
#include "mp.h"

#include "core/error.h"
#include "log/log.h"

#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SECRET_SUFFIX "-credentials"

static const cp_gvr_t SECRETS = {"", "v1", "secrets", true};

static void apply_secret(mp_app_t *a, cp_obj_t *obj) {
  cp_mp_identity_t id;
  char token[CP_MP_TOKEN_MAX + 1];
  size_t len = 0;
  int rc = cp_mp_auth_from_secret(obj->json, token, &len, &id);
  size_t rn = rc == 0 ? strlen(id.runtime) : 0;
  size_t nn = strlen(obj->name);
  if (rc == 0 && (nn != rn + strlen(SECRET_SUFFIX) || strncmp(obj->name, id.runtime, rn) != 0 ||
                  strcmp(obj->name + rn, SECRET_SUFFIX) != 0))
    rc = CP_EINVAL; /* some other managed Secret */
  if (rc == 0)
    rc = cp_mp_auth_put(a->auth, obj->key, token, len, &id);
  OPENSSL_cleanse(token, sizeof token);
  if (rc != 0)
    cp_mp_auth_del(a->auth, obj->key);
  if (rc != 0 && strstr(obj->name, SECRET_SUFFIX))
    cp_log_warn("runtime credentials Secret not usable", "namespace", obj->namespace_, "name",
                obj->name, "resourceVersion", obj->resource_version, "error", cp_strerror(rc),
                NULL);
  cp_gauge_set(a->m.credentials, NULL, (double)cp_mp_auth_len(a->auth));
}

static void on_add(cp_obj_t *obj, void *ud) {
  apply_secret(ud, obj);
}

static void on_update(cp_obj_t *old, cp_obj_t *obj, void *ud) {
  (void)old;
  apply_secret(ud, obj);
}

static void on_delete(cp_obj_t *obj, void *ud) {
  mp_app_t *a = ud;
  cp_mp_auth_del(a->auth, obj->key);
  cp_gauge_set(a->m.credentials, NULL, (double)cp_mp_auth_len(a->auth));
  cp_log_info("runtime credentials removed", "namespace", obj->namespace_, "name", obj->name, NULL);
}

static void on_error(const char *what, int rc, const cp_status_t *st, void *ud) {
  (void)ud;
  char code[16];
  snprintf(code, sizeof code, "%ld", st ? st->http_code : 0L);
  cp_log_warn("watching runtime Secrets failed; retrying", "what", what, "error", cp_strerror(rc),
              "code", code, "reason", st ? st->reason : NULL, "message", st ? st->message : NULL,
              NULL);
}

/* Lines "token user runtime [namespace]"; '#' starts a comment. */
static int load_tokens_file(mp_app_t *a) {
  FILE *f = fopen(a->tokens_file, "r");
  if (!f) {
    cp_log_error("cannot open --tokens-file", "path", a->tokens_file, NULL);
    return CP_EIO;
  }
  char line[2048];
  int rc = 0, lineno = 0;
  while (rc == 0 && fgets(line, sizeof line, f)) {
    lineno++;
    char *save = NULL, *tok = strtok_r(line, " \t\r\n", &save);
    if (!tok || tok[0] == '#')
      continue;
    char *user = strtok_r(NULL, " \t\r\n", &save), *rt = strtok_r(NULL, " \t\r\n", &save);
    char *ns = strtok_r(NULL, " \t\r\n", &save);
    cp_mp_identity_t id = {0};
    if (!user || !rt || strlen(user) >= sizeof id.user || strlen(rt) >= sizeof id.runtime ||
        (ns && strlen(ns) >= sizeof id.namespace_)) {
      rc = CP_ECONFIG;
      break;
    }
    memcpy(id.user, user, strlen(user) + 1);
    memcpy(id.runtime, rt, strlen(rt) + 1);
    snprintf(id.namespace_, sizeof id.namespace_, "%s", ns ? ns : "");
    char key[32];
    snprintf(key, sizeof key, "file:%d", lineno);
    rc = cp_mp_auth_put(a->auth, key, tok, strlen(tok), &id);
  }
  OPENSSL_cleanse(line, sizeof line);
  fclose(f);
  if (rc != 0) {
    char ln[16];
    snprintf(ln, sizeof ln, "%d", lineno);
    cp_log_error("bad --tokens-file line: want \"token user runtime [namespace]\"", "path",
                 a->tokens_file, "line", ln, NULL);
  }
  return rc;
}

int cp__mp_creds_start(mp_app_t *a) {
  int rc = cp_mp_auth_new(&a->auth);
  if (rc == 0 && a->tokens_file)
    rc = load_tokens_file(a);
  if (rc != 0 || !a->use_kube)
    return rc;
  cp_informer_opts_t io = {.gvr = SECRETS,
                           .namespace_ = a->watch_ns,
                           .label_selector = "app.kubernetes.io/managed-by=clawplane"};
  cp_informer_handlers_t h = {.on_add = on_add,
                              .on_update = on_update,
                              .on_delete = on_delete,
                              .on_error = on_error,
                              .ud = a};
  cp_kube_client_opts_t co = {.user_agent = "clawplane-modelproxy/0.1", .metrics = a->reg};
  rc = cp_informer_new(a->kcfg, &co, &io, &h, &a->secrets);
  if (rc == 0)
    rc = cp_informer_start(a->secrets);
  return rc;
}

int cp__mp_creds_ready(mp_app_t *a) {
  return !a->use_kube || (a->secrets && cp_informer_synced(a->secrets));
}

void cp__mp_creds_stop(mp_app_t *a) {
  cp_informer_free(a->secrets);
  a->secrets = NULL;
}
