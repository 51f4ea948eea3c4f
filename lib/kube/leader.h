/* Leader election on a coordination.k8s.io/v1 Lease, as client-go does it.
 *
 * Candidates race to write their identity into the Lease with optimistic concurrency
 * (the resourceVersion of what they read). A holder renews every retry_period; others
 * take over only after they have seen the same record unchanged for lease_duration by
 * their own clock (so clock skew between machines does not matter). A leader that cannot
 * renew within renew_deadline steps down. On a clean stop the leader releases the Lease
 * (empty holder, 1 s duration) so a standby takes over at once,
 * if release_on_stop is set; otherwise standbys wait for the lease to expire.
 *
 * cp_leader_run blocks; run it on its own thread with its own client.
 */
#ifndef CP_KUBE_LEADER_H
#define CP_KUBE_LEADER_H

#include "kube/client.h"

#include <stdatomic.h>
#include <stdbool.h>

typedef struct cp_leader_opts_s {
  const char *namespace_;       /* Lease namespace */
  const char *name;             /* Lease name */
  const char *identity;         /* this candidate, e.g. the pod name; unique */
  double lease_duration;        /* seconds; default 15 */
  double renew_deadline;        /* seconds; default 10 */
  double retry_period;          /* seconds; default 2 */
  bool release_on_stop;         /* on a clean stop, hand the Lease over at once */
  void (*on_started)(void *ud); /* called on this thread once leadership is won */
  void (*on_stopped)(void *ud); /* called on this thread when leadership ends, if it began */
  /* Called on this thread when an attempt fails with an API error (not when another
   * candidate validly holds the Lease), so the caller can log why it is not leading. */
  void (*on_error)(int rc, const cp_status_t *st, void *ud);
  void *ud;
} cp_leader_opts_t;

/* Campaigns, then holds the Lease until *stop is set (returns 0 after releasing it) or
 * renewal fails for renew_deadline (returns CP_ETIMEOUT: the caller should stop acting as
 * leader, typically by exiting). Returns CP_EINVAL for missing options. The last API
 * failure, if any, is in st. */
int cp_leader_run(cp_kube_client_t *c, const cp_leader_opts_t *opts, atomic_bool *stop,
                  cp_status_t *st);

/* 1 while this process holds the lease (for metrics and /readyz). Thread-safe. */
int cp_leader_is_leader(void);

#endif
