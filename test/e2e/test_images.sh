#!/usr/bin/env bash
# e2e: the OCI images of hack/build-images, as a cluster would run them. Two builds from the
# same binaries give the same digests, byte for byte; every blob matches its digest; the
# manifest carries the OCI annotations (created = the last commit's time); the layer is a
# deterministic tar (sorted, one mtime, uid/gid 0, no pax headers). Each image, unpacked
# from its own layout, runs its binary's --help as the image's user (65532) in a chroot
# with a fresh /proc, holds no shell and nothing setuid or setgid, and its SPDX SBOM names
# the Debian package, at its installed version, of every library in it.
set -euo pipefail
build=${CP_BUILD_DIR:?}
src=${CP_SOURCE_DIR:?}
tmp=$(mktemp -d /tmp/clawplane-e2e-images.XXXXXX)
checks=0
step() { printf '== %s\n' "$*"; }
ok() { checks=$((checks + 1)); printf 'ok %d - %s\n' "$checks" "$*"; }
fail() { printf 'FAIL: %s\n' "$*" >&2; exit 1; }
cleanup() { rm -rf "$tmp"; }
trap cleanup EXIT

mapfile -t names < <(sed 's/#.*//' "$src/images/images.list" | awk 'NF {print $1}')
[ "${#names[@]}" -ge 4 ] || fail "images/images.list lists ${#names[@]} images"

step "two builds of ${names[*]}"
t0=$SECONDS
timeout 300 "$src/hack/build-images" --build-dir "$build" --out "$tmp/a" >"$tmp/a.txt" ||
  fail "hack/build-images failed"
build_s=$((SECONDS - t0))
cat "$tmp/a.txt"
timeout 300 "$src/hack/build-images" --build-dir "$build" --out "$tmp/b" >"$tmp/b.txt" 2>/dev/null ||
  fail "the second hack/build-images failed"
cut -f1,2 "$tmp/a.txt" >"$tmp/a.digests"
cut -f1,2 "$tmp/b.txt" >"$tmp/b.digests"
[ "$(wc -l <"$tmp/a.digests")" = "${#names[@]}" ] || fail "not one digest per image: $(cat "$tmp/a.txt")"
cmp -s "$tmp/a.digests" "$tmp/b.digests" || fail "two builds gave different digests:
$(diff "$tmp/a.digests" "$tmp/b.digests")"
diff -r "$tmp/a" "$tmp/b" >/dev/null || fail "two builds differ: $(diff -rq "$tmp/a" "$tmp/b" | head)"
ok "two builds give the same digests and identical layouts (first build ${build_s}s)"

epoch=$(git -C "$src" log -1 --format=%ct)
created=$(date -u -d "@$epoch" +%Y-%m-%dT%H:%M:%SZ)
revision=$(git -C "$src" rev-parse HEAD)

for name in "${names[@]}"; do
  step "$name"
  lo="$tmp/a/$name"
  for f in "$lo"/blobs/sha256/*; do
    [ "$(sha256sum "$f" | cut -d' ' -f1)" = "$(basename "$f")" ] || fail "$name: blob $(basename "$f") does not match its digest"
  done
  [ "$(jq -r .imageLayoutVersion "$lo/oci-layout")" = 1.0.0 ] || fail "$name: no oci-layout 1.0.0"
  digest=$(jq -r '.manifests[0].digest' "$lo/index.json")
  grep -qF "$name	$digest" "$tmp/a.digests" || fail "$name: index.json names $digest, the build printed another"
  manifest="$lo/blobs/sha256/${digest#sha256:}"
  jq -e --arg c "$created" --arg r "$revision" --arg n "$name" '
    .mediaType == "application/vnd.oci.image.manifest.v1+json" and
    .annotations["org.opencontainers.image.created"] == $c and
    .annotations["org.opencontainers.image.revision"] == $r and
    .annotations["org.opencontainers.image.title"] == $n and
    (.annotations["org.opencontainers.image.source"] | startswith("https://")) and
    (.annotations["org.opencontainers.image.version"] | length > 0) and
    (.layers | length == 1)' "$manifest" >/dev/null ||
    fail "$name: manifest lacks the OCI annotations or has more than one layer: $(cat "$manifest")"
  config="$lo/blobs/sha256/$(jq -r '.config.digest' "$manifest" | cut -d: -f2)"
  jq -e '.config.User == "65532:65532" and (.config.Entrypoint | length == 1) and .os == "linux"' "$config" \
    >/dev/null || fail "$name: config user/entrypoint wrong: $(cat "$config")"
  entry=$(jq -r '.config.Entrypoint[0]' "$config")
  ok "$name: blobs match their digests; annotations source, version, revision $revision, created $created; user 65532"

  layer="$lo/blobs/sha256/$(jq -r '.layers[0].digest' "$manifest" | cut -d: -f2)"
  python3 - "$layer" "$epoch" <<'EOF' || fail "$name: the layer tar is not deterministic"
import sys, tarfile
layer, epoch = sys.argv[1], int(sys.argv[2])
with tarfile.open(layer, "r:gz") as tf:
    members = tf.getmembers()
    names = [m.name for m in members]
    assert names == sorted(names), "entries not sorted"
    for m in members:
        assert m.mtime == epoch, (m.name, m.mtime)
        assert m.uid == 0 and m.gid == 0 and m.uname == "" and m.gname == "", m.name
        assert not m.pax_headers, (m.name, m.pax_headers)
        assert not m.name.startswith("/") and ".." not in m.name.split("/"), m.name
EOF
  ok "$name: layer tar sorted, every mtime $epoch, uid/gid 0, no pax headers"

  root="$tmp/root-$name"
  mkdir -p "$root"
  tar -xzf "$layer" -C "$root"
  for sh in bin/sh bin/bash bin/dash usr/bin/sh usr/bin/bash usr/bin/dash bin/busybox; do
    [ -e "$root/$sh" ] || [ -L "$root/$sh" ] && fail "$name: /$sh exists in the image"
  done
  found=$(find "$root" -type f \( -name sh -o -name bash -o -name dash -o -name busybox -o -name 'apt*' -o -name dpkg \) | head -3)
  [ -z "$found" ] || fail "$name: a shell or package manager in the image: $found"
  suid=$(find "$root" -perm /6000 ! -type l | head -3)
  [ -z "$suid" ] || fail "$name: setuid/setgid files: $suid"
  grep -qx 'nonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin' "$root/etc/passwd" ||
    fail "$name: /etc/passwd has no user 65532"
  grep -qx 'nonroot:x:65532:' "$root/etc/group" || fail "$name: /etc/group has no group 65532"
  ok "$name: no shell, no package manager, nothing setuid or setgid; user and group 65532 defined"

  # Run the binary inside the unpacked image as its user: a chroot in new mount and PID
  # namespaces with their own /proc, as a container runtime would give it.
  mkdir -p "$root/proc"
  if [ "$(id -u)" = 0 ]; then
    run=(unshare --mount --pid --fork --mount-proc="$root/proc" chroot --userspec=65532:65532 "$root")
  else
    run=(unshare -r --mount --pid --fork --mount-proc="$root/proc" chroot "$root")
  fi
  rc=0
  [ -x "$root$entry" ] || fail "$name: no entrypoint $entry in the image"
  out=$(timeout 20 "${run[@]}" "$entry" --help 2>&1) || rc=$?
  [ "$rc" = 0 ] || fail "$name: $entry --help in the image exited $rc: $out"
  grep -qi "usage: $(basename "$entry")" <<<"$out" || fail "$name: $entry --help in the image printed no usage: $out"
  ok "$name: $entry --help runs inside the unpacked image as $( [ "$(id -u)" = 0 ] && echo "uid 65532" || echo "a user namespace")"
  if jq -e '.config.Env | index("SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt")' "$config" >/dev/null; then
    [ -s "$root/etc/ssl/certs/ca-certificates.crt" ] || fail "$name: SSL_CERT_FILE set but no CA bundle"
  fi

  # The SBOM: every shared library and the CA bundle belong to a listed Debian package at
  # the version dpkg has installed; each package's copyright file is in the image.
  sbom="$tmp/a/$name.spdx.json"
  python3 - "$sbom" "$root" "$digest" <<'EOF' || fail "$name: the SBOM does not account for the image"
import json, os, subprocess, sys
sbom, root, digest = sys.argv[1:]
doc = json.load(open(sbom))
assert doc["spdxVersion"] == "SPDX-2.3" and doc["dataLicense"] == "CC0-1.0", "not SPDX 2.3"
pkgs = {p["name"]: p for p in doc["packages"] if p["SPDXID"].startswith("SPDXRef-deb-")}
image = [p for p in doc["packages"] if p["SPDXID"] == "SPDXRef-Image"][0]
assert image["checksums"][0]["checksumValue"] == digest.split(":")[1], "SBOM names another digest"
assert "libc6" in pkgs, "libc6 not in the SBOM"
listed = " ".join(p["sourceInfo"] for p in pkgs.values())
for d, _, files in os.walk(root):
    for f in files:
        path = os.path.join(d, f)[len(root):]
        if (".so" in f or d.endswith("/usr/bin")) and not os.path.islink(os.path.join(d, f)):
            assert path in listed, f"{path} is in no SBOM package"
for name, p in pkgs.items():
    v = subprocess.check_output(["dpkg-query", "-W", "-f", "${Version}", name], text=True)
    assert p["versionInfo"] == v, (name, p["versionInfo"], v)
    assert p["externalRefs"][0]["referenceLocator"].startswith(f"pkg:deb/debian/{name}@{v}"), name
    assert os.path.isfile(f"{root}/usr/share/doc/{name}/copyright"), f"no copyright file of {name}"
print(f"{len(pkgs)} Debian packages")
EOF
  ok "$name: SPDX SBOM lists the Debian package and dpkg version of every library; copyright files included"
done

step "sizes"
awk -F'\t' '{printf "# %-22s %s compressed, %s\n", $1, $3, $4}' "$tmp/a.txt"
echo "# build time for ${#names[@]} images: ${build_s}s"
echo "$checks passed, 0 failed"
