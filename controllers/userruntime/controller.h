/* The UserRuntime controller: one descriptor for the command to run.
 *
 * It watches UserRuntimes and RuntimeProfiles, and the Pods, Services, NetworkPolicies,
 * PVCs and Secrets it made (label app.kubernetes.io/managed-by=clawplane), queues the
 * owning runtime's key on any change, and reconciles keys on a pool of worker threads,
 * each with its own keep-alive API client. Reconcile is idempotent and compares the
 * desired children and status with the cache first, so at steady state it writes nothing.
 */
#ifndef CP_CONTROLLERS_USERRUNTIME_CONTROLLER_H
#define CP_CONTROLLERS_USERRUNTIME_CONTROLLER_H

#include "kube/config.h"
#include "kube/workqueue.h"
#include "metrics/metrics.h"
#include "userruntime/desired.h"

#include <stdatomic.h>
#include <stdint.h>

#define CP_UR_FIELD_MANAGER "clawplane-controller"
#define CP_UR_MANAGED_SELECTOR "app.kubernetes.io/managed-by=clawplane"

typedef struct cp_ur_controller_s cp_ur_controller_t;

typedef struct cp_ur_controller_opts_s {
  const char *namespace_;    /* watch one namespace; NULL = all */
  int workers;               /* reconcile threads; default 4 */
  double resync;             /* seconds between full requeues; default 600; < 0 off */
  long page_size;            /* objects per LIST page (items stream in); default 500 */
  double qps;                /* per-client API rate limit; default 50 */
  int burst;                 /* default 100 */
  double recreate_base;      /* backoff before recreating a failed pod; default 1 s */
  double recreate_max;       /* cap on that backoff; default 300 s */
  cp_desired_opts_t desired; /* passed to the builders */
  cp_metrics_t *metrics;     /* where to register controller-runtime metrics; NULL: none */
} cp_ur_controller_opts_t;

typedef struct cp_ur_controller_stats_s {
  uint64_t reconciles; /* finished reconciles */
  uint64_t errors;     /* of which failed */
  uint64_t requests;   /* API requests made by reconciles */
  uint64_t writes;     /* of which writes (POST/PUT/PATCH/DELETE) */
  cp_workqueue_stats_t queue;
} cp_ur_controller_stats_t;

/* Creates a stopped controller. cfg is copied from (each informer and worker makes its own
 * client). Returns 0, CP_ENOMEM or a client error. */
int cp_ur_controller_new(const cp_kubeconfig_t *cfg, const cp_ur_controller_opts_t *opts,
                         cp_ur_controller_t **out);

/* Starts the informers (at once: a standby keeps its caches warm). Returns 0 or an error. */
int cp_ur_controller_start_informers(cp_ur_controller_t *c);

/* 1 once every informer has listed, else 0. Any thread. */
int cp_ur_controller_synced(cp_ur_controller_t *c);

/* Starts the workers and the resync timer (when this replica leads). Returns 0 or an
 * error. Workers wait for the caches to sync before the first reconcile. */
int cp_ur_controller_start_workers(cp_ur_controller_t *c);

/* Fills a snapshot of the counters. Any thread. */
void cp_ur_controller_stats(cp_ur_controller_t *c, cp_ur_controller_stats_t *st);

/* Stops workers and informers and waits for them. Safe to call twice. */
void cp_ur_controller_stop(cp_ur_controller_t *c);

/* Stops and frees. Accepts NULL. */
void cp_ur_controller_free(cp_ur_controller_t *c);

#endif
