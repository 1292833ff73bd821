package raft

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	pb "github.com/pontoon-raft/raft/raftpb"
)

// TestReadIndexDemotedLeaderIsNotSoleVoter: a leader demoted to learner
// (without StepDownOnRemoval it keeps leading) in a configuration whose one
// voter is another node must not answer reads at once as a sole voter
// would: that voter may already lead a newer term and have committed
// writes the read would miss. Found by the mixed-cluster sweep in compat/.
func TestReadIndexDemotedLeaderIsNotSoleVoter(t *testing.T) {
	c := ctNewCluster(t, 2)
	c.elect(2)
	require.NoError(t, c.node(2).rn.ProposeConfChange(pb.ConfChange{Type: pb.ConfChangeAddLearnerNode, NodeID: 2}))
	c.stabilize()
	leader := c.node(2).raft()
	require.Equal(t, StateLeader, leader.state)
	require.Equal(t, map[uint64]struct{}{1: {}}, leader.trk.Config.Voters.IDs())
	require.True(t, leader.trk.IsSingleton())
	require.True(t, leader.isLearner)

	c.node(2).rn.ReadIndex([]byte("stale?"))
	assert.Empty(t, leader.readStates, "a learner leader answered a read without asking the voter")
	rd := c.node(2).rn.Ready()
	assert.Empty(t, rd.ReadStates)
	c.node(2).rn.Advance(rd)
}

// TestReadIndexRemovedLeaderIsNotSoleVoter: the same for a leader removed
// from the configuration altogether.
func TestReadIndexRemovedLeaderIsNotSoleVoter(t *testing.T) {
	c := ctNewCluster(t, 2)
	c.elect(2)
	require.NoError(t, c.node(2).rn.ProposeConfChange(pb.ConfChange{Type: pb.ConfChangeRemoveNode, NodeID: 2}))
	c.stabilize()
	leader := c.node(2).raft()
	require.Equal(t, StateLeader, leader.state)
	require.True(t, leader.trk.IsSingleton())
	require.False(t, leader.isLearner)

	c.node(2).rn.ReadIndex([]byte("stale?"))
	assert.Empty(t, leader.readStates, "a removed leader answered a read without asking the voter")
}
