/* The kube client's pure parts: what a caller sees in cp_status_t, which CP_E* an HTTP code
 * becomes, how paths and queries are escaped, how Retry-After is read. Also that a client
 * for an unreachable server fails with a transport error and a message, and never hangs. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/buf.h"
#include "core/error.h"
#include "kube/client.h"
#include "metrics/metrics.h"

static void status_body_fills_reason_message_retry(void **state) {
  (void)state;
  static const char body[] =
      "{\"kind\":\"Status\",\"apiVersion\":\"v1\",\"metadata\":{},\"status\":\"Failure\","
      "\"message\":\"configmaps \\\"x\\\" already exists\",\"reason\":\"AlreadyExists\","
      "\"details\":{\"name\":\"x\",\"kind\":\"configmaps\",\"retryAfterSeconds\":3},"
      "\"code\":409}";
  cp_status_t st;
  memset(&st, 0x55, sizeof st);
  cp_kube_status_from_body(&st, 409, body, strlen(body));
  assert_int_equal(st.http_code, 409);
  assert_string_equal(st.reason, "AlreadyExists");
  assert_string_equal(st.message, "configmaps \"x\" already exists");
  assert_int_equal(st.retry_after, 3);
}

static void status_long_message_is_truncated_on_utf8_boundary(void **state) {
  (void)state;
  /* 700 two-byte characters (é): the 511-byte field must end on a whole character. */
  char msg[1500] = "";
  size_t n = 0;
  for (int i = 0; i < 700; i++) {
    msg[n++] = (char)0xC3;
    msg[n++] = (char)0xA9;
  }
  msg[n] = '\0';
  char body[2000];
  snprintf(body, sizeof body, "{\"kind\":\"Status\",\"reason\":\"%s\",\"message\":\"%s\"}",
           "AVeryLongReasonThatDoesNotFitIntoSixtyFourBytesOfTheStatusStructure", msg);
  cp_status_t st;
  cp_kube_status_from_body(&st, 422, body, strlen(body));
  assert_int_equal(strlen(st.message), 510); /* 255 whole characters */
  assert_memory_equal(st.message, msg, 510);
  assert_int_equal(strlen(st.reason), sizeof st.reason - 1);
  assert_int_equal(st.retry_after, 0);
}

static void non_status_body_becomes_printable_message(void **state) {
  (void)state;
  static const char body[] = "upstream connect error\r\n\tor disconnect\x01";
  cp_status_t st;
  cp_kube_status_from_body(&st, 503, body, strlen(body));
  assert_int_equal(st.http_code, 503);
  assert_string_equal(st.reason, "");
  assert_string_equal(st.message, "upstream connect error   or disconnect");
  /* A JSON body that is not a Status is kept as text too. */
  cp_kube_status_from_body(&st, 500, "[1,2]", 5);
  assert_string_equal(st.message, "[1,2]");
  cp_kube_status_from_body(&st, 502, NULL, 0);
  assert_int_equal(st.http_code, 502);
  assert_string_equal(st.message, "");
}

static void status_json_takes_code_from_watch_error(void **state) {
  (void)state;
  cJSON *s = cJSON_Parse("{\"kind\":\"Status\",\"code\":410,\"reason\":\"Expired\","
                         "\"message\":\"too old resource version: 1 (44)\"}");
  cp_status_t st;
  cp_kube_status_from_json(&st, 0, s);
  assert_int_equal(st.http_code, 410);
  assert_string_equal(st.reason, "Expired");
  cJSON_Delete(s);
}

static void http_codes_map_to_errors(void **state) {
  (void)state;
  static const struct {
    long code;
    int err;
  } cases[] = {
      {200, 0},
      {201, 0},
      {202, 0},
      {301, CP_EHTTP},
      {400, CP_EBADREQUEST},
      {401, CP_EUNAUTHORIZED},
      {403, CP_EFORBIDDEN},
      {404, CP_ENOTFOUND},
      {405, CP_EHTTP},
      {409, CP_ECONFLICT},
      {410, CP_EGONE},
      {415, CP_EHTTP},
      {422, CP_EINVALID},
      {429, CP_ETHROTTLED},
      {500, CP_EUNAVAILABLE},
      {503, CP_EUNAVAILABLE},
      {504, CP_EUNAVAILABLE},
      {0, CP_EHTTP},
      {600, CP_EHTTP},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    int got = cp_kube_http_error(cases[i].code);
    if (got != cases[i].err)
      fail_msg("HTTP %ld: got %s, want %s", cases[i].code, cp_errname(got),
               cp_errname(cases[i].err));
  }
}

static void check_path(const cp_gvr_t *gvr, const char *ns, const char *name, const char *sub,
                       const char *want) {
  cp_buf_t b;
  cp_buf_init(&b, 4096);
  assert_int_equal(cp_kube_path(&b, gvr, ns, name, sub), 0);
  assert_string_equal(b.data, want);
  cp_buf_free(&b);
}

static void paths_cover_core_groups_scopes_and_escaping(void **state) {
  (void)state;
  check_path(&CP_GVR_CONFIGMAPS, "ns1", "cm", NULL, "/api/v1/namespaces/ns1/configmaps/cm");
  check_path(&CP_GVR_CONFIGMAPS, NULL, NULL, NULL, "/api/v1/configmaps");
  check_path(&CP_GVR_CONFIGMAPS, "", NULL, NULL, "/api/v1/configmaps");
  check_path(&CP_GVR_NAMESPACES, NULL, "ns1", "status", "/api/v1/namespaces/ns1/status");
  check_path(&CP_GVR_LEASES, "kube-system", "leader", NULL,
             "/apis/coordination.k8s.io/v1/namespaces/kube-system/leases/leader");
  check_path(&CP_GVR_CRDS, NULL, "userruntimes.clawplane.io", NULL,
             "/apis/apiextensions.k8s.io/v1/customresourcedefinitions/userruntimes.clawplane.io");
  const cp_gvr_t ur = {"clawplane.io", "v1alpha1", "userruntimes", true};
  check_path(&ur, "a b", "x/../y?z#w", "status",
             "/apis/clawplane.io/v1alpha1/namespaces/a%20b/userruntimes/x%2F..%2Fy%3Fz%23w/status");

  cp_buf_t b;
  cp_buf_init(&b, 4096);
  assert_int_equal(cp_kube_path(&b, &CP_GVR_NAMESPACES, "ns", "x", NULL), CP_EINVAL);
  assert_int_equal(cp_kube_path(&b, &CP_GVR_PODS, "ns", "..", NULL), CP_EINVAL);
  assert_int_equal(cp_kube_path(&b, &CP_GVR_PODS, "ns", ".", NULL), CP_EINVAL);
  assert_int_equal(cp_kube_path(&b, &CP_GVR_PODS, "ns", "", NULL), CP_EINVAL);
  assert_int_equal(cp_kube_path(&b, &CP_GVR_PODS, "ns", NULL, "status"), CP_EINVAL);
  assert_int_equal(cp_kube_path(&b, &CP_GVR_PODS, "ns", "p", "a/b"), CP_EINVAL);
  assert_int_equal(cp_kube_path(&b, NULL, "ns", "p", NULL), CP_EINVAL);
  assert_int_equal(b.len, 0);
  cp_buf_free(&b);

  cp_buf_init(&b, 10); /* the cap of the output buffer holds */
  assert_int_equal(cp_kube_path(&b, &CP_GVR_PODS, "ns", "p", NULL), CP_ETOOBIG);
  cp_buf_free(&b);
}

static void query_values_are_escaped(void **state) {
  (void)state;
  cp_buf_t q;
  cp_buf_init(&q, 4096);
  assert_int_equal(cp_kube_query_add(&q, "labelSelector", "app in (a,b),tier!=web&x=y"), 0);
  assert_int_equal(cp_kube_query_add(&q, "fieldSelector", NULL), 0);
  assert_int_equal(cp_kube_query_add(&q, "continue", "eyJ2Ijoi+/="), 0);
  assert_int_equal(cp_kube_query_add(&q, "limit", "10"), 0);
  assert_string_equal(q.data, "labelSelector=app%20in%20%28a%2Cb%29%2Ctier%21%3Dweb%26x%3Dy"
                              "&continue=eyJ2Ijoi%2B%2F%3D&limit=10");
  cp_buf_free(&q);
}

static void retry_after_seconds_and_dates(void **state) {
  (void)state;
  time_t now = 1445412450; /* Wed, 21 Oct 2015 07:27:30 GMT */
  assert_int_equal(cp_kube_parse_retry_after("5", now), 5);
  assert_int_equal(cp_kube_parse_retry_after(" 12 \r\n", now), 12);
  assert_int_equal(cp_kube_parse_retry_after("0", now), 0);
  assert_int_equal(cp_kube_parse_retry_after("-3", now), 0);
  assert_int_equal(cp_kube_parse_retry_after("3s", now), 0);
  assert_int_equal(cp_kube_parse_retry_after("", now), 0);
  assert_int_equal(cp_kube_parse_retry_after(NULL, now), 0);
  assert_int_equal(cp_kube_parse_retry_after("soon", now), 0);
  assert_int_equal(cp_kube_parse_retry_after("99999999999999999999999", now), 86400);
  assert_int_equal(cp_kube_parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", now), 30);
  assert_int_equal(cp_kube_parse_retry_after("Wed, 21 Oct 2015 07:00:00 GMT", now), 0);
  assert_int_equal(cp_kube_parse_retry_after("Wed, 21 Oct 2025 07:00:00 GMT", now), 86400);
}

static void unreachable_server_is_connect_error(void **state) {
  (void)state;
  /* Port 1 on loopback refuses at once: a real transfer through the whole call path. */
  cp_kubeconfig_t cfg = {0};
  cfg.server = "https://127.0.0.1:1";
  cfg.token = "not-a-secret";
  cp_kube_client_t *c = NULL;
  cp_metrics_t *reg;
  assert_int_equal(cp_metrics_new(&reg), 0);
  cp_kube_client_opts_t o = {.connect_timeout_ms = 2000, .timeout_ms = 3000, .metrics = reg};
  assert_int_equal(cp_kube_client_new(&cfg, &o, &c), 0);
  cp_status_t st;
  cJSON *out = (cJSON *)&st; /* must stay untouched */
  assert_int_equal(cp_kube_get(c, &CP_GVR_CONFIGMAPS, "default", "x", NULL, &out, &st),
                   CP_ECONNECT);
  assert_ptr_equal(out, (cJSON *)&st);
  assert_int_equal(st.http_code, 0);
  assert_true(strlen(st.message) > 0);
  assert_null(strstr(st.message, "not-a-secret"));
  /* Argument errors are reported, not sent. */
  assert_int_equal(
      cp_kube_apply(c, &CP_GVR_CONFIGMAPS, "default", "x", NULL, NULL, NULL, false, NULL, &st),
      CP_EINVAL);
  assert_int_equal(cp_kube_request(c, "GET", "no-slash", NULL, NULL, NULL, NULL, &st), CP_EINVAL);
  /* The request that went out is counted without an answer; those refused here are not. */
  cp_buf_t b;
  cp_buf_init(&b, 1 << 20);
  assert_int_equal(cp_metrics_render(reg, &b), 0);
  assert_non_null(strstr(b.data,
                         "\nrest_client_requests_total{code=\"<error>\",host=\"127.0.0.1:1\","
                         "method=\"GET\"} 1\n"));
  assert_null(strstr(b.data, "method=\"PATCH\""));
  assert_non_null(strstr(
      b.data,
      "\nrest_client_request_duration_seconds_count{host=\"127.0.0.1:1\",verb=\"GET\"} 1\n"));
  cp_buf_free(&b);
  cp_kube_client_free(c);
  cp_metrics_free(reg);
  cp_kube_client_free(NULL);

  cfg.server = "not a url";
  assert_int_equal(cp_kube_client_new(&cfg, NULL, &c), CP_ECONFIG);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(status_body_fills_reason_message_retry),
      cmocka_unit_test(status_long_message_is_truncated_on_utf8_boundary),
      cmocka_unit_test(non_status_body_becomes_printable_message),
      cmocka_unit_test(status_json_takes_code_from_watch_error),
      cmocka_unit_test(http_codes_map_to_errors),
      cmocka_unit_test(paths_cover_core_groups_scopes_and_escaping),
      cmocka_unit_test(query_values_are_escaped),
      cmocka_unit_test(retry_after_seconds_and_dates),
      cmocka_unit_test(unreachable_server_is_connect_error),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
