#!/usr/bin/env python3
"""A TCP forwarder that the model proxy e2e test puts between the proxy and PostgreSQL, to
take the database away and bring it back without touching the shared server:
SIGUSR1 closes every connection and stops listening (connections are refused), SIGUSR2
listens again. Usage: modelproxy_pgcut.py TARGET_HOST TARGET_PORT; prints "listening on PORT".
"""
import signal
import socket
import sys
import threading

target = (sys.argv[1], int(sys.argv[2]))
lock = threading.Lock()
conns = []
state = {"listener": None, "port": 0}


def pump(a, b):
    try:
        while True:
            d = a.recv(65536)
            if not d:
                break
            b.sendall(d)
    except OSError:
        pass
    for s in (a, b):
        try:
            s.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass


def serve(listener):
    while True:
        try:
            c, _ = listener.accept()
        except OSError:
            return
        try:
            u = socket.create_connection(target)
        except OSError:
            c.close()
            continue
        with lock:
            conns.extend([c, u])
        threading.Thread(target=pump, args=(c, u), daemon=True).start()
        threading.Thread(target=pump, args=(u, c), daemon=True).start()


def listen():
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("127.0.0.1", state["port"]))
    s.listen(64)
    state["port"] = s.getsockname()[1]
    state["listener"] = s
    threading.Thread(target=serve, args=(s,), daemon=True).start()


def cut(signum, frame):
    l = state["listener"]
    state["listener"] = None
    if l:
        try:
            l.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        l.close()
    with lock:
        for s in conns:
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            s.close()
        conns.clear()


def restore(signum, frame):
    if state["listener"] is None:
        listen()


signal.signal(signal.SIGUSR1, cut)
signal.signal(signal.SIGUSR2, restore)
listen()
print("listening on %d" % state["port"], flush=True)
while True:
    signal.pause()
