package raft

// Scenario tests of membership changes (issue #5) on the ctCluster harness:
// proposing and applying ConfChange and ConfChangeV2, the one-pending-change
// rule, resizing under partitions, joint consensus and its quorums, leader
// removal, learners, restart in a joint configuration and Bootstrap.
//
// Helpers here carry the prefix "mt".

import (
	"fmt"
	"math/rand"
	"slices"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	pb "github.com/pontoon-raft/raft/raftpb"
	"github.com/pontoon-raft/raft/tracker"
)

// mtStorage returns an empty MemoryStorage whose initial (index 0) snapshot
// carries the configuration cs.
func mtStorage(cs pb.ConfState) *MemoryStorage {
	ms := NewMemoryStorage()
	ms.snapshot.Metadata.ConfState = cs
	return ms
}

// mtNewCluster starts nodes 1..n with empty logs, all with the initial
// configuration cs. Nodes that cs does not list exist but are not members:
// they are the spare machines a test can add later.
func mtNewCluster(t testing.TB, n int, cs pb.ConfState, opts ...func(*Config)) *ctCluster {
	t.Helper()
	storages := map[uint64]*MemoryStorage{}
	for _, id := range ctIDs(n) {
		storages[id] = mtStorage(cs)
	}
	return ctNewClusterFromStorage(t, storages, opts...)
}

// mtAddNode starts a brand-new node id over s in a running cluster, with the
// Config options of the cluster's first node.
func mtAddNode(c *ctCluster, id uint64, s *MemoryStorage) {
	c.t.Helper()
	require.NotContains(c.t, c.nodes, id)
	cfg := *c.nodes[c.ids[0]].cfg
	cfg.ID, cfg.Storage = id, s
	cfg.Rand = rand.New(rand.NewSource(int64(id)))
	rn, err := NewRawNode(&cfg)
	require.NoError(c.t, err)
	hs, _, err := s.InitialState()
	require.NoError(c.t, err)
	c.ids = append(c.ids, id)
	slices.Sort(c.ids)
	c.nodes[id] = &ctNode{id: id, cfg: &cfg, rn: rn, storage: s,
		appliedIndex: rn.raft.raftLog.applied, lastHardState: hs}
}

// mtVoters is a non-joint configuration of voters.
func mtVoters(ids ...uint64) pb.ConfState { return pb.ConfState{Voters: ids} }

// mtV2 builds a ConfChangeV2 from the token form of ConfChangesFromString.
func mtV2(t testing.TB, tr pb.ConfChangeTransition, changes string) pb.ConfChangeV2 {
	t.Helper()
	ccs, err := pb.ConfChangesFromString(changes)
	require.NoError(t, err)
	return pb.ConfChangeV2{Transition: tr, Changes: ccs}
}

// mtConfState is node id's configuration in wire form.
func mtConfState(c *ctCluster, id uint64) pb.ConfState {
	return c.node(id).raft().trk.ConfState()
}

// mtRequireConf checks the configuration of every node in ids.
func mtRequireConf(t testing.TB, c *ctCluster, want pb.ConfState, ids ...uint64) {
	t.Helper()
	for _, id := range ids {
		require.Equal(t, want, mtConfState(c, id), "configuration of node %d", id)
	}
}

// mtLast returns the last entry of node id's log.
func mtLast(c *ctCluster, id uint64) pb.Entry {
	ents := c.logOf(id)
	require.NotEmpty(c.t, ents)
	return ents[len(ents)-1]
}

// mtEntry returns the entry at index in node id's log.
func mtEntry(c *ctCluster, id, index uint64) pb.Entry {
	c.t.Helper()
	ents, err := c.node(id).raft().raftLog.slice(index, index+1, noLimit)
	require.NoError(c.t, err)
	require.Len(c.t, ents, 1)
	return ents[0]
}

// mtProposeCC proposes cc on node id (which must accept it) and returns the
// entry it appended.
func mtProposeCC(t testing.TB, c *ctCluster, id uint64, cc pb.ConfChangeI) pb.Entry {
	t.Helper()
	require.NoError(t, c.node(id).rn.ProposeConfChange(cc))
	return mtLast(c, id)
}

// mtTick ticks only node id, n times, stabilizing after each tick: a leader
// sends heartbeats and catches followers up, while nobody else's election
// clock moves.
func mtTick(c *ctCluster, id uint64, n int) {
	c.t.Helper()
	for i := 0; i < n; i++ {
		c.tick(id)
		c.stabilize()
	}
}

// mtRequireSameLogTail is requireSameLogs for nodes that may have compacted
// their logs: it compares the entries every node in ids still holds.
func mtRequireSameLogTail(c *ctCluster, ids ...uint64) {
	c.t.Helper()
	first, last := uint64(0), c.node(ids[0]).raft().raftLog.lastIndex()
	for _, id := range ids {
		l := c.node(id).raft().raftLog
		first = max(first, l.firstIndex())
		require.Equal(c.t, last, l.lastIndex(), "last index of node %d", id)
	}
	want, err := c.node(ids[0]).raft().raftLog.slice(first, last+1, noLimit)
	require.NoError(c.t, err)
	for _, id := range ids[1:] {
		got, err := c.node(id).raft().raftLog.slice(first, last+1, noLimit)
		require.NoError(c.t, err)
		require.Equal(c.t, want, got, "logs of %d and %d from index %d", ids[0], id, first)
	}
}

// mtCommitted is node id's commit index.
func mtCommitted(c *ctCluster, id uint64) uint64 { return c.node(id).raft().raftLog.committed }

// mtRequireApplied checks that every node in ids applied the proposal data.
func mtRequireApplied(t testing.TB, c *ctCluster, data string, ids ...uint64) {
	t.Helper()
	for _, id := range ids {
		require.Contains(t, c.node(id).appliedData(), data, "node %d", id)
	}
}

// mtRequireNotApplied checks that no node in ids applied the proposal data.
func mtRequireNotApplied(t testing.TB, c *ctCluster, data string, ids ...uint64) {
	t.Helper()
	for _, id := range ids {
		require.NotContains(t, c.node(id).appliedData(), data, "node %d", id)
	}
}

// TestConfChangeProposeV1AndV2 proposes a ConfChange and a ConfChangeV2:
// the first travels as EntryConfChange, the second as EntryConfChangeV2 (a
// V2 change is never turned back into V1), both take effect when applied,
// and the single-change V2 with the Auto transition is a simple change that
// does not go through a joint configuration.
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
		requireRefused(t, c, nil) // the auto-leave form: nil data
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

// TestConfChangeMalformedNeverAppended: a conf change entry whose data does
// not decode is replaced by an empty EntryNormal even when
// DisableConfChangeValidation is set. Appending it would commit an entry
// that no node can apply. (etcd/raft panics on such a proposal.)
func TestConfChangeMalformedNeverAppended(t *testing.T) {
	for _, disable := range []bool{false, true} {
		c := mtNewCluster(t, 3, mtVoters(1, 2, 3), func(cfg *Config) { cfg.DisableConfChangeValidation = disable })
		c.elect(1)
		last := mtLast(c, 1).Index
		for _, typ := range []pb.EntryType{pb.EntryConfChange, pb.EntryConfChangeV2} {
			require.NoError(t, c.node(1).rn.Step(pb.Message{Type: pb.MsgProp, From: 1,
				Entries: []pb.Entry{{Type: typ, Data: []byte{0xff, 0xff}}}}))
		}
		assert.Equal(t, ctEnts(last+1, 1, 1), c.logOf(1)[last:], "validation disabled: %t", disable)
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

// TestJointConfigNeedsBothMajorities moves {1, 2, 3} to {1, 4, 5} through
// a joint configuration. While joint, an entry commits only when a majority
// of each half has it. With the JointExplicit transition the configuration
// stays joint until the application proposes leaving it; with the Implicit
// and Auto transitions the leader proposes the leave entry (an
// EntryConfChangeV2 with nil Data) itself once the joint entry is applied.
func TestJointConfigNeedsBothMajorities(t *testing.T) {
	jointCS := pb.ConfState{Voters: []uint64{1, 4, 5}, VotersOutgoing: []uint64{1, 2, 3}}

	t.Run("explicit", func(t *testing.T) {
		c := mtNewCluster(t, 5, mtVoters(1, 2, 3))
		c.elect(1)
		joint := mtProposeCC(t, c, 1, mtV2(t, pb.ConfChangeTransitionJointExplicit, "v4 v5 r2 r3"))
		require.Equal(t, pb.EntryConfChangeV2, joint.Type)
		c.stabilize()
		mtRequireConf(t, c, jointCS, c.ids...)
		mtTick(c, 1, 5)
		assert.Equal(t, joint.Index, mtLast(c, 1).Index, "no leave entry without AutoLeave")
		mtRequireConf(t, c, jointCS, c.ids...)

		for _, tc := range []struct {
			name          string
			acking, other []uint64
			heal          uint64
		}{
			{"only the outgoing majority", []uint64{1, 2, 3}, []uint64{4, 5}, 4},
			{"only the incoming majority", []uint64{1, 4, 5}, []uint64{2, 3}, 2},
		} {
			c.partition(tc.acking, tc.other[:1], tc.other[1:])
			commit := mtCommitted(c, 1)
			require.NoError(t, c.propose(1, tc.name))
			mtTick(c, 1, 3)
			assert.Equal(t, commit, mtCommitted(c, 1), "%s: nothing commits", tc.name)
			mtRequireNotApplied(t, c, tc.name, c.ids...)

			// One more node of the other half makes both majorities.
			c.heal()
			c.isolate(tc.other[1])
			mtTick(c, 1, 3)
			mtRequireApplied(t, c, tc.name, append(tc.acking, tc.heal)...)
			c.heal()
			mtTick(c, 1, 3)
		}
		mtRequireConf(t, c, jointCS, c.ids...)

		leave := mtProposeCC(t, c, 1, pb.ConfChangeV2{})
		assert.Equal(t, pb.EntryConfChangeV2, leave.Type)
		c.stabilize()
		mtRequireConf(t, c, mtVoters(1, 4, 5), 1, 4, 5)
	})

	for _, v := range []struct {
		tr    pb.ConfChangeTransition
		async bool
	}{
		{pb.ConfChangeTransitionJointImplicit, false},
		{pb.ConfChangeTransitionAuto, false},
		{pb.ConfChangeTransitionJointImplicit, true},
	} {
		tr := v.tr
		name := pb.ConfChangeTransition_name[int32(tr)]
		if v.async {
			name += "/async storage"
		}
		t.Run(name, func(t *testing.T) {
			c := mtNewCluster(t, 5, mtVoters(1, 2, 3), func(cfg *Config) { cfg.AsyncStorageWrites = v.async })
			c.elect(1)
			// The leave entry must not be proposed before the joint entry
			// is applied by the leader.
			var joint pb.Entry
			leaves := 0
			c.onReady = func(n *ctNode, rd Ready) {
				for _, e := range rd.Entries {
					if n.id == 1 && e.Type == pb.EntryConfChangeV2 && e.Data == nil {
						leaves++
						assert.GreaterOrEqual(t, n.appliedIndex, joint.Index,
							"leave entry %d appended before the joint entry %d was applied", e.Index, joint.Index)
					}
				}
			}
			// The new voters are unreachable: the joint entry commits (it
			// needs the old configuration only), but the leave entry needs
			// a majority of {1, 4, 5} too.
			c.partition([]uint64{1, 2, 3}, []uint64{4}, []uint64{5})
			joint = mtProposeCC(t, c, 1, mtV2(t, tr, "v4 v5 r2 r3"))
			mtTick(c, 1, 3)
			autoCS := jointCS
			autoCS.AutoLeave = true
			mtRequireConf(t, c, autoCS, 1, 2, 3)
			leave := mtLast(c, 1)
			require.Equal(t, joint.Index+1, leave.Index)
			assert.Equal(t, pb.EntryConfChangeV2, leave.Type)
			assert.Nil(t, leave.Data)
			assert.Equal(t, joint.Index, mtCommitted(c, 1), "the leave entry waits for the incoming majority")

			// 4 returns: {1, 4} is a majority of {1, 4, 5}.
			c.heal()
			c.isolate(5)
			mtTick(c, 1, 3)
			mtRequireConf(t, c, mtVoters(1, 4, 5), 1, 4)
			assert.Equal(t, 1, leaves, "exactly one leave entry")
			c.heal()
			mtTick(c, 1, 3)
			mtRequireConf(t, c, mtVoters(1, 4, 5), 1, 4, 5)
			require.NoError(t, c.propose(1, "after"))
			c.stabilize()
			mtRequireApplied(t, c, "after", 1, 4, 5)
		})
	}
}

// TestJointConfigAutoLeaveWaitsForInheritedEntries: a leader elected in a
// joint configuration with AutoLeave does not know which of the entries it
// inherited change the configuration, so it proposes the leave entry only
// once it has applied all of them, and proposes it once: no refused
// proposals (empty entries) pile up while it applies the older ones.
func TestJointConfigAutoLeaveWaitsForInheritedEntries(t *testing.T) {
	cs := mtJointCS
	cs.AutoLeave = true
	storages := map[uint64]*MemoryStorage{}
	for _, id := range ctIDs(5) {
		s := mtStorage(cs)
		require.NoError(t, s.Append(ctEnts(1, 1, 1, 1, 1, 1)))
		require.NoError(t, s.SetHardState(pb.HardState{Term: 1}))
		storages[id] = s
	}
	// One committed entry per Ready: the inherited entries are applied
	// one by one.
	c := ctNewClusterFromStorage(t, storages, func(cfg *Config) { cfg.MaxCommittedSizePerReady = 1 })
	c.elect(1)
	// 1..5 inherited, 6 the leader's empty entry, 7 the leave entry.
	leave := mtEntry(c, 1, 7)
	assert.Equal(t, pb.Entry{Type: pb.EntryConfChangeV2, Term: 2, Index: 7}, leave)
	assert.Equal(t, uint64(7), mtLast(c, 1).Index, "nothing else was appended")
	mtRequireConf(t, c, mtVoters(1, 4, 5), c.ids...)
}

// TestConfChangeRemovalCommitsPendingEntry: removing a voter shrinks the
// quorum, so entries the remaining voters already hold commit as soon as
// the leader applies the removal, without waiting for another proposal.
func TestConfChangeRemovalCommitsPendingEntry(t *testing.T) {
	c := mtNewCluster(t, 2, mtVoters(1, 2))
	c.elect(1)
	remove := mtProposeCC(t, c, 1, pb.ConfChange{Type: pb.ConfChangeRemoveNode, NodeID: 2})
	// Send the removal on its own, so that 2 can acknowledge it alone.
	c.processReadys()
	require.NoError(t, c.propose(1, "hello"))
	// 2 acknowledges the removal, but its acknowledgement of "hello" is
	// lost, and it is gone after that.
	c.filter = func(m *pb.Message) bool {
		return !(m.From == 2 && m.Type == pb.MsgAppResp && m.Index > remove.Index)
	}
	c.stabilize()
	mtRequireConf(t, c, mtVoters(1), 1)
	mtRequireApplied(t, c, "hello", 1)
}

// TestMembershipLeaderRemovesItself: a leader that applies its own removal
// steps down with StepDownOnRemoval; without it, it stays leader but drops
// every proposal, and once it is shut down the remaining voters elect a
// leader among themselves. The removed node can never campaign.
func TestMembershipLeaderRemovesItself(t *testing.T) {
	for _, stepDown := range []bool{true, false} {
		name := map[bool]string{true: "StepDownOnRemoval", false: "stays leader"}[stepDown]
		t.Run(name, func(t *testing.T) {
			c := mtNewCluster(t, 3, mtVoters(1, 2, 3), func(cfg *Config) { cfg.StepDownOnRemoval = stepDown })
			c.elect(1)
			mtProposeCC(t, c, 1, pb.ConfChange{Type: pb.ConfChangeRemoveNode, NodeID: 1})
			c.stabilize()
			mtRequireConf(t, c, mtVoters(2, 3), 1, 2, 3)
			r1 := c.node(1).raft()
			assert.False(t, r1.promotable())

			if stepDown {
				assert.Equal(t, StateFollower, r1.state)
			} else {
				assert.Equal(t, StateLeader, r1.state)
				assert.ErrorIs(t, c.propose(1, "x"), ErrProposalDropped)
				assert.ErrorIs(t, c.node(1).rn.ProposeConfChange(pb.ConfChange{Type: pb.ConfChangeAddNode, NodeID: 1}),
					ErrProposalDropped)
				// A proposal forwarded to it is dropped too.
				c.stepErrs = nil
				require.NoError(t, c.propose(2, "y"))
				c.stabilize()
				require.Len(t, c.stepErrs, 1)
				assert.ErrorIs(t, c.stepErrs[0], ErrProposalDropped)
				mtRequireNotApplied(t, c, "x", c.ids...)
				mtRequireNotApplied(t, c, "y", c.ids...)
				// The application shuts the removed node down.
				c.isolate(1)
			}

			// The removed node never campaigns, however long it waits.
			term := r1.Term
			require.NoError(t, c.node(1).rn.Campaign())
			for i := 0; i < 50; i++ {
				c.tickAll(1)
				if len(c.leaders()) > 0 && c.leaders()[0] != 1 {
					break
				}
			}
			assert.Equal(t, term, r1.Term, "node 1 never campaigned")
			var lead uint64
			for _, id := range c.leaders() {
				if id != 1 {
					lead = id
				}
			}
			require.NotEqual(t, None, lead, "2 or 3 became leader")
			require.NoError(t, c.propose(lead, "new leader"))
			c.stabilize()
			mtRequireApplied(t, c, "new leader", 2, 3)
			mtRequireConf(t, c, mtVoters(2, 3), 2, 3)
			mtTick(c, 1, 50)
			assert.Equal(t, term, r1.Term)
			assert.NotEqual(t, StateCandidate, r1.state)
			assert.NotEqual(t, StatePreCandidate, r1.state)
		})
	}
}

// TestMembershipLeaderDemotedStepsDown: a leader demoted to learner (which
// goes through a joint configuration, as it still votes in the outgoing
// half) steps down with StepDownOnRemoval once the joint configuration is
// left, and as a learner never campaigns again.
func TestMembershipLeaderDemotedStepsDown(t *testing.T) {
	c := mtNewCluster(t, 3, mtVoters(1, 2, 3), func(cfg *Config) { cfg.StepDownOnRemoval = true })
	c.elect(1)
	mtProposeCC(t, c, 1, pb.ConfChange{Type: pb.ConfChangeAddLearnerNode, NodeID: 1})
	c.stabilize()
	// ConfChange demoting a voter is a simple change: no joint state.
	mtRequireConf(t, c, pb.ConfState{Voters: []uint64{2, 3}, Learners: []uint64{1}}, c.ids...)
	r1 := c.node(1).raft()
	assert.Equal(t, StateFollower, r1.state)
	assert.True(t, r1.isLearner)

	c.isolate(1)
	for i := 0; i < 50 && len(c.leaders()) == 0; i++ {
		c.tickAll(1)
	}
	require.Len(t, c.leaders(), 1)
	lead := c.leaders()[0]
	require.NotEqual(t, uint64(1), lead)
	c.heal()
	mtTick(c, lead, 2)

	// Joint demotion of the new leader: it stays leader while joint (it
	// still votes in the outgoing half) and steps down when it leaves.
	other := 5 - lead
	steppedDown := false
	c.onReady = func(n *ctNode, rd Ready) {
		if n.id == lead && rd.SoftState != nil && rd.SoftState.RaftState != StateLeader {
			steppedDown = true
			assert.Equal(t, []uint64{lead}, mtConfState(c, lead).Learners, "stepped down before it was a learner")
		}
	}
	mtProposeCC(t, c, lead, mtV2(t, pb.ConfChangeTransitionJointImplicit, fmt.Sprintf("v1 l%d", lead)))
	c.stabilize()
	c.onReady = nil
	assert.True(t, steppedDown)
	mtRequireConf(t, c, pb.ConfState{Voters: []uint64{1, other}, Learners: []uint64{lead}}, c.ids...)
	assert.Equal(t, StateFollower, c.node(lead).raft().state)
	assert.False(t, c.node(lead).raft().promotable())
	for i := 0; i < 50 && len(c.leaders()) == 0; i++ {
		c.tickAll(1)
	}
	require.Len(t, c.leaders(), 1)
	assert.NotEqual(t, lead, c.leaders()[0])
}

// TestMembershipRemovedNodeCannotWin: a voter removed while partitioned,
// which has not heard of its removal, campaigns with its old configuration
// but cannot win: the remaining voters have a longer log.
func TestMembershipRemovedNodeCannotWin(t *testing.T) {
	c := mtNewCluster(t, 3, mtVoters(1, 2, 3))
	c.elect(1)
	c.isolate(3)
	mtProposeCC(t, c, 1, pb.ConfChange{Type: pb.ConfChangeRemoveNode, NodeID: 3})
	c.stabilize()
	mtRequireConf(t, c, mtVoters(1, 2), 1, 2)
	mtRequireConf(t, c, mtVoters(1, 2, 3), 3)
	c.heal()
	for i := 0; i < 5; i++ {
		c.campaign(3)
		assert.NotEqual(t, StateLeader, c.node(3).raft().state)
	}
	// The leader (1 or 2) carries on in the new configuration.
	mtTick(c, 1, 30)
	mtTick(c, 2, 30)
	leaders := c.leaders()
	require.Len(t, leaders, 1)
	assert.NotEqual(t, uint64(3), leaders[0])
	require.NoError(t, c.propose(leaders[0], "z"))
	c.stabilize()
	mtRequireApplied(t, c, "z", 1, 2)
}

// TestConfChangeNoCampaignWithUnappliedConfChange: a node with a committed
// conf change that the application has not applied yet does not campaign;
// once it is applied, it does.
func TestConfChangeNoCampaignWithUnappliedConfChange(t *testing.T) {
	s := ctStorage([]uint64{1, 2}, pb.HardState{Term: 1, Commit: 1})
	data, err := (&pb.ConfChange{Type: pb.ConfChangeRemoveNode, NodeID: 2}).Marshal()
	require.NoError(t, err)
	require.NoError(t, s.Append([]pb.Entry{{Index: 1, Term: 1, Type: pb.EntryConfChange, Data: data}}))
	rn := ctRawNode(t, 1, s)

	require.NoError(t, rn.Campaign())
	assert.Equal(t, StateFollower, rn.BasicStatus().RaftState)
	for i := 0; i < 30; i++ {
		rn.Tick()
	}
	assert.Equal(t, StateFollower, rn.BasicStatus().RaftState)

	rd := rn.Ready()
	require.Len(t, rd.CommittedEntries, 1)
	var cc pb.ConfChange
	require.NoError(t, cc.Unmarshal(rd.CommittedEntries[0].Data))
	assert.Equal(t, pb.ConfState{Voters: []uint64{1}}, *rn.ApplyConfChange(cc))
	rn.Advance(rd)
	require.NoError(t, rn.Campaign())
	assert.NotEqual(t, StateFollower, rn.BasicStatus().RaftState)
}

// TestLearnerReplicatesButNeverVotes: learners receive the log but their
// acknowledgements never count toward commit, and they never campaign.
func TestLearnerReplicatesButNeverVotes(t *testing.T) {
	t.Run("one voter and two learners", func(t *testing.T) {
		c := mtNewCluster(t, 3, pb.ConfState{Voters: []uint64{1}, Learners: []uint64{2, 3}})
		c.elect(1)
		// The voter commits alone, learners or not.
		c.isolate(1)
		require.NoError(t, c.propose(1, "alone"))
		c.stabilize()
		mtRequireApplied(t, c, "alone", 1)
		mtRequireNotApplied(t, c, "alone", 2, 3)
		// Back in touch, the learners get everything.
		c.heal()
		mtTick(c, 1, 2)
		mtRequireApplied(t, c, "alone", 2, 3)
		c.requireSameLogs(1, 2, 3)
		// Learners never campaign, not even without a leader for long.
		c.isolate(1)
		for _, id := range []uint64{2, 3} {
			require.NoError(t, c.node(id).rn.Campaign())
		}
		for i := 0; i < 100; i++ {
			c.tick(2, 3)
			c.stabilize()
		}
		for _, id := range []uint64{2, 3} {
			r := c.node(id).raft()
			assert.Equal(t, StateFollower, r.state, "learner %d", id)
			assert.Equal(t, uint64(1), r.Term, "learner %d", id)
			assert.True(t, r.isLearner)
		}
		assert.Zero(t, c.sent[pb.MsgVote]+c.sent[pb.MsgPreVote], "node 1 won alone; nobody else asked")
	})

	t.Run("three voters and a learner", func(t *testing.T) {
		c := mtNewCluster(t, 4, pb.ConfState{Voters: []uint64{1, 2, 3}, Learners: []uint64{4}})
		c.elect(1)
		// 3 down: 1 and 2 are two of three.
		c.isolate(3)
		require.NoError(t, c.propose(1, "two voters"))
		c.stabilize()
		mtRequireApplied(t, c, "two voters", 1, 2, 4)
		// 2 and 3 down: 1 and the learner are not a quorum, although the
		// learner has the entry.
		c.isolate(2)
		commit := mtCommitted(c, 1)
		require.NoError(t, c.propose(1, "voter and learner"))
		mtTick(c, 1, 3)
		assert.Equal(t, commit, mtCommitted(c, 1))
		assert.Equal(t, mtLast(c, 1).Index, c.node(1).rn.Status().Progress[4].Match, "the learner acknowledged")
		mtRequireNotApplied(t, c, "voter and learner", c.ids...)
		c.heal()
		c.isolate(3)
		mtTick(c, 1, 2)
		mtRequireApplied(t, c, "voter and learner", 1, 2, 4)
	})
}

// TestLearnerAnswersVotesThatDoNotCount: a learner grants or rejects a vote
// request by the usual rules, but a candidate does not count its vote.
func TestLearnerAnswersVotesThatDoNotCount(t *testing.T) {
	c := mtNewCluster(t, 4, pb.ConfState{Voters: []uint64{1, 2, 3}, Learners: []uint64{4}})
	c.elect(1)
	require.NoError(t, c.propose(1, "x"))
	c.stabilize()
	var answers []pb.Message
	c.filter = func(m *pb.Message) bool {
		if m.From == 4 && m.Type == pb.MsgVoteResp {
			answers = append(answers, *m)
		}
		return true
	}

	// 2 campaigns with 1 and 3 away; the learner, asked directly, grants.
	c.isolate(1)
	c.isolate(3)
	c.campaign(2)
	r2 := c.node(2).raft()
	require.Equal(t, StateCandidate, r2.state)
	last, lastTerm := r2.raftLog.lastIndex(), r2.raftLog.lastTerm()
	require.NoError(t, c.node(4).rn.Step(pb.Message{Type: pb.MsgVote, From: 2, To: 4, Term: r2.Term,
		Index: last, LogTerm: lastTerm}))
	c.stabilize()
	require.Len(t, answers, 1)
	assert.False(t, answers[0].Reject)
	assert.True(t, r2.trk.Votes[4], "the grant reached the candidate")
	assert.Equal(t, StateCandidate, r2.state, "2 (self) and a learner are not a majority of {1, 2, 3}")
	granted, _, _ := r2.trk.TallyVotes()
	assert.Equal(t, 1, granted)

	// A candidate with a shorter log is refused.
	require.NoError(t, c.node(4).rn.Step(pb.Message{Type: pb.MsgVote, From: 3, To: 4, Term: r2.Term + 1,
		Index: 1, LogTerm: 1}))
	c.stabilize()
	require.Len(t, answers, 2)
	assert.True(t, answers[1].Reject)
	assert.Equal(t, r2.Term+1, answers[1].Term)
}

// TestLearnerPromotionAndDemotion: AddNode on a caught-up learner makes it a
// voter whose acknowledgements count; a voter demoted while joint waits in
// LearnersNext and becomes a learner when the joint configuration is left.
func TestLearnerPromotionAndDemotion(t *testing.T) {
	c := mtNewCluster(t, 4, mtVoters(1, 2, 3))
	c.elect(1)
	mtProposeCC(t, c, 1, pb.ConfChange{Type: pb.ConfChangeAddLearnerNode, NodeID: 4})
	c.stabilize()
	require.NoError(t, c.propose(1, "x"))
	c.stabilize()
	mtRequireConf(t, c, pb.ConfState{Voters: []uint64{1, 2, 3}, Learners: []uint64{4}}, c.ids...)
	assert.Equal(t, c.logOf(1), c.logOf(4), "the learner is caught up")
	assert.False(t, c.node(4).raft().promotable())

	mtProposeCC(t, c, 1, pb.ConfChange{Type: pb.ConfChangeAddNode, NodeID: 4})
	c.stabilize()
	mtRequireConf(t, c, mtVoters(1, 2, 3, 4), c.ids...)
	assert.True(t, c.node(4).raft().promotable())
	assert.False(t, c.node(4).raft().isLearner)

	// 3 and 4 away: 1 and 2 are two of four, not a quorum.
	c.isolate(3)
	c.isolate(4)
	commit := mtCommitted(c, 1)
	require.NoError(t, c.propose(1, "needs 4"))
	mtTick(c, 1, 3)
	assert.Equal(t, commit, mtCommitted(c, 1))
	// 4 returns: its acknowledgement is the third vote.
	c.heal()
	c.isolate(3)
	mtTick(c, 1, 3)
	mtRequireApplied(t, c, "needs 4", 1, 2, 4)
	c.heal()
	mtTick(c, 1, 3)

	// Demote 3 in a joint change: it votes in the outgoing half until the
	// joint configuration is left, so it waits in LearnersNext.
	mtProposeCC(t, c, 1, mtV2(t, pb.ConfChangeTransitionJointExplicit, "l3"))
	c.stabilize()
	mtRequireConf(t, c, pb.ConfState{Voters: []uint64{1, 2, 4}, VotersOutgoing: []uint64{1, 2, 3, 4},
		LearnersNext: []uint64{3}}, c.ids...)
	assert.True(t, c.node(3).raft().promotable(), "still an outgoing voter")
	assert.False(t, c.node(1).rn.Status().Progress[3].IsLearner)

	mtProposeCC(t, c, 1, pb.ConfChangeV2{})
	c.stabilize()
	mtRequireConf(t, c, pb.ConfState{Voters: []uint64{1, 2, 4}, Learners: []uint64{3}}, c.ids...)
	assert.False(t, c.node(3).raft().promotable())
	assert.True(t, c.node(3).raft().isLearner)
	assert.True(t, c.node(1).rn.Status().Progress[3].IsLearner)
}

// mtJointCS is the joint configuration {1, 4, 5} && {1, 2, 3} of the
// quorum tests.
var mtJointCS = pb.ConfState{Voters: []uint64{1, 4, 5}, VotersOutgoing: []uint64{1, 2, 3}}

// TestJointConfigElectionNeedsBothMajorities: in a joint configuration a
// candidate (or pre-candidate) wins only with a majority of each half.
func TestJointConfigElectionNeedsBothMajorities(t *testing.T) {
	for _, tc := range []struct {
		name      string
		candidate uint64
		reachable []uint64
		preVote   bool
	}{
		{"incoming majority only", 4, []uint64{1, 4, 5}, false},
		{"outgoing majority only", 2, []uint64{1, 2, 3}, false},
		{"PreVote/incoming majority only", 4, []uint64{1, 4, 5}, true},
		{"PreVote/outgoing majority only", 2, []uint64{1, 2, 3}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := mtNewCluster(t, 5, mtJointCS, func(cfg *Config) { cfg.PreVote = tc.preVote })
			var others []uint64
			for _, id := range c.ids {
				if !slices.Contains(tc.reachable, id) {
					others = append(others, id)
				}
			}
			c.partition(tc.reachable, others)
			c.campaign(tc.candidate)
			r := c.node(tc.candidate).raft()
			if tc.preVote {
				assert.Equal(t, StatePreCandidate, r.state)
			} else {
				assert.Equal(t, StateCandidate, r.state)
			}
			granted, rejected, _ := r.trk.TallyVotes()
			assert.Equal(t, 3, granted, "every reachable voter granted")
			assert.Zero(t, rejected)
			assert.Empty(t, c.leaders())

			c.heal()
			c.elect(tc.candidate)
			mtRequireConf(t, c, mtJointCS, c.ids...)
		})
	}
}

// TestJointConfigCheckQuorum: with CheckQuorum a leader in a joint
// configuration steps down when either half lacks a quorum of recently
// active voters.
func TestJointConfigCheckQuorum(t *testing.T) {
	for _, tc := range []struct {
		name     string
		groups   [][]uint64
		stepDown bool
	}{
		{"one incoming voter away", [][]uint64{{1, 2, 3, 4}, {5}}, false},
		{"outgoing half cut off", [][]uint64{{1, 4, 5}, {2, 3}}, true},
		{"incoming half cut off", [][]uint64{{1, 2, 3}, {4, 5}}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := mtNewCluster(t, 5, mtJointCS, func(cfg *Config) { cfg.CheckQuorum = true })
			c.elect(1)
			c.partition(tc.groups...)
			mtTick(c, 1, 2*c.node(1).cfg.ElectionTick)
			if tc.stepDown {
				assert.Equal(t, StateFollower, c.node(1).raft().state)
			} else {
				assert.Equal(t, StateLeader, c.node(1).raft().state)
			}
		})
	}
}

// TestJointConfigReadIndex: under ReadOnlySafe a leader in a joint
// configuration confirms a read only with heartbeat acknowledgements from a
// majority of each half.
func TestJointConfigReadIndex(t *testing.T) {
	for _, tc := range []struct {
		name   string
		groups [][]uint64
	}{
		{"incoming majority only", [][]uint64{{1, 4, 5}, {2, 3}}},
		{"outgoing majority only", [][]uint64{{1, 2, 3}, {4, 5}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := mtNewCluster(t, 5, mtJointCS)
			c.elect(1)
			require.NoError(t, c.propose(1, "x"))
			c.stabilize()
			c.partition(tc.groups...)
			c.node(1).rn.ReadIndex([]byte("read"))
			mtTick(c, 1, 3)
			assert.Empty(t, c.takeReadStates(1), "one half did not confirm")

			c.heal()
			mtTick(c, 1, 1)
			assert.Equal(t, []ReadState{{Index: mtCommitted(c, 1), RequestCtx: []byte("read")}}, c.takeReadStates(1))
		})
	}
}

// mtTrackerConfig is the tracker.Config a ConfState describes.
func mtTrackerConfig(cs pb.ConfState) tracker.Config {
	set := func(ids []uint64) map[uint64]struct{} {
		if len(ids) == 0 {
			return nil
		}
		m := map[uint64]struct{}{}
		for _, id := range ids {
			m[id] = struct{}{}
		}
		return m
	}
	cfg := tracker.Config{AutoLeave: cs.AutoLeave, Learners: set(cs.Learners), LearnersNext: set(cs.LearnersNext)}
	cfg.Voters[0] = set(cs.Voters)
	cfg.Voters[1] = set(cs.VotersOutgoing)
	return cfg
}

// TestConfChangeRestartInJointConfig: a node restarted from a snapshot
// whose ConfState is joint (outgoing voters, LearnersNext, AutoLeave)
// reports exactly that configuration.
func TestConfChangeRestartInJointConfig(t *testing.T) {
	t.Run("from storage", func(t *testing.T) {
		cs := pb.ConfState{Voters: []uint64{1, 2, 4}, VotersOutgoing: []uint64{1, 2, 3},
			Learners: []uint64{5}, LearnersNext: []uint64{3}, AutoLeave: true}
		s := NewMemoryStorage()
		require.NoError(t, s.ApplySnapshot(pb.Snapshot{Metadata: pb.SnapshotMetadata{Index: 10, Term: 2, ConfState: cs}}))
		require.NoError(t, s.SetHardState(pb.HardState{Term: 2, Commit: 10}))
		for i := 0; i < 2; i++ {
			rn := ctRawNode(t, 1, s)
			assert.Equal(t, mtTrackerConfig(cs), rn.Status().Config)
			assert.Equal(t, cs, rn.raft.trk.ConfState())
			learners := map[uint64]bool{}
			rn.WithProgress(func(id uint64, typ ProgressType, _ tracker.Progress) {
				learners[id] = typ == ProgressTypeLearner
			})
			assert.Equal(t, map[uint64]bool{1: false, 2: false, 3: false, 4: false, 5: true}, learners,
				"3 votes in the outgoing half until the joint configuration is left")
		}
	})

	// A cluster moving {1, 2, 3} + learner 5 to {1, 2, 4} + learners 3, 5
	// with an implicit joint change, held in the joint configuration.
	want := pb.ConfState{Voters: []uint64{1, 2, 4}, VotersOutgoing: []uint64{1, 2, 3},
		Learners: []uint64{5}, LearnersNext: []uint64{3}, AutoLeave: true}
	final := pb.ConfState{Voters: []uint64{1, 2, 4}, Learners: []uint64{3, 5}}
	newJointCluster := func(t *testing.T) *ctCluster {
		c := mtNewCluster(t, 5, pb.ConfState{Voters: []uint64{1, 2, 3}, Learners: []uint64{5}})
		c.elect(1)
		c.filter = mtHoldLeaveEntries
		mtProposeCC(t, c, 1, mtV2(t, pb.ConfChangeTransitionJointImplicit, "v4 l3"))
		c.stabilize()
		// 4 never got the joint entry: its first MsgApp would carry the
		// leave entry as well.
		mtRequireConf(t, c, want, 1, 2, 3, 5)
		return c
	}

	t.Run("follower crashes while joint", func(t *testing.T) {
		c := newJointCluster(t)
		c.compact(2)
		snap, err := c.node(2).storage.Snapshot()
		require.NoError(t, err)
		require.Equal(t, want, snap.Metadata.ConfState)
		c.crash(2)
		assert.Equal(t, mtTrackerConfig(want), c.node(2).rn.Status().Config)
		assert.Equal(t, want, c.node(2).raft().trk.ConfState())

		// The leave entry gets through: everyone, the restarted node too,
		// leaves the joint configuration.
		c.filter = nil
		mtTick(c, 1, 3)
		mtRequireConf(t, c, final, c.ids...)
	})

	t.Run("leader crashes while joint", func(t *testing.T) {
		c := newJointCluster(t)
		c.compact(1)
		c.crash(1)
		assert.Equal(t, mtTrackerConfig(want), c.node(1).rn.Status().Config)
		c.filter = nil
		// The others elect a leader among themselves, which proposes the
		// leave entry itself.
		c.isolate(1)
		for i := 0; i < 50 && len(c.leaders()) == 0; i++ {
			c.tickAll(1)
		}
		require.Len(t, c.leaders(), 1)
		lead := c.leaders()[0]
		c.heal()
		mtTick(c, lead, 3)
		mtRequireConf(t, c, final, c.ids...)
		leaves := 0
		for _, e := range c.logOf(lead) {
			if e.Type == pb.EntryConfChangeV2 && e.Data == nil {
				leaves++
				assert.Equal(t, c.node(lead).raft().Term, e.Term, "proposed by the new leader")
			}
		}
		assert.Equal(t, 1, leaves)
	})
}

// mtHoldLeaveEntries is a network filter that loses every message carrying
// a leave-joint entry (EntryConfChangeV2 with nil Data), so that followers
// stay in a joint configuration.
func mtHoldLeaveEntries(m *pb.Message) bool {
	for _, e := range m.Entries {
		if e.Type == pb.EntryConfChangeV2 && e.Data == nil {
			return false
		}
	}
	return true
}

// TestConfChangeBootstrap: Bootstrap writes one committed AddNode entry per
// peer at term 1, indexes 1..n, carrying the peer's Context; applying them
// again from CommittedEntries changes nothing, and the cluster then works.
func TestConfChangeBootstrap(t *testing.T) {
	storages := map[uint64]*MemoryStorage{}
	for _, id := range ctIDs(3) {
		storages[id] = NewMemoryStorage()
	}
	c := ctNewClusterFromStorage(t, storages)
	peers := []Peer{{ID: 1, Context: []byte("one")}, {ID: 2}, {ID: 3, Context: []byte("three")}}
	for _, id := range c.ids {
		require.NoError(t, c.node(id).rn.Bootstrap(peers))
		mtRequireConf(t, c, mtVoters(1, 2, 3), id)
	}
	first := map[uint64]Ready{}
	c.onReady = func(n *ctNode, rd Ready) {
		if _, ok := first[n.id]; !ok {
			first[n.id] = rd
		}
	}
	c.stabilize()
	for _, id := range c.ids {
		rd := first[id]
		assert.Equal(t, pb.HardState{Term: 1, Commit: 3}, rd.HardState, "node %d", id)
		require.Len(t, rd.Entries, 3)
		assert.Equal(t, rd.Entries, rd.CommittedEntries)
		for i, e := range rd.Entries {
			assert.Equal(t, pb.EntryConfChange, e.Type)
			assert.Equal(t, uint64(1), e.Term)
			assert.Equal(t, uint64(i+1), e.Index)
			var cc pb.ConfChange
			require.NoError(t, cc.Unmarshal(e.Data))
			assert.Equal(t, pb.ConfChange{Type: pb.ConfChangeAddNode, NodeID: peers[i].ID, Context: peers[i].Context}, cc)
			// Applying once more is still harmless.
			assert.Equal(t, mtVoters(1, 2, 3), *c.node(id).rn.ApplyConfChange(cc))
		}
		assert.Equal(t, uint64(3), c.node(id).appliedIndex, "the harness applied them through ApplyConfChange")
	}
	mtRequireConf(t, c, mtVoters(1, 2, 3), c.ids...)
	c.elect(2)
	require.NoError(t, c.propose(3, "x"))
	c.stabilize()
	mtRequireApplied(t, c, "x", c.ids...)
	c.requireSameLogs(c.ids...)
}
