package raft

import (
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	pb "github.com/pontoon-raft/raft/raftpb"
)

// Tests of the RawNode API: Step's guards, the Ready/Advance contract,
// Bootstrap and restart. Status is in status_test.go, AsyncStorageWrites in
// async_test.go, reads in read_only_test.go.

// TestRawNodeStepGuards: local-only message types never come from the
// network, and responses only come from known peers (or local targets).
func TestRawNodeStepGuards(t *testing.T) {
	rn := newTestRawNode(t, 1, newTestStorage(votersConf(1, 2, 3), pb.HardState{}))
	for _, typ := range []pb.MessageType{pb.MsgHup, pb.MsgBeat, pb.MsgUnreachable, pb.MsgSnapStatus,
		pb.MsgCheckQuorum, pb.MsgStorageAppend, pb.MsgStorageAppendResp, pb.MsgStorageApply, pb.MsgStorageApplyResp} {
		assert.ErrorIs(t, rn.Step(pb.Message{Type: typ, From: 2, To: 1}), ErrStepLocalMsg, "%s", typ)
	}
	for _, typ := range []pb.MessageType{pb.MsgAppResp, pb.MsgVoteResp, pb.MsgHeartbeatResp,
		pb.MsgReadIndexResp, pb.MsgPreVoteResp} {
		assert.ErrorIs(t, rn.Step(pb.Message{Type: typ, From: 42, To: 1}), ErrStepPeerNotFound, "%s", typ)
		assert.ErrorIs(t, rn.Step(pb.Message{Type: typ, From: 2, To: 1}), ErrMalformedMessage, "%s without a term", typ)
		assert.NoError(t, rn.Step(pb.Message{Type: typ, From: 2, To: 1, Term: 1}), "%s from a member", typ)
	}
	// Only acknowledgements of its own writes come from the node itself.
	for _, typ := range []pb.MessageType{pb.MsgApp, pb.MsgHeartbeat, pb.MsgHeartbeatResp, pb.MsgVote, pb.MsgSnap, pb.MsgTimeoutNow, pb.MsgReadIndexResp} {
		assert.ErrorIs(t, rn.Step(pb.Message{Type: typ, From: 1, To: 1, Term: 5}), ErrMalformedMessage, "%s from itself", typ)
	}
	// Messages a node only sends with its term are refused without one.
	for _, typ := range []pb.MessageType{pb.MsgApp, pb.MsgVote, pb.MsgPreVote, pb.MsgSnap, pb.MsgHeartbeat, pb.MsgTimeoutNow} {
		assert.ErrorIs(t, rn.Step(pb.Message{Type: typ, From: 2, To: 1}), ErrMalformedMessage, "%s", typ)
	}
	// Requests from unknown nodes are the state machine's business.
	assert.NoError(t, rn.Step(pb.Message{Type: pb.MsgHeartbeat, From: 42, To: 1, Term: 1}))
	assert.Equal(t, uint64(42), rn.BasicStatus().Lead)
	// MsgForgetLeader is not a local type: an application may relay it.
	assert.NoError(t, rn.Step(pb.Message{Type: pb.MsgForgetLeader, From: 2, To: 1}))
	assert.Equal(t, None, rn.BasicStatus().Lead)
}

// TestRawNodeSingleNodeCycle walks a single-voter node through the Ready
// contract batch by batch: its own vote and its own copy of an entry count
// only at Advance, so each step takes one Ready cycle; HardState and Entries
// are reported exactly once.
func TestRawNodeSingleNodeCycle(t *testing.T) {
	s := newTestStorage(votersConf(1), pb.HardState{})
	rn := newTestRawNode(t, 1, s)
	require.False(t, rn.HasReady())

	require.NoError(t, rn.Campaign())
	rd := readyCycle(t, rn, s)
	assert.Equal(t, &SoftState{RaftState: StateCandidate}, rd.SoftState)
	assert.Equal(t, pb.HardState{Term: 1, Vote: 1}, rd.HardState)
	assert.True(t, rd.MustSync)
	assert.Empty(t, rd.Messages, "the vote for ourselves is stepped on Advance, not sent")
	assert.Empty(t, rd.Entries)

	// Advance counted our vote: leader, with the empty entry to persist.
	rd = readyCycle(t, rn, s)
	assert.Equal(t, &SoftState{Lead: 1, RaftState: StateLeader}, rd.SoftState)
	assert.True(t, IsEmptyHardState(rd.HardState), "unchanged HardState is not repeated")
	assert.Equal(t, []pb.Entry{{Term: 1, Index: 1}}, rd.Entries)
	assert.Empty(t, rd.CommittedEntries, "not durable when handed out: cannot be committed yet")
	assert.True(t, rd.MustSync)

	// Advance acknowledged the entry: committed.
	rd = readyCycle(t, rn, s)
	assert.Nil(t, rd.SoftState)
	assert.Equal(t, pb.HardState{Term: 1, Vote: 1, Commit: 1}, rd.HardState)
	assert.Empty(t, rd.Entries, "entries are handed out once")
	assert.Equal(t, []pb.Entry{{Term: 1, Index: 1}}, rd.CommittedEntries)
	assert.False(t, rd.MustSync, "a commit index change alone needs no fsync")
	assert.False(t, rn.HasReady())

	require.NoError(t, rn.Propose([]byte("x")))
	rd = readyCycle(t, rn, s)
	assert.Equal(t, []pb.Entry{{Term: 1, Index: 2, Data: []byte("x")}}, rd.Entries)
	assert.Empty(t, rd.CommittedEntries)
	rd = readyCycle(t, rn, s)
	assert.Empty(t, rd.Entries)
	assert.Equal(t, []pb.Entry{{Term: 1, Index: 2, Data: []byte("x")}}, rd.CommittedEntries)
	assert.Equal(t, uint64(2), rd.Commit)
	assert.False(t, rn.HasReady())
	st := rn.BasicStatus()
	assert.Equal(t, uint64(2), st.Applied)
	assert.Equal(t, uint64(2), st.Commit)

	// Taking a second Ready before Advance would lose acknowledgements.
	require.NoError(t, rn.Propose([]byte("y")))
	rn.Ready()
	require.NoError(t, rn.Propose([]byte("z")))
	assert.Panics(t, func() { rn.Ready() })
}

// TestRawNodeDurableMessagesTravelWithState: a vote grant or an append
// acknowledgement is released in the same Ready as the HardState or entries
// it attests, never earlier, so persisting a Ready before sending its
// messages is enough (paper §5.1).
func TestRawNodeDurableMessagesTravelWithState(t *testing.T) {
	s := newTestStorage(votersConf(1, 2, 3), pb.HardState{})
	rn := newTestRawNode(t, 2, s)

	require.NoError(t, rn.Step(pb.Message{Type: pb.MsgVote, From: 1, To: 2, Term: 1}))
	rd := readyCycle(t, rn, s)
	assert.Equal(t, pb.HardState{Term: 1, Vote: 1}, rd.HardState)
	assert.True(t, rd.MustSync)
	assert.Equal(t, []pb.Message{{Type: pb.MsgVoteResp, From: 2, To: 1, Term: 1}}, rd.Messages)

	ents := []pb.Entry{{Term: 1, Index: 1}, {Term: 1, Index: 2, Data: []byte("a")}}
	require.NoError(t, rn.Step(pb.Message{Type: pb.MsgApp, From: 1, To: 2, Term: 1, Entries: ents, Commit: 1}))
	rd = readyCycle(t, rn, s)
	assert.Equal(t, ents, rd.Entries)
	assert.Equal(t, pb.HardState{Term: 1, Vote: 1, Commit: 1}, rd.HardState)
	assert.Equal(t, ents[:1], rd.CommittedEntries, "committed entries may come from the same Ready's Entries")
	assert.Equal(t, []pb.Message{{Type: pb.MsgAppResp, From: 2, To: 1, Term: 1, Index: 2}}, rd.Messages)
	assert.False(t, rn.HasReady())

	// A heartbeat answer attests nothing and needs no sync.
	require.NoError(t, rn.Step(pb.Message{Type: pb.MsgHeartbeat, From: 1, To: 2, Term: 1, Commit: 2}))
	rd = readyCycle(t, rn, s)
	assert.False(t, rd.MustSync)
	assert.Equal(t, ents[1:], rd.CommittedEntries)
	assert.Equal(t, []pb.Message{{Type: pb.MsgHeartbeatResp, From: 2, To: 1, Term: 1}}, rd.Messages)
}

// TestMustSync: an fsync is needed iff entries were appended or the term or
// vote changed.
func TestMustSync(t *testing.T) {
	prev := pb.HardState{Term: 2, Vote: 1, Commit: 5}
	for _, tt := range []struct {
		st   pb.HardState
		ents int
		want bool
	}{
		{prev, 0, false},
		{pb.HardState{Term: 2, Vote: 1, Commit: 6}, 0, false},
		{pb.HardState{Term: 3, Vote: 1, Commit: 5}, 0, true},
		{pb.HardState{Term: 2, Vote: 2, Commit: 5}, 0, true},
		{pb.HardState{Term: 2, Vote: 1, Commit: 6}, 1, true},
		{prev, 3, true},
	} {
		assert.Equal(t, tt.want, MustSync(tt.st, prev, tt.ents), "%+v with %d entries", tt.st, tt.ents)
	}
}

// TestRawNodeBootstrap: Bootstrap refuses no peers and non-empty storage;
// otherwise it writes one committed AddNode entry per peer at term 1, which
// the next Ready hands out for persisting and applying, and the node can
// campaign at once.
func TestRawNodeBootstrap(t *testing.T) {
	rn := newTestRawNode(t, 1, NewMemoryStorage())
	assert.Error(t, rn.Bootstrap(nil))

	used := newTestStorage(votersConf(1), pb.HardState{Term: 1}, 1)
	assert.Error(t, newTestRawNode(t, 1, used).Bootstrap([]Peer{{ID: 1}}))

	s := NewMemoryStorage()
	rn = newTestRawNode(t, 1, s)
	require.NoError(t, rn.Bootstrap([]Peer{{ID: 1}, {ID: 2, Context: []byte("ctx-2")}}))
	// As with etcd/raft, the node refuses to campaign while the bootstrap
	// conf changes are committed but not yet applied by the application.
	require.NoError(t, rn.Campaign())
	assert.Equal(t, StateFollower, rn.BasicStatus().RaftState)
	rd := readyCycle(t, rn, s)
	assert.Equal(t, pb.HardState{Term: 1, Commit: 2}, rd.HardState)
	require.Len(t, rd.Entries, 2)
	assert.Equal(t, rd.Entries, rd.CommittedEntries)
	for i, e := range rd.Entries {
		assert.Equal(t, pb.EntryConfChange, e.Type)
		assert.Equal(t, uint64(1), e.Term)
		assert.Equal(t, uint64(i+1), e.Index)
		var cc pb.ConfChange
		require.NoError(t, cc.Unmarshal(e.Data))
		assert.Equal(t, pb.ConfChangeAddNode, cc.Type)
		assert.Equal(t, uint64(i+1), cc.NodeID)
		rn.ApplyConfChange(cc) // applying again is harmless
	}
	assert.Equal(t, []uint64{1, 2}, rn.Status().Config.Voters[0].Slice())
	require.NoError(t, rn.Campaign())
	rd = readyCycle(t, rn, s)
	assert.Equal(t, StateCandidate, rd.SoftState.RaftState)
	assert.Equal(t, []pb.Message{{Type: pb.MsgVote, From: 1, To: 2, Term: 2, Index: 2, LogTerm: 1}}, rd.Messages)
}

// TestRawNodeConfChangeAddsNode: a cluster started with Bootstrap grows by a
// node that starts with empty storage and learns the configuration from the
// replicated log.
func TestRawNodeConfChangeAddsNode(t *testing.T) {
	storages := map[uint64]*MemoryStorage{}
	for id := uint64(1); id <= 4; id++ {
		storages[id] = NewMemoryStorage()
	}
	c := newClusterFromStorage(t, storages)
	for id := uint64(1); id <= 3; id++ {
		require.NoError(t, c.node(id).rn.Bootstrap([]Peer{{ID: 1}, {ID: 2}, {ID: 3}}))
	}
	c.stabilize() // persist and apply the bootstrap entries
	c.elect(1)
	require.NoError(t, c.node(1).rn.ProposeConfChange(pb.ConfChange{Type: pb.ConfChangeAddNode, NodeID: 4}))
	c.stabilize()
	require.NoError(t, c.propose(2, "after-4-joined"))
	c.stabilize()
	for _, id := range c.ids {
		assert.Equal(t, []uint64{1, 2, 3, 4}, c.node(id).rn.Status().Config.Voters[0].Slice(), "node %d", id)
		assert.Equal(t, []string{"after-4-joined"}, c.node(id).appliedData(), "node %d", id)
	}
	c.requireSameLogs(c.ids...)
}

// TestRawNodeRestart: a node rebuilt from its storage keeps term, vote,
// commit index and log; Applied says where application resumes.
func TestRawNodeRestart(t *testing.T) {
	c := newCluster(t, 3)
	c.elect(1)
	for i := 0; i < 3; i++ {
		require.NoError(t, c.propose(1, fmt.Sprint(i)))
	}
	c.stabilize()
	before := c.node(2).rn.BasicStatus()
	logBefore := c.logOf(2)
	require.Equal(t, pb.HardState{Term: 1, Vote: 1, Commit: 4}, before.HardState)

	c.restart(2, c.node(2).appliedIndex) // the state machine survived
	after := c.node(2).rn.BasicStatus()
	assert.Equal(t, before.HardState, after.HardState)
	assert.Equal(t, uint64(4), after.Applied)
	assert.Equal(t, StateFollower, after.RaftState)
	assert.Equal(t, None, after.Lead, "the leader is soft state")
	assert.Equal(t, logBefore, c.logOf(2))
	assert.False(t, c.node(2).rn.HasReady(), "nothing to re-apply or re-persist")

	// It rejoins the cluster as a follower and keeps up.
	require.NoError(t, c.propose(1, "after-restart"))
	c.stabilize()
	assert.Equal(t, []string{"0", "1", "2", "after-restart"}, c.node(2).appliedData())

	// Restarted with Applied below the commit index, the committed tail is
	// handed out again.
	n := c.node(3)
	c.restart(3, 2)
	c.stabilize()
	assert.Equal(t, []string{"0", "1", "2", "after-restart"}, n.appliedData())
}
