// promcheck runs the checks of promtool that clawplane's tests need, built from the
// same libraries at a pinned version (promtool itself pulls every service-discovery SDK
// and takes far longer to build):
//
//	promcheck metrics          lints a text exposition read from stdin with client_golang's
//	                           testutil/promlint (what `promtool check metrics` runs); prints
//	                           each problem and exits 1 when there is one
//	promcheck rules FILE...    parses and validates Prometheus rule files with model/rulefmt
//	                           (what `promtool check rules` runs); prints each metric name
//	                           the expressions select, one a line
//	promcheck exprs            parses PromQL expressions, one a line on stdin (Grafana's
//	                           $variables replaced by plain values first); prints each
//	                           metric name they select, one a line
//
// Errors go to stderr and make the exit status 1.
package main

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"regexp"
	"sort"

	"github.com/prometheus/client_golang/prometheus/testutil/promlint"
	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/rulefmt"
	"github.com/prometheus/prometheus/promql/parser"
)

func usage() {
	fmt.Fprintln(os.Stderr, "usage: promcheck metrics <exposition | promcheck rules FILE... | promcheck exprs <lines")
	os.Exit(2)
}

// names adds every metric name selected by expr to seen.
func names(expr string, seen map[string]bool) error {
	e, err := parser.ParseExpr(expr)
	if err != nil {
		return err
	}
	parser.Inspect(e, func(n parser.Node, _ []parser.Node) error {
		if vs, ok := n.(*parser.VectorSelector); ok && vs.Name != "" {
			seen[vs.Name] = true
		}
		return nil
	})
	return nil
}

func printNames(seen map[string]bool) {
	out := make([]string, 0, len(seen))
	for n := range seen {
		out = append(out, n)
	}
	sort.Strings(out)
	for _, n := range out {
		fmt.Println(n)
	}
}

func lintMetrics(r io.Reader) int {
	problems, err := promlint.New(r).Lint()
	if err != nil {
		fmt.Fprintln(os.Stderr, "error while linting:", err)
		return 1
	}
	for _, p := range problems {
		fmt.Fprintf(os.Stderr, "%s: %s\n", p.Metric, p.Text)
	}
	if len(problems) > 0 {
		return 1
	}
	return 0
}

func checkRules(files []string) int {
	seen := map[string]bool{}
	status := 0
	for _, f := range files {
		groups, errs := rulefmt.ParseFile(f, false, model.UTF8Validation)
		for _, err := range errs {
			fmt.Fprintln(os.Stderr, err)
			status = 1
		}
		if groups == nil {
			continue
		}
		n := 0
		for _, g := range groups.Groups {
			for _, r := range g.Rules {
				n++
				if err := names(r.Expr, seen); err != nil {
					fmt.Fprintf(os.Stderr, "%s: %s: %v\n", f, r.Alert+r.Record, err)
					status = 1
				}
			}
		}
		if n == 0 {
			fmt.Fprintf(os.Stderr, "%s: no rules\n", f)
			status = 1
		}
	}
	printNames(seen)
	return status
}

// Grafana's built-in interval variables become a duration, every other variable a name.
var (
	intervalVar = regexp.MustCompile(`\$__(rate_)?interval|\$\{__(rate_)?interval\}|\$__range`)
	otherVar    = regexp.MustCompile(`\$\{?[A-Za-z_][A-Za-z0-9_]*\}?`)
)

func checkExprs(r io.Reader) int {
	seen := map[string]bool{}
	status := 0
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	for sc.Scan() {
		line := sc.Text()
		if line == "" {
			continue
		}
		expr := otherVar.ReplaceAllString(intervalVar.ReplaceAllString(line, "5m"), "x")
		if err := names(expr, seen); err != nil {
			fmt.Fprintf(os.Stderr, "%q: %v\n", line, err)
			status = 1
		}
	}
	if err := sc.Err(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		status = 1
	}
	printNames(seen)
	return status
}

func main() {
	if len(os.Args) < 2 {
		usage()
	}
	switch os.Args[1] {
	case "metrics":
		os.Exit(lintMetrics(os.Stdin))
	case "rules":
		if len(os.Args) < 3 {
			usage()
		}
		os.Exit(checkRules(os.Args[2:]))
	case "exprs":
		os.Exit(checkExprs(os.Stdin))
	default:
		usage()
	}
}
