"""The part of the kubelet's HTTPS API that `kubectl logs` needs: the kube-apiserver
proxies GET /containerLogs/<namespace>/<pod>/<container> to the Node's InternalIP and
daemonEndpoints port (it does not verify kubelet serving certificates unless given
--kubelet-certificate-authority, so a self-signed one is enough). Query: tailLines,
limitBytes, previous, follow. Pods can reach the node IP too, so connections from the pod
CIDR are refused: only the host (the apiserver) reads logs."""

import http.server
import ipaddress
import os
import ssl
import subprocess
import threading
import time
import urllib.parse


def serving_cert(state, node, node_ip):
    crt, key = os.path.join(state, "serving.crt"), os.path.join(state, "serving.key")
    if not (os.path.exists(crt) and os.path.exists(key)):
        subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                        "-days", "3650", "-subj", "/CN=" + node, "-addext", "subjectAltName=IP:" + node_ip,
                        "-keyout", key, "-out", crt], check=True, capture_output=True, timeout=60)
        os.chmod(key, 0o600)
    return crt, key


def start(host, port, pod_cidr):
    cidr = ipaddress.ip_network(pod_cidr)

    class Handler(http.server.BaseHTTPRequestHandler):
        def log_message(self, fmt, *args):
            pass

        def fail(self, code, msg):
            body = msg.encode()
            self.send_response(code)
            self.send_header("Content-Type", "text/plain; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self):  # noqa: N802 - http.server's naming
            if ipaddress.ip_address(self.client_address[0]) in cidr:
                return self.fail(403, "forbidden: pods may not read the runtime host's API\n")
            u = urllib.parse.urlsplit(self.path)
            q = dict(urllib.parse.parse_qsl(u.query))
            parts = u.path.strip("/").split("/")
            if parts == ["healthz"]:
                return self.fail(200, "ok")
            if len(parts) != 4 or parts[0] != "containerLogs":
                return self.fail(404, "the runtime host serves only /containerLogs and /healthz\n")
            ns, pod, container = parts[1:]
            w = host.worker_by_name(ns, pod)
            if w is None:
                return self.fail(404, 'pod "%s" not found on this runtime host\n' % pod)
            logs = os.path.join(w.dir, "containers", container, "logs")
            runs = sorted((int(f.split(".")[0]) for f in os.listdir(logs)), reverse=True) if os.path.isdir(logs) else []
            previous = q.get("previous") in ("true", "1")
            if len(runs) < (2 if previous else 1):
                return self.fail(400, 'previous terminated container "%s" in pod "%s" not found\n' % (container, pod)
                                 if previous else 'container "%s" in pod "%s" is waiting to start\n' % (container, pod))
            path = os.path.join(logs, "%d.log" % runs[1 if previous else 0])
            with open(path, "rb") as f:
                data = f.read()
            if q.get("tailLines"):
                n = int(q["tailLines"])
                lines = data.splitlines(keepends=True)
                data = b"".join(lines[-n:]) if n > 0 else b""
            if q.get("limitBytes"):
                data = data[: int(q["limitBytes"])]
            self.send_response(200)
            self.send_header("Content-Type", "text/plain")
            self.end_headers()
            self.wfile.write(data)
            if q.get("follow") not in ("true", "1") or previous:
                return
            pos = os.path.getsize(path)
            c = next((c for c in w.all() if c.name == container), None)
            try:
                while os.path.exists(path):
                    with open(path, "rb") as f:
                        f.seek(pos)
                        chunk = f.read()
                    if chunk:
                        pos += len(chunk)
                        self.wfile.write(chunk)
                        self.wfile.flush()
                    elif c is None or not c.alive():
                        break
                    else:
                        time.sleep(0.3)
            except (BrokenPipeError, ConnectionResetError):
                pass

    srv = http.server.ThreadingHTTPServer((host.node_ip, port), Handler)
    srv.daemon_threads = True
    crt, key = serving_cert(host.state, host.node_name, host.node_ip)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(crt, key)
    srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
    threading.Thread(target=srv.serve_forever, daemon=True, name="kubelet-api").start()
    return srv
