package raft

// A cluster of RawNodes, synchronous and asynchronous, for the cluster tests
// of Config.AsyncStorageWrites in async_cluster_test.go.

import (
	"bytes"
	"fmt"
	"math/rand"
	"testing"

	"github.com/stretchr/testify/require"

	pb "github.com/pontoon-raft/raft/raftpb"
)

// atNode is a member of an atCluster.
type atNode struct {
	id      uint64
	cfg     *Config
	rn      *RawNode
	storage *MemoryStorage
	// appendQ and applyQ are the work queues of the local threads (async
	// nodes only), in order.
	appendQ, applyQ []pb.Message
	// view is the log as storage will hold it once appendQ is done.
	view atLogView
	// applied lists the applied entries, in order; appliedIndex is the
	// index of the last one (or of an installed snapshot).
	applied      []pb.Entry
	appliedIndex uint64
}

func (n *atNode) async() bool { return n.cfg.AsyncStorageWrites }

// appliedData returns the payloads of the applied normal entries.
func (n *atNode) appliedData() []string { return ctPayloads(n.applied) }

// atLogView tracks index -> term of a log as a sequence of writes leaves
// it, to detect redundant writes.
type atLogView struct {
	last  uint64
	terms map[uint64]uint64
}

func atViewOf(t testing.TB, s *MemoryStorage) atLogView {
	first, err := s.FirstIndex()
	require.NoError(t, err)
	last, err := s.LastIndex()
	require.NoError(t, err)
	v := atLogView{last: last, terms: map[uint64]uint64{}}
	for i := first - 1; i <= last; i++ {
		term, err := s.Term(i)
		require.NoError(t, err)
		v.terms[i] = term
	}
	return v
}

// writeSnapshot applies a MsgStorageAppend's snapshot to the view.
func (v *atLogView) writeSnapshot(m pb.Message) {
	if m.Snapshot != nil && !IsEmptySnap(*m.Snapshot) {
		v.terms = map[uint64]uint64{m.Snapshot.Metadata.Index: m.Snapshot.Metadata.Term}
		v.last = m.Snapshot.Metadata.Index
	}
}

// writeEntries applies a MsgStorageAppend's entries to the view, as
// MemoryStorage does: they replace the suffix from their first index on.
func (v *atLogView) writeEntries(m pb.Message) {
	if len(m.Entries) == 0 {
		return
	}
	for i := m.Entries[0].Index; i <= v.last; i++ {
		delete(v.terms, i)
	}
	for _, e := range m.Entries {
		v.terms[e.Index] = e.Term
	}
	v.last = m.Entries[len(m.Entries)-1].Index
}

// atCluster is an in-memory cluster of synchronous and asynchronous nodes
// with a FIFO network. Nothing happens in the background.
type atCluster struct {
	t     testing.TB
	ids   []uint64
	nodes map[uint64]*atNode
	// queue holds messages in flight, in send order.
	queue []pb.Message
	// drop, if set, loses the messages it returns true for.
	drop func(m pb.Message) bool
	// appliedAt is the first entry applied at each index by any node
	// (State Machine Safety is checked on every apply).
	appliedAt map[uint64]pb.Entry
	// onAppend, if set, sees every MsgStorageAppend as it is queued.
	onAppend func(n *atNode, m pb.Message)
}

// atNewCluster starts len(async) voters with empty logs; async[i] says
// whether node i+1 uses AsyncStorageWrites.
func atNewCluster(t testing.TB, async ...bool) *atCluster {
	c := &atCluster{t: t, nodes: map[uint64]*atNode{}, appliedAt: map[uint64]pb.Entry{}}
	for i := range async {
		c.ids = append(c.ids, uint64(i+1))
	}
	for i, id := range c.ids {
		s := atStorage(t, c.ids, pb.HardState{})
		cfg := atConfig(id, s, async[i])
		rn, err := NewRawNode(cfg)
		require.NoError(t, err)
		c.nodes[id] = &atNode{id: id, cfg: cfg, rn: rn, storage: s, view: atViewOf(t, s)}
	}
	return c
}

func (c *atCluster) node(id uint64) *atNode { return c.nodes[id] }

// send puts m on the network unless drop says otherwise.
func (c *atCluster) send(m pb.Message) {
	c.t.Helper()
	require.False(c.t, IsLocalMsgTarget(m.To), "local message %s on the network", m.Type)
	if c.drop != nil && c.drop(m) {
		return
	}
	c.queue = append(c.queue, m)
}

// deliver steps every message in flight into its recipient. It reports
// whether there were any.
func (c *atCluster) deliver() bool {
	msgs := c.queue
	c.queue = nil
	for _, m := range msgs {
		_ = c.nodes[m.To].rn.Step(m) // forwarded proposals may be dropped
		if m.Type == pb.MsgSnap {
			c.nodes[m.From].rn.ReportSnapshot(m.To, SnapshotFinish)
		}
	}
	return len(msgs) > 0
}

// handleReady takes one Ready from n. A synchronous node persists, sends,
// applies and advances; an asynchronous one queues its storage work and
// sends the rest at once.
func (c *atCluster) handleReady(n *atNode) {
	c.t.Helper()
	rd := n.rn.Ready()
	if !n.async() {
		atPersist(c.t, n.storage, pb.Message{Type: pb.MsgStorageAppend, Entries: rd.Entries, Snapshot: &rd.Snapshot,
			Term: rd.Term, Vote: rd.Vote, Commit: rd.Commit})
		atCheckDurable(c.t, n.id, n.storage, rd.Messages)
		for _, m := range rd.Messages {
			c.send(m)
		}
		if !IsEmptySnap(rd.Snapshot) {
			n.appliedIndex = rd.Snapshot.Metadata.Index
		}
		c.apply(n, rd.CommittedEntries)
		n.rn.Advance(rd)
		return
	}
	app, apply, peers := atCheckAsyncReady(c.t, n.id, rd)
	for _, m := range peers {
		c.send(m)
	}
	if app != nil {
		n.view.writeSnapshot(*app)
		if len(app.Entries) > 0 {
			// An entry is never handed out for writing again while an
			// earlier write of it stands; replacing it is another matter.
			e := app.Entries[0]
			require.LessOrEqual(c.t, e.Index, n.view.last+1, "node %d: gap before written entries", n.id)
			term, ok := n.view.terms[e.Index]
			require.False(c.t, ok && term == e.Term, "node %d: entry (%d, %d) handed out for writing twice", n.id, e.Index, e.Term)
		}
		n.view.writeEntries(*app)
		if c.onAppend != nil {
			c.onAppend(n, *app)
		}
		n.appendQ = append(n.appendQ, *app)
	}
	if apply != nil {
		// Committed entries go to the apply thread only once durable here.
		for _, e := range apply.Entries {
			term, err := n.storage.Term(e.Index)
			require.NoError(c.t, err, "node %d: entry %d handed to apply before it is durable", n.id, e.Index)
			require.Equal(c.t, e.Term, term, "node %d: entry %d handed to apply before it is durable", n.id, e.Index)
		}
		n.applyQ = append(n.applyQ, *apply)
	}
}

// runLocal lets n's append thread do up to appends writes and its apply
// thread up to applies batches (negative: all), delivering the responses.
// It reports whether there was anything to do.
func (c *atCluster) runLocal(n *atNode, appends, applies int) bool {
	c.t.Helper()
	if appends < 0 || appends > len(n.appendQ) {
		appends = len(n.appendQ)
	}
	if applies < 0 || applies > len(n.applyQ) {
		applies = len(n.applyQ)
	}
	did := appends > 0 || applies > 0
	for ; appends > 0; appends-- {
		m := n.appendQ[0]
		n.appendQ = n.appendQ[1:]
		if m.Snapshot != nil && !IsEmptySnap(*m.Snapshot) {
			n.appliedIndex = max(n.appliedIndex, m.Snapshot.Metadata.Index)
		}
		for _, out := range atRunAppend(c.t, n.rn, n.storage, m) {
			c.send(out)
		}
	}
	for ; applies > 0; applies-- {
		m := n.applyQ[0]
		n.applyQ = n.applyQ[1:]
		c.apply(n, m.Entries)
		atStepResponses(c.t, n.rn, m.Responses)
	}
	return did
}

// apply applies ents on n, checking State Machine Safety and order.
func (c *atCluster) apply(n *atNode, ents []pb.Entry) {
	c.t.Helper()
	for _, e := range ents {
		if prev, ok := c.appliedAt[e.Index]; ok {
			require.True(c.t, prev.Term == e.Term && bytes.Equal(prev.Data, e.Data),
				"State Machine Safety: index %d applied as %v and %v", e.Index, prev, e)
		} else {
			c.appliedAt[e.Index] = e
		}
		if e.Index <= n.appliedIndex {
			// A snapshot installed by the append thread already covers it.
			require.True(c.t, n.async(), "node %d applies %d twice", n.id, e.Index)
			continue
		}
		require.Equal(c.t, n.appliedIndex+1, e.Index, "node %d applies out of order", n.id)
		n.appliedIndex = e.Index
		n.applied = append(n.applied, e)
	}
}

// processReadys handles Readys until no node has one; it reports whether
// any had.
func (c *atCluster) processReadys() bool {
	busy := false
	for _, id := range c.ids {
		for n := c.nodes[id]; n.rn.HasReady(); {
			c.handleReady(n)
			busy = true
		}
	}
	return busy
}

// stabilize handles Readys, runs the local threads and delivers messages
// until nothing is left.
func (c *atCluster) stabilize() {
	c.t.Helper()
	for i := 0; i < 10000; i++ {
		busy := c.processReadys()
		for _, id := range c.ids {
			n := c.nodes[id]
			if len(n.appendQ)+len(n.applyQ) > 0 {
				c.runLocal(n, -1, -1)
				busy = true
			}
		}
		if !c.deliver() && !busy {
			return
		}
	}
	c.t.Fatal("cluster did not stabilize")
}

// elect makes id campaign and requires that it wins.
func (c *atCluster) elect(id uint64) {
	c.t.Helper()
	require.NoError(c.t, c.nodes[id].rn.Campaign())
	c.stabilize()
	require.Equal(c.t, StateLeader, c.nodes[id].rn.raft.state, "node %d should have won", id)
}

// crash replaces node id by a fresh RawNode over its storage: the queued
// work of its local threads is lost, the state machine survives up to what
// storage has committed.
func (c *atCluster) crash(id uint64) {
	c.t.Helper()
	n := c.nodes[id]
	hs, _, err := n.storage.InitialState()
	require.NoError(c.t, err)
	snap, err := n.storage.Snapshot()
	require.NoError(c.t, err)
	n.appliedIndex = max(min(n.appliedIndex, hs.Commit), snap.Metadata.Index)
	for len(n.applied) > 0 && n.applied[len(n.applied)-1].Index > n.appliedIndex {
		n.applied = n.applied[:len(n.applied)-1]
	}
	cfg := *n.cfg
	cfg.Applied = n.appliedIndex
	cfg.Rand = rand.New(rand.NewSource(int64(id) + 100))
	rn, err := NewRawNode(&cfg)
	require.NoError(c.t, err)
	n.rn, n.appendQ, n.applyQ = rn, nil, nil
	n.view = atViewOf(c.t, n.storage)
}

// requireSameLogs checks that all nodes hold the same log and applied the
// same entries.
func (c *atCluster) requireSameLogs() {
	c.t.Helper()
	want := c.nodes[c.ids[0]].rn.raft.raftLog.allEntries()
	for _, id := range c.ids[1:] {
		got := c.nodes[id].rn.raft.raftLog.allEntries()
		require.Equal(c.t, len(want), len(got), "log lengths of 1 and %d", id)
		for i := range want {
			require.True(c.t, want[i].Index == got[i].Index && want[i].Term == got[i].Term && bytes.Equal(want[i].Data, got[i].Data),
				"logs of 1 and %d differ at %d: %v vs %v", id, want[i].Index, want[i], got[i])
		}
		require.Equal(c.t, c.nodes[c.ids[0]].appliedData(), c.nodes[id].appliedData(), "applied data of 1 and %d", id)
	}
}

// deliverRandomly delivers the messages in flight in a random order, losing
// some and keeping some for later.
func (c *atCluster) deliverRandomly(rng *rand.Rand) {
	msgs := c.queue
	c.queue = nil
	rng.Shuffle(len(msgs), func(i, j int) { msgs[i], msgs[j] = msgs[j], msgs[i] })
	for _, m := range msgs {
		switch p := rng.Intn(10); {
		case p == 0:
			if m.Type == pb.MsgSnap {
				c.nodes[m.From].rn.ReportSnapshot(m.To, SnapshotFailure)
			}
		case p == 1:
			c.queue = append(c.queue, m)
		default:
			_ = c.nodes[m.To].rn.Step(m)
			if m.Type == pb.MsgSnap {
				c.nodes[m.From].rn.ReportSnapshot(m.To, SnapshotFinish)
			}
		}
	}
}

// compact snapshots node id at what it has applied and durably committed,
// and drops the log up to there.
func (c *atCluster) compact(id uint64) {
	c.t.Helper()
	n := c.nodes[id]
	hs, _, err := n.storage.InitialState()
	require.NoError(c.t, err)
	index := min(n.appliedIndex, hs.Commit)
	first, err := n.storage.FirstIndex()
	require.NoError(c.t, err)
	if index < first {
		return
	}
	cs := n.rn.raft.trk.ConfState()
	_, err = n.storage.CreateSnapshot(index, &cs, []byte(fmt.Sprint("state@", index)))
	require.NoError(c.t, err)
	require.NoError(c.t, n.storage.Compact(index))
}
