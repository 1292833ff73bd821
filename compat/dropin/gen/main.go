// Command gen writes package pontoonprog from package etcdprog by
// rewriting the etcd/raft import paths to Pontoon's and renaming the
// package. Run it with `go generate ./dropin` from the compat module; the
// test TestGeneratedCopyIsFresh fails when the copy is stale.
package main

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/pontoon-raft/raft/compat/internal/rewrite"
)

func main() {
	dir := "."
	if len(os.Args) > 1 {
		dir = os.Args[1]
	}
	if err := rewrite.DropIn.WriteDir(filepath.Join(dir, "etcdprog"), filepath.Join(dir, "pontoonprog")); err != nil {
		fmt.Fprintf(os.Stderr, "gen: %v\n", err)
		os.Exit(1)
	}
}
