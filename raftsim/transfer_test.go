package raftsim

import (
	"testing"

	"github.com/pontoon-raft/raft"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestLeaderTransfersUnderFaults asks leaders for transfers while every
// other fault is injected too, and checks that invariants hold and that
// transfers do succeed.
func TestLeaderTransfersUnderFaults(t *testing.T) {
	faults := AllFaults()
	faults.TransferLeaderProb = 0.01
	asked, succeeded := 0, 0
	for seed := int64(1); seed <= 12; seed++ {
		res, err := Run(Options{Nodes: 3 + 2*int(seed%2), Seed: seed, Steps: 1500, PreVote: seed%3 == 0,
			CheckQuorum: seed%4 < 2, Faults: faults})
		require.NoError(t, err, "seed %d", seed)
		asked += res.Faults[FaultTransferLeader]
		succeeded += res.TransfersSucceeded
	}
	assert.Positive(t, succeeded)
	assert.LessOrEqual(t, succeeded, asked)
	t.Logf("%d transfers asked, %d succeeded", asked, succeeded)
}

// TestScriptedTransfer moves leadership to a chosen follower of a quiet
// cluster and counts it once.
func TestScriptedTransfer(t *testing.T) {
	s, err := New(Options{Nodes: 5, Seed: 9, ProposeProb: -1, PreVote: true, CheckQuorum: true})
	require.NoError(t, err)
	v := s.View()
	stepUntil(t, s, 20000, func() bool { return leaderOf(v) != 0 })
	old := leaderOf(v)
	oldStatus, _ := v.Status(old)
	to := old%5 + 1
	require.NoError(t, s.do(func() {
		l := s.node(old)
		s.beginEvent(EventTransfer, l.id)
		s.res.Faults[FaultTransferLeader]++
		l.node.TransferLeader(to)
		s.transfers.pending = append(s.transfers.pending, transferRequest{from: old, to: to, term: l.status.Term,
			deadline: s.tick + 2*int64(s.opts.ElectionTick)})
	}))
	stepUntil(t, s, 20000, func() bool { return leaderOf(v) == to })
	st, _ := v.Status(to)
	assert.Greater(t, st.Term, oldStatus.Term)
	assert.Equal(t, 1, s.res.TransfersSucceeded)
	stOld, _ := v.Status(old)
	assert.Equal(t, raft.StateFollower, stOld.RaftState)
	require.NoError(t, s.CheckLiveness())
	assert.Equal(t, 1, s.Result().TransfersSucceeded)
}

// TestTransferNeedsALeaderAndAnotherVoter: the fault does nothing without
// a leader, or in a one-voter cluster.
func TestTransferNeedsALeaderAndAnotherVoter(t *testing.T) {
	s, err := New(Options{Nodes: 3, Seed: 1, ProposeProb: -1})
	require.NoError(t, err)
	assert.False(t, s.transferRandom(), "no leader yet")

	one, err := New(Options{Nodes: 1, Seed: 1, ProposeProb: -1})
	require.NoError(t, err)
	stepUntil(t, one, 2000, func() bool { return one.leader() != nil })
	assert.False(t, one.transferRandom(), "no other voter")
	assert.Zero(t, one.res.Faults[FaultTransferLeader])
}
