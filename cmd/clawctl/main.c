/* clawctl: the command-line client of the clawplane apiserver, for users and admins.
 *
 * This file is the wiring: global flags, the command table and its help, the config file
 * and the effective context (CLAWCTL_SERVER and CLAWCTL_TOKEN win over the file), and the
 * mapping of a failed call to a message with its fix and an exit code. The commands are in
 * auth.c, runtime.c, account.c and admin.c; what they share with other programs (config,
 * client, tables, prompts) is in lib/cli/. */
#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/output.h"
#include "cli/table.h"
#include "core/error.h"
#include "core/str.h"
#include "ctl.h"

#define VERSION "0.1.0"

static const ctl_cmd_t commands[] = {
    {"login", "clawctl login [--server URL] [--username U] [--password-stdin | --token-stdin]",
     "Logs in and stores the session token in the current context (or the one --context\n"
     "names; a new one is called USER@HOST). Without --password-stdin the password is read\n"
     "from the terminal without echo.",
     ctl_cmd_login},
    {"logout", "clawctl logout", "Ends the session on the server and forgets its token.",
     ctl_cmd_logout},
    {"whoami", "clawctl whoami", "Shows the account the current credentials belong to.",
     ctl_cmd_whoami},
    {"password", "clawctl password [--password-stdin]",
     "Changes your password (asks the current one, then the new one twice). With\n"
     "--password-stdin reads two lines: the current password, then the new one. Your other\n"
     "sessions end.",
     ctl_cmd_password},
    {"config view", "clawctl config view", "Prints the config file, tokens hidden.",
     ctl_cmd_config_view},
    {"config get-contexts", "clawctl config get-contexts",
     "Lists the contexts; * marks the current one.", ctl_cmd_config_get_contexts},
    {"config current-context", "clawctl config current-context",
     "Prints the current context's name.", ctl_cmd_config_current_context},
    {"config use-context", "clawctl config use-context NAME", "Makes NAME the current context.",
     ctl_cmd_config_use_context},
    {"config set-context", "clawctl config set-context NAME [--server URL] [--runtime-url URL]",
     "Creates or changes a context (log in to it with clawctl --context NAME login).",
     ctl_cmd_config_set_context},
    {"config delete-context", "clawctl config delete-context NAME",
     "Removes a context and its token from the file (it does not log out).",
     ctl_cmd_config_delete_context},
    {"status", "clawctl status [--user U]", "Shows your runtime's desired and observed state.",
     ctl_cmd_status},
    {"start", "clawctl start [--user U] [--wait] [--timeout SECONDS]",
     "Starts your runtime (creating it the first time). With --wait follows its progress\n"
     "until it is Ready (exit 0), or fails (exit 5 with the reason), or --timeout (default\n"
     "300) passes (exit 5).",
     ctl_cmd_start},
    {"stop", "clawctl stop [--user U]", "Stops your runtime; its storage stays.", ctl_cmd_stop},
    {"open", "clawctl open [--user U]",
     "Prints your runtime's URL (the context's runtime-url, else USER.HOST of the server).",
     ctl_cmd_open},
    {"events", "clawctl events [--user U] [--timeout SECONDS]",
     "Follows your runtime's status changes as they happen (Ctrl-C ends).", ctl_cmd_events},
    {"usage", "clawctl usage [--user U] [--month YYYY-MM]",
     "Model usage in a month (this one by default) by model, the last twelve months, and your "
     "quota.",
     ctl_cmd_usage},
    {"files ls", "clawctl files ls [PATH] [--user U]",
     "Lists a directory of your runtime's workspace (the root without PATH), or one file.",
     ctl_cmd_files_ls},
    {"files get", "clawctl files get REMOTE [LOCAL|-] [--archive] [--user U]",
     "Downloads a file (streamed; a progress line on a terminal). LOCAL defaults to its\n"
     "name here; - writes to stdout; a directory keeps the name. --archive downloads a\n"
     "directory as a tar archive. The file appears only once complete.",
     ctl_cmd_files_get},
    {"files put", "clawctl files put LOCAL|- [REMOTE] [--overwrite] [--user U]",
     "Uploads a file (streamed; - reads stdin). REMOTE defaults to its name in the\n"
     "workspace root; ending in / puts it into that directory. The upload lands whole or\n"
     "not at all; an existing file is replaced only with --overwrite.",
     ctl_cmd_files_put},
    {"files rm", "clawctl files rm PATH [--recursive] [--user U]",
     "Deletes a file or an empty directory (with --recursive, a directory and its content).",
     ctl_cmd_files_rm},
    {"files mv", "clawctl files mv FROM TO [--overwrite] [--user U]",
     "Moves or renames a file or directory inside the workspace.", ctl_cmd_files_mv},
    {"files mkdir", "clawctl files mkdir PATH [--user U]", "Makes a directory in the workspace.",
     ctl_cmd_files_mkdir},
    {"tokens create", "clawctl tokens create NAME [--ttl-days N] [--user U]",
     "Creates an API token and prints it once (on stdout only).", ctl_cmd_tokens_create},
    {"tokens list", "clawctl tokens list [--user U]", "Lists API tokens (never their values).",
     ctl_cmd_tokens_list},
    {"tokens revoke", "clawctl tokens revoke ID [--user U]", "Revokes an API token.",
     ctl_cmd_tokens_revoke},
    {"users list", "clawctl users list", "Admin: every account with its runtime's phase.",
     ctl_cmd_users_list},
    {"users create", "clawctl users create NAME [--role user|admin] [--password-stdin]",
     "Admin: creates an account (without a password, it can only be used after an\n"
     "invitation or a password set later).",
     ctl_cmd_users_create},
    {"users invite", "clawctl users invite NAME [--role user|admin] [--ttl-hours N]",
     "Admin: invites a new account; prints the invitation token once on stdout. The\n"
     "invitee chooses a password with it (POST /api/v1/invitations/accept).",
     ctl_cmd_users_invite},
    {"users disable", "clawctl users disable NAME",
     "Admin: disables an account: its sessions and tokens end and its runtime stops.",
     ctl_cmd_users_disable},
    {"users enable", "clawctl users enable NAME", "Admin: enables a disabled account.",
     ctl_cmd_users_enable},
    {"users delete", "clawctl users delete NAME [--yes]",
     "Admin: deletes an account for good: its sessions and tokens end, its runtime is\n"
     "deleted (the workspace follows its retainOnDelete). Asks for the name back on a\n"
     "terminal; --yes skips that. Usage and audit history stay.",
     ctl_cmd_users_delete},
    {"runtimes list", "clawctl runtimes list [--phase PHASE]",
     "Admin: every runtime with its phase (filtered by --phase, e.g. Running, Failed).",
     ctl_cmd_runtimes_list},
    {"quota get", "clawctl quota get [USER]",
     "A user's model quota (\"-\": the profile's default).", ctl_cmd_quota_get},
    {"quota set",
     "clawctl quota set USER [--tokens N] [--cost-microusd N] [--rpm N] [--streams N] "
     "[--models A,B]",
     "Admin: changes a user's quota; the value \"default\" goes back to the profile's.",
     ctl_cmd_quota_set},
    {"audit", "clawctl audit [--actor U] [--action A] [--since DURATION|TIME] [--limit N]",
     "Admin: the audit log, newest first. --since takes 30m, 2h, 7d or an RFC 3339 time.",
     ctl_cmd_audit},
};
#define NCOMMANDS (sizeof commands / sizeof commands[0])

static const struct {
  const char *name, *text;
} topics[] = {
    {"exit-codes", "Exit codes:\n"
                   "  0  success\n"
                   "  1  error: the server or the network failed, or a local file\n"
                   "  2  usage: unknown command or flag, missing argument\n"
                   "  3  not found: the user, runtime or token does not exist\n"
                   "  4  auth: not logged in, credentials refused, or admin only\n"
                   "  5  runtime: start --wait saw it fail, or it was not Ready in time\n"},
    {"environment",
     "Environment:\n"
     "  CLAWCTL_SERVER   the apiserver URL; wins over the context's server\n"
     "  CLAWCTL_TOKEN    a bearer token (an API token from clawctl tokens create);\n"
     "                   wins over the context's token, nothing is written to the file\n"
     "  XDG_CONFIG_HOME  the config file is $XDG_CONFIG_HOME/clawctl/config\n"
     "                   (else ~/.config/clawctl/config)\n"},
    {"config",
     "The config file ($XDG_CONFIG_HOME/clawctl/config, else ~/.config/clawctl/config) is\n"
     "JSON written by clawctl with mode 0600:\n"
     "  {\"current-context\": \"alice@cp.example\",\n"
     "   \"contexts\": [{\"name\": \"alice@cp.example\", \"server\": \"https://cp.example\",\n"
     "                 \"user\": \"alice\", \"token\": \"...\", \"runtime-url\": \"\"}]}\n"
     "clawctl refuses a file that group or others can read (it holds tokens): chmod 600.\n"
     "Unknown keys are errors, so a typo is reported, not ignored. At most 32 contexts.\n"},
    {"output", "Output: aligned tables by default; -o json or -o yaml prints the server's\n"
               "answer for scripts. Messages and errors go to stderr.\n"},
};

static void print_usage(FILE *f) {
  fprintf(f,
          "clawctl %s: the command-line client of clawplane\n\n"
          "Usage: clawctl [--context NAME] [-o table|json|yaml] COMMAND [FLAGS]\n\n"
          "Commands:\n",
          VERSION);
  for (size_t i = 0; i < NCOMMANDS; i++) {
    const char *nl = strchr(commands[i].help, '\n');
    int len = nl ? (int)(nl - commands[i].help) : (int)strlen(commands[i].help);
    fprintf(f, "  %-24s %.*s\n", commands[i].name, len, commands[i].help);
  }
  fprintf(f, "  %-24s %s\n", "completion", "Prints a completion script: completion bash|zsh.");
  fprintf(f, "  %-24s %s\n", "version", "Prints clawctl's version.");
  fprintf(f, "\nHelp: clawctl COMMAND --help, clawctl help TOPIC (topics: exit-codes, "
             "environment, config, output)\n");
}

static void print_cmd_help(const ctl_cmd_t *c, FILE *f) {
  fprintf(f, "Usage: %s\n\n%s\n\nGlobal flags: --context NAME, -o table|json|yaml\n", c->usage,
          c->help);
}

static int help(int argc, char **argv) {
  if (argc == 0) {
    print_usage(stdout);
    return EXIT_OK;
  }
  for (size_t i = 0; i < sizeof topics / sizeof topics[0]; i++)
    if (strcmp(argv[0], topics[i].name) == 0) {
      fputs(topics[i].text, stdout);
      return EXIT_OK;
    }
  char want[64];
  snprintf(want, sizeof want, "%s%s%s", argv[0], argc > 1 ? " " : "", argc > 1 ? argv[1] : "");
  for (size_t i = 0; i < NCOMMANDS; i++)
    if (strcmp(commands[i].name, want) == 0 || strcmp(commands[i].name, argv[0]) == 0) {
      print_cmd_help(&commands[i], stdout);
      return EXIT_OK;
    }
  fprintf(stderr, "clawctl: no help topic \"%s\"; see clawctl help\n", argv[0]);
  return EXIT_USAGE;
}

const char *ctl_opt(const ctl_opt_t *opts, size_t nopts, const char *name) {
  for (size_t i = 0; i < nopts; i++)
    if (strcmp(opts[i].name, name) == 0)
      return opts[i].value;
  return NULL;
}

int ctl_parse(ctl_t *ctl, int argc, char **argv, ctl_opt_t *opts, size_t nopts, char **pos,
              size_t minpos, size_t maxpos) {
  const ctl_cmd_t *cmd = ctl->cmd;
  size_t npos = 0;
  for (int i = 0; i < argc; i++) {
    const char *a = argv[i];
    if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
      print_cmd_help(cmd, stdout);
      return -1;
    }
    if (strncmp(a, "--", 2) != 0 || a[2] == '\0') {
      if (npos == maxpos) {
        fprintf(stderr, "clawctl %s: unexpected argument \"%s\"\nUsage: %s\n", cmd->name, a,
                cmd->usage);
        return EXIT_USAGE;
      }
      pos[npos++] = argv[i];
      continue;
    }
    const char *eq = strchr(a, '=');
    size_t nlen = eq ? (size_t)(eq - a) : strlen(a);
    ctl_opt_t *o = NULL;
    for (size_t j = 0; j < nopts; j++)
      if (strlen(opts[j].name) == nlen && strncmp(opts[j].name, a, nlen) == 0)
        o = &opts[j];
    if (!o) {
      fprintf(stderr, "clawctl %s: unknown flag %.*s\nUsage: %s\n", cmd->name, (int)nlen, a,
              cmd->usage);
      return EXIT_USAGE;
    }
    if (!o->has_arg) {
      if (eq) {
        fprintf(stderr, "clawctl %s: %s takes no value\n", cmd->name, o->name);
        return EXIT_USAGE;
      }
      o->value = "";
    } else if (eq) {
      o->value = eq + 1;
    } else if (i + 1 < argc) {
      o->value = argv[++i];
    } else {
      fprintf(stderr, "clawctl %s: %s needs a value\nUsage: %s\n", cmd->name, o->name, cmd->usage);
      return EXIT_USAGE;
    }
  }
  if (npos < minpos) {
    fprintf(stderr, "clawctl %s: missing argument\nUsage: %s\n", cmd->name, cmd->usage);
    return EXIT_USAGE;
  }
  for (size_t i = npos; i < maxpos; i++)
    pos[i] = NULL;
  return 0;
}

int ctl_save(ctl_t *ctl) {
  char err[1400];
  if (cp_cli_config_save(ctl->cfg, ctl->cfg_path, err, sizeof err) != 0) {
    fprintf(stderr, "clawctl: %s\n", err);
    return EXIT_ERROR;
  }
  return 0;
}

int ctl_connect(ctl_t *ctl) {
  if (!ctl->ctx.server[0]) {
    fprintf(stderr, "clawctl: no server configured. Log in first: clawctl login --server URL "
                    "(or set CLAWCTL_SERVER)\n");
    return EXIT_AUTH;
  }
  if (!ctl->ctx.token[0]) {
    fprintf(stderr, "clawctl: not logged in to %s. Log in: clawctl login (or set CLAWCTL_TOKEN)\n",
            ctl->ctx.server);
    return EXIT_AUTH;
  }
  if (!ctl->client && cp_cli_client_new(ctl->ctx.server, ctl->ctx.token, &ctl->client) != 0) {
    fprintf(stderr, "clawctl: out of memory\n");
    return EXIT_ERROR;
  }
  return 0;
}

int ctl_fail(ctl_t *ctl, const char *what, int rc, const cp_cli_status_t *st) {
  const char *msg = st && st->message[0] ? st->message : cp_strerror(rc);
  switch (rc) {
  case CP_EUNAUTHORIZED:
    fprintf(stderr,
            "clawctl: %s: the server refused the credentials (%s): the session expired or was "
            "revoked. Log in again: clawctl login\n",
            what, msg);
    return EXIT_AUTH;
  case CP_EFORBIDDEN:
    fprintf(stderr,
            "clawctl: %s: not allowed (%s). This needs an admin account, or your own "
            "user only.\n",
            what, msg);
    return EXIT_AUTH;
  case CP_ENOTFOUND:
    fprintf(stderr, "clawctl: %s: %s\n", what, msg);
    return EXIT_NOTFOUND;
  case CP_ECONNECT:
  case CP_ETLS:
    fprintf(stderr,
            "clawctl: %s: cannot reach the apiserver (%s). Check the server: clawctl "
            "config get-contexts, or --server / CLAWCTL_SERVER.\n",
            what, msg);
    return EXIT_ERROR;
  case CP_ETHROTTLED:
    fprintf(stderr, "clawctl: %s: too many requests (%s); try again in a minute\n", what, msg);
    return EXIT_ERROR;
  case CP_EUNAVAILABLE:
    fprintf(stderr, "clawctl: %s: the apiserver is unavailable (%s); try again shortly\n", what,
            msg);
    return EXIT_ERROR;
  case CP_EBADREQUEST:
  case CP_EINVALID:
  case CP_ECONFLICT:
    fprintf(stderr, "clawctl: %s: the server refused it: %s\n", what, msg);
    return EXIT_ERROR;
  default:
    fprintf(stderr, "clawctl: %s: %s\n", what, msg);
    return EXIT_ERROR;
  }
  (void)ctl;
}

int ctl_call(ctl_t *ctl, const char *what, const char *method, const char *path, const cJSON *body,
             cJSON **out) {
  int e = ctl_connect(ctl);
  if (e)
    return e;
  cp_cli_status_t st;
  int rc = cp_cli_call(ctl->client, method, path, body, out, &st);
  return rc ? ctl_fail(ctl, what, rc, &st) : 0;
}

int ctl_print_structured(ctl_t *ctl, const cJSON *v) {
  if (ctl->output == OUT_JSON)
    cp_cli_print_json(stdout, v);
  else if (ctl->output == OUT_YAML)
    cp_cli_print_yaml(stdout, v);
  else
    return 0;
  return 1;
}

int ctl_user_path(const char *user, char *buf, size_t n) {
  if (!user || !user[0])
    return cp_cli_escape("me", buf, n);
  return cp_cli_escape(user, buf, n);
}

const char *ctl_str(const cJSON *obj, const char *key, char *buf, size_t n) {
  const cJSON *v = obj ? cJSON_GetObjectItemCaseSensitive(obj, key) : NULL;
  buf[0] = '\0';
  if (cJSON_IsString(v))
    cp_str_copy(buf, n, v->valuestring);
  else if (cJSON_IsNumber(v))
    snprintf(buf, n, "%.0f", v->valuedouble);
  else if (cJSON_IsBool(v))
    snprintf(buf, n, "%s", cJSON_IsTrue(v) ? "true" : "false");
  return buf;
}

/* The context in use: --context, else the file's current one; then the environment. */
static int resolve_context(ctl_t *ctl) {
  char err[1400];
  int rc = cp_cli_config_load(ctl->cfg_path, &ctl->cfg, err, sizeof err);
  if (rc) {
    fprintf(stderr, "clawctl: %s\n", err);
    return EXIT_ERROR;
  }
  const char *name = ctl->context_flag ? ctl->context_flag : ctl->cfg->current;
  cp_cli_context_t *c = name && name[0] ? cp_cli_config_find(ctl->cfg, name) : NULL;
  if (ctl->context_flag && !c && !cp_cli_context_name_valid(ctl->context_flag)) {
    fprintf(stderr, "clawctl: invalid context name \"%s\" (1-63 letters, digits or ._@:-)\n",
            ctl->context_flag);
    return EXIT_USAGE;
  }
  if (c) {
    ctl->ctx = *c;
    ctl->have_ctx = 1;
  } else if (ctl->context_flag) {
    cp_str_copy(ctl->ctx.name, sizeof ctl->ctx.name, ctl->context_flag);
  }
  const char *server = getenv("CLAWCTL_SERVER"), *token = getenv("CLAWCTL_TOKEN");
  if (server && server[0]) {
    if (!cp_cli_server_valid(server)) {
      fprintf(stderr, "clawctl: CLAWCTL_SERVER is not an http(s):// URL\n");
      return EXIT_USAGE;
    }
    if (strcmp(server, ctl->ctx.server) != 0)
      ctl->ctx.token[0] = '\0'; /* never send one server's token to another */
    cp_str_copy(ctl->ctx.server, sizeof ctl->ctx.server, server);
  }
  if (token && token[0]) {
    if (strlen(token) >= sizeof ctl->ctx.token) {
      fprintf(stderr, "clawctl: CLAWCTL_TOKEN is too long\n");
      return EXIT_USAGE;
    }
    cp_str_copy(ctl->ctx.token, sizeof ctl->ctx.token, token);
  }
  return 0;
}

int main(int argc, char **argv) {
  ctl_t ctl = {0};
  ctl.stdout_tty = isatty(STDOUT_FILENO);
  ctl.stderr_tty = isatty(STDERR_FILENO);
  char **args = calloc((size_t)argc + 1, sizeof *args);
  if (!args)
    return EXIT_ERROR;
  int n = 0, rc;
  /* Global flags may come anywhere before "--"; everything else is the command's. */
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i], *val = NULL;
    if (strcmp(a, "-o") == 0 || strcmp(a, "--output") == 0 || strcmp(a, "--context") == 0) {
      if (i + 1 >= argc) {
        fprintf(stderr, "clawctl: %s needs a value\n", a);
        free(args);
        return EXIT_USAGE;
      }
      val = argv[++i];
    } else if (strncmp(a, "--output=", 9) == 0 || strncmp(a, "-o=", 3) == 0) {
      val = strchr(a, '=') + 1;
    } else if (strncmp(a, "--context=", 10) == 0) {
      val = a + 10;
    } else {
      args[n++] = argv[i];
      continue;
    }
    if (strncmp(a, "--context", 9) == 0) {
      ctl.context_flag = val;
    } else if (strcmp(val, "table") == 0) {
      ctl.output = OUT_TABLE;
    } else if (strcmp(val, "json") == 0) {
      ctl.output = OUT_JSON;
    } else if (strcmp(val, "yaml") == 0) {
      ctl.output = OUT_YAML;
    } else {
      fprintf(stderr, "clawctl: unknown output format \"%s\" (table, json or yaml)\n", val);
      free(args);
      return EXIT_USAGE;
    }
  }
  if (n == 0 || strcmp(args[0], "--help") == 0 || strcmp(args[0], "-h") == 0) {
    print_usage(n == 0 ? stderr : stdout);
    free(args);
    return n == 0 ? EXIT_USAGE : EXIT_OK;
  }
  if (strcmp(args[0], "version") == 0 || strcmp(args[0], "--version") == 0) {
    printf("clawctl %s\n", VERSION);
    free(args);
    return EXIT_OK;
  }
  if (strcmp(args[0], "help") == 0) {
    rc = help(n - 1, args + 1);
    free(args);
    return rc;
  }
  if (strcmp(args[0], "completion") == 0) {
    const char *names[sizeof topics / sizeof topics[0]];
    for (size_t i = 0; i < sizeof topics / sizeof topics[0]; i++)
      names[i] = topics[i].name;
    rc =
        ctl_completion(n - 1, args + 1, commands, NCOMMANDS, names, sizeof names / sizeof names[0]);
    free(args);
    return rc;
  }
  const ctl_cmd_t *cmd = NULL;
  int words = 0;
  for (size_t i = 0; i < NCOMMANDS && !cmd; i++) {
    const char *sp = strchr(commands[i].name, ' ');
    if (!sp && strcmp(commands[i].name, args[0]) == 0) {
      cmd = &commands[i];
      words = 1;
    } else if (sp && n > 1 &&
               strncmp(commands[i].name, args[0], (size_t)(sp - commands[i].name)) == 0 &&
               args[0][sp - commands[i].name] == '\0' && strcmp(sp + 1, args[1]) == 0) {
      cmd = &commands[i];
      words = 2;
    }
  }
  if (!cmd) {
    int group = 0;
    for (size_t i = 0; i < NCOMMANDS; i++) {
      const char *sp = strchr(commands[i].name, ' ');
      if (sp && strncmp(commands[i].name, args[0], (size_t)(sp - commands[i].name)) == 0 &&
          args[0][sp - commands[i].name] == '\0') {
        if (!group)
          fprintf(stderr, "clawctl %s: needs a subcommand:\n", args[0]);
        group = 1;
        fprintf(stderr, "  %s\n", commands[i].usage);
      }
    }
    if (!group)
      fprintf(stderr, "clawctl: unknown command \"%s\"; see clawctl --help\n", args[0]);
    free(args);
    return EXIT_USAGE;
  }
  if (cp_cli_config_path(ctl.cfg_path, sizeof ctl.cfg_path) != 0) {
    fprintf(stderr, "clawctl: cannot place the config file: set HOME or XDG_CONFIG_HOME\n");
    free(args);
    return EXIT_ERROR;
  }
  /* --help needs no config: let the command print it before anything is loaded. */
  int wants_help = 0;
  for (int i = words; i < n; i++)
    if (strcmp(args[i], "--help") == 0 || strcmp(args[i], "-h") == 0)
      wants_help = 1;
  if (wants_help) {
    print_cmd_help(cmd, stdout);
    free(args);
    return EXIT_OK;
  }
  rc = resolve_context(&ctl);
  if (rc == 0) {
    ctl.cmd = cmd;
    rc = cmd->run(&ctl, n - words, args + words);
  }
  cp_cli_client_free(ctl.client);
  cp_cli_config_free(ctl.cfg);
  OPENSSL_cleanse(&ctl.ctx, sizeof ctl.ctx);
  free(args);
  return rc < 0 ? EXIT_OK : rc;
}
