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
// bookkeeping. The follower's restore rules, restart from a compacted
// storage and the Ready ordering of a snapshot are in
// snapshot_restore_test.go. TestSnapshotCatchUp and
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
