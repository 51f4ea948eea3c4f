"""The images the runtime host knows. It pulls nothing: an "image" is a recipe saying
which host directories make up its content and what its config (env, entrypoint, cmd,
working directory, user) is, as an OCI image config would.

Built in: the official OpenClaw image (ghcr.io/openclaw/openclaw and
docker.io/openclaw/openclaw, any tag or digest) = the OpenClaw npm package read-only at
/app (its dependencies at /node_modules when it was installed as one), Node at
/usr/local/bin/node, WORKDIR /app, user node (1000:1000, HOME /home/node),
NODE_ENV=production, cmd `node openclaw.mjs gateway --allow-unconfigured`.

Also built in: the file service sidecar (ghcr.io/clawplane/clawplane-files, any tag) = the
clawplane-files binary built from this repository (CLAWPLANE_FILES_BIN, default
build/default/bin/clawplane-files) read-only at /usr/local/bin/clawplane-files, user
1000:1000 like OpenClaw, so what it writes in the workspace belongs to the agent.

More images come from a JSON file named by CLAWPLANE_RUNTIME_IMAGES:

  {"images": [{"match": ["registry.example/team/tool", "example.org/*"],
               "mounts": [{"source": "/opt/tool", "target": "/app"}],
               "env": {"PATH": "/usr/local/bin:/usr/bin:/bin"},
               "entrypoint": [], "cmd": ["/app/tool"], "workingDir": "/app",
               "user": "1000:1000", "dirs": [{"path": "/home/tool", "uid": 1000, "gid": 1000}],
               "passwd": ["tool:x:1000:1000::/home/tool:/bin/sh"], "group": ["tool:x:1000:"]}]}

`match` holds repository names (no tag or digest; fnmatch patterns allowed); mounts are
read-only unless "readOnly": false. Entries of the file come before the built-in ones."""

import fnmatch
import json
import os

DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


def repository(image):
    """ghcr.io/a/b:tag@sha256:... -> ghcr.io/a/b; docker.io defaults like the CRI's."""
    ref = image.split("@", 1)[0]
    last = ref.rsplit("/", 1)[-1]
    if ":" in last:
        ref = ref[: len(ref) - len(last)] + last.split(":", 1)[0]
    parts = ref.split("/")
    if len(parts) == 1 or ("." not in parts[0] and ":" not in parts[0] and parts[0] != "localhost"):
        if len(parts) == 1:
            parts = ["library"] + parts
        parts = ["docker.io"] + parts
    return "/".join(parts)


def openclaw_image(node, openclaw_dir):
    pkg = os.path.realpath(openclaw_dir)
    mounts = [{"source": pkg, "target": "/app"}, {"source": os.path.realpath(node), "target": "/usr/local/bin/node"}]
    # Installed as a dependency (<dir>/node_modules/openclaw): its dependencies are its
    # siblings; Node finds them at /node_modules when walking up from /app.
    parent = os.path.dirname(pkg)
    if os.path.basename(parent) == "node_modules":
        mounts.append({"source": parent, "target": "/node_modules"})
    missing = [p for p in (os.path.join(pkg, "openclaw.mjs"), node) if not os.path.exists(p)]
    return {
        "name": "openclaw",
        "match": ["ghcr.io/openclaw/openclaw", "docker.io/openclaw/openclaw"],
        "mounts": mounts,
        "env": {"PATH": DEFAULT_PATH, "NODE_ENV": "production", "HOME": "/home/node"},
        "entrypoint": [],
        "cmd": ["node", "openclaw.mjs", "gateway", "--allow-unconfigured"],
        "workingDir": "/app",
        "user": "1000:1000",
        "dirs": [{"path": "/home/node", "uid": 1000, "gid": 1000, "mode": 0o755}],
        "passwd": ["node:x:1000:1000::/home/node:/bin/sh"],
        "group": ["node:x:1000:"],
        "missing": ("not installed here: %s is missing (run hack/build-runtime, or set "
                    "CLAWPLANE_NODE and CLAWPLANE_OPENCLAW_DIR)" % ", ".join(missing)) if missing else None,
    }


def files_image(binary):
    binary = os.path.realpath(binary)
    return {
        "name": "clawplane-files",
        "match": ["ghcr.io/clawplane/clawplane-files"],
        "mounts": [{"source": binary, "target": "/usr/local/bin/clawplane-files"}],
        "env": {"PATH": DEFAULT_PATH},
        "entrypoint": ["/usr/local/bin/clawplane-files"],
        "cmd": [],
        "workingDir": "/",
        "user": "1000:1000",
        "dirs": [],
        "passwd": ["node:x:1000:1000::/home/node:/bin/sh"],
        "group": ["node:x:1000:"],
        "missing": None if os.path.exists(binary) else
        ("not built here: %s is missing (build the clawplane-files target, or set "
         "CLAWPLANE_FILES_BIN)" % binary),
    }


class Images:
    def __init__(self, node, openclaw_dir, map_file=None, files_bin=None):
        self.images = []
        self.map_file = map_file
        if map_file:
            with open(map_file) as f:
                for img in json.load(f).get("images", []):
                    img.setdefault("name", img["match"][0])
                    img.setdefault("env", {"PATH": DEFAULT_PATH})
                    self.images.append(img)
        self.images.append(openclaw_image(node, openclaw_dir))
        if files_bin:
            self.images.append(files_image(files_bin))

    def lookup(self, image):
        repo = repository(image)
        for img in self.images:
            for pat in img["match"]:
                if fnmatch.fnmatchcase(repo, repository(pat) if "*" not in pat else pat):
                    return img
        return None

    def known(self):
        return ", ".join(p for img in self.images for p in img["match"])

    def unknown_message(self, image):
        return ("the runtime host (hack/runtime-host, this machine's stand-in for the kubelet and "
                "container runtime) pulls nothing and only runs the images it knows (%s); %s is not "
                "one of them. Add it with an image map file named by CLAWPLANE_RUNTIME_IMAGES "
                "(see hack/runtime_host/images.py)" % (self.known(), repository(image)))
