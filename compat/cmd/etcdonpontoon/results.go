package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
)

// testResult is what happened to one test: its outcome on each variant,
// and, if it was run again because the outcomes differed, the outcomes of
// that second run.
type testResult struct {
	First map[variant]string `json:"first"`
	Retry map[variant]string `json:"retry,omitempty"`
}

// final is the outcome that counts: the retry's if there was one.
func (r *testResult) final(v variant) string {
	if r.Retry != nil && r.Retry[v] != "" {
		return r.Retry[v]
	}
	return r.First[v]
}

// results holds every test's outcomes, by package and test name.
type results map[string]map[string]*testResult

func (res results) get(pkg, test string) *testResult {
	if res[pkg] == nil {
		res[pkg] = map[string]*testResult{}
	}
	r := res[pkg][test]
	if r == nil {
		r = &testResult{First: map[variant]string{}}
		res[pkg][test] = r
	}
	return r
}

func (res results) add(v variant, outs []outcome) {
	for _, o := range outs {
		res.get(o.pkg, o.test).First[v] = o.result
	}
}

func (res results) retried(v variant, o outcome) {
	r := res.get(o.pkg, o.test)
	if r.Retry == nil {
		r.Retry = map[variant]string{}
	}
	r.Retry[v] = o.result
}

// difference names a test whose outcomes differ.
type difference struct{ pkg, test string }

// differences lists the tests that failed on one variant only, in order.
func (res results) differences() []difference {
	var out []difference
	for _, pkg := range sortedKeys(res) {
		for _, test := range sortedKeys(res[pkg]) {
			r := res[pkg][test]
			if (r.final(etcdRaft) == "fail") != (r.final(pontoon) == "fail") {
				out = append(out, difference{pkg, test})
			}
		}
	}
	return out
}

// onlyOursFailed counts the tests that failed on Pontoon only.
func (res results) onlyOursFailed() int {
	n := 0
	for _, d := range res.differences() {
		if res[d.pkg][d.test].final(pontoon) == "fail" {
			n++
		}
	}
	return n
}

// row is one line of the report.
type row struct {
	tests, passed, failedBoth, onlyOurs, onlyEtcd, skipped, flaky int
}

func (a *row) addRow(b row) {
	a.tests += b.tests
	a.passed += b.passed
	a.failedBoth += b.failedBoth
	a.onlyOurs += b.onlyOurs
	a.onlyEtcd += b.onlyEtcd
	a.skipped += b.skipped
	a.flaky += b.flaky
}

// report prints the table per package and the tests that differ.
func report(w io.Writer, res results) {
	fmt.Fprintln(w, "| package | tests | passed on both | failed on both | failed only on Pontoon | failed only on etcd/raft | skipped | passed on retry |")
	fmt.Fprintln(w, "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
	var total row
	for _, pkg := range sortedKeys(res) {
		var r row
		for _, test := range sortedKeys(res[pkg]) {
			t := res[pkg][test]
			e, p := t.final(etcdRaft), t.final(pontoon)
			r.tests++
			switch {
			case e == "skip" && p == "skip":
				r.skipped++
			case e == "fail" && p == "fail":
				r.failedBoth++
			case p == "fail":
				r.onlyOurs++
			case e == "fail":
				r.onlyEtcd++
			default:
				r.passed++
			}
			if t.Retry != nil && e != "fail" && p != "fail" {
				r.flaky++
			}
		}
		total.addRow(r)
		fmt.Fprintf(w, "| %s | %d | %d | %d | %d | %d | %d | %d |\n", shortPkg(pkg),
			r.tests, r.passed, r.failedBoth, r.onlyOurs, r.onlyEtcd, r.skipped, r.flaky)
	}
	fmt.Fprintf(w, "| **all %d packages** | %d | %d | %d | %d | %d | %d | %d |\n", len(res),
		total.tests, total.passed, total.failedBoth, total.onlyOurs, total.onlyEtcd, total.skipped, total.flaky)
	for _, d := range res.differences() {
		t := res[d.pkg][d.test]
		fmt.Fprintf(w, "differs: %s %s: etcd-raft %s, pontoon %s\n", shortPkg(d.pkg), d.test, t.final(etcdRaft), t.final(pontoon))
	}
}

// summarize counts outcomes for a progress line.
func summarize(outs []outcome) string {
	counts := map[string]int{}
	for _, o := range outs {
		counts[o.result]++
	}
	var parts []string
	for _, k := range []string{"pass", "fail", "skip"} {
		if counts[k] > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", counts[k], k))
		}
	}
	if len(parts) == 0 {
		return "no tests"
	}
	return strings.Join(parts, ", ")
}

func (res results) writeJSON(path string) error {
	b, err := json.MarshalIndent(res, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, b, 0o644)
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
