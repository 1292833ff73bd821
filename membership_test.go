package raft

// Membership changes, the rules scripts cannot express: ApplyConfChange's
// results, proposals a script cannot make, malformed conf changes, the
// quorums of a joint configuration, restart while joint, Bootstrap, a
// learner's vote, and the campaign rules around conf changes. The scenarios (proposing and
// applying changes, one pending at a time, resizing under partitions, joint
// transitions, removal and demotion of the leader, learners) are scripts in
// testdata/confchange_*.txt.

import (
	"slices"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	pb "github.com/pontoon-raft/raft/raftpb"
	"github.com/pontoon-raft/raft/tracker"
)

// TestConfChangeApplyReturnsConfState: ApplyConfChange returns the
// configuration that results, for V1 and V2 changes, entering and leaving
// joint configurations, with learners and demotions; it is what the node
// itself reports from then on.
func TestConfChangeApplyReturnsConfState(t *testing.T) {
	rn := newTestRawNode(t, 1, newTestStorage(votersConf(1), pb.HardState{}))
	steps := []struct {
		cc   pb.ConfChangeI
		want pb.ConfState
	}{
		{pb.ConfChange{Type: pb.ConfChangeAddNode, NodeID: 2},
			pb.ConfState{Voters: []uint64{1, 2}}},
		{confChangeV2(t, pb.ConfChangeTransitionAuto, "v3 l4"),
			pb.ConfState{Voters: []uint64{1, 2, 3}, VotersOutgoing: []uint64{1, 2}, Learners: []uint64{4}, AutoLeave: true}},
		{pb.ConfChangeV2{},
			pb.ConfState{Voters: []uint64{1, 2, 3}, Learners: []uint64{4}}},
		{confChangeV2(t, pb.ConfChangeTransitionJointExplicit, "l3"),
			pb.ConfState{Voters: []uint64{1, 2}, VotersOutgoing: []uint64{1, 2, 3}, Learners: []uint64{4}, LearnersNext: []uint64{3}}},
		{&pb.ConfChangeV2{Context: []byte("leave")},
			pb.ConfState{Voters: []uint64{1, 2}, Learners: []uint64{3, 4}}},
		{pb.ConfChange{Type: pb.ConfChangeRemoveNode, NodeID: 4},
			pb.ConfState{Voters: []uint64{1, 2}, Learners: []uint64{3}}},
		{pb.ConfChange{Type: pb.ConfChangeAddNode, NodeID: 3},
			pb.ConfState{Voters: []uint64{1, 2, 3}}},
		{pb.ConfChange{Type: pb.ConfChangeUpdateNode, NodeID: 3},
			pb.ConfState{Voters: []uint64{1, 2, 3}}},
	}
	for i, s := range steps {
		got := rn.ApplyConfChange(s.cc)
		require.NotNil(t, got)
		require.Equal(t, s.want, *got, "step %d", i)
		require.Equal(t, s.want, rn.raft.trk.ConfState(), "step %d: the node's own configuration", i)
	}
}

// TestConfChangeProposalsTheScriptsCannotMake covers what
// testdata/confchange_one_pending.txt cannot propose: several conf changes in
// one MsgProp (only the first is kept; the others become empty entries), and
// the leave-joint form (EntryConfChangeV2 without data) proposed directly when
// not joint (refused alike). A proposed change reaches the log as its type
// and encoding, context included.
func TestConfChangeProposalsTheScriptsCannotMake(t *testing.T) {
	c := newClusterWithConf(t, 5, votersConf(1, 2, 3))
	c.elect(1)
	var ents []pb.Entry
	for _, id := range []uint64{4, 5} {
		data, err := (&pb.ConfChange{Type: pb.ConfChangeAddLearnerNode, NodeID: id}).Marshal()
		require.NoError(t, err)
		ents = append(ents, pb.Entry{Type: pb.EntryConfChange, Data: data})
	}
	last := c.lastEntry(1).Index
	require.NoError(t, c.node(1).rn.Step(pb.Message{Type: pb.MsgProp, From: 1, Entries: ents}))
	assert.Equal(t, pb.EntryConfChange, c.entryAt(1, last+1).Type)
	assert.Equal(t, pb.Entry{Type: pb.EntryNormal, Term: 1, Index: last + 2}, c.entryAt(1, last+2))
	c.stabilize()
	c.requireConf(pb.ConfState{Voters: []uint64{1, 2, 3}, Learners: []uint64{4}}, 1, 2, 3, 4)

	require.NoError(t, c.node(1).rn.Step(pb.Message{Type: pb.MsgProp, From: 1,
		Entries: []pb.Entry{{Type: pb.EntryConfChangeV2}}}))
	assert.Equal(t, pb.Entry{Type: pb.EntryNormal, Term: 1, Index: last + 3}, c.lastEntry(1))
	c.stabilize()

	for _, cc := range []pb.ConfChangeI{
		pb.ConfChange{Type: pb.ConfChangeAddLearnerNode, NodeID: 5, Context: []byte("ctx-v1")},
		pb.ConfChangeV2{Changes: []pb.ConfChangeSingle{{Type: pb.ConfChangeRemoveNode, NodeID: 5}}, Context: []byte("ctx-v2")},
	} {
		e := c.proposeConfChange(1, cc)
		typ, data, err := pb.MarshalConfChange(cc)
		require.NoError(t, err)
		assert.Equal(t, typ, e.Type)
		assert.Equal(t, data, e.Data)
		c.stabilize()
	}
}

// TestConfChangeMalformedNeverAppended: a proposal holding a conf change
// entry whose data does not decode is refused whole with
// ErrMalformedMessage, even when DisableConfChangeValidation is set:
// appending it would commit an entry that no node can apply, and replacing
// it by a no-op would hide the mistake. (etcd/raft panics on such a
// proposal.)
func TestConfChangeMalformedNeverAppended(t *testing.T) {
	for _, disable := range []bool{false, true} {
		c := newClusterWithConf(t, 3, votersConf(1, 2, 3), func(cfg *Config) { cfg.DisableConfChangeValidation = disable })
		c.elect(1)
		last := c.lastEntry(1).Index
		for _, typ := range []pb.EntryType{pb.EntryConfChange, pb.EntryConfChangeV2} {
			err := c.node(1).rn.Step(pb.Message{Type: pb.MsgProp, From: 1,
				Entries: []pb.Entry{{Data: []byte("fine")}, {Type: typ, Data: []byte{0xff, 0xff}}}})
			assert.ErrorIs(t, err, ErrMalformedMessage)
		}
		assert.Equal(t, last, c.lastEntry(1).Index, "nothing appended; validation disabled: %t", disable)
		c.stabilize()
		// The slot is free for the next change.
		assert.Equal(t, pb.EntryConfChange,
			c.proposeConfChange(1, pb.ConfChange{Type: pb.ConfChangeAddLearnerNode, NodeID: 4}).Type)
	}
}

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

// jointConf is the joint configuration {1, 4, 5} && {1, 2, 3} of the
// quorum tests.
var jointConf = pb.ConfState{Voters: []uint64{1, 4, 5}, VotersOutgoing: []uint64{1, 2, 3}}

// TestJointConfigElectionNeedsBothMajorities: in a joint configuration a
// candidate (or pre-candidate) wins only with a majority of each half.
func TestJointConfigElectionNeedsBothMajorities(t *testing.T) {
	for _, tc := range []struct {
		name      string
		candidate uint64
		reachable []uint64
		preVote   bool
	}{
		{"incoming majority only", 4, []uint64{1, 4, 5}, false},
		{"outgoing majority only", 2, []uint64{1, 2, 3}, false},
		{"PreVote/incoming majority only", 4, []uint64{1, 4, 5}, true},
		{"PreVote/outgoing majority only", 2, []uint64{1, 2, 3}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := newClusterWithConf(t, 5, jointConf, func(cfg *Config) { cfg.PreVote = tc.preVote })
			var others []uint64
			for _, id := range c.ids {
				if !slices.Contains(tc.reachable, id) {
					others = append(others, id)
				}
			}
			c.partition(tc.reachable, others)
			c.campaign(tc.candidate)
			r := c.node(tc.candidate).raft()
			if tc.preVote {
				assert.Equal(t, StatePreCandidate, r.state)
			} else {
				assert.Equal(t, StateCandidate, r.state)
			}
			granted, rejected, _ := r.trk.TallyVotes()
			assert.Equal(t, 3, granted, "every reachable voter granted")
			assert.Zero(t, rejected)
			assert.Empty(t, c.leaders())

			c.heal()
			c.elect(tc.candidate)
			c.requireConf(jointConf, c.ids...)
		})
	}
}

// TestJointConfigCheckQuorum: with CheckQuorum a leader in a joint
// configuration steps down when either half lacks a quorum of recently
// active voters.
func TestJointConfigCheckQuorum(t *testing.T) {
	for _, tc := range []struct {
		name     string
		groups   [][]uint64
		stepDown bool
	}{
		{"one incoming voter away", [][]uint64{{1, 2, 3, 4}, {5}}, false},
		{"outgoing half cut off", [][]uint64{{1, 4, 5}, {2, 3}}, true},
		{"incoming half cut off", [][]uint64{{1, 2, 3}, {4, 5}}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := newClusterWithConf(t, 5, jointConf, func(cfg *Config) { cfg.CheckQuorum = true })
			c.elect(1)
			c.partition(tc.groups...)
			c.tickNode(1, 2*c.node(1).cfg.ElectionTick)
			if tc.stepDown {
				assert.Equal(t, StateFollower, c.node(1).raft().state)
			} else {
				assert.Equal(t, StateLeader, c.node(1).raft().state)
			}
		})
	}
}

// TestJointConfigReadIndex: under ReadOnlySafe a leader in a joint
// configuration confirms a read only with heartbeat acknowledgements from a
// majority of each half.
func TestJointConfigReadIndex(t *testing.T) {
	for _, tc := range []struct {
		name   string
		groups [][]uint64
	}{
		{"incoming majority only", [][]uint64{{1, 4, 5}, {2, 3}}},
		{"outgoing majority only", [][]uint64{{1, 2, 3}, {4, 5}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := newClusterWithConf(t, 5, jointConf)
			c.elect(1)
			require.NoError(t, c.propose(1, "x"))
			c.stabilize()
			c.partition(tc.groups...)
			c.node(1).rn.ReadIndex([]byte("read"))
			c.tickNode(1, 3)
			assert.Empty(t, c.takeReadStates(1), "one half did not confirm")

			c.heal()
			c.tickNode(1, 1)
			assert.Equal(t, []ReadState{{Index: c.committed(1), RequestCtx: []byte("read")}}, c.takeReadStates(1))
		})
	}
}

// trackerConfigOf is the tracker.Config a ConfState describes.
func trackerConfigOf(cs pb.ConfState) tracker.Config {
	set := func(ids []uint64) map[uint64]struct{} {
		if len(ids) == 0 {
			return nil
		}
		m := map[uint64]struct{}{}
		for _, id := range ids {
			m[id] = struct{}{}
		}
		return m
	}
	cfg := tracker.Config{AutoLeave: cs.AutoLeave, Learners: set(cs.Learners), LearnersNext: set(cs.LearnersNext)}
	cfg.Voters[0] = set(cs.Voters)
	cfg.Voters[1] = set(cs.VotersOutgoing)
	return cfg
}

// TestConfChangeRestartInJointConfig: a node restarted from a snapshot
// whose ConfState is joint (outgoing voters, LearnersNext, AutoLeave)
// reports exactly that configuration.
func TestConfChangeRestartInJointConfig(t *testing.T) {
	t.Run("from storage", func(t *testing.T) {
		cs := pb.ConfState{Voters: []uint64{1, 2, 4}, VotersOutgoing: []uint64{1, 2, 3},
			Learners: []uint64{5}, LearnersNext: []uint64{3}, AutoLeave: true}
		s := NewMemoryStorage()
		require.NoError(t, s.ApplySnapshot(pb.Snapshot{Metadata: pb.SnapshotMetadata{Index: 10, Term: 2, ConfState: cs}}))
		require.NoError(t, s.SetHardState(pb.HardState{Term: 2, Commit: 10}))
		for i := 0; i < 2; i++ {
			rn := newTestRawNode(t, 1, s)
			assert.Equal(t, trackerConfigOf(cs), rn.Status().Config)
			assert.Equal(t, cs, rn.raft.trk.ConfState())
			learners := map[uint64]bool{}
			rn.WithProgress(func(id uint64, typ ProgressType, _ tracker.Progress) {
				learners[id] = typ == ProgressTypeLearner
			})
			assert.Equal(t, map[uint64]bool{1: false, 2: false, 3: false, 4: false, 5: true}, learners,
				"3 votes in the outgoing half until the joint configuration is left")
		}
	})

	// A cluster moving {1, 2, 3} + learner 5 to {1, 2, 4} + learners 3, 5
	// with an implicit joint change, held in the joint configuration.
	want := pb.ConfState{Voters: []uint64{1, 2, 4}, VotersOutgoing: []uint64{1, 2, 3},
		Learners: []uint64{5}, LearnersNext: []uint64{3}, AutoLeave: true}
	final := pb.ConfState{Voters: []uint64{1, 2, 4}, Learners: []uint64{3, 5}}
	newJointCluster := func(t *testing.T) *cluster {
		c := newClusterWithConf(t, 5, pb.ConfState{Voters: []uint64{1, 2, 3}, Learners: []uint64{5}})
		c.elect(1)
		c.filter = holdLeaveEntries
		c.proposeConfChange(1, confChangeV2(t, pb.ConfChangeTransitionJointImplicit, "v4 l3"))
		c.stabilize()
		// 4 never got the joint entry: its first MsgApp would carry the
		// leave entry as well.
		c.requireConf(want, 1, 2, 3, 5)
		return c
	}

	t.Run("follower crashes while joint", func(t *testing.T) {
		c := newJointCluster(t)
		c.compact(2)
		snap, err := c.node(2).storage.Snapshot()
		require.NoError(t, err)
		require.Equal(t, want, snap.Metadata.ConfState)
		c.crash(2)
		assert.Equal(t, trackerConfigOf(want), c.node(2).rn.Status().Config)
		assert.Equal(t, want, c.node(2).raft().trk.ConfState())

		// The leave entry gets through: everyone, the restarted node too,
		// leaves the joint configuration.
		c.filter = nil
		c.tickNode(1, 3)
		c.requireConf(final, c.ids...)
	})

	t.Run("leader crashes while joint", func(t *testing.T) {
		c := newJointCluster(t)
		c.compact(1)
		c.crash(1)
		assert.Equal(t, trackerConfigOf(want), c.node(1).rn.Status().Config)
		c.filter = nil
		// The others elect a leader among themselves, which proposes the
		// leave entry itself.
		c.isolate(1)
		for i := 0; i < 50 && len(c.leaders()) == 0; i++ {
			c.tickAll(1)
		}
		require.Len(t, c.leaders(), 1)
		lead := c.leaders()[0]
		c.heal()
		c.tickNode(lead, 3)
		c.requireConf(final, c.ids...)
		leaves := 0
		for _, e := range c.logOf(lead) {
			if e.Type == pb.EntryConfChangeV2 && e.Data == nil {
				leaves++
				assert.Equal(t, c.node(lead).raft().Term, e.Term, "proposed by the new leader")
			}
		}
		assert.Equal(t, 1, leaves)
	})
}

// holdLeaveEntries is a network filter that loses every message carrying
// a leave-joint entry (EntryConfChangeV2 with nil Data), so that followers
// stay in a joint configuration.
func holdLeaveEntries(m *pb.Message) bool {
	for _, e := range m.Entries {
		if e.Type == pb.EntryConfChangeV2 && e.Data == nil {
			return false
		}
	}
	return true
}

// TestConfChangeBootstrap: Bootstrap writes one committed AddNode entry per
// peer at term 1, indexes 1..n, carrying the peer's Context; applying them
// again from CommittedEntries changes nothing, and the cluster then works.
func TestConfChangeBootstrap(t *testing.T) {
	storages := map[uint64]*MemoryStorage{}
	for _, id := range idsUpTo(3) {
		storages[id] = NewMemoryStorage()
	}
	c := newClusterFromStorage(t, storages)
	peers := []Peer{{ID: 1, Context: []byte("one")}, {ID: 2}, {ID: 3, Context: []byte("three")}}
	for _, id := range c.ids {
		require.NoError(t, c.node(id).rn.Bootstrap(peers))
		c.requireConf(votersConf(1, 2, 3), id)
	}
	first := map[uint64]Ready{}
	c.onReady = func(n *member, rd Ready) {
		if _, ok := first[n.id]; !ok {
			first[n.id] = rd
		}
	}
	c.stabilize()
	for _, id := range c.ids {
		rd := first[id]
		assert.Equal(t, pb.HardState{Term: 1, Commit: 3}, rd.HardState, "node %d", id)
		require.Len(t, rd.Entries, 3)
		assert.Equal(t, rd.Entries, rd.CommittedEntries)
		for i, e := range rd.Entries {
			assert.Equal(t, pb.EntryConfChange, e.Type)
			assert.Equal(t, uint64(1), e.Term)
			assert.Equal(t, uint64(i+1), e.Index)
			var cc pb.ConfChange
			require.NoError(t, cc.Unmarshal(e.Data))
			assert.Equal(t, pb.ConfChange{Type: pb.ConfChangeAddNode, NodeID: peers[i].ID, Context: peers[i].Context}, cc)
			// Applying once more is still harmless.
			assert.Equal(t, votersConf(1, 2, 3), *c.node(id).rn.ApplyConfChange(cc))
		}
		assert.Equal(t, uint64(3), c.node(id).appliedIndex, "the harness applied them through ApplyConfChange")
	}
	c.requireConf(votersConf(1, 2, 3), c.ids...)
	c.elect(2)
	require.NoError(t, c.propose(3, "x"))
	c.stabilize()
	c.requireApplied("x", c.ids...)
	c.requireSameLogs(c.ids...)
}
