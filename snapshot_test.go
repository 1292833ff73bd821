package raft

import (
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	pb "github.com/pontoon-raft/raft/raftpb"
	"github.com/pontoon-raft/raft/tracker"
)

// Tests of snapshots and log compaction (paper §7), the leader's side: when a
// snapshot is sent, retried and left, and the StateSnapshot bookkeeping. The
// follower's side and restart from a compacted storage are in
// snapshot_restore_test.go, MemoryStorage's snapshots in storage_test.go,
// scenarios in testdata/snapshot_*.txt.

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
// there.
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

// TestSnapshotSentWhenAckedFollowerNeedsCompactedEntries: when an
// acknowledgement opens the flow to a follower whose next entries have been
// compacted away, the leader sends a snapshot right away, as etcd/raft does,
// instead of staying silent until the next heartbeat response.
//
// Regression test: maybeSendAppend checked "nothing to send" before "the
// entries are gone", so the send-if-not-empty path after an acknowledgement
// returned without a snapshot.
func TestSnapshotSentWhenAckedFollowerNeedsCompactedEntries(t *testing.T) {
	c := leaderWithFollowers(t, func(cfg *Config) { cfg.MaxInflightMsgs = 3; cfg.MaxSizePerMsg = 0 })
	leader := c.node(1)
	pr := leader.raft().trk.Progress[2]
	var held []pb.Message
	c.filter = func(m *pb.Message) bool {
		if m.To != 2 || m.Type != pb.MsgApp {
			return true
		}
		if len(m.Entries) > 0 {
			held = append(held, *m)
		}
		return false
	}
	leader.rn.ReportUnreachable(2)
	for i := 0; i < 10; i++ {
		require.NoError(t, c.propose(1, fmt.Sprint(i)))
		c.stabilize()
	}
	require.Equal(t, uint64(11), leader.raft().raftLog.committed)

	// The next probe carries entry 2 and commit index 11; once node 2
	// acknowledges it, entries 3..5 fill the window.
	held = nil
	require.NoError(t, leader.rn.Step(pb.Message{Type: pb.MsgHeartbeatResp, From: 2, To: 1, Term: 1}))
	c.stabilize()
	require.Len(t, held, 1)
	probe := held[0]
	held = nil
	require.NoError(t, c.node(2).rn.Step(probe))
	c.stabilize()
	require.Len(t, held, 3)
	require.True(t, pr.Inflights.Full())
	require.Equal(t, uint64(6), pr.Next)

	// The application snapshots and compacts the leader's log past Next.
	cs := leader.raft().trk.ConfState()
	_, err := leader.storage.CreateSnapshot(11, &cs, []byte("state"))
	require.NoError(t, err)
	require.NoError(t, leader.storage.Compact(10))

	// Node 2 acknowledges entry 3. Entries 6.. are gone: snapshot.
	c.resetCounters()
	require.NoError(t, c.node(2).rn.Step(held[0]))
	c.stabilize()
	assert.Equal(t, 1, c.sent[pb.MsgSnap])
	assert.Equal(t, uint64(11), c.node(2).raft().raftLog.committed)
	assert.Equal(t, tracker.StateReplicate, pr.State)
}

// flakySnapStorage makes Snapshot temporarily unavailable.
type flakySnapStorage struct {
	*MemoryStorage
	unavailable bool
}

func (s *flakySnapStorage) Snapshot() (pb.Snapshot, error) {
	if s.unavailable {
		return pb.Snapshot{}, ErrSnapshotTemporarilyUnavailable
	}
	return s.MemoryStorage.Snapshot()
}

// TestSnapshotCatchUp: a follower that needs compacted entries gets a
// snapshot (paper §7); a lost snapshot, reported with ReportSnapshot, is sent
// again after the next heartbeat response; while the storage says the
// snapshot is temporarily unavailable, none is sent.
func TestSnapshotCatchUp(t *testing.T) {
	c := newCluster(t, 3)
	flaky := &flakySnapStorage{MemoryStorage: c.node(1).storage}
	c.node(1).cfg.Storage = flaky
	c.restart(1, c.node(1).appliedIndex)
	c.elect(1)
	c.isolate(3)
	for i := 0; i < 5; i++ {
		require.NoError(t, c.propose(1, fmt.Sprint(i)))
	}
	c.stabilize()
	c.compact(1)
	first, _ := c.node(1).storage.FirstIndex()
	require.Greater(t, first, c.node(3).raft().raftLog.lastIndex()+1, "node 3 needs compacted entries")
	c.heal()
	pr := c.node(1).raft().trk.Progress[3]

	// Temporarily unavailable: nothing is sent.
	flaky.unavailable = true
	c.tickAll(1)
	assert.Zero(t, c.sent[pb.MsgSnap])
	flaky.unavailable = false

	// The first snapshot is lost; the harness reports the failure.
	lose := true
	c.filter = func(m *pb.Message) bool {
		if m.Type == pb.MsgSnap && lose {
			lose = false
			return false
		}
		return true
	}
	c.tickAll(1)
	require.Equal(t, 1, c.sent[pb.MsgSnap])
	assert.Equal(t, tracker.StateProbe, pr.State, "a failed snapshot falls back to probing")
	assert.True(t, pr.IsPaused(), "... after the next response")

	c.tickAll(1)
	assert.Equal(t, 2, c.sent[pb.MsgSnap])
	assert.Equal(t, tracker.StateReplicate, pr.State)
	n3 := c.node(3)
	snap, err := n3.storage.Snapshot()
	require.NoError(t, err)
	assert.Equal(t, first-1, snap.Metadata.Index)
	assert.Equal(t, []uint64{1, 2, 3}, snap.Metadata.ConfState.Voters)
	assert.Equal(t, c.node(1).raft().raftLog.committed, n3.raft().raftLog.committed)

	require.NoError(t, c.propose(1, "after-snapshot"))
	c.stabilize()
	assert.Equal(t, []string{"after-snapshot"}, n3.appliedData(), "entries covered by the snapshot are not applied one by one")
	assert.Equal(t, c.node(1).appliedIndex, n3.appliedIndex)
}
