package raft

// Tests of the rules every role follows for messages of a stale or a higher
// term.

import (
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	pb "github.com/pontoon-raft/raft/raftpb"
)

// TestStaleTermMessages checks the paper's Figure 2 "Reply false if term <
// currentTerm" and the exact answers to messages of a lower term: only MsgPreVote and,
// with CheckQuorum or PreVote, MsgApp/MsgHeartbeat get a reply, and nothing
// changes the receiver's state.
func TestStaleTermMessages(t *testing.T) {
	const ourTerm, staleTerm = 5, 3
	bareAppResp := []pb.Message{{Type: pb.MsgAppResp, From: 1, To: 2, Term: ourTerm}}
	preVoteReject := []pb.Message{{Type: pb.MsgPreVoteResp, From: 1, To: 2, Term: ourTerm, Reject: true}}
	voteReject := []pb.Message{{Type: pb.MsgVoteResp, From: 1, To: 2, Term: ourTerm, Reject: true}}
	for _, tt := range []struct {
		typ                  pb.MessageType
		checkQuorum, preVote bool
		want                 []pb.Message
	}{
		{typ: pb.MsgApp, want: bareAppResp},
		{typ: pb.MsgApp, checkQuorum: true, want: bareAppResp},
		{typ: pb.MsgApp, preVote: true, want: bareAppResp},
		{typ: pb.MsgHeartbeat, want: bareAppResp},
		{typ: pb.MsgHeartbeat, checkQuorum: true, want: bareAppResp},
		{typ: pb.MsgHeartbeat, preVote: true, want: bareAppResp},
		{typ: pb.MsgSnap, checkQuorum: true, preVote: true},
		{typ: pb.MsgVote, want: voteReject},
		{typ: pb.MsgVote, checkQuorum: true, preVote: true, want: voteReject},
		{typ: pb.MsgPreVote, want: preVoteReject},
		{typ: pb.MsgPreVote, checkQuorum: true, preVote: true, want: preVoteReject},
		{typ: pb.MsgAppResp, checkQuorum: true, preVote: true},
		{typ: pb.MsgVoteResp, checkQuorum: true, preVote: true},
		{typ: pb.MsgTimeoutNow, checkQuorum: true, preVote: true},
	} {
		t.Run(fmt.Sprintf("%s/cq=%v/pv=%v", tt.typ, tt.checkQuorum, tt.preVote), func(t *testing.T) {
			s := newTestStorage(votersConf(1, 2, 3), pb.HardState{Term: ourTerm, Commit: 1}, 1, 2)
			r := newTestRaft(t, 1, s, func(c *Config) { c.CheckQuorum, c.PreVote = tt.checkQuorum, tt.preVote })
			m := pb.Message{Type: tt.typ, From: 2, To: 1, Term: staleTerm,
				Index: 2, LogTerm: 2, Commit: 2, Entries: makeEnts(3, staleTerm)}
			if tt.typ == pb.MsgSnap {
				m = pb.Message{Type: tt.typ, From: 2, To: 1, Term: staleTerm, Snapshot: &pb.Snapshot{
					Metadata: pb.SnapshotMetadata{Index: 10, Term: staleTerm, ConfState: pb.ConfState{Voters: []uint64{1, 2, 3}}}}}
			}
			require.NoError(t, r.Step(m))

			assert.Equal(t, tt.want, takeMsgs(r))
			assert.Equal(t, StateFollower, r.state)
			assert.Equal(t, uint64(ourTerm), r.Term)
			assert.Equal(t, None, r.Vote)
			assert.Equal(t, None, r.lead)
			assert.Equal(t, uint64(2), r.raftLog.lastIndex(), "the stale message must not touch the log")
			assert.Equal(t, uint64(1), r.raftLog.committed)
		})
	}
}

// TestHigherTermMessages checks the rule for messages of a higher term:
// the receiver becomes a follower at that term, with the sender as leader
// only for MsgApp, MsgHeartbeat and MsgSnap, except that MsgPreVote and a
// granted MsgPreVoteResp never change the term.
func TestHigherTermMessages(t *testing.T) {
	for _, st := range []StateType{StateFollower, StatePreCandidate, StateCandidate, StateLeader} {
		for _, tt := range []struct {
			typ    pb.MessageType
			reject bool
			// keepsTerm: the message must leave term and role alone.
			keepsTerm bool
			wantLead  uint64
		}{
			{typ: pb.MsgApp, wantLead: 2},
			{typ: pb.MsgHeartbeat, wantLead: 2},
			{typ: pb.MsgSnap, wantLead: 2},
			{typ: pb.MsgVote, wantLead: None},
			{typ: pb.MsgAppResp, wantLead: None},
			{typ: pb.MsgHeartbeatResp, wantLead: None},
			{typ: pb.MsgVoteResp, reject: true, wantLead: None},
			{typ: pb.MsgPreVoteResp, reject: true, wantLead: None},
			{typ: pb.MsgReadIndexResp, wantLead: None},
			{typ: pb.MsgPreVote, keepsTerm: true},
			{typ: pb.MsgPreVoteResp, keepsTerm: true},
		} {
			t.Run(fmt.Sprintf("%s/%s/reject=%v", st, tt.typ, tt.reject), func(t *testing.T) {
				r := newRaftInState(t, st)
				before := r.Term
				higher := r.Term + 1
				// The log position is up to date so that votes could be
				// granted; a snapshot of committed entries is ignored.
				m := pb.Message{Type: tt.typ, From: 2, To: 1, Term: higher, Reject: tt.reject,
					Index: 100, LogTerm: higher}
				switch tt.typ {
				case pb.MsgApp:
					m.Index, m.LogTerm = 1, 1
				case pb.MsgSnap:
					m.Index, m.LogTerm, m.Snapshot = 0, 0, staleSnapshot()
				}
				require.NoError(t, r.Step(m))

				if tt.keepsTerm {
					assert.Equal(t, before, r.Term)
					assert.Equal(t, st, r.state)
					return
				}
				assert.Equal(t, higher, r.Term)
				assert.Equal(t, StateFollower, r.state)
				assert.Equal(t, tt.wantLead, r.lead)
			})
		}
	}
}

// TestStaleLeaderStepsDownOnBareAppResp: the bare MsgAppResp a node sends to
// a stale leader (see TestStaleTermMessages) deposes it.
func TestStaleLeaderStepsDownOnBareAppResp(t *testing.T) {
	r := newRaftInState(t, StateLeader, func(c *Config) { c.CheckQuorum = true })
	require.NoError(t, r.Step(pb.Message{Type: pb.MsgAppResp, From: 2, To: 1, Term: r.Term + 2}))
	assert.Equal(t, StateFollower, r.state)
	assert.Equal(t, uint64(5), r.Term)
	assert.Equal(t, None, r.lead)
}

// TestVoteRequestWithLowerTermRejectedWithOurTerm: a vote request from an
// earlier term is answered with a rejection carrying our term (paper Figure 2),
// so the candidate catches up instead of campaigning a term behind forever.
func TestVoteRequestWithLowerTermRejectedWithOurTerm(t *testing.T) {
	r := newRaftInState(t, StateFollower)
	r.Term = 5
	require.NoError(t, r.Step(pb.Message{Type: pb.MsgVote, From: 2, To: 1, Term: 3, LogTerm: 2, Index: 9}))
	var resps []pb.Message
	for _, m := range append(takeMsgs(r), r.msgsAfterAppend...) {
		if m.Type == pb.MsgVoteResp {
			resps = append(resps, m)
		}
	}
	require.Len(t, resps, 1)
	assert.Equal(t, pb.Message{Type: pb.MsgVoteResp, From: 1, To: 2, Term: 5, Reject: true}, resps[0])
	assert.Equal(t, uint64(5), r.Term)
	assert.Equal(t, None, r.Vote)
}
