// Command host-bench measures package host with many Raft groups: three
// host processes on loopback (this command re-executes itself as each
// worker), TCP with mutual TLS between them (host.TCP and a development CA
// made in a temporary directory), the wal engine on the local disk with
// every write fsynced. The parent drives the workers over their standard
// input and output and measures them from outside: CPU time (user+system,
// /proc/<pid>/stat) of each worker, and the heap each worker reports from
// runtime.MemStats after a garbage collection.
//
// Scenarios (-scenarios, comma-separated):
//
//   - idle: -idle-groups groups, each on all three hosts, are created,
//     elected and left alone until they quiesce; then the CPU of each host
//     over -idle-window, and the heap per idle group (heap after GC with the
//     groups, minus the heap of the same host before it had any, divided by
//     the groups).
//   - active: for each count in -active-groups, that many groups, their
//     leaders spread over the hosts; closed-loop clients (-active-clients in
//     all, at least one per group), each running in the process of its
//     group's leader and calling host.Propose with a 128-byte command, for
//     -duration. Committed proposals/s, storage writes (each one fsync) per
//     second per host, CPU per proposal.
//   - single: one group on three hosts against examples/kvstore as it is at
//     -kvstore-bin (one Raft group, HTTP), both driven by the same HTTP
//     client loop in this process (PUT of a 128-byte value to the leader,
//     -single-clients clients), the two systems alternating run by run.
//     The host side answers the PUTs with a small HTTP front in each
//     worker that calls host.Propose. CPU/op counts the three server
//     processes, not the client.
//
// Usage (from bench/host): go run . [-runs 3] [-scenarios idle,active,single]
package main

import (
	"flag"
	"fmt"
	"log"
	"os"
	"strconv"
	"strings"
	"time"
)

type options struct {
	role       string
	id         uint64
	dir        string
	caDir      string
	peers      string
	tick       time.Duration
	scenarios  []string
	runs       int
	duration   time.Duration
	warmup     time.Duration
	payload    int
	idleGroups int
	idleWindow time.Duration

	activeGroups  []int
	activeClients int

	singleClients []int
	kvstoreBin    string
	markdown      string
	cpuProfile    string
}

func main() {
	var o options
	var scenarios, activeGroups, singleClients string
	flag.StringVar(&o.role, "role", "parent", "parent, or worker (set when the command re-executes itself)")
	flag.StringVar(&scenarios, "scenarios", "idle,active,single", "scenarios to run")
	flag.IntVar(&o.runs, "runs", 3, "runs per figure; medians are reported")
	flag.DurationVar(&o.duration, "duration", 5*time.Second, "measured time of a throughput run")
	flag.DurationVar(&o.warmup, "warmup", time.Second, "unmeasured load before each throughput run")
	flag.IntVar(&o.payload, "payload", 128, "bytes per proposal")
	flag.IntVar(&o.idleGroups, "idle-groups", 10000, "groups in the idle scenario")
	flag.DurationVar(&o.idleWindow, "idle-window", 30*time.Second, "measured time of an idle run")
	flag.StringVar(&activeGroups, "active-groups", "1,10,100,1000", "group counts of the active scenario")
	flag.IntVar(&o.activeClients, "active-clients", 256, "closed-loop clients of an active run (at least one per group)")
	flag.StringVar(&singleClients, "single-clients", "16,128", "client counts of the single scenario")
	flag.StringVar(&o.kvstoreBin, "kvstore-bin", "", "examples/kvstore binary to compare with in the single scenario (empty: skip it)")
	flag.DurationVar(&o.tick, "tick", 100*time.Millisecond, "the hosts' TickInterval")
	flag.StringVar(&o.markdown, "markdown", "", "also write the tables to this file")
	flag.StringVar(&o.cpuProfile, "cpuprofile", "", "write CPU profiles of the idle windows and active runs to <file>.{idle,active<groups>}.<host>.<run>, heap profiles after the idle windows to <file>.heap.<host>.<run>")
	flag.Uint64Var(&o.id, "id", 0, "worker: host ID")
	flag.StringVar(&o.dir, "dir", "", "worker: data directory")
	flag.StringVar(&o.caDir, "ca-dir", "", "worker: directory of the benchmark CA")
	flag.StringVar(&o.peers, "peers", "", "worker: id=addr,... of every host")
	flag.Parse()
	log.SetFlags(0)
	o.scenarios = strings.Split(scenarios, ",")
	var err error
	if o.activeGroups, err = parseInts(activeGroups); err == nil {
		o.singleClients, err = parseInts(singleClients)
	}
	if err != nil {
		log.Fatal(err)
	}
	if o.role == "worker" {
		log.SetPrefix(fmt.Sprintf("worker %d: ", o.id))
		if err := runWorker(o); err != nil {
			log.Fatal(err)
		}
		return
	}
	if err := runParent(o); err != nil {
		log.Fatal(err)
	}
}

func parseInts(s string) ([]int, error) {
	var out []int
	for _, f := range strings.Split(s, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n <= 0 {
			return nil, fmt.Errorf("bad count %q in %q", f, s)
		}
		out = append(out, n)
	}
	return out, nil
}

// logf reports progress on standard error.
func logf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "%s "+format+"\n", append([]any{time.Now().Format("15:04:05")}, args...)...)
}
