package raft

// Snapshot tests of the follower's side and of restart: which MsgSnap a
// follower restores or ignores, restart from a compacted storage, the
// ConfState as configuration, the Ready ordering of a snapshot, and a
// snapshot that arrives while entries are being applied.

import (
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	pb "github.com/pontoon-raft/raft/raftpb"
)

// snapMsg returns a MsgSnap from leader 1 at term 2 to node 2 for a
// snapshot at (index, term) with the given voters.
func snapMsg(index, term uint64, voters ...uint64) pb.Message {
	snap := pb.Snapshot{
		Data:     []byte(fmt.Sprint("state@", index)),
		Metadata: pb.SnapshotMetadata{Index: index, Term: term, ConfState: pb.ConfState{Voters: voters}},
	}
	return pb.Message{Type: pb.MsgSnap, From: 1, To: 2, Term: 2, Snapshot: &snap}
}

// TestSnapshotStaleOrDuplicateIgnored: a snapshot at or below the
// follower's commit index changes nothing and is answered with the commit
// index, so the leader learns how far the follower is. A duplicate of a
// snapshot just installed is such a snapshot.
func TestSnapshotStaleOrDuplicateIgnored(t *testing.T) {
	for _, index := range []uint64{3, 5} {
		t.Run(fmt.Sprint("index=", index), func(t *testing.T) {
			// Log 1..6 at term 1, committed up to 5.
			f := newTestFollower(t, 2, 5, 1, 1, 1, 1, 1, 1)
			require.NoError(t, f.Step(snapMsg(index, 1, 1, 2, 3)))
			assert.Equal(t, []pb.Message{{Type: pb.MsgAppResp, From: 2, To: 1, Term: 2, Index: 5}}, takeMsgs(f))
			assert.Equal(t, []uint64{1, 1, 1, 1, 1, 1}, logTerms(f))
			assert.Equal(t, uint64(5), f.raftLog.committed)
			assert.False(t, f.raftLog.hasNextOrInProgressSnapshot())
		})
	}

	t.Run("duplicate", func(t *testing.T) {
		s := newTestStorage(votersConf(1, 2, 3), pb.HardState{Term: 2, Commit: 1}, 1)
		rn := newTestRawNode(t, 2, s)
		m := snapMsg(10, 2, 1, 2, 3)
		require.NoError(t, rn.Step(m))
		rd := readyCycle(t, rn, s)
		assert.Equal(t, *m.Snapshot, rd.Snapshot)

		require.NoError(t, rn.Step(m))
		require.True(t, rn.HasReady())
		rd = readyCycle(t, rn, s)
		assert.True(t, IsEmptySnap(rd.Snapshot), "installed once")
		assert.Equal(t, []pb.Message{{Type: pb.MsgAppResp, From: 2, To: 1, Term: 2, Index: 10}}, rd.Messages)
		assert.False(t, rn.HasReady())
	})
}

// TestSnapshotWhenFollowerHasEntries: if the follower's log already holds
// the snapshot's last entry (same index and term) it keeps its log,
// including the suffix after that entry, and only moves its commit index up
// (paper §7: "If existing log entry has same index and term as snapshot's last
// included entry, retain log entries following it"). Otherwise the log is
// replaced by the snapshot.
func TestSnapshotWhenFollowerHasEntries(t *testing.T) {
	for _, tt := range []struct {
		name         string
		index, term  uint64
		wantRestored bool
		wantTerms    []uint64 // the log afterwards, from firstIndex
		wantFirst    uint64
	}{
		{"matches in the middle", 3, 2, false, []uint64{1, 2, 2, 2, 2}, 1},
		{"matches the last entry", 5, 2, false, []uint64{1, 2, 2, 2, 2}, 1},
		{"term differs", 4, 3, true, nil, 5},
		{"beyond the log", 7, 2, true, nil, 8},
	} {
		t.Run(tt.name, func(t *testing.T) {
			f := newTestFollower(t, 3, 1, 1, 2, 2, 2, 2)
			m := snapMsg(tt.index, tt.term, 1, 2, 3)
			m.Term = 3
			require.NoError(t, f.Step(m))
			assert.Equal(t, tt.wantTerms, logTerms(f))
			assert.Equal(t, tt.wantFirst, f.raftLog.firstIndex())
			assert.Equal(t, tt.index, f.raftLog.committed)
			assert.Equal(t, tt.wantRestored, f.raftLog.hasNextOrInProgressSnapshot())
			wantAck := tt.index // the commit index, or the last index after a restore
			assert.Equal(t, []pb.Message{{Type: pb.MsgAppResp, From: 2, To: 1, Term: 3, Index: wantAck}}, takeMsgs(f))
		})
	}
}

// compactedTestStorage returns a storage as a node leaves it after a crash:
// a snapshot at 10 (term 2) with voters 1..3 and learner 4, entries 11..15
// and the HardState {term 3, vote 2, commit 14}.
func compactedTestStorage(t *testing.T) *MemoryStorage {
	s := NewMemoryStorage()
	require.NoError(t, s.ApplySnapshot(pb.Snapshot{Data: []byte("state@10"), Metadata: pb.SnapshotMetadata{
		Index: 10, Term: 2, ConfState: pb.ConfState{Voters: []uint64{1, 2, 3}, Learners: []uint64{4}},
	}}))
	require.NoError(t, s.Append(makeEnts(11, 2, 3, 3, 3, 3)))
	require.NoError(t, s.SetHardState(pb.HardState{Term: 3, Vote: 2, Commit: 14}))
	return s
}

// TestRestartFromSnapshotAndEntries: a node started on a storage holding a
// snapshot, later entries and a HardState resumes with the stored term,
// vote and commit index, the snapshot's configuration, and applied at
// Config.Applied (the snapshot's index if zero): the committed entries
// after that are handed out again, the snapshot itself is not. Applied
// beyond the commit index is refused with an error that names both.
func TestRestartFromSnapshotAndEntries(t *testing.T) {
	for _, tt := range []struct {
		applied      uint64
		wantApplied  uint64
		wantCommEnts []uint64 // indexes handed out for applying
	}{
		{0, 10, []uint64{11, 12, 13, 14}},
		{10, 10, []uint64{11, 12, 13, 14}},
		{12, 12, []uint64{13, 14}},
		{14, 14, nil},
	} {
		t.Run(fmt.Sprint("applied=", tt.applied), func(t *testing.T) {
			s := compactedTestStorage(t)
			rn := newTestRawNode(t, 1, s, func(c *Config) { c.Applied = tt.applied })
			st := rn.Status()
			assert.Equal(t, pb.HardState{Term: 3, Vote: 2, Commit: 14}, st.HardState)
			assert.Equal(t, tt.wantApplied, st.Applied)
			assert.Equal(t, SoftState{Lead: None, RaftState: StateFollower}, st.SoftState)
			assert.Equal(t, pb.ConfState{Voters: []uint64{1, 2, 3}, Learners: []uint64{4}}, rn.raft.trk.ConfState())
			assert.Equal(t, uint64(11), rn.raft.raftLog.firstIndex())
			assert.Equal(t, uint64(15), rn.raft.raftLog.lastIndex())

			var got []uint64
			for rn.HasReady() {
				rd := readyCycle(t, rn, s)
				assert.True(t, IsEmptySnap(rd.Snapshot), "the stored snapshot is not handed out again")
				assert.True(t, IsEmptyHardState(rd.HardState), "nothing new to persist")
				assert.Empty(t, rd.Entries)
				for _, e := range rd.CommittedEntries {
					got = append(got, e.Index)
				}
			}
			assert.Equal(t, tt.wantCommEnts, got)
			assert.Equal(t, uint64(14), rn.Status().Applied)
		})
	}

	t.Run("applied beyond commit", func(t *testing.T) {
		cfg := testConfig(1, compactedTestStorage(t))
		cfg.Applied = 15
		rn, err := NewRawNode(cfg)
		assert.Nil(t, rn)
		require.ErrorIs(t, err, ErrInvalidConfig)
		assert.Contains(t, err.Error(), "Applied (15)")
		assert.Contains(t, err.Error(), "committed index (14)")
	})

	t.Run("cluster member", func(t *testing.T) {
		// A member that compacted, applied more and crashed comes back
		// from its snapshot: only the entries after it are applied again,
		// in order, and it keeps up with the cluster.
		c := newCluster(t, 3)
		c.elect(1)
		for i := 0; i < 4; i++ {
			require.NoError(t, c.propose(1, fmt.Sprint("a", i)))
		}
		c.stabilize()
		c.compact(2)
		for i := 0; i < 2; i++ {
			require.NoError(t, c.propose(1, fmt.Sprint("b", i)))
		}
		c.stabilize()
		n := c.node(2)
		before := n.rn.BasicStatus().HardState
		c.crash(2)
		assert.Equal(t, before, n.rn.BasicStatus().HardState)
		assert.Equal(t, uint64(5), n.rn.BasicStatus().Applied)
		c.stabilize()
		assert.Equal(t, []string{"a0", "a1", "a2", "a3", "b0", "b1"}, n.appliedData())
		require.NoError(t, c.propose(1, "c"))
		c.stabilize()
		assert.Equal(t, c.node(1).appliedIndex, n.appliedIndex)
		c.requireSameLogs(1, 3)
	})
}

// TestSnapshotConfStateBecomesConfiguration: the configuration of a
// restored snapshot replaces the follower's, whatever it was, including
// learners and joint configurations; Ready.Snapshot carries the same
// ConfState to the application. A snapshot whose configuration leaves the
// follower out is refused and changes nothing.
func TestSnapshotConfStateBecomesConfiguration(t *testing.T) {
	for _, tt := range []struct {
		name        string
		cs          pb.ConfState
		wantLearner bool
	}{
		{"more voters and a learner", pb.ConfState{Voters: []uint64{1, 2, 3, 4}, Learners: []uint64{5}}, false},
		{"fewer voters", pb.ConfState{Voters: []uint64{1, 2}}, false},
		{"demoted to learner", pb.ConfState{Voters: []uint64{1, 3}, Learners: []uint64{2}}, true},
		{"joint", pb.ConfState{Voters: []uint64{1, 2, 4}, VotersOutgoing: []uint64{1, 2, 3}, AutoLeave: true}, false},
		{"joint, leaving as learner", pb.ConfState{Voters: []uint64{1, 3, 4}, VotersOutgoing: []uint64{1, 2, 3},
			LearnersNext: []uint64{2}}, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			s := newTestStorage(votersConf(1, 2, 3), pb.HardState{Term: 2, Commit: 1}, 1)
			rn := newTestRawNode(t, 2, s)
			m := snapMsg(10, 2)
			m.Snapshot.Metadata.ConfState = tt.cs
			require.NoError(t, rn.Step(m))
			rd := readyCycle(t, rn, s)
			assert.Equal(t, tt.cs, rd.Snapshot.Metadata.ConfState)
			assert.NoError(t, rn.raft.trk.ConfState().Equivalent(tt.cs))
			assert.Equal(t, tt.wantLearner, rn.raft.isLearner)
			_, stored, err := s.InitialState()
			require.NoError(t, err)
			assert.Equal(t, tt.cs, stored, "persisted with the snapshot")
		})
	}

	t.Run("not a member", func(t *testing.T) {
		f := newTestFollower(t, 2, 1, 1)
		require.NoError(t, f.Step(snapMsg(10, 2, 1, 3, 4)))
		assert.Equal(t, []pb.Message{{Type: pb.MsgAppResp, From: 2, To: 1, Term: 2, Index: 1}}, takeMsgs(f))
		assert.Equal(t, pb.ConfState{Voters: []uint64{1, 2, 3}}, f.trk.ConfState())
		assert.False(t, f.raftLog.hasNextOrInProgressSnapshot())
	})
}

// TestReadySnapshotBeforeLaterEntries: a snapshot and the entries after it
// may arrive in one Ready. Persisted in the documented order (snapshot,
// then entries) the storage holds both; the entries after the snapshot,
// though committed, are handed out for applying only in a later Ready,
// once Advance has confirmed that the snapshot is in the state machine.
func TestReadySnapshotBeforeLaterEntries(t *testing.T) {
	s := newTestStorage(votersConf(1, 2, 3), pb.HardState{Term: 2, Commit: 1}, 1)
	rn := newTestRawNode(t, 2, s)
	m := snapMsg(10, 2, 1, 2, 3)
	require.NoError(t, rn.Step(m))
	require.NoError(t, rn.Step(pb.Message{Type: pb.MsgApp, From: 1, To: 2, Term: 2, Index: 10, LogTerm: 2,
		Entries: makeEnts(11, 2, 2), Commit: 12}))

	rd := readyCycle(t, rn, s)
	assert.Equal(t, *m.Snapshot, rd.Snapshot)
	assert.Equal(t, makeEnts(11, 2, 2), rd.Entries)
	assert.Equal(t, uint64(12), rd.HardState.Commit)
	assert.Empty(t, rd.CommittedEntries, "nothing after the snapshot is applied before it")
	assert.Equal(t, []pb.Message{
		{Type: pb.MsgAppResp, From: 2, To: 1, Term: 2, Index: 10},
		{Type: pb.MsgAppResp, From: 2, To: 1, Term: 2, Index: 12},
	}, rd.Messages)
	first, _ := s.FirstIndex()
	last, _ := s.LastIndex()
	assert.Equal(t, [2]uint64{11, 12}, [2]uint64{first, last})
	assert.Equal(t, uint64(10), rn.Status().Applied)

	rd = readyCycle(t, rn, s)
	assert.Equal(t, makeEnts(11, 2, 2), rd.CommittedEntries)
	assert.False(t, rn.HasReady())
}

// A snapshot that arrives while committed entries are out for applying is
// not installed: the application would apply those older entries (and call
// ApplyConfChange for their conf changes) after the snapshot, rolling the
// state machine and the configuration back onto the snapshot's. raftsim
// found the configuration corruption (seed 26442, 5 nodes, async mixed):
// re-applied bootstrap and joint entries turned a node's configuration into
// one no other node had. Once the entries are reported applied, the same
// snapshot is installed.
func TestSnapshotNotRestoredWhileEntriesAreApplied(t *testing.T) {
	s := newTestStorage(votersConf(1, 2, 3), pb.HardState{Term: 2, Commit: 1}, 1, 2)
	rn := newTestRawNode(t, 2, s)
	// The leader commits entry 2; the follower hands it out for applying.
	require.NoError(t, rn.Step(pb.Message{Type: pb.MsgHeartbeat, From: 1, To: 2, Term: 2, Commit: 2}))
	rd := rn.Ready()
	require.NoError(t, s.SetHardState(rd.HardState))
	require.NotEmpty(t, rd.CommittedEntries)

	snap := pb.Snapshot{Metadata: pb.SnapshotMetadata{Index: 10, Term: 2,
		ConfState: pb.ConfState{Voters: []uint64{1, 2, 4}}}}
	require.NoError(t, rn.Step(pb.Message{Type: pb.MsgSnap, From: 1, To: 2, Term: 2, Snapshot: &snap}))
	assert.Equal(t, uint64(2), rn.raft.raftLog.committed, "snapshot must wait for the entries being applied")
	assert.Equal(t, []uint64{1, 2, 3}, rn.raft.trk.VoterNodes())
	rn.Advance(rd)

	require.NoError(t, rn.Step(pb.Message{Type: pb.MsgSnap, From: 1, To: 2, Term: 2, Snapshot: &snap}))
	assert.Equal(t, uint64(10), rn.raft.raftLog.committed)
	assert.Equal(t, []uint64{1, 2, 4}, rn.raft.trk.VoterNodes())
	rd = rn.Ready()
	assert.Equal(t, uint64(10), rd.Snapshot.Metadata.Index)
	assert.Empty(t, rd.CommittedEntries)
}
