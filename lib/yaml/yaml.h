/* YAML to JSON, for kubeconfigs, manifests and anything else users hand us as YAML.
 *
 * libyaml's event parser does the parsing; this module only builds a cJSON tree from the
 * events and resolves plain scalars with the YAML 1.2 core schema, the way kubectl's
 * sigs.k8s.io/yaml turns YAML into JSON before decoding. It is deliberately strict where
 * YAML is surprising or dangerous:
 *   - one document only: a second document (`---` after the first) is CP_EPARSE; an empty
 *     stream, or one holding only comments, gives a JSON null;
 *   - aliases (`*name`) are refused, so "billion laughs" inputs cannot expand; anchors alone
 *     are accepted and ignored;
 *   - nesting deeper than CP_YAML_MAX_DEPTH mappings/sequences is refused;
 *   - mapping keys must be scalars and unique within their mapping;
 *   - strings may not contain NUL characters (cJSON strings are NUL-terminated);
 *   - tags other than !!str, !!int, !!float, !!bool, !!null, !!map, !!seq and the
 *     non-specific `!` are refused.
 */
#ifndef CP_YAML_YAML_H
#define CP_YAML_YAML_H

#include <cjson/cJSON.h>
#include <stddef.h>

/* Deepest nesting of mappings and sequences cp_yaml_to_json accepts. */
#define CP_YAML_MAX_DEPTH 64

/* Converts ONE YAML document (JSON is valid YAML and works too) of len bytes at data,
 * which need not be NUL-terminated, to a new cJSON tree.
 *
 * Scalars: plain (unquoted) scalars resolve per the YAML 1.2 core schema: null, Null,
 * NULL, ~ and the empty scalar become null; true/True/TRUE/false/False/FALSE become
 * booleans; decimal, 0o octal and 0x hex integers and decimal floats become numbers
 * (doubles, so integers beyond 2^53 lose precision). Values JSON cannot represent (.inf,
 * .nan, numbers overflowing a double) stay strings. Quoted and block scalars are always
 * strings. Mapping keys are always strings ("1: a" gives {"1": "a"}).
 *
 * Returns 0 with *out owning the new tree (free with cJSON_Delete). Otherwise *out is
 * untouched and err (if not NULL and errlen > 0) holds one sentence: CP_ETOOBIG when len >
 * max_bytes; CP_EPARSE for syntax errors (naming line and column from libyaml), aliases,
 * excess nesting, duplicate or non-scalar keys, bad tags, NUL characters or a second
 * document; CP_ENOMEM; CP_EINVAL for NULL data (with len > 0) or NULL out.
 *
 * Scalar bytes are wiped before libyaml frees them, since kubeconfigs carry secrets
 * (best effort: libyaml may leave copies while growing its own buffers).
 * Thread-safe: no shared state; each call has its own parser. */
int cp_yaml_to_json(const char *data, size_t len, size_t max_bytes, cJSON **out, char *err,
                    size_t errlen);

#endif
