#!/usr/bin/env python3
"""Embeds the dashboard's sources (web/) into one C file.

    embed_web.py <web dir> <out.c>

Every asset except index.html gets a content-hashed name (app.js -> app.1a2b3c4d5e.js),
so it can be cached for a year as immutable; index.html is served at / and never cached.
References are rewritten before hashing, leaves first, so a changed module changes the
names of every module that imports it: relative module imports ("./ui.js") in JavaScript,
and src/href attributes ("app.js", "style.css") in HTML, where a "<!-- modulepreload -->"
line becomes a modulepreload link for every module. Each asset is also gzipped here
with `gzip -n -9` (no name or time stamp: the output depends on the input only) and kept
only when that saves bytes. OUT is replaced only when its content changes.
"""
import hashlib
import os
import re
import subprocess
import sys

TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".svg": "image/svg+xml",
    ".ico": "image/x-icon",
    ".png": "image/png",
}
JS_REF = re.compile(r"""(\bfrom\s*|\bimport\s*\(?\s*)(['"])\./([\w.-]+\.js)\2""")
PRELOAD = "<!-- modulepreload -->"
HTML_REF = re.compile(r"""\b(src|href)="/?([\w.-]+\.(?:js|css|svg|ico|png))\"""")


def main():
    web, out = sys.argv[1], sys.argv[2]
    names = sorted(n for n in os.listdir(web) if os.path.splitext(n)[1] in TYPES)
    raw = {n: open(os.path.join(web, n), "rb").read() for n in names}
    hashed, body, busy = {}, {}, set()

    def resolve(n):
        if n in body:
            return
        if n in busy:
            sys.exit(f"embed_web: import cycle through {n}")
        if n not in raw:
            sys.exit(f"embed_web: a reference names {n}, which is not in {web}")
        busy.add(n)
        data = raw[n]
        if n.endswith(".js"):
            text = data.decode("utf-8")

            def js(m):
                resolve(m.group(3))
                return f"{m.group(1)}{m.group(2)}./{hashed[m.group(3)]}{m.group(2)}"

            data = JS_REF.sub(js, text).encode("utf-8")
        elif n.endswith(".html"):
            text = data.decode("utf-8")

            def html(m):
                resolve(m.group(2))
                return f'{m.group(1)}="/assets/{hashed[m.group(2)]}"'

            text = HTML_REF.sub(html, text)
            if PRELOAD in text:  # every module, so the browser fetches them in parallel
                for m in sorted(x for x in raw if x.endswith(".js")):
                    resolve(m)
                links = "\n".join(f'<link rel="modulepreload" href="/assets/{hashed[m]}">'
                                   for m in sorted(x for x in raw if x.endswith(".js")))
                text = text.replace(PRELOAD, links)
            data = text.encode("utf-8")
        busy.discard(n)
        body[n] = data
        if n == "index.html":
            hashed[n] = n
        else:
            stem, ext = os.path.splitext(n)
            hashed[n] = f"{stem}.{hashlib.sha256(data).hexdigest()[:10]}{ext}"

    for n in names:
        resolve(n)
    if "index.html" not in body:
        sys.exit(f"embed_web: {web}/index.html is missing")

    def arr(b):
        return ",".join(f"0x{x:02x}" for x in b) + ("," if b else "") + "0x00"

    lines = [
        "/* The dashboard's assets, embedded at build time by cmake/embed_web.py from",
        " * web/: edit those, not this. */",
        '#include "dashboard.h"',
        "",
    ]
    entries = []
    for i, n in enumerate(names):
        data = body[n]
        gz = subprocess.run(["gzip", "-n", "-9", "-c"], input=data, check=True,
                            stdout=subprocess.PIPE).stdout
        use_gz = len(gz) < len(data)
        etag = '"\\"' + hashlib.sha256(data).hexdigest()[:20] + '\\""'
        lines.append(f"static const char a{i}[] = {{{arr(data)}}};")
        lines.append(f"static const char z{i}[] = {{{arr(gz if use_gz else b'')}}};")
        url = "/" if n == "index.html" else "/assets/" + hashed[n]
        ctype = TYPES[os.path.splitext(n)[1]]
        entries.append(f'    {{"{url}", "{ctype}", {etag}, a{i}, {len(data)}, '
                       f"z{i}, {len(gz) if use_gz else 0}}},")
    lines.append("const cp_dash_asset_t cp__dash_assets[] = {")
    for e in entries:
        lines.append(e)
    lines.append("    {0}};")
    text = "\n".join(lines) + "\n"
    if os.path.exists(out) and open(out).read() == text:
        return
    with open(out + ".tmp", "w") as f:
        f.write(text)
    os.replace(out + ".tmp", out)


if __name__ == "__main__":
    main()
