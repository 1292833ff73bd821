package raft

// Single-node tests of Config.AsyncStorageWrites: the local messages of a
// Ready, what is handed out while writes are in flight, acknowledgements that
// arrive after the entries they cover were replaced, snapshots through the
// append thread, and Advance. Cluster tests are in async_cluster_test.go,
// scenarios in testdata/async_storage_*.txt.

import (
	"bytes"
	"log"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	pb "github.com/pontoon-raft/raft/raftpb"
)

// TestAsyncStorageReadyMessages checks the local messages of one Ready
// exactly: the MsgStorageAppend with its entries,
// HardState fields and Responses (held peer responses, then the node's own
// acknowledgement), the MsgStorageApply with its echoing response, and which
// messages go to peers at once.
func TestAsyncStorageReadyMessages(t *testing.T) {
	voters := []uint64{1, 2, 3}
	ack := func(id, term, index, logTerm uint64) *pb.Message {
		return &pb.Message{Type: pb.MsgStorageAppendResp, To: id, From: LocalAppendThread,
			Term: term, Index: index, LogTerm: logTerm}
	}
	tests := []struct {
		name string
		// setup returns a node with one Ready pending.
		setup func(t *testing.T) *RawNode

		wantHardState pb.HardState
		wantEntries   []entryID
		wantHeld      []pb.Message
		wantAck       *pb.Message // nil: no acknowledgement
		wantApply     []entryID
		wantPeers     []pb.Message
	}{
		{
			name: "follower receives MsgApp",
			setup: func(t *testing.T) *RawNode {
				s := newTestStorage(votersConf(voters...), pb.HardState{Term: 1, Commit: 1}, 1, 1)
				rn := newTestRawNode(t, 2, s, asyncStorage, appliedAt(1))
				require.NoError(t, rn.Step(pb.Message{Type: pb.MsgApp, From: 1, To: 2, Term: 2,
					Index: 2, LogTerm: 1, Entries: makeEnts(3, 2, 2), Commit: 4}))
				return rn
			},
			wantHardState: pb.HardState{Term: 2, Commit: 4},
			wantEntries:   []entryID{{3, 2}, {4, 2}},
			wantHeld:      []pb.Message{{Type: pb.MsgAppResp, To: 1, From: 2, Term: 2, Index: 4}},
			wantAck:       ack(2, 2, 4, 2),
			// Committed up to 4, but only entry 2 is durable here.
			wantApply: []entryID{{2, 1}},
		},
		{
			name: "follower grants a vote",
			setup: func(t *testing.T) *RawNode {
				s := newTestStorage(votersConf(voters...), pb.HardState{Term: 1, Commit: 1}, 1)
				rn := newTestRawNode(t, 2, s, asyncStorage, appliedAt(1))
				require.NoError(t, rn.Step(pb.Message{Type: pb.MsgVote, From: 3, To: 2, Term: 2, Index: 1, LogTerm: 1}))
				return rn
			},
			wantHardState: pb.HardState{Term: 2, Vote: 3, Commit: 1},
			wantHeld:      []pb.Message{{Type: pb.MsgVoteResp, To: 3, From: 2, Term: 2}},
		},
		{
			name: "candidate campaigns",
			setup: func(t *testing.T) *RawNode {
				s := newTestStorage(votersConf(voters...), pb.HardState{Term: 1, Commit: 1}, 1)
				rn := newTestRawNode(t, 1, s, asyncStorage, appliedAt(1))
				require.NoError(t, rn.Campaign())
				return rn
			},
			wantHardState: pb.HardState{Term: 2, Vote: 1, Commit: 1},
			// The self-vote counts only once the vote is durable. Nothing
			// is unstable, so there is no acknowledgement.
			wantHeld: []pb.Message{{Type: pb.MsgVoteResp, To: 1, From: 1, Term: 2}},
			// Vote requests need no durability and go out at once.
			wantPeers: []pb.Message{
				{Type: pb.MsgVote, To: 2, From: 1, Term: 2, Index: 1, LogTerm: 1},
				{Type: pb.MsgVote, To: 3, From: 1, Term: 2, Index: 1, LogTerm: 1},
			},
		},
		{
			name: "candidate campaigns with a write in flight",
			setup: func(t *testing.T) *RawNode {
				s := newTestStorage(votersConf(voters...), pb.HardState{Term: 1, Commit: 1}, 1)
				rn := newTestRawNode(t, 1, s, asyncStorage, appliedAt(1))
				require.NoError(t, rn.Step(pb.Message{Type: pb.MsgApp, From: 2, To: 1, Term: 1,
					Index: 1, LogTerm: 1, Entries: makeEnts(2, 1), Commit: 1}))
				rd := rn.Ready() // handed out, not written
				require.Len(t, rd.Entries, 1)
				require.NoError(t, rn.Campaign())
				return rn
			},
			wantHardState: pb.HardState{Term: 2, Vote: 1, Commit: 1},
			wantHeld:      []pb.Message{{Type: pb.MsgVoteResp, To: 1, From: 1, Term: 2}},
			// Entry 2 is not in this write, but the append thread works in
			// order: when this write is done, so is the earlier one.
			wantAck: ack(1, 2, 2, 1),
			wantPeers: []pb.Message{
				{Type: pb.MsgVote, To: 2, From: 1, Term: 2, Index: 2, LogTerm: 1},
				{Type: pb.MsgVote, To: 3, From: 1, Term: 2, Index: 2, LogTerm: 1},
			},
		},
		{
			name: "pre-candidate campaigns",
			setup: func(t *testing.T) *RawNode {
				s := newTestStorage(votersConf(voters...), pb.HardState{Term: 1, Commit: 1}, 1)
				rn := newTestRawNode(t, 1, s, asyncStorage, appliedAt(1), func(c *Config) { c.PreVote = true })
				require.NoError(t, rn.Campaign())
				return rn
			},
			// The term does not move: Term, Vote and Commit all zero.
			wantHeld: []pb.Message{{Type: pb.MsgPreVoteResp, To: 1, From: 1, Term: 2}},
			wantPeers: []pb.Message{
				{Type: pb.MsgPreVote, To: 2, From: 1, Term: 2, Index: 1, LogTerm: 1},
				{Type: pb.MsgPreVote, To: 3, From: 1, Term: 2, Index: 1, LogTerm: 1},
			},
		},
		{
			name: "leader proposes",
			setup: func(t *testing.T) *RawNode {
				s := newTestStorage(votersConf(voters...), pb.HardState{Term: 1, Commit: 1}, 1)
				rn := newTestRawNode(t, 1, s, asyncStorage, appliedAt(1))
				makeLeader(t, rn, s)
				require.NoError(t, rn.Propose([]byte("x")))
				return rn
			},
			wantEntries: []entryID{{3, 2}},
			// The leader's own copy counts toward the quorum once durable.
			wantHeld: []pb.Message{{Type: pb.MsgAppResp, To: 1, From: 1, Term: 2, Index: 3}},
			wantAck:  ack(1, 2, 3, 2),
			// Replication does not wait for the leader's own write.
			wantPeers: []pb.Message{
				{Type: pb.MsgApp, To: 2, From: 1, Term: 2, Index: 2, LogTerm: 2, Commit: 2,
					Entries: []pb.Entry{{Index: 3, Term: 2, Data: []byte("x")}}},
				{Type: pb.MsgApp, To: 3, From: 1, Term: 2, Index: 2, LogTerm: 2, Commit: 2,
					Entries: []pb.Entry{{Index: 3, Term: 2, Data: []byte("x")}}},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rn := tt.setup(t)
			id := rn.raft.id
			rd, app, apply, peers := takeAsyncReady(t, rn)
			assert.False(t, rn.HasReady(), "one Ready holds all the work")

			assert.Equal(t, tt.wantPeers, peers)
			require.NotNil(t, app)
			assert.Equal(t, tt.wantHardState, pb.HardState{Term: app.Term, Vote: app.Vote, Commit: app.Commit})
			assert.Equal(t, tt.wantHardState, rd.HardState)
			assert.Equal(t, tt.wantEntries, entryIDs(app.Entries))
			assert.Nil(t, app.Snapshot)

			wantResps := tt.wantHeld
			if tt.wantAck != nil {
				wantResps = append(append([]pb.Message(nil), tt.wantHeld...), *tt.wantAck)
			}
			assert.Equal(t, wantResps, app.Responses)

			if tt.wantApply == nil {
				assert.Nil(t, apply)
			} else {
				require.NotNil(t, apply)
				assert.Equal(t, LocalApplyThread, apply.To)
				assert.Equal(t, tt.wantApply, entryIDs(apply.Entries))
				assert.Equal(t, pb.Message{Type: pb.MsgStorageApplyResp, To: id, From: LocalApplyThread,
					Entries: apply.Entries}, apply.Responses[0])
			}
		})
	}
}

// TestAsyncStorageInProgressWatermark: while writes are in flight, later
// Readys hand out only new entries, and committed entries go to the apply
// thread only once they are durable locally, however far the commit index
// is ahead.
func TestAsyncStorageInProgressWatermark(t *testing.T) {
	s := newTestStorage(votersConf(1, 2, 3), pb.HardState{Term: 1, Commit: 1}, 1)
	rn := newTestRawNode(t, 2, s, asyncStorage, appliedAt(1))
	app := func(index uint64, ents []pb.Entry, commit uint64) pb.Message {
		return pb.Message{Type: pb.MsgApp, From: 1, To: 2, Term: 1, Index: index, LogTerm: 1, Entries: ents, Commit: commit}
	}

	require.NoError(t, rn.Step(app(1, makeEnts(2, 1, 1), 3)))
	rd1, a1, p, _ := takeAsyncReady(t, rn)
	assert.Equal(t, []entryID{{2, 1}, {3, 1}}, entryIDs(rd1.Entries))
	assert.Nil(t, p, "entries 2 and 3 are committed but not durable")
	assert.False(t, rn.HasReady(), "nothing new while the write is in flight")

	require.NoError(t, rn.Step(app(3, makeEnts(4, 1, 1), 5)))
	rd2, a2, p, _ := takeAsyncReady(t, rn)
	assert.Equal(t, []entryID{{4, 1}, {5, 1}}, entryIDs(rd2.Entries), "entries 2-3 are in flight and not handed out again")
	assert.Nil(t, p)
	assert.Equal(t, pb.HardState{Term: 1, Commit: 5}, rd2.HardState)
	assert.False(t, rn.HasReady())

	// The leader resends everything (say, after a timeout). Nothing is new,
	// but the acknowledgement must still wait for the writes in flight.
	require.NoError(t, rn.Step(app(1, makeEnts(2, 1, 1, 1, 1), 5)))
	rd3, a3, p, peers := takeAsyncReady(t, rn)
	assert.Empty(t, rd3.Entries)
	assert.Nil(t, p)
	assert.Empty(t, peers)
	assert.Equal(t, []pb.Message{
		{Type: pb.MsgAppResp, To: 1, From: 2, Term: 1, Index: 5},
		{Type: pb.MsgStorageAppendResp, To: 2, From: LocalAppendThread, Term: 1, Index: 5, LogTerm: 1},
	}, a3.Responses)

	// The first write completes: 2-3 become durable and go to apply, and
	// only they, although the commit index is 5.
	out := runAppend(t, rn, s, *a1)
	assert.Equal(t, []pb.Message{{Type: pb.MsgAppResp, To: 1, From: 2, Term: 1, Index: 3}}, out)
	assert.Equal(t, uint64(4), rn.raft.raftLog.unstable.offset)
	rd4, _, p4, _ := takeAsyncReady(t, rn)
	assert.Empty(t, rd4.Entries)
	require.NotNil(t, p4)
	assert.Equal(t, []entryID{{2, 1}, {3, 1}}, entryIDs(p4.Entries))
	assert.False(t, rn.HasReady(), "4-5 are not durable; 2-3 are being applied")

	out = runAppend(t, rn, s, *a2)
	assert.Equal(t, []pb.Message{{Type: pb.MsgAppResp, To: 1, From: 2, Term: 1, Index: 5}}, out)
	rd5, _, p5, _ := takeAsyncReady(t, rn)
	require.NotNil(t, p5)
	assert.Equal(t, []entryID{{4, 1}, {5, 1}}, entryIDs(p5.Entries), "applying is not held up by the earlier apply")
	assert.Empty(t, rd5.Entries)
	assert.False(t, rn.HasReady())

	runAppend(t, rn, s, *a3)
	assert.False(t, rn.HasReady(), "the duplicate acknowledgement changes nothing")
	stepResponses(t, rn, p4.Responses)
	stepResponses(t, rn, p5.Responses)
	assert.Equal(t, uint64(5), rn.BasicStatus().Applied)
	assert.False(t, rn.HasReady())
	assert.Empty(t, rn.raft.raftLog.unstable.entries)
}

// TestAsyncStorageStaleAppendAck: the acknowledgement of a write is stepped
// after the entries it covered were replaced by a new leader's. It must not
// make the replacements stable (nor, so, appliable); only their own
// acknowledgement does.
func TestAsyncStorageStaleAppendAck(t *testing.T) {
	voters := []uint64{1, 2, 3}
	app := func(from, term uint64, ents []pb.Entry, commit uint64) pb.Message {
		return pb.Message{Type: pb.MsgApp, From: from, To: 2, Term: term, Index: 4, LogTerm: 1, Entries: ents, Commit: commit}
	}
	// newFollower returns node 2 at term 2 with entries 1-4 of term 1,
	// committed and applied.
	newFollower := func(t *testing.T) (*RawNode, *MemoryStorage) {
		s := newTestStorage(votersConf(voters...), pb.HardState{Term: 2, Commit: 4}, 1, 1, 1, 1)
		return newTestRawNode(t, 2, s, asyncStorage, appliedAt(4)), s
	}
	requireUnstable := func(t *testing.T, rn *RawNode, want ...entryID) {
		t.Helper()
		assert.Equal(t, want, entryIDs(rn.raft.raftLog.unstable.entries), "unstable entries")
		if len(want) > 0 {
			assert.Equal(t, want[0].Index, rn.raft.raftLog.unstable.offset)
		}
		// The node's view of its log is the unstable one, whatever
		// storage holds right now.
		for _, id := range want {
			term, err := rn.raft.raftLog.term(id.Index)
			require.NoError(t, err)
			assert.Equal(t, id.Term, term, "term at %d", id.Index)
		}
	}

	t.Run("overwritten by a newer term", func(t *testing.T) {
		rn, s := newFollower(t)
		require.NoError(t, rn.Step(app(1, 2, makeEnts(5, 2, 2), 4)))
		_, a1, _, _ := takeAsyncReady(t, rn)
		require.Equal(t, pb.Message{Type: pb.MsgStorageAppendResp, To: 2, From: LocalAppendThread, Term: 2, Index: 6, LogTerm: 2},
			lastResponse(t, *a1))

		// Node 3 leads term 3 and replaces 5-6, committing them.
		require.NoError(t, rn.Step(app(3, 3, makeEnts(5, 3, 3), 6)))
		rd2, a2, p2, _ := takeAsyncReady(t, rn)
		assert.Equal(t, []entryID{{5, 3}, {6, 3}}, entryIDs(rd2.Entries))
		assert.Nil(t, p2, "committed but not durable")

		// The first write finishes; storage holds (5,2),(6,2) now.
		out := runAppend(t, rn, s, *a1)
		assert.Equal(t, []pb.Message{{Type: pb.MsgAppResp, To: 1, From: 2, Term: 2, Index: 6}}, out,
			"the old leader's acknowledgement is still released (it attests a real write)")
		requireUnstable(t, rn, entryID{5, 3}, entryID{6, 3})
		assert.False(t, rn.HasReady(), "the term-3 entries are neither stable nor applied")
		assert.Equal(t, uint64(4), rn.BasicStatus().Applied)

		// Only their own acknowledgement makes them stable.
		out = runAppend(t, rn, s, *a2)
		assert.Equal(t, []pb.Message{{Type: pb.MsgAppResp, To: 3, From: 2, Term: 3, Index: 6}}, out)
		requireUnstable(t, rn)
		_, _, p, _ := takeAsyncReady(t, rn)
		require.NotNil(t, p)
		assert.Equal(t, []entryID{{5, 3}, {6, 3}}, entryIDs(p.Entries))
	})

	t.Run("same term, replaced entries", func(t *testing.T) {
		// An acknowledgement created at the current term names an entry
		// that was replaced later in that term: its LogTerm no longer
		// matches.
		rn, s := newFollower(t)
		require.NoError(t, rn.Step(app(1, 2, makeEnts(5, 2, 2), 4)))
		_, a1, _, _ := takeAsyncReady(t, rn)
		// Node 3 leads term 3; its heartbeat moves us there before its
		// entries arrive. This Ready's write (the new term) carries an
		// acknowledgement covering the entries in flight, at term 3.
		require.NoError(t, rn.Step(pb.Message{Type: pb.MsgHeartbeat, From: 3, To: 2, Term: 3, Commit: 4}))
		_, a2, _, _ := takeAsyncReady(t, rn)
		require.Equal(t, pb.Message{Type: pb.MsgStorageAppendResp, To: 2, From: LocalAppendThread, Term: 3, Index: 6, LogTerm: 2},
			lastResponse(t, *a2))
		require.NoError(t, rn.Step(app(3, 3, makeEnts(5, 3, 3), 4)))
		_, a3, _, _ := takeAsyncReady(t, rn)

		runAppend(t, rn, s, *a1)
		requireUnstable(t, rn, entryID{5, 3}, entryID{6, 3})
		runAppend(t, rn, s, *a2) // term 3, but (6,2) is gone
		requireUnstable(t, rn, entryID{5, 3}, entryID{6, 3})
		runAppend(t, rn, s, *a3)
		requireUnstable(t, rn)
	})

	t.Run("ABA: the same entries again at a later term", func(t *testing.T) {
		// (5,2),(6,2) are written, replaced by (5,3), then restored by a
		// term-4 leader that has them. When the first write's
		// acknowledgement arrives, the unstable log again holds exactly
		// (5,2),(6,2) — but storage is about to lose them to the second
		// write. Only the acknowledgement's term tells the cases apart.
		rn, s := newFollower(t)
		require.NoError(t, rn.Step(app(1, 2, makeEnts(5, 2, 2), 4)))
		_, a1, _, _ := takeAsyncReady(t, rn)
		require.NoError(t, rn.Step(app(3, 3, makeEnts(5, 3), 4)))
		_, a2, _, _ := takeAsyncReady(t, rn)
		require.NoError(t, rn.Step(app(1, 4, makeEnts(5, 2, 2), 6)))
		rd3, a3, p3, _ := takeAsyncReady(t, rn)
		require.Equal(t, []entryID{{5, 2}, {6, 2}}, entryIDs(rd3.Entries), "re-appended after the conflict")
		assert.Nil(t, p3)

		runAppend(t, rn, s, *a1)
		requireUnstable(t, rn, entryID{5, 2}, entryID{6, 2})
		assert.False(t, rn.HasReady())

		runAppend(t, rn, s, *a2) // storage: (5,3), no 6
		requireUnstable(t, rn, entryID{5, 2}, entryID{6, 2})
		assert.Equal(t, uint64(6), rn.raft.raftLog.lastIndex())
		assert.False(t, rn.HasReady(), "nothing to apply: storage does not hold the committed entries")

		out := runAppend(t, rn, s, *a3)
		assert.Equal(t, []pb.Message{{Type: pb.MsgAppResp, To: 1, From: 2, Term: 4, Index: 6}}, out)
		requireUnstable(t, rn)
		_, _, p, _ := takeAsyncReady(t, rn)
		require.NotNil(t, p)
		assert.Equal(t, []entryID{{5, 2}, {6, 2}}, entryIDs(p.Entries))
		for i := uint64(5); i <= 6; i++ {
			term, err := s.Term(i)
			require.NoError(t, err)
			assert.Equal(t, uint64(2), term)
		}
	})

	t.Run("lower term: the snapshot still counts", func(t *testing.T) {
		s := newTestStorage(votersConf(voters...), pb.HardState{Term: 2})
		rn := newTestRawNode(t, 2, s, asyncStorage, appliedAt(0))
		snap := pb.Snapshot{Metadata: pb.SnapshotMetadata{Index: 10, Term: 2, ConfState: pb.ConfState{Voters: voters}}}
		require.NoError(t, rn.Step(pb.Message{Type: pb.MsgSnap, From: 1, To: 2, Term: 2, Snapshot: &snap}))
		require.NoError(t, rn.Step(pb.Message{Type: pb.MsgApp, From: 1, To: 2, Term: 2, Index: 10, LogTerm: 2,
			Entries: makeEnts(11, 2), Commit: 10}))
		_, a1, p1, _ := takeAsyncReady(t, rn)
		assert.Nil(t, p1)
		ack := lastResponse(t, *a1)
		require.Equal(t, pb.Message{Type: pb.MsgStorageAppendResp, To: 2, From: LocalAppendThread,
			Term: 2, Index: 11, LogTerm: 2, Snapshot: &snap}, ack)

		require.NoError(t, rn.Step(pb.Message{Type: pb.MsgHeartbeat, From: 3, To: 2, Term: 3}))
		_, a2, _, _ := takeAsyncReady(t, rn)

		runAppend(t, rn, s, *a1) // acknowledgement at term 2, stepped at 3
		assert.Nil(t, rn.raft.raftLog.unstable.snapshot, "the snapshot is durable whatever the term")
		assert.Equal(t, uint64(10), rn.BasicStatus().Applied)
		requireUnstable(t, rn, entryID{11, 2})

		runAppend(t, rn, s, *a2)
		requireUnstable(t, rn)
	})
}

// TestAsyncStorageSnapshot: a snapshot reaches an asynchronous follower
// through the append thread. Until the write is acknowledged the node does
// not consider it stable or applied and hands no later committed entry to
// the apply thread; the acknowledgement of the MsgSnap is released only with
// the write.
func TestAsyncStorageSnapshot(t *testing.T) {
	voters := []uint64{1, 2, 3}
	s := newTestStorage(votersConf(voters...), pb.HardState{Term: 2})
	rn := newTestRawNode(t, 2, s, asyncStorage, appliedAt(0))
	snap := pb.Snapshot{
		Data:     []byte("state@10"),
		Metadata: pb.SnapshotMetadata{Index: 10, Term: 2, ConfState: pb.ConfState{Voters: voters}},
	}
	require.NoError(t, rn.Step(pb.Message{Type: pb.MsgSnap, From: 1, To: 2, Term: 2, Snapshot: &snap}))
	rd1, a1, p, peers := takeAsyncReady(t, rn)
	assert.Equal(t, snap, rd1.Snapshot)
	assert.Empty(t, peers)
	assert.Nil(t, p)
	require.NotNil(t, a1.Snapshot)
	assert.Equal(t, snap, *a1.Snapshot)
	assert.Equal(t, pb.HardState{Term: 2, Commit: 10}, pb.HardState{Term: a1.Term, Vote: a1.Vote, Commit: a1.Commit})
	assert.Equal(t, []pb.Message{
		{Type: pb.MsgAppResp, To: 1, From: 2, Term: 2, Index: 10},
		{Type: pb.MsgStorageAppendResp, To: 2, From: LocalAppendThread, Term: 2, Snapshot: &snap},
	}, a1.Responses)
	assert.False(t, rn.HasReady(), "the snapshot is not handed out twice")

	// Entries after the snapshot arrive, committed, while it is written.
	require.NoError(t, rn.Step(pb.Message{Type: pb.MsgApp, From: 1, To: 2, Term: 2, Index: 10, LogTerm: 2,
		Entries: makeEnts(11, 2, 2), Commit: 12}))
	rd2, a2, p, _ := takeAsyncReady(t, rn)
	assert.True(t, IsEmptySnap(rd2.Snapshot))
	assert.Equal(t, []entryID{{11, 2}, {12, 2}}, entryIDs(a2.Entries))
	assert.Nil(t, p, "nothing is applied before the snapshot")
	assert.Equal(t, uint64(0), rn.BasicStatus().Applied)
	assert.NotNil(t, rn.raft.raftLog.unstable.snapshot)
	assert.True(t, rn.raft.raftLog.hasNextOrInProgressSnapshot())
	assert.False(t, rn.raft.promotable(), "a node installing a snapshot does not campaign")

	// The snapshot's write completes.
	out := runAppend(t, rn, s, *a1)
	assert.Equal(t, []pb.Message{{Type: pb.MsgAppResp, To: 1, From: 2, Term: 2, Index: 10}}, out)
	assert.Nil(t, rn.raft.raftLog.unstable.snapshot)
	assert.Equal(t, uint64(10), rn.BasicStatus().Applied, "installing the snapshot applies it")
	assert.False(t, rn.HasReady(), "11-12 are committed but not durable")

	runAppend(t, rn, s, *a2)
	_, _, p, _ = takeAsyncReady(t, rn)
	require.NotNil(t, p)
	assert.Equal(t, []entryID{{11, 2}, {12, 2}}, entryIDs(p.Entries))
	stepResponses(t, rn, p.Responses)
	assert.Equal(t, uint64(12), rn.BasicStatus().Applied)
}

// TestAsyncStorageAdvanceIsANoOp: Advance must not be called with
// AsyncStorageWrites; if it is, it logs an error and changes nothing (this
// deviates from etcd/raft v3.6, which panics).
func TestAsyncStorageAdvanceIsANoOp(t *testing.T) {
	var logged bytes.Buffer
	s := newTestStorage(votersConf(1, 2, 3), pb.HardState{Term: 1, Commit: 1}, 1)
	rn := newTestRawNode(t, 2, s, asyncStorage, appliedAt(1), func(c *Config) {
		c.Logger = &DefaultLogger{Logger: log.New(&logged, "", 0)}
	})
	require.NoError(t, rn.Step(pb.Message{Type: pb.MsgApp, From: 1, To: 2, Term: 2, Index: 1, LogTerm: 1,
		Entries: makeEnts(2, 2), Commit: 2}))
	rd, app, _, _ := takeAsyncReady(t, rn)
	logged.Reset()

	type snapshot struct {
		log       string
		unstable  []entryID
		prevHard  pb.HardState
		prevSoft  SoftState
		status    BasicStatus
		onAdvance int
		hasReady  bool
	}
	capture := func() snapshot {
		return snapshot{
			log:       rn.raft.raftLog.String(),
			unstable:  entryIDs(rn.raft.raftLog.unstable.entries),
			prevHard:  rn.prevHardSt,
			prevSoft:  rn.prevSoftSt,
			status:    rn.BasicStatus(),
			onAdvance: len(rn.stepsOnAdvance),
			hasReady:  rn.HasReady(),
		}
	}
	before := capture()
	assert.NotPanics(t, func() { rn.Advance(rd) })
	assert.NotPanics(t, func() { rn.Advance(Ready{CommittedEntries: makeEnts(2, 2)}) })
	assert.Equal(t, before, capture())
	assert.Contains(t, logged.String(), "ERROR: raft: Advance must not be called when using AsyncStorageWrites")

	// The node carries on through its storage responses.
	runAppend(t, rn, s, *app)
	_, _, p, _ := takeAsyncReady(t, rn)
	require.NotNil(t, p)
	assert.Equal(t, []entryID{{2, 2}}, entryIDs(p.Entries))
}

// TestAsyncStaleSelfAckAfterTruncation: an asynchronous leader's own
// acknowledgement of a write arrives from its append thread after a MsgApp
// of a later term replaced the entries it covers. It is a stale-term message
// like any other and is dropped without an error, as etcd/raft drops it; an
// application that treats a Step error on a local response as fatal must
// survive ordinary leader churn.
func TestAsyncStaleSelfAckAfterTruncation(t *testing.T) {
	s := newTestStorage(votersConf(1, 2, 3), pb.HardState{Term: 1, Commit: 1}, 1)
	rn := newTestRawNode(t, 1, s, asyncStorage, appliedAt(0))
	makeLeader(t, rn, s) // leader of term 2, log 1..2
	require.NoError(t, rn.Propose([]byte("a")))
	require.NoError(t, rn.Propose([]byte("b")))
	_, app, _, _ := takeAsyncReady(t, rn) // the write of 3..4 is handed out
	require.NotNil(t, app)

	// A leader of term 3 replaces entries 3 and 4 by its own entry 3.
	require.NoError(t, rn.Step(pb.Message{Type: pb.MsgApp, From: 2, To: 1, Term: 3, Index: 2, LogTerm: 2,
		Entries: []pb.Entry{{Index: 3, Term: 3}}}))
	require.Equal(t, uint64(3), rn.raft.raftLog.lastIndex())

	// The old write completes and its responses come back.
	for _, resp := range app.Responses {
		if resp.To == 1 {
			assert.NoError(t, rn.Step(resp), "stale %s", DescribeMessage(resp, nil))
		}
	}
	assert.Equal(t, uint64(3), rn.raft.raftLog.lastIndex())
	assert.Equal(t, StateFollower, rn.raft.state)
}
