package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"regexp"
	"sort"
	"strings"
	"time"

	"github.com/pontoon-raft/raft/compat/internal/etcdbuild"
)

// variant names one of the two builds compared.
type variant = etcdbuild.Variant

const (
	etcdRaft = etcdbuild.EtcdRaft
	pontoon  = etcdbuild.Pontoon
)

// workspace is the work directory: a driver module per variant, and the
// renamed copy of Pontoon.
type workspace struct {
	etcdbuild.Workspace
}

// setup writes the driver module of v: it requires the etcd server and
// tests modules as published; Pontoon's also replaces go.etcd.io/raft/v3 by
// the renamed copy.
func (w workspace) setup(v variant) error {
	return w.Setup(v, []string{"go.etcd.io/etcd/server/v3", "go.etcd.io/etcd/tests/v3"},
		[]string{"go.etcd.io/etcd/server/v3/etcdmain", "go.etcd.io/etcd/tests/v3/framework/integration"})
}

// ciTargets is the bounded raft-heavy subset CI runs, with -race: the
// server packages closest to raft, and integration tests of leadership,
// membership, partitions and restarts.
var ciTargets = []string{
	"go.etcd.io/etcd/server/v3/etcdserver/api/rafthttp",
	"go.etcd.io/etcd/server/v3/etcdserver/api/membership",
	"go.etcd.io/etcd/server/v3/storage/wal",
	"go.etcd.io/etcd/tests/v3/integration",
}

// ciRun selects the integration tests of the CI subset.
const ciRun = `^(TestV3LeadershipTransfer|TestMoveLeader.*|TestTransferLeadershipWithLearner|TestFirstCommitNotification|` +
	`TestNetworkPartition.*|TestMemberRemove.*|TestIssue2681|TestRestartMember|TestLaunchDuplicateMemberShouldFail|` +
	`TestV3ElectionCampaign|TestKVPut|TestV3PutOverwrite|TestV3WatchRestoreSnapshotUnsync)$`

// target is a package to test, with the -run pattern selecting its tests
// ("" for all).
type target struct {
	pkg, run string
}

// packages lists the packages to test: the server packages whose code or
// tests import etcd/raft, and every integration package; or the CI subset.
func (w workspace) packages(subset string) ([]target, error) {
	if subset == "ci" {
		var ts []target
		for _, p := range ciTargets {
			t := target{pkg: p}
			if p == "go.etcd.io/etcd/tests/v3/integration" {
				t.run = ciRun
			}
			ts = append(ts, t)
		}
		return ts, nil
	}
	out, err := w.GoCmd(etcdRaft, "list", "-f",
		`{{.ImportPath}} {{join .Imports " "}} {{join .TestImports " "}} {{join .XTestImports " "}}`,
		"go.etcd.io/etcd/server/v3/...")
	if err != nil {
		return nil, err
	}
	var pkgs []string
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		for _, imp := range fields[1:] {
			if imp == "go.etcd.io/raft/v3" || strings.HasPrefix(imp, "go.etcd.io/raft/v3/") {
				pkgs = append(pkgs, fields[0])
				break
			}
		}
	}
	out, err = w.GoCmd(etcdRaft, "list", "go.etcd.io/etcd/tests/v3/integration/...")
	if err != nil {
		return nil, err
	}
	pkgs = append(pkgs, strings.Fields(string(out))...)
	sort.Strings(pkgs)
	var ts []target
	for _, p := range pkgs {
		ts = append(ts, target{pkg: p})
	}
	return ts, nil
}

// buildAndVet compiles the packages of ts and their tests, and vets them.
func (w workspace) buildAndVet(v variant, ts []target) error {
	var pkgs []string
	for _, t := range ts {
		pkgs = append(pkgs, t.pkg)
	}
	if _, err := w.GoCmd(v, append([]string{"test", "-count=1", "-run=^$"}, pkgs...)...); err != nil {
		return err
	}
	out, err := w.GoCmd(v, append([]string{"vet"}, pkgs...)...)
	if err != nil {
		return fmt.Errorf("%w%s", err, out)
	}
	return nil
}

// outcome is how one top-level test ended: "pass", "fail" or "skip". A
// package that failed outside its tests (did not build, timed out,
// panicked in init) has the test name "(package)".
type outcome struct {
	pkg, test, result string
}

// test runs the tests of package pkg that match run (all if "") in v and
// returns their outcomes.
func (w workspace) test(v variant, pkg, run string, race bool, timeout time.Duration) ([]outcome, error) {
	args := []string{"test", "-json", "-count=1", "-timeout", timeout.String()}
	if race {
		args = append(args, "-race")
	}
	if run != "" {
		args = append(args, "-run", run)
	}
	out, err := w.GoCmd(v, append(args, pkg)...)
	if err != nil {
		return nil, err
	}
	return parseTestJSON(out)
}

// parseTestJSON reads go test -json output.
func parseTestJSON(out []byte) ([]outcome, error) {
	var res []outcome
	dec := json.NewDecoder(bytes.NewReader(out))
	for {
		var e struct{ Action, Package, Test string }
		if err := dec.Decode(&e); err == io.EOF {
			break
		} else if err != nil {
			return nil, fmt.Errorf("reading go test -json: %w", err)
		}
		switch e.Action {
		case "pass", "fail", "skip":
		default:
			continue
		}
		switch {
		case e.Test != "" && !strings.Contains(e.Test, "/"):
			res = append(res, outcome{e.Package, e.Test, e.Action})
		case e.Test == "" && e.Action == "fail":
			res = append(res, outcome{e.Package, "(package)", "fail"})
		}
	}
	return res, nil
}

// retryDifferences runs every test that failed on one side only once more
// on both sides, alone, and keeps the outcomes of that run.
func (w workspace) retryDifferences(res results, race bool, timeout time.Duration) error {
	for _, d := range res.differences() {
		if d.test == "(package)" {
			continue
		}
		run := "^" + regexp.QuoteMeta(d.test) + "$"
		for _, v := range []variant{etcdRaft, pontoon} {
			outs, err := w.test(v, d.pkg, run, race, timeout)
			if err != nil {
				return err
			}
			for _, o := range outs {
				if o.test == d.test {
					res.retried(v, o)
				}
			}
		}
		logf("retried %s %s: etcd-raft %s, pontoon %s", shortPkg(d.pkg), d.test,
			res[d.pkg][d.test].final(etcdRaft), res[d.pkg][d.test].final(pontoon))
	}
	return nil
}

// shortPkg drops the common prefix of etcd's packages.
func shortPkg(p string) string {
	return strings.TrimPrefix(p, "go.etcd.io/etcd/")
}
