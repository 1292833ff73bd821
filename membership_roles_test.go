package raft

// Membership scenarios: joint consensus, leader removal and demotion,
// learners.

import (
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	pb "github.com/pontoon-raft/raft/raftpb"
)

// TestJointConfigNeedsBothMajorities moves {1, 2, 3} to {1, 4, 5} through
// a joint configuration. While joint, an entry commits only when a majority
// of each half has it. With the JointExplicit transition the configuration
// stays joint until the application proposes leaving it; with the Implicit
// and Auto transitions the leader proposes the leave entry (an
// EntryConfChangeV2 with nil Data) itself once the joint entry is applied.
func TestJointConfigNeedsBothMajorities(t *testing.T) {
	jointCS := pb.ConfState{Voters: []uint64{1, 4, 5}, VotersOutgoing: []uint64{1, 2, 3}}

	t.Run("explicit", func(t *testing.T) {
		c := mtNewCluster(t, 5, mtVoters(1, 2, 3))
		c.elect(1)
		joint := mtProposeCC(t, c, 1, mtV2(t, pb.ConfChangeTransitionJointExplicit, "v4 v5 r2 r3"))
		require.Equal(t, pb.EntryConfChangeV2, joint.Type)
		c.stabilize()
		mtRequireConf(t, c, jointCS, c.ids...)
		mtTick(c, 1, 5)
		assert.Equal(t, joint.Index, mtLast(c, 1).Index, "no leave entry without AutoLeave")
		mtRequireConf(t, c, jointCS, c.ids...)

		for _, tc := range []struct {
			name          string
			acking, other []uint64
			heal          uint64
		}{
			{"only the outgoing majority", []uint64{1, 2, 3}, []uint64{4, 5}, 4},
			{"only the incoming majority", []uint64{1, 4, 5}, []uint64{2, 3}, 2},
		} {
			c.partition(tc.acking, tc.other[:1], tc.other[1:])
			commit := mtCommitted(c, 1)
			require.NoError(t, c.propose(1, tc.name))
			mtTick(c, 1, 3)
			assert.Equal(t, commit, mtCommitted(c, 1), "%s: nothing commits", tc.name)
			mtRequireNotApplied(t, c, tc.name, c.ids...)

			// One more node of the other half makes both majorities.
			c.heal()
			c.isolate(tc.other[1])
			mtTick(c, 1, 3)
			mtRequireApplied(t, c, tc.name, append(tc.acking, tc.heal)...)
			c.heal()
			mtTick(c, 1, 3)
		}
		mtRequireConf(t, c, jointCS, c.ids...)

		leave := mtProposeCC(t, c, 1, pb.ConfChangeV2{})
		assert.Equal(t, pb.EntryConfChangeV2, leave.Type)
		c.stabilize()
		mtRequireConf(t, c, mtVoters(1, 4, 5), 1, 4, 5)
	})

	for _, v := range []struct {
		tr    pb.ConfChangeTransition
		async bool
	}{
		{pb.ConfChangeTransitionJointImplicit, false},
		{pb.ConfChangeTransitionAuto, false},
		{pb.ConfChangeTransitionJointImplicit, true},
	} {
		tr := v.tr
		name := pb.ConfChangeTransition_name[int32(tr)]
		if v.async {
			name += "/async storage"
		}
		t.Run(name, func(t *testing.T) {
			c := mtNewCluster(t, 5, mtVoters(1, 2, 3), func(cfg *Config) { cfg.AsyncStorageWrites = v.async })
			c.elect(1)
			// The leave entry must not be proposed before the joint entry
			// is applied by the leader.
			var joint pb.Entry
			leaves := 0
			c.onReady = func(n *ctNode, rd Ready) {
				for _, e := range rd.Entries {
					if n.id == 1 && e.Type == pb.EntryConfChangeV2 && e.Data == nil {
						leaves++
						assert.GreaterOrEqual(t, n.appliedIndex, joint.Index,
							"leave entry %d appended before the joint entry %d was applied", e.Index, joint.Index)
					}
				}
			}
			// The new voters are unreachable: the joint entry commits (it
			// needs the old configuration only), but the leave entry needs
			// a majority of {1, 4, 5} too.
			c.partition([]uint64{1, 2, 3}, []uint64{4}, []uint64{5})
			joint = mtProposeCC(t, c, 1, mtV2(t, tr, "v4 v5 r2 r3"))
			mtTick(c, 1, 3)
			autoCS := jointCS
			autoCS.AutoLeave = true
			mtRequireConf(t, c, autoCS, 1, 2, 3)
			leave := mtLast(c, 1)
			require.Equal(t, joint.Index+1, leave.Index)
			assert.Equal(t, pb.EntryConfChangeV2, leave.Type)
			assert.Nil(t, leave.Data)
			assert.Equal(t, joint.Index, mtCommitted(c, 1), "the leave entry waits for the incoming majority")

			// 4 returns: {1, 4} is a majority of {1, 4, 5}.
			c.heal()
			c.isolate(5)
			mtTick(c, 1, 3)
			mtRequireConf(t, c, mtVoters(1, 4, 5), 1, 4)
			assert.Equal(t, 1, leaves, "exactly one leave entry")
			c.heal()
			mtTick(c, 1, 3)
			mtRequireConf(t, c, mtVoters(1, 4, 5), 1, 4, 5)
			require.NoError(t, c.propose(1, "after"))
			c.stabilize()
			mtRequireApplied(t, c, "after", 1, 4, 5)
		})
	}
}

// TestJointConfigAutoLeaveWaitsForInheritedEntries: a leader elected in a
// joint configuration with AutoLeave does not know which of the entries it
// inherited change the configuration, so it proposes the leave entry only
// once it has applied all of them, and proposes it once: no refused
// proposals (empty entries) pile up while it applies the older ones.
func TestJointConfigAutoLeaveWaitsForInheritedEntries(t *testing.T) {
	cs := mtJointCS
	cs.AutoLeave = true
	storages := map[uint64]*MemoryStorage{}
	for _, id := range ctIDs(5) {
		s := mtStorage(cs)
		require.NoError(t, s.Append(ctEnts(1, 1, 1, 1, 1, 1)))
		require.NoError(t, s.SetHardState(pb.HardState{Term: 1}))
		storages[id] = s
	}
	// One committed entry per Ready: the inherited entries are applied
	// one by one.
	c := ctNewClusterFromStorage(t, storages, func(cfg *Config) { cfg.MaxCommittedSizePerReady = 1 })
	c.elect(1)
	// 1..5 inherited, 6 the leader's empty entry, 7 the leave entry.
	leave := mtEntry(c, 1, 7)
	assert.Equal(t, pb.Entry{Type: pb.EntryConfChangeV2, Term: 2, Index: 7}, leave)
	assert.Equal(t, uint64(7), mtLast(c, 1).Index, "nothing else was appended")
	mtRequireConf(t, c, mtVoters(1, 4, 5), c.ids...)
}

// TestConfChangeRemovalCommitsPendingEntry: removing a voter shrinks the
// quorum, so entries the remaining voters already hold commit as soon as
// the leader applies the removal, without waiting for another proposal.
func TestConfChangeRemovalCommitsPendingEntry(t *testing.T) {
	c := mtNewCluster(t, 2, mtVoters(1, 2))
	c.elect(1)
	remove := mtProposeCC(t, c, 1, pb.ConfChange{Type: pb.ConfChangeRemoveNode, NodeID: 2})
	// Send the removal on its own, so that 2 can acknowledge it alone.
	c.processReadys()
	require.NoError(t, c.propose(1, "hello"))
	// 2 acknowledges the removal, but its acknowledgement of "hello" is
	// lost, and it is gone after that.
	c.filter = func(m *pb.Message) bool {
		return !(m.From == 2 && m.Type == pb.MsgAppResp && m.Index > remove.Index)
	}
	c.stabilize()
	mtRequireConf(t, c, mtVoters(1), 1)
	mtRequireApplied(t, c, "hello", 1)
}

// TestMembershipLeaderRemovesItself: a leader that applies its own removal
// steps down with StepDownOnRemoval; without it, it stays leader but drops
// every proposal, and once it is shut down the remaining voters elect a
// leader among themselves. The removed node can never campaign.
func TestMembershipLeaderRemovesItself(t *testing.T) {
	for _, stepDown := range []bool{true, false} {
		name := map[bool]string{true: "StepDownOnRemoval", false: "stays leader"}[stepDown]
		t.Run(name, func(t *testing.T) {
			c := mtNewCluster(t, 3, mtVoters(1, 2, 3), func(cfg *Config) { cfg.StepDownOnRemoval = stepDown })
			c.elect(1)
			mtProposeCC(t, c, 1, pb.ConfChange{Type: pb.ConfChangeRemoveNode, NodeID: 1})
			c.stabilize()
			mtRequireConf(t, c, mtVoters(2, 3), 1, 2, 3)
			r1 := c.node(1).raft()
			assert.False(t, r1.promotable())

			if stepDown {
				assert.Equal(t, StateFollower, r1.state)
			} else {
				assert.Equal(t, StateLeader, r1.state)
				assert.ErrorIs(t, c.propose(1, "x"), ErrProposalDropped)
				assert.ErrorIs(t, c.node(1).rn.ProposeConfChange(pb.ConfChange{Type: pb.ConfChangeAddNode, NodeID: 1}),
					ErrProposalDropped)
				// A proposal forwarded to it is dropped too.
				c.stepErrs = nil
				require.NoError(t, c.propose(2, "y"))
				c.stabilize()
				require.Len(t, c.stepErrs, 1)
				assert.ErrorIs(t, c.stepErrs[0], ErrProposalDropped)
				mtRequireNotApplied(t, c, "x", c.ids...)
				mtRequireNotApplied(t, c, "y", c.ids...)
				// The application shuts the removed node down.
				c.isolate(1)
			}

			// The removed node never campaigns, however long it waits.
			term := r1.Term
			require.NoError(t, c.node(1).rn.Campaign())
			for i := 0; i < 50; i++ {
				c.tickAll(1)
				if len(c.leaders()) > 0 && c.leaders()[0] != 1 {
					break
				}
			}
			assert.Equal(t, term, r1.Term, "node 1 never campaigned")
			var lead uint64
			for _, id := range c.leaders() {
				if id != 1 {
					lead = id
				}
			}
			require.NotEqual(t, None, lead, "2 or 3 became leader")
			require.NoError(t, c.propose(lead, "new leader"))
			c.stabilize()
			mtRequireApplied(t, c, "new leader", 2, 3)
			mtRequireConf(t, c, mtVoters(2, 3), 2, 3)
			mtTick(c, 1, 50)
			assert.Equal(t, term, r1.Term)
			assert.NotEqual(t, StateCandidate, r1.state)
			assert.NotEqual(t, StatePreCandidate, r1.state)
		})
	}
}

// TestMembershipLeaderDemotedStepsDown: a leader demoted to learner (which
// goes through a joint configuration, as it still votes in the outgoing
// half) steps down with StepDownOnRemoval once the joint configuration is
// left, and as a learner never campaigns again.
func TestMembershipLeaderDemotedStepsDown(t *testing.T) {
	c := mtNewCluster(t, 3, mtVoters(1, 2, 3), func(cfg *Config) { cfg.StepDownOnRemoval = true })
	c.elect(1)
	mtProposeCC(t, c, 1, pb.ConfChange{Type: pb.ConfChangeAddLearnerNode, NodeID: 1})
	c.stabilize()
	// ConfChange demoting a voter is a simple change: no joint state.
	mtRequireConf(t, c, pb.ConfState{Voters: []uint64{2, 3}, Learners: []uint64{1}}, c.ids...)
	r1 := c.node(1).raft()
	assert.Equal(t, StateFollower, r1.state)
	assert.True(t, r1.isLearner)

	c.isolate(1)
	for i := 0; i < 50 && len(c.leaders()) == 0; i++ {
		c.tickAll(1)
	}
	require.Len(t, c.leaders(), 1)
	lead := c.leaders()[0]
	require.NotEqual(t, uint64(1), lead)
	c.heal()
	mtTick(c, lead, 2)

	// Joint demotion of the new leader: it stays leader while joint (it
	// still votes in the outgoing half) and steps down when it leaves.
	other := 5 - lead
	steppedDown := false
	c.onReady = func(n *ctNode, rd Ready) {
		if n.id == lead && rd.SoftState != nil && rd.SoftState.RaftState != StateLeader {
			steppedDown = true
			assert.Equal(t, []uint64{lead}, mtConfState(c, lead).Learners, "stepped down before it was a learner")
		}
	}
	mtProposeCC(t, c, lead, mtV2(t, pb.ConfChangeTransitionJointImplicit, fmt.Sprintf("v1 l%d", lead)))
	c.stabilize()
	c.onReady = nil
	assert.True(t, steppedDown)
	mtRequireConf(t, c, pb.ConfState{Voters: []uint64{1, other}, Learners: []uint64{lead}}, c.ids...)
	assert.Equal(t, StateFollower, c.node(lead).raft().state)
	assert.False(t, c.node(lead).raft().promotable())
	for i := 0; i < 50 && len(c.leaders()) == 0; i++ {
		c.tickAll(1)
	}
	require.Len(t, c.leaders(), 1)
	assert.NotEqual(t, lead, c.leaders()[0])
}

// TestMembershipRemovedNodeCannotWin: a voter removed while partitioned,
// which has not heard of its removal, campaigns with its old configuration
// but cannot win: the remaining voters have a longer log.
func TestMembershipRemovedNodeCannotWin(t *testing.T) {
	c := mtNewCluster(t, 3, mtVoters(1, 2, 3))
	c.elect(1)
	c.isolate(3)
	mtProposeCC(t, c, 1, pb.ConfChange{Type: pb.ConfChangeRemoveNode, NodeID: 3})
	c.stabilize()
	mtRequireConf(t, c, mtVoters(1, 2), 1, 2)
	mtRequireConf(t, c, mtVoters(1, 2, 3), 3)
	c.heal()
	for i := 0; i < 5; i++ {
		c.campaign(3)
		assert.NotEqual(t, StateLeader, c.node(3).raft().state)
	}
	// The leader (1 or 2) carries on in the new configuration.
	mtTick(c, 1, 30)
	mtTick(c, 2, 30)
	leaders := c.leaders()
	require.Len(t, leaders, 1)
	assert.NotEqual(t, uint64(3), leaders[0])
	require.NoError(t, c.propose(leaders[0], "z"))
	c.stabilize()
	mtRequireApplied(t, c, "z", 1, 2)
}

// TestConfChangeNoCampaignWithUnappliedConfChange: a node with a committed
// conf change that the application has not applied yet does not campaign;
// once it is applied, it does.
func TestConfChangeNoCampaignWithUnappliedConfChange(t *testing.T) {
	s := ctStorage([]uint64{1, 2}, pb.HardState{Term: 1, Commit: 1})
	data, err := (&pb.ConfChange{Type: pb.ConfChangeRemoveNode, NodeID: 2}).Marshal()
	require.NoError(t, err)
	require.NoError(t, s.Append([]pb.Entry{{Index: 1, Term: 1, Type: pb.EntryConfChange, Data: data}}))
	rn := ctRawNode(t, 1, s)

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

// TestLearnerReplicatesButNeverVotes: learners receive the log but their
// acknowledgements never count toward commit, and they never campaign.
func TestLearnerReplicatesButNeverVotes(t *testing.T) {
	t.Run("one voter and two learners", func(t *testing.T) {
		c := mtNewCluster(t, 3, pb.ConfState{Voters: []uint64{1}, Learners: []uint64{2, 3}})
		c.elect(1)
		// The voter commits alone, learners or not.
		c.isolate(1)
		require.NoError(t, c.propose(1, "alone"))
		c.stabilize()
		mtRequireApplied(t, c, "alone", 1)
		mtRequireNotApplied(t, c, "alone", 2, 3)
		// Back in touch, the learners get everything.
		c.heal()
		mtTick(c, 1, 2)
		mtRequireApplied(t, c, "alone", 2, 3)
		c.requireSameLogs(1, 2, 3)
		// Learners never campaign, not even without a leader for long.
		c.isolate(1)
		for _, id := range []uint64{2, 3} {
			require.NoError(t, c.node(id).rn.Campaign())
		}
		for i := 0; i < 100; i++ {
			c.tick(2, 3)
			c.stabilize()
		}
		for _, id := range []uint64{2, 3} {
			r := c.node(id).raft()
			assert.Equal(t, StateFollower, r.state, "learner %d", id)
			assert.Equal(t, uint64(1), r.Term, "learner %d", id)
			assert.True(t, r.isLearner)
		}
		assert.Zero(t, c.sent[pb.MsgVote]+c.sent[pb.MsgPreVote], "node 1 won alone; nobody else asked")
	})

	t.Run("three voters and a learner", func(t *testing.T) {
		c := mtNewCluster(t, 4, pb.ConfState{Voters: []uint64{1, 2, 3}, Learners: []uint64{4}})
		c.elect(1)
		// 3 down: 1 and 2 are two of three.
		c.isolate(3)
		require.NoError(t, c.propose(1, "two voters"))
		c.stabilize()
		mtRequireApplied(t, c, "two voters", 1, 2, 4)
		// 2 and 3 down: 1 and the learner are not a quorum, although the
		// learner has the entry.
		c.isolate(2)
		commit := mtCommitted(c, 1)
		require.NoError(t, c.propose(1, "voter and learner"))
		mtTick(c, 1, 3)
		assert.Equal(t, commit, mtCommitted(c, 1))
		assert.Equal(t, mtLast(c, 1).Index, c.node(1).rn.Status().Progress[4].Match, "the learner acknowledged")
		mtRequireNotApplied(t, c, "voter and learner", c.ids...)
		c.heal()
		c.isolate(3)
		mtTick(c, 1, 2)
		mtRequireApplied(t, c, "voter and learner", 1, 2, 4)
	})
}

// TestLearnerAnswersVotesThatDoNotCount: a learner grants or rejects a vote
// request by the usual rules, but a candidate does not count its vote.
func TestLearnerAnswersVotesThatDoNotCount(t *testing.T) {
	c := mtNewCluster(t, 4, pb.ConfState{Voters: []uint64{1, 2, 3}, Learners: []uint64{4}})
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

// TestLearnerPromotionAndDemotion: AddNode on a caught-up learner makes it a
// voter whose acknowledgements count; a voter demoted while joint waits in
// LearnersNext and becomes a learner when the joint configuration is left.
func TestLearnerPromotionAndDemotion(t *testing.T) {
	c := mtNewCluster(t, 4, mtVoters(1, 2, 3))
	c.elect(1)
	mtProposeCC(t, c, 1, pb.ConfChange{Type: pb.ConfChangeAddLearnerNode, NodeID: 4})
	c.stabilize()
	require.NoError(t, c.propose(1, "x"))
	c.stabilize()
	mtRequireConf(t, c, pb.ConfState{Voters: []uint64{1, 2, 3}, Learners: []uint64{4}}, c.ids...)
	assert.Equal(t, c.logOf(1), c.logOf(4), "the learner is caught up")
	assert.False(t, c.node(4).raft().promotable())

	mtProposeCC(t, c, 1, pb.ConfChange{Type: pb.ConfChangeAddNode, NodeID: 4})
	c.stabilize()
	mtRequireConf(t, c, mtVoters(1, 2, 3, 4), c.ids...)
	assert.True(t, c.node(4).raft().promotable())
	assert.False(t, c.node(4).raft().isLearner)

	// 3 and 4 away: 1 and 2 are two of four, not a quorum.
	c.isolate(3)
	c.isolate(4)
	commit := mtCommitted(c, 1)
	require.NoError(t, c.propose(1, "needs 4"))
	mtTick(c, 1, 3)
	assert.Equal(t, commit, mtCommitted(c, 1))
	// 4 returns: its acknowledgement is the third vote.
	c.heal()
	c.isolate(3)
	mtTick(c, 1, 3)
	mtRequireApplied(t, c, "needs 4", 1, 2, 4)
	c.heal()
	mtTick(c, 1, 3)

	// Demote 3 in a joint change: it votes in the outgoing half until the
	// joint configuration is left, so it waits in LearnersNext.
	mtProposeCC(t, c, 1, mtV2(t, pb.ConfChangeTransitionJointExplicit, "l3"))
	c.stabilize()
	mtRequireConf(t, c, pb.ConfState{Voters: []uint64{1, 2, 4}, VotersOutgoing: []uint64{1, 2, 3, 4},
		LearnersNext: []uint64{3}}, c.ids...)
	assert.True(t, c.node(3).raft().promotable(), "still an outgoing voter")
	assert.False(t, c.node(1).rn.Status().Progress[3].IsLearner)

	mtProposeCC(t, c, 1, pb.ConfChangeV2{})
	c.stabilize()
	mtRequireConf(t, c, pb.ConfState{Voters: []uint64{1, 2, 4}, Learners: []uint64{3}}, c.ids...)
	assert.False(t, c.node(3).raft().promotable())
	assert.True(t, c.node(3).raft().isLearner)
	assert.True(t, c.node(1).rn.Status().Progress[3].IsLearner)
}
