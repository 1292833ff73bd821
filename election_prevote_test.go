package raft

// Tests of PreVote (thesis §9.6) and of CheckQuorum (thesis §6.2) with its
// lease (thesis §4.2.3). Leadership transfer past the lease is
// testdata/transfer_up_to_date_follower.txt.

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	pb "github.com/pontoon-raft/raft/raftpb"
)

// rejoinAfterPartition isolates node 3 of a three-node cluster, lets the
// others commit an entry, ticks node 3 alone for ten election timeouts, heals
// the partition and lets everything run for a few more. It returns the term
// node 3 had reached when it rejoined.
func rejoinAfterPartition(t *testing.T, c *cluster) uint64 {
	c.elect(1)
	c.isolate(3)
	require.NoError(t, c.propose(1, "while-3-was-away"))
	c.stabilize()
	for i := 0; i < 10*10; i++ {
		c.tick(3)
		c.stabilize()
	}
	termAtRejoin := c.node(3).raft().Term
	c.heal()
	c.tickAll(3 * 10)
	return termAtRejoin
}

// TestPreVotePreventsDisruptionByRejoiningNode: with PreVote a node that
// spent a long time partitioned neither raises its own term nor, on
// rejoining, the cluster's; the leader stays. Without PreVote the same node
// comes back with a much higher term and forces a new election.
func TestPreVotePreventsDisruptionByRejoiningNode(t *testing.T) {
	t.Run("prevote", func(t *testing.T) {
		c := newCluster(t, 3, func(cfg *Config) { cfg.PreVote = true })
		termAtRejoin := rejoinAfterPartition(t, c)
		assert.Equal(t, uint64(1), termAtRejoin, "pre-candidates do not raise their term")
		assert.Equal(t, []uint64{1}, c.leaders())
		for _, id := range c.ids {
			assert.Equal(t, uint64(1), c.node(id).raft().Term, "node %d", id)
			assert.Equal(t, uint64(1), c.node(id).raft().lead, "node %d", id)
		}
		assert.Equal(t, []string{"while-3-was-away"}, c.node(3).appliedData(), "node 3 caught up")
	})
	t.Run("no prevote", func(t *testing.T) {
		c := newCluster(t, 3)
		termAtRejoin := rejoinAfterPartition(t, c)
		assert.Greater(t, termAtRejoin, uint64(3), "a partitioned candidate keeps raising its term")
		leaders := c.leaders()
		require.Len(t, leaders, 1)
		assert.GreaterOrEqual(t, c.node(leaders[0]).raft().Term, termAtRejoin, "the cluster was dragged to the rejoining node's term")
		assert.NotEqual(t, uint64(3), leaders[0], "node 3's log is behind; it cannot win")
	})
}

// TestPreVoteMessages checks the pre-vote exchange: a pre-candidate asks for
// term+1 without moving to it or voting, voters answer without changing
// their term or vote, and winning the pre-vote starts the real election.
func TestPreVoteMessages(t *testing.T) {
	pv := func(c *Config) { c.PreVote = true }
	r := newRaftInState(t, StateFollower, pv)
	require.NoError(t, r.Step(pb.Message{Type: pb.MsgHup}))
	require.Equal(t, StatePreCandidate, r.state)
	assert.Equal(t, uint64(2), r.Term)
	assert.Equal(t, None, r.Vote)
	assert.Equal(t, pb.HardState{Term: 2, Commit: 1}, r.hardState())
	msgs := takeMsgs(r)
	assert.Equal(t, []pb.Message{
		{Type: pb.MsgPreVote, From: 1, To: 2, Term: 3, Index: 2, LogTerm: 2},
		{Type: pb.MsgPreVote, From: 1, To: 3, Term: 3, Index: 2, LogTerm: 2},
	}, msgs)

	// A voter at term 2 grants without moving.
	voter := newTestRaft(t, 2, newTestStorage(votersConf(1, 2, 3), pb.HardState{Term: 2, Commit: 1}, 1, 2), pv)
	require.NoError(t, voter.Step(msgs[0]))
	assert.Equal(t, []pb.Message{{Type: pb.MsgPreVoteResp, From: 2, To: 1, Term: 3}}, takeMsgs(voter))
	assert.Equal(t, uint64(2), voter.Term)
	assert.Equal(t, None, voter.Vote)
	assert.Equal(t, StateFollower, voter.state)

	// Our own pre-vote plus this grant win: the real election starts at 3.
	require.NoError(t, r.Step(pb.Message{Type: pb.MsgPreVoteResp, From: 1, To: 1, Term: 3}))
	require.Equal(t, StatePreCandidate, r.state)
	require.NoError(t, r.Step(pb.Message{Type: pb.MsgPreVoteResp, From: 2, To: 1, Term: 3}))
	assert.Equal(t, StateCandidate, r.state)
	assert.Equal(t, uint64(3), r.Term)
	assert.Equal(t, uint64(1), r.Vote)
	assert.Equal(t, []pb.MessageType{pb.MsgVote, pb.MsgVote}, msgTypes(takeMsgs(r)))
}

// TestCheckQuorumLeaderStepsDown: a leader cut off from the quorum steps
// down once a whole election timeout passed without hearing from a quorum,
// while the majority side elects a new leader.
func TestCheckQuorumLeaderStepsDown(t *testing.T) {
	const et = 10
	c := newCluster(t, 3, func(cfg *Config) { cfg.CheckQuorum = true })
	c.elect(1)
	c.isolate(1)
	// The followers answered within the first window, so the first check
	// passes; the second finds nobody active.
	for i := 0; i < 2*et-1; i++ {
		c.tick(1)
		c.stabilize()
	}
	require.Equal(t, StateLeader, c.node(1).raft().state)
	c.tick(1)
	c.stabilize()
	assert.Equal(t, StateFollower, c.node(1).raft().state)
	assert.Equal(t, uint64(1), c.node(1).raft().Term)
	assert.Equal(t, None, c.node(1).raft().lead)

	// Meanwhile the majority elects someone else.
	for i := 0; i < 3*et && len(c.leaders()) == 0; i++ {
		c.tick(2, 3)
		c.stabilize()
	}
	require.Len(t, c.leaders(), 1)
	assert.NotEqual(t, uint64(1), c.leaders()[0])
}

// TestCheckQuorumLease checks the lease (thesis §4.2.3): with CheckQuorum, a
// follower that heard from its leader within ElectionTick ticks drops
// MsgVote and MsgPreVote of a higher term silently, without changing its
// term, unless the request carries the leader-transfer context.
func TestCheckQuorumLease(t *testing.T) {
	const et = 10
	for _, tt := range []struct {
		name        string
		checkQuorum bool
		typ         pb.MessageType
		elapsed     int
		ctx         []byte
		ignored     bool
	}{
		{"vote in lease", true, pb.MsgVote, 0, nil, true},
		{"vote at end of lease", true, pb.MsgVote, et - 1, nil, true},
		{"vote after lease", true, pb.MsgVote, et, nil, false},
		{"prevote in lease", true, pb.MsgPreVote, 0, nil, true},
		{"prevote after lease", true, pb.MsgPreVote, et, nil, false},
		{"transfer vote in lease", true, pb.MsgVote, 0, []byte(campaignTransfer), false},
		{"other context in lease", true, pb.MsgVote, 0, []byte("x"), true},
		{"no check quorum", false, pb.MsgVote, 0, nil, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			s := newTestStorage(votersConf(1, 2, 3), pb.HardState{Term: 2, Commit: 1}, 1, 2)
			r := newTestRaft(t, 2, s, func(c *Config) { c.CheckQuorum = tt.checkQuorum })
			require.NoError(t, r.Step(pb.Message{Type: pb.MsgHeartbeat, From: 1, To: 2, Term: 2, Commit: 1}))
			takeMsgs(r)
			require.Equal(t, uint64(1), r.lead)
			r.electionElapsed = tt.elapsed

			require.NoError(t, r.Step(pb.Message{Type: tt.typ, From: 3, To: 2, Term: 3, Index: 2, LogTerm: 2, Context: tt.ctx}))
			msgs := takeMsgs(r)
			if tt.ignored {
				assert.Empty(t, msgs)
				assert.Equal(t, uint64(2), r.Term)
				assert.Equal(t, uint64(1), r.lead)
				return
			}
			require.Len(t, msgs, 1)
			assert.Equal(t, voteRespMsgType(tt.typ), msgs[0].Type)
			assert.False(t, msgs[0].Reject)
			if tt.typ == pb.MsgVote {
				assert.Equal(t, uint64(3), r.Term)
				assert.Equal(t, uint64(3), r.Vote)
			}
		})
	}
}
