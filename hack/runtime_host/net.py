"""Pod networking as a simple CNI plugin would do it (ptp + host-local IPAM):

  host:  <prefix>-node   a dummy interface carrying the node IP (/32); an empty bridge
                         where the kernel has no dummy driver (as on this machine)
         <prefix>-<id>   the host end of a veth pair per pod; a /32 route to the pod IP
                         through it with `src <node IP>`
  pod:   netns <prefix>-<id>: lo, eth0 = the pod IP/32, a route to the node IP on eth0
         and the default route via the node IP

The probes, like a kubelet behind a bridge CNI (whose probes come from the bridge's
address), come from the pod CIDR's first address (the gateway, also on <prefix>-node),
not from the node IP: here the node IP is also where a hostNetwork Traefik connects
from, which OpenClaw is told to trust as its proxy, and OpenClaw refuses a request from
its trusted proxy that carries no forwarded client (a probe does not), so /readyz would
answer 403 to probes from the node IP.

So the host reaches <podIP>:<port> for real, the pod sees connections from the node IP,
the pod reaches whatever on the host listens on the node IP (or 0.0.0.0), and pods reach
each other (forwarding is enabled on the pods' veths only). IPs come
from the pod CIDR; each allocation is a file <ipam>/<ip> holding the pod UID."""

import ipaddress
import os
import subprocess


def ip(*args, check=True):
    r = subprocess.run(["ip"] + list(args), capture_output=True, text=True, timeout=30)
    if check and r.returncode != 0:
        raise RuntimeError("ip %s: %s" % (" ".join(args), r.stderr.strip()))
    return r


class Network:
    def __init__(self, prefix, node_ip, pod_cidr, ipam_dir):
        self.prefix = prefix
        self.node_ip = node_ip
        self.cidr = ipaddress.ip_network(pod_cidr)
        self.ipam = ipam_dir
        self.dummy = prefix + "-node"
        self.probe_ip = str(next(self.cidr.hosts()))  # the gateway address, left free by allocate
        os.makedirs(ipam_dir, exist_ok=True)

    def names(self, uid):
        short = uid.replace("-", "")[:8]
        return "%s-%s" % (self.prefix, short), "%s-%s" % (self.prefix, short)

    def setup_host(self):
        if ip("link", "show", self.dummy, check=False).returncode != 0:
            if ip("link", "add", self.dummy, "type", "dummy", check=False).returncode != 0:
                ip("link", "add", self.dummy, "type", "bridge")
        ip("addr", "replace", self.node_ip + "/32", "dev", self.dummy)
        ip("addr", "replace", self.probe_ip + "/32", "dev", self.dummy)
        ip("link", "set", self.dummy, "up")

    def teardown_host(self):
        ip("link", "del", self.dummy, check=False)

    def allocate(self, uid):
        for f in os.listdir(self.ipam):
            try:
                if open(os.path.join(self.ipam, f)).read().strip() == uid:
                    return f
            except OSError:
                pass
        hosts = list(self.cidr.hosts())
        for addr in hosts[1:]:  # the first one is left for a gateway, as host-local does
            a = str(addr)
            if a == self.node_ip:
                continue
            try:
                fd = os.open(os.path.join(self.ipam, a), os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
            except FileExistsError:
                continue
            os.write(fd, uid.encode())
            os.close(fd)
            return a
        raise RuntimeError("no free IP left in %s" % self.cidr)

    def release(self, uid):
        for f in os.listdir(self.ipam):
            try:
                if open(os.path.join(self.ipam, f)).read().strip() == uid:
                    os.unlink(os.path.join(self.ipam, f))
            except OSError:
                pass

    def setup_pod(self, uid, pod_ip):
        """Idempotent: (re)creates the netns and veth for a pod."""
        netns, veth = self.names(uid)
        if not os.path.exists("/run/netns/" + netns):
            ip("netns", "add", netns)
        if ip("link", "show", veth, check=False).returncode != 0:
            ip("link", "add", veth, "type", "veth", "peer", "name", "eth0", "netns", netns)
        ip("-n", netns, "link", "set", "lo", "up")
        ip("-n", netns, "addr", "replace", pod_ip + "/32", "dev", "eth0")
        ip("-n", netns, "link", "set", "eth0", "up")
        ip("link", "set", veth, "up")
        # Forwarding on this veth only (not the machine's ip_forward): pod-to-pod traffic
        # is routed by the host; traffic to elsewhere leaves unNATed and gets no answer.
        with open("/proc/sys/net/ipv4/conf/%s/forwarding" % veth, "w") as f:
            f.write("1")
        ip("-n", netns, "route", "replace", self.node_ip, "dev", "eth0", "scope", "link")
        ip("-n", netns, "route", "replace", "default", "via", self.node_ip, "dev", "eth0")
        ip("route", "replace", pod_ip + "/32", "dev", veth, "src", self.node_ip)
        return "/run/netns/" + netns

    def teardown_pod(self, uid):
        netns, veth = self.names(uid)
        ip("link", "del", veth, check=False)  # takes the host route with it
        ip("netns", "del", netns, check=False)
        self.release(uid)

    def leftovers(self):
        """Network namespaces and links with this instance's prefix (for cleanup)."""
        nss = [l.split()[0] for l in ip("netns", "list", check=False).stdout.splitlines()
               if l.split() and l.split()[0].startswith(self.prefix + "-")]
        links = []
        for l in ip("-o", "link", "show", check=False).stdout.splitlines():
            parts = l.split(":")
            if len(parts) > 1:
                name = parts[1].strip().split("@")[0]
                if name.startswith(self.prefix + "-") and name != self.dummy:
                    links.append(name)
        return nss, links
