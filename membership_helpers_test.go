package raft

// Scenario tests of membership changes (issue #5) on the ctCluster harness:
// proposing and applying ConfChange and ConfChangeV2, the one-pending-change
// rule, resizing under partitions, joint consensus and its quorums, leader
// removal, learners, restart in a joint configuration and Bootstrap.
//
// Helpers here carry the prefix "mt".

import (
	"math/rand"
	"slices"
	"testing"

	"github.com/stretchr/testify/require"

	pb "github.com/pontoon-raft/raft/raftpb"
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
