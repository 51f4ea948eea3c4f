#!/usr/bin/env bash
# The apiserver's route table and its OpenAPI document list the same operations: every
# route the binary serves (clawplane-apiserver --print-routes, "METHOD PATH" per line) is
# in api/openapi.json, and every path+method of the document is served. HEAD is implied by
# GET on both sides. The document the binary serves is api/openapi.json byte for byte.
# Usage: apiserver_routes.sh <clawplane-apiserver> <api/openapi.json>
set -euo pipefail
bin=${1:?binary} spec=${2:?openapi.json}
routes=$("$bin" --print-routes) || { echo "FAIL: $bin --print-routes failed" >&2; exit 1; }
documented=$(python3 - "$spec" <<'PY'
import json, sys
doc = json.load(open(sys.argv[1]))
methods = {"get", "put", "post", "delete", "patch", "head", "options", "trace"}
for path, item in doc["paths"].items():
    for m in item:
        if m in methods:
            print(m.upper(), path)
PY
)
missing=$(comm -23 <(sort -u <<<"$routes") <(sort -u <<<"$documented"))
unserved=$(comm -13 <(sort -u <<<"$routes") <(sort -u <<<"$documented"))
rc=0
"$bin" --print-openapi | cmp -s - "$spec" || { echo "FAIL: --print-openapi differs from $spec" >&2; rc=1; }
[ -z "$missing" ] || { printf 'FAIL: served but not in %s:\n%s\n' "$spec" "$missing" >&2; rc=1; }
[ -z "$unserved" ] || { printf 'FAIL: in %s but not served:\n%s\n' "$spec" "$unserved" >&2; rc=1; }
# OpenAPI requires operationIds to be unique; generated clients name functions after them
dup=$(python3 -c 'import collections, json, sys
doc = json.load(open(sys.argv[1]))
ids = collections.Counter(op.get("operationId") for item in doc["paths"].values()
                          for op in item.values() if isinstance(op, dict) and "operationId" in op)
print(" ".join(sorted(k for k, n in ids.items() if n > 1)))' "$spec")
[ -z "$dup" ] || { printf 'FAIL: operationId used more than once in %s: %s\n' "$spec" "$dup" >&2; rc=1; }
[ $rc = 0 ] && echo "ok - $(wc -l <<<"$routes") operations, the same in the route table and the spec"
exit $rc
