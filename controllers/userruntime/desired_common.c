/* What every child shares, and the effective settings.
 *
 * Identity (name, namespace, uid, user) is validated once here so every builder refuses
 * the same bad UserRuntime with the same message. The effective settings merge profile
 * defaults with the user's spec in a fixed order and check each user value against the
 * profile's policy as it is merged, so the first message names the first offending
 * field. JSON is built with the sticky cp__dj_* helpers: a chain of additions checks for
 * ENOMEM once, at the end, instead of after every call.
 */
#include "userruntime/desired.h"
#include "core/error.h"
#include "json/json.h"
#include "kube/quantity.h"

#include <arpa/inet.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

int cp__desired_err(char *err, size_t errlen, int rc, const char *fmt, ...) {
  if (err && errlen) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
  }
  return rc;
}

/* ---- sticky JSON builders ---- */

cJSON *cp__dj_add(cJSON *parent, const char *key, cJSON *item, bool *ok) {
  if (!*ok || !parent || !item) {
    cJSON_Delete(item);
    *ok = false;
    return NULL;
  }
  cJSON_bool added =
      key ? cJSON_AddItemToObject(parent, key, item) : cJSON_AddItemToArray(parent, item);
  if (!added) {
    cJSON_Delete(item);
    *ok = false;
    return NULL;
  }
  return item;
}

cJSON *cp__dj_obj(cJSON *parent, const char *key, bool *ok) {
  return cp__dj_add(parent, key, *ok ? cJSON_CreateObject() : NULL, ok);
}

cJSON *cp__dj_arr(cJSON *parent, const char *key, bool *ok) {
  return cp__dj_add(parent, key, *ok ? cJSON_CreateArray() : NULL, ok);
}

cJSON *cp__dj_str(cJSON *parent, const char *key, const char *v, bool *ok) {
  return cp__dj_add(parent, key, *ok && v ? cJSON_CreateString(v) : NULL, ok);
}

cJSON *cp__dj_num(cJSON *parent, const char *key, double v, bool *ok) {
  return cp__dj_add(parent, key, *ok ? cJSON_CreateNumber(v) : NULL, ok);
}

cJSON *cp__dj_bool(cJSON *parent, const char *key, bool v, bool *ok) {
  return cp__dj_add(parent, key, *ok ? cJSON_CreateBool(v) : NULL, ok);
}

/* ---- identity, labels, owner ---- */

static bool is_lower(char c) {
  return c >= 'a' && c <= 'z';
}

static bool is_digit(char c) {
  return c >= '0' && c <= '9';
}

/* DNS-1123 label; with alpha_first, DNS-1035 (what Service names need). */
static bool dns_label(const char *s, bool alpha_first) {
  size_t n = strlen(s);
  if (n == 0 || n > 63 || s[0] == '-' || s[n - 1] == '-')
    return false;
  if (alpha_first && !is_lower(s[0]))
    return false;
  for (size_t i = 0; i < n; i++)
    if (!is_lower(s[i]) && !is_digit(s[i]) && s[i] != '-')
      return false;
  return true;
}

int cp__desired_ident(const cJSON *ur, cp__desired_ident_t *id, char *err, size_t errlen) {
  cp__desired_ident_t r = {
      .name = cp_json_strv(ur, "metadata", "name", NULL),
      .ns = cp_json_strv(ur, "metadata", "namespace", NULL),
      .uid = cp_json_strv(ur, "metadata", "uid", NULL),
      .user = cp_json_strv(ur, "spec", "user", NULL),
  };
  if (!r.name || !*r.name)
    return cp__desired_err(err, errlen, CP_EINVAL, "UserRuntime has no metadata.name");
  if (!dns_label(r.name, true))
    return cp__desired_err(err, errlen, CP_EINVAL,
                           "UserRuntime name \"%.80s\" must be a DNS-1035 label (lowercase "
                           "letters, digits and '-', starting with a letter, at most 63 "
                           "characters): it names the runtime's Service and pod hostname",
                           r.name);
  if (!r.ns || !*r.ns)
    return cp__desired_err(err, errlen, CP_EINVAL, "UserRuntime %s has no metadata.namespace",
                           r.name);
  if (!r.uid || !*r.uid)
    return cp__desired_err(err, errlen, CP_EINVAL, "UserRuntime %s has no metadata.uid", r.name);
  if (!r.user || !*r.user)
    return cp__desired_err(err, errlen, CP_EINVAL, "spec.user is required");
  if (!dns_label(r.user, false))
    return cp__desired_err(err, errlen, CP_EINVAL,
                           "spec.user \"%.80s\" must be a DNS-1123 label (lowercase letters, "
                           "digits and '-', at most 63 characters)",
                           r.user);
  *id = r;
  return 0;
}

static cJSON *labels_new(const cp__desired_ident_t *id, bool full) {
  bool ok = true;
  cJSON *l = cJSON_CreateObject();
  cp__dj_str(l, "app.kubernetes.io/name", "openclaw", &ok);
  cp__dj_str(l, "app.kubernetes.io/instance", id->name, &ok);
  if (full) {
    cp__dj_str(l, "app.kubernetes.io/managed-by", "clawplane", &ok);
    cp__dj_str(l, "clawplane.io/user", id->user, &ok);
  }
  if (!ok) {
    cJSON_Delete(l);
    return NULL;
  }
  return l;
}

static cJSON *owner_new(const cp__desired_ident_t *id) {
  bool ok = true;
  cJSON *o = cJSON_CreateObject();
  cp__dj_str(o, "apiVersion", CP_DESIRED_API_VERSION, &ok);
  cp__dj_str(o, "kind", CP_DESIRED_KIND, &ok);
  cp__dj_str(o, "name", id->name, &ok);
  cp__dj_str(o, "uid", id->uid, &ok);
  cp__dj_bool(o, "controller", true, &ok);
  cp__dj_bool(o, "blockOwnerDeletion", true, &ok);
  if (!ok) {
    cJSON_Delete(o);
    return NULL;
  }
  return o;
}

static int ident_json(const cJSON *ur, cJSON *(*make)(const cp__desired_ident_t *, bool), bool full,
                      cJSON **out, char *err, size_t errlen) {
  cp__desired_ident_t id;
  int rc = cp__desired_ident(ur, &id, err, errlen);
  if (rc < 0)
    return rc;
  cJSON *j = make(&id, full);
  if (!j)
    return cp__desired_err(err, errlen, CP_ENOMEM, "out of memory");
  *out = j;
  return 0;
}

static cJSON *owner_make(const cp__desired_ident_t *id, bool unused) {
  (void)unused;
  return owner_new(id);
}

int cp_desired_labels(const cJSON *ur, cJSON **out, char *err, size_t errlen) {
  return ident_json(ur, labels_new, true, out, err, errlen);
}

int cp_desired_selector(const cJSON *ur, cJSON **out, char *err, size_t errlen) {
  return ident_json(ur, labels_new, false, out, err, errlen);
}

int cp_desired_owner_ref(const cJSON *ur, cJSON **out, char *err, size_t errlen) {
  return ident_json(ur, owner_make, false, out, err, errlen);
}

int cp_desired_endpoint(const cJSON *ur, char *buf, size_t len) {
  const char *name = cp_json_strv(ur, "metadata", "name", NULL);
  const char *ns = cp_json_strv(ur, "metadata", "namespace", NULL);
  if (!name || !*name || !ns || !*ns || !buf)
    return CP_EINVAL;
  char tmp[512];
  int n = snprintf(tmp, sizeof(tmp), "http://%s.%s.svc:%d", name, ns, CP_DESIRED_PORT);
  if (n < 0 || (size_t)n >= sizeof(tmp) || (size_t)n >= len)
    return CP_ETOOBIG;
  memcpy(buf, tmp, (size_t)n + 1);
  return 0;
}

cJSON *cp__desired_object(const cp__desired_ident_t *id, const char *api_version, const char *kind,
                          const char *suffix, bool owner) {
  char name[128];
  int n = snprintf(name, sizeof(name), "%s%s", id->name, suffix ? suffix : "");
  if (n < 0 || (size_t)n >= sizeof(name))
    return NULL; /* cannot happen: name <= 63 and suffixes are short */
  bool ok = true;
  cJSON *o = cJSON_CreateObject();
  cp__dj_str(o, "apiVersion", api_version, &ok);
  cp__dj_str(o, "kind", kind, &ok);
  cJSON *md = cp__dj_obj(o, "metadata", &ok);
  cp__dj_str(md, "name", name, &ok);
  cp__dj_str(md, "namespace", id->ns, &ok);
  cp__dj_add(md, "labels", ok ? labels_new(id, true) : NULL, &ok);
  if (owner) {
    cJSON *refs = cp__dj_arr(md, "ownerReferences", &ok);
    cp__dj_add(refs, NULL, ok ? owner_new(id) : NULL, &ok);
  }
  if (!ok) {
    cJSON_Delete(o);
    return NULL;
  }
  return o;
}

/* ---- options ---- */

cp_desired_opts_t cp__desired_opts(const cp_desired_opts_t *in) {
  cp_desired_opts_t o = {0};
  if (in)
    o = *in;
#define CP__DEF(field, value)                                                                      \
  if (!o.field)                                                                                    \
  o.field = value
  CP__DEF(modelproxy_url, "http://clawplane-modelproxy.clawplane-system.svc:8080/v1");
  CP__DEF(modelproxy_namespace, "clawplane-system");
  CP__DEF(modelproxy_selector, "app.kubernetes.io/name=clawplane-modelproxy");
  CP__DEF(apiserver_namespace, "clawplane-system");
  CP__DEF(apiserver_selector, "app.kubernetes.io/name=clawplane-apiserver");
  CP__DEF(ingress_selector, "");
  CP__DEF(dns_namespace, "kube-system");
  CP__DEF(dns_selector, "k8s-app=kube-dns");
  CP__DEF(model_url_env, "OPENAI_BASE_URL");
  CP__DEF(model_key_env, "OPENAI_API_KEY");
  CP__DEF(default_model, "gpt-4o-mini");
  CP__DEF(trusted_proxies, "");
  CP__DEF(identity_header, "X-Clawplane-User");
#undef CP__DEF
  if (o.files_image && !*o.files_image)
    o.files_image = NULL;
  if (o.modelproxy_port <= 0 || o.modelproxy_port > 65535)
    o.modelproxy_port = 8080;
  return o;
}

static bool label_chars(const char *s, size_t n, bool key) {
  for (size_t i = 0; i < n; i++) {
    char c = s[i];
    if (!is_lower(c) && !is_digit(c) && !(c >= 'A' && c <= 'Z') && c != '-' && c != '_' &&
        c != '.' && !(key && c == '/'))
      return false;
  }
  return true;
}

int cp__desired_selector_parse(const char *sel, cJSON **out, char *err, size_t errlen) {
  if (!sel)
    return cp__desired_err(err, errlen, CP_EINVAL, "label selector missing");
  cJSON *o = cJSON_CreateObject();
  if (!o)
    return cp__desired_err(err, errlen, CP_ENOMEM, "out of memory");
  for (const char *p = sel; *p;) {
    const char *end = strchr(p, ',');
    if (!end)
      end = p + strlen(p);
    const char *eq = memchr(p, '=', (size_t)(end - p));
    size_t klen = eq ? (size_t)(eq - p) : 0;
    size_t vlen = eq ? (size_t)(end - eq - 1) : 0;
    if (!eq || klen == 0 || klen > 253 || vlen > 63 || !label_chars(p, klen, true) ||
        !label_chars(eq + 1, vlen, false) || (*end == ',' && end[1] == '\0')) {
      cJSON_Delete(o);
      return cp__desired_err(err, errlen, CP_EINVAL,
                             "label selector \"%.200s\" must be key=value pairs separated by "
                             "commas",
                             sel);
    }
    char key[254], val[64];
    memcpy(key, p, klen);
    key[klen] = '\0';
    memcpy(val, eq + 1, vlen);
    val[vlen] = '\0';
    if (cp_json_set(o, key, cJSON_CreateString(val)) < 0) {
      cJSON_Delete(o);
      return cp__desired_err(err, errlen, CP_ENOMEM, "out of memory");
    }
    p = *end ? end + 1 : end;
  }
  *out = o;
  return 0;
}

/* ---- Go durations ---- */

int cp_desired_duration_parse(const char *s, int64_t *ms) {
  static const struct {
    const char *unit;
    int64_t ns;
  } units[] = {
      {"ns", 1},
      {"us", 1000},
      {"\xc2\xb5s", 1000}, /* U+00B5 micro sign */
      {"\xce\xbcs", 1000}, /* U+03BC Greek mu */
      {"ms", 1000000},
      {"s", 1000000000},
      {"m", INT64_C(60000000000)},
      {"h", INT64_C(3600000000000)},
  };
  if (!s)
    return CP_EINVAL;
  const char *p = s;
  bool neg = false;
  if (*p == '-' || *p == '+')
    neg = *p++ == '-';
  if (strcmp(p, "0") == 0) {
    *ms = 0;
    return 0;
  }
  if (!*p)
    return CP_EINVAL;
  int64_t total = 0;
  while (*p) {
    int64_t whole = 0, frac = 0, scale = 1;
    bool digits = false;
    for (; is_digit(*p); p++, digits = true) {
      if (whole > (INT64_MAX - (*p - '0')) / 10)
        return CP_ETOOBIG;
      whole = whole * 10 + (*p - '0');
    }
    if (*p == '.') {
      for (p++; is_digit(*p); p++, digits = true) {
        if (scale <= INT64_MAX / 10) { /* digits past nanosecond precision are dropped */
          frac = frac * 10 + (*p - '0');
          scale *= 10;
        }
      }
    }
    if (!digits)
      return CP_EINVAL;
    int64_t unit = 0;
    size_t ulen = 0;
    for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
      size_t n = strlen(units[i].unit);
      if (n > ulen && strncmp(p, units[i].unit, n) == 0) {
        unit = units[i].ns;
        ulen = n;
      }
    }
    if (!unit)
      return CP_EINVAL;
    p += ulen;
    if (whole > INT64_MAX / unit)
      return CP_ETOOBIG;
    int64_t v = whole * unit + (int64_t)((double)frac * ((double)unit / (double)scale));
    if (v < 0 || total > INT64_MAX - v)
      return CP_ETOOBIG;
    total += v;
  }
  if (neg && total > 0)
    return CP_EINVAL;
  *ms = total / 1000000;
  return 0;
}

/* ---- effective settings ---- */

typedef struct eff_ctx_s {
  const cJSON *spec;  /* UserRuntime spec (may be NULL) */
  const cJSON *pspec; /* RuntimeProfile spec (may be NULL) */
  const char *pname;
  cp_desired_opts_t o;
  char *err;
  size_t errlen;
} eff_ctx_t;

#define EFF_ERR(c, rc, ...) cp__desired_err((c)->err, (c)->errlen, rc, __VA_ARGS__)

static const char *nonempty(const char *s) {
  return s && *s ? s : NULL;
}

static char *dup_or_null(const char *s, bool *ok) {
  char *d = strdup(s);
  if (!d)
    *ok = false;
  return d;
}

static int eff_image(eff_ctx_t *c, cp_desired_effective_t *e) {
  const char *pimg = nonempty(cp_json_strv(c->pspec, "image", NULL));
  if (!pimg)
    pimg = nonempty(c->o.default_image);
  const char *simg = nonempty(cp_json_strv(c->spec, "image", NULL));
  const char *img = pimg;
  if (simg && !(pimg && strcmp(simg, pimg) == 0)) {
    if (!cJSON_IsTrue(cp_json_getv(c->pspec, "allowOverrides", "image", NULL)))
      return EFF_ERR(c, CP_EINVAL,
                     "image overrides are not allowed by profile %s; remove spec.image", c->pname);
    img = simg;
  }
  if (!img)
    return EFF_ERR(c, CP_EINVAL, "profile %s sets no image and the controller has no default image",
                   c->pname);
  size_t n = strnlen(img, 1025);
  bool bad = n > 1024;
  for (size_t i = 0; i < n && !bad; i++)
    bad = (unsigned char)img[i] <= ' ' || img[i] == 0x7f;
  if (bad)
    return EFF_ERR(c, CP_EINVAL, "image \"%.80s\" is not a valid image reference", img);
  bool ok = true;
  e->image = dup_or_null(img, &ok);
  return ok ? 0 : CP_ENOMEM;
}

/* The quantity text of a JSON string or number, validated and non-negative. */
static int qty_text(eff_ctx_t *c, const cJSON *v, const char *where, char *buf, size_t len,
                    int64_t *milli) {
  int n = -1;
  if (cJSON_IsString(v))
    n = snprintf(buf, len, "%s", v->valuestring);
  else if (cJSON_IsNumber(v))
    n = snprintf(buf, len, "%.15g", v->valuedouble);
  if (n < 0 || (size_t)n >= len)
    return EFF_ERR(c, CP_EINVAL, "%s is not a valid quantity", where);
  int rc = cp_quantity_parse(buf, milli);
  if (rc == CP_ETOOBIG)
    return EFF_ERR(c, CP_EINVAL, "%s \"%s\" is out of range", where, buf);
  if (rc < 0)
    return EFF_ERR(c, CP_EINVAL,
                   "%s \"%s\" is not a valid quantity (examples: 250m, 1, 512Mi, 2Gi)", where, buf);
  if (*milli < 0)
    return EFF_ERR(c, CP_EINVAL, "%s \"%s\" must not be negative", where, buf);
  return 0;
}

static const char *const SECTIONS[] = {"requests", "limits"};

/* Merges profile and spec values of one section into sec. */
static int eff_section(eff_ctx_t *c, const char *s, bool allow, cJSON *sec) {
  char path[160], text[CP_QUANTITY_MAX_LEN + 1];
  int64_t v;
  int rc;
  const cJSON *it;
  cJSON_ArrayForEach(it, cp_json_getv(c->pspec, "resources", s, NULL)) {
    snprintf(path, sizeof(path), "profile %s resources.%s.%.64s", c->pname, s, it->string);
    if ((rc = qty_text(c, it, path, text, sizeof(text), &v)) < 0)
      return rc;
    if (cp_json_set(sec, it->string, cJSON_CreateString(text)) < 0)
      return CP_ENOMEM;
  }
  const cJSON *sv = cp_json_getv(c->spec, "resources", s, NULL);
  if (sv && !cJSON_IsObject(sv))
    return EFF_ERR(c, CP_EINVAL, "spec.resources.%s must be a map of quantities", s);
  cJSON_ArrayForEach(it, sv) {
    snprintf(path, sizeof(path), "spec.resources.%s.%.64s", s, it->string);
    if ((rc = qty_text(c, it, path, text, sizeof(text), &v)) < 0)
      return rc;
    const char *cur = cp_json_strv(sec, it->string, NULL);
    int cmp = 1;
    if (cur && cp_quantity_cmp(text, cur, &cmp) < 0)
      cmp = 1;
    if (cmp != 0) {
      if (!allow)
        return EFF_ERR(c, CP_EINVAL, "resource overrides are not allowed by profile %s; remove %s",
                       c->pname, path);
    }
    if (cp_json_set(sec, it->string, cJSON_CreateString(text)) < 0)
      return CP_ENOMEM;
  }
  return 0;
}

static int eff_resources(eff_ctx_t *c, cp_desired_effective_t *e) {
  /* Absent means true, the CRD's default. */
  bool allow = !cJSON_IsFalse(cp_json_getv(c->pspec, "allowOverrides", "resources", NULL));
  const cJSON *max = cp_json_getv(c->pspec, "maxResources", NULL);
  const cJSON *sres = cp_json_getv(c->spec, "resources", NULL);
  const cJSON *it;
  char path[160], text[CP_QUANTITY_MAX_LEN + 1], mtext[CP_QUANTITY_MAX_LEN + 1];
  int64_t v, mv;
  int rc = 0;
  if (sres && !cJSON_IsObject(sres) && !cJSON_IsNull(sres))
    return EFF_ERR(c, CP_EINVAL, "spec.resources must be an object");
  if (max && !cJSON_IsObject(max))
    return EFF_ERR(c, CP_EINVAL, "profile %s maxResources must be a map of quantities", c->pname);
  for (size_t i = 0; i < 2; i++) {
    const cJSON *p = cp_json_getv(c->pspec, "resources", SECTIONS[i], NULL);
    if (p && !cJSON_IsObject(p))
      return EFF_ERR(c, CP_EINVAL, "profile %s resources.%s must be a map of quantities", c->pname,
                     SECTIONS[i]);
  }
  cJSON_ArrayForEach(it, sres) {
    if (strcmp(it->string, "requests") != 0 && strcmp(it->string, "limits") != 0)
      return EFF_ERR(c, CP_EINVAL,
                     "spec.resources.%.64s is not supported (only requests and limits)",
                     it->string);
  }
  cJSON *res = cJSON_CreateObject();
  if (!res)
    return CP_ENOMEM;
  for (size_t i = 0; i < 2 && rc == 0; i++) {
    cJSON *sec = cJSON_CreateObject();
    if (!sec) {
      rc = CP_ENOMEM;
      break;
    }
    rc = eff_section(c, SECTIONS[i], allow, sec);
    if (rc < 0 || cJSON_GetArraySize(sec) == 0)
      cJSON_Delete(sec);
    else if (cp_json_set(res, SECTIONS[i], sec) < 0)
      rc = CP_ENOMEM;
  }
  /* Every effective value within maxResources. */
  for (size_t i = 0; i < 2 && rc == 0; i++) {
    cJSON_ArrayForEach(it, cJSON_GetObjectItemCaseSensitive(res, SECTIONS[i])) {
      const cJSON *m = cJSON_GetObjectItemCaseSensitive(max, it->string);
      if (!m)
        continue;
      snprintf(path, sizeof(path), "profile %s maxResources.%.64s", c->pname, it->string);
      if ((rc = qty_text(c, m, path, mtext, sizeof(mtext), &mv)) < 0)
        break;
      if ((rc = cp_quantity_parse(it->valuestring, &v)) < 0)
        break;
      if (v > mv) {
        rc = EFF_ERR(c, CP_EINVAL,
                     "resources.%s.%.64s %s exceeds the maximum %s allowed by profile %s",
                     SECTIONS[i], it->string, it->valuestring, mtext, c->pname);
        break;
      }
    }
  }
  /* requests <= limits, or the API server refuses the pod. */
  const cJSON *lim = cJSON_GetObjectItemCaseSensitive(res, "limits");
  cJSON_ArrayForEach(it, (rc == 0 ? cJSON_GetObjectItemCaseSensitive(res, "requests") : NULL)) {
    const char *l = cp_json_strv(lim, it->string, NULL);
    int cmp = 0;
    if (l && cp_quantity_cmp(it->valuestring, l, &cmp) == 0 && cmp > 0) {
      rc = EFF_ERR(c, CP_EINVAL, "resources.requests.%.64s %s exceeds resources.limits.%.64s %s",
                   it->string, it->valuestring, it->string, l);
      break;
    }
  }
  e->memory_limit = -1;
  const char *mem = cp_json_strv(lim, "memory", NULL);
  if (rc == 0 && mem) {
    snprintf(text, sizeof(text), "%s", mem);
    rc = cp_quantity_value(text, &e->memory_limit);
  }
  if (rc < 0) {
    cJSON_Delete(res);
    return rc;
  }
  e->resources = res;
  return 0;
}

static int eff_storage(eff_ctx_t *c, cp_desired_effective_t *e) {
  const cJSON *size = cp_json_getv(c->spec, "storage", "size", NULL);
  const char *where = "spec.storage.size";
  char pwhere[160], text[CP_QUANTITY_MAX_LEN + 1], mtext[CP_QUANTITY_MAX_LEN + 1];
  int64_t v, mv;
  int rc;
  if (!size || cJSON_IsNull(size) || (cJSON_IsString(size) && !*size->valuestring)) {
    size = cp_json_getv(c->pspec, "storage", "size", NULL);
    snprintf(pwhere, sizeof(pwhere), "profile %s storage.size", c->pname);
    where = pwhere;
  }
  if (!size || cJSON_IsNull(size) || (cJSON_IsString(size) && !*size->valuestring)) {
    snprintf(text, sizeof(text), "%s", CP_DESIRED_DEFAULT_STORAGE);
    v = 1;
  } else if ((rc = qty_text(c, size, where, text, sizeof(text), &v)) < 0) {
    return rc;
  }
  if (v <= 0)
    return EFF_ERR(c, CP_EINVAL, "%s must be a positive quantity", where);
  const cJSON *m = cp_json_getv(c->pspec, "maxResources", "storage", NULL);
  if (m) {
    snprintf(pwhere, sizeof(pwhere), "profile %s maxResources.storage", c->pname);
    if ((rc = qty_text(c, m, pwhere, mtext, sizeof(mtext), &mv)) < 0)
      return rc;
    if ((rc = cp_quantity_parse(text, &v)) < 0)
      return rc;
    if (v > mv)
      return EFF_ERR(c, CP_EINVAL, "storage size %s exceeds the maximum %s allowed by profile %s",
                     text, mtext, c->pname);
  }
  const cJSON *retain = cp_json_getv(c->spec, "storage", "retainOnDelete", NULL);
  e->retain_on_delete = cJSON_IsBool(retain) ? cJSON_IsTrue(retain) : true;
  bool ok = true;
  e->storage_size = dup_or_null(text, &ok);
  const char *cls = nonempty(cp_json_strv(c->pspec, "storage", "storageClassName", NULL));
  if (cls && ok)
    e->storage_class = dup_or_null(cls, &ok);
  return ok ? 0 : CP_ENOMEM;
}

static int eff_idle(eff_ctx_t *c, cp_desired_effective_t *e) {
  const char *t = nonempty(cp_json_strv(c->spec, "idleTimeout", NULL));
  const char *where = "spec.idleTimeout";
  if (!t) {
    t = nonempty(cp_json_strv(c->pspec, "idleTimeout", NULL));
    where = "profile idleTimeout";
  }
  if (!t)
    t = CP_DESIRED_DEFAULT_IDLE;
  int rc = cp_desired_duration_parse(t, &e->idle_timeout_ms);
  if (rc < 0)
    return EFF_ERR(c, CP_EINVAL,
                   "%s \"%.64s\" is not a valid duration (examples: 30m, 1h, 1h30m; 0s disables "
                   "hibernation)",
                   where, t);
  bool ok = true;
  e->idle_timeout = dup_or_null(t, &ok);
  return ok ? 0 : CP_ENOMEM;
}

/* files.maxUploadSize [1Gi] and files.quota [none] of the profile, in bytes. */
static int eff_files(eff_ctx_t *c, cp_desired_effective_t *e) {
  char where[160], text[CP_QUANTITY_MAX_LEN + 1];
  int64_t milli;
  int rc;
  const cJSON *max = cp_json_getv(c->pspec, "files", "maxUploadSize", NULL);
  const cJSON *quota = cp_json_getv(c->pspec, "files", "quota", NULL);
  e->files_max_upload = (int64_t)1 << 30;
  e->files_quota = -1;
  if (max && !cJSON_IsNull(max)) {
    snprintf(where, sizeof where, "profile %s files.maxUploadSize", c->pname);
    if ((rc = qty_text(c, max, where, text, sizeof text, &milli)) < 0)
      return rc;
    if ((rc = cp_quantity_value(text, &e->files_max_upload)) < 0)
      return EFF_ERR(c, CP_EINVAL, "%s \"%s\" is out of range", where, text);
  }
  if (quota && !cJSON_IsNull(quota)) {
    snprintf(where, sizeof where, "profile %s files.quota", c->pname);
    if ((rc = qty_text(c, quota, where, text, sizeof text, &milli)) < 0)
      return rc;
    if ((rc = cp_quantity_value(text, &e->files_quota)) < 0)
      return EFF_ERR(c, CP_EINVAL, "%s \"%s\" is out of range", where, text);
  }
  return 0;
}

static bool contains_ci(const char *s, const char *needle) {
  size_t n = strlen(needle);
  for (; *s; s++)
    if (strncasecmp(s, needle, n) == 0)
      return true;
  return false;
}

static bool ends_with_ci(const char *s, const char *suffix) {
  size_t n = strlen(s), m = strlen(suffix);
  return n >= m && strcasecmp(s + n - m, suffix) == 0;
}

/* NULL if name may be set by users and profiles, else why not. The same rule as the
 * CRDs' CEL validation (which may be bypassed by objects stored before it existed), plus
 * the two model env names from the options. */
static const char *env_reserved(const char *name, const cp_desired_opts_t *o) {
  const char *exact[] = {"HOME",           "PATH",          "NODE_OPTIONS",
                         "NODE_PATH",      "LD_PRELOAD",    "LD_LIBRARY_PATH",
                         o->model_url_env, o->model_key_env};
  static const char *const prefixes[] = {"OPENCLAW_", "CLAWPLANE_", "KUBERNETES_"};
  for (size_t i = 0; i < sizeof(exact) / sizeof(exact[0]); i++)
    if (strcasecmp(name, exact[i]) == 0)
      return "it is set by the controller or the runtime image";
  for (size_t i = 0; i < sizeof(prefixes) / sizeof(prefixes[0]); i++)
    if (strncasecmp(name, prefixes[i], strlen(prefixes[i])) == 0)
      return "the OPENCLAW_, CLAWPLANE_ and KUBERNETES_ prefixes belong to the platform";
  if (contains_ci(name, "API_KEY"))
    return "names containing API_KEY are refused so that no provider key reaches the runtime; "
           "models are reached through the modelproxy";
  if (ends_with_ci(name, "_BASE_URL"))
    return "model endpoints point at the modelproxy";
  return NULL;
}

/* A C identifier of at most 128 characters, as the CRDs require. */
static bool env_name_ok(const char *s) {
  size_t n = strnlen(s, 129);
  if (n == 0 || n > 128 || is_digit(s[0]))
    return false;
  for (size_t i = 0; i < n; i++)
    if (!is_lower(s[i]) && !is_digit(s[i]) && !(s[i] >= 'A' && s[i] <= 'Z') && s[i] != '_')
      return false;
  return true;
}

/* Appends list's entries to merged; with replace, an entry whose name is already in
 * merged replaces that entry's value in place. where is "spec.env" or "profile X env". */
static int eff_env_list(eff_ctx_t *c, const cJSON *list, const char *where, bool replace,
                        cJSON *merged) {
  if (!list || cJSON_IsNull(list))
    return 0;
  if (!cJSON_IsArray(list))
    return EFF_ERR(c, CP_EINVAL, "%s must be a list of {name, value}", where);
  if (cJSON_GetArraySize(list) > CP_DESIRED_MAX_ENV)
    return EFF_ERR(c, CP_ETOOBIG, "%s has more than %d entries", where, CP_DESIRED_MAX_ENV);
  int i = 0;
  const cJSON *it;
  cJSON_ArrayForEach(it, list) {
    const char *name = cp_json_strv(it, "name", NULL);
    const cJSON *value = cp_json_getv(it, "value", NULL);
    if (!name || !env_name_ok(name))
      return EFF_ERR(c, CP_EINVAL,
                     "%s[%d].name must be a C identifier (letters, digits and '_', not "
                     "starting with a digit, at most 128 characters)",
                     where, i);
    const char *why = env_reserved(name, &c->o);
    if (why)
      return EFF_ERR(c, CP_EINVAL, "%s[%d]: %s is reserved: %s", where, i, name, why);
    if (cp_json_getv(it, "valueFrom", NULL))
      return EFF_ERR(c, CP_EINVAL,
                     "%s[%d]: %s uses valueFrom; only literal values are allowed (a secret "
                     "reference could read another user's credentials)",
                     where, i, name);
    if (value && !cJSON_IsString(value) && !cJSON_IsNull(value))
      return EFF_ERR(c, CP_EINVAL, "%s[%d]: the value of %s must be a string", where, i, name);
    const char *val = cJSON_IsString(value) ? value->valuestring : "";
    if (strnlen(val, CP_DESIRED_MAX_ENV_VALUE + 1) > CP_DESIRED_MAX_ENV_VALUE)
      return EFF_ERR(c, CP_ETOOBIG, "%s[%d]: the value of %s is longer than %d bytes", where, i,
                     name, CP_DESIRED_MAX_ENV_VALUE);
    int j = 0;
    const cJSON *prev;
    cJSON_ArrayForEach(prev, list) {
      if (j++ >= i)
        break;
      if (strcmp(cp_json_strv(prev, "name", NULL), name) == 0)
        return EFF_ERR(c, CP_EINVAL, "%s lists %s twice", where, name);
    }
    cJSON *found = NULL, *m;
    cJSON_ArrayForEach(m, (replace ? merged : NULL)) {
      if (strcmp(cp_json_strv(m, "name", NULL), name) == 0)
        found = m;
    }
    if (found) {
      if (cp_json_set(found, "value", cJSON_CreateString(val)) < 0)
        return CP_ENOMEM;
    } else {
      if (cJSON_GetArraySize(merged) >= CP_DESIRED_MAX_ENV)
        return EFF_ERR(c, CP_ETOOBIG, "more than %d environment variables", CP_DESIRED_MAX_ENV);
      bool ok = true;
      cJSON *e = cp__dj_obj(merged, NULL, &ok);
      cp__dj_str(e, "name", name, &ok);
      cp__dj_str(e, "value", val, &ok);
      if (!ok)
        return CP_ENOMEM;
    }
    i++;
  }
  return 0;
}

static int eff_env(eff_ctx_t *c, cp_desired_effective_t *e) {
  char where[160];
  cJSON *merged = cJSON_CreateArray();
  if (!merged)
    return CP_ENOMEM;
  snprintf(where, sizeof(where), "profile %s env", c->pname);
  int rc = eff_env_list(c, cp_json_getv(c->pspec, "env", NULL), where, false, merged);
  if (rc == 0)
    rc = eff_env_list(c, cp_json_getv(c->spec, "env", NULL), "spec.env", true, merged);
  if (rc < 0) {
    cJSON_Delete(merged);
    return rc;
  }
  e->env = merged;
  return 0;
}

static int eff_model_url(eff_ctx_t *c, cp_desired_effective_t *e) {
  const char *url = nonempty(cp_json_strv(c->pspec, "modelProxy", "url", NULL));
  if (!url)
    url = c->o.modelproxy_url;
  bool bad = strncmp(url, "http://", 7) != 0 && strncmp(url, "https://", 8) != 0;
  for (const char *p = url; *p && !bad; p++)
    bad = (unsigned char)*p <= ' ' || *p == 0x7f;
  if (bad)
    return EFF_ERR(c, CP_EINVAL, "model proxy URL \"%.120s\" must be an http:// or https:// URL",
                   url);
  bool ok = true;
  e->model_url = dup_or_null(url, &ok);
  return ok ? 0 : CP_ENOMEM;
}

/* The model id: printable, no spaces or quotes, since it lands in a JSON config and in
 * "clawplane/<id>" model references. */
static int eff_model(eff_ctx_t *c, cp_desired_effective_t *e) {
  const char *m = nonempty(cp_json_strv(c->pspec, "modelProxy", "model", NULL));
  if (!m)
    m = c->o.default_model;
  size_t n = strlen(m);
  bool bad = n == 0 || n > 256;
  for (const char *p = m; *p && !bad; p++)
    bad = (unsigned char)*p <= ' ' || (unsigned char)*p >= 0x7f || *p == '"' || *p == '\\';
  if (bad)
    return EFF_ERR(c, CP_EINVAL,
                   "profile %s modelProxy.model \"%.64s\" must be 1-256 printable characters "
                   "without spaces or quotes",
                   c->pname, m);
  bool ok = true;
  e->model = dup_or_null(m, &ok);
  return ok ? 0 : CP_ENOMEM;
}

/* An IPv4 or IPv6 address with an optional /prefix, and zero host bits, as OpenClaw's
 * trustedProxies expects; 0.0.0.0/0 and ::/0 are refused (they would trust everyone). */
static bool cidr_ok(const char *s) {
  char addr[64];
  const char *slash = strchr(s, '/');
  size_t n = slash ? (size_t)(slash - s) : strlen(s);
  if (n == 0 || n >= sizeof addr)
    return false;
  memcpy(addr, s, n);
  addr[n] = '\0';
  unsigned char buf[16];
  int fam = strchr(addr, ':') ? AF_INET6 : AF_INET;
  if (inet_pton(fam, addr, buf) != 1)
    return false;
  int bits = fam == AF_INET ? 32 : 128;
  long prefix = bits;
  if (slash) {
    char *end = NULL;
    if (!slash[1] || slash[1] < '0' || slash[1] > '9')
      return false;
    prefix = strtol(slash + 1, &end, 10);
    if (*end || prefix < 1 || prefix > bits)
      return false;
  }
  for (int b = (int)prefix; b < bits; b++)
    if (buf[b / 8] & (0x80 >> (b % 8)))
      return false;
  return true;
}

static int add_proxy(eff_ctx_t *c, cJSON *arr, const char *s, size_t n, bool *ok) {
  char v[64];
  if (n == 0)
    return 0;
  if (n >= sizeof v || !(memcpy(v, s, n), v[n] = '\0', cidr_ok(v)))
    return EFF_ERR(c, CP_EINVAL,
                   "trusted proxy \"%.*s\" must be an IP address or a CIDR with zero host bits "
                   "(never 0.0.0.0/0)",
                   (int)(n < 64 ? n : 64), s);
  if (cJSON_GetArraySize(arr) >= CP_DESIRED_MAX_PROXIES)
    return EFF_ERR(c, CP_ETOOBIG, "more than %d trusted proxies", CP_DESIRED_MAX_PROXIES);
  cp__dj_str(arr, NULL, v, ok);
  return 0;
}

/* The profile's ingress.trustedProxies when it lists any, else the controller's. */
static int eff_proxies(eff_ctx_t *c, cp_desired_effective_t *e) {
  bool ok = true;
  int rc = 0;
  cJSON *arr = cJSON_CreateArray();
  if (!arr)
    return CP_ENOMEM;
  const cJSON *list = cp_json_getv(c->pspec, "ingress", "trustedProxies", NULL);
  const cJSON *it;
  if (cJSON_IsArray(list) && cJSON_GetArraySize(list) > 0) {
    cJSON_ArrayForEach(it, list) {
      if (!cJSON_IsString(it)) {
        rc = EFF_ERR(c, CP_EINVAL, "profile %s ingress.trustedProxies must be strings", c->pname);
        break;
      }
      if ((rc = add_proxy(c, arr, it->valuestring, strlen(it->valuestring), &ok)) < 0)
        break;
    }
  } else {
    for (const char *p = c->o.trusted_proxies; rc == 0 && *p;) {
      const char *comma = strchr(p, ',');
      size_t n = comma ? (size_t)(comma - p) : strlen(p);
      rc = add_proxy(c, arr, p, n, &ok);
      p += n + (comma ? 1 : 0);
    }
  }
  if (rc == 0 && !ok)
    rc = CP_ENOMEM;
  if (rc < 0) {
    cJSON_Delete(arr);
    return rc;
  }
  e->trusted_proxies = arr;
  return 0;
}

int cp_desired_effective(const cJSON *ur, const cJSON *profile, const cp_desired_opts_t *opts,
                         cp_desired_effective_t *out, char *err, size_t errlen) {
  if (!ur || !profile || !out)
    return cp__desired_err(err, errlen, CP_EINVAL, "UserRuntime and RuntimeProfile are required");
  eff_ctx_t c = {
      .spec = cp_json_getv(ur, "spec", NULL),
      .pspec = cp_json_getv(profile, "spec", NULL),
      .pname = nonempty(cp_json_strv(profile, "metadata", "name", NULL)),
      .o = cp__desired_opts(opts),
      .err = err,
      .errlen = errlen,
  };
  if (!c.pname)
    c.pname = "(unnamed)";
  cp_desired_effective_t e = {0};
  int (*const steps[])(eff_ctx_t *, cp_desired_effective_t *) = {
      eff_image,     eff_resources, eff_storage, eff_idle,  eff_env,
      eff_model_url, eff_model,     eff_proxies, eff_files,
  };
  int rc = 0;
  bool ok = true;
  e.profile = dup_or_null(c.pname, &ok);
  if (!ok)
    rc = CP_ENOMEM;
  for (size_t i = 0; i < sizeof(steps) / sizeof(steps[0]) && rc == 0; i++)
    rc = steps[i](&c, &e);
  if (rc < 0) {
    if (rc == CP_ENOMEM)
      cp__desired_err(err, errlen, rc, "out of memory");
    cp_desired_effective_free(&e);
    return rc;
  }
  *out = e;
  return 0;
}

void cp_desired_effective_free(cp_desired_effective_t *e) {
  if (!e)
    return;
  free(e->profile);
  free(e->image);
  cJSON_Delete(e->resources);
  free(e->storage_size);
  free(e->storage_class);
  free(e->idle_timeout);
  cJSON_Delete(e->env);
  free(e->model_url);
  free(e->model);
  cJSON_Delete(e->trusted_proxies);
  memset(e, 0, sizeof(*e));
}
