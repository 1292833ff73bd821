// Command dropin prints the transcript of the drop-in program built against
// etcd/raft v3.6 (-impl etcd) or against Pontoon (-impl pontoon). The two
// must be identical; see dropin_test.go.
//
//go:generate go run ./gen
package main

import (
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/pontoon-raft/raft/compat/dropin/etcdprog"
	"github.com/pontoon-raft/raft/compat/dropin/pontoonprog"
)

// programs maps -impl values to the two builds of the program.
var programs = map[string]func(io.Writer) error{
	"etcd":    etcdprog.Run,
	"pontoon": pontoonprog.Run,
}

func main() {
	impl := flag.String("impl", "pontoon", `which build to run: "etcd" or "pontoon"`)
	flag.Parse()
	run, ok := programs[*impl]
	if !ok {
		fmt.Fprintf(os.Stderr, "dropin: unknown -impl %q\n", *impl)
		os.Exit(2)
	}
	if err := run(os.Stdout); err != nil {
		fmt.Fprintf(os.Stderr, "dropin: %v\n", err)
		os.Exit(1)
	}
}
