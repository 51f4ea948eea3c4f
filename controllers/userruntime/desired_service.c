/* The runtime Service: a stable ClusterIP name (N.<namespace>.svc:18789) for the pod.
 *
 * It selects only the instance labels (name + instance), not the user label, so the
 * selector never changes for the life of the UserRuntime. Nothing here depends on the
 * profile, so the Service is built from the UserRuntime alone. With the file service on
 * (--files-image) it also names the sidecar's port 8090 "files"; the apiserver reaches
 * the sidecar at the pod's address, the named port documents it for kubectl and probes.
 */
#include "userruntime/desired.h"
#include "core/error.h"

static void add_port(cJSON *ports, const char *name, int num, bool *ok) {
  cJSON *port = cp__dj_obj(ports, NULL, ok);
  cp__dj_str(port, "name", name, ok);
  cp__dj_str(port, "protocol", "TCP", ok);
  cp__dj_num(port, "port", num, ok);
  cp__dj_num(port, "targetPort", num, ok);
}

int cp_desired_service(const cJSON *ur, const cp_desired_opts_t *opts, cJSON **out, char *err,
                       size_t errlen) {
  cp_desired_opts_t o = cp__desired_opts(opts);
  cp__desired_ident_t id;
  cJSON *sel = NULL;
  int rc = cp__desired_ident(ur, &id, err, errlen);
  if (rc == 0)
    rc = cp_desired_selector(ur, &sel, err, errlen);
  if (rc < 0)
    return rc;
  bool ok = true;
  cJSON *svc = cp__desired_object(&id, "v1", "Service", NULL, true);
  if (!svc)
    ok = false;
  cJSON *spec = cp__dj_obj(svc, "spec", &ok);
  cp__dj_str(spec, "type", "ClusterIP", &ok);
  cp__dj_add(spec, "selector", sel, &ok); /* takes sel in every case */
  cJSON *ports = cp__dj_arr(spec, "ports", &ok);
  add_port(ports, CP_DESIRED_PORT_NAME, CP_DESIRED_PORT, &ok);
  if (o.files_image)
    add_port(ports, CP_DESIRED_FILES_PORT_NAME, CP_DESIRED_FILES_PORT, &ok);
  if (!ok) {
    cJSON_Delete(svc);
    return cp__desired_err(err, errlen, CP_ENOMEM, "out of memory");
  }
  *out = svc;
  return 0;
}
