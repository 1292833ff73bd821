// Command transport-bench compares package transport's TCP transport (with
// and without mutual TLS) against the kvstore example's HTTP stream
// transport (a verbatim copy in ./baseline), between two processes on
// loopback: this one (node 1) and a copy of itself it starts as the peer
// (node 2).
//
// Workloads, each run once per transport per round, the transports
// alternating in a rotated order every round:
//
//   - throughput: node 1 sends MsgApps of one 128-byte entry, in batches of
//     1 to 64 messages of random groups among 1000 (as a Raft host of many
//     groups produces them), keeping at most -window unanswered; node 2
//     answers each with a MsgAppResp, batching the answers of whatever
//     arrived since its last send. Reported: MsgApps per second of wall time
//     and CPU time (getrusage user+system, both processes) per MsgApp.
//   - latency-idle and latency-snapshot: node 1 sends one heartbeat per
//     millisecond carrying its send time; node 2 records the delivery
//     latency (both processes read the same clock). In latency-snapshot,
//     node 1 streams 64 MiB snapshots back to back meanwhile, at package
//     transport's default SnapshotBytesPerSecond; latency-snapshot-unbounded
//     lifts that bound.
//
// Usage (from bench/transport): go run . [-rounds 5] [-update ../../BENCHMARKS.md]
package main

import (
	"bufio"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log"
	"os"
	"os/exec"
	"runtime/pprof"
	"strings"
	"time"
)

type options struct {
	role, impl, mode, peerAddr, tlsDir string

	impls, modes    []string
	rounds          int
	messages        int
	groups          int
	maxBatch        int
	payloadBytes    int
	window          int
	latencyDuration time.Duration
	snapshotBytes   int64
	snapshotRate    int64
	seed            uint64
	markdown        string
	update          string
	cpuProfile      string
}

func main() {
	var o options
	var impls, modes string
	flag.StringVar(&o.role, "role", "parent", "parent, or peer (set when the command re-executes itself)")
	flag.StringVar(&impls, "impls", strings.Join([]string{implBaseline, implTCP, implTLS}, ","), "transports to compare")
	flag.StringVar(&modes, "modes", strings.Join([]string{modeThroughput, modeIdle, modeSnapshot, modeUnbounded}, ","), "workloads")
	flag.IntVar(&o.rounds, "rounds", 5, "rounds; each runs every transport once per workload")
	flag.IntVar(&o.messages, "messages", 1_000_000, "MsgApps per throughput run")
	flag.IntVar(&o.groups, "groups", 1000, "Raft groups the MsgApps belong to")
	flag.IntVar(&o.maxBatch, "max-batch", 64, "messages per Send: uniform in 1..max-batch")
	flag.IntVar(&o.payloadBytes, "payload", 128, "entry payload bytes")
	flag.IntVar(&o.window, "window", 1024, "MsgApps in flight at most (below every transport's queue bound, so nothing is dropped)")
	flag.DurationVar(&o.latencyDuration, "latency-duration", 3*time.Second, "length of a latency run")
	flag.Int64Var(&o.snapshotBytes, "snapshot-bytes", 64<<20, "size of each snapshot in latency-snapshot")
	flag.Int64Var(&o.snapshotRate, "snapshot-rate", 0, "package transport's SnapshotBytesPerSecond (0: its default; negative: no bound)")
	flag.Uint64Var(&o.seed, "seed", 1, "seed of the workload")
	flag.StringVar(&o.markdown, "markdown", "", "also write the tables to this file")
	flag.StringVar(&o.update, "update", "", "replace the tables between the transport-bench markers of this file (BENCHMARKS.md)")
	flag.StringVar(&o.impl, "impl", "", "peer: transport")
	flag.StringVar(&o.mode, "mode", "", "peer: workload")
	flag.StringVar(&o.peerAddr, "peer-addr", "", "peer: address of node 1")
	flag.StringVar(&o.tlsDir, "tls-dir", "", "directory of the benchmark CA")
	flag.StringVar(&o.cpuProfile, "cpuprofile", "", "write CPU profiles of the measured runs to this file (the peer's to <file>.peer)")
	flag.Parse()
	o.impls, o.modes = strings.Split(impls, ","), strings.Split(modes, ",")
	log.SetFlags(0)
	if o.cpuProfile != "" {
		path := o.cpuProfile
		if o.role == "peer" {
			path += ".peer"
		}
		f, err := os.Create(path)
		if err != nil {
			log.Fatal(err)
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			log.Fatal(err)
		}
		defer pprof.StopCPUProfile()
	}
	if o.role == "peer" {
		if err := runPeer(o); err != nil {
			log.Fatalf("peer: %v", err)
		}
		return
	}
	if err := runParent(o); err != nil {
		pprof.StopCPUProfile()
		log.Fatal(err)
	}
}

// run is one measured run of one transport and workload.
type run struct {
	impl, mode string
	round      int
	messages   int64 // MsgApps answered (throughput)
	wall       time.Duration
	cpuParent  int64
	cpuPeer    int64
	latencies  []time.Duration
	snapBytes  int64
}

func (r run) msgsPerSec() float64 { return float64(r.messages) / r.wall.Seconds() }
func (r run) cpuPerMsg() float64  { return float64(r.cpuParent+r.cpuPeer) / float64(r.messages) }

func runParent(o options) error {
	dir, err := os.MkdirTemp("", "transport-bench")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	o.tlsDir = dir
	if err := writeCA(dir); err != nil {
		return err
	}
	self, err := os.Executable()
	if err != nil {
		return err
	}
	var runs []run
	for round := 0; round < o.rounds; round++ {
		for _, mode := range o.modes {
			for i := range o.impls {
				impl := o.impls[(i+round)%len(o.impls)] // alternate the order
				if mode == modeUnbounded && impl == implBaseline {
					continue // the baseline has no bound to lift
				}
				r, err := measure(self, o, impl, mode, round)
				if err != nil {
					return fmt.Errorf("round %d, %s, %s: %w", round, impl, mode, err)
				}
				fmt.Fprintf(os.Stderr, "round %d %-13s %-16s %s\n", round, impl, mode, r.summary())
				runs = append(runs, r)
			}
		}
	}
	report := render(o, runs)
	fmt.Print(report)
	if o.markdown != "" {
		if err := os.WriteFile(o.markdown, []byte(report), 0o644); err != nil {
			return err
		}
	}
	if o.update != "" {
		return updateBetweenMarkers(o.update, report)
	}
	return nil
}

// The generated part of BENCHMARKS.md lies between these lines.
const (
	beginMarker = "<!-- transport-bench:begin (generated by make bench-transport) -->"
	endMarker   = "<!-- transport-bench:end -->"
)

func updateBetweenMarkers(path, report string) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	text := string(b)
	before, rest, ok := strings.Cut(text, beginMarker)
	if !ok {
		return fmt.Errorf("%s has no line %q", path, beginMarker)
	}
	_, after, ok := strings.Cut(rest, endMarker)
	if !ok {
		return fmt.Errorf("%s has no line %q", path, endMarker)
	}
	text = before + beginMarker + "\n\n" + report + "\n" + endMarker + after
	return os.WriteFile(path, []byte(text), 0o644)
}

func (r run) summary() string {
	if r.mode == modeThroughput {
		return fmt.Sprintf("%9.0f msgs/s  %6.2f us CPU/msg (parent %.2f, peer %.2f)", r.msgsPerSec(), r.cpuPerMsg()/1e3,
			float64(r.cpuParent)/float64(r.messages)/1e3, float64(r.cpuPeer)/float64(r.messages)/1e3)
	}
	q := quantiles(r.latencies)
	return fmt.Sprintf("heartbeat p50 %v p99 %v max %v (%d samples), snapshots %.0f MB/s",
		q.p50, q.p99, q.max, len(r.latencies), float64(r.snapBytes)/1e6/r.wall.Seconds())
}

// measure starts the peer process and runs one workload against it.
func measure(self string, o options, impl, mode string, round int) (run, error) {
	r := run{impl: impl, mode: mode, round: round}
	if mode == modeUnbounded {
		o.snapshotRate = -1
	}
	ev := &events{}
	app := newAppender()
	ev.messages = app.onMessages
	ep, err := newEndpoint(impl, 1, 2, "", o.tlsDir, o.snapshotRate, ev)
	if err != nil {
		return r, err
	}
	defer ep.close()

	cmd := exec.Command(self, "-role", "peer", "-impl", impl, "-mode", mode, "-peer-addr", ep.addr(), "-tls-dir", o.tlsDir,
		"-snapshot-rate", fmt.Sprint(o.snapshotRate), "-cpuprofile", o.cpuProfile)
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return r, err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return r, err
	}
	if err := cmd.Start(); err != nil {
		return r, err
	}
	defer cmd.Wait()
	defer stdin.Close()
	lines := bufio.NewScanner(stdout)
	lines.Buffer(nil, 64<<20)
	expect := func(prefix string) (string, error) {
		if !lines.Scan() {
			return "", fmt.Errorf("peer ended before %s: %v", prefix, lines.Err())
		}
		rest, ok := strings.CutPrefix(lines.Text(), prefix)
		if !ok {
			return "", fmt.Errorf("peer said %q, want %s", lines.Text(), prefix)
		}
		return strings.TrimSpace(rest), nil
	}
	addr, err := expect("READY")
	if err != nil {
		return r, err
	}
	if err := ep.(interface{ setPeer(uint64, string) error }).setPeer(2, addr); err != nil {
		return r, err
	}
	// Warm up: connections dialed, buffers grown.
	warm := o
	warm.messages = 10_000
	if err := app.run(ep, &ev.dropped, warm, o.seed+1000); err != nil {
		return r, fmt.Errorf("warm-up: %w", err)
	}

	if _, err := io.WriteString(stdin, "START\n"); err != nil {
		return r, err
	}
	if _, err := expect("STARTED"); err != nil {
		return r, err
	}
	cpu0, start := cpuNanos(), time.Now()
	switch mode {
	case modeThroughput:
		err = app.run(ep, &ev.dropped, o, o.seed+uint64(round))
		r.messages = int64(o.messages)
	case modeIdle, modeSnapshot, modeUnbounded:
		err = heartbeats(ep, ev, o, mode != modeIdle)
	default:
		err = fmt.Errorf("unknown workload %q", mode)
	}
	r.wall, r.cpuParent = time.Since(start), cpuNanos()-cpu0
	if err != nil {
		return r, err
	}
	if _, err := io.WriteString(stdin, "STOP\n"); err != nil {
		return r, err
	}
	res, err := expect("RESULT")
	if err != nil {
		return r, err
	}
	var pr peerResult
	if err := json.Unmarshal([]byte(res), &pr); err != nil {
		return r, err
	}
	r.cpuPeer, r.latencies, r.snapBytes = pr.CPUNanos, pr.Latencies, pr.SnapshotBytes
	return r, nil
}
