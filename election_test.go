package raft

import (
	"fmt"
	"math/rand"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	pb "github.com/pontoon-raft/raft/raftpb"
)

// Tests of leader election (paper §5.2, §5.4.1). PreVote (thesis §9.6) and
// CheckQuorum (thesis §6.2) are in election_prevote_test.go, the
// rules for messages of another term in election_terms_test.go.

// newRaftInState returns node 1 of a three-voter group in the given role.
// Its log is [1:t1 2:t2] and it starts at term 2.
func newRaftInState(t *testing.T, st StateType, opts ...func(*Config)) *raft {
	s := newTestStorage(votersConf(1, 2, 3), pb.HardState{Term: 2, Commit: 1}, 1, 2)
	r := newTestRaft(t, 1, s, opts...)
	switch st {
	case StateCandidate:
		r.becomeCandidate()
	case StatePreCandidate:
		r.becomePreCandidate()
	case StateLeader:
		r.becomeCandidate()
		r.becomeLeader()
	}
	takeMsgs(r)
	require.Equal(t, st, r.state)
	return r
}

// TestElectionTimeoutStartsCampaign checks the paper's Figure 2 "Followers / Candidates:
// if election timeout elapses, start a new election": term+1, vote for
// self, RequestVote to every other voter with the last log position.
func TestElectionTimeoutStartsCampaign(t *testing.T) {
	for _, st := range []StateType{StateFollower, StateCandidate} {
		t.Run(st.String(), func(t *testing.T) {
			r := newRaftInState(t, st)
			term := r.Term
			timeout := r.randomizedElectionTimeoutTicks
			for i := 0; i < timeout-1; i++ {
				r.tick()
			}
			require.Equal(t, term, r.Term, "campaigned before the timeout")
			require.Empty(t, takeMsgs(r))
			r.tick()

			assert.Equal(t, StateCandidate, r.state)
			assert.Equal(t, term+1, r.Term)
			assert.Equal(t, uint64(1), r.Vote)
			assert.Equal(t, []pb.Message{
				{Type: pb.MsgVote, From: 1, To: 2, Term: term + 1, Index: 2, LogTerm: 2},
				{Type: pb.MsgVote, From: 1, To: 3, Term: term + 1, Index: 2, LogTerm: 2},
			}, takeMsgs(r))
		})
	}
}

// TestRandomizedElectionTimeout checks paper §5.2: the timeout is drawn from
// [ElectionTick, 2*ElectionTick) at every reset, covering the whole range,
// and the number of ticks a follower waits is that timeout.
func TestRandomizedElectionTimeout(t *testing.T) {
	const et = 10
	r := newRaftInState(t, StateFollower)
	seen := map[int]int{}
	for i := 0; i < 2000; i++ {
		r.becomeFollower(r.Term, None)
		to := r.randomizedElectionTimeoutTicks
		require.GreaterOrEqual(t, to, et)
		require.Less(t, to, 2*et)
		seen[to]++
	}
	assert.Len(t, seen, et, "every timeout in [ET, 2ET) should occur: %v", seen)

	// Black box: ticks until a fresh follower campaigns.
	waited := map[int]bool{}
	for seed := int64(0); seed < 100; seed++ {
		s := newTestStorage(votersConf(1, 2, 3), pb.HardState{Term: 1})
		r := newTestRaft(t, 1, s, func(c *Config) { c.Rand = rand.New(rand.NewSource(seed)) })
		ticks := 0
		for r.state == StateFollower {
			r.tick()
			ticks++
			require.Less(t, ticks, 2*et, "seed %d: still a follower after %d ticks", seed, ticks)
		}
		require.GreaterOrEqual(t, ticks, et, "seed %d", seed)
		waited[ticks] = true
	}
	assert.Greater(t, len(waited), 5, "followers of different seeds should time out at different ticks")
}

// TestVoteOncePerTerm checks the paper's Figure 2 "votedFor": one vote per term, repeated
// to the same candidate (a retransmission), refused to others, and refused
// while a leader of the term is known.
func TestVoteOncePerTerm(t *testing.T) {
	s := newTestStorage(votersConf(1, 2, 3, 4), pb.HardState{Term: 1}, 1)
	r := newTestRaft(t, 1, s)
	vote := func(from, term uint64) pb.Message {
		require.NoError(t, r.Step(pb.Message{Type: pb.MsgVote, From: from, To: 1, Term: term, Index: 1, LogTerm: 1}))
		msgs := takeMsgs(r)
		require.Len(t, msgs, 1)
		return msgs[0]
	}

	r.electionElapsed = 7
	assert.Equal(t, pb.Message{Type: pb.MsgVoteResp, From: 1, To: 2, Term: 2}, vote(2, 2))
	assert.Equal(t, uint64(2), r.Vote)
	assert.Zero(t, r.electionElapsed, "granting a vote resets the election timer")
	r.electionElapsed = 7
	assert.Equal(t, pb.Message{Type: pb.MsgVoteResp, From: 1, To: 3, Term: 2, Reject: true}, vote(3, 2))
	assert.Equal(t, 7, r.electionElapsed, "a rejection does not")
	assert.Equal(t, pb.Message{Type: pb.MsgVoteResp, From: 1, To: 2, Term: 2}, vote(2, 2), "retransmitted request")
	assert.Equal(t, uint64(2), r.Vote)
	// A new term frees the vote.
	assert.Equal(t, pb.Message{Type: pb.MsgVoteResp, From: 1, To: 3, Term: 3}, vote(3, 3))
	assert.Equal(t, uint64(3), r.Vote)

	// Knowing the leader of the term, without having voted, also refuses.
	require.NoError(t, r.Step(pb.Message{Type: pb.MsgHeartbeat, From: 2, To: 1, Term: 4}))
	takeMsgs(r)
	require.Equal(t, None, r.Vote)
	require.Equal(t, uint64(2), r.lead)
	assert.Equal(t, pb.Message{Type: pb.MsgVoteResp, From: 1, To: 4, Term: 4, Reject: true}, vote(4, 4))
}

// TestVoteRequiresUpToDateLog checks paper §5.4.1 for votes and pre-votes: grant
// only if the candidate's last (term, index) is at least ours. Our log ends
// at (term 2, index 3).
func TestVoteRequiresUpToDateLog(t *testing.T) {
	for _, typ := range []pb.MessageType{pb.MsgVote, pb.MsgPreVote} {
		for _, tt := range []struct {
			lastTerm, lastIndex uint64
			grant               bool
		}{
			{0, 0, false},
			{1, 3, false},
			{1, 10, false},
			{2, 2, false},
			{2, 3, true},
			{2, 4, true},
			{3, 1, true},
			{3, 3, true},
		} {
			t.Run(fmt.Sprintf("%s/term=%d/index=%d", typ, tt.lastTerm, tt.lastIndex), func(t *testing.T) {
				s := newTestStorage(votersConf(1, 2, 3), pb.HardState{Term: 2}, 1, 2, 2)
				r := newTestRaft(t, 1, s)
				require.NoError(t, r.Step(pb.Message{Type: typ, From: 2, To: 1, Term: 3,
					Index: tt.lastIndex, LogTerm: tt.lastTerm}))
				msgs := takeMsgs(r)
				require.Len(t, msgs, 1)
				assert.Equal(t, voteRespMsgType(typ), msgs[0].Type)
				assert.Equal(t, !tt.grant, msgs[0].Reject)
				if typ == pb.MsgVote {
					// A real vote request moved us to its term either way.
					assert.Equal(t, uint64(3), msgs[0].Term)
					assert.Equal(t, uint64(3), r.Term)
					if tt.grant {
						assert.Equal(t, uint64(2), r.Vote)
					} else {
						assert.Equal(t, None, r.Vote)
					}
				} else {
					// A pre-vote never moves us; a rejection says our term.
					assert.Equal(t, uint64(2), r.Term)
					assert.Equal(t, None, r.Vote)
					if tt.grant {
						assert.Equal(t, uint64(3), msgs[0].Term)
					} else {
						assert.Equal(t, uint64(2), msgs[0].Term)
					}
				}
			})
		}
	}
}

// TestMajorityWinsElection checks that a candidate becomes leader with a
// majority of votes and only then, for several cluster sizes with some nodes
// unreachable.
func TestMajorityWinsElection(t *testing.T) {
	for _, tt := range []struct {
		size int
		down []uint64
		win  bool
	}{
		{1, nil, true},
		{3, nil, true},
		{3, []uint64{3}, true},
		{3, []uint64{2, 3}, false},
		{4, []uint64{4}, true},
		{4, []uint64{3, 4}, false},
		{5, []uint64{4, 5}, true},
		{5, []uint64{3, 4, 5}, false},
	} {
		for _, preVote := range []bool{false, true} {
			t.Run(fmt.Sprintf("size=%d/down=%v/prevote=%v", tt.size, tt.down, preVote), func(t *testing.T) {
				c := newCluster(t, tt.size, func(cfg *Config) { cfg.PreVote = preVote })
				for _, id := range tt.down {
					c.isolate(id)
				}
				c.campaign(1)
				r := c.node(1).raft()
				switch {
				case tt.win:
					assert.Equal(t, StateLeader, r.state)
					assert.Equal(t, uint64(1), r.Term)
				case preVote:
					// Without a majority of pre-votes the term never moves.
					assert.Equal(t, StatePreCandidate, r.state)
					assert.Equal(t, uint64(0), r.Term)
				default:
					assert.Equal(t, StateCandidate, r.state)
					assert.Equal(t, uint64(1), r.Term)
				}
			})
		}
	}
}

// TestCandidateBecomesLeaderWithEmptyEntry checks the transition on the
// deciding vote: a candidate counting a majority becomes leader and sends
// every follower the empty entry of its term (paper §5.4.2, §8).
func TestCandidateBecomesLeaderWithEmptyEntry(t *testing.T) {
	r := newRaftInState(t, StateFollower)
	r.becomeCandidate()
	term := r.Term
	require.NoError(t, r.Step(pb.Message{Type: pb.MsgVoteResp, From: 1, To: 1, Term: term}))
	require.Equal(t, StateCandidate, r.state, "one vote of three is no majority")
	require.NoError(t, r.Step(pb.Message{Type: pb.MsgVoteResp, From: 2, To: 1, Term: term}))

	require.Equal(t, StateLeader, r.state)
	assert.Equal(t, uint64(1), r.lead)
	empty := pb.Entry{Type: pb.EntryNormal, Term: term, Index: 3}
	assert.Equal(t, []pb.Message{
		{Type: pb.MsgApp, From: 1, To: 2, Term: term, Index: 2, LogTerm: 2, Commit: 1, Entries: []pb.Entry{empty}},
		{Type: pb.MsgApp, From: 1, To: 3, Term: term, Index: 2, LogTerm: 2, Commit: 1, Entries: []pb.Entry{empty}},
	}, takeMsgs(r))

	// In a cluster the entry commits once the followers persisted it.
	c := newCluster(t, 3)
	c.elect(2)
	for _, id := range c.ids {
		l := c.logOf(id)
		require.Len(t, l, 1, "node %d", id)
		assert.Equal(t, pb.Entry{Type: pb.EntryNormal, Term: 1, Index: 1}, l[0])
		assert.Equal(t, uint64(1), c.node(id).raft().raftLog.committed)
	}
}

// TestCandidateLosesOnMajorityRejection: a majority of rejections ends the
// candidacy at the same term; fewer do not.
func TestCandidateLosesOnMajorityRejection(t *testing.T) {
	s := newTestStorage(votersConf(idsUpTo(5)...), pb.HardState{Term: 1})
	r := newTestRaft(t, 1, s)
	r.becomeCandidate()
	reject := func(from uint64) {
		require.NoError(t, r.Step(pb.Message{Type: pb.MsgVoteResp, From: from, To: 1, Term: r.Term, Reject: true}))
	}
	reject(2)
	reject(3)
	require.Equal(t, StateCandidate, r.state, "two of five rejections")
	reject(4)
	assert.Equal(t, StateFollower, r.state)
	assert.Equal(t, uint64(2), r.Term)
	assert.Equal(t, None, r.lead)
}

// TestCandidateFollowsLeaderOfSameTerm checks the paper's Figure 2 "Candidates: if
// AppendEntries RPC received from new leader: convert to follower", for
// pre-candidates too, and for heartbeats and snapshots.
func TestCandidateFollowsLeaderOfSameTerm(t *testing.T) {
	for _, st := range []StateType{StateCandidate, StatePreCandidate} {
		for _, typ := range []pb.MessageType{pb.MsgApp, pb.MsgHeartbeat, pb.MsgSnap} {
			t.Run(fmt.Sprintf("%s/%s", st, typ), func(t *testing.T) {
				r := newRaftInState(t, st)
				term := r.Term
				m := pb.Message{Type: typ, From: 3, To: 1, Term: term}
				switch typ {
				case pb.MsgApp:
					m.Index, m.LogTerm, m.Entries, m.Commit = 2, 2, makeEnts(3, term), 3
				case pb.MsgSnap:
					m.Snapshot = staleSnapshot()
				}
				require.NoError(t, r.Step(m))
				assert.Equal(t, StateFollower, r.state)
				assert.Equal(t, term, r.Term)
				assert.Equal(t, uint64(3), r.lead)
				if typ == pb.MsgApp {
					assert.Equal(t, uint64(3), r.raftLog.lastIndex(), "the append is handled as a follower")
					assert.Equal(t, uint64(3), r.raftLog.committed)
				}
			})
		}
	}
}

// TestSplitVoteResolves: two candidates of the same term split a
// four-node cluster; randomized timeouts then produce exactly one leader
// within a few election timeouts (paper §5.2), for several seeds.
func TestSplitVoteResolves(t *testing.T) {
	for seed := int64(0); seed < 8; seed++ {
		t.Run(fmt.Sprint(seed), func(t *testing.T) {
			c := newCluster(t, 4, func(cfg *Config) {
				cfg.Rand = rand.New(rand.NewSource(seed*100 + int64(cfg.ID)))
			})
			// Node 3 only hears from 1, node 4 only from 2.
			c.filter = func(m *pb.Message) bool {
				return !(m.Type == pb.MsgVote && (m.From == 1 && m.To == 4 || m.From == 2 && m.To == 3))
			}
			require.NoError(t, c.node(1).rn.Campaign())
			require.NoError(t, c.node(2).rn.Campaign())
			c.stabilize()
			require.Empty(t, c.leaders(), "the vote should be split")
			require.Equal(t, StateCandidate, c.node(1).raft().state)
			require.Equal(t, StateCandidate, c.node(2).raft().state)
			require.Equal(t, uint64(1), c.node(1).raft().Vote)
			require.Equal(t, uint64(2), c.node(2).raft().Vote)
			require.Equal(t, uint64(1), c.node(3).raft().Vote)
			require.Equal(t, uint64(2), c.node(4).raft().Vote)
			c.filter = nil

			const et = 10
			ticks := 0
			for ; ticks < 4*et; ticks++ {
				c.tickAll(1)
				if len(c.leaders()) == 1 {
					break
				}
			}
			leaders := c.leaders()
			require.Len(t, leaders, 1, "no single leader after %d ticks", ticks)
			lead := c.node(leaders[0]).raft()
			assert.Greater(t, lead.Term, uint64(1))
			for _, id := range c.ids {
				assert.Equal(t, lead.Term, c.node(id).raft().Term, "node %d", id)
				assert.Equal(t, leaders[0], c.node(id).raft().lead, "node %d", id)
			}
		})
	}
}
