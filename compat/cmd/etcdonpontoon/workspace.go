package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"time"
)

// variant names one of the two builds compared.
type variant string

const (
	etcdRaft variant = "etcd-raft"
	pontoon  variant = "pontoon"
)

// pontoonPackages are the packages of Pontoon's module that replace
// etcd/raft's; the others (wal, transport, ...) are not part of etcd/raft.
// The copy holds them and every package of ours they import.
var pontoonPackages = []string{".", "./raftpb", "./quorum", "./tracker", "./confchange", "./rafttest"}

// pontoonDeps lists, relative to the repository, the directories of the
// packages in pontoonPackages and of every package of ours they import.
func (w workspace) pontoonDeps() ([]string, error) {
	cmd := exec.Command("go", append([]string{"list", "-deps", "-f", "{{.ImportPath}}"}, pontoonPackages...)...)
	cmd.Dir = w.repo
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("listing Pontoon's packages: %w", err)
	}
	const module = "github.com/pontoon-raft/raft"
	var dirs []string
	for _, p := range strings.Fields(string(out)) {
		switch {
		case p == module:
			dirs = append(dirs, ".")
		case strings.HasPrefix(p, module+"/"):
			dirs = append(dirs, strings.TrimPrefix(p, module+"/"))
		}
	}
	return dirs, nil
}

// workspace is the work directory: a driver module per variant, and the
// renamed copy of Pontoon.
type workspace struct {
	dir, repo string
}

func (w workspace) moduleDir(v variant) string { return filepath.Join(w.dir, string(v)) }

// setup writes the driver module of v: it requires the etcd server and
// tests modules as published; Pontoon's also replaces go.etcd.io/raft/v3 by
// the renamed copy.
func (w workspace) setup(v variant) error {
	dir := w.moduleDir(v)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	goMod := fmt.Sprintf("module etcdonpontoon/driver\n\ngo 1.26.0\n\nrequire (\n"+
		"\tgo.etcd.io/etcd/server/v3 %s\n\tgo.etcd.io/etcd/tests/v3 %s\n\tgo.etcd.io/raft/v3 %s\n)\n",
		etcdVersion, etcdVersion, raftVersion)
	if v == pontoon {
		if err := w.copyPontoon(filepath.Join(w.dir, "raft-pontoon")); err != nil {
			return err
		}
		goMod += "\nreplace go.etcd.io/raft/v3 => ../raft-pontoon\n"
	}
	// The blank imports keep the requirements through go mod tidy.
	driver := "package driver\n\nimport (\n\t_ \"go.etcd.io/etcd/server/v3/etcdmain\"\n" +
		"\t_ \"go.etcd.io/etcd/tests/v3/framework/integration\"\n)\n"
	if err := os.WriteFile(filepath.Join(dir, "go.mod"), []byte(goMod), 0o644); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, "driver.go"), []byte(driver), 0o644); err != nil {
		return err
	}
	_, err := w.goCmd(v, "mod", "tidy")
	return err
}

// copyPontoon writes Pontoon's packages to dst as the module
// go.etcd.io/raft/v3: every import path rewritten, nothing else changed.
// Test files are left out; etcd's tests are what runs.
func (w workspace) copyPontoon(dst string) error {
	if err := os.RemoveAll(dst); err != nil {
		return err
	}
	pkgs, err := w.pontoonDeps()
	if err != nil {
		return err
	}
	for _, pkg := range pkgs {
		src := filepath.Join(w.repo, pkg)
		entries, err := os.ReadDir(src)
		if err != nil {
			return err
		}
		if err := os.MkdirAll(filepath.Join(dst, pkg), 0o755); err != nil {
			return err
		}
		for _, e := range entries {
			name := e.Name()
			if e.IsDir() || !strings.HasSuffix(name, ".go") || strings.HasSuffix(name, "_test.go") {
				continue
			}
			b, err := os.ReadFile(filepath.Join(src, name))
			if err != nil {
				return err
			}
			b = bytes.ReplaceAll(b, []byte("github.com/pontoon-raft/raft"), []byte("go.etcd.io/raft/v3"))
			if err := os.WriteFile(filepath.Join(dst, pkg, name), b, 0o644); err != nil {
				return err
			}
		}
	}
	goMod, err := os.ReadFile(filepath.Join(w.repo, "go.mod"))
	if err != nil {
		return err
	}
	goMod = bytes.Replace(goMod, []byte("module github.com/pontoon-raft/raft\n"), []byte("module go.etcd.io/raft/v3\n"), 1)
	if err := os.WriteFile(filepath.Join(dst, "go.mod"), goMod, 0o644); err != nil {
		return err
	}
	sum, err := os.ReadFile(filepath.Join(w.repo, "go.sum"))
	if err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dst, "go.sum"), sum, 0o644)
}

// goCmd runs the go command in v's driver module and returns its standard
// output. Pontoon's variant builds with the pontoon_etcd_names tag.
func (w workspace) goCmd(v variant, args ...string) ([]byte, error) {
	return w.goCmdTo(v, nil, args...)
}

// goCmdTo is goCmd, also copying standard output to out if not nil.
func (w workspace) goCmdTo(v variant, out io.Writer, args ...string) ([]byte, error) {
	if v == pontoon && len(args) > 0 && (args[0] == "test" || args[0] == "build" || args[0] == "vet" || args[0] == "list") {
		args = append([]string{args[0], "-tags=pontoon_etcd_names"}, args[1:]...)
	}
	cmd := exec.Command("go", args...)
	cmd.Dir = w.moduleDir(v)
	cmd.Env = append(os.Environ(), "GOFLAGS=-mod=mod", "GOWORK=off", "GOTOOLCHAIN=local")
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if out != nil {
		cmd.Stdout = io.MultiWriter(&stdout, out)
	}
	err := cmd.Run()
	if err != nil {
		if _, ok := err.(*exec.ExitError); !ok || args[0] != "test" {
			return stdout.Bytes(), fmt.Errorf("go %s: %v\n%s", strings.Join(args, " "), err, stderr.String())
		}
		// go test exits 1 when a test fails; the outcomes say which.
	}
	return stdout.Bytes(), nil
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
	out, err := w.goCmd(etcdRaft, "list", "-f",
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
	out, err = w.goCmd(etcdRaft, "list", "go.etcd.io/etcd/tests/v3/integration/...")
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
	if _, err := w.goCmd(v, append([]string{"test", "-count=1", "-run=^$"}, pkgs...)...); err != nil {
		return err
	}
	out, err := w.goCmd(v, append([]string{"vet"}, pkgs...)...)
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
	out, err := w.goCmd(v, append(args, pkg)...)
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
