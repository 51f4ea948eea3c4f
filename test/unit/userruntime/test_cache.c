/* What the controller's caches keep: a Pod or Secret as the server sends it, once stripped
 * by the informer and projected, compares with the desired object exactly as the whole one
 * does (no extra writes, drift still seen), classifies the same, and is much smaller; a
 * cached Secret holds no token. */
#include "desired_fixtures.h"
#include "kube/informer.h"
#include "userruntime/cache.h"
#include "userruntime/drift.h"
#include "userruntime/status.h"

#define UID "6f1c1a0e-0000-4000-8000-000000000001"

static void add(cJSON *obj, const char *key, const char *json) {
  assert_int_equal(cp_json_set(obj, key, fx_parse(json)), 0);
}

/* desired as a server returns it: identity, managedFields, a last-applied annotation, the
 * defaults the API server fills in, and a status from the kubelet. */
static cJSON *as_server(const cJSON *desired) {
  cJSON *o = cJSON_Duplicate(desired, 1);
  assert_non_null(o);
  cJSON *md = cJSON_GetObjectItem(o, "metadata");
  add(md, "uid", "\"0a0b0c0d-0000-4000-8000-00000000000f\"");
  add(md, "resourceVersion", "\"4242\"");
  add(md, "creationTimestamp", "\"2026-01-01T00:00:00Z\"");
  add(md, "managedFields",
      "[{\"manager\":\"clawplane-controller\",\"operation\":\"Apply\",\"apiVersion\":\"v1\","
      "\"time\":\"2026-01-01T00:00:00Z\",\"fieldsType\":\"FieldsV1\",\"fieldsV1\":{"
      "\"f:metadata\":{\"f:labels\":{\"f:app.kubernetes.io/name\":{}}},"
      "\"f:spec\":{\"f:containers\":{\"k:{\\\"name\\\":\\\"openclaw\\\"}\":{\".\":{}}}}}}]");
  cJSON *ann = cp_json_child_object(md, "annotations");
  assert_non_null(ann);
  cJSON_AddStringToObject(ann, "kubectl.kubernetes.io/last-applied-configuration", "{\"a\":1}");
  cJSON *spec = cJSON_GetObjectItem(o, "spec");
  if (spec && cJSON_GetObjectItem(spec, "containers")) {
    add(spec, "dnsPolicy", "\"ClusterFirst\"");
    add(spec, "restartPolicy", "\"Always\"");
    add(spec, "schedulerName", "\"default-scheduler\"");
    add(spec, "nodeName", "\"kwok-node-1\"");
    add(spec, "serviceAccountName", "\"default\"");
    add(spec, "terminationGracePeriodSeconds", "30");
    add(spec, "tolerations",
        "[{\"key\":\"node.kubernetes.io/not-ready\",\"operator\":\"Exists\","
        "\"effect\":\"NoExecute\",\"tolerationSeconds\":300}]");
    cJSON *c;
    cJSON_ArrayForEach(c, cJSON_GetObjectItem(spec, "containers")) {
      add(c, "terminationMessagePath", "\"/dev/termination-log\"");
      add(c, "terminationMessagePolicy", "\"File\"");
      add(c, "imagePullPolicy", "\"IfNotPresent\"");
    }
    add(o, "status",
        "{\"phase\":\"Running\",\"hostIP\":\"10.0.0.1\",\"podIP\":\"10.244.0.7\","
        "\"podIPs\":[{\"ip\":\"10.244.0.7\"}],\"qosClass\":\"Burstable\","
        "\"startTime\":\"2026-01-01T00:00:01Z\",\"conditions\":["
        "{\"type\":\"Initialized\",\"status\":\"True\",\"lastProbeTime\":null,"
        "\"lastTransitionTime\":\"2026-01-01T00:00:02Z\"},"
        "{\"type\":\"Ready\",\"status\":\"True\",\"lastProbeTime\":null,"
        "\"lastTransitionTime\":\"2026-01-01T00:00:03Z\"}],"
        "\"containerStatuses\":[{\"name\":\"openclaw\",\"image\":\"x\",\"imageID\":\"y\","
        "\"containerID\":\"containerd://z\",\"ready\":true,\"restartCount\":0,"
        "\"started\":true,\"state\":{\"running\":{\"startedAt\":\"2026-01-01T00:00:02Z\"}}}]}");
  }
  return o;
}

/* What the cache holds of live: stripped by the informer, then projected. */
static cJSON *cached_form(const cJSON *live, void (*project)(cJSON *, void *)) {
  cJSON *o = cJSON_Duplicate(live, 1);
  assert_non_null(o);
  cp_informer_strip(o);
  project(o, NULL);
  return o;
}

static size_t printed_len(const cJSON *o) {
  char *s = cJSON_PrintUnformatted(o);
  assert_non_null(s);
  size_t n = strlen(s);
  free(s);
  return n;
}

static cJSON *desired_pod(void) {
  cJSON *ur = fx_ur(), *prof = fx_profile(), *pod = NULL;
  char err[256];
  assert_int_equal(cp_desired_pod(ur, prof, NULL, &pod, err, sizeof err), 0);
  /* as reconcile adds it */
  cJSON_AddStringToObject(
      cp_json_child_object(cp_json_child_object(pod, "metadata"), "annotations"),
      "clawplane.io/credentials-uid", "0000-secret");
  cJSON_Delete(ur);
  cJSON_Delete(prof);
  return pod;
}

static void assert_same_obs(const cJSON *a, const cJSON *b) {
  cp_pod_obs_t x, y;
  cp_ur_observe_pod(a, &x);
  cp_ur_observe_pod(b, &y);
  assert_int_equal(x.state, y.state);
  assert_string_equal(x.reason, y.reason);
  assert_string_equal(x.message, y.message);
  assert_string_equal(x.ready_since, y.ready_since);
  assert_string_equal(x.hash, y.hash);
}

static void pod_in_cache_is_in_place_and_small(void **state) {
  (void)state;
  cJSON *d = desired_pod(), *live = as_server(d), *c = cached_form(live, cp_ur_project_pod);
  assert_null(cp_json_drift(live, d, cp_ur_rules_pod_spec));
  assert_null(cp_json_drift(c, d, cp_ur_rules_pod_spec)); /* no replacement after a restart */
  assert_null(cp_json_drift(c, d, cp_ur_rules_pod_meta)); /* no metadata apply either */
  assert_same_obs(live, c);
  cp_pod_obs_t obs;
  cp_ur_observe_pod(c, &obs);
  assert_int_equal(obs.state, CP_POD_READY);
  assert_string_equal(obs.ready_since, "2026-01-01T00:00:03Z");
  /* what nothing reads is gone */
  assert_null(cp_json_getv(c, "metadata", "managedFields", NULL));
  assert_null(cp_json_getv(c, "metadata", "annotations",
                           "kubectl.kubernetes.io/last-applied-configuration", NULL));
  assert_null(cp_json_getv(c, "spec", "tolerations", NULL));
  assert_null(cp_json_getv(c, "status", "podIP", NULL));
  assert_null(cp_json_getv(c, "status", "conditions", "0", "lastProbeTime", NULL));
  assert_string_equal(cp_json_strv(c, "metadata", "uid", NULL),
                      "0a0b0c0d-0000-4000-8000-00000000000f");
  assert_true(printed_len(c) < printed_len(live));
  cJSON_Delete(c);
  cJSON_Delete(live);
  cJSON_Delete(d);
}

static void pod_drift_and_trouble_still_seen(void **state) {
  (void)state;
  cJSON *d = desired_pod(), *live = as_server(d);
  cJSON *ctr = cJSON_GetArrayItem(cp_json_getv(live, "spec", "containers", NULL), 0);
  cJSON_ReplaceItemInObject(ctr, "image", cJSON_CreateString("evil:latest"));
  cJSON *st = cJSON_GetArrayItem(cp_json_getv(live, "status", "containerStatuses", NULL), 0);
  cJSON_ReplaceItemInObject(
      st, "state", fx_parse("{\"waiting\":{\"reason\":\"CrashLoopBackOff\",\"message\":\"m\"}}"));
  add(st, "lastState", "{\"terminated\":{\"exitCode\":1,\"message\":\"boom\\n\"}}");
  cJSON *c = cached_form(live, cp_ur_project_pod);
  assert_string_equal(cp_json_drift(c, d, cp_ur_rules_pod_spec), "spec/containers/*/image");
  assert_same_obs(live, c);
  cp_pod_obs_t obs;
  cp_ur_observe_pod(c, &obs);
  assert_int_equal(obs.state, CP_POD_STUCK);
  assert_non_null(strstr(obs.message, "boom"));
  /* a label removed by hand is still seen as missing */
  cJSON_DeleteItemFromObject(cp_json_child_object(cp_json_child_object(c, "metadata"), "labels"),
                             "clawplane.io/user");
  assert_string_equal(cp_json_drift(c, d, cp_ur_rules_pod_meta), "metadata/labels");
  cJSON_Delete(c);
  cJSON_Delete(live);
  cJSON_Delete(d);
}

static cJSON *desired_secret(const char *gw) {
  cJSON *ur = fx_ur(), *s = NULL;
  char err[256];
  assert_int_equal(cp_desired_secret(ur, gw, "mp-token-1", &s, err, sizeof err), 0);
  cJSON_Delete(ur);
  return s;
}

static void secret_in_cache_holds_no_token(void **state) {
  (void)state;
  static const cp_json_rule_t whole[] = {{"", false}, {NULL, false}};
  const char *gw = "4f9a0c6d1e2b3a4f9a0c6d1e2b3a4f9a0c6d1e2b3a4f9a0c6d1e2b3a4f9a0c6d";
  cJSON *d = desired_secret(gw), *live = as_server(d), *c = cached_form(live, cp_ur_project_secret);
  const char *b64 = cp_json_strv(live, "data", CP_DESIRED_KEY_GATEWAY, NULL);
  assert_non_null(b64);
  char *printed = cJSON_PrintUnformatted(c);
  assert_null(strstr(printed, b64));
  assert_null(strstr(printed, gw));
  free(printed);
  const char *h = cp_json_strv(c, "data", CP_DESIRED_KEY_GATEWAY, NULL);
  assert_non_null(h);
  assert_int_equal(strlen(h), 7 + 64);
  assert_int_equal(strncmp(h, "sha256:", 7), 0);
  assert_string_equal(cp_json_strv(c, "metadata", "uid", NULL),
                      "0a0b0c0d-0000-4000-8000-00000000000f");
  /* compared through the same projection: in place; another token: drift */
  cJSON *want = cJSON_Duplicate(d, 1);
  cp_ur_project_secret(want, NULL);
  assert_null(cp_json_drift(c, want, whole));
  cJSON *again = cJSON_Duplicate(c, 1);
  cp_ur_project_secret(again, NULL); /* idempotent */
  assert_true(cJSON_Compare(again, c, 1));
  cJSON *other = desired_secret("0000000000000000000000000000000000000000000000000000000000000000");
  cp_ur_project_secret(other, NULL);
  assert_non_null(cp_json_drift(c, other, whole));
  cJSON_Delete(other);
  cJSON_Delete(again);
  cJSON_Delete(want);
  cJSON_Delete(c);
  cJSON_Delete(live);
  cJSON_Delete(d);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(pod_in_cache_is_in_place_and_small),
      cmocka_unit_test(pod_drift_and_trouble_still_seen),
      cmocka_unit_test(secret_in_cache_holds_no_token),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
