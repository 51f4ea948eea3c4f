/* The runtime's state volume: PersistentVolumeClaim N-state, mounted at ~/.openclaw.
 *
 * Whether the claim outlives its UserRuntime is decided by the ownerReference alone: with
 * retainOnDelete false it is owned and garbage collection deletes it with the UserRuntime;
 * with true (the default) it has no ownerReference and stays. Because server-side apply
 * drops fields its manager stops sending, flipping retainOnDelete and re-applying adds or
 * removes the ownerReference without any special delete-time step.
 */
#include "userruntime/desired.h"
#include "core/error.h"

int cp_desired_pvc(const cJSON *ur, const cJSON *profile, const cp_desired_opts_t *opts,
                   cJSON **out, char *err, size_t errlen) {
  cp__desired_ident_t id;
  cp_desired_effective_t e = {0};
  int rc = cp__desired_ident(ur, &id, err, errlen);
  if (rc == 0)
    rc = cp_desired_effective(ur, profile, opts, &e, err, errlen);
  if (rc < 0)
    return rc;
  bool ok = true;
  cJSON *pvc = cp__desired_object(&id, "v1", "PersistentVolumeClaim", CP_DESIRED_PVC_SUFFIX,
                                  !e.retain_on_delete);
  if (!pvc)
    ok = false;
  cJSON *spec = cp__dj_obj(pvc, "spec", &ok);
  cp__dj_str(cp__dj_arr(spec, "accessModes", &ok), NULL, "ReadWriteOnce", &ok);
  cJSON *req = cp__dj_obj(cp__dj_obj(spec, "resources", &ok), "requests", &ok);
  cp__dj_str(req, "storage", e.storage_size, &ok);
  if (e.storage_class)
    cp__dj_str(spec, "storageClassName", e.storage_class, &ok);
  cp_desired_effective_free(&e);
  if (!ok) {
    cJSON_Delete(pvc);
    return cp__desired_err(err, errlen, CP_ENOMEM, "out of memory");
  }
  *out = pvc;
  return 0;
}
