package raft

import (
	"encoding/binary"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	pb "github.com/pontoon-raft/raft/raftpb"
)

// BenchmarkAsyncStorageWrites compares synchronous and asynchronous storage
// writes (Config.AsyncStorageWrites) on a three-node in-process cluster
// whose storage takes asyncBenchFsync per durable write.
//
// The model. Every node runs its Ready loop in a goroutine; the network is a
// set of unbounded mailboxes, so it adds no latency of its own. Storage is
// MemoryStorage plus a real time.Sleep(asyncBenchFsync) for each write that
// needs an fsync (entries, a snapshot, or a changed term or vote — a commit
// index alone does not, as with Ready.MustSync):
//   - sync: the Ready loop writes and sleeps before sending Messages and
//     calling Advance, so replication waits for the leader's disk, and the
//     leader's disk waits for the previous round;
//   - async: the Ready loop hands MsgStorageAppend to an append goroutine and
//     MsgStorageApply to an apply goroutine and sends everything else at
//     once. The append goroutine takes every write queued at once and syncs
//     them together (group commit, one sleep per batch), then delivers the
//     Responses in order. The leader's disk write overlaps with the
//     followers'.
//
// Both modes batch: whatever accumulates while a node sleeps goes into its
// next write. A real sleep rather than a simulated clock keeps the library's
// own CPU cost in the figures; with 1 ms per write that cost is small, so
// the figures are mostly the shape of the pipeline.
//
// Clients keep `inflight` proposals outstanding on the leader. One op is one
// proposal applied on the leader. Reported: proposals/s, and p50/p99 commit
// latency (from Propose to the entry reaching the leader's state machine,
// which is when a client could be answered), and fsyncs/op on the leader.
func BenchmarkAsyncStorageWrites(b *testing.B) {
	for _, async := range []bool{false, true} {
		for _, inflight := range []int{1, 16, 128} {
			mode := "sync"
			if async {
				mode = "async"
			}
			b.Run(fmt.Sprintf("%s/inflight=%d", mode, inflight), func(b *testing.B) {
				asyncBenchRun(b, async, inflight)
			})
		}
	}
}

// asyncBenchFsync is the simulated duration of one durable write.
const asyncBenchFsync = time.Millisecond

// asyncBenchMailbox is an unbounded FIFO queue that never blocks the sender.
type asyncBenchMailbox struct {
	mu   sync.Mutex
	msgs []pb.Message
	wake chan struct{} // capacity 1: "there is something to take"
}

func newAsyncBenchMailbox() *asyncBenchMailbox {
	return &asyncBenchMailbox{wake: make(chan struct{}, 1)}
}

func (mb *asyncBenchMailbox) put(msgs ...pb.Message) {
	if len(msgs) == 0 {
		return
	}
	mb.mu.Lock()
	mb.msgs = append(mb.msgs, msgs...)
	mb.mu.Unlock()
	select {
	case mb.wake <- struct{}{}:
	default:
	}
}

func (mb *asyncBenchMailbox) take() []pb.Message {
	mb.mu.Lock()
	defer mb.mu.Unlock()
	msgs := mb.msgs
	mb.msgs = nil
	return msgs
}

// asyncBenchNode is one node of the benchmark cluster.
type asyncBenchNode struct {
	id      uint64
	rn      *RawNode
	storage *MemoryStorage
	inbox   *asyncBenchMailbox
	// appendQ and applyQ feed the local threads (async mode).
	appendQ, applyQ *asyncBenchMailbox
	// fsyncs counts simulated fsyncs.
	fsyncs atomic.Int64
}

// asyncBenchCluster is the benchmark cluster and its measurements.
type asyncBenchCluster struct {
	nodes map[uint64]*asyncBenchNode
	done  chan struct{}
	wg    sync.WaitGroup

	// Written by the proposer before proposing; read by the leader's
	// applier (the mailboxes order the two).
	start []time.Time
	// Written by the leader's applier only.
	latency      []time.Duration
	appliedCount int
	inflight     chan struct{} // one token per outstanding proposal
	allDone      chan struct{} // closed when every proposal is applied
	elected      chan struct{} // closed when the leader applies its first entry
	electedO     sync.Once
}

// asyncBenchRun runs b.N proposals through a fresh cluster.
func asyncBenchRun(b *testing.B, async bool, inflight int) {
	ids := []uint64{1, 2, 3}
	c := &asyncBenchCluster{
		nodes:    map[uint64]*asyncBenchNode{},
		done:     make(chan struct{}),
		start:    make([]time.Time, b.N),
		latency:  make([]time.Duration, 0, b.N),
		inflight: make(chan struct{}, inflight),
		allDone:  make(chan struct{}),
		elected:  make(chan struct{}),
	}
	for _, id := range ids {
		s := newTestStorage(votersConf(ids...), pb.HardState{})
		cfg := testConfig(id, s)
		cfg.AsyncStorageWrites = async
		cfg.MaxInflightMsgs = 1024
		rn, err := NewRawNode(cfg)
		if err != nil {
			b.Fatal(err)
		}
		c.nodes[id] = &asyncBenchNode{id: id, rn: rn, storage: s, inbox: newAsyncBenchMailbox(),
			appendQ: newAsyncBenchMailbox(), applyQ: newAsyncBenchMailbox()}
	}
	for _, n := range c.nodes {
		c.wg.Add(1)
		go c.raftLoop(n)
		if async {
			c.wg.Add(2)
			go c.appendThread(n)
			go c.applyThread(n)
		}
	}
	defer func() {
		close(c.done)
		c.wg.Wait()
	}()

	// Node 1 campaigns; MsgHup in its inbox is the signal.
	leader := c.nodes[1]
	leader.inbox.put(pb.Message{Type: pb.MsgHup})
	select {
	case <-c.elected:
	case <-time.After(10 * time.Second):
		b.Fatal("no leader elected")
	}
	fsyncsBefore := leader.fsyncs.Load()

	b.ResetTimer()
	began := time.Now()
	for i := 0; i < b.N; i++ {
		c.inflight <- struct{}{}
		data := make([]byte, 8)
		binary.BigEndian.PutUint64(data, uint64(i))
		c.start[i] = time.Now()
		leader.inbox.put(pb.Message{Type: pb.MsgProp, Entries: []pb.Entry{{Data: data}}})
	}
	select {
	case <-c.allDone:
	case <-time.After(time.Minute):
		b.Fatal("proposals did not all apply")
	}
	elapsed := time.Since(began)
	b.StopTimer()

	slices.Sort(c.latency)
	pct := func(p float64) float64 {
		return float64(c.latency[int(p*float64(len(c.latency)-1))].Microseconds()) / 1000
	}
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "proposals/s")
	b.ReportMetric(pct(0.50), "p50-ms")
	b.ReportMetric(pct(0.99), "p99-ms")
	b.ReportMetric(float64(leader.fsyncs.Load()-fsyncsBefore)/float64(b.N), "fsyncs/op")
}

// send delivers m to its recipient's inbox.
func (c *asyncBenchCluster) send(msgs ...pb.Message) {
	for _, m := range msgs {
		c.nodes[m.To].inbox.put(m)
	}
}

// raftLoop is node n's Ready loop, the only goroutine touching n.rn.
func (c *asyncBenchCluster) raftLoop(n *asyncBenchNode) {
	defer c.wg.Done()
	for {
		select {
		case <-c.done:
			return
		case <-n.inbox.wake:
		}
		for _, m := range n.inbox.take() {
			switch {
			case m.Type == pb.MsgHup:
				_ = n.rn.Campaign()
			case m.Type == pb.MsgProp:
				if err := n.rn.Propose(m.Entries[0].Data); err != nil {
					panic(fmt.Sprintf("proposal dropped: %v", err))
				}
			default:
				_ = n.rn.Step(m)
			}
		}
		for n.rn.HasReady() {
			rd := n.rn.Ready()
			if n.rn.asyncStorageWrites {
				for _, m := range rd.Messages {
					switch m.To {
					case LocalAppendThread:
						n.appendQ.put(m)
					case LocalApplyThread:
						n.applyQ.put(m)
					default:
						c.send(m)
					}
				}
				continue
			}
			prev, _, _ := n.storage.InitialState()
			if asyncBenchWrite(n.storage, rd.Snapshot, rd.Entries, rd.HardState, prev) {
				n.fsyncs.Add(1)
				time.Sleep(asyncBenchFsync)
			}
			c.send(rd.Messages...)
			c.applied(n, rd.CommittedEntries)
			n.rn.Advance(rd)
		}
	}
}

// appendThread is node n's append thread (async mode): it writes every
// queued MsgStorageAppend, syncs once for the batch, then delivers the
// responses in order.
func (c *asyncBenchCluster) appendThread(n *asyncBenchNode) {
	defer c.wg.Done()
	for {
		select {
		case <-c.done:
			return
		case <-n.appendQ.wake:
		}
		batch := n.appendQ.take()
		needSync := false
		for _, m := range batch {
			var snap pb.Snapshot
			if m.Snapshot != nil {
				snap = *m.Snapshot
			}
			prev, _, _ := n.storage.InitialState()
			hs := pb.HardState{Term: m.Term, Vote: m.Vote, Commit: m.Commit}
			needSync = asyncBenchWrite(n.storage, snap, m.Entries, hs, prev) || needSync
		}
		if needSync {
			n.fsyncs.Add(1)
			time.Sleep(asyncBenchFsync)
		}
		for _, m := range batch {
			for _, resp := range m.Responses {
				if resp.To == n.id {
					n.inbox.put(resp)
				} else {
					c.send(resp)
				}
			}
		}
	}
}

// applyThread is node n's apply thread (async mode).
func (c *asyncBenchCluster) applyThread(n *asyncBenchNode) {
	defer c.wg.Done()
	for {
		select {
		case <-c.done:
			return
		case <-n.applyQ.wake:
		}
		for _, m := range n.applyQ.take() {
			c.applied(n, m.Entries)
			n.inbox.put(m.Responses...)
		}
	}
}

// asyncBenchWrite writes to s and reports whether the write needs an fsync.
func asyncBenchWrite(s *MemoryStorage, snap pb.Snapshot, ents []pb.Entry, hs, prev pb.HardState) bool {
	sync := len(ents) > 0
	if !IsEmptySnap(snap) {
		if err := s.ApplySnapshot(snap); err != nil {
			panic(err)
		}
		sync = true
	}
	if err := s.Append(ents); err != nil {
		panic(err)
	}
	if !IsEmptyHardState(hs) {
		if err := s.SetHardState(hs); err != nil {
			panic(err)
		}
		sync = sync || hs.Term != prev.Term || hs.Vote != prev.Vote
	}
	return sync
}

// applied records the entries the leader applies. Other nodes apply
// nothing of interest here.
func (c *asyncBenchCluster) applied(n *asyncBenchNode, ents []pb.Entry) {
	if n.id != 1 || len(ents) == 0 {
		return
	}
	c.electedO.Do(func() { close(c.elected) })
	now := time.Now()
	for _, e := range ents {
		if len(e.Data) != 8 {
			continue
		}
		i := binary.BigEndian.Uint64(e.Data)
		c.latency = append(c.latency, now.Sub(c.start[i]))
		c.appliedCount++
		<-c.inflight
		if c.appliedCount == len(c.start) {
			close(c.allDone)
		}
	}
}
