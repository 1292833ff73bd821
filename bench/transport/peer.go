package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"slices"
	"syscall"
	"time"

	"github.com/pontoon-raft/raft/transport"
)

// peerResult is what the peer process reports when told to stop.
type peerResult struct {
	CPUNanos      int64           `json:"cpu_ns"` // user + system time between START and STOP
	Received      int64           `json:"received"`
	SnapshotBytes int64           `json:"snapshot_bytes"` // body bytes received between START and STOP
	Latencies     []time.Duration `json:"latencies_ns,omitempty"`
}

// cpuNanos returns the user plus system time this process has used.
func cpuNanos() int64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		panic(fmt.Sprintf("getrusage: %v", err))
	}
	return ru.Utime.Nano() + ru.Stime.Nano()
}

// runPeer is the re-executed process: node 2. It answers appends and
// heartbeats, records heartbeat latencies, and follows the parent's
// commands on stdin (START, STOP) with answers on stdout.
func runPeer(o options) error {
	resp := newResponder()
	lat := &latencies{}
	ev := &events{}
	ev.messages = func(msgs []transport.GroupMessage) {
		lat.onMessages(msgs)
		resp.onMessages(msgs)
	}
	ev.snapshotBytes = lat.onSnapshotBytes
	ep, err := newEndpoint(o.impl, 2, 1, o.peerAddr, o.tlsDir, o.snapshotRate, ev)
	if err != nil {
		return err
	}
	defer ep.close()
	resp.ep = ep
	done := make(chan struct{})
	defer close(done)
	go resp.loop(done)

	out := bufio.NewWriter(os.Stdout)
	say := func(format string, args ...any) {
		fmt.Fprintf(out, format+"\n", args...)
		out.Flush()
	}
	say("READY %s", ep.addr())
	in := bufio.NewScanner(os.Stdin)
	var cpu0, received0 int64
	for in.Scan() {
		switch in.Text() {
		case "START":
			lat.mu.Lock()
			lat.recording, lat.samples, lat.snapshotBytes = true, nil, 0
			lat.mu.Unlock()
			received0, cpu0 = resp.received.Load(), cpuNanos()
			say("STARTED")
		case "STOP":
			r := peerResult{CPUNanos: cpuNanos() - cpu0, Received: resp.received.Load() - received0}
			lat.mu.Lock()
			lat.recording = false
			r.Latencies = slices.Clone(lat.samples)
			r.SnapshotBytes = lat.snapshotBytes
			lat.mu.Unlock()
			b, err := json.Marshal(r)
			if err != nil {
				return err
			}
			say("RESULT %s", b)
		default:
			return fmt.Errorf("unknown command %q", in.Text())
		}
	}
	return in.Err()
}
