// Package etcdbuild sets up, in a work directory and from the module cache,
// Go modules that build etcd's published code twice: once on etcd/raft
// v3.6.0 and once on Pontoon. Pontoon enters through a replace directive
// pointing at a copy of its packages renamed to go.etcd.io/raft/v3 (import
// paths rewritten, nothing else changed), built with the
// pontoon_etcd_names tag so that the protobuf types are registered under
// etcd's names. No etcd code is copied into the repository.
//
// cmd/etcdonpontoon uses it to run etcd's tests on both, and
// etcdbench to build two etcd servers.
package etcdbuild

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// Versions compared.
const (
	EtcdVersion = "v3.6.16"
	RaftVersion = "v3.6.0"
)

// Variant names one of the two builds compared.
type Variant string

// The two variants: etcd on its own raft, and etcd on Pontoon.
const (
	EtcdRaft Variant = "etcd-raft"
	Pontoon  Variant = "pontoon"
)

// Variants lists both, etcd/raft first.
var Variants = []Variant{EtcdRaft, Pontoon}

// pontoonModule is the module path of this repository.
const pontoonModule = "github.com/pontoon-raft/raft"

// pontoonPackages are the packages of Pontoon's module that replace
// etcd/raft's; the others (wal, transport, ...) are not part of etcd/raft.
// The copy holds them and every package of ours they import.
var pontoonPackages = []string{".", "./raftpb", "./quorum", "./tracker", "./confchange", "./rafttest"}

// Workspace is the work directory (a driver module per variant, and the
// renamed copy of Pontoon) and the Pontoon checkout it copies from.
type Workspace struct {
	Dir, Repo string
}

// ModuleDir is the directory of v's driver module.
func (w Workspace) ModuleDir(v Variant) string { return filepath.Join(w.Dir, string(v)) }

// Setup writes the driver module of v. It requires each of etcdModules at
// EtcdVersion (and go.etcd.io/raft/v3 at RaftVersion); the blank imports of
// packages keep them through go mod tidy. Pontoon's module also replaces
// go.etcd.io/raft/v3 by the renamed copy.
func (w Workspace) Setup(v Variant, etcdModules, packages []string) error {
	dir := w.ModuleDir(v)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	var goMod strings.Builder
	goMod.WriteString("module etcdonpontoon/driver\n\ngo 1.26.0\n\nrequire (\n")
	for _, m := range etcdModules {
		fmt.Fprintf(&goMod, "\t%s %s\n", m, EtcdVersion)
	}
	fmt.Fprintf(&goMod, "\tgo.etcd.io/raft/v3 %s\n)\n", RaftVersion)
	if v == Pontoon {
		if err := w.CopyPontoon(filepath.Join(w.Dir, "raft-pontoon")); err != nil {
			return err
		}
		goMod.WriteString("\nreplace go.etcd.io/raft/v3 => ../raft-pontoon\n")
	}
	var driver strings.Builder
	driver.WriteString("package driver\n\nimport (\n")
	for _, p := range packages {
		fmt.Fprintf(&driver, "\t_ %q\n", p)
	}
	driver.WriteString(")\n")
	if err := os.WriteFile(filepath.Join(dir, "go.mod"), []byte(goMod.String()), 0o644); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, "driver.go"), []byte(driver.String()), 0o644); err != nil {
		return err
	}
	_, err := w.GoCmd(v, "mod", "tidy")
	return err
}

// pontoonDeps lists, relative to the repository, the directories of the
// packages in pontoonPackages and of every package of ours they import.
func (w Workspace) pontoonDeps() ([]string, error) {
	cmd := exec.Command("go", append([]string{"list", "-deps", "-f", "{{.ImportPath}}"}, pontoonPackages...)...)
	cmd.Dir = w.Repo
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("listing Pontoon's packages: %w", err)
	}
	var dirs []string
	for _, p := range strings.Fields(string(out)) {
		switch {
		case p == pontoonModule:
			dirs = append(dirs, ".")
		case strings.HasPrefix(p, pontoonModule+"/"):
			dirs = append(dirs, strings.TrimPrefix(p, pontoonModule+"/"))
		}
	}
	return dirs, nil
}

// CopyPontoon writes Pontoon's packages to dst as the module
// go.etcd.io/raft/v3: every import path rewritten, nothing else changed.
// Test files are left out; etcd's code is what runs.
func (w Workspace) CopyPontoon(dst string) error {
	if err := os.RemoveAll(dst); err != nil {
		return err
	}
	pkgs, err := w.pontoonDeps()
	if err != nil {
		return err
	}
	for _, pkg := range pkgs {
		src := filepath.Join(w.Repo, pkg)
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
			b = bytes.ReplaceAll(b, []byte(pontoonModule), []byte("go.etcd.io/raft/v3"))
			if err := os.WriteFile(filepath.Join(dst, pkg, name), b, 0o644); err != nil {
				return err
			}
		}
	}
	goMod, err := os.ReadFile(filepath.Join(w.Repo, "go.mod"))
	if err != nil {
		return err
	}
	goMod = bytes.Replace(goMod, []byte("module "+pontoonModule+"\n"), []byte("module go.etcd.io/raft/v3\n"), 1)
	if err := os.WriteFile(filepath.Join(dst, "go.mod"), goMod, 0o644); err != nil {
		return err
	}
	sum, err := os.ReadFile(filepath.Join(w.Repo, "go.sum"))
	if err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dst, "go.sum"), sum, 0o644)
}

// GoCmd runs the go command in v's driver module and returns its standard
// output. Pontoon's variant builds with the pontoon_etcd_names tag.
func (w Workspace) GoCmd(v Variant, args ...string) ([]byte, error) {
	return w.GoCmdTo(v, nil, args...)
}

// GoCmdTo is GoCmd, also copying standard output to out if not nil. A go
// test that exits with status 1 is not an error: the outcomes in its
// output say which tests failed.
func (w Workspace) GoCmdTo(v Variant, out io.Writer, args ...string) ([]byte, error) {
	if v == Pontoon && len(args) > 0 && (args[0] == "test" || args[0] == "build" || args[0] == "vet" || args[0] == "list") {
		args = append([]string{args[0], "-tags=pontoon_etcd_names"}, args[1:]...)
	}
	cmd := exec.Command("go", args...)
	cmd.Dir = w.ModuleDir(v)
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
	}
	return stdout.Bytes(), nil
}

// RepoRoot finds the Pontoon checkout that contains the working directory.
func RepoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for d := dir; ; d = filepath.Dir(d) {
		if b, err := os.ReadFile(filepath.Join(d, "go.mod")); err == nil &&
			strings.HasPrefix(string(b), "module "+pontoonModule+"\n") {
			return d, nil
		}
		if filepath.Dir(d) == d {
			return "", fmt.Errorf("not inside a Pontoon checkout: %s", dir)
		}
	}
}
