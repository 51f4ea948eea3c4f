/* clawctl's configuration file: the servers a user talks to ("contexts", as in kubectl)
 * and which one is current.
 *
 * The file is JSON, `$XDG_CONFIG_HOME/clawctl/config` (else `~/.config/clawctl/config`):
 *
 *   {"current-context": "dev",
 *    "contexts": [{"name": "dev", "server": "https://clawplane.example",
 *                  "user": "alice", "token": "cpt_...", "runtime-url": ""}]}
 *
 * The parser is strict and bounded: the whole file at most CP_CLI_CONFIG_MAX bytes, no
 * unknown or duplicate keys, every field of the right type and within its size, names
 * unique, servers http(s) URLs, the current context one that exists. It holds tokens, so
 * loading refuses a file that others may read (like ssh), and saving writes a new file of
 * mode 0600 and renames it over the old one. Nothing here prints or logs a token.
 */
#ifndef CP_CLI_CONFIG_H
#define CP_CLI_CONFIG_H

#include <stddef.h>

#define CP_CLI_CONFIG_MAX (64 * 1024)
#define CP_CLI_MAX_CONTEXTS 32

typedef struct cp_cli_context_s {
  char name[64];
  char server[512];      /* http(s)://host[:port], no trailing slash */
  char user[64];         /* username the token belongs to; "" before login */
  char token[512];       /* bearer token; "" when logged out */
  char runtime_url[512]; /* optional: the user's runtime URL when it cannot be derived */
} cp_cli_context_t;

typedef struct cp_cli_config_s {
  char current[64]; /* "" when none */
  size_t ncontexts;
  cp_cli_context_t contexts[CP_CLI_MAX_CONTEXTS];
} cp_cli_config_t;

/* Parses len bytes. Returns 0 and a new config in *out (free with cp_cli_config_free), or
 * CP_EPARSE/CP_ETOOBIG/CP_ENOMEM with a message naming the problem in err. */
int cp_cli_config_parse(const char *data, size_t len, cp_cli_config_t **out, char *err,
                        size_t errlen);

/* A new, empty config (no contexts). NULL on ENOMEM. */
cp_cli_config_t *cp_cli_config_new(void);

/* Accepts NULL. Clears the tokens before freeing. */
void cp_cli_config_free(cp_cli_config_t *cfg);

/* Writes the config file's path into buf: $XDG_CONFIG_HOME/clawctl/config when that is an
 * absolute path, else $HOME/.config/clawctl/config. Returns 0, or CP_ECONFIG when neither
 * is set, CP_ETOOBIG when the path does not fit. */
int cp_cli_config_path(char *buf, size_t n);

/* Loads the file at path. A missing file is an empty config. Refuses (CP_ECONFIG) a file
 * that is not a regular file, not the caller's, or readable or writable by group or
 * others, with the chmod that fixes it in err. Other returns as cp_cli_config_parse, or
 * CP_EIO. */
int cp_cli_config_load(const char *path, cp_cli_config_t **out, char *err, size_t errlen);

/* Serializes cfg as JSON into a new heap string (the caller frees it, after clearing it:
 * it holds tokens). NULL on ENOMEM. */
char *cp_cli_config_dump(const cp_cli_config_t *cfg);

/* Writes cfg to path: creates the directory (0700) if needed, writes a temporary file of
 * mode 0600 beside it and renames it over path. Returns 0 or CP_EIO/CP_ENOMEM with err. */
int cp_cli_config_save(const cp_cli_config_t *cfg, const char *path, char *err, size_t errlen);

/* The context named name, or NULL. The pointer is into cfg. */
cp_cli_context_t *cp_cli_config_find(cp_cli_config_t *cfg, const char *name);

/* The context named name, added (empty but for its name) if missing. NULL when name is not
 * a valid context name or the config is full. */
cp_cli_context_t *cp_cli_config_upsert(cp_cli_config_t *cfg, const char *name);

/* Removes the context named name; clears current if it was current. Returns 0 or
 * CP_ENOTFOUND. */
int cp_cli_config_remove(cp_cli_config_t *cfg, const char *name);

/* 1 if s is a valid context name: 1..63 of [A-Za-z0-9._@:-]. */
int cp_cli_context_name_valid(const char *s);

/* 1 if s is an http:// or https:// URL of at most 511 bytes without spaces or controls. */
int cp_cli_server_valid(const char *s);

#endif
