// Command kvstore is a replicated key-value service built on Pontoon: each
// node is a process with an HTTP API, a Pebble-backed raft log and an HTTP
// streaming transport between nodes.
//
//	kvstore serve --id 1 --listen 127.0.0.1:7001 --peers 1=127.0.0.1:7001,2=127.0.0.1:7002,3=127.0.0.1:7003 --data DIR
//	kvstore demo     # a 3-node cluster on loopback: writes, leader crash, recovery
//	kvstore bench    # PUT throughput and latency at 1, 16 and 128 clients
//
// See README.md for the architecture and the HTTP API.
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
	fmt.Fprintln(os.Stderr, "usage: kvstore serve|demo|bench [flags]  (kvstore CMD -h for flags)")
	os.Exit(2)
}
