package raft

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	pb "github.com/pontoon-raft/raft/raftpb"
)

// rtIndexOf returns the position of the first message in msgs matching
// typ/from/to, or -1.
func rtIndexOf(msgs []pb.Message, typ pb.MessageType, from, to uint64) int {
	for i, m := range msgs {
		if m.Type == typ && m.From == from && m.To == to {
			return i
		}
	}
	return -1
}

// rtLagging returns a 3-node cluster led by 1 in which node 3 missed the
// last entry.
func rtLagging(t *testing.T, opts ...func(*Config)) *ctCluster {
	t.Helper()
	c := rtLeaderCluster(t, 3, opts...)
	c.isolate(3)
	require.NoError(t, c.propose(1, "missed-by-3"))
	c.stabilize()
	c.heal()
	require.Less(t, c.node(3).raft().raftLog.lastIndex(), c.node(1).raft().raftLog.lastIndex())
	c.resetCounters()
	return c
}

// TestTransferLeaderToUpToDateFollower: MsgTimeoutNow goes out at once; the
// transferee campaigns for real (no PreVote) with the transfer marker, which
// lets it past the lease the other follower holds under CheckQuorum.
func TestTransferLeaderToUpToDateFollower(t *testing.T) {
	for _, tt := range []struct {
		name                 string
		checkQuorum, preVote bool
	}{
		{"plain", false, false},
		{"checkquorum", true, false},
		{"prevote", false, true},
		{"prevote+checkquorum", true, true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c := rtLeaderCluster(t, 3, func(cfg *Config) { cfg.CheckQuorum = tt.checkQuorum; cfg.PreVote = tt.preVote })
			follower3 := c.node(3).raft()
			require.Equal(t, uint64(1), follower3.lead)
			require.Less(t, follower3.electionElapsed, follower3.electionTimeoutTicks, "3 holds the leader's lease")

			c.record = true
			c.node(1).rn.TransferLeader(2)
			leader := c.node(1).raft()
			assert.Equal(t, uint64(2), leader.leadTransferee)
			assert.Equal(t, []pb.Message{{Type: pb.MsgTimeoutNow, From: 1, To: 2, Term: 1}}, leader.msgs,
				"2 is up to date: MsgTimeoutNow right away")
			c.stabilize()

			assert.Equal(t, []uint64{2}, c.leaders())
			for _, id := range c.ids {
				assert.Equal(t, uint64(2), c.node(id).raft().Term, "node %d", id)
				assert.Equal(t, uint64(2), c.node(id).raft().lead, "node %d", id)
				assert.Equal(t, None, c.node(id).rn.BasicStatus().LeadTransferee, "node %d", id)
			}
			assert.Equal(t, uint64(2), follower3.Vote, "3 voted despite its lease")
			assert.Equal(t, -1, rtIndexOf(c.delivered, pb.MsgPreVote, 2, 1), "no PreVote phase")
			assert.Equal(t, -1, rtIndexOf(c.delivered, pb.MsgPreVote, 2, 3), "no PreVote phase")
			for _, to := range []uint64{1, 3} {
				i := rtIndexOf(c.delivered, pb.MsgVote, 2, to)
				require.NotEqual(t, -1, i)
				assert.Equal(t, "CampaignTransfer", string(c.delivered[i].Context))
				assert.Equal(t, uint64(2), c.delivered[i].Term)
			}

			require.NoError(t, c.propose(2, "after"))
			c.stabilize()
			for _, id := range c.ids {
				assert.Equal(t, []string{"a", "after"}, c.node(id).appliedData(), "node %d", id)
			}
		})
	}
}

// TestTransferLeaderToLaggingFollower: the leader first brings the
// transferee up to date and sends MsgTimeoutNow only once it matches.
func TestTransferLeaderToLaggingFollower(t *testing.T) {
	c := rtLagging(t)
	last := c.node(1).raft().raftLog.lastIndex()
	c.node(1).rn.TransferLeader(3)
	leader := c.node(1).raft()
	assert.Equal(t, uint64(3), leader.leadTransferee)
	require.Len(t, rtPick(leader.msgs, pb.MsgApp, 3), 1, "catch-up first")
	assert.Empty(t, rtPick(leader.msgs, pb.MsgTimeoutNow, None))

	c.record = true
	c.stabilize()
	timeoutNow := rtIndexOf(c.delivered, pb.MsgTimeoutNow, 1, 3)
	require.NotEqual(t, -1, timeoutNow)
	caughtUp := -1
	for i, m := range c.delivered {
		if m.Type == pb.MsgAppResp && m.From == 3 && !m.Reject && m.Index == last {
			caughtUp = i
			break
		}
	}
	require.NotEqual(t, -1, caughtUp)
	assert.Less(t, caughtUp, timeoutNow, "MsgTimeoutNow only after 3 matched the leader's log")
	assert.Equal(t, 1, c.sent[pb.MsgTimeoutNow])
	assert.Equal(t, []uint64{3}, c.leaders())
	assert.Equal(t, []string{"a", "missed-by-3"}, c.node(3).appliedData())
}

// TestTransferLeaderDropsProposals: while a transfer is in progress the
// leader refuses proposals, its own and forwarded ones.
func TestTransferLeaderDropsProposals(t *testing.T) {
	c := rtLeaderCluster(t, 3)
	c.isolate(3)
	c.node(1).rn.TransferLeader(3)
	require.Equal(t, uint64(3), c.node(1).raft().leadTransferee)

	assert.ErrorIs(t, c.propose(1, "x"), ErrProposalDropped)
	assert.ErrorIs(t, c.node(1).rn.ProposeConfChange(pb.ConfChange{Type: pb.ConfChangeAddLearnerNode, NodeID: 4}),
		ErrProposalDropped)
	require.NoError(t, c.propose(2, "forwarded"), "the follower forwards without knowing")
	c.stabilize()
	require.Len(t, c.stepErrs, 1)
	assert.ErrorIs(t, c.stepErrs[0], ErrProposalDropped)
	assert.Equal(t, uint64(2), c.node(1).raft().raftLog.lastIndex(), "nothing was appended")
}

// TestTransferLeaderAbortsAfterElectionTimeout: a transfer that does not
// finish within an election timeout is abandoned and proposals flow again.
func TestTransferLeaderAbortsAfterElectionTimeout(t *testing.T) {
	for _, checkQuorum := range []bool{false, true} {
		c := rtLeaderCluster(t, 3, func(cfg *Config) { cfg.CheckQuorum = checkQuorum })
		c.isolate(3)
		c.node(1).rn.TransferLeader(3)
		electionTick := c.node(1).cfg.ElectionTick
		for i := 0; i < electionTick-1; i++ {
			c.tick(1)
			c.stabilize()
		}
		require.Equal(t, uint64(3), c.node(1).rn.BasicStatus().LeadTransferee, "checkQuorum=%v", checkQuorum)
		require.ErrorIs(t, c.propose(1, "too-early"), ErrProposalDropped)
		c.tick(1)
		c.stabilize()
		assert.Equal(t, None, c.node(1).rn.BasicStatus().LeadTransferee, "checkQuorum=%v", checkQuorum)
		assert.Equal(t, []uint64{1}, c.leaders())
		require.NoError(t, c.propose(1, "b"))
		c.stabilize()
		assert.Equal(t, []string{"a", "b"}, c.node(2).appliedData())
		assert.Zero(t, c.sent[pb.MsgTimeoutNow]-c.dropped[pb.MsgTimeoutNow])
	}
}

// TestTransferLeaderAbortsWhenTransfereeRemoved: removing the transferee
// from the voters ends the transfer.
func TestTransferLeaderAbortsWhenTransfereeRemoved(t *testing.T) {
	for _, cc := range []pb.ConfChangeI{
		pb.ConfChange{Type: pb.ConfChangeRemoveNode, NodeID: 3},
		pb.ConfChange{Type: pb.ConfChangeAddLearnerNode, NodeID: 3}, // demotion
	} {
		c := rtLeaderCluster(t, 3)
		c.isolate(3)
		require.NoError(t, c.node(1).rn.ProposeConfChange(cc))
		c.processReadys() // the change is appended and sent, not yet committed
		c.node(1).rn.TransferLeader(3)
		require.Equal(t, uint64(3), c.node(1).raft().leadTransferee)
		c.stabilize() // 1 and 2 commit and apply the change
		assert.NotContains(t, c.node(1).raft().trk.Voters.IDs(), uint64(3))
		assert.Equal(t, None, c.node(1).rn.BasicStatus().LeadTransferee)
		assert.NoError(t, c.propose(1, "b"))
		assert.Equal(t, []uint64{1}, c.leaders())
	}

	// Removing another node leaves the transfer alone.
	c := rtLeaderCluster(t, 4)
	c.isolate(3)
	require.NoError(t, c.node(1).rn.ProposeConfChange(pb.ConfChange{Type: pb.ConfChangeRemoveNode, NodeID: 4}))
	c.processReadys()
	c.node(1).rn.TransferLeader(3)
	c.stabilize()
	require.NotContains(t, c.node(1).raft().trk.Voters.IDs(), uint64(4))
	assert.Equal(t, uint64(3), c.node(1).rn.BasicStatus().LeadTransferee)
}

// TestTransferLeaderRefused: no transfer to the leader itself, to a learner
// or to a node outside the configuration.
func TestTransferLeaderRefused(t *testing.T) {
	storages := map[uint64]*MemoryStorage{}
	for id := uint64(1); id <= 4; id++ {
		s := NewMemoryStorage()
		s.snapshot.Metadata.ConfState = pb.ConfState{Voters: []uint64{1, 2, 3}, Learners: []uint64{4}}
		storages[id] = s
	}
	c := ctNewClusterFromStorage(t, storages)
	c.elect(1)
	c.stabilize()
	c.resetCounters()
	for _, transferee := range []uint64{1, 4, 9} {
		c.node(1).rn.TransferLeader(transferee)
		assert.Equal(t, None, c.node(1).raft().leadTransferee, "transferee %d", transferee)
		assert.Empty(t, c.node(1).raft().msgs, "transferee %d", transferee)
		assert.NoError(t, c.propose(1, "ok"), "transferee %d", transferee)
		c.stabilize()
	}
	assert.Zero(t, c.sent[pb.MsgTimeoutNow])
	assert.Equal(t, []uint64{1}, c.leaders())

	// A learner that receives MsgTimeoutNow anyway does not campaign.
	require.NoError(t, c.node(4).rn.Step(pb.Message{Type: pb.MsgTimeoutNow, From: 1, To: 4, Term: 1}))
	assert.Equal(t, StateFollower, c.node(4).raft().state)
	assert.Equal(t, uint64(1), c.node(4).raft().Term)

	// Asking the leader to transfer to itself while a transfer is under way
	// cancels that transfer (as etcd/raft does).
	c.isolate(3)
	c.node(1).rn.TransferLeader(3)
	require.Equal(t, uint64(3), c.node(1).raft().leadTransferee)
	c.node(1).rn.TransferLeader(1)
	assert.Equal(t, None, c.node(1).raft().leadTransferee)
	assert.NoError(t, c.propose(1, "again"))
}

// TestTransferLeaderRepeatedAndReplaced: asking again for the same
// transferee changes nothing (not even the deadline); asking for another
// one replaces the transfer.
func TestTransferLeaderRepeatedAndReplaced(t *testing.T) {
	c := rtLeaderCluster(t, 3)
	c.isolate(3)
	leader := c.node(1).raft()
	electionTick := c.node(1).cfg.ElectionTick
	c.node(1).rn.TransferLeader(3)
	for i := 0; i < electionTick/2; i++ {
		c.tick(1)
		c.stabilize()
	}
	c.node(1).rn.TransferLeader(3)
	assert.Empty(t, leader.msgs, "a repeated request sends nothing")
	assert.Equal(t, electionTick/2, leader.electionElapsed, "and keeps the deadline")
	for i := electionTick / 2; i < electionTick; i++ {
		c.tick(1)
		c.stabilize()
	}
	assert.Equal(t, None, leader.leadTransferee, "aborted one election timeout after the first request")

	c.node(1).rn.TransferLeader(3)
	require.Equal(t, uint64(3), leader.leadTransferee)
	c.node(1).rn.TransferLeader(2)
	assert.Equal(t, uint64(2), leader.leadTransferee)
	assert.Len(t, rtPick(leader.msgs, pb.MsgTimeoutNow, 2), 1)
	c.stabilize()
	assert.Equal(t, []uint64{2}, c.leaders())
}

// TestTransferLeaderForwardedByFollower: a follower passes the request to
// its leader with From set to the transferee, as on the wire.
func TestTransferLeaderForwardedByFollower(t *testing.T) {
	c := rtLeaderCluster(t, 3)
	c.node(2).rn.TransferLeader(3)
	assert.Equal(t, []pb.Message{{Type: pb.MsgTransferLeader, From: 3, To: 1, Term: 1}}, c.node(2).raft().msgs)
	c.stabilize()
	assert.Equal(t, []uint64{3}, c.leaders())

	// The forwarder may be the transferee itself.
	c.node(1).rn.TransferLeader(1)
	assert.Equal(t, []pb.Message{{Type: pb.MsgTransferLeader, From: 1, To: 3, Term: 2}}, c.node(1).raft().msgs)
	c.stabilize()
	assert.Equal(t, []uint64{1}, c.leaders())

	// Without a leader the request is dropped.
	c2 := ctNewCluster(t, 3)
	c2.node(2).rn.TransferLeader(3)
	assert.Empty(t, c2.node(2).raft().msgs)
}

// TestTransferCandidateIgnoresTimeoutNow: only followers act on
// MsgTimeoutNow.
func TestTransferCandidateIgnoresTimeoutNow(t *testing.T) {
	for _, st := range []StateType{StateCandidate, StatePreCandidate} {
		r := ctRaftInState(t, st, func(cfg *Config) { cfg.PreVote = st == StatePreCandidate })
		term := r.Term
		ctTakeMsgs(r)
		require.NoError(t, r.Step(pb.Message{Type: pb.MsgTimeoutNow, From: 2, To: r.id, Term: r.Term}))
		assert.Equal(t, st, r.state)
		assert.Equal(t, term, r.Term)
		assert.Empty(t, ctTakeMsgs(r))
	}
}

// TestForgetLeader: a follower that forgets its leader can grant a vote at
// once instead of waiting out the CheckQuorum lease.
func TestForgetLeader(t *testing.T) {
	// Without forgetting, 2 ignores 3's campaign: it heard from 1 recently.
	c := rtLeaderCluster(t, 3, func(cfg *Config) { cfg.CheckQuorum = true })
	c.campaign(3)
	assert.Equal(t, []uint64{1}, c.leaders())
	assert.Equal(t, uint64(1), c.node(2).raft().Vote)

	c = rtLeaderCluster(t, 3, func(cfg *Config) { cfg.CheckQuorum = true })
	require.NoError(t, c.node(2).rn.ForgetLeader())
	f := c.node(2).raft()
	assert.Equal(t, None, f.lead)
	assert.Equal(t, StateFollower, f.state)
	assert.Equal(t, uint64(1), f.Term, "forgetting does not change the term")
	c.stabilize()
	c.campaign(3)
	assert.Equal(t, []uint64{3}, c.leaders())
	assert.Equal(t, uint64(3), f.Vote)

	// A forgotten leader is learned again from its next heartbeat.
	c = rtLeaderCluster(t, 3)
	require.NoError(t, c.node(2).rn.ForgetLeader())
	require.Equal(t, None, c.node(2).raft().lead)
	c.tickAll(c.node(1).cfg.HeartbeatTick)
	assert.Equal(t, uint64(1), c.node(2).raft().lead)

	// The leader itself ignores it.
	require.NoError(t, c.node(1).rn.ForgetLeader())
	assert.Equal(t, []uint64{1}, c.leaders())
	assert.Equal(t, uint64(1), c.node(1).raft().lead)
}

// TestForgetLeaderRefusedUnderLeaseBasedReads: forgetting the leader would
// let this node help elect another leader while the old one still serves
// reads from its lease.
func TestForgetLeaderRefusedUnderLeaseBasedReads(t *testing.T) {
	c := rtLeaderCluster(t, 3, func(cfg *Config) { cfg.CheckQuorum = true; cfg.ReadOnlyOption = ReadOnlyLeaseBased })
	require.NoError(t, c.node(2).rn.ForgetLeader())
	assert.Equal(t, uint64(1), c.node(2).raft().lead)
	// Node 3, cut off from node 1, campaigns once its election timeout
	// passes; node 2, which still hears from node 1, does not vote for it.
	c.cut[[2]uint64{1, 3}], c.cut[[2]uint64{3, 1}] = true, true
	for c.node(3).raft().state != StateCandidate {
		c.tickAll(1)
	}
	assert.Equal(t, []uint64{1}, c.leaders())
	assert.NotEqual(t, uint64(3), c.node(2).raft().Vote)
}
