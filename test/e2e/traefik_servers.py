#!/usr/bin/env python3
"""Small loopback servers and a WebSocket client for test_traefik.sh.

  traefik_servers.py backend <address> <port file> <request log>
      HTTP backend on <address>: answers JSON with the X-Clawplane-User values it received; an
      `Upgrade: websocket` request gets 101 (with a correct Sec-WebSocket-Accept), after
      which every chunk read from the connection is echoed back as b"echo:" + chunk.
  traefik_servers.py auth <port file>
      ForwardAuth server: 200 with `X-Clawplane-User: alice` for a request carrying the
      cookie clawplane_session=good, 401 otherwise.
  traefik_servers.py wsclient <port> <host> [<cookie>]
      Sends a WebSocket upgrade through Traefik; prints the status code, then (after a
      101) checks the accept key and that bytes sent come back echoed; exits 1 if not.

Servers bind a free port (the auth server on 127.0.0.1) and write it to <port file> once
listening.
"""
import base64
import hashlib
import http.server
import json
import os
import socket
import sys

WS_GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC11B65"


def ws_accept(key):
    return base64.b64encode(hashlib.sha1((key + WS_GUID).encode()).digest()).decode()


class Backend(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self):
        users = self.headers.get_all("X-Clawplane-User") or []
        with open(self.server.request_log, "a") as f:
            f.write(json.dumps({"path": self.path, "users": users}) + "\n")
        if self.headers.get("Upgrade", "").lower() == "websocket":
            self.send_response(101)
            self.send_header("Upgrade", "websocket")
            self.send_header("Connection", "Upgrade")
            self.send_header("Sec-WebSocket-Accept", ws_accept(self.headers.get("Sec-WebSocket-Key", "")))
            self.send_header("X-Backend-Users", ",".join(users))
            self.end_headers()
            self.wfile.flush()
            self.connection.settimeout(10)
            while True:
                chunk = self.connection.recv(4096)
                if not chunk:
                    break
                self.connection.sendall(b"echo:" + chunk)
            self.close_connection = True
            return
        body = json.dumps({"backend": "ok", "path": self.path, "users": users}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


class Auth(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self):
        cookies = "; ".join(self.headers.get_all("Cookie") or [])
        ok = "clawplane_session=good" in [c.strip() for c in cookies.split(";")]
        body = b"" if ok else b"no session\n"
        self.send_response(200 if ok else 401)
        if ok:
            self.send_header("X-Clawplane-User", "alice")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


def serve(handler, address, port_file, request_log=None):
    server = http.server.ThreadingHTTPServer((address, 0), handler)
    server.daemon_threads = True
    server.request_log = request_log
    with open(port_file + ".tmp", "w") as f:
        f.write(str(server.server_address[1]))
    os.rename(port_file + ".tmp", port_file)
    server.serve_forever()


def wsclient(port, host, cookie=None):
    key = base64.b64encode(b"clawplane-e2e-key").decode()
    lines = [
        "GET /ws HTTP/1.1",
        "Host: " + host,
        "Upgrade: websocket",
        "Connection: Upgrade",
        "Sec-WebSocket-Key: " + key,
        "Sec-WebSocket-Version: 13",
        "X-Clawplane-User: mallory",
    ]
    if cookie:
        lines.append("Cookie: " + cookie)
    s = socket.create_connection(("127.0.0.1", int(port)), timeout=10)
    s.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
    head = b""
    while b"\r\n\r\n" not in head:
        chunk = s.recv(4096)
        if not chunk:
            break
        head += chunk
    head, _, rest = head.partition(b"\r\n\r\n")
    status_line, *header_lines = head.decode("latin-1").split("\r\n")
    code = status_line.split(" ")[1] if " " in status_line else "none"
    print(code)
    if code != "101":
        return 0
    headers = {k.strip().lower(): v.strip() for k, v in (h.split(":", 1) for h in header_lines if ":" in h)}
    if headers.get("sec-websocket-accept") != ws_accept(key):
        sys.exit("wrong Sec-WebSocket-Accept: %r" % headers.get("sec-websocket-accept"))
    if headers.get("x-backend-users") != "alice":
        sys.exit("the backend saw X-Clawplane-User %r, expected alice only" % headers.get("x-backend-users"))
    s.sendall(b"hello through traefik")
    got = rest
    while len(got) < len(b"echo:hello through traefik"):
        chunk = s.recv(4096)
        if not chunk:
            break
        got += chunk
    if got != b"echo:hello through traefik":
        sys.exit("after the upgrade got %r" % got)
    print("echo ok")
    return 0


if __name__ == "__main__":
    role = sys.argv[1]
    if role == "backend":
        serve(Backend, sys.argv[2], sys.argv[3], sys.argv[4])
    elif role == "auth":
        serve(Auth, "127.0.0.1", sys.argv[2])
    elif role == "wsclient":
        sys.exit(wsclient(*sys.argv[2:]))
    else:
        sys.exit("unknown role " + role)
