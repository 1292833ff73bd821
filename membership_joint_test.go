package raft

// Membership scenarios: quorums of joint configurations (elections,
// CheckQuorum, ReadIndex), restart in a joint configuration, Bootstrap.

import (
	"slices"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	pb "github.com/pontoon-raft/raft/raftpb"
	"github.com/pontoon-raft/raft/tracker"
)

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
