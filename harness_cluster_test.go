package raft

// The in-memory cluster: RawNodes over MemoryStorage, with synchronous or
// asynchronous storage writes (Config.AsyncStorageWrites, per node), a FIFO
// network that can lose, rewrite and cut messages, and a Ready loop that
// follows the contract in doc.go (harness_ready_test.go). Nothing runs in the
// background: time passes only when a test calls tick, and messages move only
// when it calls deliver or stabilize. Every Ready is checked against the
// contract and every apply against State Machine Safety.

import (
	"bytes"
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"

	pb "github.com/pontoon-raft/raft/raftpb"
)

// member is one node of a cluster.
type member struct {
	id      uint64
	cfg     *Config
	rn      *RawNode
	storage *MemoryStorage
	// applied lists every committed entry the node applied, in order.
	applied []pb.Entry
	// appliedIndex is the index of the last applied entry (or snapshot).
	appliedIndex uint64
	readStates   []ReadState
	// lastHardState is the HardState last persisted.
	lastHardState pb.HardState
	// With AsyncStorageWrites: the work handed to the local threads, oldest
	// first, and the log as storage will hold it once appendWork is done.
	appendWork, applyWork []pb.Message
	written               writtenLog
}

func (n *member) raft() *raft { return n.rn.raft }

// appliedData returns the payloads of the normal entries applied, as strings.
func (n *member) appliedData() []string { return payloads(n.applied) }

// writtenLog tracks index -> term of a log as a sequence of writes leaves
// it, to catch an entry handed out for writing twice.
type writtenLog struct {
	last  uint64
	terms map[uint64]uint64
}

func writtenLogOf(t testing.TB, s *MemoryStorage) writtenLog {
	first, err := s.FirstIndex()
	require.NoError(t, err)
	last, err := s.LastIndex()
	require.NoError(t, err)
	w := writtenLog{last: last, terms: map[uint64]uint64{}}
	for i := first - 1; i <= last; i++ {
		term, err := s.Term(i)
		require.NoError(t, err)
		w.terms[i] = term
	}
	return w
}

// add records the write m (a MsgStorageAppend), checking first that it
// rewrites no entry an earlier write of the same node already holds:
// replacing an entry by another is fine, writing the same one again is not.
func (w *writtenLog) add(t testing.TB, id uint64, m pb.Message) {
	t.Helper()
	if m.Snapshot != nil && !IsEmptySnap(*m.Snapshot) {
		w.terms = map[uint64]uint64{m.Snapshot.Metadata.Index: m.Snapshot.Metadata.Term}
		w.last = m.Snapshot.Metadata.Index
	}
	if len(m.Entries) == 0 {
		return
	}
	e := m.Entries[0]
	require.LessOrEqual(t, e.Index, w.last+1, "node %d: gap before written entries", id)
	term, ok := w.terms[e.Index]
	require.False(t, ok && term == e.Term, "node %d: entry (%d, %d) handed out for writing twice", id, e.Index, e.Term)
	for i := e.Index; i <= w.last; i++ {
		delete(w.terms, i)
	}
	for _, e := range m.Entries {
		w.terms[e.Index] = e.Term
	}
	w.last = m.Entries[len(m.Entries)-1].Index
}

// cluster is the in-memory cluster.
type cluster struct {
	t     testing.TB
	ids   []uint64
	nodes map[uint64]*member

	// queue holds messages sent and not yet delivered, in send order.
	queue []pb.Message
	// cut holds directed links (from, to) that lose every message.
	cut map[[2]uint64]bool
	// filter, if set, sees every message entering the network; it may
	// rewrite it and returns false to drop it.
	filter func(m *pb.Message) bool
	// onReady, if set, sees every Ready before it is handled.
	onReady func(n *member, rd Ready)

	// sent counts messages entering the network by type (before cuts and
	// filters); dropped counts those lost to a cut or the filter.
	sent, dropped [messageTypeCount]int
	// record keeps every delivered message in delivered.
	record    bool
	delivered []pb.Message
	// stepErrs collects errors returned by Step for delivered messages
	// (e.g. ErrProposalDropped for a forwarded proposal).
	stepErrs []error

	// lazyStorage leaves the work of AsyncStorageWrites queued until the
	// test runs it (runSomeStorageWork, or stabilize), so writes and
	// applies lag behind the state machine as they do in a real node.
	lazyStorage bool

	// appliedAt is the first entry applied at each index by any node:
	// State Machine Safety is checked on every apply.
	appliedAt map[uint64]pb.Entry
}

// newCluster starts n voters with empty logs. opts adjust every node's
// Config before it starts.
func newCluster(t testing.TB, n int, opts ...func(*Config)) *cluster {
	return newClusterWithConf(t, n, votersConf(idsUpTo(n)...), opts...)
}

// newClusterWithConf starts nodes 1..n with empty logs, all with the
// initial configuration cs. Nodes that cs does not list exist but are not
// members: they are the spare machines a test can add later.
func newClusterWithConf(t testing.TB, n int, cs pb.ConfState, opts ...func(*Config)) *cluster {
	storages := map[uint64]*MemoryStorage{}
	for _, id := range idsUpTo(n) {
		storages[id] = newTestStorage(cs, pb.HardState{})
	}
	return newClusterFromStorage(t, storages, opts...)
}

// newClusterFromStorage starts one node per storage (their contents were
// written by the test).
func newClusterFromStorage(t testing.TB, storages map[uint64]*MemoryStorage, opts ...func(*Config)) *cluster {
	t.Helper()
	c := &cluster{
		t:         t,
		nodes:     map[uint64]*member{},
		cut:       map[[2]uint64]bool{},
		appliedAt: map[uint64]pb.Entry{},
	}
	for id := uint64(1); len(c.ids) < len(storages); id++ {
		s, ok := storages[id]
		require.True(t, ok, "storages must be keyed 1..n")
		cfg := testConfig(id, s)
		for _, o := range opts {
			o(cfg)
		}
		rn, err := NewRawNode(cfg)
		require.NoError(t, err)
		hs, _, _ := s.InitialState()
		c.ids = append(c.ids, id)
		c.nodes[id] = &member{id: id, cfg: cfg, rn: rn, storage: s,
			appliedIndex: rn.raft.raftLog.applied, lastHardState: hs, written: writtenLogOf(t, s)}
	}
	return c
}

// newLeaderCluster returns an n-node cluster whose node 1 leads and has
// committed one proposal, "a", with the message counters reset.
func newLeaderCluster(t testing.TB, n int, opts ...func(*Config)) *cluster {
	t.Helper()
	c := newCluster(t, n, opts...)
	c.elect(1)
	require.NoError(t, c.propose(1, "a"))
	c.stabilize()
	c.resetCounters()
	return c
}

func (c *cluster) node(id uint64) *member { return c.nodes[id] }

// isolate cuts every link to and from id.
func (c *cluster) isolate(id uint64) {
	for _, other := range c.ids {
		if other != id {
			c.cut[[2]uint64{id, other}] = true
			c.cut[[2]uint64{other, id}] = true
		}
	}
}

// cutLink cuts the links between a and b, both ways.
func (c *cluster) cutLink(a, b uint64) {
	c.cut[[2]uint64{a, b}], c.cut[[2]uint64{b, a}] = true, true
}

// partition cuts every link between nodes of different groups.
func (c *cluster) partition(groups ...[]uint64) {
	group := map[uint64]int{}
	for g, ids := range groups {
		for _, id := range ids {
			group[id] = g
		}
	}
	for _, a := range c.ids {
		for _, b := range c.ids {
			if a != b && group[a] != group[b] {
				c.cut[[2]uint64{a, b}] = true
			}
		}
	}
}

// heal restores every link (the filter stays).
func (c *cluster) heal() { c.cut = map[[2]uint64]bool{} }

// resetCounters forgets message counts and recorded messages.
func (c *cluster) resetCounters() {
	c.sent, c.dropped = [messageTypeCount]int{}, [messageTypeCount]int{}
	c.delivered = nil
}

// send puts m on the network, unless a cut or the filter drops it.
func (c *cluster) send(m pb.Message) {
	c.t.Helper()
	require.False(c.t, IsLocalMsgTarget(m.To), "local message %s on the network", m.Type)
	// A forwarded MsgTransferLeader names the transferee in From, which may
	// be the leader it is addressed to.
	if m.Type != pb.MsgTransferLeader {
		require.NotEqual(c.t, m.From, m.To, "%s sent to self on the network", m.Type)
	}
	c.sent[m.Type]++
	// The filter sees every message, even one a cut is about to drop.
	keep := c.filter == nil || c.filter(&m)
	if _, ok := c.nodes[m.To]; !ok || !keep || c.cut[[2]uint64{m.From, m.To}] {
		c.drop(m)
		return
	}
	c.queue = append(c.queue, m)
}

// drop loses m. A lost snapshot is reported to its sender, as the Ready
// contract requires for every MsgSnap.
func (c *cluster) drop(m pb.Message) {
	c.dropped[m.Type]++
	if m.Type == pb.MsgSnap {
		c.nodes[m.From].rn.ReportSnapshot(m.To, SnapshotFailure)
	}
}

// takeQueued takes every message queued on the network off it, to be
// delivered later (or never) by the test.
func (c *cluster) takeQueued() []pb.Message {
	msgs := c.queue
	c.queue = nil
	return msgs
}

// deliver steps every queued message into its recipient, in send order. It
// reports whether there was anything to deliver.
func (c *cluster) deliver() bool {
	msgs := c.takeQueued()
	for _, m := range msgs {
		c.deliverOne(m)
	}
	return len(msgs) > 0
}

// deliverOne steps m into its recipient. A delivered snapshot is reported
// to its sender as finished.
func (c *cluster) deliverOne(m pb.Message) {
	if c.record {
		c.delivered = append(c.delivered, m)
	}
	if err := c.nodes[m.To].rn.Step(m); err != nil {
		c.stepErrs = append(c.stepErrs, fmt.Errorf("%s %d->%d: %w", m.Type, m.From, m.To, err))
	}
	if m.Type == pb.MsgSnap {
		c.nodes[m.From].rn.ReportSnapshot(m.To, SnapshotFinish)
	}
}

// stepOrFail steps m into its recipient, failing the test on an error.
func (c *cluster) stepOrFail(m pb.Message) {
	c.t.Helper()
	require.NoError(c.t, c.node(m.To).rn.Step(m), "stepping %s", DescribeMessage(m, nil))
}

// maxStabilizeRounds bounds stabilize: a cluster that is still busy after
// this many Ready-and-deliver rounds is livelocked.
const maxStabilizeRounds = 10000

// stabilize alternates Ready handling, storage work and delivery until
// nothing is left to do. No time passes.
func (c *cluster) stabilize() {
	c.t.Helper()
	for i := 0; i < maxStabilizeRounds; i++ {
		readys := c.processReadys()
		stored := c.runAllStorageWork()
		delivered := c.deliver()
		if !readys && !stored && !delivered {
			return
		}
	}
	c.t.Fatalf("cluster did not stabilize within %d rounds", maxStabilizeRounds)
}

// stabilizeHolding runs c like stabilize, except that every message to node
// held is taken off the network instead of delivered; it returns them in
// send order. Nothing is reported for a held MsgSnap.
func (c *cluster) stabilizeHolding(held uint64) []pb.Message {
	c.t.Helper()
	var out []pb.Message
	for i := 0; i < maxStabilizeRounds; i++ {
		readys := c.processReadys()
		msgs := c.takeQueued()
		for _, m := range msgs {
			if m.To == held {
				out = append(out, m)
			} else {
				c.deliverOne(m)
			}
		}
		if !readys && len(msgs) == 0 {
			return out
		}
	}
	c.t.Fatalf("cluster did not stabilize within %d rounds", maxStabilizeRounds)
	return nil
}

// tick advances the clock of the given nodes by one tick, without
// stabilizing.
func (c *cluster) tick(ids ...uint64) {
	for _, id := range ids {
		c.nodes[id].rn.Tick()
	}
}

// tickAll ticks every node n times, stabilizing after each tick.
func (c *cluster) tickAll(n int) {
	c.t.Helper()
	for i := 0; i < n; i++ {
		c.tick(c.ids...)
		c.stabilize()
	}
}

// tickNode ticks only node id, n times, stabilizing after each tick: a
// leader sends heartbeats and catches followers up, while nobody else's
// election clock moves.
func (c *cluster) tickNode(id uint64, n int) {
	c.t.Helper()
	for i := 0; i < n; i++ {
		c.tick(id)
		c.stabilize()
	}
}

// campaign makes id campaign and stabilizes.
func (c *cluster) campaign(id uint64) {
	c.t.Helper()
	require.NoError(c.t, c.nodes[id].rn.Campaign())
	c.stabilize()
}

// elect makes id campaign and requires that it wins.
func (c *cluster) elect(id uint64) {
	c.t.Helper()
	c.campaign(id)
	require.Equal(c.t, StateLeader, c.nodes[id].raft().state, "node %d should have won the election", id)
}

// propose proposes data on node id.
func (c *cluster) propose(id uint64, data string) error {
	return c.nodes[id].rn.Propose([]byte(data))
}

// proposeConfChange proposes cc on node id (which must accept it) and
// returns the entry it appended.
func (c *cluster) proposeConfChange(id uint64, cc pb.ConfChangeI) pb.Entry {
	c.t.Helper()
	require.NoError(c.t, c.node(id).rn.ProposeConfChange(cc))
	return c.lastEntry(id)
}

// leaders returns the nodes that believe they lead, in id order.
func (c *cluster) leaders() []uint64 {
	var out []uint64
	for _, id := range c.ids {
		if c.nodes[id].raft().state == StateLeader {
			out = append(out, id)
		}
	}
	return out
}

// committed is node id's commit index.
func (c *cluster) committed(id uint64) uint64 { return c.node(id).raft().raftLog.committed }

// maxCommitted returns the highest commit index of any node: every entry up
// to it is committed in the cluster.
func (c *cluster) maxCommitted() uint64 {
	var m uint64
	for _, id := range c.ids {
		m = max(m, c.committed(id))
	}
	return m
}

// takeReadStates returns and clears the read states node id received.
func (c *cluster) takeReadStates(id uint64) []ReadState {
	n := c.nodes[id]
	rs := n.readStates
	n.readStates = nil
	return rs
}

// logOf returns every entry in node id's log.
func (c *cluster) logOf(id uint64) []pb.Entry {
	return c.nodes[id].raft().raftLog.allEntries()
}

// lastEntry returns the last entry of node id's log.
func (c *cluster) lastEntry(id uint64) pb.Entry {
	c.t.Helper()
	ents := c.logOf(id)
	require.NotEmpty(c.t, ents)
	return ents[len(ents)-1]
}

// entryAt returns the entry at index in node id's log.
func (c *cluster) entryAt(id, index uint64) pb.Entry {
	c.t.Helper()
	ents, err := c.node(id).raft().raftLog.slice(index, index+1, noLimit)
	require.NoError(c.t, err)
	require.Len(c.t, ents, 1)
	return ents[0]
}

// requireSameLogs checks that every node in ids has the same log, entry by
// entry (index, term and data).
func (c *cluster) requireSameLogs(ids ...uint64) {
	c.t.Helper()
	want := c.logOf(ids[0])
	for _, id := range ids[1:] {
		got := c.logOf(id)
		require.Equal(c.t, len(want), len(got), "log length of %d vs %d", ids[0], id)
		for i := range want {
			require.True(c.t, want[i].Index == got[i].Index && want[i].Term == got[i].Term &&
				bytes.Equal(want[i].Data, got[i].Data),
				"logs of %d and %d differ at index %d: %v vs %v", ids[0], id, want[i].Index, want[i], got[i])
		}
	}
}

// requireConf checks the configuration of every node in ids.
func (c *cluster) requireConf(want pb.ConfState, ids ...uint64) {
	c.t.Helper()
	for _, id := range ids {
		require.Equal(c.t, want, c.node(id).raft().trk.ConfState(), "configuration of node %d", id)
	}
}

// requireApplied checks that every node in ids applied the proposal data.
func (c *cluster) requireApplied(data string, ids ...uint64) {
	c.t.Helper()
	for _, id := range ids {
		require.Contains(c.t, c.node(id).appliedData(), data, "node %d", id)
	}
}

// confChangeV2 builds a ConfChangeV2 from the token form of
// ConfChangesFromString ("v4 l5 r2").
func confChangeV2(t testing.TB, tr pb.ConfChangeTransition, changes string) pb.ConfChangeV2 {
	t.Helper()
	ccs, err := pb.ConfChangesFromString(changes)
	require.NoError(t, err)
	return pb.ConfChangeV2{Transition: tr, Changes: ccs}
}
