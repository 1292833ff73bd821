package raftsim

import (
	"errors"
	"math"
	"slices"
	"testing"

	"github.com/pontoon-raft/raft"
	pb "github.com/pontoon-raft/raft/raftpb"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestMembershipFaultsAreInjected runs clusters of every CI size under all
// faults with frequent membership changes and checks that each kind of
// change happens, that configurations are applied and that every invariant
// holds across them.
func TestMembershipFaultsAreInjected(t *testing.T) {
	faults := AllFaults()
	faults.ConfChangeProb = 0.02
	counts := map[FaultKind]int{}
	applied := 0
	for _, nodes := range []int{3, 5, 7} {
		for seed := int64(1); seed <= 8; seed++ {
			opts := Options{Nodes: nodes, Seed: seed, Steps: 1500, PreVote: seed%2 == 0, CheckQuorum: seed%3 == 0,
				StepDownOnRemoval: seed%4 < 2, Faults: faults}
			res, err := Run(opts)
			require.NoError(t, err, "nodes %d seed %d", nodes, seed)
			for k, n := range res.Faults {
				counts[k] += n
			}
			applied += res.ConfChangesApplied
		}
	}
	for _, k := range []FaultKind{FaultAddVoter, FaultAddLearner, FaultRemoveNode, FaultPromote, FaultDemote,
		FaultJointChange, FaultLeaveJoint, FaultReplaceNode, FaultRetireNode} {
		assert.Positive(t, counts[k], "%s never happened", k)
	}
	assert.Positive(t, applied)
	t.Logf("%d configurations applied; faults %v", applied, counts)
}

// leaderOfSim returns the current leader, requiring one.
func leaderOfSim(t *testing.T, s *Sim) *simNode {
	t.Helper()
	l := s.leader()
	require.NotNil(t, l, "no leader")
	return l
}

// proposeChange proposes cc on the current leader as one event.
func proposeChange(t *testing.T, s *Sim, kind FaultKind, cc pb.ConfChangeI) {
	t.Helper()
	l := leaderOfSim(t, s)
	require.NoError(t, s.do(func() {
		s.beginEvent(EventConfChange, l.id)
		s.proposeConfChange(l, kind, cc)
	}))
}

// TestReplaceNode replaces a follower of a three-node cluster by a new,
// empty node in one joint change that leaves automatically: the new node
// catches up, the old one is retired, and the cluster stays live.
func TestReplaceNode(t *testing.T) {
	s, err := New(Options{Nodes: 3, Seed: 4, PreVote: true, CheckQuorum: true})
	require.NoError(t, err)
	stepUntil(t, s, 20000, func() bool { return s.leader() != nil && s.history.maxIndex() >= 8 })
	l := leaderOfSim(t, s)
	out := s.nodes[l.id%3] // a follower
	var fresh *simNode
	require.NoError(t, s.do(func() {
		s.beginEvent(EventConfChange, l.id)
		fresh = s.freshNode()
		s.proposeConfChange(l, FaultReplaceNode, pb.ConfChangeV2{Transition: pb.ConfChangeTransitionJointImplicit,
			Changes: []pb.ConfChangeSingle{{Type: pb.ConfChangeRemoveNode, NodeID: out.id}, {Type: pb.ConfChangeAddNode, NodeID: fresh.id}}})
	}))
	require.Equal(t, uint64(4), fresh.id, "the pool hands out the next ID")

	var want []uint64
	for _, id := range []uint64{1, 2, 3, 4} {
		if id != out.id {
			want = append(want, id)
		}
	}
	v := s.View()
	stepUntil(t, s, 50000, func() bool {
		return slices.Equal(v.Voters(), want) && len(s.latestConfig().cs.VotersOutgoing) == 0 && out.retired
	})
	assert.Nil(t, out.node, "the removed node is shut down")
	assert.Equal(t, 1, s.res.Faults[FaultRetireNode])
	assert.Equal(t, 2, s.res.ConfChangesApplied, "the joint configuration, then leaving it")

	require.NoError(t, s.CheckLiveness())
	require.NoError(t, s.Finish())
	assert.GreaterOrEqual(t, fresh.applied, s.probeIndex, "the new node applied the liveness probe")
	assert.Nil(t, out.node, "a retired node is not restarted")
	cs, up := v.Config(fresh.id)
	require.True(t, up)
	assert.ElementsMatch(t, want, cs.Voters)
}

// TestLearnerJoinsAfterCompaction adds a learner once every log is
// compacted, so that only a snapshot can catch it up, then promotes it; in
// both storage modes.
func TestLearnerJoinsAfterCompaction(t *testing.T) {
	for _, mode := range []AsyncMode{AsyncNone, AsyncAll} {
		t.Run(mode.String(), func(t *testing.T) {
			s, err := New(Options{Nodes: 3, Seed: 8, Async: mode, ProposeProb: 0.1})
			require.NoError(t, err)
			stepUntil(t, s, 20000, func() bool { return s.leader() != nil && s.history.maxIndex() >= 20 })
			for _, n := range s.nodes {
				stepUntil(t, s, 20000, func() bool { return s.commitDurable(n) && n.applied > 10 })
				require.NoError(t, s.do(func() { require.True(t, s.snapshotNode(n)) }))
				first, _ := n.storage.FirstIndex()
				require.Greater(t, first, uint64(1))
			}
			installed := s.res.SnapshotsInstalled
			var learner *simNode
			l := leaderOfSim(t, s)
			require.NoError(t, s.do(func() {
				s.beginEvent(EventConfChange, l.id)
				learner = s.freshNode()
				s.proposeConfChange(l, FaultAddLearner, pb.ConfChange{Type: pb.ConfChangeAddLearnerNode, NodeID: learner.id})
			}))
			stepUntil(t, s, 50000, func() bool {
				return slices.Contains(s.latestConfig().cs.Learners, learner.id) && learner.applied >= s.latestConfig().index
			})
			assert.Greater(t, s.res.SnapshotsInstalled, installed, "the learner was caught up by a snapshot")

			proposeChange(t, s, FaultPromote, pb.ConfChangeV2{Changes: []pb.ConfChangeSingle{{Type: pb.ConfChangeAddNode, NodeID: learner.id}}})
			stepUntil(t, s, 50000, func() bool { return slices.Contains(s.View().Voters(), learner.id) })
			require.NoError(t, s.CheckLiveness())
			require.NoError(t, s.Finish())
		})
	}
}

// TestExplicitJointChangeIsLeft enters a joint configuration that must be
// left explicitly; the membership fault proposes the leave.
func TestExplicitJointChangeIsLeft(t *testing.T) {
	s, err := New(Options{Nodes: 3, Seed: 2})
	require.NoError(t, err)
	stepUntil(t, s, 20000, func() bool { return s.leader() != nil })
	l := leaderOfSim(t, s)
	other := s.nodes[l.id%3].id
	proposeChange(t, s, FaultJointChange, pb.ConfChangeV2{Transition: pb.ConfChangeTransitionJointExplicit,
		Changes: []pb.ConfChangeSingle{{Type: pb.ConfChangeAddLearnerNode, NodeID: other}}})
	stepUntil(t, s, 20000, func() bool {
		l := s.leader()
		return l != nil && len(l.confState.VotersOutgoing) > 0
	})
	assert.False(t, s.leader().confState.AutoLeave)
	require.NoError(t, s.do(func() { require.True(t, s.confChangeRandom()) }))
	assert.Equal(t, 1, s.res.Faults[FaultLeaveJoint])
	stepUntil(t, s, 20000, func() bool { return len(s.latestConfig().cs.VotersOutgoing) == 0 })
	assert.Equal(t, []uint64{other}, s.latestConfig().cs.Learners, "the demoted voter is a learner")
	require.NoError(t, s.CheckLiveness())
}

// TestNeverRemovesTheLastVoter drives a one-node cluster's membership
// fault many times: it may add nodes but never proposes removing or
// demoting the only voter.
func TestNeverRemovesTheLastVoter(t *testing.T) {
	s, err := New(Options{Nodes: 1, Seed: 3, ProposeProb: -1})
	require.NoError(t, err)
	stepUntil(t, s, 2000, func() bool { return s.leader() != nil })
	for i := 0; i < 200; i++ {
		if l := s.leader(); l != nil && len(l.confState.Voters) == 1 && len(l.confState.Learners) == 0 {
			before := s.res.Faults[FaultRemoveNode] + s.res.Faults[FaultDemote] + s.res.Faults[FaultJointChange]
			require.NoError(t, s.do(func() { s.confChangeRandom() }))
			assert.Equal(t, before, s.res.Faults[FaultRemoveNode]+s.res.Faults[FaultDemote]+s.res.Faults[FaultJointChange],
				"a change that could remove the only voter was proposed")
		}
		require.NoError(t, s.Step())
	}
	assert.NotEmpty(t, s.View().Voters())
}

// stowaway is a node that, told it was removed or demoted, quietly keeps
// itself a voter underneath, so that it can still win elections.
type stowaway struct {
	*raft.RawNode
	id uint64
}

func (n *stowaway) ApplyConfChange(cc pb.ConfChangeI) *pb.ConfState {
	cs := n.RawNode.ApplyConfChange(cc)
	if !isVoter(*cs, n.id) {
		n.RawNode.ApplyConfChange(pb.ConfChange{Type: pb.ConfChangeAddNode, NodeID: n.id})
	}
	return cs
}

// TestLeaderInConfigCatchesAStowaway removes a follower that keeps voting
// underneath, crashes the leader and keeps the removed node running: it wins
// the next election, and InvLeaderInConfig reports it.
func TestLeaderInConfigCatchesAStowaway(t *testing.T) {
	for _, mutated := range []bool{false, true} {
		factory := RawNodeFactory
		if mutated {
			factory = func(cfg *raft.Config) (Node, error) {
				rn, err := raft.NewRawNode(cfg)
				return &stowaway{RawNode: rn, id: cfg.ID}, err
			}
		}
		// The stowaway's configuration differs from the others' from the
		// bootstrap entries on (see TestConfigAgreementCatchesAStowaway).
		s, err := New(Options{Nodes: 3, Seed: 6, ProposeProb: -1, NodeFactory: factory,
			SkipInvariants: []string{InvConfigAgreement}})
		require.NoError(t, err)
		stepUntil(t, s, 20000, func() bool { return s.leader() != nil })
		l := leaderOfSim(t, s)
		removed := s.nodes[l.id%3]
		s.membership.retireAt[removed.id] = math.MaxInt64 // keep it running
		proposeChange(t, s, FaultRemoveNode, pb.ConfChange{Type: pb.ConfChangeRemoveNode, NodeID: removed.id})
		stepUntil(t, s, 20000, func() bool { return !isMember(removed.confState, removed.id) && removed.applied > 0 })
		require.NoError(t, s.Crash(l.id))

		var v *Violation
		for i := 0; i < 20000 && v == nil; i++ {
			errors.As(s.Step(), &v)
		}
		if !mutated {
			assert.Nil(t, v, "a removed node cannot campaign")
			continue
		}
		require.NotNil(t, v, "the stowaway never led")
		assert.Equal(t, InvLeaderInConfig, v.Invariant, "%v", v)
	}
}

// eagerCommitter reports, while it leads, everything it has persisted as
// committed.
type eagerCommitter struct {
	*raft.RawNode
	storage raft.Storage
}

func (n *eagerCommitter) BasicStatus() raft.BasicStatus {
	st := n.RawNode.BasicStatus()
	if last, err := n.storage.LastIndex(); err == nil && st.RaftState == raft.StateLeader && last > st.Commit {
		st.Commit = last
	}
	return st
}

// TestCommitQuorumCatchesAnEagerLeader: a leader that counts its own copy
// as a quorum is caught as soon as it persists an entry no follower holds.
func TestCommitQuorumCatchesAnEagerLeader(t *testing.T) {
	factory := func(cfg *raft.Config) (Node, error) {
		rn, err := raft.NewRawNode(cfg)
		return &eagerCommitter{RawNode: rn, storage: cfg.Storage}, err
	}
	var v *Violation
	for seed := int64(1); seed <= 10 && v == nil; seed++ {
		opts := Options{Nodes: 3, Seed: seed, Steps: 1000, SkipLiveness: true, Faults: AllFaults(),
			SkipInvariants: onlyInvariant(InvCommitQuorum)}
		_, err := Run(opts)
		require.NoError(t, err, "seed %d without the mutant", seed)
		opts.NodeFactory = factory
		_, err = Run(opts)
		errors.As(err, &v)
	}
	require.NotNil(t, v, "no seed caught the eager leader")
	assert.Equal(t, InvCommitQuorum, v.Invariant)
}

// TestQuorumBeforeApplyUsesJointQuorums checks the quorum helpers on a
// scripted set of storages: in a joint configuration both majorities must
// hold an entry.
func TestQuorumBeforeApplyUsesJointQuorums(t *testing.T) {
	s, err := New(Options{Nodes: 5, Seed: 1, ProposeProb: -1})
	require.NoError(t, err)
	e := pb.Entry{Term: 2, Index: 6}
	for _, id := range []uint64{1, 2, 4} {
		require.NoError(t, s.node(id).storage.Append([]pb.Entry{e}))
	}
	v := s.View()
	tests := []struct {
		name string
		cs   pb.ConfState
		want bool
	}{
		{"majority of five", pb.ConfState{Voters: []uint64{1, 2, 3, 4, 5}}, true},
		{"minority of the incoming half", pb.ConfState{Voters: []uint64{3, 4, 5}, VotersOutgoing: []uint64{1, 2, 3}}, false},
		{"minority of the outgoing half", pb.ConfState{Voters: []uint64{1, 2, 3}, VotersOutgoing: []uint64{3, 4, 5}}, false},
		{"both halves", pb.ConfState{Voters: []uint64{1, 2, 3}, VotersOutgoing: []uint64{2, 4, 5}}, true},
		{"learners do not count", pb.ConfState{Voters: []uint64{3, 5}, Learners: []uint64{1, 2, 4}}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ok, err := quorumHolds(v, tt.cs, e.Index, e.Term)
			require.NoError(t, err)
			assert.Equal(t, tt.want, ok)
			ok, err = quorumHoldsSomeTerm(v, tt.cs, e.Index)
			require.NoError(t, err)
			assert.Equal(t, tt.want, ok)
		})
	}
}

// TestConfigAgreementCatchesAStowaway: the stowaway adds itself back under
// every configuration it applies, so its configuration differs from the
// other nodes' at the first conf change entry that leaves it out, and
// InvConfigAgreement reports it. The same seed passes with honest nodes.
func TestConfigAgreementCatchesAStowaway(t *testing.T) {
	stowaways := func(cfg *raft.Config) (Node, error) {
		rn, err := raft.NewRawNode(cfg)
		return &stowaway{RawNode: rn, id: cfg.ID}, err
	}
	opts := Options{Nodes: 3, Seed: 6, Steps: 200}
	_, err := Run(opts)
	require.NoError(t, err)
	opts.NodeFactory = stowaways
	_, err = Run(opts)
	var v *Violation
	require.ErrorAs(t, err, &v)
	assert.Equal(t, InvConfigAgreement, v.Invariant, "%v", v)
}
