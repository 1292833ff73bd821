// Command kvstore is a sharded, replicated key-value service built on
// Pontoon's host: the key space is split into shards, each a Raft group
// replicated on 3 nodes, whose state lives in one Pebble per node and whose
// logs live in the host's log engine; nodes talk over mutual TLS.
//
//	kvstore certs --dir DIR --nodes 3          # a CA and node certificates
//	kvstore serve --id 1 --data DIR --peers ... --raft-peers ... --ca ... --cert ... --key ...
//	kvstore demo     # 3 nodes on loopback: shards, a SIGKILL, recovery, a 4th node joining
//	kvstore bench    # against etcd, leader kills, 3 -> 5 nodes (run from examples/kvstore)
//
// See README.md for the shards, the security flags and the HTTP API.
package main

import (
	"fmt"
	"os"
)

func main() {
	if len(os.Args) < 2 {
		usage()
	}
	var err error
	switch os.Args[1] {
	case "serve":
		err = serve(os.Args[2:])
	case "certs":
		err = certs(os.Args[2:])
	case "demo":
		err = demo(os.Args[2:])
	case "bench":
		err = bench(os.Args[2:])
	default:
		usage()
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "kvstore:", err)
		os.Exit(1)
	}
}

func usage() {
	fmt.Fprintln(os.Stderr, "usage: kvstore serve|certs|demo|bench [flags]  (kvstore CMD -h for flags)")
	os.Exit(2)
}
