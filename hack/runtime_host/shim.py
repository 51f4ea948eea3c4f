"""The runtime host's container shim (what containerd-shim + runc do for one container):

    python3 shim.py <spec.json>

joins the pod's network namespace, makes new mount, PID, UTS and IPC namespaces, builds
the container's root from read-only bind mounts of the host's /usr, /lib*, /bin, /sbin,
an overlay of /etc, the image's content and the pod's volumes, then forks the container's
init (PID 1 of its PID namespace): it mounts a fresh /proc, makes the root read-only when
asked, pivot_roots into it and execs setpriv, which sets uid/gid/groups, drops the
capabilities and sets no_new_privs before exec'ing the container's command. The shim
stays as its parent: it forwards SIGTERM/SIGINT, writes the child's host PID and the PID
namespace's inode to <state> (so a later cleanup finds every process even if the daemon
and this shim were killed), and records the exit status in <exit>.

Every mount lives in the container's private mount namespace, so none outlives it."""

import ctypes
import json
import os
import signal
import stat
import sys
import time

CLONE_NEWNS = 0x00020000
CLONE_NEWUTS = 0x04000000
CLONE_NEWIPC = 0x08000000
CLONE_NEWPID = 0x20000000
CLONE_NEWNET = 0x40000000
MS_RDONLY = 1
MS_NOSUID = 2
MS_NODEV = 4
MS_NOEXEC = 8
MS_REMOUNT = 32
MS_BIND = 4096
MS_REC = 16384
MS_PRIVATE = 1 << 18
MNT_DETACH = 2
SYS_PIVOT_ROOT = 155  # x86_64

libc = ctypes.CDLL(None, use_errno=True)
libc.mount.argtypes = [ctypes.c_char_p, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_ulong, ctypes.c_char_p]


def check(rc, what):
    if rc != 0:
        e = ctypes.get_errno()
        raise OSError(e, "%s: %s" % (what, os.strerror(e)))


def mount(src, target, fstype, flags, data=None):
    enc = lambda s: None if s is None else s.encode()
    check(libc.mount(enc(src), enc(target), enc(fstype), flags, enc(data)), "mount %s on %s" % (src, target))


def bind(src, target, readonly):
    mount(src, target, None, MS_BIND | MS_REC)
    if readonly:
        mount(None, target, None, MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NODEV)


def make_target(path, is_dir):
    if is_dir:
        os.makedirs(path, exist_ok=True)
    else:
        os.makedirs(os.path.dirname(path), exist_ok=True)
        if not os.path.lexists(path):
            open(path, "a").close()


def build_root(spec):
    root = spec["root"]
    mount("tmpfs", root, "tmpfs", MS_NOSUID | MS_NODEV, "mode=755")
    # The host's system directories, read-only; usrmerge symlinks stay symlinks.
    for d in spec["hostDirs"]:
        src = "/" + d
        if not os.path.lexists(src):
            continue
        if os.path.islink(src):
            os.symlink(os.readlink(src), os.path.join(root, d))
        else:
            os.mkdir(os.path.join(root, d))
            bind(src, os.path.join(root, d), True)
    # /usr/local is the image's (Node lives at /usr/local/bin/node in the official image).
    mount("tmpfs", root + "/usr/local", "tmpfs", MS_NOSUID | MS_NODEV, "mode=755")
    # /etc: the host's, under an overlay so mount points can be made in it; the pod's own
    # hosts, hostname and resolv.conf on top (as the kubelet does).
    os.mkdir(root + "/etc")
    up, work = spec["upper"] + "/etc", spec["upper"] + "/work"
    os.makedirs(up, exist_ok=True)
    os.makedirs(work, exist_ok=True)
    # The image's users and groups replace the host's entries of the same name or id.
    for db, lines in (("passwd", spec.get("passwd")), ("group", spec.get("group"))):
        if not lines:
            continue
        ours = {(l.split(":")[0], l.split(":")[2]) for l in lines}
        names, ids = {n for n, _ in ours}, {i for _, i in ours}
        host = [l for l in open("/etc/" + db).read().splitlines()
                if l.count(":") >= 2 and l.split(":")[0] not in names and l.split(":")[2] not in ids]
        with open(os.path.join(up, db), "w") as f:
            f.write("\n".join(host + lines) + "\n")
        os.chmod(os.path.join(up, db), 0o644)
    mount("overlay", root + "/etc", "overlay", MS_NOSUID | MS_NODEV,
          "lowerdir=/etc,upperdir=%s,workdir=%s" % (up, work))
    for name, src in spec["etcFiles"].items():
        make_target(root + "/etc/" + name, False)
        bind(src, root + "/etc/" + name, True)
    # /dev basics.
    os.mkdir(root + "/dev")
    mount("tmpfs", root + "/dev", "tmpfs", MS_NOSUID, "mode=755,size=65536k")
    for dev in ("null", "zero", "full", "random", "urandom", "tty"):
        make_target(root + "/dev/" + dev, False)
        bind("/dev/" + dev, root + "/dev/" + dev, False)
    os.mkdir(root + "/dev/shm")
    mount("shm", root + "/dev/shm", "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, "mode=1777,size=65536k")
    os.mkdir(root + "/dev/pts")
    for name, target in (("fd", "/proc/self/fd"), ("stdin", "/proc/self/fd/0"),
                         ("stdout", "/proc/self/fd/1"), ("stderr", "/proc/self/fd/2")):
        os.symlink(target, root + "/dev/" + name)
    for d in ("proc", "sys", "tmp", "run", "var", "var/tmp", "root", "home", "mnt", "opt", "srv"):
        os.makedirs(root + "/" + d, exist_ok=True)
    os.chmod(root + "/tmp", 0o1777)
    os.chmod(root + "/var/tmp", 0o1777)
    try:
        mount("sysfs", root + "/sys", "sysfs", MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC)
    except OSError:
        pass
    # Directories the image has (a home for its user, its working directory...).
    for d in spec.get("mkdirs", []):
        p = root + d["path"]
        os.makedirs(p, exist_ok=True)
        os.chmod(p, d.get("mode", 0o755))
        os.chown(p, d.get("uid", 0), d.get("gid", 0))
    # The image's content, then the volumes, shallowest first.
    mounts = spec.get("imageMounts", []) + spec.get("mounts", [])
    for m in sorted(mounts, key=lambda m: m["target"].rstrip("/").count("/")):
        t = root + m["target"]
        make_target(t, os.path.isdir(m["source"]))
        bind(m["source"], t, m.get("readOnly", False))
    wd = spec.get("workingDir") or "/"
    if not os.path.isdir(root + wd):
        os.makedirs(root + wd, exist_ok=True)
    return root


def child(spec, root, log_fd):
    """PID 1 of the container's PID namespace."""
    try:
        # A mount namespace of its own: pivot_root moves the root of every process of the
        # namespace it runs in, and the shim must keep the host's.
        check(libc.unshare(CLONE_NEWNS), "unshare mount")
        mount("proc", root + "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC)
        if spec.get("readOnlyRoot"):
            for p in (root, root + "/etc", root + "/usr/local"):
                mount(None, p, None, MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NODEV)
        os.chdir(root)
        check(libc.syscall(SYS_PIVOT_ROOT, b".", b"."), "pivot_root")
        check(libc.umount2(b".", MNT_DETACH), "umount old root")
        os.chdir("/")
        os.chdir(spec.get("workingDir") or "/")
        name = spec.get("hostname", "")[:63].encode()
        libc.sethostname(name, len(name))
        u = spec["user"]
        argv = ["/usr/bin/setpriv", "--reuid=%d" % u["uid"], "--regid=%d" % u["gid"]]
        argv.append("--groups=" + ",".join(str(g) for g in u["groups"]) if u["groups"] else "--clear-groups")
        keep = spec.get("caps") or []
        argv += ["--inh-caps=-all", "--bounding-set=-all" + "".join(",+" + c for c in keep)]
        if spec.get("noNewPrivs", True):
            argv.append("--no-new-privs")
        argv += ["--"] + spec["argv"]
        null = os.open("/dev/null", os.O_RDONLY)
        os.dup2(null, 0)
        os.dup2(log_fd, 1)
        os.dup2(log_fd, 2)
        os.closerange(3, 65536)
        os.execve(argv[0], argv, spec["env"])
    except BaseException as e:  # noqa: BLE001 - anything here is a failed start
        os.write(log_fd, ("runtime-host: cannot start the container: %s\n" % e).encode())
        os._exit(128)


def main():
    spec = json.load(open(sys.argv[1]))
    state, exit_file = spec["state"], spec["exit"]
    log_fd = os.open(spec["log"], os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o640)

    def record(d):
        tmp = state + ".tmp"
        with open(tmp, "w") as f:
            json.dump(d, f)
        os.rename(tmp, state)

    info = {"shim": os.getpid()}
    try:
        if spec.get("netns"):
            fd = os.open(spec["netns"], os.O_RDONLY)
            check(libc.setns(fd, CLONE_NEWNET), "setns net")
            os.close(fd)
        check(libc.unshare(CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWUTS | CLONE_NEWIPC), "unshare")
        record(info)
        mount(None, "/", None, MS_REC | MS_PRIVATE)
        root = build_root(spec)
    except BaseException as e:  # noqa: BLE001
        os.write(log_fd, ("runtime-host: cannot create the container: %s\n" % e).encode())
        with open(exit_file, "w") as f:
            json.dump({"exitCode": 128, "reason": "StartError", "message": str(e), "at": time.time()}, f)
        sys.exit(128)
    pid = os.fork()
    if pid == 0:
        child(spec, root, log_fd)
    # Recorded at once: a cleanup finds every process of the container by this inode.
    info["pidns"] = os.stat("/proc/%d/ns/pid" % pid).st_ino
    with open("/proc/%d/stat" % pid) as f:
        info["child_start"] = f.read().rsplit(")", 1)[1].split()[19]
    info["child"] = pid
    record(info)

    def forward(sig, _frame):
        try:
            os.kill(pid, sig)
        except ProcessLookupError:
            pass

    for s in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP, signal.SIGQUIT):
        signal.signal(s, forward)
    while True:
        try:
            _, status = os.waitpid(pid, 0)
            break
        except InterruptedError:
            continue
        except ChildProcessError:
            status = 137 << 8
            break
    if os.WIFSIGNALED(status):
        code, sig = 128 + os.WTERMSIG(status), os.WTERMSIG(status)
    else:
        code, sig = os.WEXITSTATUS(status), 0
    with open(exit_file + ".tmp", "w") as f:
        json.dump({"exitCode": code, "signal": sig, "at": time.time()}, f)
    os.rename(exit_file + ".tmp", exit_file)
    sys.exit(code if code < 256 else 255)


if __name__ == "__main__":
    main()
