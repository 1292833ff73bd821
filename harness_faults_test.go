package raft

// The faults and checks TestRandomizedClusterSafety (harness_test.go) drives
// the harness with: compaction, random delivery, role changes, and the
// Election Safety and linearizable-read checks.

import (
	"fmt"
	"math/rand"

	"github.com/stretchr/testify/require"

	pb "github.com/pontoon-raft/raft/raftpb"
)

// compact snapshots node id's state machine at its applied index and drops
// the log up to there, as an application does to bound its log.
func (c *ctCluster) compact(id uint64) {
	c.t.Helper()
	n := c.nodes[id]
	// With AsyncStorageWrites entries may be applied before the HardState
	// that commits them is durable; a snapshot beyond the durable commit
	// index would make the storage inconsistent (NewRawNode refuses it).
	// The configuration is known only as of the applied index, so the
	// snapshot is taken there or not at all.
	index := n.appliedIndex
	first, _ := n.storage.FirstIndex()
	if index < first || index > n.lastHardState.Commit {
		return
	}
	cs := n.raft().trk.ConfState()
	_, err := n.storage.CreateSnapshot(index, &cs, []byte(fmt.Sprint("state@", index)))
	require.NoError(c.t, err)
	require.NoError(c.t, n.storage.Compact(index))
}

// deliverRandomly delivers the queued messages in a random order, losing
// some and keeping some back for later.
func (c *ctCluster) deliverRandomly(rng *rand.Rand) {
	msgs := c.queue
	c.queue = nil
	rng.Shuffle(len(msgs), func(i, j int) { msgs[i], msgs[j] = msgs[j], msgs[i] })
	for _, m := range msgs {
		switch p := rng.Intn(10); {
		case p == 0:
			c.drop(m)
		case p == 1:
			c.queue = append(c.queue, m)
		default:
			c.deliverOne(m)
		}
	}
}

// checkElectionSafety records the leader of every term seen and fails if a
// term has two (§5.2, Election Safety).
func (c *ctCluster) checkElectionSafety(leaderOf map[uint64]uint64) {
	c.t.Helper()
	for _, id := range c.ids {
		r := c.nodes[id].raft()
		if r.state != StateLeader {
			continue
		}
		if prev, ok := leaderOf[r.Term]; ok && prev != id {
			c.t.Fatalf("Election Safety: nodes %d and %d both lead term %d", prev, id, r.Term)
		}
		leaderOf[r.Term] = id
	}
}

// maxCommitted returns the highest commit index of any node: every entry up
// to it is committed in the cluster.
func (c *ctCluster) maxCommitted() uint64 {
	var m uint64
	for _, id := range c.ids {
		m = max(m, c.nodes[id].raft().raftLog.committed)
	}
	return m
}

// checkReads checks that every ReadIndex answer is linearizable: its index
// covers every entry committed before the request was made (thesis §6.4).
func (c *ctCluster) checkReads(readFloor map[string]uint64) {
	c.t.Helper()
	for _, id := range c.ids {
		for _, rs := range c.takeReadStates(id) {
			floor, ok := readFloor[string(rs.RequestCtx)]
			require.True(c.t, ok, "node %d got an answer to an unknown read %q", id, rs.RequestCtx)
			require.GreaterOrEqual(c.t, rs.Index, floor,
				"read %q answered at index %d, below the commit index %d when it was made", rs.RequestCtx, rs.Index, floor)
			delete(readFloor, string(rs.RequestCtx))
		}
	}
}

// proposeRoleChange asks the node that believes it leads to turn a random
// node from voter into learner or back, with a simple or a joint change,
// keeping at least three voters.
func (c *ctCluster) proposeRoleChange(rng *rand.Rand) {
	leaders := c.leaders()
	if len(leaders) == 0 {
		return
	}
	l := c.nodes[leaders[rng.Intn(len(leaders))]]
	cfg := l.raft().trk.Config
	target := c.ids[rng.Intn(len(c.ids))]
	typ := pb.ConfChangeAddNode
	if _, isVoter := cfg.Voters[0][target]; isVoter {
		if len(cfg.Voters[0]) <= 3 {
			return
		}
		typ = pb.ConfChangeAddLearnerNode
	}
	var cc pb.ConfChangeI = pb.ConfChange{Type: typ, NodeID: target}
	if rng.Intn(2) == 0 {
		cc = pb.ConfChangeV2{Transition: pb.ConfChangeTransitionJointImplicit,
			Changes: []pb.ConfChangeSingle{{Type: typ, NodeID: target}}}
	}
	_ = l.rn.ProposeConfChange(cc)
}
