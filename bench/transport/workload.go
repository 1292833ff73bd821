package main

import (
	"encoding/binary"
	"fmt"
	"io"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	pb "github.com/pontoon-raft/raft/raftpb"
	"github.com/pontoon-raft/raft/transport"
)

// The workloads.
const (
	modeThroughput = "throughput" // MsgApps of one 128 B entry, batches of 1..64, answered one by one
	modeIdle       = "latency-idle"
	modeSnapshot   = "latency-snapshot" // heartbeats while 64 MiB snapshots stream back to back
	// modeUnbounded is modeSnapshot with package transport's
	// SnapshotBytesPerSecond off; the baseline has no such bound.
	modeUnbounded = "latency-snapshot-unbounded"
)

// appender is the parent's side of the throughput workload: it sends
// MsgApps as a Raft host of many groups produces them, and counts the
// MsgAppResps that come back.
type appender struct {
	acked atomic.Int64
	wake  chan struct{}
}

func newAppender() *appender { return &appender{wake: make(chan struct{}, 1)} }

// onMessages counts answers; it runs on the transport's goroutines.
func (a *appender) onMessages(msgs []transport.GroupMessage) {
	n := 0
	for i := range msgs {
		if msgs[i].Message.Type == pb.MsgAppResp {
			n++
		}
	}
	a.acked.Add(int64(n))
	select {
	case a.wake <- struct{}{}:
	default:
	}
}

// run sends total MsgApps in batches of 1..maxBatch messages of random
// groups, keeping at most window unanswered, and returns when all are
// answered. dropped counts messages a transport dropped, which are never
// answered.
func (a *appender) run(ep endpoint, dropped *atomic.Int64, o options, seed uint64) error {
	r := rand.New(rand.NewPCG(seed, 7))
	index := make([]uint64, o.groups)
	data := make([]byte, o.payloadBytes)
	batch := make([]transport.GroupMessage, 0, o.maxBatch)
	base := a.acked.Load()
	settled := func() int64 { return a.acked.Load() - base + dropped.Load() }
	wait := func(until func() bool) error {
		for !until() {
			select {
			case <-a.wake:
			case <-time.After(10 * time.Second):
				return fmt.Errorf("stalled: %d answered or dropped", settled())
			}
		}
		return nil
	}
	for sent := 0; sent < o.messages; {
		k := min(1+r.IntN(o.maxBatch), o.messages-sent)
		if err := wait(func() bool { return int64(sent+k)-settled() <= int64(o.window) }); err != nil {
			return err
		}
		batch = batch[:0]
		for i := 0; i < k; i++ {
			g := r.IntN(o.groups)
			index[g]++
			idx := index[g]
			batch = append(batch, transport.GroupMessage{Group: uint64(g + 1), Message: pb.Message{
				Type: pb.MsgApp, From: 1, To: 2, Term: 1, LogTerm: 1, Index: idx - 1, Commit: idx - 1,
				Entries: []pb.Entry{{Term: 1, Index: idx, Data: data}},
			}})
		}
		ep.send(batch)
		sent += k
	}
	if err := wait(func() bool { return settled() >= int64(o.messages) }); err != nil {
		return err
	}
	if d := dropped.Load(); d > 0 {
		return fmt.Errorf("%d messages dropped", d)
	}
	return nil
}

// responder is the peer's side of the throughput workload: it answers
// every MsgApp with a MsgAppResp, batching the answers of whatever arrived
// since its last send, as a Raft host's Ready loop does.
type responder struct {
	ep       endpoint
	mu       sync.Mutex
	pending  []transport.GroupMessage
	wake     chan struct{}
	received atomic.Int64
}

func newResponder() *responder { return &responder{wake: make(chan struct{}, 1)} }

func (r *responder) onMessages(msgs []transport.GroupMessage) {
	r.mu.Lock()
	for i := range msgs {
		m := &msgs[i].Message
		switch m.Type {
		case pb.MsgApp:
			r.pending = append(r.pending, transport.GroupMessage{Group: msgs[i].Group, Message: pb.Message{
				Type: pb.MsgAppResp, From: 2, To: 1, Term: 1, Index: m.Index + uint64(len(m.Entries)),
			}})
		case pb.MsgHeartbeat:
			r.pending = append(r.pending, transport.GroupMessage{Group: msgs[i].Group, Message: pb.Message{
				Type: pb.MsgHeartbeatResp, From: 2, To: 1, Term: 1,
			}})
		}
	}
	r.mu.Unlock()
	r.received.Add(int64(len(msgs)))
	select {
	case r.wake <- struct{}{}:
	default:
	}
}

// loop sends the pending answers until done is closed.
func (r *responder) loop(done <-chan struct{}) {
	var spare []transport.GroupMessage
	for {
		select {
		case <-r.wake:
		case <-done:
			return
		}
		r.mu.Lock()
		batch := r.pending
		r.pending = spare[:0]
		r.mu.Unlock()
		if len(batch) > 0 {
			r.ep.send(batch)
		}
		clear(batch)
		spare = batch
	}
}

// heartbeats is the parent's side of the latency workloads: one heartbeat
// per millisecond, carrying its send time for the peer to measure the
// delivery latency, and optionally snapshots streaming back to back.
func heartbeats(ep endpoint, ev *events, o options, withSnapshots bool) error {
	stop := make(chan struct{})
	var wg sync.WaitGroup
	var snapErr error
	if withSnapshots {
		done := make(chan error, 1)
		ev.snapshotDone = func(err error) { done <- err }
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := uint64(1); ; i++ {
				m := pb.Message{Type: pb.MsgSnap, From: 1, To: 2, Term: 1, Snapshot: &pb.Snapshot{
					Data: []byte("benchmark snapshot"), Metadata: pb.SnapshotMetadata{Index: i, Term: 1, ConfState: pb.ConfState{Voters: []uint64{1, 2}}},
				}}
				ep.sendSnapshot(1, m, o.snapshotBytes, &patternBody{size: o.snapshotBytes})
				select {
				case err := <-done:
					if err != nil {
						snapErr = err
						return
					}
				case <-stop:
					return
				}
			}
		}()
	}
	tick := time.NewTicker(time.Millisecond)
	deadline := time.After(o.latencyDuration)
	var ctx [8]byte
loop:
	for {
		select {
		case <-tick.C:
			binary.BigEndian.PutUint64(ctx[:], uint64(time.Now().UnixNano()))
			ep.send([]transport.GroupMessage{{Group: 1, Message: pb.Message{
				Type: pb.MsgHeartbeat, From: 1, To: 2, Term: 1, Context: append([]byte(nil), ctx[:]...),
			}}})
		case <-deadline:
			break loop
		}
	}
	tick.Stop()
	close(stop)
	wg.Wait()
	if snapErr != nil {
		return fmt.Errorf("snapshot failed: %w", snapErr)
	}
	return nil
}

// latencies is the peer's side: it records when heartbeats arrive.
type latencies struct {
	mu            sync.Mutex
	recording     bool
	samples       []time.Duration
	snapshotBytes int64 // snapshot body bytes received while recording
}

func (l *latencies) onMessages(msgs []transport.GroupMessage) {
	now := time.Now().UnixNano()
	l.mu.Lock()
	defer l.mu.Unlock()
	if !l.recording {
		return
	}
	for i := range msgs {
		m := &msgs[i].Message
		if m.Type == pb.MsgHeartbeat && len(m.Context) == 8 {
			l.samples = append(l.samples, time.Duration(now-int64(binary.BigEndian.Uint64(m.Context))))
		}
		if m.Type == pb.MsgSnap && m.Snapshot != nil {
			l.snapshotBytes += int64(len(m.Snapshot.Data)) // the baseline's body is in the message
		}
	}
}

// onSnapshotBytes counts body bytes that package transport streamed into
// a sink.
func (l *latencies) onSnapshotBytes(n int) {
	l.mu.Lock()
	if l.recording {
		l.snapshotBytes += int64(n)
	}
	l.mu.Unlock()
}

// patternBody is a snapshot body generated on the fly from a fixed block,
// so producing it costs a memory copy, as reading a file from the page
// cache would.
type patternBody struct{ size, off int64 }

var pattern = func() []byte {
	b := make([]byte, 1<<20)
	for i := range b {
		b[i] = byte(i * 7)
	}
	return b
}()

func (b *patternBody) Read(p []byte) (int, error) {
	if b.off == b.size {
		return 0, io.EOF
	}
	p = p[:min(int64(len(p)), b.size-b.off)]
	n := 0
	for n < len(p) {
		n += copy(p[n:], pattern[(b.off+int64(n))%int64(len(pattern)):])
	}
	b.off += int64(n)
	return n, nil
}

func (b *patternBody) Close() error { return nil }
