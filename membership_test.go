package raft

// Membership scenarios: proposing and applying conf changes, the
// one-pending-change rule, resizing under partitions. Helpers in
// membership_helpers_test.go.

import (
	"slices"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	pb "github.com/pontoon-raft/raft/raftpb"
)

func TestConfChangeProposeV1AndV2(t *testing.T) {
	c := mtNewCluster(t, 5, mtVoters(1, 2, 3))
	c.elect(1)
	c.record = true

	v1 := pb.ConfChange{Type: pb.ConfChangeAddNode, NodeID: 4, Context: []byte("ctx-4")}
	e1 := mtProposeCC(t, c, 1, v1)
	assert.Equal(t, pb.EntryConfChange, e1.Type)
	// Not applied yet: the configuration changes on apply, not on append.
	mtRequireConf(t, c, mtVoters(1, 2, 3), 1)
	c.stabilize()
	mtRequireConf(t, c, mtVoters(1, 2, 3, 4), 1, 2, 3, 4)

	v2 := mtV2(t, pb.ConfChangeTransitionAuto, "l5")
	v2.Context = []byte("ctx-5")
	e2 := mtProposeCC(t, c, 1, v2)
	assert.Equal(t, pb.EntryConfChangeV2, e2.Type)
	c.stabilize()
	want := pb.ConfState{Voters: []uint64{1, 2, 3, 4}, Learners: []uint64{5}}
	mtRequireConf(t, c, want, c.ids...)
	assert.Equal(t, e2.Index, mtLast(c, 1).Index, "a simple change needs no leave entry")

	// On the wire: the MsgApps carried the entries with their type and the
	// encoded change unchanged.
	seen := map[uint64]int{}
	for _, m := range c.delivered {
		if m.Type != pb.MsgApp {
			continue
		}
		for _, e := range m.Entries {
			switch e.Index {
			case e1.Index:
				require.Equal(t, pb.EntryConfChange, e.Type)
				var got pb.ConfChange
				require.NoError(t, got.Unmarshal(e.Data))
				assert.Equal(t, v1, got)
				seen[e.Index]++
			case e2.Index:
				require.Equal(t, pb.EntryConfChangeV2, e.Type)
				var got pb.ConfChangeV2
				require.NoError(t, got.Unmarshal(e.Data))
				assert.Equal(t, v2, got)
				seen[e.Index]++
			}
		}
	}
	assert.Positive(t, seen[e1.Index], "EntryConfChange was replicated")
	assert.Positive(t, seen[e2.Index], "EntryConfChangeV2 was replicated")

	// Every node applied the same conf change entries at the same indexes.
	for _, id := range c.ids {
		var types []pb.EntryType
		for _, e := range c.node(id).applied {
			if e.Index == e1.Index || e.Index == e2.Index {
				types = append(types, e.Type)
			}
		}
		assert.Equal(t, []pb.EntryType{pb.EntryConfChange, pb.EntryConfChangeV2}, types, "node %d", id)
	}
	c.requireSameLogs(c.ids...)
}

// TestConfChangeApplyReturnsConfState: ApplyConfChange returns the
// configuration that results, for V1 and V2 changes, entering and leaving
// joint configurations, with learners and demotions; it is what the node
// itself reports from then on.
func TestConfChangeApplyReturnsConfState(t *testing.T) {
	rn := ctRawNode(t, 1, ctStorage([]uint64{1}, pb.HardState{}))
	steps := []struct {
		cc   pb.ConfChangeI
		want pb.ConfState
	}{
		{pb.ConfChange{Type: pb.ConfChangeAddNode, NodeID: 2},
			pb.ConfState{Voters: []uint64{1, 2}}},
		{mtV2(t, pb.ConfChangeTransitionAuto, "v3 l4"),
			pb.ConfState{Voters: []uint64{1, 2, 3}, VotersOutgoing: []uint64{1, 2}, Learners: []uint64{4}, AutoLeave: true}},
		{pb.ConfChangeV2{},
			pb.ConfState{Voters: []uint64{1, 2, 3}, Learners: []uint64{4}}},
		{mtV2(t, pb.ConfChangeTransitionJointExplicit, "l3"),
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

// TestConfChangeOnePendingAtATime: a leader accepts a new conf change only
// once every earlier one it appended is applied. A refused change keeps its
// slot in the log as an empty EntryNormal. Entering a joint configuration
// while joint, and leaving one when not joint, are refused the same way.
// DisableConfChangeValidation turns these checks off.
func TestConfChangeOnePendingAtATime(t *testing.T) {
	requireRefused := func(t *testing.T, c *ctCluster, cc pb.ConfChangeI) {
		t.Helper()
		before := mtLast(c, 1).Index
		e := mtProposeCC(t, c, 1, cc)
		assert.Equal(t, pb.Entry{Type: pb.EntryNormal, Term: c.node(1).raft().Term, Index: before + 1}, e,
			"refused conf change %v", cc)
	}

	t.Run("second before first applied", func(t *testing.T) {
		c := mtNewCluster(t, 5, mtVoters(1, 2, 3))
		c.elect(1)
		first := mtProposeCC(t, c, 1, pb.ConfChange{Type: pb.ConfChangeAddLearnerNode, NodeID: 4})
		require.Equal(t, pb.EntryConfChange, first.Type)
		requireRefused(t, c, pb.ConfChange{Type: pb.ConfChangeAddLearnerNode, NodeID: 5})
		requireRefused(t, c, mtV2(t, pb.ConfChangeTransitionAuto, "l5"))

		// A follower forwards its proposal; the leader refuses it alike.
		require.NoError(t, c.node(2).rn.ProposeConfChange(pb.ConfChange{Type: pb.ConfChangeAddLearnerNode, NodeID: 5}))
		lastBefore := mtLast(c, 1).Index
		c.stabilize()
		assert.Equal(t, pb.EntryNormal, mtEntry(c, 1, lastBefore+1).Type)
		mtRequireConf(t, c, pb.ConfState{Voters: []uint64{1, 2, 3}, Learners: []uint64{4}}, 1, 2, 3, 4)

		// Applied now: the next one is accepted.
		e := mtProposeCC(t, c, 1, pb.ConfChange{Type: pb.ConfChangeAddLearnerNode, NodeID: 5})
		assert.Equal(t, pb.EntryConfChange, e.Type)
		c.stabilize()
		mtRequireConf(t, c, pb.ConfState{Voters: []uint64{1, 2, 3}, Learners: []uint64{4, 5}}, c.ids...)
	})

	t.Run("several in one proposal", func(t *testing.T) {
		c := mtNewCluster(t, 5, mtVoters(1, 2, 3))
		c.elect(1)
		var ents []pb.Entry
		for _, id := range []uint64{4, 5} {
			data, err := (&pb.ConfChange{Type: pb.ConfChangeAddLearnerNode, NodeID: id}).Marshal()
			require.NoError(t, err)
			ents = append(ents, pb.Entry{Type: pb.EntryConfChange, Data: data})
		}
		last := mtLast(c, 1).Index
		require.NoError(t, c.node(1).rn.Step(pb.Message{Type: pb.MsgProp, From: 1, Entries: ents}))
		assert.Equal(t, pb.EntryConfChange, mtEntry(c, 1, last+1).Type)
		assert.Equal(t, pb.Entry{Type: pb.EntryNormal, Term: 1, Index: last + 2}, mtEntry(c, 1, last+2))
		c.stabilize()
		mtRequireConf(t, c, pb.ConfState{Voters: []uint64{1, 2, 3}, Learners: []uint64{4}}, 1, 2, 3, 4)
	})

	t.Run("enter joint while joint, leave when not joint", func(t *testing.T) {
		c := mtNewCluster(t, 5, mtVoters(1, 2, 3))
		c.elect(1)
		requireRefused(t, c, pb.ConfChangeV2{})
		// The auto-leave form, EntryConfChangeV2 without data, proposed
		// directly (ProposeConfChange refuses a nil conf change).
		before := mtLast(c, 1).Index
		require.NoError(t, c.node(1).rn.Step(pb.Message{Type: pb.MsgProp, From: 1,
			Entries: []pb.Entry{{Type: pb.EntryConfChangeV2}}}))
		assert.Equal(t, pb.Entry{Type: pb.EntryNormal, Term: c.node(1).raft().Term, Index: before + 1}, mtLast(c, 1))
		c.stabilize()

		mtProposeCC(t, c, 1, mtV2(t, pb.ConfChangeTransitionJointExplicit, "v4"))
		c.stabilize()
		joint := pb.ConfState{Voters: []uint64{1, 2, 3, 4}, VotersOutgoing: []uint64{1, 2, 3}}
		mtRequireConf(t, c, joint, 1, 2, 3, 4)
		requireRefused(t, c, mtV2(t, pb.ConfChangeTransitionJointExplicit, "v5"))
		requireRefused(t, c, pb.ConfChange{Type: pb.ConfChangeAddNode, NodeID: 5})
		c.stabilize()
		mtRequireConf(t, c, joint, 1, 2, 3, 4)

		leave := mtProposeCC(t, c, 1, pb.ConfChangeV2{})
		assert.Equal(t, pb.EntryConfChangeV2, leave.Type)
		c.stabilize()
		mtRequireConf(t, c, mtVoters(1, 2, 3, 4), 1, 2, 3, 4)
	})

	t.Run("validation disabled", func(t *testing.T) {
		c := mtNewCluster(t, 5, mtVoters(1, 2, 3), func(cfg *Config) { cfg.DisableConfChangeValidation = true })
		c.elect(1)
		e1 := mtProposeCC(t, c, 1, pb.ConfChange{Type: pb.ConfChangeAddLearnerNode, NodeID: 4})
		e2 := mtProposeCC(t, c, 1, pb.ConfChange{Type: pb.ConfChangeAddLearnerNode, NodeID: 5})
		assert.Equal(t, pb.EntryConfChange, e1.Type)
		assert.Equal(t, pb.EntryConfChange, e2.Type, "no refusal with validation disabled")
		c.stabilize()
		mtRequireConf(t, c, pb.ConfState{Voters: []uint64{1, 2, 3}, Learners: []uint64{4, 5}}, c.ids...)
	})
}

// TestConfChangeMalformedNeverAppended: a proposal holding a conf change
// entry whose data does not decode is refused whole with
// ErrMalformedMessage, even when DisableConfChangeValidation is set:
// appending it would commit an entry that no node can apply, and replacing
// it by a no-op would hide the mistake. (etcd/raft panics on such a
// proposal.)
func TestConfChangeMalformedNeverAppended(t *testing.T) {
	for _, disable := range []bool{false, true} {
		c := mtNewCluster(t, 3, mtVoters(1, 2, 3), func(cfg *Config) { cfg.DisableConfChangeValidation = disable })
		c.elect(1)
		last := mtLast(c, 1).Index
		for _, typ := range []pb.EntryType{pb.EntryConfChange, pb.EntryConfChangeV2} {
			err := c.node(1).rn.Step(pb.Message{Type: pb.MsgProp, From: 1,
				Entries: []pb.Entry{{Data: []byte("fine")}, {Type: typ, Data: []byte{0xff, 0xff}}}})
			assert.ErrorIs(t, err, ErrMalformedMessage)
		}
		assert.Equal(t, last, mtLast(c, 1).Index, "nothing appended; validation disabled: %t", disable)
		c.stabilize()
		// The slot is free for the next change.
		assert.Equal(t, pb.EntryConfChange,
			mtProposeCC(t, c, 1, pb.ConfChange{Type: pb.ConfChangeAddLearnerNode, NodeID: 4}).Type)
	}
}

// TestMembershipResize3To5To3UnderPartition grows a three-voter cluster to
// five and shrinks it back, with some node partitioned at every step: one
// voter at a time with ConfChange, or both at once through a joint
// configuration with ConfChangeV2. Each entry commits exactly when a quorum
// of the configuration in force acknowledges it.
func TestMembershipResize3To5To3UnderPartition(t *testing.T) {
	t.Run("v1 one at a time", func(t *testing.T) {
		// Node 5 does not exist yet; it joins later with an empty storage.
		c := mtNewCluster(t, 4, mtVoters(1, 2, 3))
		c.elect(1)

		// 3 is partitioned away while 4 and then 5 join.
		c.isolate(3)
		mtProposeCC(t, c, 1, pb.ConfChange{Type: pb.ConfChangeAddNode, NodeID: 4})
		c.stabilize()
		mtRequireConf(t, c, mtVoters(1, 2, 3, 4), 1, 2, 4)
		require.NoError(t, c.propose(1, "a")) // 1, 2, 4: three of four
		c.stabilize()
		mtRequireApplied(t, c, "a", 1, 2, 4)

		mtProposeCC(t, c, 1, pb.ConfChange{Type: pb.ConfChangeAddNode, NodeID: 5})
		c.stabilize()
		mtRequireConf(t, c, mtVoters(1, 2, 3, 4, 5), 1, 2, 4)

		// The new machine starts empty and is caught up by a snapshot of
		// the leader's state, which lists it as a voter.
		c.compact(1)
		mtAddNode(c, 5, NewMemoryStorage())
		c.isolate(3) // again, to cut it off from the new node too
		mtTick(c, 1, 3)
		mtRequireConf(t, c, mtVoters(1, 2, 3, 4, 5), 5)
		require.Positive(t, c.sent[pb.MsgSnap], "node 5 joined through a snapshot")

		// With 3 and 4 down, 1, 2 and 5 are three of five.
		c.isolate(4)
		require.NoError(t, c.propose(1, "b"))
		c.stabilize()
		mtRequireApplied(t, c, "b", 1, 2, 5)

		// With 3, 4 and 5 down, 1 and 2 are not a quorum of five any more.
		c.isolate(5)
		commit := mtCommitted(c, 1)
		require.NoError(t, c.propose(1, "c"))
		mtTick(c, 1, 3)
		assert.Equal(t, commit, mtCommitted(c, 1), "two of five voters must not commit")
		mtRequireNotApplied(t, c, "c", c.ids...)

		// 3 comes back (4 and 5 stay down): it catches up, learns the new
		// configuration, and its acknowledgement makes the third vote.
		c.heal()
		c.isolate(4)
		c.isolate(5)
		mtTick(c, 1, 3)
		mtRequireApplied(t, c, "c", 1, 2, 3)
		mtRequireConf(t, c, mtVoters(1, 2, 3, 4, 5), 3)

		// Shrink back, now with 2 partitioned: removing 5 needs three of
		// {1..5}, removing 4 three of {1..4}.
		c.heal()
		c.isolate(2)
		mtTick(c, 1, 3)
		mtProposeCC(t, c, 1, pb.ConfChange{Type: pb.ConfChangeRemoveNode, NodeID: 5})
		c.stabilize()
		mtRequireConf(t, c, mtVoters(1, 2, 3, 4), 1, 3, 4)
		mtProposeCC(t, c, 1, pb.ConfChange{Type: pb.ConfChangeRemoveNode, NodeID: 4})
		c.stabilize()
		mtRequireConf(t, c, mtVoters(1, 2, 3), 1, 3)

		// The removed machines are shut down; 2 returns and catches up.
		c.heal()
		c.isolate(4)
		c.isolate(5)
		mtTick(c, 1, 3)
		mtRequireConf(t, c, mtVoters(1, 2, 3), 1, 2, 3)
		require.NoError(t, c.propose(1, "d"))
		c.stabilize()
		mtRequireApplied(t, c, "d", 1, 2, 3)
		// Two of the three remaining voters suffice again.
		c.isolate(3)
		require.NoError(t, c.propose(1, "e"))
		c.stabilize()
		mtRequireApplied(t, c, "e", 1, 2)
		c.heal()
		c.isolate(4)
		c.isolate(5)
		mtTick(c, 1, 2)
		mtRequireSameLogTail(c, 1, 2, 3)
		for _, id := range []uint64{4, 5} {
			if !slices.Contains(mtConfState(c, id).Voters, id) {
				assert.False(t, c.node(id).raft().promotable(), "removed node %d", id)
			}
		}
	})

	t.Run("v2 joint", func(t *testing.T) {
		c := mtNewCluster(t, 5, mtVoters(1, 2, 3))
		c.elect(1)

		// Only 1 of the old voters is reachable (with the new machines):
		// the joint entry itself is committed by the old configuration,
		// so it does not commit.
		c.partition([]uint64{1, 4, 5}, []uint64{2}, []uint64{3})
		commit := mtCommitted(c, 1)
		joint := mtProposeCC(t, c, 1, mtV2(t, pb.ConfChangeTransitionAuto, "v4 v5"))
		require.Equal(t, pb.EntryConfChangeV2, joint.Type)
		mtTick(c, 1, 3)
		assert.Equal(t, commit, mtCommitted(c, 1))
		mtRequireConf(t, c, mtVoters(1, 2, 3), 1)

		// 2 returns (3 stays away): {1, 2} commits the joint entry; the
		// leader then leaves automatically, which needs 2 of {1, 2, 3} and
		// 3 of {1..5}: 1, 2, 4, 5.
		c.heal()
		c.isolate(3)
		mtTick(c, 1, 3)
		mtRequireConf(t, c, mtVoters(1, 2, 3, 4, 5), 1, 2, 4, 5)
		leave := mtEntry(c, 1, joint.Index+1)
		assert.Equal(t, pb.EntryConfChangeV2, leave.Type)
		assert.Nil(t, leave.Data)

		// In the five-voter configuration 1, 4, 5 are a quorum on their own.
		c.partition([]uint64{1, 4, 5}, []uint64{2}, []uint64{3})
		require.NoError(t, c.propose(1, "a"))
		c.stabilize()
		mtRequireApplied(t, c, "a", 1, 4, 5)

		// Everyone back, then shrink to {1, 4, 5} with 5 partitioned:
		// {1, 4} is a majority of the incoming {1, 4, 5}, {1, 2, 3, 4} of
		// the outgoing {1..5}.
		c.heal()
		mtTick(c, 1, 3)
		mtRequireConf(t, c, mtVoters(1, 2, 3, 4, 5), c.ids...)
		c.isolate(5)
		mtProposeCC(t, c, 1, mtV2(t, pb.ConfChangeTransitionJointImplicit, "r2 r3"))
		c.stabilize()
		mtRequireConf(t, c, mtVoters(1, 4, 5), 1, 4)

		// 2 and 3 are shut down; 5 returns and catches up.
		c.heal()
		c.isolate(2)
		c.isolate(3)
		mtTick(c, 1, 3)
		mtRequireConf(t, c, mtVoters(1, 4, 5), 1, 4, 5)
		c.isolate(4)
		require.NoError(t, c.propose(1, "b")) // 1 and 5: two of three
		c.stabilize()
		mtRequireApplied(t, c, "b", 1, 5)
		c.heal()
		c.isolate(2)
		c.isolate(3)
		mtTick(c, 1, 2)
		c.requireSameLogs(1, 4, 5)
		for _, id := range []uint64{2, 3} {
			if !slices.Contains(mtConfState(c, id).Voters, id) {
				assert.False(t, c.node(id).raft().promotable(), "removed node %d", id)
			}
		}
	})
}
