/* Status computation: pod classification as kubectl users read it, "no write when nothing
 * changed", and lastTransitionTime kept while a condition's status holds. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>

#include "json/json.h"
#include "userruntime/status.h"

static cp_pod_obs_t observe(const char *json) {
  cJSON *pod = cJSON_Parse(json);
  assert_non_null(pod);
  cp_pod_obs_t o;
  cp_ur_observe_pod(pod, &o);
  cJSON_Delete(pod);
  return o;
}

static void classifies_pods(void **state) {
  (void)state;
  cp_pod_obs_t o;
  cp_ur_observe_pod(NULL, &o);
  assert_int_equal(o.state, CP_POD_NONE);

  o = observe("{\"metadata\":{\"annotations\":{\"clawplane.io/spec-hash\":\"abc\"}},\"status\":"
              "{\"phase\":\"Running\",\"conditions\":[{\"type\":\"Ready\",\"status\":\"True\","
              "\"lastTransitionTime\":\"2026-11-22T02:00:00Z\"}]}}");
  assert_int_equal(o.state, CP_POD_READY);
  assert_string_equal(o.ready_since, "2026-11-22T02:00:00Z");
  assert_string_equal(o.hash, "abc");

  o = observe("{\"status\":{\"phase\":\"Running\",\"containerStatuses\":[{\"state\":{\"waiting\":"
              "{\"reason\":\"CrashLoopBackOff\",\"message\":\"back-off 5m0s\"}}}]}}");
  assert_int_equal(o.state, CP_POD_STUCK);
  assert_string_equal(o.reason, "CrashLoopBackOff");
  assert_string_equal(o.message, "back-off 5m0s");

  /* An init container that keeps failing: the pod is stuck, and the message is what the
   * container said last (its log tail), not the kubelet's back-off line. */
  o = observe(
      "{\"status\":{\"phase\":\"Pending\",\"initContainerStatuses\":[{\"name\":"
      "\"model-check\",\"state\":{\"waiting\":{\"reason\":\"CrashLoopBackOff\","
      "\"message\":\"back-off 20s\"}},\"lastState\":{\"terminated\":{\"exitCode\":1,"
      "\"message\":\"model proxy http://x.invalid/v1 unreachable: ENOTFOUND\\n\"}}}],"
      "\"containerStatuses\":[{\"state\":{\"waiting\":{\"reason\":\"PodInitializing\"}}}]}}");
  assert_int_equal(o.state, CP_POD_STUCK);
  assert_string_equal(o.reason, "CrashLoopBackOff");
  assert_string_equal(o.message,
                      "init container model-check: model proxy http://x.invalid/v1 unreachable: "
                      "ENOTFOUND");

  o = observe("{\"status\":{\"phase\":\"Pending\",\"containerStatuses\":[{\"state\":{\"waiting\":"
              "{\"reason\":\"ContainerCreating\"}}}]}}");
  assert_int_equal(o.state, CP_POD_STARTING); /* not every waiting reason is a failure */

  o = observe("{\"status\":{\"phase\":\"Pending\",\"conditions\":[{\"type\":\"PodScheduled\","
              "\"status\":\"False\",\"reason\":\"Unschedulable\",\"message\":\"0/3 nodes are "
              "available: 3 node(s) didn't match Pod's node affinity/selector.\"}]}}");
  assert_int_equal(o.state, CP_POD_STUCK);
  assert_string_equal(o.reason, "FailedScheduling");

  o = observe("{\"status\":{\"phase\":\"Pending\",\"conditions\":[{\"type\":\"PodScheduled\","
              "\"status\":\"False\",\"reason\":\"Unschedulable\",\"message\":\"0/3 nodes are "
              "available: pod has unbound immediate PersistentVolumeClaims.\"}]}}");
  assert_int_equal(o.state, CP_POD_STARTING);
  assert_string_equal(o.reason, "WaitingForStorage");

  o = observe("{\"status\":{\"phase\":\"Failed\",\"reason\":\"Evicted\",\"message\":\"low on "
              "memory\"}}");
  assert_int_equal(o.state, CP_POD_FAILED);
  assert_string_equal(o.reason, "Evicted");

  o = observe("{\"metadata\":{\"deletionTimestamp\":\"2026-11-22T02:00:00Z\"},\"status\":{}}");
  assert_int_equal(o.state, CP_POD_TERMINATING);
}

static cp_ur_status_t running(void) {
  cp_ur_status_t st = {.phase = "Running", .observed_generation = 2, .restarts = 1};
  st.ready = (cp_ur_cond_t){"True", "PodReady", ""};
  st.progressing = (cp_ur_cond_t){"False", "Available", ""};
  st.degraded = (cp_ur_cond_t){"False", "AsExpected", ""};
  snprintf(st.pod_name, sizeof st.pod_name, "alice");
  snprintf(st.endpoint, sizeof st.endpoint, "http://alice.ns.svc:18789");
  return st;
}

static cJSON *ur_with_status(const cJSON *status_body) {
  cJSON *ur = cJSON_Parse("{\"metadata\":{\"name\":\"alice\",\"namespace\":\"ns\","
                          "\"generation\":2},\"spec\":{\"user\":\"alice\"}}");
  if (status_body)
    cJSON_AddItemToObject(ur, "status",
                          cJSON_Duplicate(cJSON_GetObjectItem(status_body, "status"), 1));
  return ur;
}

static void unchanged_status_needs_no_write_and_keeps_times(void **state) {
  (void)state;
  cp_ur_status_t st = running();
  cJSON *ur = ur_with_status(NULL);
  assert_false(cp_ur_status_matches(ur, &st)); /* no status yet: must write */
  cJSON *body = cp_ur_status_body(ur, &st, 1000);
  assert_string_equal(cp_json_strv(body, "status", "phase", NULL), "Running");
  cJSON_Delete(ur);

  ur = ur_with_status(body); /* as the server would now return it */
  assert_true(cp_ur_status_matches(ur, &st));
  /* A later body keeps the transition time while statuses hold... */
  cJSON *again = cp_ur_status_body(ur, &st, 5000);
  const cJSON *c0 = cJSON_GetArrayItem(cp_json_getv(again, "status", "conditions", NULL), 0);
  assert_string_equal(cp_json_strv(c0, "type", NULL), "Ready");
  assert_string_equal(cp_json_strv(c0, "lastTransitionTime", NULL), "1970-01-01T00:16:40Z");
  cJSON_Delete(again);
  /* ...and moves it when Ready flips. */
  st.ready = (cp_ur_cond_t){"False", "Hibernated", "idle"};
  st.phase = "Hibernated";
  assert_false(cp_ur_status_matches(ur, &st));
  again = cp_ur_status_body(ur, &st, 5000);
  c0 = cJSON_GetArrayItem(cp_json_getv(again, "status", "conditions", NULL), 0);
  assert_string_equal(cp_json_strv(c0, "lastTransitionTime", NULL), "1970-01-01T01:23:20Z");
  assert_string_equal(cp_json_strv(c0, "reason", NULL), "Hibernated");
  assert_null(cp_json_getv(again, "status", "lastActivityTime", NULL)); /* never ours */
  cJSON_Delete(again);
  cJSON_Delete(body);
  cJSON_Delete(ur);
}

static void generation_change_needs_a_write(void **state) {
  (void)state;
  cp_ur_status_t st = running();
  cJSON *ur = ur_with_status(NULL);
  cJSON *body = cp_ur_status_body(ur, &st, 1000);
  cJSON_Delete(ur);
  ur = ur_with_status(body);
  st.observed_generation = 3;
  assert_false(cp_ur_status_matches(ur, &st));
  cJSON_Delete(body);
  cJSON_Delete(ur);
}

static void digest_tells_statuses_apart(void **state) {
  (void)state;
  cp_ur_status_t a = running(), b = running();
  assert_true(cp_ur_status_digest(&a) == cp_ur_status_digest(&b));
  b.ready = (cp_ur_cond_t){"False", "PodPending", "the pod is pending"};
  assert_true(cp_ur_status_digest(&a) != cp_ur_status_digest(&b));
  b = running();
  b.restarts = a.restarts + 1;
  assert_true(cp_ur_status_digest(&a) != cp_ur_status_digest(&b));
  b = running();
  b.observed_generation = a.observed_generation + 1;
  assert_true(cp_ur_status_digest(&a) != cp_ur_status_digest(&b));
  b = running();
  b.degraded.status = NULL; /* left alone is not the same as False */
  assert_true(cp_ur_status_digest(&a) != cp_ur_status_digest(&b));
  /* where one text ends and the next begins matters */
  cp_ur_status_t c = running(), d = running();
  snprintf(c.pod_name, sizeof c.pod_name, "ab");
  snprintf(c.endpoint, sizeof c.endpoint, "c");
  snprintf(d.pod_name, sizeof d.pod_name, "a");
  snprintf(d.endpoint, sizeof d.endpoint, "bc");
  assert_true(cp_ur_status_digest(&c) != cp_ur_status_digest(&d));
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(classifies_pods),
      cmocka_unit_test(unchanged_status_needs_no_write_and_keeps_times),
      cmocka_unit_test(generation_change_needs_a_write),
      cmocka_unit_test(digest_tells_statuses_apart),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
