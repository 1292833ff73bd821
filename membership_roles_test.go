package raft

// Membership scenarios: joint consensus, leader removal and demotion,
// learners.

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	pb "github.com/pontoon-raft/raft/raftpb"
)

// TestJointConfigAutoLeaveWaitsForInheritedEntries: a leader elected in a
// joint configuration with AutoLeave does not know which of the entries it
// inherited change the configuration, so it proposes the leave entry only
// once it has applied all of them, and proposes it once: no refused
// proposals (empty entries) pile up while it applies the older ones.
func TestJointConfigAutoLeaveWaitsForInheritedEntries(t *testing.T) {
	cs := jointConf
	cs.AutoLeave = true
	storages := map[uint64]*MemoryStorage{}
	for _, id := range idsUpTo(5) {
		s := newTestStorage(cs, pb.HardState{})
		require.NoError(t, s.Append(makeEnts(1, 1, 1, 1, 1, 1)))
		require.NoError(t, s.SetHardState(pb.HardState{Term: 1}))
		storages[id] = s
	}
	// One committed entry per Ready: the inherited entries are applied
	// one by one.
	c := newClusterFromStorage(t, storages, func(cfg *Config) { cfg.MaxCommittedSizePerReady = 1 })
	c.elect(1)
	// 1..5 inherited, 6 the leader's empty entry, 7 the leave entry.
	leave := c.entryAt(1, 7)
	assert.Equal(t, pb.Entry{Type: pb.EntryConfChangeV2, Term: 2, Index: 7}, leave)
	assert.Equal(t, uint64(7), c.lastEntry(1).Index, "nothing else was appended")
	c.requireConf(votersConf(1, 4, 5), c.ids...)
}

// TestConfChangeNoCampaignWithUnappliedConfChange: a node with a committed
// conf change that the application has not applied yet does not campaign;
// once it is applied, it does.
func TestConfChangeNoCampaignWithUnappliedConfChange(t *testing.T) {
	s := newTestStorage(votersConf(1, 2), pb.HardState{Term: 1, Commit: 1})
	data, err := (&pb.ConfChange{Type: pb.ConfChangeRemoveNode, NodeID: 2}).Marshal()
	require.NoError(t, err)
	require.NoError(t, s.Append([]pb.Entry{{Index: 1, Term: 1, Type: pb.EntryConfChange, Data: data}}))
	rn := newTestRawNode(t, 1, s)

	require.NoError(t, rn.Campaign())
	assert.Equal(t, StateFollower, rn.BasicStatus().RaftState)
	for i := 0; i < 30; i++ {
		rn.Tick()
	}
	assert.Equal(t, StateFollower, rn.BasicStatus().RaftState)

	rd := rn.Ready()
	require.Len(t, rd.CommittedEntries, 1)
	var cc pb.ConfChange
	require.NoError(t, cc.Unmarshal(rd.CommittedEntries[0].Data))
	assert.Equal(t, pb.ConfState{Voters: []uint64{1}}, *rn.ApplyConfChange(cc))
	rn.Advance(rd)
	require.NoError(t, rn.Campaign())
	assert.NotEqual(t, StateFollower, rn.BasicStatus().RaftState)
}

// TestLearnerAnswersVotesThatDoNotCount: a learner grants or rejects a vote
// request by the usual rules, but a candidate does not count its vote.
func TestLearnerAnswersVotesThatDoNotCount(t *testing.T) {
	c := newClusterWithConf(t, 4, pb.ConfState{Voters: []uint64{1, 2, 3}, Learners: []uint64{4}})
	c.elect(1)
	require.NoError(t, c.propose(1, "x"))
	c.stabilize()
	var answers []pb.Message
	c.filter = func(m *pb.Message) bool {
		if m.From == 4 && m.Type == pb.MsgVoteResp {
			answers = append(answers, *m)
		}
		return true
	}

	// 2 campaigns with 1 and 3 away; the learner, asked directly, grants.
	c.isolate(1)
	c.isolate(3)
	c.campaign(2)
	r2 := c.node(2).raft()
	require.Equal(t, StateCandidate, r2.state)
	last, lastTerm := r2.raftLog.lastIndex(), r2.raftLog.lastTerm()
	require.NoError(t, c.node(4).rn.Step(pb.Message{Type: pb.MsgVote, From: 2, To: 4, Term: r2.Term,
		Index: last, LogTerm: lastTerm}))
	c.stabilize()
	require.Len(t, answers, 1)
	assert.False(t, answers[0].Reject)
	assert.True(t, r2.trk.Votes[4], "the grant reached the candidate")
	assert.Equal(t, StateCandidate, r2.state, "2 (self) and a learner are not a majority of {1, 2, 3}")
	granted, _, _ := r2.trk.TallyVotes()
	assert.Equal(t, 1, granted)

	// A candidate with a shorter log is refused.
	require.NoError(t, c.node(4).rn.Step(pb.Message{Type: pb.MsgVote, From: 3, To: 4, Term: r2.Term + 1,
		Index: 1, LogTerm: 1}))
	c.stabilize()
	require.Len(t, answers, 2)
	assert.True(t, answers[1].Reject)
	assert.Equal(t, r2.Term+1, answers[1].Term)
}
