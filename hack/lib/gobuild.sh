# Sourced by hack/build-control-plane and hack/build-registry: build Go tools from the
# wrapper modules under hack/tools/ into the cache, keyed by everything that decides the
# binary. Expects $here (hack/) and $cache, $bin set and the cache lock held.
gover=$(go env GOVERSION)
export GOFLAGS=-buildvcs=false CGO_ENABLED=0 GOTOOLCHAIN=local

key_of() { # key_of <tool dir> -> hash of everything that decides the binary
  { cat "$here/versions.env" "$1"/go.mod "$1"/go.sum; find "$1" -name '*.go' -exec cat {} +; echo "$gover"; } |
    sha256sum | cut -c1-16
}

build() { # build <tool dir> <ldflags> <name=package>...
  local dir=$1 ldflags=$2; shift 2
  local key; key=$(key_of "$dir")
  local out="$cache/tools/$(basename "$dir")-$key"
  if [ -f "$out/.done" ]; then
    echo "cached: $(basename "$dir") ($out)" >&2
  else
    echo "building: $(basename "$dir") with $gover (first build takes a while)..." >&2
    local start=$SECONDS
    rm -rf "$out.tmp" && mkdir -p "$out.tmp"
    local spec
    for spec in "$@"; do
      (cd "$dir" && go build -trimpath -ldflags "-s -w $ldflags" -o "$out.tmp/${spec%%=*}" "${spec#*=}")
    done
    touch "$out.tmp/.done"
    rm -rf "$out" && mv "$out.tmp" "$out"
    echo "built: $(basename "$dir") in $((SECONDS - start))s" >&2
  fi
  local spec
  for spec in "$@"; do ln -sfn "$out/${spec%%=*}" "$bin/${spec%%=*}"; done
}

