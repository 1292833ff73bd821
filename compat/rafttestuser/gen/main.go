// Command gen writes package pontoonuser (its tests and scripts included)
// from package etcduser by rewriting the etcd/raft import paths to
// Pontoon's and renaming the package. Run it with `go generate
// ./rafttestuser` from the compat module.
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
	if err := rewrite.RafttestUser.WriteDir(filepath.Join(dir, "etcduser"), filepath.Join(dir, "pontoonuser")); err != nil {
		fmt.Fprintf(os.Stderr, "gen: %v\n", err)
		os.Exit(1)
	}
}
