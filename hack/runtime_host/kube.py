"""A small Kubernetes API client for the runtime host: HTTPS with the kubeconfig's client
certificate (or bearer token), JSON requests, and a reflector (LIST then WATCH with
resourceVersion, bookmarks, relist on 410 Gone, reconnect with backoff) like client-go's.
Standard library only."""

import base64
import http.client
import json
import os
import random
import socket
import ssl
import subprocess
import tempfile
import threading
import time
import urllib.parse


class ApiError(Exception):
    def __init__(self, status, body):
        self.status = status
        self.body = body
        try:
            msg = json.loads(body).get("message", body)
        except (ValueError, AttributeError):
            msg = body
        super().__init__("HTTP %d: %s" % (status, str(msg)[:500]))


def load_kubeconfig(path, kubectl, secrets_dir):
    """Resolve the current context of a kubeconfig (any layout kubectl reads, YAML or
    JSON) with `kubectl config view --raw --minify --flatten -o json`; the certificate
    blobs go to files in secrets_dir (mode 0600) because ssl wants files."""
    out = subprocess.run(
        [kubectl, "--kubeconfig", path, "config", "view", "--raw", "--minify", "--flatten", "-o", "json"],
        check=True, capture_output=True, text=True, timeout=30).stdout
    cfg = json.loads(out)
    cluster = cfg["clusters"][0]["cluster"]
    user = (cfg.get("users") or [{"user": {}}])[0].get("user") or {}
    os.makedirs(secrets_dir, mode=0o700, exist_ok=True)

    def blob(name, data):
        p = os.path.join(secrets_dir, name)
        fd = os.open(p, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as f:
            f.write(base64.b64decode(data))
        return p

    conf = {"server": cluster["server"].rstrip("/"), "ca": None, "cert": None, "key": None,
            "token": user.get("token"), "insecure": cluster.get("insecure-skip-tls-verify", False)}
    if cluster.get("certificate-authority-data"):
        conf["ca"] = blob("ca.crt", cluster["certificate-authority-data"])
    if user.get("client-certificate-data"):
        conf["cert"] = blob("client.crt", user["client-certificate-data"])
        conf["key"] = blob("client.key", user["client-key-data"])
    return conf


class Client:
    """One keep-alive connection per thread; every call is a complete request."""

    def __init__(self, conf, user_agent="clawplane-runtime-host"):
        u = urllib.parse.urlsplit(conf["server"])
        self.host = u.hostname
        self.port = u.port or (443 if u.scheme == "https" else 80)
        self.base = u.path.rstrip("/")
        self.https = u.scheme == "https"
        self.token = conf.get("token")
        self.ua = user_agent
        if self.https:
            ctx = ssl.create_default_context(cafile=conf.get("ca"))
            if conf.get("insecure"):
                ctx.check_hostname = False
                ctx.verify_mode = ssl.CERT_NONE
            if conf.get("cert"):
                ctx.load_cert_chain(conf["cert"], conf["key"])
            self.ctx = ctx
        self.local = threading.local()

    def _conn(self, timeout):
        if self.https:
            return http.client.HTTPSConnection(self.host, self.port, context=self.ctx, timeout=timeout)
        return http.client.HTTPConnection(self.host, self.port, timeout=timeout)

    def _headers(self, ctype=None):
        h = {"Accept": "application/json", "User-Agent": self.ua}
        if ctype:
            h["Content-Type"] = ctype
        if self.token:
            h["Authorization"] = "Bearer " + self.token
        return h

    def request(self, method, path, body=None, query=None, ctype="application/json", timeout=30):
        url = self.base + path
        if query:
            url += "?" + urllib.parse.urlencode(query)
        data = None if body is None else json.dumps(body).encode()
        for attempt in (0, 1):
            conn = getattr(self.local, "conn", None)
            if conn is None:
                conn = self.local.conn = self._conn(timeout)
            try:
                conn.timeout = timeout
                conn.request(method, url, body=data, headers=self._headers(ctype if data is not None else None))
                resp = conn.getresponse()
                raw = resp.read()
                break
            except (http.client.HTTPException, OSError):
                # A keep-alive connection the server closed: one retry on a fresh one.
                conn.close()
                self.local.conn = None
                if attempt == 1:
                    raise
        if resp.status >= 300:
            raise ApiError(resp.status, raw.decode(errors="replace"))
        return json.loads(raw) if raw else None

    def get(self, path, **kw):
        return self.request("GET", path, **kw)

    def get_or_none(self, path):
        try:
            return self.get(path)
        except ApiError as e:
            if e.status == 404:
                return None
            raise

    def watch_stream(self, path, query, timeout):
        """Opens a watch; returns (connection, response) for line-by-line reading."""
        conn = self._conn(timeout)
        conn.request("GET", self.base + path + "?" + urllib.parse.urlencode(query), headers=self._headers())
        resp = conn.getresponse()
        if resp.status != 200:
            raw = resp.read()
            conn.close()
            raise ApiError(resp.status, raw.decode(errors="replace"))
        return conn, resp


class Reflector(threading.Thread):
    """LIST + WATCH of one collection into a dict keyed by namespace/name, calling
    on_event(kind, obj) for each ADDED/MODIFIED/DELETED (and for every object of a
    relist, kind "SYNC", with vanished ones as "DELETED")."""

    def __init__(self, client, path, on_event, log, field_selector=None, name="reflector"):
        super().__init__(daemon=True, name=name)
        self.client = client
        self.path = path
        self.on_event = on_event
        self.log = log
        self.field_selector = field_selector
        self.items = {}
        self.synced = threading.Event()
        self.stopping = threading.Event()
        self.lock = threading.Lock()

    @staticmethod
    def key(obj):
        m = obj["metadata"]
        return "%s/%s" % (m.get("namespace", ""), m["name"])

    def get(self, key):
        with self.lock:
            return self.items.get(key)

    def values(self):
        with self.lock:
            return list(self.items.values())

    def stop(self):
        self.stopping.set()

    def _list(self):
        q = {"limit": "500"}
        if self.field_selector:
            q["fieldSelector"] = self.field_selector
        items, rv, cont = [], None, None
        while True:
            if cont:
                q["continue"] = cont
            page = self.client.get(self.path, query=q, timeout=60)
            items += page.get("items") or []
            rv = page["metadata"]["resourceVersion"]
            cont = page["metadata"].get("continue")
            if not cont:
                break
        fresh = {self.key(o): o for o in items}
        with self.lock:
            gone = [o for k, o in self.items.items() if k not in fresh]
            self.items = fresh
        for o in gone:
            self.on_event("DELETED", o)
        for o in items:
            self.on_event("SYNC", o)
        self.synced.set()
        return rv

    def run(self):
        backoff = 0.8
        rv = None
        while not self.stopping.is_set():
            try:
                if rv is None:
                    rv = self._list()
                rv = self._watch(rv)
                backoff = 0.8
            except ApiError as e:
                if e.status == 410:
                    rv = None
                    continue
                self.log("watch %s: %s; retrying in %.1fs" % (self.path, e, backoff))
                self.stopping.wait(backoff)
                backoff = min(backoff * 2, 30)
            except (OSError, http.client.HTTPException, ValueError, KeyError, TypeError) as e:
                if self.stopping.is_set():
                    break
                self.log("watch %s: %s; retrying in %.1fs" % (self.path, e, backoff))
                self.stopping.wait(backoff)
                backoff = min(backoff * 2, 30)

    def _watch(self, rv):
        secs = random.randint(240, 360)
        q = {"watch": "1", "resourceVersion": rv, "allowWatchBookmarks": "true", "timeoutSeconds": str(secs)}
        if self.field_selector:
            q["fieldSelector"] = self.field_selector
        conn, resp = self.client.watch_stream(self.path, q, timeout=secs + 30)
        try:
            while not self.stopping.is_set():
                try:
                    line = resp.readline()
                except socket.timeout:
                    break
                if not line:
                    break
                ev = json.loads(line)
                kind, obj = ev.get("type"), ev.get("object") or {}
                if kind == "ERROR":
                    code = obj.get("code", 500)
                    raise ApiError(code, json.dumps(obj))
                rv = obj.get("metadata", {}).get("resourceVersion", rv)
                if kind == "BOOKMARK":
                    continue
                k = self.key(obj)
                with self.lock:
                    if kind == "DELETED":
                        self.items.pop(k, None)
                    else:
                        self.items[k] = obj
                self.on_event(kind, obj)
        finally:
            conn.close()
        return rv


def now_rfc3339():
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def now_micro():
    t = time.time()
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(t)) + ".%06dZ" % int((t % 1) * 1e6)


def write_private(path, data):
    """Atomic write of a file only root can read."""
    d = os.path.dirname(path)
    fd, tmp = tempfile.mkstemp(dir=d, prefix=".tmp-")
    with os.fdopen(fd, "w") as f:
        f.write(data)
    os.rename(tmp, path)
