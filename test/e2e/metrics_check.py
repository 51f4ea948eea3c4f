"""Checks for test_metrics.sh, with prometheus_client's exposition parser (PyPI).

  parse FILE...           parses each scrape and checks what a scraper relies on: every
                          family has a TYPE other than unknown and a HELP text, no series
                          twice, histograms whose +Inf bucket equals _count with buckets
                          that never go down; prints every sample name, one a line
  sum FILE NAME [k=v...]  prints the sum of NAME's samples carrying those label values (0
                          when none does; an error when NAME has no sample at all)
  rules RENDERED OUT      writes the spec (groups) of the PrometheusRule in a rendered
                          chart to OUT, as a Prometheus rule file
  exprs RENDERED          prints every PromQL expression of the dashboard in a rendered
                          chart, one a line
Exits 1 with a message on the first problem.
"""
import json
import sys

import yaml
from prometheus_client.parser import text_string_to_metric_families


def die(msg):
    print("metrics_check: " + msg, file=sys.stderr)
    sys.exit(1)


def families(path):
    with open(path, encoding="utf-8") as f:
        text = f.read()
    try:
        return list(text_string_to_metric_families(text))
    except Exception as e:  # the parser raises ValueError and friends
        die("%s does not parse: %s" % (path, e))


def check_histogram(path, fam):
    series = {}
    for s in fam.samples:
        key = tuple(sorted((k, v) for k, v in s.labels.items() if k != "le"))
        series.setdefault(key, {"buckets": [], "count": None})
        if s.name.endswith("_bucket"):
            series[key]["buckets"].append((float(s.labels["le"]), s.value))
        elif s.name.endswith("_count"):
            series[key]["count"] = s.value
    for key, h in series.items():
        b = sorted(h["buckets"])
        if not b or b[-1][0] != float("inf"):
            die("%s: %s%s has no +Inf bucket" % (path, fam.name, dict(key)))
        if any(b[i][1] > b[i + 1][1] for i in range(len(b) - 1)):
            die("%s: %s%s has buckets that go down" % (path, fam.name, dict(key)))
        if h["count"] != b[-1][1]:
            die("%s: %s%s: _count %s != +Inf bucket %s" % (path, fam.name, dict(key), h["count"], b[-1][1]))


def parse(paths):
    names = set()
    for path in paths:
        seen = set()
        fams = families(path)
        if not fams:
            die("%s: no metrics" % path)
        for fam in fams:
            if fam.type == "unknown":
                die("%s: %s has no TYPE" % (path, fam.name))
            if not fam.documentation.strip():
                die("%s: %s has no HELP" % (path, fam.name))
            for s in fam.samples:
                key = (s.name, tuple(sorted(s.labels.items())))
                if key in seen:
                    die("%s: %s%s twice" % (path, s.name, s.labels))
                seen.add(key)
                names.add(s.name)
            if fam.type == "histogram":
                check_histogram(path, fam)
    for n in sorted(names):
        print(n)


def total(path, name, want):
    labels = dict(kv.split("=", 1) for kv in want)
    found = False
    s_sum = 0.0
    for fam in families(path):
        for s in fam.samples:
            found = found or s.name == name
            if s.name == name and all(s.labels.get(k) == v for k, v in labels.items()):
                s_sum += s.value
    if not found:
        die("%s: no %s" % (path, name))
    print(("%.9f" % s_sum).rstrip("0").rstrip("."))  # plain decimals, for bc


def rendered(path, kind, has=lambda d: True):
    with open(path, encoding="utf-8") as f:
        docs = [d for d in yaml.safe_load_all(f) if d and d.get("kind") == kind and has(d)]
    if len(docs) != 1:
        die("%s: %d %s objects, want 1" % (path, len(docs), kind))
    return docs[0]


def rules(path, out):
    spec = rendered(path, "PrometheusRule")["spec"]
    if not spec.get("groups"):
        die("%s: PrometheusRule without groups" % path)
    with open(out, "w", encoding="utf-8") as f:
        yaml.safe_dump(spec, f, sort_keys=False)


def exprs(path):
    cm = rendered(path, "ConfigMap", lambda d: "clawplane.json" in (d.get("data") or {}))
    dash = json.loads(cm["data"]["clawplane.json"])
    n = 0

    def walk(panels):
        nonlocal n
        for p in panels:
            walk(p.get("panels", []))
            for t in p.get("targets", []):
                if t.get("expr"):
                    print(" ".join(t["expr"].split()))
                    n += 1

    walk(dash.get("panels", []))
    if n == 0:
        die("%s: a dashboard without queries" % path)


def main(argv):
    if len(argv) >= 2 and argv[0] == "parse":
        parse(argv[1:])
    elif len(argv) >= 2 and argv[0] == "sum":
        total(argv[1], argv[2], argv[3:])
    elif len(argv) == 3 and argv[0] == "rules":
        rules(argv[1], argv[2])
    elif len(argv) == 2 and argv[0] == "exprs":
        exprs(argv[1])
    else:
        die(__doc__)


if __name__ == "__main__":
    main(sys.argv[1:])
