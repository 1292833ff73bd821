package raft

import (
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	pb "github.com/pontoon-raft/raft/raftpb"
	"github.com/pontoon-raft/raft/tracker"
)

// Tests of snapshots and log compaction (§7): the leader's StateSnapshot
// bookkeeping, the follower's restore rules, restart from a compacted
// storage and the Ready ordering of a snapshot. TestSnapshotCatchUp and
// TestSnapshotSentWhenAckedFollowerNeedsCompactedEntries (replication_test.go)
// and the MemoryStorage tests (storage_test.go) cover the rest.

// ctStabilizeHolding runs c like stabilize, except that every message to
// node held is taken off the network instead of delivered; it returns them
// in send order. Nothing is reported for a held MsgSnap.
func ctStabilizeHolding(c *ctCluster, held uint64) []pb.Message {
	c.t.Helper()
	var out []pb.Message
	for i := 0; i < ctMaxRounds; i++ {
		readys := c.processReadys()
		msgs := c.queue
		c.queue = nil
		for _, m := range msgs {
			if m.To == held {
				out = append(out, m)
			} else {
				c.deliverOne(m)
			}
		}
		if !readys && len(msgs) == 0 {
			return out
		}
	}
	c.t.Fatalf("cluster did not stabilize within %d rounds", ctMaxRounds)
	return nil
}

// ctLaggingFollower returns a cluster led by node 1 in which node 3 missed
// five entries while isolated and was reported unreachable, and the
// leader's log has been compacted past them; the links are healed again. It also returns the index of the
// leader's snapshot.
func ctLaggingFollower(t *testing.T) (*ctCluster, uint64) {
	c := ctNewCluster(t, 3)
	c.elect(1)
	c.isolate(3)
	for i := 0; i < 5; i++ {
		require.NoError(t, c.propose(1, fmt.Sprint("e", i)))
	}
	c.stabilize()
	// The transport notices that node 3 is unreachable, so the leader
	// probes it from its real match instead of streaming optimistically.
	c.node(1).rn.ReportUnreachable(3)
	c.compact(1)
	c.heal()
	snap, err := c.node(1).storage.Snapshot()
	require.NoError(t, err)
	require.Equal(t, uint64(6), snap.Metadata.Index)
	require.Less(t, c.node(3).raft().raftLog.lastIndex()+1, snap.Metadata.Index, "node 3 needs compacted entries")
	return c, snap.Metadata.Index
}

// ctHeartbeatRespFrom steps a heartbeat response from id into the leader:
// proof that id is reachable, which makes the leader send it what it lacks.
func ctHeartbeatRespFrom(t *testing.T, c *ctCluster, id uint64) {
	t.Helper()
	l := c.node(1)
	require.NoError(t, l.rn.Step(pb.Message{Type: pb.MsgHeartbeatResp, From: id, To: 1, Term: l.raft().Term}))
}

// TestSnapshotPendingPausesAppends: once the leader finds a follower's next
// entries compacted it sends one MsgSnap, moves the follower to
// StateSnapshot with PendingSnapshot set, and sends no MsgApp (nor another
// MsgSnap) to it while the snapshot is pending, whatever is proposed and
// however often the follower answers heartbeats. The pending state ends
// either with ReportSnapshot(SnapshotFinish), after which the leader waits
// for the follower's next answer and then probes right after the snapshot,
// or with the follower's append response, which shows it caught up.
func TestSnapshotPendingPausesAppends(t *testing.T) {
	for _, reportFirst := range []bool{true, false} {
		t.Run(fmt.Sprintf("reportFirst=%v", reportFirst), func(t *testing.T) {
			c, snapIndex := ctLaggingFollower(t)
			l, f := c.node(1), c.node(3)
			pr := l.raft().trk.Progress[3]

			ctHeartbeatRespFrom(t, c, 3)
			held := ctStabilizeHolding(c, 3)
			require.Len(t, held, 1)
			snapMsg := held[0]
			require.Equal(t, pb.MsgSnap, snapMsg.Type)
			require.Equal(t, snapIndex, snapMsg.Snapshot.Metadata.Index)
			assert.Equal(t, tracker.StateSnapshot, pr.State)
			assert.Equal(t, snapIndex, pr.PendingSnapshot)
			assert.Equal(t, snapIndex+1, pr.Next)

			// While the snapshot is pending: proposals, heartbeats and
			// heartbeat answers bring the follower nothing but heartbeats.
			for i := 0; i < 3; i++ {
				require.NoError(t, c.propose(1, fmt.Sprint("during", i)))
				c.tick(1)
				ctHeartbeatRespFrom(t, c, 3)
				held = ctStabilizeHolding(c, 3)
				assert.NotEmpty(t, held)
				for _, m := range held {
					assert.Equal(t, pb.MsgHeartbeat, m.Type, "only heartbeats while a snapshot is pending")
				}
			}
			assert.Equal(t, tracker.StateSnapshot, pr.State)
			assert.Equal(t, snapIndex, pr.PendingSnapshot)

			// The follower installs the snapshot.
			require.NoError(t, f.rn.Step(snapMsg))
			c.handleReady(f)
			require.Len(t, c.queue, 1)
			ack := c.queue[0]
			c.queue = nil
			require.Equal(t, pb.MsgAppResp, ack.Type)
			require.Equal(t, snapIndex, ack.Index)

			if reportFirst {
				l.rn.ReportSnapshot(3, SnapshotFinish)
				assert.Equal(t, tracker.StateProbe, pr.State)
				assert.Zero(t, pr.PendingSnapshot)
				assert.Equal(t, snapIndex+1, pr.Next, "probing resumes after the snapshot")
				assert.True(t, pr.IsPaused(), "no probe until the follower answers")
				assert.Empty(t, ctStabilizeHolding(c, 3))
			}

			// The acknowledgement of the snapshot arrives: the leader goes
			// on from the snapshot's index with the entries after it.
			require.NoError(t, l.rn.Step(ack))
			assert.Equal(t, tracker.StateReplicate, pr.State)
			assert.Equal(t, snapIndex, pr.Match)
			held = ctStabilizeHolding(c, 3)
			require.NotEmpty(t, held)
			assert.Equal(t, pb.MsgApp, held[0].Type)
			assert.Equal(t, snapIndex, held[0].Index, "the first append follows the snapshot")
			assert.Len(t, held[0].Entries, 3)

			if !reportFirst {
				// A late report changes nothing any more.
				l.rn.ReportSnapshot(3, SnapshotFinish)
				assert.Equal(t, tracker.StateReplicate, pr.State)
			}
			for _, m := range held {
				c.deliverOne(m)
			}
			c.stabilize()
			assert.Equal(t, l.appliedIndex, f.appliedIndex)
			assert.Equal(t, []string{"during0", "during1", "during2"}, f.appliedData())
		})
	}
}

// TestSnapshotStateLeftOnAppendResponse: in StateSnapshot an append
// response moves the follower on as soon as Match+1 reaches the leader's
// first log index, so that the log can serve it, whichever snapshot got it
// there (§2.2 of the spec).
func TestSnapshotStateLeftOnAppendResponse(t *testing.T) {
	for _, tt := range []struct {
		respIndex uint64
		wantState tracker.StateType
	}{
		{respIndex: 6, wantState: tracker.StateSnapshot}, // 7 < first index 8
		{respIndex: 7, wantState: tracker.StateReplicate},
		{respIndex: 9, wantState: tracker.StateReplicate},
	} {
		t.Run(fmt.Sprint(tt.respIndex), func(t *testing.T) {
			// The leader's log holds 1..11 at term 1; its snapshot is at 11
			// but it compacted only up to 7.
			s := ctStorage([]uint64{1, 2, 3}, pb.HardState{Term: 1, Vote: 1, Commit: 11}, ctTerms(1, 11)...)
			cs := pb.ConfState{Voters: []uint64{1, 2, 3}}
			_, err := s.CreateSnapshot(11, &cs, nil)
			require.NoError(t, err)
			require.NoError(t, s.Compact(7))
			r := ctRaft(t, 1, s)
			r.becomeCandidate()
			r.becomeLeader()
			ctTakeMsgs(r)
			pr := r.trk.Progress[2]
			pr.BecomeSnapshot(11)

			require.NoError(t, r.Step(pb.Message{Type: pb.MsgAppResp, From: 2, To: 1, Term: r.Term, Index: tt.respIndex}))
			assert.Equal(t, tt.wantState, pr.State)
			assert.Equal(t, tt.respIndex, pr.Match)
			apps := ctFilter(ctTakeMsgs(r), pb.MsgApp)
			if tt.wantState == tracker.StateSnapshot {
				assert.Empty(t, apps)
				assert.Equal(t, uint64(11), pr.PendingSnapshot)
				return
			}
			assert.Zero(t, pr.PendingSnapshot)
			require.NotEmpty(t, apps)
			assert.Equal(t, tt.respIndex, apps[0].Index, "replication continues from the follower's match")
		})
	}
}

// TestSnapshotRetryFetchesFreshSnapshot: when no snapshot can be sent
// (Storage.Snapshot says ErrSnapshotTemporarilyUnavailable) or the one sent
// is reported lost (SnapshotFailure), the follower is left in StateProbe
// with nothing pending, and the retry, after its next answer, reads the
// storage again and so sends the snapshot the application made meanwhile.
func TestSnapshotRetryFetchesFreshSnapshot(t *testing.T) {
	for _, failure := range []string{"temporarily unavailable", "reported failure"} {
		t.Run(failure, func(t *testing.T) {
			c, _ := ctLaggingFollower(t)
			l := c.node(1)
			flaky := &ctFlakySnapStorage{MemoryStorage: l.storage}
			l.raft().raftLog.storage = flaky
			pr := l.raft().trk.Progress[3]

			flaky.unavailable = failure == "temporarily unavailable"
			ctHeartbeatRespFrom(t, c, 3)
			held := ctStabilizeHolding(c, 3)
			if flaky.unavailable {
				assert.Empty(t, held, "nothing can be sent")
			} else {
				require.Len(t, held, 1)
				require.Equal(t, pb.MsgSnap, held[0].Type)
				require.Equal(t, tracker.StateSnapshot, pr.State)
				l.rn.ReportSnapshot(3, SnapshotFailure)
				assert.True(t, pr.IsPaused(), "the retry waits for the follower's next answer")
			}
			assert.Equal(t, tracker.StateProbe, pr.State)
			assert.Zero(t, pr.PendingSnapshot)

			// The application applies more and snapshots again. Until the
			// follower answers (or the storage can serve a snapshot),
			// replicating these entries sends it nothing.
			for i := 0; i < 2; i++ {
				require.NoError(t, c.propose(1, fmt.Sprint("more", i)))
				assert.Empty(t, ctStabilizeHolding(c, 3))
			}
			c.compact(1)
			flaky.unavailable = false
			fresh, err := l.storage.Snapshot()
			require.NoError(t, err)
			require.Equal(t, uint64(8), fresh.Metadata.Index)

			ctHeartbeatRespFrom(t, c, 3)
			held = ctStabilizeHolding(c, 3)
			snaps := ctFilter(held, pb.MsgSnap)
			require.Len(t, snaps, 1)
			assert.Equal(t, fresh.Metadata, snaps[0].Snapshot.Metadata)
			assert.Equal(t, tracker.StateSnapshot, pr.State)
			assert.Equal(t, uint64(8), pr.PendingSnapshot)

			for _, m := range held {
				c.deliverOne(m)
			}
			c.stabilize()
			assert.Equal(t, l.appliedIndex, c.node(3).appliedIndex)
			assert.Equal(t, tracker.StateReplicate, pr.State)
		})
	}
}

// ctSnapMsg returns a MsgSnap from leader 1 at term 2 to node 2 for a
// snapshot at (index, term) with the given voters.
func ctSnapMsg(index, term uint64, voters ...uint64) pb.Message {
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
			f := ctFollower(t, 2, 5, 1, 1, 1, 1, 1, 1)
			require.NoError(t, f.Step(ctSnapMsg(index, 1, 1, 2, 3)))
			assert.Equal(t, []pb.Message{{Type: pb.MsgAppResp, From: 2, To: 1, Term: 2, Index: 5}}, ctTakeMsgs(f))
			assert.Equal(t, []uint64{1, 1, 1, 1, 1, 1}, ctLogTerms(f))
			assert.Equal(t, uint64(5), f.raftLog.committed)
			assert.False(t, f.raftLog.hasNextOrInProgressSnapshot())
		})
	}

	t.Run("duplicate", func(t *testing.T) {
		s := ctStorage([]uint64{1, 2, 3}, pb.HardState{Term: 2, Commit: 1}, 1)
		rn := ctRawNode(t, 2, s)
		m := ctSnapMsg(10, 2, 1, 2, 3)
		require.NoError(t, rn.Step(m))
		rd := ctReady(t, rn, s)
		assert.Equal(t, *m.Snapshot, rd.Snapshot)

		require.NoError(t, rn.Step(m))
		require.True(t, rn.HasReady())
		rd = ctReady(t, rn, s)
		assert.True(t, IsEmptySnap(rd.Snapshot), "installed once")
		assert.Equal(t, []pb.Message{{Type: pb.MsgAppResp, From: 2, To: 1, Term: 2, Index: 10}}, rd.Messages)
		assert.False(t, rn.HasReady())
	})
}

// TestSnapshotResentAfterFalseFailure: the transport reports a snapshot as
// failed although it arrived (a timeout, say) and the acknowledgement was
// lost. The leader sends the same snapshot again; the follower ignores it
// as stale and answers with its commit index, and that answer is enough for
// the leader to move on.
func TestSnapshotResentAfterFalseFailure(t *testing.T) {
	c, snapIndex := ctLaggingFollower(t)
	l, f := c.node(1), c.node(3)
	pr := l.raft().trk.Progress[3]

	ctHeartbeatRespFrom(t, c, 3)
	held := ctStabilizeHolding(c, 3)
	require.Len(t, held, 1)
	require.NoError(t, f.rn.Step(held[0]))
	c.handleReady(f)
	c.queue = nil // the acknowledgement is lost
	l.rn.ReportSnapshot(3, SnapshotFailure)
	require.Equal(t, tracker.StateProbe, pr.State)

	ctHeartbeatRespFrom(t, c, 3)
	held = ctStabilizeHolding(c, 3)
	require.Len(t, held, 1)
	require.Equal(t, pb.MsgSnap, held[0].Type)
	require.Equal(t, snapIndex, held[0].Snapshot.Metadata.Index)

	require.NoError(t, f.rn.Step(held[0]))
	require.True(t, f.rn.HasReady())
	rd := f.rn.Ready()
	assert.True(t, IsEmptySnap(rd.Snapshot), "the stale snapshot is not installed again")
	assert.Equal(t, []pb.Message{{Type: pb.MsgAppResp, From: 3, To: 1, Term: 1, Index: snapIndex}}, rd.Messages)
	f.rn.Advance(rd)
	require.NoError(t, l.rn.Step(rd.Messages[0]))
	assert.Equal(t, tracker.StateReplicate, pr.State, "the answer to the stale snapshot ends StateSnapshot")
	assert.Equal(t, snapIndex, pr.Match)
	l.rn.ReportSnapshot(3, SnapshotFinish) // the second transfer's report
	c.stabilize()
	require.NoError(t, c.propose(1, "next"))
	c.stabilize()
	assert.Equal(t, []string{"next"}, f.appliedData())
}

// TestSnapshotWhenFollowerHasEntries: if the follower's log already holds
// the snapshot's last entry (same index and term) it keeps its log,
// including the suffix after that entry, and only moves its commit index up
// (§7: "If existing log entry has same index and term as snapshot's last
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
			f := ctFollower(t, 3, 1, 1, 2, 2, 2, 2)
			m := ctSnapMsg(tt.index, tt.term, 1, 2, 3)
			m.Term = 3
			require.NoError(t, f.Step(m))
			assert.Equal(t, tt.wantTerms, ctLogTerms(f))
			assert.Equal(t, tt.wantFirst, f.raftLog.firstIndex())
			assert.Equal(t, tt.index, f.raftLog.committed)
			assert.Equal(t, tt.wantRestored, f.raftLog.hasNextOrInProgressSnapshot())
			wantAck := tt.index // the commit index, or the last index after a restore
			assert.Equal(t, []pb.Message{{Type: pb.MsgAppResp, From: 2, To: 1, Term: 3, Index: wantAck}}, ctTakeMsgs(f))
		})
	}
}

// TestSnapshotInFlightDuringLeaderChange: node 1 sends node 3 a snapshot
// and loses leadership to node 2 before it arrives. If node 3 has already
// heard of the new term, the old leader's MsgSnap is ignored as stale;
// otherwise node 3 installs it, which is safe because a snapshot holds only
// committed state. Either way the old leader's late ReportSnapshot is
// harmless and the new leader catches node 3 up with its own snapshot.
func TestSnapshotInFlightDuringLeaderChange(t *testing.T) {
	for _, snapFirst := range []bool{true, false} {
		t.Run(fmt.Sprintf("oldSnapshotFirst=%v", snapFirst), func(t *testing.T) {
			c, oldIndex := ctLaggingFollower(t)
			// Replicating more entries sends node 3 the leader's snapshot;
			// node 2 applies them and compacts further than node 1 did.
			for i := 0; i < 3; i++ {
				require.NoError(t, c.propose(1, fmt.Sprint("more", i)))
			}
			held := ctStabilizeHolding(c, 3)
			c.compact(2)
			newSnap, err := c.node(2).storage.Snapshot()
			require.NoError(t, err)
			require.Greater(t, newSnap.Metadata.Index, oldIndex)
			require.Len(t, held, 1)
			oldSnapMsg := held[0]
			require.Equal(t, pb.MsgSnap, oldSnapMsg.Type)
			require.Equal(t, oldIndex, oldSnapMsg.Snapshot.Metadata.Index)

			// Node 2 takes over while the snapshot is in flight.
			require.NoError(t, c.node(2).rn.Campaign())
			held = ctStabilizeHolding(c, 3)
			require.Equal(t, []uint64{2}, c.leaders())
			c.node(1).rn.ReportSnapshot(3, SnapshotFinish)
			assert.Equal(t, StateFollower, c.node(1).raft().state)

			f := c.node(3)
			if snapFirst {
				c.deliverOne(oldSnapMsg)
				c.processReadys()
				assert.Equal(t, oldIndex, f.appliedIndex, "the old leader's snapshot is installed")
			}
			for _, m := range held {
				c.deliverOne(m)
			}
			if !snapFirst {
				c.processReadys()
				c.deliverOne(oldSnapMsg)
				c.processReadys()
				assert.Less(t, f.appliedIndex, oldIndex, "a snapshot from an old term is ignored")
			}
			c.stabilize()
			c.tickAll(2)
			assert.Equal(t, uint64(2), f.raft().lead)
			assert.Equal(t, c.node(2).appliedIndex, f.appliedIndex)
			got, err := f.storage.Snapshot()
			require.NoError(t, err)
			assert.Equal(t, newSnap.Metadata, got.Metadata, "caught up by the new leader's snapshot")
			assert.Equal(t, tracker.StateReplicate, c.node(2).raft().trk.Progress[3].State)
			require.NoError(t, c.propose(2, "after"))
			c.stabilize()
			assert.Equal(t, []string{"after"}, f.appliedData())
		})
	}
}

// ctCompactedStorage returns a storage as a node leaves it after a crash:
// a snapshot at 10 (term 2) with voters 1..3 and learner 4, entries 11..15
// and the HardState {term 3, vote 2, commit 14}.
func ctCompactedStorage(t *testing.T) *MemoryStorage {
	s := NewMemoryStorage()
	require.NoError(t, s.ApplySnapshot(pb.Snapshot{Data: []byte("state@10"), Metadata: pb.SnapshotMetadata{
		Index: 10, Term: 2, ConfState: pb.ConfState{Voters: []uint64{1, 2, 3}, Learners: []uint64{4}},
	}}))
	require.NoError(t, s.Append(ctEnts(11, 2, 3, 3, 3, 3)))
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
			s := ctCompactedStorage(t)
			rn := ctRawNode(t, 1, s, func(c *Config) { c.Applied = tt.applied })
			st := rn.Status()
			assert.Equal(t, pb.HardState{Term: 3, Vote: 2, Commit: 14}, st.HardState)
			assert.Equal(t, tt.wantApplied, st.Applied)
			assert.Equal(t, SoftState{Lead: None, RaftState: StateFollower}, st.SoftState)
			assert.Equal(t, pb.ConfState{Voters: []uint64{1, 2, 3}, Learners: []uint64{4}}, rn.raft.trk.ConfState())
			assert.Equal(t, uint64(11), rn.raft.raftLog.firstIndex())
			assert.Equal(t, uint64(15), rn.raft.raftLog.lastIndex())

			var got []uint64
			for rn.HasReady() {
				rd := ctReady(t, rn, s)
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
		cfg := ctConfig(1, ctCompactedStorage(t))
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
		c := ctNewCluster(t, 3)
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
			s := ctStorage([]uint64{1, 2, 3}, pb.HardState{Term: 2, Commit: 1}, 1)
			rn := ctRawNode(t, 2, s)
			m := ctSnapMsg(10, 2)
			m.Snapshot.Metadata.ConfState = tt.cs
			require.NoError(t, rn.Step(m))
			rd := ctReady(t, rn, s)
			assert.Equal(t, tt.cs, rd.Snapshot.Metadata.ConfState)
			assert.NoError(t, rn.raft.trk.ConfState().Equivalent(tt.cs))
			assert.Equal(t, tt.wantLearner, rn.raft.isLearner)
			_, stored, err := s.InitialState()
			require.NoError(t, err)
			assert.Equal(t, tt.cs, stored, "persisted with the snapshot")
		})
	}

	t.Run("not a member", func(t *testing.T) {
		f := ctFollower(t, 2, 1, 1)
		require.NoError(t, f.Step(ctSnapMsg(10, 2, 1, 3, 4)))
		assert.Equal(t, []pb.Message{{Type: pb.MsgAppResp, From: 2, To: 1, Term: 2, Index: 1}}, ctTakeMsgs(f))
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
	s := ctStorage([]uint64{1, 2, 3}, pb.HardState{Term: 2, Commit: 1}, 1)
	rn := ctRawNode(t, 2, s)
	m := ctSnapMsg(10, 2, 1, 2, 3)
	require.NoError(t, rn.Step(m))
	require.NoError(t, rn.Step(pb.Message{Type: pb.MsgApp, From: 1, To: 2, Term: 2, Index: 10, LogTerm: 2,
		Entries: ctEnts(11, 2, 2), Commit: 12}))

	rd := ctReady(t, rn, s)
	assert.Equal(t, *m.Snapshot, rd.Snapshot)
	assert.Equal(t, ctEnts(11, 2, 2), rd.Entries)
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

	rd = ctReady(t, rn, s)
	assert.Equal(t, ctEnts(11, 2, 2), rd.CommittedEntries)
	assert.False(t, rn.HasReady())
}
