package raft

// Leadership transfer (thesis §3.10) as scenarios is in testdata/transfer_*.txt
// and testdata/forget_leader*.txt; here the rule that only a voting follower
// acts on MsgTimeoutNow.

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	pb "github.com/pontoon-raft/raft/raftpb"
)

// TestTimeoutNowIgnoredUnlessVotingFollower: candidates, pre-candidates and
// learners ignore MsgTimeoutNow, even from their leader.
func TestTimeoutNowIgnoredUnlessVotingFollower(t *testing.T) {
	for _, st := range []StateType{StateCandidate, StatePreCandidate} {
		r := newRaftInState(t, st, func(cfg *Config) { cfg.PreVote = st == StatePreCandidate })
		term := r.Term
		require.NoError(t, r.Step(pb.Message{Type: pb.MsgTimeoutNow, From: 2, To: r.id, Term: r.Term}))
		assert.Equal(t, st, r.state)
		assert.Equal(t, term, r.Term)
		assert.Empty(t, takeMsgs(r))
	}

	s := NewMemoryStorage()
	s.snapshot.Metadata.ConfState = pb.ConfState{Voters: []uint64{1, 2, 3}, Learners: []uint64{4}}
	learner := newTestRaft(t, 4, s)
	learner.becomeFollower(1, 1)
	require.NoError(t, learner.Step(pb.Message{Type: pb.MsgTimeoutNow, From: 1, To: 4, Term: 1}))
	assert.Equal(t, StateFollower, learner.state)
	assert.Equal(t, uint64(1), learner.Term)
	assert.Empty(t, takeMsgs(learner))
}
