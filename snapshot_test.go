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

// laggingFollowerCluster returns a cluster led by node 1 in which node 3 missed
// five entries while isolated and was reported unreachable, and the
// leader's log has been compacted past them; the links are healed again. It also returns the index of the
// leader's snapshot.
func laggingFollowerCluster(t *testing.T) (*cluster, uint64) {
	c := newCluster(t, 3)
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

// heartbeatRespFrom steps a heartbeat response from id into the leader:
// proof that id is reachable, which makes the leader send it what it lacks.
func heartbeatRespFrom(t *testing.T, c *cluster, id uint64) {
	t.Helper()
	l := c.node(1)
	require.NoError(t, l.rn.Step(pb.Message{Type: pb.MsgHeartbeatResp, From: id, To: 1, Term: l.raft().Term}))
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
			s := newTestStorage(votersConf(1, 2, 3), pb.HardState{Term: 1, Vote: 1, Commit: 11}, repeatTerm(1, 11)...)
			cs := pb.ConfState{Voters: []uint64{1, 2, 3}}
			_, err := s.CreateSnapshot(11, &cs, nil)
			require.NoError(t, err)
			require.NoError(t, s.Compact(7))
			r := newTestRaft(t, 1, s)
			r.becomeCandidate()
			r.becomeLeader()
			takeMsgs(r)
			pr := r.trk.Progress[2]
			pr.BecomeSnapshot(11)

			require.NoError(t, r.Step(pb.Message{Type: pb.MsgAppResp, From: 2, To: 1, Term: r.Term, Index: tt.respIndex}))
			assert.Equal(t, tt.wantState, pr.State)
			assert.Equal(t, tt.respIndex, pr.Match)
			apps := msgsOfType(takeMsgs(r), pb.MsgApp)
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
			c, _ := laggingFollowerCluster(t)
			l := c.node(1)
			flaky := &flakySnapStorage{MemoryStorage: l.storage}
			l.raft().raftLog.storage = flaky
			pr := l.raft().trk.Progress[3]

			flaky.unavailable = failure == "temporarily unavailable"
			heartbeatRespFrom(t, c, 3)
			held := c.stabilizeHolding(3)
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
				assert.Empty(t, c.stabilizeHolding(3))
			}
			c.compact(1)
			flaky.unavailable = false
			fresh, err := l.storage.Snapshot()
			require.NoError(t, err)
			require.Equal(t, uint64(8), fresh.Metadata.Index)

			heartbeatRespFrom(t, c, 3)
			held = c.stabilizeHolding(3)
			snaps := msgsOfType(held, pb.MsgSnap)
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
