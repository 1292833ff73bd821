package raft

import (
	"testing"

	pb "github.com/pontoon-raft/raft/raftpb"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Regressions found while simulating membership changes (raftsim).

// TestCampaignAbandonedWhenNodeLeavesVoters: a node campaigns, then applies
// a committed conf change that removes it or makes it a learner (its Ready
// loop applies entries while the election runs), then receives enough votes
// from the remaining voters. It must not become leader of a configuration
// in which it does not vote; before the fix a removed candidate panicked in
// becomeLeader (no progress of its own) and a demoted one became a leader
// that is a learner.
func TestCampaignAbandonedWhenNodeLeavesVoters(t *testing.T) {
	tests := []struct {
		name    string
		change  pb.ConfChangeType
		preVote bool
	}{
		{"removed candidate", pb.ConfChangeRemoveNode, false},
		{"demoted candidate", pb.ConfChangeAddLearnerNode, false},
		{"removed pre-candidate", pb.ConfChangeRemoveNode, true},
		{"demoted pre-candidate", pb.ConfChangeAddLearnerNode, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newTestStorage(votersConf(1, 2, 3), pb.HardState{Term: 1, Commit: 1}, 1)
			r := newTestRaft(t, 1, s, func(c *Config) { c.PreVote = tt.preVote })
			require.NoError(t, r.Step(pb.Message{Type: pb.MsgHup}))
			want := StateCandidate
			if tt.preVote {
				want = StatePreCandidate
			}
			require.Equal(t, want, r.state)
			campaignTerm := r.Term

			r.applyConfChange(pb.ConfChange{Type: tt.change, NodeID: 1}.AsV2())
			assert.Equal(t, StateFollower, r.state, "a node that no longer votes gives up its campaign")
			assert.Equal(t, campaignTerm, r.Term)

			resp, term := pb.MsgVoteResp, campaignTerm
			if tt.preVote {
				resp, term = pb.MsgPreVoteResp, campaignTerm+1
			}
			require.NotPanics(t, func() {
				for _, id := range []uint64{2, 3} {
					_ = r.Step(pb.Message{Type: resp, From: id, To: 1, Term: term})
				}
			})
			assert.NotEqual(t, StateLeader, r.state)
			assert.NotEqual(t, StateCandidate, r.state)
		})
	}
}

// TestSingleVoterReadAfterRestartWaitsForItsTerm: with asynchronous storage
// writes an entry may be applied, and its client answered, before the
// HardState recording its commit is durable. A sole voter that crashes
// then restarts with a commit index below that entry. Before the fix it
// answered ReadIndex at once with that stale commit index, so the read
// missed an acknowledged write; like any new leader it must first commit
// an entry of its own term.
func TestSingleVoterReadAfterRestartWaitsForItsTerm(t *testing.T) {
	s := newTestStorage(votersConf(1), pb.HardState{Term: 1, Commit: 1}, 1)
	rn := newTestRawNode(t, 1, s, asyncStorage, appliedAt(1))
	require.NoError(t, rn.Campaign())
	drain(t, rn, s)
	require.Equal(t, StateLeader, rn.raft.state)

	require.NoError(t, rn.Propose([]byte("x")))
	_, app, _, _ := takeAsyncReady(t, rn)
	require.NotNil(t, app)
	runAppend(t, rn, s, *app)
	_, _, apply, _ := takeAsyncReady(t, rn)
	require.NotNil(t, apply, "the write is committed and handed to the apply thread")
	written := apply.Entries[len(apply.Entries)-1].Index
	// The apply thread applies it and the client is answered; the node
	// crashes before the append thread writes the new commit index.
	hs, _, err := s.InitialState()
	require.NoError(t, err)
	require.Less(t, hs.Commit, written)

	rn = newTestRawNode(t, 1, s, asyncStorage, appliedAt(hs.Commit))
	require.NoError(t, rn.Campaign())
	_, app, _, _ = takeAsyncReady(t, rn)
	require.NotNil(t, app)
	runAppend(t, rn, s, *app)
	require.Equal(t, StateLeader, rn.raft.state)

	rn.ReadIndex([]byte("after restart"))
	var reads []ReadState
	for i := 0; rn.HasReady(); i++ {
		require.Less(t, i, 100)
		rd, app, apply, _ := takeAsyncReady(t, rn)
		reads = append(reads, rd.ReadStates...)
		if app != nil {
			runAppend(t, rn, s, *app)
		}
		if apply != nil {
			stepResponses(t, rn, apply.Responses)
		}
	}
	require.Len(t, reads, 1)
	assert.GreaterOrEqual(t, reads[0].Index, written, "the read must see the acknowledged write")
}
