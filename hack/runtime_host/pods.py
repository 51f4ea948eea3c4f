"""One worker thread per pod bound to the runtime host's Node, doing what the kubelet's
pod worker does: sandbox (netns + IP), volumes, containers (start, restart with
CrashLoopBackOff, probes), status (PATCH pods/status), graceful deletion."""

import base64
import hashlib
import http.client
import json
import os
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import threading
import time
import traceback

from kube import ApiError, now_rfc3339

SHIM = os.path.join(os.path.dirname(os.path.abspath(__file__)), "shim.py")
BACKOFF_INITIAL, BACKOFF_MAX = 10, 300
# containerd's default capability set, for containers that do not drop ALL.
DEFAULT_CAPS = ["chown", "dac_override", "fsetid", "fowner", "mknod", "net_raw", "setgid", "setuid",
                "setfcap", "setpcap", "net_bind_service", "sys_chroot", "kill", "audit_write"]


class ConfigError(Exception):
    """CreateContainerConfigError: the container cannot be configured (yet)."""


class MountError(Exception):
    """A volume cannot be set up (yet): FailedMount, the pod stays ContainerCreating."""


def rfc3339(t):
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t))


def expand(s, env):
    """Kubernetes $(VAR) expansion: $$ escapes, unknown references stay as written."""
    out, i = [], 0
    while i < len(s):
        if s[i] == "$" and i + 1 < len(s):
            if s[i + 1] == "$":
                out.append("$")
                i += 2
                continue
            if s[i + 1] == "(":
                j = s.find(")", i + 2)
                if j > 0:
                    name = s[i + 2:j]
                    out.append(env[name] if name in env else s[i:j + 1])
                    i = j + 1
                    continue
        out.append(s[i])
        i += 1
    return "".join(out)


def field_value(pod, path):
    m, st = pod["metadata"], pod.get("status") or {}
    simple = {"metadata.name": m["name"], "metadata.namespace": m.get("namespace", ""),
              "metadata.uid": m.get("uid", ""), "spec.nodeName": pod["spec"].get("nodeName", ""),
              "spec.serviceAccountName": pod["spec"].get("serviceAccountName", ""),
              "status.podIP": st.get("podIP", ""), "status.hostIP": st.get("hostIP", ""),
              "status.podIPs": ",".join(p["ip"] for p in st.get("podIPs") or []),
              "status.hostIPs": ",".join(p["ip"] for p in st.get("hostIPs") or [])}
    if path in simple:
        return simple[path]
    for kind in ("labels", "annotations"):
        if path.startswith("metadata.%s['" % kind) and path.endswith("']"):
            return (m.get(kind) or {}).get(path[len("metadata.%s['" % kind):-2], "")
        if path == "metadata." + kind:
            return "\n".join('%s="%s"' % kv for kv in sorted((m.get(kind) or {}).items()))
    raise ConfigError("unsupported fieldRef %s" % path)


def atomic_write(dirname, files, gid=None):
    """The kubelet's atomic writer: files live in a timestamped directory, ..data points at
    it and each top-level name is a symlink through ..data, so an update is one rename."""
    os.makedirs(dirname, exist_ok=True)
    digest = hashlib.sha256(json.dumps(sorted((p, base64.b64encode(d).decode(), m) for p, (d, m) in files.items()))
                            .encode()).hexdigest()[:16]
    cur = os.path.join(dirname, "..data")
    if os.path.islink(cur) and os.readlink(cur).endswith(digest):
        return False
    ts = "..%s_%s" % (time.strftime("%Y_%m_%d_%H_%M_%S"), digest)
    tsdir = os.path.join(dirname, ts)
    os.makedirs(tsdir, exist_ok=True)
    for rel, (data, mode) in files.items():
        p = os.path.join(tsdir, rel)
        os.makedirs(os.path.dirname(p), exist_ok=True)
        with open(p, "wb") as f:
            f.write(data)
        os.chmod(p, mode)
        if gid is not None:
            os.chown(p, 0, gid)
    if gid is not None:
        for d, _, _ in os.walk(tsdir):
            os.chown(d, 0, gid)
    tmp = os.path.join(dirname, "..data_tmp")
    if os.path.lexists(tmp):
        os.unlink(tmp)
    os.symlink(ts, tmp)
    os.rename(tmp, cur)
    tops = {rel.split("/", 1)[0] for rel in files}
    for name in os.listdir(dirname):
        p = os.path.join(dirname, name)
        if name.startswith(".."):
            if name not in ("..data", ts) and os.path.isdir(p) and not os.path.islink(p):
                shutil.rmtree(p, ignore_errors=True)
        elif name not in tops:
            os.unlink(p) if os.path.islink(p) else shutil.rmtree(p, ignore_errors=True)
    for name in tops:
        p = os.path.join(dirname, name)
        if not os.path.lexists(p):
            os.symlink(os.path.join("..data", name), p)
    return True


def set_group_ownership(path, gid, recursive=True):
    """fsGroup as the kubelet applies it: group fsGroup, group read/write, setgid dirs."""
    def one(p, is_dir):
        st = os.lstat(p)
        if os.path.islink(p):
            return
        if st.st_gid != gid:
            os.chown(p, -1, gid)
        mode = st.st_mode & 0o7777
        want = mode | 0o060 | ((0o2010) if is_dir else 0)
        if want != mode:
            os.chmod(p, want)
    one(path, True)
    if recursive:
        for d, dirs, fs in os.walk(path):
            for x in dirs:
                one(os.path.join(d, x), True)
            for x in fs:
                one(os.path.join(d, x), False)


def proc_start(pid):
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().rsplit(")", 1)[1].split()[19]
    except (OSError, IndexError):
        return None


class Container:
    def __init__(self, spec, init=False):
        self.spec = spec
        self.name = spec["name"]
        self.init = init
        self.proc = None
        self.info = {}
        self.started_at = None
        self.restart_count = 0
        self.last_term = None
        self.term = None          # terminated for good (not restarted)
        self.waiting = ("ContainerCreating", None)
        self.next_start = 0.0
        self.backoff = 0
        self.started = False      # startup probe passed
        self.ready = False
        self.probe = {}           # kind -> {"succ", "fail", "next"}
        self.kill_deadline = None
        self.kill_reason = None
        self.cid = None
        self.pull_failed_at = None
        self.done = False         # init container finished with 0

    def alive(self):
        return self.proc is not None and self.proc.poll() is None


class PodWorker(threading.Thread):
    def __init__(self, host, pod):
        super().__init__(daemon=True, name="pod-" + pod["metadata"]["name"])
        self.h = host
        self.uid = pod["metadata"]["uid"]
        self.ns = pod["metadata"]["namespace"]
        self.name = pod["metadata"]["name"]
        self.key = "%s/%s" % (self.ns, self.name)
        self.dir = os.path.join(host.state, "pods", self.uid)
        self.wake = threading.Event()
        self.containers = None
        self.inits = None
        self.pod_ip = None
        self.netns = None
        self.start_time = None
        self.terminating = None   # deadline once deleting
        self.cond_times = {}
        self.last_status = None
        self.events_sent = set()
        self.vol_warned = None
        self.vol_versions = {}
        self.owned_pvcs = set()
        self.pv_paths = {}
        self.sa_tokens = {}
        self.volumes_ready = False

    def log(self, msg):
        self.h.log("%s: %s" % (self.key, msg))

    # --- loop -------------------------------------------------------------------------

    def run(self):
        while True:
            self.wake.wait(1.0)
            self.wake.clear()
            try:
                if self.sync():
                    break
            except Exception:  # noqa: BLE001 - one bad sync must not kill the worker
                self.log("sync failed: " + traceback.format_exc().strip().replace("\n", " | "))
                time.sleep(1)
        self.h.worker_done(self)

    def current(self):
        pod = self.h.pods.get(self.key)
        if pod is None or pod["metadata"]["uid"] != self.uid:
            return None
        return pod

    def sync(self):
        pod = self.current()
        if pod is None:
            self.log("gone from the API: killing its containers now")
            self.kill_all(signal.SIGKILL)
            self.wait_dead(5)
            self.teardown()
            return True
        if pod["metadata"].get("deletionTimestamp"):
            return self.sync_terminating(pod)
        if self.containers is None:
            self.init_state(pod)
        if (pod.get("status") or {}).get("phase") in ("Succeeded", "Failed") and not any(
                c.alive() for c in self.all()):
            return False
        self.ensure_sandbox(pod)
        try:
            self.ensure_volumes(pod)
            self.volumes_ready = True
            self.vol_warned = None
        except MountError as e:
            if self.vol_warned != str(e):
                self.event(pod, "Warning", "FailedMount", str(e))
                self.vol_warned = str(e)
            if not self.volumes_ready:
                self.patch_status(pod)
                return False
        if self.run_inits(pod):
            for c in self.containers:
                self.sync_container(pod, c)
        self.patch_status(pod)
        return False

    def all(self):
        return (self.inits or []) + (self.containers or [])

    def init_state(self, pod):
        self.start_time = time.time()
        st = pod.get("status") or {}
        if st.get("startTime"):
            self.start_time = time.mktime(time.strptime(st["startTime"], "%Y-%m-%dT%H:%M:%SZ")) - time.timezone
        old = {s["name"]: s for s in (st.get("containerStatuses") or []) + (st.get("initContainerStatuses") or [])}
        self.inits = [Container(c, True) for c in pod["spec"].get("initContainers") or []]
        self.containers = [Container(c) for c in pod["spec"]["containers"]]
        for c in self.all():
            o = old.get(c.name)
            if o:  # a restarted runtime host: its containers were killed, so count a restart
                c.restart_count = o.get("restartCount", 0) + (1 if "running" in (o.get("state") or {}) else 0)
                c.last_term = (o.get("lastState") or {}).get("terminated")
                c.done = c.init and (o.get("state") or {}).get("terminated", {}).get("exitCode") == 0
        os.makedirs(self.dir, exist_ok=True)

    # --- sandbox ----------------------------------------------------------------------

    def ensure_sandbox(self, pod):
        if self.pod_ip:
            return
        meta = {"namespace": self.ns, "name": self.name, "uid": self.uid}
        if pod["spec"].get("hostNetwork"):
            self.pod_ip, self.netns = self.h.node_ip, None
        else:
            netns, veth = self.h.net.names(self.uid)
            meta.update(netns=netns, veth=veth)
            self.write_meta(meta)  # recorded before it exists, so a crash leaves no secret
            ip = self.h.net.allocate(self.uid)
            self.netns = self.h.net.setup_pod(self.uid, ip)
            self.pod_ip = ip
        meta["podIP"] = self.pod_ip
        self.write_meta(meta)
        etc = os.path.join(self.dir, "etc")
        os.makedirs(etc, exist_ok=True)
        hostname = pod["spec"].get("hostname") or self.name
        with open(os.path.join(etc, "hosts"), "w") as f:
            f.write("# Kubernetes-managed hosts file (clawplane runtime host).\n127.0.0.1\tlocalhost\n"
                    "::1\tlocalhost ip6-localhost ip6-loopback\n%s\t%s\n" % (self.pod_ip, hostname))
        with open(os.path.join(etc, "hostname"), "w") as f:
            f.write(hostname + "\n")
        resolv = ""
        try:
            resolv = "".join(l for l in open("/etc/resolv.conf") if l.split()[:1] in (["nameserver"], ["search"], ["options"]))
        except OSError:
            pass
        with open(os.path.join(etc, "resolv.conf"), "w") as f:
            f.write(resolv)
        self.log("sandbox ready: podIP %s netns %s" % (self.pod_ip, self.netns))

    def write_meta(self, meta):
        os.makedirs(self.dir, exist_ok=True)
        with open(os.path.join(self.dir, "pod.json.tmp"), "w") as f:
            json.dump(meta, f)
        os.rename(os.path.join(self.dir, "pod.json.tmp"), os.path.join(self.dir, "pod.json"))

    # --- volumes ----------------------------------------------------------------------

    def vol_dir(self, name):
        return os.path.join(self.dir, "volumes", name)

    def source_object(self, kind, name, optional):
        obj = self.h.ns_object(kind, self.ns, name)
        if obj is None and not optional:
            raise MountError('%s "%s" not found' % ({"configmaps": "configmap", "secrets": "secret"}[kind], name))
        return obj

    def key_files(self, obj, items, default_mode, is_secret, optional, kind_name):
        if obj is None:
            return {}
        data = {}
        for k, v in (obj.get("data") or {}).items():
            data[k] = base64.b64decode(v) if is_secret else v.encode()
        for k, v in (obj.get("binaryData") or {}).items():
            data[k] = base64.b64decode(v)
        files = {}
        if items:
            for it in items:
                if it["key"] not in data:
                    if optional:
                        continue
                    raise MountError("configmap/secret %s has no key %s" % (kind_name, it["key"]))
                files[it["path"]] = (data[it["key"]], it.get("mode", default_mode))
        else:
            files = {k: (v, default_mode) for k, v in data.items()}
        return files

    def sa_token(self, pod, src):
        sa = pod["spec"].get("serviceAccountName") or "default"
        exp = src.get("expirationSeconds", 3607)
        key = (sa, src.get("audience"), exp)
        tok = self.sa_tokens.get(key)
        if tok and time.time() < tok[1]:
            return tok[0]
        spec = {"expirationSeconds": exp, "boundObjectRef": {"apiVersion": "v1", "kind": "Pod", "name": self.name,
                                                             "uid": self.uid}}
        if src.get("audience"):
            spec["audiences"] = [src["audience"]]
        try:
            r = self.h.api.request("POST", "/api/v1/namespaces/%s/serviceaccounts/%s/token" % (self.ns, sa),
                                   body={"apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest", "spec": spec})
        except ApiError as e:
            raise MountError("service account token for %s: %s" % (sa, e))
        self.sa_tokens[key] = (r["status"]["token"].encode(), time.time() + exp * 0.8)
        return self.sa_tokens[key][0]

    def downward_files(self, pod, items, default_mode):
        files = {}
        for it in items or []:
            if "fieldRef" in it:
                val = field_value(pod, it["fieldRef"]["fieldPath"])
            else:
                val = self.resource_value(pod, it["resourceFieldRef"])
            files[it["path"]] = (val.encode(), it.get("mode", default_mode))
        return files

    def ensure_volumes(self, pod):
        sc = pod["spec"].get("securityContext") or {}
        fsgroup = sc.get("fsGroup")
        self.paths = {}
        for v in pod["spec"].get("volumes") or []:
            name, d = v["name"], self.vol_dir(v["name"])
            if "emptyDir" in v:
                if not os.path.isdir(d):
                    os.makedirs(d)
                    os.chmod(d, 0o777)
                    if fsgroup is not None:
                        set_group_ownership(d, fsgroup, False)
                self.paths[name] = d
            elif "configMap" in v or "secret" in v:
                is_secret = "secret" in v
                src = v["secret"] if is_secret else v["configMap"]
                oname = src["secretName"] if is_secret else src["name"]
                optional = src.get("optional", False)
                obj = self.source_object("secrets" if is_secret else "configmaps", oname, optional)
                files = self.key_files(obj, src.get("items"), src.get("defaultMode", 0o644), is_secret, optional, oname)
                if atomic_write(d, files, fsgroup) and name in self.vol_versions:
                    self.log("volume %s updated from %s %s" % (name, "secret" if is_secret else "configmap", oname))
                self.vol_versions[name] = True
                self.paths[name] = d
            elif "projected" in v:
                mode = v["projected"].get("defaultMode", 0o644)
                files = {}
                for s in v["projected"].get("sources") or []:
                    if "configMap" in s or "secret" in s:
                        is_secret = "secret" in s
                        src = s["secret"] if is_secret else s["configMap"]
                        opt = src.get("optional", False)
                        obj = self.source_object("secrets" if is_secret else "configmaps", src["name"], opt)
                        files.update(self.key_files(obj, src.get("items"), mode, is_secret, opt, src["name"]))
                    elif "downwardAPI" in s:
                        files.update(self.downward_files(pod, s["downwardAPI"].get("items"), mode))
                    elif "serviceAccountToken" in s:
                        files[s["serviceAccountToken"]["path"]] = (self.sa_token(pod, s["serviceAccountToken"]), mode)
                atomic_write(d, files, fsgroup)
                self.paths[name] = d
            elif "downwardAPI" in v:
                atomic_write(d, self.downward_files(pod, v["downwardAPI"].get("items"),
                                                    v["downwardAPI"].get("defaultMode", 0o644)), fsgroup)
                self.paths[name] = d
            elif "persistentVolumeClaim" in v:
                claim = v["persistentVolumeClaim"]["claimName"]
                pvc = self.h.ns_object("persistentvolumeclaims", self.ns, claim)
                if pvc is None:
                    raise MountError('persistentvolumeclaim "%s" not found' % claim)
                pv_name = (pvc.get("spec") or {}).get("volumeName")
                if not pv_name or (pvc.get("status") or {}).get("phase") != "Bound":
                    raise MountError('persistentvolumeclaim "%s" is not bound yet' % claim)
                path = self.pv_paths.get(pv_name)  # a bound PV's path does not change
                if path is None:
                    pv = self.h.api.get_or_none("/api/v1/persistentvolumes/" + pv_name) or {}
                    spec = pv.get("spec") or {}
                    path = (spec.get("hostPath") or spec.get("local") or {}).get("path")
                    if path:
                        self.pv_paths[pv_name] = path
                if not path:
                    raise MountError("persistentvolume %s has no hostPath or local path: the runtime host mounts "
                                     "only those" % pv_name)
                os.makedirs(path, exist_ok=True)
                if fsgroup is not None and name not in self.owned_pvcs:
                    st = os.stat(path)
                    if not (sc.get("fsGroupChangePolicy") == "OnRootMismatch" and st.st_gid == fsgroup
                            and st.st_mode & 0o2070 == 0o2070):
                        set_group_ownership(path, fsgroup)
                    self.owned_pvcs.add(name)
                self.paths[name] = path
            elif "hostPath" in v:
                p = v["hostPath"]["path"]
                if v["hostPath"].get("type") == "DirectoryOrCreate":
                    os.makedirs(p, exist_ok=True)
                if not os.path.exists(p):
                    raise MountError("hostPath %s does not exist" % p)
                self.paths[name] = p
            else:
                kind = [k for k in v if k != "name"]
                raise MountError("volume %s: type %s is not supported by the runtime host" % (name, kind))

    # --- containers -------------------------------------------------------------------

    def resource_value(self, pod, ref, container=None):
        cname = ref.get("containerName") or (container or {}).get("name")
        c = next((c for c in pod["spec"]["containers"] if c["name"] == cname), None)
        res = (c or {}).get("resources") or {}
        kind, what = ref["resource"].split(".", 1)
        val = (res.get(kind) or {}).get(what)
        if val is None:
            val = str(self.h.capacity.get(what, "0"))
        div = ref.get("divisor", "1")
        if what == "cpu":
            m = float(val[:-1]) / 1000 if str(val).endswith("m") else float(val)
            d = float(div[:-1]) / 1000 if str(div).endswith("m") else float(div)
            return str(max(1, int(-(-m // d))))
        return str(val)

    def lookup_key(self, kind, ref):
        optional = ref.get("optional", False)
        obj = self.h.ns_object(kind, self.ns, ref["name"])
        label = "secret" if kind == "secrets" else "configmap"
        if obj is None:
            if optional:
                return None
            raise ConfigError('%s "%s" not found' % (label, ref["name"]))
        if ref["key"] in (obj.get("data") or {}):
            v = obj["data"][ref["key"]]
            return base64.b64decode(v).decode(errors="replace") if kind == "secrets" else v
        if ref["key"] in (obj.get("binaryData") or {}):
            return base64.b64decode(obj["binaryData"][ref["key"]]).decode(errors="replace")
        if optional:
            return None
        raise ConfigError("couldn't find key %s in %s %s/%s" % (ref["key"], label.capitalize() if kind == "secrets"
                                                                 else "ConfigMap", self.ns, ref["name"]))

    def resolve_env(self, pod, spec):
        env = {}
        for ef in spec.get("envFrom") or []:
            prefix = ef.get("prefix", "")
            for kind, refk in (("configmaps", "configMapRef"), ("secrets", "secretRef")):
                if refk not in ef:
                    continue
                ref = ef[refk]
                obj = self.h.ns_object(kind, self.ns, ref["name"])
                if obj is None:
                    if ref.get("optional"):
                        continue
                    raise ConfigError('%s "%s" not found' % ("secret" if kind == "secrets" else "configmap", ref["name"]))
                for k, v in (obj.get("data") or {}).items():
                    env[prefix + k] = base64.b64decode(v).decode(errors="replace") if kind == "secrets" else v
        for e in spec.get("env") or []:
            if "valueFrom" not in e:
                env[e["name"]] = expand(e.get("value", ""), env)
                continue
            vf = e["valueFrom"]
            if "fieldRef" in vf:
                val = field_value(pod, vf["fieldRef"]["fieldPath"])
                if vf["fieldRef"]["fieldPath"] == "status.podIP":
                    val = self.pod_ip
                elif vf["fieldRef"]["fieldPath"] == "status.hostIP":
                    val = self.h.node_ip
            elif "resourceFieldRef" in vf:
                val = self.resource_value(pod, vf["resourceFieldRef"], spec)
            elif "secretKeyRef" in vf:
                val = self.lookup_key("secrets", vf["secretKeyRef"])
            elif "configMapKeyRef" in vf:
                val = self.lookup_key("configmaps", vf["configMapKeyRef"])
            else:
                raise ConfigError("unsupported valueFrom in env %s" % e["name"])
            if val is not None:
                env[e["name"]] = val
        return env

    def container_spec(self, pod, c, img):
        """The shim's spec for one start of container c. Raises ConfigError."""
        spec = c.spec
        env = self.resolve_env(pod, spec)
        full_env = dict(img.get("env") or {})
        full_env["HOSTNAME"] = pod["spec"].get("hostname") or self.name
        full_env.update(env)
        if spec.get("command"):
            argv = [expand(a, env) for a in spec["command"]] + [expand(a, env) for a in spec.get("args") or []]
        elif spec.get("args"):
            argv = list(img.get("entrypoint") or []) + [expand(a, env) for a in spec["args"]]
        else:
            argv = list(img.get("entrypoint") or []) + list(img.get("cmd") or [])
        if not argv:
            raise ConfigError("no command specified")
        psc = pod["spec"].get("securityContext") or {}
        csc = spec.get("securityContext") or {}
        iuid, igid = 0, 0
        if img.get("user"):
            u = str(img["user"]).split(":")
            iuid = int(u[0])
            igid = int(u[1]) if len(u) > 1 else 0
        uid = csc.get("runAsUser", psc.get("runAsUser", iuid))
        gid = csc.get("runAsGroup", psc.get("runAsGroup", igid))
        if csc.get("runAsNonRoot", psc.get("runAsNonRoot")) and uid == 0:
            raise ConfigError('container has runAsNonRoot and image will run as root (pod: "%s_%s(%s)", '
                              'container: %s)' % (self.name, self.ns, self.uid, c.name))
        groups = []
        if psc.get("fsGroup") is not None:
            groups.append(psc["fsGroup"])
        groups += [g for g in psc.get("supplementalGroups") or [] if g not in groups]
        capsc = csc.get("capabilities") or {}
        drop = [x.lower() for x in capsc.get("drop") or []]
        add = [x.lower() for x in capsc.get("add") or []]
        caps = [] if "all" in drop else [x for x in DEFAULT_CAPS if x not in drop]
        caps += [x for x in add if x != "all" and x not in caps]
        if csc.get("privileged"):
            raise ConfigError("privileged containers are not supported by the runtime host")
        mounts = []
        for vm in spec.get("volumeMounts") or []:
            src = self.paths.get(vm["name"])
            if src is None:
                raise ConfigError("volume %s not found for volumeMount %s" % (vm["name"], vm["mountPath"]))
            sub = vm.get("subPath") or ""
            if vm.get("subPathExpr"):
                sub = expand(vm["subPathExpr"], env)
            if sub:
                if sub.startswith("/") or ".." in sub.split("/"):
                    raise ConfigError("subPath %s must be a relative path without '..'" % sub)
                src = os.path.join(src, sub)
                if not os.path.exists(src):
                    os.makedirs(src)
            ro = vm.get("readOnly", False)
            for v in pod["spec"].get("volumes") or []:
                if v["name"] == vm["name"]:
                    ro = ro or (v.get("persistentVolumeClaim") or {}).get("readOnly", False) or "configMap" in v \
                        or "secret" in v or "projected" in v or "downwardAPI" in v
            mounts.append({"source": src, "target": vm["mountPath"], "readOnly": ro})
        cdir = os.path.join(self.dir, "containers", c.name)
        os.makedirs(os.path.join(cdir, "logs"), exist_ok=True)
        tlog = os.path.join(cdir, "termination-log")
        open(tlog, "w").close()
        os.chown(tlog, uid, gid)
        mounts.append({"source": tlog, "target": spec.get("terminationMessagePath", "/dev/termination-log"),
                       "readOnly": False})
        shutil.rmtree(os.path.join(cdir, "upper"), ignore_errors=True)
        os.makedirs(os.path.join(cdir, "upper"))
        os.makedirs(os.path.join(cdir, "rootfs"), exist_ok=True)
        etc = os.path.join(self.dir, "etc")
        return {
            "netns": self.netns,
            "root": os.path.join(cdir, "rootfs"),
            "upper": os.path.join(cdir, "upper"),
            "hostDirs": ["usr", "lib", "lib32", "lib64", "libx32", "bin", "sbin"],
            "etcFiles": {"hosts": etc + "/hosts", "hostname": etc + "/hostname", "resolv.conf": etc + "/resolv.conf"},
            "imageMounts": [dict(m, readOnly=m.get("readOnly", True)) for m in img.get("mounts") or []],
            "mounts": mounts,
            "mkdirs": img.get("dirs") or [],
            "passwd": img.get("passwd") or [],
            "group": img.get("group") or [],
            "readOnlyRoot": bool(csc.get("readOnlyRootFilesystem")),
            "workingDir": spec.get("workingDir") or img.get("workingDir") or "/",
            "user": {"uid": uid, "gid": gid, "groups": groups},
            "caps": caps,
            "noNewPrivs": csc.get("allowPrivilegeEscalation") is not True,
            "argv": argv,
            "env": full_env,
            "hostname": pod["spec"].get("hostname") or self.name,
            "log": os.path.join(cdir, "logs", "%d.log" % c.restart_count),
            "state": os.path.join(cdir, "shim.json"),
            "exit": os.path.join(cdir, "exit.json"),
        }

    def start_container(self, pod, c):
        img = self.h.images.lookup(c.spec["image"])
        if img is None or img.get("missing"):
            msg = self.h.images.unknown_message(c.spec["image"]) if img is None else \
                "image %s: %s" % (c.spec["image"], img["missing"])
            if c.pull_failed_at is None:
                c.pull_failed_at = time.time()
                c.waiting = ("ErrImagePull", msg)
                self.event(pod, "Warning", "Failed", 'Failed to pull image "%s": %s' % (c.spec["image"], msg), c)
            elif time.time() - c.pull_failed_at > 2:
                c.waiting = ("ImagePullBackOff", 'Back-off pulling image "%s": %s' % (c.spec["image"], msg))
                if ("pullbackoff", c.name) not in self.events_sent:
                    self.events_sent.add(("pullbackoff", c.name))
                    self.event(pod, "Normal", "BackOff", 'Back-off pulling image "%s"' % c.spec["image"], c)
            return
        try:
            spec = self.container_spec(pod, c, img)
        except ConfigError as e:
            if c.waiting != ("CreateContainerConfigError", str(e)):
                self.event(pod, "Warning", "Failed", "Error: %s" % e, c)
            c.waiting = ("CreateContainerConfigError", str(e))
            return
        cdir = os.path.join(self.dir, "containers", c.name)
        for f in ("exit.json", "shim.json"):
            if os.path.exists(os.path.join(cdir, f)):
                os.unlink(os.path.join(cdir, f))
        sp = os.path.join(cdir, "spec.json")
        fd = os.open(sp + ".tmp", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            json.dump(spec, f)
        os.rename(sp + ".tmp", sp)
        logf = open(spec["log"], "ab")
        c.proc = subprocess.Popen([sys.executable, "-I", SHIM, sp], stdin=subprocess.DEVNULL, stdout=logf,
                                  stderr=logf, start_new_session=True, close_fds=True)
        logf.close()
        c.started_at = time.time()
        c.cid = "runtime-host://%s-%s-%d" % (self.uid[:8], c.name, c.restart_count)
        c.waiting = None
        c.term = None
        c.info = {}
        c.ready = False
        c.started = not c.spec.get("startupProbe")
        c.probe = {}
        c.kill_deadline = None
        c.kill_reason = None
        c.pull_failed_at = None
        self.events_sent.discard(("backoff", c.name))
        self.log("started container %s (shim pid %d): %s" % (c.name, c.proc.pid, " ".join(spec["argv"])[:200]))
        self.event(pod, "Normal", "Started", "Started container %s" % c.name, c)

    def shim_info(self, c):
        if not c.info.get("child"):
            try:
                with open(os.path.join(self.dir, "containers", c.name, "shim.json")) as f:
                    c.info = json.load(f)
            except (OSError, ValueError):
                pass
        return c.info

    def signal(self, c, sig):
        if not c.alive():
            return
        info = self.shim_info(c)
        try:
            if sig == signal.SIGKILL and info.get("child") and proc_start(info["child"]) == info.get("child_start"):
                os.kill(info["child"], signal.SIGKILL)
            os.kill(c.proc.pid, sig)
        except ProcessLookupError:
            pass

    def exited(self, pod, c):
        """Turns a finished process into a terminated state; True if it will restart."""
        rc = c.proc.returncode
        cdir = os.path.join(self.dir, "containers", c.name)
        ex = {}
        try:
            with open(os.path.join(cdir, "exit.json")) as f:
                ex = json.load(f)
        except (OSError, ValueError):
            ex = {"exitCode": rc if rc >= 0 else 128 - rc}
        code = ex.get("exitCode", rc)
        reason = ex.get("reason") or ("Completed" if code == 0 else "Error")
        msg = ""
        try:
            with open(os.path.join(cdir, "termination-log"), "rb") as f:
                msg = f.read(4096).decode(errors="replace")
        except OSError:
            pass
        if not msg and code != 0 and c.spec.get("terminationMessagePolicy") == "FallbackToLogsOnError":
            msg = self.log_tail(os.path.join(cdir, "logs", "%d.log" % c.restart_count))
        if ex.get("message") and not msg:
            msg = ex["message"]
        term = {"exitCode": code, "reason": reason, "startedAt": rfc3339(c.started_at),
                "finishedAt": rfc3339(ex.get("at", time.time())), "containerID": c.cid}
        if ex.get("signal"):
            term["signal"] = ex["signal"]
        if msg:
            term["message"] = msg
        ran = time.time() - c.started_at
        c.proc = None
        c.ready = False
        c.started = False
        self.log("container %s exited with %d after %.1fs" % (c.name, code, ran))
        policy = pod["spec"].get("restartPolicy", "Always")
        if c.init:
            if code == 0:
                c.done, c.term = True, term
                return False
            restart = policy != "Never"
        else:
            restart = policy == "Always" or (policy == "OnFailure" and code != 0) or \
                (c.kill_reason is not None and policy != "Never")
        if not restart:
            c.term = term
            return False
        c.last_term = term
        c.restart_count += 1
        if ran > 2 * BACKOFF_MAX:
            c.backoff = 0
        delay = 0 if c.backoff == 0 else min(BACKOFF_INITIAL * 2 ** (c.backoff - 1), BACKOFF_MAX)
        c.backoff += 1
        c.next_start = time.time() + delay
        if delay:
            c.waiting = ("CrashLoopBackOff", "back-off %ds restarting failed container=%s pod=%s_%s(%s)"
                         % (delay, c.name, self.name, self.ns, self.uid))
        return True

    @staticmethod
    def log_tail(path, lines=80, limit=4096):
        try:
            with open(path, "rb") as f:
                f.seek(0, 2)
                size = f.tell()
                f.seek(max(0, size - 64 * 1024))
                data = f.read()
        except OSError:
            return ""
        tail = b"\n".join(data.rstrip(b"\n").split(b"\n")[-lines:])
        return tail[-limit:].decode(errors="replace")

    def sync_container(self, pod, c):
        if c.alive():
            if c.kill_deadline and time.time() >= c.kill_deadline:
                self.signal(c, signal.SIGKILL)
            elif not c.kill_deadline:
                self.run_probes(pod, c)
            return
        if c.proc is not None:
            restart = self.exited(pod, c)
            if not restart:
                return
        if c.term is not None or c.done:
            return
        if time.time() < c.next_start:
            if c.waiting and c.waiting[0] == "CrashLoopBackOff" and ("backoff", c.name) not in self.events_sent:
                self.events_sent.add(("backoff", c.name))
                self.event(pod, "Warning", "BackOff", "Back-off restarting failed container %s in pod %s_%s(%s)"
                           % (c.name, self.name, self.ns, self.uid), c)
            return
        self.start_container(pod, c)

    def run_inits(self, pod):
        """Runs init containers one after the other; True once all finished with 0."""
        for c in self.inits:
            if c.done:
                continue
            self.sync_container(pod, c)
            if not c.done:
                if c.term is not None:  # failed and restartPolicy Never
                    return False
                return False
        return True

    # --- probes -----------------------------------------------------------------------

    def probe_once(self, c, probe):
        t = probe.get("timeoutSeconds", 1)
        host = self.pod_ip

        def port_of(p):
            if isinstance(p, int) or str(p).isdigit():
                return int(p)
            for cp in c.spec.get("ports") or []:
                if cp.get("name") == p:
                    return cp["containerPort"]
            raise ValueError("unknown named port %s" % p)
        try:
            if "httpGet" in probe:
                g = probe["httpGet"]
                h, port = g.get("host") or host, port_of(g["port"])
                src = (self.h.net.probe_ip, 0)  # see net.py: probes come from the gateway address
                if g.get("scheme", "HTTP").upper() == "HTTPS":
                    conn = http.client.HTTPSConnection(h, port, timeout=t, context=ssl._create_unverified_context(),
                                                       source_address=src)
                else:
                    conn = http.client.HTTPConnection(h, port, timeout=t, source_address=src)
                headers = {"User-Agent": "kube-probe/1.34", "Accept": "*/*"}
                for hd in g.get("httpHeaders") or []:
                    headers[hd["name"]] = hd["value"]
                try:
                    conn.request("GET", g.get("path") or "/", headers=headers)
                    r = conn.getresponse()
                    body = r.read(1024)
                finally:
                    conn.close()
                if 200 <= r.status < 400:
                    return True, ""
                return False, "HTTP probe failed with statuscode: %d" % r.status if not body else \
                    "HTTP probe failed with statuscode: %d" % r.status
            if "tcpSocket" in probe:
                s = socket.create_connection((probe["tcpSocket"].get("host") or host, port_of(probe["tcpSocket"]["port"])), t,
                                             source_address=(self.h.net.probe_ip, 0))
                s.close()
                return True, ""
            if "exec" in probe:
                info = self.shim_info(c)
                if not info.get("child"):
                    return None, "container still starting"
                spec = json.load(open(os.path.join(self.dir, "containers", c.name, "spec.json")))
                u = spec["user"]
                cmd = ["nsenter", "-t", str(info["child"]), "-m", "-p", "-n", "-u", "-i", "-r", "-w",
                       "setpriv", "--reuid=%d" % u["uid"], "--regid=%d" % u["gid"], "--clear-groups",
                       "--inh-caps=-all", "--bounding-set=-all", "--no-new-privs", "--"] + probe["exec"]["command"]
                r = subprocess.run(cmd, capture_output=True, timeout=t, env=spec["env"])
                if r.returncode == 0:
                    return True, ""
                return False, (r.stdout + r.stderr).decode(errors="replace")[-1024:]
            return False, "this probe type is not supported by the runtime host (httpGet, tcpSocket, exec are)"
        except subprocess.TimeoutExpired:
            return False, "command timed out after %ds" % t
        except (OSError, http.client.HTTPException, ValueError) as e:
            target = probe.get("httpGet") or probe.get("tcpSocket") or {}
            if "httpGet" in probe:
                return False, 'Get "http://%s:%s%s": %s' % (host, target.get("port"), target.get("path", "/"), e)
            return False, "dial tcp %s:%s: %s" % (host, target.get("port"), e)

    def run_probes(self, pod, c):
        now = time.time()
        spec = c.spec
        kinds = []
        if not c.started:
            kinds = [("startup", spec.get("startupProbe"))]
        else:
            kinds = [("liveness", spec.get("livenessProbe")), ("readiness", spec.get("readinessProbe"))]
            if not spec.get("readinessProbe"):
                c.ready = True
        for kind, probe in kinds:
            if not probe:
                continue
            st = c.probe.setdefault(kind, {"succ": 0, "fail": 0, "next": c.started_at + probe.get("initialDelaySeconds", 0)})
            if now < st["next"]:
                continue
            st["next"] = now + probe.get("periodSeconds", 10)
            ok, msg = self.probe_once(c, probe)
            if ok is None:  # no verdict yet: try again next round
                st["next"] = now + 1
                continue
            if ok:
                st["succ"] += 1
                st["fail"] = 0
                if st["succ"] >= probe.get("successThreshold", 1):
                    if kind == "startup":
                        c.started = True
                        self.log("container %s started (startup probe passed after %.1fs)" % (c.name, now - c.started_at))
                        self.wake.set()
                    elif kind == "readiness" and not c.ready:
                        c.ready = True
                        self.log("container %s ready after %.1fs" % (c.name, now - c.started_at))
                continue
            st["fail"] += 1
            st["succ"] = 0
            thr = probe.get("failureThreshold", 3)
            if kind == "readiness" and c.ready and st["fail"] >= thr:
                c.ready = False
            if kind != "startup" or st["fail"] >= thr:
                self.event(pod, "Warning", "Unhealthy", "%s probe failed: %s" % (kind.capitalize(), msg[:500]), c)
            if kind in ("startup", "liveness") and st["fail"] >= thr:
                grace = probe.get("terminationGracePeriodSeconds",
                                  pod["spec"].get("terminationGracePeriodSeconds", 30))
                self.event(pod, "Normal", "Killing", "Container %s failed %s probe, will be restarted" % (c.name, kind), c)
                c.kill_reason = kind
                c.kill_deadline = now + grace
                c.ready = False
                self.signal(c, signal.SIGTERM)
                return

    # --- deletion ---------------------------------------------------------------------

    def kill_all(self, sig):
        for c in self.all():
            self.signal(c, sig)

    def wait_dead(self, secs):
        end = time.time() + secs
        while any(c.alive() for c in self.all()) and time.time() < end:
            time.sleep(0.1)

    def sync_terminating(self, pod):
        grace = pod["metadata"].get("deletionGracePeriodSeconds")
        if grace is None:
            grace = pod["spec"].get("terminationGracePeriodSeconds", 30)
        deadline = time.time() + grace
        if self.terminating is None:
            self.terminating = deadline
            for c in self.all():
                if c.alive():
                    self.event(pod, "Normal", "Killing", "Stopping container %s" % c.name, c)
            self.log("deleting: SIGTERM, grace period %ss" % grace)
            self.kill_all(signal.SIGTERM)
        self.terminating = min(self.terminating, deadline)
        if any(c.alive() for c in self.all()):
            if time.time() >= self.terminating:
                self.log("grace period over: SIGKILL")
                self.kill_all(signal.SIGKILL)
            return False
        self.teardown()
        try:
            self.h.api.request("DELETE", "/api/v1/namespaces/%s/pods/%s" % (self.ns, self.name),
                               body={"apiVersion": "v1", "kind": "DeleteOptions", "gracePeriodSeconds": 0,
                                     "preconditions": {"uid": self.uid}})
            self.log("deleted from the API")
        except ApiError as e:
            if e.status not in (404, 409):
                self.log("final delete: %s; retrying" % e)
                return False
        return True

    def teardown(self):
        for c in self.all():
            if c.proc is not None:
                try:
                    c.proc.wait(5)
                except subprocess.TimeoutExpired:
                    pass
        self.h.kill_leftover_processes(self.dir)
        if self.netns:
            self.h.net.teardown_pod(self.uid)
        else:
            self.h.net.release(self.uid)
        shutil.rmtree(self.dir, ignore_errors=True)
        self.log("torn down")

    # --- status -----------------------------------------------------------------------

    def container_status(self, c):
        st = {"name": c.name, "image": c.spec["image"], "imageID": "", "ready": c.ready or c.done,
              "restartCount": c.restart_count, "started": bool(c.alive() and c.started)}
        if c.cid and (c.alive() or c.term):
            st["containerID"] = c.cid
        if c.alive():
            st["state"] = {"running": {"startedAt": rfc3339(c.started_at)}}
        elif c.term is not None:
            st["state"] = {"terminated": c.term}
        else:
            w = c.waiting or ("ContainerCreating", None)
            st["state"] = {"waiting": {"reason": w[0]}}
            if w[1]:
                st["state"]["waiting"]["message"] = w[1]
        st["lastState"] = {"terminated": c.last_term} if c.last_term else {}
        return st

    def cond(self, ctype, ok, reason=None, message=None):
        status = "True" if ok else "False"
        prev = self.cond_times.get(ctype)
        if prev is None or prev[0] != status:
            self.cond_times[ctype] = (status, now_rfc3339())
        c = {"type": ctype, "status": status, "lastProbeTime": None, "lastTransitionTime": self.cond_times[ctype][1]}
        if not ok and reason:
            c["reason"] = reason
            if message:
                c["message"] = message
        return c

    def patch_status(self, pod):
        cs = [self.container_status(c) for c in self.containers]
        ics = [self.container_status(c) for c in self.inits]
        inits_done = all(c.done for c in self.inits)
        unready = [c.name for c in self.containers if not c.ready]
        policy = pod["spec"].get("restartPolicy", "Always")
        if self.containers and all(c.term is not None for c in self.containers):
            phase = "Succeeded" if all(c.term["exitCode"] == 0 for c in self.containers) else "Failed"
        elif any(c.term is not None and not c.done for c in self.inits) and policy == "Never":
            phase = "Failed"
        elif inits_done and any(c.alive() or c.restart_count > 0 or c.term for c in self.containers):
            phase = "Running"
        else:
            phase = "Pending"
        msg = "containers with unready status: [%s]" % " ".join(unready)
        conds = [c for c in (pod.get("status") or {}).get("conditions") or [] if c["type"] == "PodScheduled"]
        conds += [self.cond("PodReadyToStartContainers", bool(self.pod_ip)),
                  self.cond("Initialized", inits_done, "ContainersNotInitialized",
                            "containers with incomplete status: [%s]" % " ".join(c.name for c in self.inits if not c.done)),
                  self.cond("ContainersReady", not unready, "ContainersNotReady", msg),
                  self.cond("Ready", not unready, "ContainersNotReady", msg)]
        status = {"phase": phase, "conditions": conds, "containerStatuses": cs,
                  "startTime": rfc3339(self.start_time)}
        if ics:
            status["initContainerStatuses"] = ics
        if self.pod_ip:
            status.update(hostIP=self.h.node_ip, hostIPs=[{"ip": self.h.node_ip}], podIP=self.pod_ip,
                          podIPs=[{"ip": self.pod_ip}])
        if status == self.last_status:
            return
        try:
            self.h.api.request("PATCH", "/api/v1/namespaces/%s/pods/%s/status" % (self.ns, self.name),
                               body={"metadata": {"uid": self.uid}, "status": status},
                               ctype="application/merge-patch+json")
            self.last_status = status
        except ApiError as e:
            self.log("status patch: %s" % e)

    def event(self, pod, etype, reason, message, c=None):
        self.h.event(pod, etype, reason, message,
                     None if c is None else "spec.%s{%s}" % ("initContainers" if c.init else "containers", c.name))
