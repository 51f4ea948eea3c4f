/* clawctl's configuration file (see config.h). Parsing goes through cJSON with a size cap
 * and then a strict walk: every member must be known, appear once and fit its field, so a
 * hand-edited file with a typo fails with the key's name instead of being half-used. */
#include "cli/config.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/error.h"
#include "core/str.h"
#include "json/json.h"

static int fail(char *err, size_t errlen, int rc, const char *msg, const char *arg) {
  if (err && errlen)
    snprintf(err, errlen, "%s%s%s", msg, arg ? ": " : "", arg ? arg : "");
  return rc;
}

int cp_cli_context_name_valid(const char *s) {
  size_t n = s ? strlen(s) : 0;
  if (n == 0 || n > 63)
    return 0;
  for (size_t i = 0; i < n; i++) {
    char c = s[i];
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
          c == '_' || c == '@' || c == ':' || c == '-'))
      return 0;
  }
  return 1;
}

static int printable(const char *s) {
  for (; *s; s++)
    if ((unsigned char)*s <= 0x20 || *s == 0x7f)
      return 0;
  return 1;
}

int cp_cli_server_valid(const char *s) {
  if (!s || strlen(s) > 511 || !printable(s))
    return 0;
  size_t skip;
  if (strncmp(s, "http://", 7) == 0)
    skip = 7;
  else if (strncmp(s, "https://", 8) == 0)
    skip = 8;
  else
    return 0;
  return s[skip] != '\0' && s[skip] != '/';
}

cp_cli_config_t *cp_cli_config_new(void) {
  return calloc(1, sizeof(cp_cli_config_t));
}

void cp_cli_config_free(cp_cli_config_t *cfg) {
  if (!cfg)
    return;
  OPENSSL_cleanse(cfg, sizeof *cfg);
  free(cfg);
}

/* Copies a string member into dst (n bytes); refuses a non-string, a too-long value, and
 * (when strict_text) spaces or control characters. */
static int take_string(const cJSON *item, char *dst, size_t n, int strict_text, char *err,
                       size_t errlen) {
  if (!cJSON_IsString(item) || !item->valuestring)
    return fail(err, errlen, CP_EPARSE, "not a string", item->string);
  size_t len = strlen(item->valuestring);
  if (len >= n)
    return fail(err, errlen, CP_EPARSE, "value too long", item->string);
  if (strict_text && len > 0 && !printable(item->valuestring))
    return fail(err, errlen, CP_EPARSE, "spaces or control characters in", item->string);
  memcpy(dst, item->valuestring, len + 1);
  return 0;
}

/* Refuses an object with a member name twice (cJSON keeps both silently). */
static int no_duplicates(const cJSON *obj, char *err, size_t errlen) {
  for (const cJSON *a = obj->child; a; a = a->next)
    for (const cJSON *b = a->next; b; b = b->next)
      if (a->string && b->string && strcmp(a->string, b->string) == 0)
        return fail(err, errlen, CP_EPARSE, "duplicate key", a->string);
  return 0;
}

static int parse_context(const cJSON *obj, cp_cli_context_t *ctx, char *err, size_t errlen) {
  if (!cJSON_IsObject(obj))
    return fail(err, errlen, CP_EPARSE, "a context is not an object", NULL);
  int rc = no_duplicates(obj, err, errlen);
  if (rc)
    return rc;
  for (const cJSON *m = obj->child; m; m = m->next) {
    if (strcmp(m->string, "name") == 0)
      rc = take_string(m, ctx->name, sizeof ctx->name, 1, err, errlen);
    else if (strcmp(m->string, "server") == 0)
      rc = take_string(m, ctx->server, sizeof ctx->server, 1, err, errlen);
    else if (strcmp(m->string, "user") == 0)
      rc = take_string(m, ctx->user, sizeof ctx->user, 1, err, errlen);
    else if (strcmp(m->string, "token") == 0)
      rc = take_string(m, ctx->token, sizeof ctx->token, 1, err, errlen);
    else if (strcmp(m->string, "runtime-url") == 0)
      rc = take_string(m, ctx->runtime_url, sizeof ctx->runtime_url, 1, err, errlen);
    else
      rc = fail(err, errlen, CP_EPARSE, "unknown key in a context", m->string);
    if (rc)
      return rc;
  }
  if (!cp_cli_context_name_valid(ctx->name))
    return fail(err, errlen, CP_EPARSE,
                "a context needs a \"name\" of 1-63 letters, digits or ._@:-", NULL);
  if (!cp_cli_server_valid(ctx->server))
    return fail(err, errlen, CP_EPARSE, "context has no http(s):// \"server\"", ctx->name);
  if (ctx->runtime_url[0] && !cp_cli_server_valid(ctx->runtime_url))
    return fail(err, errlen, CP_EPARSE, "\"runtime-url\" is not an http(s):// URL in context",
                ctx->name);
  return 0;
}

static int parse_tree(const cJSON *root, cp_cli_config_t *cfg, char *err, size_t errlen) {
  if (!cJSON_IsObject(root))
    return fail(err, errlen, CP_EPARSE, "the file is not a JSON object", NULL);
  int rc = no_duplicates(root, err, errlen);
  if (rc)
    return rc;
  for (const cJSON *m = root->child; m; m = m->next) {
    if (strcmp(m->string, "current-context") == 0) {
      rc = take_string(m, cfg->current, sizeof cfg->current, 1, err, errlen);
    } else if (strcmp(m->string, "contexts") == 0) {
      if (!cJSON_IsArray(m))
        return fail(err, errlen, CP_EPARSE, "\"contexts\" is not an array", NULL);
      for (const cJSON *c = m->child; c; c = c->next) {
        if (cfg->ncontexts == CP_CLI_MAX_CONTEXTS)
          return fail(err, errlen, CP_EPARSE, "more than 32 contexts", NULL);
        rc = parse_context(c, &cfg->contexts[cfg->ncontexts], err, errlen);
        if (rc)
          return rc;
        for (size_t i = 0; i < cfg->ncontexts; i++)
          if (strcmp(cfg->contexts[i].name, cfg->contexts[cfg->ncontexts].name) == 0)
            return fail(err, errlen, CP_EPARSE, "two contexts named", cfg->contexts[i].name);
        cfg->ncontexts++;
      }
    } else {
      rc = fail(err, errlen, CP_EPARSE, "unknown key", m->string);
    }
    if (rc)
      return rc;
  }
  if (cfg->current[0] && !cp_cli_config_find(cfg, cfg->current))
    return fail(err, errlen, CP_EPARSE, "\"current-context\" names no context", cfg->current);
  return 0;
}

int cp_cli_config_parse(const char *data, size_t len, cp_cli_config_t **out, char *err,
                        size_t errlen) {
  if (len > CP_CLI_CONFIG_MAX)
    return fail(err, errlen, CP_ETOOBIG, "larger than 64 KiB", NULL);
  cJSON *root = NULL;
  int rc = cp_json_parse(data, len, CP_CLI_CONFIG_MAX, &root);
  if (rc == CP_ENOMEM)
    return fail(err, errlen, rc, "out of memory", NULL);
  if (rc)
    return fail(err, errlen, CP_EPARSE, "not valid JSON", NULL);
  cp_cli_config_t *cfg = cp_cli_config_new();
  if (!cfg) {
    cJSON_Delete(root);
    return fail(err, errlen, CP_ENOMEM, "out of memory", NULL);
  }
  rc = parse_tree(root, cfg, err, errlen);
  cJSON_Delete(root);
  if (rc) {
    cp_cli_config_free(cfg);
    return rc;
  }
  *out = cfg;
  return 0;
}

int cp_cli_config_path(char *buf, size_t n) {
  const char *xdg = getenv("XDG_CONFIG_HOME");
  const char *home = getenv("HOME");
  int w;
  if (xdg && xdg[0] == '/')
    w = snprintf(buf, n, "%s/clawctl/config", xdg);
  else if (home && home[0])
    w = snprintf(buf, n, "%s/.config/clawctl/config", home);
  else
    return CP_ECONFIG;
  return w < 0 || (size_t)w >= n ? CP_ETOOBIG : 0;
}

int cp_cli_config_load(const char *path, cp_cli_config_t **out, char *err, size_t errlen) {
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT) {
      cp_cli_config_t *cfg = cp_cli_config_new();
      if (!cfg)
        return fail(err, errlen, CP_ENOMEM, "out of memory", NULL);
      *out = cfg;
      return 0;
    }
    if (err && errlen)
      snprintf(err, errlen, "cannot open %s: %s", path, strerror(errno));
    return CP_EIO;
  }
  struct stat st;
  int rc = 0;
  char *data = NULL;
  if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    rc = fail(err, errlen, CP_ECONFIG, "not a regular file", path);
    goto out;
  }
  if (st.st_uid != geteuid()) {
    rc = fail(err, errlen, CP_ECONFIG, "the config file belongs to another user", path);
    goto out;
  }
  if (st.st_mode & 077) {
    if (err && errlen)
      snprintf(err, errlen,
               "%s is accessible by others (mode %04o) and holds tokens; refusing to use it. "
               "Fix it with: chmod 600 %s",
               path, (unsigned)(st.st_mode & 07777), path);
    rc = CP_ECONFIG;
    goto out;
  }
  if (st.st_size > CP_CLI_CONFIG_MAX) {
    rc = fail(err, errlen, CP_ETOOBIG, "the config file is larger than 64 KiB", path);
    goto out;
  }
  data = malloc(CP_CLI_CONFIG_MAX + 1);
  if (!data) {
    rc = fail(err, errlen, CP_ENOMEM, "out of memory", NULL);
    goto out;
  }
  size_t len = 0;
  for (;;) {
    ssize_t r = read(fd, data + len, CP_CLI_CONFIG_MAX + 1 - len);
    if (r < 0 && errno == EINTR)
      continue;
    if (r < 0) {
      rc = fail(err, errlen, CP_EIO, "cannot read", path);
      goto out;
    }
    if (r == 0)
      break;
    len += (size_t)r;
    if (len > CP_CLI_CONFIG_MAX) {
      rc = fail(err, errlen, CP_ETOOBIG, "the config file is larger than 64 KiB", path);
      goto out;
    }
  }
  char perr[256];
  rc = cp_cli_config_parse(data, len, out, perr, sizeof perr);
  if (rc && err && errlen)
    snprintf(err, errlen, "%s: %s", path, perr);
out:
  if (data) {
    OPENSSL_cleanse(data, CP_CLI_CONFIG_MAX + 1);
    free(data);
  }
  close(fd);
  return rc;
}

static int add_str(cJSON *obj, const char *key, const char *val) {
  return cJSON_AddStringToObject(obj, key, val) ? 0 : CP_ENOMEM;
}

char *cp_cli_config_dump(const cp_cli_config_t *cfg) {
  cJSON *root = cJSON_CreateObject();
  int rc = root ? add_str(root, "current-context", cfg->current) : CP_ENOMEM;
  cJSON *arr = rc == 0 ? cJSON_AddArrayToObject(root, "contexts") : NULL;
  if (!arr)
    rc = CP_ENOMEM;
  for (size_t i = 0; rc == 0 && i < cfg->ncontexts; i++) {
    const cp_cli_context_t *c = &cfg->contexts[i];
    cJSON *o = cJSON_CreateObject();
    if (!o || !cJSON_AddItemToArray(arr, o)) {
      cJSON_Delete(o);
      rc = CP_ENOMEM;
      break;
    }
    rc = add_str(o, "name", c->name);
    rc = rc ? rc : add_str(o, "server", c->server);
    rc = rc ? rc : add_str(o, "user", c->user);
    rc = rc ? rc : add_str(o, "token", c->token);
    if (rc == 0 && c->runtime_url[0])
      rc = add_str(o, "runtime-url", c->runtime_url);
  }
  char *s = rc == 0 ? cJSON_Print(root) : NULL;
  cJSON_Delete(root); /* the tree held tokens too; cJSON frees it without clearing */
  return s;
}

/* mkdir -p for the directory part of path, each new directory 0700. */
static int make_parent_dirs(const char *path) {
  char dir[1024];
  if (cp_str_copy(dir, sizeof dir, path) != strlen(path))
    return CP_ETOOBIG;
  char *slash = strrchr(dir, '/');
  if (!slash || slash == dir)
    return 0;
  *slash = '\0';
  for (char *p = dir + 1; *p; p++) {
    if (*p != '/')
      continue;
    *p = '\0';
    if (mkdir(dir, 0700) != 0 && errno != EEXIST)
      return CP_EIO;
    *p = '/';
  }
  if (mkdir(dir, 0700) != 0 && errno != EEXIST)
    return CP_EIO;
  return 0;
}

int cp_cli_config_save(const cp_cli_config_t *cfg, const char *path, char *err, size_t errlen) {
  char tmp[1100];
  int w = snprintf(tmp, sizeof tmp, "%s.tmp.XXXXXX", path);
  if (w < 0 || (size_t)w >= sizeof tmp)
    return fail(err, errlen, CP_ETOOBIG, "config path too long", NULL);
  if (make_parent_dirs(path) != 0) {
    if (err && errlen)
      snprintf(err, errlen, "cannot create the directory of %s: %s", path, strerror(errno));
    return CP_EIO;
  }
  char *text = cp_cli_config_dump(cfg);
  if (!text)
    return fail(err, errlen, CP_ENOMEM, "out of memory", NULL);
  size_t len = strlen(text);
  int rc = 0;
  int fd = mkstemp(tmp); /* creates the file with mode 0600 */
  if (fd < 0) {
    if (err && errlen)
      snprintf(err, errlen, "cannot write %s: %s", path, strerror(errno));
    rc = CP_EIO;
    goto out;
  }
  size_t off = 0;
  while (off < len) {
    ssize_t r = write(fd, text + off, len - off);
    if (r < 0 && errno == EINTR)
      continue;
    if (r <= 0)
      break;
    off += (size_t)r;
  }
  if (off < len || write(fd, "\n", 1) != 1 || fchmod(fd, 0600) != 0 || fsync(fd) != 0) {
    if (err && errlen)
      snprintf(err, errlen, "cannot write %s: %s", tmp, strerror(errno));
    rc = CP_EIO;
  }
  close(fd);
  if (rc == 0 && rename(tmp, path) != 0) {
    if (err && errlen)
      snprintf(err, errlen, "cannot replace %s: %s", path, strerror(errno));
    rc = CP_EIO;
  }
  if (rc)
    unlink(tmp);
out:
  OPENSSL_cleanse(text, len);
  free(text);
  return rc;
}

cp_cli_context_t *cp_cli_config_find(cp_cli_config_t *cfg, const char *name) {
  for (size_t i = 0; name && i < cfg->ncontexts; i++)
    if (strcmp(cfg->contexts[i].name, name) == 0)
      return &cfg->contexts[i];
  return NULL;
}

cp_cli_context_t *cp_cli_config_upsert(cp_cli_config_t *cfg, const char *name) {
  cp_cli_context_t *c = cp_cli_config_find(cfg, name);
  if (c)
    return c;
  if (!cp_cli_context_name_valid(name) || cfg->ncontexts == CP_CLI_MAX_CONTEXTS)
    return NULL;
  c = &cfg->contexts[cfg->ncontexts++];
  memset(c, 0, sizeof *c);
  cp_str_copy(c->name, sizeof c->name, name);
  return c;
}

int cp_cli_config_remove(cp_cli_config_t *cfg, const char *name) {
  cp_cli_context_t *c = cp_cli_config_find(cfg, name);
  if (!c)
    return CP_ENOTFOUND;
  if (strcmp(cfg->current, name) == 0)
    cfg->current[0] = '\0';
  size_t i = (size_t)(c - cfg->contexts);
  memmove(c, c + 1, (cfg->ncontexts - i - 1) * sizeof *c);
  cfg->ncontexts--;
  OPENSSL_cleanse(&cfg->contexts[cfg->ncontexts], sizeof *c);
  return 0;
}
