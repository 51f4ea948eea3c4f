/* Kubeconfig loading: files to cJSON trees to one flat cp_kubeconfig_t.
 *
 * Each kubeconfig file becomes a "source": its cJSON tree (via lib/yaml), the directory
 * its relative paths resolve against, and its path for messages. Sources are checked for
 * shape when loaded (lists of uniquely named entries, as client-go's conversion demands)
 * and never merged into a new tree: a lookup walks the sources in order and takes the
 * first that defines the name, which is exactly kubectl's "first file wins" rule and
 * keeps each entry tied to the file (and directory) that defined it. Only the selected
 * context, cluster and user are then read field by field; kubectl's own ConfirmUsable
 * checks decide what is an error (CA file plus CA data, CA plus insecure, cert without
 * key, ...). Unknown fields are ignored as kubectl ignores them.
 *
 * Secrets: file contents and decoded *-data are kept only in the result; every temporary
 * copy (file buffers, decoded base64, the cJSON trees holding the base64 text) is wiped
 * with OPENSSL_cleanse before it is freed. Nothing is logged.
 */
#include "kube/config.h"
#include "core/error.h"
#include "yaml/yaml.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#define KCFG_MAX_BYTES ((size_t)1 << 20) /* per kubeconfig and per file it names */
#define KCFG_SA_ROOT "/var/run/secrets/kubernetes.io/serviceaccount"

typedef struct src_s {
  cJSON *root; /* owned; a JSON null (empty file) counts as an empty kubeconfig */
  char *dir;   /* owned; relative paths resolve against it; NULL means the cwd */
  char *path;  /* owned; the file, or NULL for cp_kubeconfig_parse */
} src_t;

typedef struct entry_s {
  const char *kind;  /* "cluster", "user" or "context" */
  const char *name;  /* borrowed from the tree */
  const cJSON *body; /* the cluster/user/context mapping, or NULL when empty */
  const src_t *src;
} entry_t;

/* The three named lists of a kubeconfig: list key, body key (also the entry kind). */
enum { L_CLUSTERS, L_USERS, L_CONTEXTS };
static const char *const LIST_KEY[] = {"clusters", "users", "contexts"};
static const char *const BODY_KEY[] = {"cluster", "user", "context"};

/* Message fragments: `ENTRY_FMT` renders as `user "bob" in /home/me/.kube/config`, and
 * `SRC_FMT` as `kubeconfig /home/me/.kube/config` (or `the kubeconfig` for parse()). */
#define WHERE_PATH(s) ((s)->path ? (s)->path : "")
#define ENTRY_FMT "%s \"%s\"%s%s"
#define ENTRY_ARGS(e) (e)->kind, (e)->name, (e)->src->path ? " in " : "", WHERE_PATH((e)->src)
#define SRC_FMT "%s%s"
#define LABEL_ARGS(label) (label) ? "kubeconfig " : "the kubeconfig", (label) ? (label) : ""

__attribute__((format(printf, 3, 4))) static void seterr(char *err, size_t errlen, const char *fmt,
                                                         ...) {
  if (err && errlen > 0) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
  }
}

static void free_secret(char *p, size_t len) {
  if (p) {
    OPENSSL_cleanse(p, len);
    free(p);
  }
}

static void free_secret_str(char *p) {
  if (p)
    free_secret(p, strlen(p));
}

static void wipe_json(cJSON *j) {
  for (; j; j = j->next) {
    if (j->valuestring)
      OPENSSL_cleanse(j->valuestring, strlen(j->valuestring));
    wipe_json(j->child);
  }
}

/* ---- files ---- */

/* Reads a whole file of at most cap bytes into a NUL-terminated heap buffer. Returns 0,
 * CP_EIO (*eno set; 0 means "not a regular file" when regular_only), CP_ETOOBIG or
 * CP_ENOMEM. Buffers are wiped before being freed since files may hold keys. */
static int read_file(const char *path, bool regular_only, size_t cap, char **out, size_t *outlen,
                     int *eno) {
  *eno = 0;
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    *eno = errno;
    return CP_EIO;
  }
  struct stat st;
  int rc = 0;
  char *buf = NULL;
  size_t len = 0, alloc;
  if (fstat(fd, &st) != 0) {
    *eno = errno;
    rc = CP_EIO;
    goto out;
  }
  if (S_ISDIR(st.st_mode) || (regular_only && !S_ISREG(st.st_mode))) {
    *eno = S_ISDIR(st.st_mode) ? EISDIR : 0;
    rc = CP_EIO;
    goto out;
  }
  if (S_ISREG(st.st_mode) && (size_t)st.st_size > cap) {
    rc = CP_ETOOBIG;
    goto out;
  }
  alloc = (S_ISREG(st.st_mode) ? (size_t)st.st_size : 4096) + 1;
  if (alloc > cap + 1)
    alloc = cap + 1;
  if (!(buf = malloc(alloc))) {
    rc = CP_ENOMEM;
    goto out;
  }
  for (;;) {
    if (len == alloc - 1) { /* full: probe for more, growing up to cap */
      if (len >= cap) {
        char probe;
        ssize_t r = read(fd, &probe, 1);
        if (r < 0 && errno == EINTR)
          continue;
        if (r == 0)
          break;
        if (r < 0) {
          *eno = errno;
          rc = CP_EIO;
        } else {
          OPENSSL_cleanse(&probe, 1);
          rc = CP_ETOOBIG;
        }
        goto out;
      }
      size_t grown = (alloc - 1) * 2 < cap ? (alloc - 1) * 2 + 1 : cap + 1;
      char *nb = malloc(grown);
      if (!nb) {
        rc = CP_ENOMEM;
        goto out;
      }
      memcpy(nb, buf, len);
      free_secret(buf, alloc);
      buf = nb;
      alloc = grown;
    }
    ssize_t r = read(fd, buf + len, alloc - 1 - len);
    if (r < 0 && errno == EINTR)
      continue;
    if (r < 0) {
      *eno = errno;
      rc = CP_EIO;
      goto out;
    }
    if (r == 0)
      break;
    len += (size_t)r;
  }
  buf[len] = '\0';
  *out = buf;
  *outlen = len;
  buf = NULL;
out:
  free_secret(buf, buf ? alloc : 0);
  close(fd);
  return rc;
}

static const char *eno_text(int eno, char *tmp, size_t n) {
  if (eno == 0)
    return "not a regular file";
  if (strerror_r(eno, tmp, n) != 0)
    snprintf(tmp, n, "error %d", eno);
  return tmp;
}

/* Joins dir and a path from the kubeconfig; absolute paths stay as they are. */
static char *resolve_path(const char *dir, const char *p) {
  if (p[0] == '/' || !dir || !*dir)
    return strdup(p);
  size_t dl = strlen(dir);
  const char *sep = dir[dl - 1] == '/' ? "" : "/";
  size_t n = dl + strlen(sep) + strlen(p) + 1;
  char *s = malloc(n);
  if (s)
    snprintf(s, n, "%s%s%s", dir, sep, p);
  return s;
}

/* The absolute directory holding file path (kubectl resolves against an absolute dir, so
 * a kept token_file stays valid if the process later changes directory). */
static char *dir_of(const char *path) {
  char cwd[PATH_MAX];
  char *abs = NULL;
  if (path[0] != '/' && getcwd(cwd, sizeof cwd))
    abs = resolve_path(cwd, path);
  else
    abs = strdup(path);
  if (!abs)
    return NULL;
  char *slash = strrchr(abs, '/');
  if (!slash) {
    free(abs);
    return strdup(".");
  }
  slash[slash == abs ? 1 : 0] = '\0';
  return abs;
}

/* ---- sources ---- */

static void src_free(src_t *s) {
  wipe_json(s->root);
  cJSON_Delete(s->root);
  free(s->dir);
  free(s->path);
  memset(s, 0, sizeof *s);
}

static int cmp_str(const void *a, const void *b) {
  return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Checks one named list: a list of mappings with unique non-empty names and a mapping
 * body (or none). */
static int check_list(const src_t *s, int which, char *err, size_t errlen) {
  const cJSON *list = cJSON_GetObjectItemCaseSensitive(s->root, LIST_KEY[which]);
  if (!list || cJSON_IsNull(list))
    return 0;
  if (!cJSON_IsArray(list)) {
    seterr(err, errlen, "%s in " SRC_FMT " must be a list", LIST_KEY[which], LABEL_ARGS(s->path));
    return CP_ECONFIG;
  }
  size_t n = (size_t)cJSON_GetArraySize(list), i = 0;
  const char **names = n ? calloc(n, sizeof *names) : NULL;
  if (n && !names)
    return CP_ENOMEM;
  int rc = 0;
  const cJSON *it;
  cJSON_ArrayForEach(it, list) {
    const cJSON *name = cJSON_GetObjectItemCaseSensitive(it, "name");
    if (!cJSON_IsObject(it) || !cJSON_IsString(name) || !*name->valuestring) {
      seterr(err, errlen, "entry %zu of %s in " SRC_FMT " has no name", i + 1, LIST_KEY[which],
             LABEL_ARGS(s->path));
      rc = CP_ECONFIG;
      goto out;
    }
    const cJSON *body = cJSON_GetObjectItemCaseSensitive(it, BODY_KEY[which]);
    if (body && !cJSON_IsNull(body) && !cJSON_IsObject(body)) {
      seterr(err, errlen, "%s \"%s\" in " SRC_FMT " has a \"%s\" field that is not a mapping",
             BODY_KEY[which], name->valuestring, LABEL_ARGS(s->path), BODY_KEY[which]);
      rc = CP_ECONFIG;
      goto out;
    }
    names[i++] = name->valuestring;
  }
  if (n > 1)
    qsort(names, n, sizeof *names, cmp_str);
  for (i = 1; i < n; i++) {
    if (strcmp(names[i - 1], names[i]) == 0) {
      seterr(err, errlen, "%s \"%s\" is defined more than once in " SRC_FMT, BODY_KEY[which],
             names[i], LABEL_ARGS(s->path));
      rc = CP_ECONFIG;
      goto out;
    }
  }
out:
  free(names);
  return rc;
}

/* Parses data into s->root and checks its shape. s->path and s->dir are already set. */
static int src_load(src_t *s, const char *data, size_t len, char *err, size_t errlen) {
  char why[256] = "";
  cJSON *root = NULL;
  int rc = cp_yaml_to_json(data, len, KCFG_MAX_BYTES, &root, why, sizeof why);
  if (rc == CP_ETOOBIG)
    seterr(err, errlen, SRC_FMT " is larger than 1 MiB", LABEL_ARGS(s->path));
  else if (rc)
    seterr(err, errlen, "cannot parse " SRC_FMT ": %s", LABEL_ARGS(s->path), why);
  if (rc)
    return rc;
  s->root = root;
  if (cJSON_IsNull(root))
    return 0;
  if (!cJSON_IsObject(root)) {
    seterr(err, errlen, SRC_FMT " is not a kubeconfig: its top level is not a mapping",
           LABEL_ARGS(s->path));
    return CP_ECONFIG;
  }
  const cJSON *cur = cJSON_GetObjectItemCaseSensitive(root, "current-context");
  if (cur && !cJSON_IsNull(cur) && !cJSON_IsString(cur)) {
    seterr(err, errlen, "current-context in " SRC_FMT " must be a string", LABEL_ARGS(s->path));
    return CP_ECONFIG;
  }
  for (int which = L_CLUSTERS; which <= L_CONTEXTS; which++)
    if ((rc = check_list(s, which, err, errlen)) != 0)
      return rc;
  return 0;
}

/* Finds the first definition of name in the sources, in order. */
static bool find_entry(const src_t *srcs, size_t n, int which, const char *name, entry_t *out) {
  for (size_t i = 0; i < n; i++) {
    const cJSON *it;
    cJSON_ArrayForEach(it, cJSON_GetObjectItemCaseSensitive(srcs[i].root, LIST_KEY[which])) {
      const cJSON *nm = cJSON_GetObjectItemCaseSensitive(it, "name");
      if (strcmp(nm->valuestring, name) != 0)
        continue;
      const cJSON *body = cJSON_GetObjectItemCaseSensitive(it, BODY_KEY[which]);
      out->kind = BODY_KEY[which];
      out->name = nm->valuestring;
      out->body = cJSON_IsObject(body) ? body : NULL;
      out->src = &srcs[i];
      return true;
    }
  }
  return false;
}

/* ---- fields of the selected entries ---- */

static const cJSON *field(const entry_t *e, const char *name) {
  const cJSON *v = e->body ? cJSON_GetObjectItemCaseSensitive(e->body, name) : NULL;
  return cJSON_IsNull(v) ? NULL : v;
}

/* *out is the string, or NULL when the field is absent, null or "". */
static int field_str(const entry_t *e, const char *name, const char **out, char *err,
                     size_t errlen) {
  const cJSON *v = field(e, name);
  *out = NULL;
  if (!v)
    return 0;
  if (!cJSON_IsString(v)) {
    seterr(err, errlen, "field \"%s\" of " ENTRY_FMT " must be a string", name, ENTRY_ARGS(e));
    return CP_ECONFIG;
  }
  if (*v->valuestring)
    *out = v->valuestring;
  return 0;
}

static int field_bool(const entry_t *e, const char *name, bool *out, char *err, size_t errlen) {
  const cJSON *v = field(e, name);
  *out = false;
  if (!v)
    return 0;
  if (!cJSON_IsBool(v)) {
    seterr(err, errlen, "field \"%s\" of " ENTRY_FMT " must be true or false", name, ENTRY_ARGS(e));
    return CP_ECONFIG;
  }
  *out = cJSON_IsTrue(v);
  return 0;
}

/* Decodes standard, padded base64 (line breaks and spaces allowed) with OpenSSL. The
 * alphabet is checked first because EVP_DecodeUpdate silently stops at '-'. */
static int b64_decode(const char *in, char **out, size_t *outlen) {
  static const char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
                                 "0123456789+/= \t\r\n";
  size_t len = strlen(in);
  if (len > INT_MAX || strspn(in, alphabet) != len)
    return CP_EPARSE;
  char *buf = malloc(len + 4); /* decoded bytes are at most 3/4 of the input */
  EVP_ENCODE_CTX *ctx = EVP_ENCODE_CTX_new();
  int rc = 0, n1 = 0, n2 = 0;
  if (!buf || !ctx) {
    rc = CP_ENOMEM;
    goto out;
  }
  EVP_DecodeInit(ctx);
  if (EVP_DecodeUpdate(ctx, (unsigned char *)buf, &n1, (const unsigned char *)in, (int)len) < 0 ||
      EVP_DecodeFinal(ctx, (unsigned char *)buf + n1, &n2) < 0 || n1 + n2 == 0) {
    rc = CP_EPARSE;
    goto out;
  }
  buf[n1 + n2] = '\0';
  *out = buf;
  *outlen = (size_t)(n1 + n2);
  buf = NULL;
out:
  free_secret(buf, buf ? len + 4 : 0);
  EVP_ENCODE_CTX_free(ctx);
  return rc;
}

/* Reads a file named by field `name` of e, resolved against e's directory. */
static int read_named_file(const entry_t *e, const char *name, const char *value, char **data,
                           size_t *len, char **path_out, char *err, size_t errlen) {
  char *path = resolve_path(e->src->dir, value);
  if (!path)
    return CP_ENOMEM;
  int eno = 0;
  int rc = read_file(path, true, KCFG_MAX_BYTES, data, len, &eno);
  char tmp[128];
  if (rc == CP_EIO)
    seterr(err, errlen, "cannot read %s file \"%s\" of " ENTRY_FMT ": %s", name, path,
           ENTRY_ARGS(e), eno_text(eno, tmp, sizeof tmp));
  else if (rc == CP_ETOOBIG)
    seterr(err, errlen, "%s file \"%s\" of " ENTRY_FMT " is larger than 1 MiB", name, path,
           ENTRY_ARGS(e));
  else if (rc == 0 && *len == 0) {
    seterr(err, errlen, "%s file \"%s\" of " ENTRY_FMT " is empty", name, path, ENTRY_ARGS(e));
    free(*data);
    *data = NULL;
    rc = CP_ECONFIG;
  }
  if (rc == 0 && path_out)
    *path_out = path;
  else
    free(path);
  return rc;
}

/* Fills blob from `file_field` (a path) or `data_field` (base64); both is an error, as in
 * kubectl. Leaves blob empty when neither is set. */
static int load_blob(const entry_t *e, const char *file_field, const char *data_field,
                     cp_blob_t *blob, char *err, size_t errlen) {
  const char *file, *b64;
  int rc;
  if ((rc = field_str(e, file_field, &file, err, errlen)) != 0 ||
      (rc = field_str(e, data_field, &b64, err, errlen)) != 0)
    return rc;
  if (file && b64) {
    seterr(err, errlen, ENTRY_FMT " sets both %s and %s; use one", ENTRY_ARGS(e), file_field,
           data_field);
    return CP_ECONFIG;
  }
  if (b64) {
    rc = b64_decode(b64, &blob->data, &blob->len);
    if (rc == CP_EPARSE) {
      seterr(err, errlen, "field \"%s\" of " ENTRY_FMT " is not valid base64", data_field,
             ENTRY_ARGS(e));
      return CP_ECONFIG;
    }
    return rc;
  }
  if (file)
    return read_named_file(e, file_field, file, &blob->data, &blob->len, NULL, err, errlen);
  return 0;
}

/* "https://host:port" with no trailing slash; a bare "host:port" gets https://, as kubectl
 * does. */
static int set_server(const entry_t *e, const char *s, char **out, char *err, size_t errlen) {
  const char *scheme = strstr(s, "://") ? "" : "https://";
  size_t n = strlen(s);
  while (n > 0 && s[n - 1] == '/')
    n--;
  bool ok = n > 0 && n < INT_MAX;
  for (size_t i = 0; ok && i < n; i++)
    ok = (unsigned char)s[i] > 0x20 && s[i] != 0x7f;
  if (ok && !*scheme) {
    size_t skip = strncasecmp(s, "https://", 8) == 0  ? 8
                  : strncasecmp(s, "http://", 7) == 0 ? 7
                                                      : 0;
    ok = skip && n > skip;
  }
  if (!ok) {
    seterr(err, errlen, ENTRY_FMT " has server \"%s\", which is not an http(s) URL", ENTRY_ARGS(e),
           s);
    return CP_ECONFIG;
  }
  size_t sz = strlen(scheme) + n + 1;
  if (!(*out = malloc(sz)))
    return CP_ENOMEM;
  snprintf(*out, sz, "%s%.*s", scheme, (int)n, s);
  return 0;
}

static int use_cluster(const entry_t *e, cp_kubeconfig_t *cfg, char *err, size_t errlen) {
  const char *server, *sni;
  int rc;
  if ((rc = field_str(e, "server", &server, err, errlen)) != 0 ||
      (rc = field_str(e, "tls-server-name", &sni, err, errlen)) != 0 ||
      (rc = field_bool(e, "insecure-skip-tls-verify", &cfg->insecure_skip_tls_verify, err,
                       errlen)) != 0)
    return rc;
  if (!server) {
    seterr(err, errlen, ENTRY_FMT " has no server", ENTRY_ARGS(e));
    return CP_ECONFIG;
  }
  if ((rc = set_server(e, server, &cfg->server, err, errlen)) != 0)
    return rc;
  if (sni && !(cfg->tls_server_name = strdup(sni)))
    return CP_ENOMEM;
  if ((rc = load_blob(e, "certificate-authority", "certificate-authority-data", &cfg->ca, err,
                      errlen)) != 0)
    return rc;
  if (cfg->insecure_skip_tls_verify && cfg->ca.data) {
    seterr(err, errlen,
           ENTRY_FMT " sets insecure-skip-tls-verify together with a certificate authority, "
                     "which is not allowed",
           ENTRY_ARGS(e));
    return CP_ECONFIG;
  }
  return 0;
}

/* Reads a token file once to prove it is usable; the contents are wiped, not kept. */
static int check_token_file(const entry_t *e, const char *value, char **path_out, char *err,
                            size_t errlen) {
  char *data = NULL;
  size_t len = 0;
  int rc = read_named_file(e, "token", value, &data, &len, path_out, err, errlen);
  free_secret(data, len);
  return rc;
}

static int use_user(const entry_t *e, cp_kubeconfig_t *cfg, char *err, size_t errlen) {
  static const struct {
    const char *field, *what;
  } unsupported[] = {
      {"exec", "an exec credential plugin"},
      {"auth-provider", "an auth-provider"},
      {"username", "basic authentication (username/password)"},
      {"password", "basic authentication (username/password)"},
      {"as", "impersonation (as)"},
      {"as-uid", "impersonation (as-uid)"},
      {"as-groups", "impersonation (as-groups)"},
      {"as-user-extra", "impersonation (as-user-extra)"},
  };
  for (size_t i = 0; i < sizeof unsupported / sizeof unsupported[0]; i++) {
    const cJSON *v = field(e, unsupported[i].field);
    if (v && !(cJSON_IsString(v) && !*v->valuestring)) {
      seterr(err, errlen,
             ENTRY_FMT " uses %s, which is not supported; use a client certificate or a bearer "
                       "token",
             ENTRY_ARGS(e), unsupported[i].what);
      return CP_ECONFIG;
    }
  }
  const char *token, *token_file;
  int rc;
  if ((rc = field_str(e, "token", &token, err, errlen)) != 0 ||
      (rc = field_str(e, "tokenFile", &token_file, err, errlen)) != 0)
    return rc;
  if (token && !(cfg->token = strdup(token)))
    return CP_ENOMEM;
  if (token_file && (rc = check_token_file(e, token_file, &cfg->token_file, err, errlen)) != 0)
    return rc;
  if ((rc = load_blob(e, "client-certificate", "client-certificate-data", &cfg->client_cert, err,
                      errlen)) != 0 ||
      (rc = load_blob(e, "client-key", "client-key-data", &cfg->client_key, err, errlen)) != 0)
    return rc;
  if (!cfg->client_cert.data != !cfg->client_key.data) {
    seterr(err, errlen, ENTRY_FMT " has a client %s but no client %s", ENTRY_ARGS(e),
           cfg->client_cert.data ? "certificate" : "key",
           cfg->client_cert.data ? "key" : "certificate");
    return CP_ECONFIG;
  }
  return 0;
}

/* Picks the context (explicit, else the first current-context set) and builds the config.
 * label names the whole set in messages (NULL: "the kubeconfig"). */
static int select_config(const src_t *srcs, size_t n, const char *context, const char *label,
                         cp_kubeconfig_t **out, char *err, size_t errlen) {
  const char *name = context && *context ? context : NULL;
  for (size_t i = 0; !name && i < n; i++) {
    const cJSON *cur = cJSON_GetObjectItemCaseSensitive(srcs[i].root, "current-context");
    if (cJSON_IsString(cur) && *cur->valuestring)
      name = cur->valuestring;
  }
  if (!name) {
    seterr(err, errlen, "no context was given and " SRC_FMT " sets no current-context",
           LABEL_ARGS(label));
    return CP_ECONFIG;
  }
  entry_t ctx, cluster, user;
  if (!find_entry(srcs, n, L_CONTEXTS, name, &ctx)) {
    seterr(err, errlen, "%s \"%s\" is not defined in " SRC_FMT,
           name == context ? "context" : "current-context", name, LABEL_ARGS(label));
    return CP_ECONFIG;
  }
  const char *cluster_name, *user_name, *ns;
  int rc;
  if ((rc = field_str(&ctx, "cluster", &cluster_name, err, errlen)) != 0 ||
      (rc = field_str(&ctx, "user", &user_name, err, errlen)) != 0 ||
      (rc = field_str(&ctx, "namespace", &ns, err, errlen)) != 0)
    return rc;
  if (!cluster_name) {
    seterr(err, errlen, ENTRY_FMT " names no cluster", ENTRY_ARGS(&ctx));
    return CP_ECONFIG;
  }
  if (!find_entry(srcs, n, L_CLUSTERS, cluster_name, &cluster)) {
    seterr(err, errlen, ENTRY_FMT " refers to cluster \"%s\" which is not defined",
           ENTRY_ARGS(&ctx), cluster_name);
    return CP_ECONFIG;
  }
  if (user_name && !find_entry(srcs, n, L_USERS, user_name, &user)) {
    seterr(err, errlen, ENTRY_FMT " refers to user \"%s\" which is not defined", ENTRY_ARGS(&ctx),
           user_name);
    return CP_ECONFIG;
  }
  cp_kubeconfig_t *cfg = calloc(1, sizeof *cfg);
  if (!cfg)
    return CP_ENOMEM;
  rc = CP_ENOMEM;
  if (!(cfg->context = strdup(name)) || !(cfg->namespace_ = strdup(ns ? ns : "default")))
    goto fail;
  if ((rc = use_cluster(&cluster, cfg, err, errlen)) != 0)
    goto fail;
  if (user_name && (rc = use_user(&user, cfg, err, errlen)) != 0)
    goto fail;
  *out = cfg;
  return 0;
fail:
  cp_kubeconfig_free(cfg);
  return rc;
}

static int nomem(int rc, char *err, size_t errlen) {
  if (rc == CP_ENOMEM)
    seterr(err, errlen, "out of memory while loading the Kubernetes configuration");
  return rc;
}

/* ---- public API ---- */

int cp_kubeconfig_parse(const char *data, size_t len, const char *context, const char *base_dir,
                        cp_kubeconfig_t **out, char *err, size_t errlen) {
  if ((!data && len) || !out) {
    seterr(err, errlen, "cp_kubeconfig_parse was called without input or output");
    return CP_EINVAL;
  }
  src_t s = {0};
  int rc = CP_ENOMEM;
  if (base_dir && !(s.dir = strdup(base_dir)))
    goto out;
  if ((rc = src_load(&s, data, len, err, errlen)) != 0)
    goto out;
  rc = select_config(&s, 1, context, NULL, out, err, errlen);
out:
  src_free(&s);
  return nomem(rc, err, errlen);
}

int cp_kubeconfig_load(const char *paths, const char *context, cp_kubeconfig_t **out, char *err,
                       size_t errlen) {
  if (!paths || !out) {
    seterr(err, errlen, "cp_kubeconfig_load was called without paths or output");
    return CP_EINVAL;
  }
  src_t *srcs = NULL;
  size_t n = 0, cap = 0;
  char *save = NULL, *list = strdup(paths);
  int rc = CP_ENOMEM;
  if (!list)
    goto out;
  for (char *p = strtok_r(list, ":", &save); p; p = strtok_r(NULL, ":", &save)) {
    char *data = NULL, tmp[128];
    size_t len = 0;
    int eno = 0;
    rc = read_file(p, false, KCFG_MAX_BYTES, &data, &len, &eno);
    if (rc == CP_EIO && (eno == ENOENT || eno == ENOTDIR))
      continue; /* missing files in a list are skipped, as kubectl does */
    if (rc == CP_ETOOBIG)
      seterr(err, errlen, "kubeconfig %s is larger than 1 MiB", p);
    else if (rc == CP_EIO)
      seterr(err, errlen, "cannot read kubeconfig %s: %s", p, eno_text(eno, tmp, sizeof tmp));
    if (rc)
      goto out;
    if (n == cap) {
      size_t ncap = cap ? cap * 2 : 4;
      src_t *grown = realloc(srcs, ncap * sizeof *grown);
      if (!grown) {
        free_secret(data, len);
        rc = CP_ENOMEM;
        goto out;
      }
      srcs = grown;
      cap = ncap;
    }
    src_t *s = &srcs[n++];
    memset(s, 0, sizeof *s);
    rc = CP_ENOMEM;
    if ((s->path = strdup(p)) && (s->dir = dir_of(p)))
      rc = src_load(s, data, len, err, errlen);
    free_secret(data, len);
    if (rc)
      goto out;
  }
  if (n == 0) {
    seterr(err, errlen, "none of the kubeconfig files in \"%s\" exists", paths);
    rc = CP_ECONFIG;
    goto out;
  }
  rc = select_config(srcs, n, context, paths, out, err, errlen);
out:
  for (size_t i = 0; i < n; i++)
    src_free(&srcs[i]);
  free(srcs);
  free(list);
  return nomem(rc, err, errlen);
}

/* Reads root/name into *data. A missing file with optional set is not an error: *data
 * stays NULL. Other failures return CP_EIO/CP_ETOOBIG with a message naming the file. */
static int read_sa_file(const char *root, const char *name, const char *what, bool optional,
                        char **data, size_t *len, char *err, size_t errlen) {
  char *path = resolve_path(root, name);
  if (!path)
    return CP_ENOMEM;
  int eno = 0;
  char tmp[128];
  int rc = read_file(path, true, KCFG_MAX_BYTES, data, len, &eno);
  if (rc == CP_EIO && optional && eno == ENOENT)
    rc = 0;
  else if (rc == CP_EIO)
    seterr(err, errlen, "cannot read the in-cluster %s %s: %s", what, path,
           eno_text(eno, tmp, sizeof tmp));
  else if (rc == CP_ETOOBIG)
    seterr(err, errlen, "the in-cluster %s %s is larger than 1 MiB", what, path);
  else if (rc == 0 && *len == 0 && !optional) {
    seterr(err, errlen, "the in-cluster %s %s is empty", what, path);
    free(*data);
    *data = NULL;
    rc = CP_ECONFIG;
  }
  free(path);
  return rc;
}

static bool valid_port(const char *s) {
  char *end = NULL;
  errno = 0;
  long v = strtol(s, &end, 10);
  return errno == 0 && end != s && *end == '\0' && s[0] >= '0' && s[0] <= '9' && v >= 1 &&
         v <= 65535;
}

int cp_kubeconfig_in_cluster(const char *root, cp_kubeconfig_t **out, char *err, size_t errlen) {
  if (!out) {
    seterr(err, errlen, "cp_kubeconfig_in_cluster was called without output");
    return CP_EINVAL;
  }
  const char *host = getenv("KUBERNETES_SERVICE_HOST");
  const char *port = getenv("KUBERNETES_SERVICE_PORT");
  if (!host || !*host || !port || !*port) {
    seterr(err, errlen,
           "in-cluster configuration needs KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT "
           "to be set");
    return CP_ECONFIG;
  }
  if (strcspn(host, "/@?#[] \t\r\n") != strlen(host)) {
    seterr(err, errlen, "KUBERNETES_SERVICE_HOST \"%s\" is not a host name or IP address", host);
    return CP_ECONFIG;
  }
  if (!valid_port(port)) {
    seterr(err, errlen, "KUBERNETES_SERVICE_PORT \"%s\" is not a port number", port);
    return CP_ECONFIG;
  }
  if (!root)
    root = KCFG_SA_ROOT;
  char *data = NULL, *ns = NULL;
  size_t len = 0, nslen = 0;
  int rc = CP_ENOMEM;
  cp_kubeconfig_t *cfg = calloc(1, sizeof *cfg);
  if (!cfg)
    goto out;
  bool v6 = strchr(host, ':') != NULL;
  size_t sz = strlen(host) + strlen(port) + sizeof "https://[]:";
  if (!(cfg->server = malloc(sz)) || !(cfg->context = strdup("in-cluster")))
    goto out;
  snprintf(cfg->server, sz, "https://%s%s%s:%s", v6 ? "[" : "", host, v6 ? "]" : "", port);

  /* The token is re-read by clients when it rotates: keep the path, check it reads now. */
  if ((rc = read_sa_file(root, "token", "service account token", false, &data, &len, err,
                         errlen)) != 0)
    goto out;
  rc = CP_ENOMEM;
  if (!(cfg->token_file = resolve_path(root, "token")))
    goto out;
  if ((rc = read_sa_file(root, "ca.crt", "CA certificate", false, &cfg->ca.data, &cfg->ca.len, err,
                         errlen)) != 0 ||
      (rc = read_sa_file(root, "namespace", "namespace file", true, &ns, &nslen, err, errlen)) != 0)
    goto out;
  while (nslen > 0 && strchr(" \t\r\n", ns[nslen - 1]) && ns[nslen - 1])
    ns[--nslen] = '\0';
  if (nslen > 0) {
    cfg->namespace_ = ns;
    ns = NULL;
  } else if (!(cfg->namespace_ = strdup("default"))) {
    rc = CP_ENOMEM;
    goto out;
  }
  *out = cfg;
  cfg = NULL;
out:
  free_secret(data, len);
  free(ns);
  cp_kubeconfig_free(cfg);
  return nomem(rc, err, errlen);
}

int cp_kubeconfig_load_default(const char *paths, const char *context, cp_kubeconfig_t **out,
                               char *err, size_t errlen) {
  if (paths && *paths)
    return cp_kubeconfig_load(paths, context, out, err, errlen);
  const char *env = getenv("KUBECONFIG");
  if (env && *env)
    return cp_kubeconfig_load(env, context, out, err, errlen);
  const char *host = getenv("KUBERNETES_SERVICE_HOST");
  if (!context && host && *host)
    return cp_kubeconfig_in_cluster(NULL, out, err, errlen);
  const char *home = getenv("HOME");
  if (!home || !*home) {
    seterr(err, errlen,
           "no Kubernetes configuration found: KUBECONFIG is not set, this is not a pod, and "
           "HOME is not set");
    return CP_ECONFIG;
  }
  char *path = resolve_path(home, ".kube/config");
  if (!path)
    return nomem(CP_ENOMEM, err, errlen);
  int rc;
  if (access(path, F_OK) != 0) {
    seterr(err, errlen,
           "no Kubernetes configuration found: KUBECONFIG is not set, this is not a pod, and "
           "%s does not exist",
           path);
    rc = CP_ECONFIG;
  } else {
    rc = cp_kubeconfig_load(path, context, out, err, errlen);
  }
  free(path);
  return rc;
}

void cp_kubeconfig_free(cp_kubeconfig_t *cfg) {
  if (!cfg)
    return;
  free(cfg->server);
  free(cfg->context);
  free(cfg->namespace_);
  free_secret(cfg->ca.data, cfg->ca.len);
  free_secret(cfg->client_cert.data, cfg->client_cert.len);
  free_secret(cfg->client_key.data, cfg->client_key.len);
  free_secret_str(cfg->token);
  free(cfg->token_file);
  free(cfg->tls_server_name);
  free(cfg);
}
