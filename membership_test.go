package raft

// Membership scenarios: proposing and applying conf changes, the
// one-pending-change rule, resizing under partitions. Helpers in
// membership_helpers_test.go.

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	pb "github.com/pontoon-raft/raft/raftpb"
)

// TestConfChangeApplyReturnsConfState: ApplyConfChange returns the
// configuration that results, for V1 and V2 changes, entering and leaving
// joint configurations, with learners and demotions; it is what the node
// itself reports from then on.
func TestConfChangeApplyReturnsConfState(t *testing.T) {
	rn := newTestRawNode(t, 1, newTestStorage(votersConf(1), pb.HardState{}))
	steps := []struct {
		cc   pb.ConfChangeI
		want pb.ConfState
	}{
		{pb.ConfChange{Type: pb.ConfChangeAddNode, NodeID: 2},
			pb.ConfState{Voters: []uint64{1, 2}}},
		{confChangeV2(t, pb.ConfChangeTransitionAuto, "v3 l4"),
			pb.ConfState{Voters: []uint64{1, 2, 3}, VotersOutgoing: []uint64{1, 2}, Learners: []uint64{4}, AutoLeave: true}},
		{pb.ConfChangeV2{},
			pb.ConfState{Voters: []uint64{1, 2, 3}, Learners: []uint64{4}}},
		{confChangeV2(t, pb.ConfChangeTransitionJointExplicit, "l3"),
			pb.ConfState{Voters: []uint64{1, 2}, VotersOutgoing: []uint64{1, 2, 3}, Learners: []uint64{4}, LearnersNext: []uint64{3}}},
		{&pb.ConfChangeV2{Context: []byte("leave")},
			pb.ConfState{Voters: []uint64{1, 2}, Learners: []uint64{3, 4}}},
		{pb.ConfChange{Type: pb.ConfChangeRemoveNode, NodeID: 4},
			pb.ConfState{Voters: []uint64{1, 2}, Learners: []uint64{3}}},
		{pb.ConfChange{Type: pb.ConfChangeAddNode, NodeID: 3},
			pb.ConfState{Voters: []uint64{1, 2, 3}}},
		{pb.ConfChange{Type: pb.ConfChangeUpdateNode, NodeID: 3},
			pb.ConfState{Voters: []uint64{1, 2, 3}}},
	}
	for i, s := range steps {
		got := rn.ApplyConfChange(s.cc)
		require.NotNil(t, got)
		require.Equal(t, s.want, *got, "step %d", i)
		require.Equal(t, s.want, rn.raft.trk.ConfState(), "step %d: the node's own configuration", i)
	}
}

// TestConfChangeProposalsTheScriptsCannotMake covers what
// testdata/confchange_one_pending.txt cannot propose: several conf changes in
// one MsgProp (only the first is kept; the others become empty entries), and
// the leave-joint form (EntryConfChangeV2 without data) proposed directly when
// not joint (refused alike). A proposed change reaches the log as its type
// and encoding, context included.
func TestConfChangeProposalsTheScriptsCannotMake(t *testing.T) {
	c := newClusterWithConf(t, 5, votersConf(1, 2, 3))
	c.elect(1)
	var ents []pb.Entry
	for _, id := range []uint64{4, 5} {
		data, err := (&pb.ConfChange{Type: pb.ConfChangeAddLearnerNode, NodeID: id}).Marshal()
		require.NoError(t, err)
		ents = append(ents, pb.Entry{Type: pb.EntryConfChange, Data: data})
	}
	last := c.lastEntry(1).Index
	require.NoError(t, c.node(1).rn.Step(pb.Message{Type: pb.MsgProp, From: 1, Entries: ents}))
	assert.Equal(t, pb.EntryConfChange, c.entryAt(1, last+1).Type)
	assert.Equal(t, pb.Entry{Type: pb.EntryNormal, Term: 1, Index: last + 2}, c.entryAt(1, last+2))
	c.stabilize()
	c.requireConf(pb.ConfState{Voters: []uint64{1, 2, 3}, Learners: []uint64{4}}, 1, 2, 3, 4)

	require.NoError(t, c.node(1).rn.Step(pb.Message{Type: pb.MsgProp, From: 1,
		Entries: []pb.Entry{{Type: pb.EntryConfChangeV2}}}))
	assert.Equal(t, pb.Entry{Type: pb.EntryNormal, Term: 1, Index: last + 3}, c.lastEntry(1))
	c.stabilize()

	for _, cc := range []pb.ConfChangeI{
		pb.ConfChange{Type: pb.ConfChangeAddLearnerNode, NodeID: 5, Context: []byte("ctx-v1")},
		pb.ConfChangeV2{Changes: []pb.ConfChangeSingle{{Type: pb.ConfChangeRemoveNode, NodeID: 5}}, Context: []byte("ctx-v2")},
	} {
		e := c.proposeConfChange(1, cc)
		typ, data, err := pb.MarshalConfChange(cc)
		require.NoError(t, err)
		assert.Equal(t, typ, e.Type)
		assert.Equal(t, data, e.Data)
		c.stabilize()
	}
}

// TestConfChangeMalformedNeverAppended: a proposal holding a conf change
// entry whose data does not decode is refused whole with
// ErrMalformedMessage, even when DisableConfChangeValidation is set:
// appending it would commit an entry that no node can apply, and replacing
// it by a no-op would hide the mistake. (etcd/raft panics on such a
// proposal.)
func TestConfChangeMalformedNeverAppended(t *testing.T) {
	for _, disable := range []bool{false, true} {
		c := newClusterWithConf(t, 3, votersConf(1, 2, 3), func(cfg *Config) { cfg.DisableConfChangeValidation = disable })
		c.elect(1)
		last := c.lastEntry(1).Index
		for _, typ := range []pb.EntryType{pb.EntryConfChange, pb.EntryConfChangeV2} {
			err := c.node(1).rn.Step(pb.Message{Type: pb.MsgProp, From: 1,
				Entries: []pb.Entry{{Data: []byte("fine")}, {Type: typ, Data: []byte{0xff, 0xff}}}})
			assert.ErrorIs(t, err, ErrMalformedMessage)
		}
		assert.Equal(t, last, c.lastEntry(1).Index, "nothing appended; validation disabled: %t", disable)
		c.stabilize()
		// The slot is free for the next change.
		assert.Equal(t, pb.EntryConfChange,
			c.proposeConfChange(1, pb.ConfChange{Type: pb.ConfChangeAddLearnerNode, NodeID: 4}).Type)
	}
}
