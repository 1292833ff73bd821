// Package bench measures Pontoon's RawNode against etcd/raft's RawNode with
// one harness. Both libraries run the same workloads in the same process:
// in-memory clusters of 1, 3 or 5 nodes, each node on its library's own
// MemoryStorage, all Ready loops driven from one goroutine, and messages
// handed from node to node as Go values (no encoding), in the same order.
//
// A run is deterministic in what it does: node 1 campaigns, the clock never
// ticks, and a fixed number of proposals of a fixed payload are made to the
// leader, keeping a fixed number in flight. Only the timings vary between
// runs, so the CPU time a run consumes (read from the kernel with getrusage)
// divided by its proposals is a figure that stays stable on a busy machine.
package bench

import (
	"errors"
	"fmt"
	"runtime"
	"slices"
	"syscall"
	"time"
)

// Library names a raft implementation under test.
type Library string

// The two implementations compared.
const (
	Ours Library = "ours"
	Etcd Library = "etcd"
)

// Libraries lists the implementations in the order runs alternate.
var Libraries = []Library{Ours, Etcd}

// Config knobs shared by both libraries, so that batching and flow control
// are the same on each side.
const (
	electionTicks       = 10
	heartbeatTicks      = 1
	maxSizePerMsgBytes  = 1 << 20
	maxCommittedBytes   = 1 << 20
	maxInflightMsgs     = 256
	compactEveryEntries = 8192
	keepEntries         = 1024
)

// Workload is one benchmark configuration. InFlight 1 is the sequential mode:
// a proposal is made only once the previous one is committed and applied on
// the leader.
type Workload struct {
	Nodes        int `json:"nodes"`
	PayloadBytes int `json:"payload_bytes"`
	InFlight     int `json:"in_flight"`
}

// Name is the workload's path in benchmark names, e.g. "3/128B/pipe64".
func (w Workload) Name() string {
	return fmt.Sprintf("%d/%s/%s", w.Nodes, payloadName(w.PayloadBytes), w.Mode())
}

// Mode is "seq" for one proposal in flight and "pipeN" for N.
func (w Workload) Mode() string {
	if w.InFlight <= 1 {
		return "seq"
	}
	return fmt.Sprintf("pipe%d", w.InFlight)
}

func payloadName(n int) string {
	if n%1024 == 0 {
		return fmt.Sprintf("%dKiB", n/1024)
	}
	return fmt.Sprintf("%dB", n)
}

// StandardWorkloads are the workloads of the comparison table: 1, 3 and 5
// nodes, 128 B and 1 KiB payloads, sequential and 64 or 1,024 in flight.
func StandardWorkloads() []Workload {
	var ws []Workload
	for _, nodes := range []int{1, 3, 5} {
		for _, payload := range []int{128, 1024} {
			for _, inFlight := range []int{1, 64, 1024} {
				ws = append(ws, Workload{Nodes: nodes, PayloadBytes: payload, InFlight: inFlight})
			}
		}
	}
	return ws
}

// ChartInFlight are the in-flight counts of the throughput chart, measured
// on 3 nodes with 128 B payloads.
var ChartInFlight = []int{1, 8, 64, 256, 1024}

// AllWorkloads are the standard workloads followed by the chart's in-flight
// counts that the standard set lacks.
func AllWorkloads() []Workload {
	ws := StandardWorkloads()
	for _, inFlight := range ChartInFlight {
		w := Workload{Nodes: 3, PayloadBytes: 128, InFlight: inFlight}
		if !slices.Contains(ws, w) {
			ws = append(ws, w)
		}
	}
	return ws
}

// Cluster is one library's in-memory cluster as the harness drives it.
// Implementations call the commit callback given to their constructor with
// the number of proposals that appeared in the leader's CommittedEntries,
// at the moment the leader's Ready handing them out is processed.
type Cluster interface {
	// Propose hands data to the leader.
	Propose(data []byte) error
	// Round lets every node, in ID order, handle its Readys until it has
	// none (persist, send, apply, Advance), then delivers every message
	// sent, in the order sent. It reports whether anything was sent.
	Round() (bool, error)
	// MessagesSent counts the messages taken from Readys so far.
	MessagesSent() uint64
	// Applied returns, per node, how many proposals it applied.
	Applied() []int
}

// newClusterFunc builds a cluster with an elected leader (node 1).
type newClusterFunc func(nodes int, onCommit func(n int)) (Cluster, error)

func newCluster(lib Library, nodes int, onCommit func(n int)) (Cluster, error) {
	switch lib {
	case Ours:
		c, err := newOursCluster(nodes, onCommit)
		if err != nil {
			return nil, err
		}
		return c, nil
	case Etcd:
		c, err := newEtcdCluster(nodes, onCommit)
		if err != nil {
			return nil, err
		}
		return c, nil
	}
	return nil, fmt.Errorf("bench: unknown library %q", lib)
}

// Result holds the figures of one run, all per committed proposal except
// the throughput and the totals.
type Result struct {
	Library   Library  `json:"library"`
	Workload  Workload `json:"workload"`
	Proposals int      `json:"proposals"`
	// ProposalsPerSec is committed proposals per second of wall time.
	ProposalsPerSec float64 `json:"proposals_per_sec"`
	// P50Latency and P99Latency are the commit latencies: from Propose to
	// the entry appearing in the leader's CommittedEntries.
	P50Latency time.Duration `json:"p50_latency_ns"`
	P99Latency time.Duration `json:"p99_latency_ns"`
	// AllocsPerOp and BytesPerOp are heap allocations per proposal.
	AllocsPerOp float64 `json:"allocs_per_op"`
	BytesPerOp  float64 `json:"bytes_per_op"`
	// MessagesPerOp are messages sent between nodes per proposal.
	MessagesPerOp float64 `json:"messages_per_op"`
	// CPUPerOp is the process's user+system CPU time per proposal.
	CPUPerOp time.Duration `json:"cpu_per_op_ns"`
}

// errStalled is returned when rounds stop making progress before every
// proposal committed.
var errStalled = errors.New("bench: cluster stalled before every proposal committed")

// Run measures proposals proposals of workload w on library lib. The
// cluster is built and its leader elected before measuring starts.
func Run(lib Library, w Workload, proposals int) (Result, error) {
	return run(func(nodes int, onCommit func(int)) (Cluster, error) {
		return newCluster(lib, nodes, onCommit)
	}, lib, w, proposals)
}

func run(newC newClusterFunc, lib Library, w Workload, proposals int) (Result, error) {
	if proposals <= 0 || w.Nodes <= 0 || w.InFlight <= 0 {
		return Result{}, fmt.Errorf("bench: invalid run %+v with %d proposals", w, proposals)
	}
	proposedAt := make([]int64, proposals)
	latencies := make([]int64, proposals)
	committed := 0
	onCommit := func(n int) {
		now := nanotime()
		for i := 0; i < n; i++ {
			latencies[committed] = now - proposedAt[committed]
			committed++
		}
	}
	c, err := newC(w.Nodes, onCommit)
	if err != nil {
		return Result{}, err
	}
	data := make([]byte, w.PayloadBytes)
	for i := range data {
		data[i] = byte(i)
	}

	runtime.GC()
	var memBefore, memAfter runtime.MemStats
	runtime.ReadMemStats(&memBefore)
	cpuBefore := cpuTime()
	msgsBefore := c.MessagesSent()
	start := nanotime()

	proposed := 0
	for committed < proposals {
		for proposed < proposals && proposed-committed < w.InFlight {
			proposedAt[proposed] = nanotime()
			if err := c.Propose(data); err != nil {
				return Result{}, fmt.Errorf("bench: proposal %d: %w", proposed, err)
			}
			proposed++
		}
		before := committed
		sent, err := c.Round()
		if err != nil {
			return Result{}, err
		}
		if !sent && committed == before {
			return Result{}, fmt.Errorf("%w: %d of %d", errStalled, committed, proposals)
		}
	}

	elapsed := nanotime() - start
	cpu := cpuTime() - cpuBefore
	msgs := c.MessagesSent() - msgsBefore
	runtime.ReadMemStats(&memAfter)

	// Let followers learn the final commit index, so callers can check
	// that every node applied everything; this is not measured.
	for {
		sent, err := c.Round()
		if err != nil {
			return Result{}, err
		}
		if !sent {
			break
		}
	}
	for id, applied := range c.Applied() {
		if applied != proposals {
			return Result{}, fmt.Errorf("bench: node %d applied %d of %d proposals", id+1, applied, proposals)
		}
	}

	slices.Sort(latencies)
	n := float64(proposals)
	return Result{
		Library:         lib,
		Workload:        w,
		Proposals:       proposals,
		ProposalsPerSec: n / (float64(elapsed) / 1e9),
		P50Latency:      time.Duration(percentile(latencies, 50)),
		P99Latency:      time.Duration(percentile(latencies, 99)),
		AllocsPerOp:     float64(memAfter.Mallocs-memBefore.Mallocs) / n,
		BytesPerOp:      float64(memAfter.TotalAlloc-memBefore.TotalAlloc) / n,
		MessagesPerOp:   float64(msgs) / n,
		CPUPerOp:        time.Duration(float64(cpu) / n),
	}, nil
}

// percentile returns the p-th percentile (nearest rank) of sorted values.
func percentile(sorted []int64, p int) int64 {
	if len(sorted) == 0 {
		return 0
	}
	rank := (len(sorted)*p + 99) / 100
	if rank < 1 {
		rank = 1
	}
	return sorted[rank-1]
}

// epoch anchors nanotime so that it reads Go's monotonic clock.
var epoch = time.Now()

func nanotime() int64 { return int64(time.Since(epoch)) }

// cpuTime is the user plus system CPU time the process has consumed, in
// nanoseconds, garbage collection included.
func cpuTime() int64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return ru.Utime.Nano() + ru.Stime.Nano()
}

// nopLogger discards everything except Fatal and Panic, which panic. Its
// method set matches both libraries' Logger interfaces.
type nopLogger struct{}

func (nopLogger) Debug(...interface{})              {}
func (nopLogger) Debugf(string, ...interface{})     {}
func (nopLogger) Error(...interface{})              {}
func (nopLogger) Errorf(string, ...interface{})     {}
func (nopLogger) Info(...interface{})               {}
func (nopLogger) Infof(string, ...interface{})      {}
func (nopLogger) Warning(...interface{})            {}
func (nopLogger) Warningf(string, ...interface{})   {}
func (nopLogger) Fatal(v ...interface{})            { panic(fmt.Sprint(v...)) }
func (nopLogger) Fatalf(f string, v ...interface{}) { panic(fmt.Sprintf(f, v...)) }
func (nopLogger) Panic(v ...interface{})            { panic(fmt.Sprint(v...)) }
func (nopLogger) Panicf(f string, v ...interface{}) { panic(fmt.Sprintf(f, v...)) }
