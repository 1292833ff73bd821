// Command etcdonpontoon builds the etcd server (go.etcd.io/etcd/server/v3)
// and etcd's test module (go.etcd.io/etcd/tests/v3) twice, once on
// etcd/raft v3.6.0 and once on Pontoon, runs the same tests on both and
// compares their outcomes test by test. It is the standing evidence that
// Pontoon is a drop-in replacement for the real embedder.
//
// Everything happens in a work directory, from the module cache: the etcd
// modules are required as they are published, and Pontoon enters through a
// replace directive pointing at a copy of its packages renamed to
// go.etcd.io/raft/v3 (import paths rewritten, nothing else changed; the
// copy is built with the pontoon_etcd_names tag, so the protobuf types are
// registered under etcd's names). No etcd code is copied into this
// repository.
//
//	go run ./cmd/etcdonpontoon                    # the full comparison (make etcd-on-pontoon)
//	go run ./cmd/etcdonpontoon -subset ci         # the bounded raft-heavy subset CI runs
//	go run ./cmd/etcdonpontoon -build-only        # compile and vet both, run nothing
//
// It prints a table per package (tests, passed on both, failed on both,
// failed only on Pontoon, failed only on etcd/raft, skipped) and exits with
// status 1 if a test fails only on Pontoon. A test that fails on one side is
// run once more on both, alone, before it counts, so that a flaky test of
// etcd's is not taken for a difference.
package main

import (
	"flag"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/pontoon-raft/raft/compat/internal/etcdbuild"
)

func main() {
	var o options
	flag.StringVar(&o.work, "work", "", "work directory (default: a new temporary directory, removed at the end)")
	flag.StringVar(&o.subset, "subset", "full", `which tests: "full" (server packages that use raft, and the integration packages) or "ci" (a bounded raft-heavy subset, with -race)`)
	flag.BoolVar(&o.buildOnly, "build-only", false, "compile and vet both variants, run no test")
	flag.StringVar(&o.run, "run", "", "only tests matching this regular expression (go test -run)")
	flag.StringVar(&o.jsonOut, "json", "", "also write the outcomes of every test to this file")
	flag.DurationVar(&o.timeout, "timeout", 30*time.Minute, "go test -timeout for each package")
	flag.Parse()
	if o.subset != "full" && o.subset != "ci" {
		fmt.Fprintf(os.Stderr, "etcdonpontoon: -subset takes full or ci, got %q\n", o.subset)
		os.Exit(2)
	}
	code, err := run(o)
	if err != nil {
		fmt.Fprintln(os.Stderr, "etcdonpontoon:", err)
		os.Exit(2)
	}
	os.Exit(code)
}

type options struct {
	work, subset, run, jsonOut string
	buildOnly                  bool
	timeout                    time.Duration
}

func run(o options) (int, error) {
	repo, err := etcdbuild.RepoRoot()
	if err != nil {
		return 0, err
	}
	if o.work == "" {
		dir, err := os.MkdirTemp("", "etcdonpontoon-")
		if err != nil {
			return 0, err
		}
		defer os.RemoveAll(dir)
		o.work = dir
	}
	logf("work directory %s", o.work)
	w := workspace{etcdbuild.Workspace{Dir: o.work, Repo: repo}}
	for _, v := range []variant{etcdRaft, pontoon} {
		if err := w.setup(v); err != nil {
			return 0, fmt.Errorf("setting up %s: %w", v, err)
		}
	}
	pkgs, err := w.packages(o.subset)
	if err != nil {
		return 0, err
	}
	names := make([]string, len(pkgs))
	for i, t := range pkgs {
		names[i] = shortPkg(t.pkg)
	}
	logf("%d packages: %s", len(pkgs), strings.Join(names, " "))
	for _, v := range []variant{etcdRaft, pontoon} {
		start := time.Now()
		if err := w.buildAndVet(v, pkgs); err != nil {
			return 0, fmt.Errorf("%s: %w", v, err)
		}
		logf("%s: compiled and vetted in %s", v, time.Since(start).Round(time.Second))
	}
	if o.buildOnly {
		return 0, nil
	}
	res := results{}
	for _, t := range pkgs {
		run := t.run
		if o.run != "" {
			run = o.run
		}
		// Alternate, so that both variants see the machine in the same state.
		for _, v := range []variant{etcdRaft, pontoon} {
			start := time.Now()
			outcomes, err := w.test(v, t.pkg, run, o.subset == "ci", o.timeout)
			if err != nil {
				return 0, fmt.Errorf("%s %s: %w", v, t.pkg, err)
			}
			res.add(v, outcomes)
			logf("%s %s: %s in %s", v, shortPkg(t.pkg), summarize(outcomes), time.Since(start).Round(time.Second))
		}
	}
	if err := w.retryDifferences(res, o.subset == "ci", o.timeout); err != nil {
		return 0, err
	}
	report(os.Stdout, res)
	if o.jsonOut != "" {
		if err := res.writeJSON(o.jsonOut); err != nil {
			return 0, err
		}
	}
	if res.onlyOursFailed() > 0 {
		return 1, nil
	}
	return 0, nil
}

func logf(format string, args ...interface{}) {
	fmt.Fprintf(os.Stderr, "[%s] %s\n", time.Now().Format("15:04:05"), fmt.Sprintf(format, args...))
}
