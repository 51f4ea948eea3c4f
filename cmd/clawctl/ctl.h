/* clawctl's wiring shared by its command files: the parsed global flags, the loaded
 * config and effective context, flag parsing, and turning a failed call into the message
 * and exit code a user sees. */
#ifndef CLAWCTL_CTL_H
#define CLAWCTL_CTL_H

#include <cjson/cJSON.h>
#include <stddef.h>

#include "cli/client.h"
#include "cli/config.h"

/* Exit codes (clawctl help exit-codes). */
enum {
  EXIT_OK = 0,
  EXIT_ERROR = 1,    /* the server or the network failed, or a local file */
  EXIT_USAGE = 2,    /* bad flags or arguments */
  EXIT_NOTFOUND = 3, /* the user, runtime or token does not exist */
  EXIT_AUTH = 4,     /* not logged in, credentials refused, or not allowed (admin only) */
  EXIT_RUNTIME = 5,  /* start --wait: the runtime failed, or was not Ready in time */
};

typedef enum { OUT_TABLE, OUT_JSON, OUT_YAML } ctl_output_t;

typedef struct ctl_s {
  const struct ctl_cmd_s *cmd; /* the command being run */
  ctl_output_t output;
  const char *context_flag; /* --context */
  char cfg_path[1024];
  cp_cli_config_t *cfg;
  cp_cli_context_t ctx; /* effective: the context plus CLAWCTL_SERVER/CLAWCTL_TOKEN */
  int have_ctx;
  cp_cli_client_t *client;
  int stdout_tty, stderr_tty;
} ctl_t;

/* One flag a command accepts: "--name" (has_arg: takes a value). */
typedef struct ctl_opt_s {
  const char *name;
  int has_arg;
  const char *value; /* set by ctl_parse: the value, or "" for a plain flag; NULL: absent */
} ctl_opt_t;

typedef struct ctl_cmd_s {
  const char *name; /* "start", "tokens create" */
  const char *usage;
  const char *help;
  int (*run)(ctl_t *ctl, int argc, char **argv);
} ctl_cmd_t;

/* Parses argv (after the command words) into opts and positionals (at most maxpos; exactly
 * between minpos and maxpos). Prints the problem and returns EXIT_USAGE, or 0. "--help"
 * prints the command's help and returns -1 (the caller exits 0). */
int ctl_parse(ctl_t *ctl, int argc, char **argv, ctl_opt_t *opts, size_t nopts, char **pos,
              size_t minpos, size_t maxpos);

/* The value of the flag named name, or NULL. */
const char *ctl_opt(const ctl_opt_t *opts, size_t nopts, const char *name);

/* Makes ctl->client for the effective context, requiring a token. Prints why not (and
 * the fix) and returns an exit code, or 0. */
int ctl_connect(ctl_t *ctl);

/* Prints what went wrong for a failed call (what, rc, st) with the fix, returns the exit
 * code. */
int ctl_fail(ctl_t *ctl, const char *what, int rc, const cp_cli_status_t *st);

/* cp_cli_call on ctl->client; on failure ctl_fail(what) and returns the exit code.
 * *out as cp_cli_call. */
int ctl_call(ctl_t *ctl, const char *what, const char *method, const char *path, const cJSON *body,
             cJSON **out);

/* Prints a JSON answer for -o json / -o yaml. Returns 1 if it did (the caller is done). */
int ctl_print_structured(ctl_t *ctl, const cJSON *v);

/* Writes the config back to its file. Prints the problem and returns EXIT_ERROR, or 0. */
int ctl_save(ctl_t *ctl);

/* clawctl completion bash|zsh (argv after "completion"): prints the script generated from
 * cmds and the help topics' names. Returns the exit code. */
int ctl_completion(int argc, char **argv, const ctl_cmd_t *cmds, size_t n,
                   const char *const *topics, size_t ntopics);

/* The user a command acts on: --user's value escaped, or "me". */
int ctl_user_path(const char *user, char *buf, size_t n);

/* A cJSON member as text for a table cell: strings as they are, numbers, booleans, "" for
 * null or absent. buf holds the result. */
const char *ctl_str(const cJSON *obj, const char *key, char *buf, size_t n);

/* Commands, by file. */
int ctl_cmd_login(ctl_t *, int, char **);
int ctl_cmd_logout(ctl_t *, int, char **);
int ctl_cmd_whoami(ctl_t *, int, char **);
int ctl_cmd_password(ctl_t *, int, char **);
int ctl_cmd_config_view(ctl_t *, int, char **);
int ctl_cmd_config_get_contexts(ctl_t *, int, char **);
int ctl_cmd_config_current_context(ctl_t *, int, char **);
int ctl_cmd_config_use_context(ctl_t *, int, char **);
int ctl_cmd_config_set_context(ctl_t *, int, char **);
int ctl_cmd_config_delete_context(ctl_t *, int, char **);
int ctl_cmd_status(ctl_t *, int, char **);
int ctl_cmd_start(ctl_t *, int, char **);
int ctl_cmd_stop(ctl_t *, int, char **);
int ctl_cmd_open(ctl_t *, int, char **);
int ctl_cmd_events(ctl_t *, int, char **);
int ctl_cmd_usage(ctl_t *, int, char **);
int ctl_cmd_tokens_create(ctl_t *, int, char **);
int ctl_cmd_tokens_list(ctl_t *, int, char **);
int ctl_cmd_tokens_revoke(ctl_t *, int, char **);
int ctl_cmd_users_list(ctl_t *, int, char **);
int ctl_cmd_users_create(ctl_t *, int, char **);
int ctl_cmd_users_invite(ctl_t *, int, char **);
int ctl_cmd_users_disable(ctl_t *, int, char **);
int ctl_cmd_users_enable(ctl_t *, int, char **);
int ctl_cmd_users_delete(ctl_t *, int, char **);
int ctl_cmd_runtimes_list(ctl_t *, int, char **);
int ctl_cmd_quota_get(ctl_t *, int, char **);
int ctl_cmd_quota_set(ctl_t *, int, char **);
int ctl_cmd_audit(ctl_t *, int, char **);
int ctl_cmd_files_ls(ctl_t *, int, char **);
int ctl_cmd_files_get(ctl_t *, int, char **);
int ctl_cmd_files_put(ctl_t *, int, char **);
int ctl_cmd_files_rm(ctl_t *, int, char **);
int ctl_cmd_files_mv(ctl_t *, int, char **);
int ctl_cmd_files_mkdir(ctl_t *, int, char **);

#endif
