/* Where the Kubernetes API is and how to authenticate to it.
 *
 * A cp_kubeconfig_t is immutable once loaded and may be shared by any number of threads
 * and clients. Credentials are kept in memory only: files named by the kubeconfig are read
 * at load time (certs, keys, CA) and handed to libcurl as blobs, never copied to disk.
 * The one exception is a token file (in-cluster service account, or `tokenFile:` in a
 * kubeconfig): its path is kept so each client re-reads it when it rotates.
 *
 * Sources, in the order cp_kubeconfig_load_default tries them:
 *   1. paths (a ':'-separated list, like $KUBECONFIG), if given;
 *   2. $KUBECONFIG;
 *   3. in-cluster service account, if $KUBERNETES_SERVICE_HOST is set;
 *   4. ~/.kube/config.
 * With several files, merging follows kubectl: for each named cluster, user and context
 * (and current-context) the first file that defines it wins.
 */
#ifndef CP_KUBE_CONFIG_H
#define CP_KUBE_CONFIG_H

#include <stdbool.h>
#include <stddef.h>

typedef struct cp_blob_s {
  char *data; /* PEM bytes, NUL-terminated for convenience; NULL when absent */
  size_t len; /* length without the terminator */
} cp_blob_t;

typedef struct cp_kubeconfig_s {
  char *server;          /* "https://host:port" with no trailing slash; never NULL */
  char *context;         /* context name used ("in-cluster" for the service account) */
  char *namespace_;      /* namespace of the context, or of the service account; "default" */
  cp_blob_t ca;          /* certificate-authority(-data); absent: system trust store */
  cp_blob_t client_cert; /* client-certificate(-data) */
  cp_blob_t client_key;  /* client-key(-data); present iff client_cert is */
  char *token;           /* static bearer token, or NULL */
  char *token_file;      /* bearer token re-read on rotation, or NULL; when both are set,
                            the file's current contents win (as in client-go) */
  char *tls_server_name; /* overrides SNI / hostname verification, or NULL */
  bool insecure_skip_tls_verify;
} cp_kubeconfig_t;

/* Parses one kubeconfig document (YAML or JSON) of len bytes, selecting `context` (NULL
 * means its current-context). Relative file paths inside it resolve against base_dir
 * (NULL: the current directory); the files are read now.
 * Returns 0 with *out set (caller frees with cp_kubeconfig_free), or CP_ECONFIG /
 * CP_EPARSE / CP_EIO / CP_ETOOBIG / CP_ENOMEM with a sentence naming the problem in err
 * (e.g. "context \"dev\" refers to user \"bob\" which is not defined"); err may be NULL.
 * On failure *out is untouched. Inputs and kubeconfig-named files are capped at 1 MiB.
 * Thread-safe. */
int cp_kubeconfig_parse(const char *data, size_t len, const char *context, const char *base_dir,
                        cp_kubeconfig_t **out, char *err, size_t errlen);

/* Loads and merges the ':'-separated list of kubeconfig files in paths, then selects
 * `context` (NULL = current-context). Missing files in a list are skipped, as kubectl does,
 * but a list in which no file exists is CP_ECONFIG. Same returns as cp_kubeconfig_parse;
 * messages name the file an entry came from. Thread-safe. */
int cp_kubeconfig_load(const char *paths, const char *context, cp_kubeconfig_t **out, char *err,
                       size_t errlen);

/* Builds a config from the in-cluster service account: $KUBERNETES_SERVICE_HOST/_PORT and
 * the files under root (NULL means "/var/run/secrets/kubernetes.io/serviceaccount"):
 * token (kept as token_file; must be readable and non-empty now), ca.crt (required),
 * namespace (optional, default "default"). An IPv6 host is bracketed in server.
 * Same returns as above. Reads the environment: do not race it with setenv. */
int cp_kubeconfig_in_cluster(const char *root, cp_kubeconfig_t **out, char *err, size_t errlen);

/* Tries the sources in the order given at the top of this file. paths and context may be
 * NULL; with a context given, the in-cluster source is skipped (it has no contexts).
 * Same returns as above. Reads the environment: do not race it with setenv. */
int cp_kubeconfig_load_default(const char *paths, const char *context, cp_kubeconfig_t **out,
                               char *err, size_t errlen);

/* Frees the config and wipes the key and token bytes (and the other blobs) first.
 * Accepts NULL. No other thread may still be using cfg. */
void cp_kubeconfig_free(cp_kubeconfig_t *cfg);

#endif
