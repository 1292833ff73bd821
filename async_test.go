package raft

// Tests of Config.AsyncStorageWrites (issue #8): the MsgStorageAppend /
// MsgStorageApply messages a Ready carries, the in-progress watermarks that
// keep work from being handed out twice, stale acknowledgements (the ABA
// case), commitment while the leader's own write is in flight, crashes with
// writes outstanding, snapshots through the append thread, Advance, and a
// cluster mixing synchronous and asynchronous nodes.
//
// The tests drive RawNodes directly and play the application's local
// threads themselves, holding MsgStorageAppend messages and stepping their
// Responses back in the order each test chooses. Helpers carry the prefix
// "at".

import (
	"bytes"
	"fmt"
	"io"
	"log"
	"math/rand"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	pb "github.com/pontoon-raft/raft/raftpb"
)

// atQuietLogger discards the nodes' log output.
var atQuietLogger = &DefaultLogger{Logger: log.New(io.Discard, "", 0)}

// atConfig is the configuration of every test node: ticks of 10/1, no size
// limits, and an election-timeout source seeded by the node id.
func atConfig(id uint64, s Storage, async bool) *Config {
	return &Config{
		ID:                 id,
		ElectionTick:       10,
		HeartbeatTick:      1,
		Storage:            s,
		MaxSizePerMsg:      noLimit,
		MaxInflightMsgs:    256,
		AsyncStorageWrites: async,
		Logger:             atQuietLogger,
		Rand:               rand.New(rand.NewSource(int64(id))),
	}
}

// atEnts returns consecutive entries starting at index first with the given
// terms.
func atEnts(first uint64, terms ...uint64) []pb.Entry {
	ents := make([]pb.Entry, len(terms))
	for i, term := range terms {
		ents[i] = pb.Entry{Index: first + uint64(i), Term: term}
	}
	return ents
}

// atStorage returns a MemoryStorage whose configuration has the given voters,
// holding entries with the given terms at indexes 1, 2, ... and HardState hs.
func atStorage(t testing.TB, voters []uint64, hs pb.HardState, terms ...uint64) *MemoryStorage {
	t.Helper()
	ms := NewMemoryStorage()
	ms.snapshot.Metadata.ConfState = pb.ConfState{Voters: voters}
	require.NoError(t, ms.Append(atEnts(1, terms...)))
	require.NoError(t, ms.SetHardState(hs))
	return ms
}

// atNewRawNode starts node id over s; applied is Config.Applied.
func atNewRawNode(t testing.TB, id uint64, s *MemoryStorage, async bool, applied uint64, opts ...func(*Config)) *RawNode {
	t.Helper()
	cfg := atConfig(id, s, async)
	cfg.Applied = applied
	for _, o := range opts {
		o(cfg)
	}
	rn, err := NewRawNode(cfg)
	require.NoError(t, err)
	return rn
}

// atID is an entry's identity: (index, term).
type atID struct{ Index, Term uint64 }

func atIDs(ents []pb.Entry) []atID {
	ids := make([]atID, 0, len(ents))
	for _, e := range ents {
		ids = append(ids, atID{e.Index, e.Term})
	}
	return ids
}

// atIsHeld reports whether messages of type typ attest durable state and
// must therefore wait for the storage write (spec §2.1).
func atIsHeld(typ pb.MessageType) bool {
	return typ == pb.MsgAppResp || typ == pb.MsgVoteResp || typ == pb.MsgPreVoteResp
}

// atCheckAsyncReady checks a Ready of an asynchronous node against spec
// §2.3 and returns its MsgStorageAppend and MsgStorageApply (nil if absent)
// and the messages for peers. Every piece of storage work in the Ready's
// fields is mirrored in the local messages, so the application needs to
// look at Messages only.
func atCheckAsyncReady(t testing.TB, id uint64, rd Ready) (app, apply *pb.Message, peers []pb.Message) {
	t.Helper()
	appAt, applyAt := -1, -1
	for i := range rd.Messages {
		m := &rd.Messages[i]
		switch m.To {
		case LocalAppendThread:
			require.Nil(t, app, "node %d: two MsgStorageAppend in one Ready", id)
			app, appAt = m, i
		case LocalApplyThread:
			require.Nil(t, apply, "node %d: two MsgStorageApply in one Ready", id)
			apply, applyAt = m, i
		default:
			require.False(t, atIsHeld(m.Type),
				"node %d: %s to %d sent at once; it must wait in a MsgStorageAppend's Responses", id, m.Type, m.To)
			if m.Type != pb.MsgProp && m.Type != pb.MsgTransferLeader {
				// Forwarded requests keep their originator in From.
				require.Equal(t, id, m.From, "node %d: %s with From %d", id, m.Type, m.From)
			}
			peers = append(peers, *m)
		}
	}
	if app != nil && apply != nil {
		require.Less(t, appAt, applyAt, "node %d: MsgStorageApply before MsgStorageAppend", id)
	}

	// The append request mirrors Entries, HardState and Snapshot.
	needAppend := len(rd.Entries) > 0 || !IsEmptyHardState(rd.HardState) || !IsEmptySnap(rd.Snapshot)
	if needAppend {
		require.NotNil(t, app, "node %d: Ready has storage work but no MsgStorageAppend", id)
	}
	if app != nil {
		require.Equal(t, pb.MsgStorageAppend, app.Type)
		require.Equal(t, id, app.From)
		require.Zero(t, app.Index)
		require.Zero(t, app.LogTerm)
		require.Equal(t, atIDs(rd.Entries), atIDs(app.Entries), "node %d: MsgStorageAppend.Entries", id)
		hs := pb.HardState{Term: app.Term, Vote: app.Vote, Commit: app.Commit}
		require.Equal(t, rd.HardState, hs, "node %d: HardState fields of MsgStorageAppend (all set or all zero)", id)
		if IsEmptySnap(rd.Snapshot) {
			require.Nil(t, app.Snapshot, "node %d: MsgStorageAppend carries a snapshot the Ready does not have", id)
		} else {
			require.NotNil(t, app.Snapshot)
			require.Equal(t, rd.Snapshot, *app.Snapshot)
		}
		// Responses: the held messages, then at most one acknowledgement,
		// last.
		for i, resp := range app.Responses {
			if resp.Type == pb.MsgStorageAppendResp {
				require.Equal(t, len(app.Responses)-1, i, "node %d: MsgStorageAppendResp must be the last response", id)
				require.Equal(t, id, resp.To)
				require.Equal(t, LocalAppendThread, resp.From)
				require.True(t, resp.Index > 0 || resp.Snapshot != nil, "node %d: acknowledgement of nothing", id)
				if !IsEmptySnap(rd.Snapshot) {
					require.NotNil(t, resp.Snapshot, "node %d: the snapshot is not acknowledged", id)
					require.Equal(t, rd.Snapshot, *resp.Snapshot)
				}
				continue
			}
			require.True(t, atIsHeld(resp.Type), "node %d: %s held back needlessly", id, resp.Type)
			require.Equal(t, id, resp.From)
		}
		if len(rd.Entries) > 0 || !IsEmptySnap(rd.Snapshot) {
			require.NotEmpty(t, app.Responses)
			require.Equal(t, pb.MsgStorageAppendResp, app.Responses[len(app.Responses)-1].Type,
				"node %d: entries or a snapshot written without an acknowledgement", id)
		}
	}

	// The apply request mirrors CommittedEntries.
	require.Equal(t, len(rd.CommittedEntries) > 0, apply != nil, "node %d: MsgStorageApply iff CommittedEntries", id)
	if apply != nil {
		require.Equal(t, pb.MsgStorageApply, apply.Type)
		require.Equal(t, id, apply.From)
		require.Zero(t, apply.Term)
		require.Equal(t, rd.CommittedEntries, apply.Entries)
		require.Equal(t, []pb.Message{{
			Type: pb.MsgStorageApplyResp, To: id, From: LocalApplyThread, Term: 0, Entries: rd.CommittedEntries,
		}}, apply.Responses)
	}
	return app, apply, peers
}

// atPersist performs the write m (a MsgStorageAppend) on s, in the order the
// contract prescribes: snapshot, entries, HardState.
func atPersist(t testing.TB, s *MemoryStorage, m pb.Message) {
	t.Helper()
	require.Equal(t, pb.MsgStorageAppend, m.Type)
	if m.Snapshot != nil && !IsEmptySnap(*m.Snapshot) {
		require.NoError(t, s.ApplySnapshot(*m.Snapshot))
	}
	require.NoError(t, s.Append(m.Entries))
	if hs := (pb.HardState{Term: m.Term, Vote: m.Vote, Commit: m.Commit}); !IsEmptyHardState(hs) {
		require.NoError(t, s.SetHardState(hs))
	}
}

// atCheckDurable checks that every response released after a write attests
// state that s now holds (§5.1: persist before responding).
func atCheckDurable(t testing.TB, id uint64, s *MemoryStorage, resps []pb.Message) {
	t.Helper()
	last, err := s.LastIndex()
	require.NoError(t, err)
	hs, _, err := s.InitialState()
	require.NoError(t, err)
	for _, m := range resps {
		switch {
		case m.Type == pb.MsgAppResp && !m.Reject:
			require.LessOrEqual(t, m.Index, last, "node %d acknowledged index %d before persisting it", id, m.Index)
		case m.Type == pb.MsgVoteResp && !m.Reject:
			require.GreaterOrEqual(t, hs.Term, m.Term, "node %d granted a vote at term %d before persisting the term", id, m.Term)
			if hs.Term == m.Term {
				require.Equal(t, m.To, hs.Vote, "node %d granted a vote before persisting it", id)
			}
		case m.Type == pb.MsgStorageAppendResp && m.Index > 0:
			// The append thread works in order, so the entry the
			// acknowledgement names is in storage now, whatever happened
			// to the node's unstable log since.
			term, err := s.Term(m.Index)
			if err == nil {
				require.Equal(t, m.LogTerm, term, "node %d: acknowledgement of (%d, %d) but storage has term %d",
					id, m.Index, m.LogTerm, term)
			}
		}
	}
}

// atLastResponse returns the last response of m, normally its
// MsgStorageAppendResp.
func atLastResponse(t testing.TB, m pb.Message) pb.Message {
	t.Helper()
	require.NotEmpty(t, m.Responses)
	return m.Responses[len(m.Responses)-1]
}

// atStepResponses steps the responses addressed to rn's node and returns
// the others (to peers).
func atStepResponses(t testing.TB, rn *RawNode, resps []pb.Message) (peers []pb.Message) {
	t.Helper()
	for _, resp := range resps {
		if resp.To == rn.raft.id {
			require.NoError(t, rn.Step(resp), "stepping %s", resp.Type)
		} else {
			peers = append(peers, resp)
		}
	}
	return peers
}

// atRunAppend performs the write m on s and delivers its responses: those
// for the node are stepped, the others returned.
func atRunAppend(t testing.TB, rn *RawNode, s *MemoryStorage, m pb.Message) []pb.Message {
	t.Helper()
	atPersist(t, s, m)
	atCheckDurable(t, rn.raft.id, s, m.Responses)
	return atStepResponses(t, rn, m.Responses)
}

// atDrain runs the Ready loop of an asynchronous node until it has nothing
// left, performing every write and apply at once. It returns the messages
// for peers and the entries applied.
func atDrain(t testing.TB, rn *RawNode, s *MemoryStorage) (peers []pb.Message, applied []pb.Entry) {
	t.Helper()
	for i := 0; rn.HasReady(); i++ {
		require.Less(t, i, 100, "the node does not run out of work")
		rd := rn.Ready()
		app, apply, out := atCheckAsyncReady(t, rn.raft.id, rd)
		peers = append(peers, out...)
		if app != nil {
			peers = append(peers, atRunAppend(t, rn, s, *app)...)
		}
		if apply != nil {
			applied = append(applied, apply.Entries...)
			atStepResponses(t, rn, apply.Responses)
		}
	}
	return peers, applied
}

// atTakeReady returns the next Ready of an asynchronous node, checked, split
// into its local requests and its messages for peers.
func atTakeReady(t testing.TB, rn *RawNode) (rd Ready, app, apply *pb.Message, peers []pb.Message) {
	t.Helper()
	require.True(t, rn.HasReady())
	rd = rn.Ready()
	app, apply, peers = atCheckAsyncReady(t, rn.raft.id, rd)
	return rd, app, apply, peers
}

// atMakeLeader turns node 1 of voters {1,2,3} (at term 1 with a stable log)
// into the leader of term 2 with both followers in replicate state and its
// empty entry committed.
func atMakeLeader(t testing.TB, rn *RawNode, s *MemoryStorage) {
	t.Helper()
	require.NoError(t, rn.Campaign())
	atDrain(t, rn, s)
	require.NoError(t, rn.Step(pb.Message{Type: pb.MsgVoteResp, From: 2, To: 1, Term: 2}))
	require.Equal(t, StateLeader, rn.raft.state)
	atDrain(t, rn, s)
	last := rn.raft.raftLog.lastIndex()
	for _, id := range []uint64{2, 3} {
		require.NoError(t, rn.Step(pb.Message{Type: pb.MsgAppResp, From: id, To: 1, Term: 2, Index: last}))
	}
	atDrain(t, rn, s)
	require.Equal(t, last, rn.raft.raftLog.committed)
}

// TestAsyncStorageReadyMessages checks the local messages of one Ready
// against spec §2.3, exactly: the MsgStorageAppend with its entries,
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
		wantEntries   []atID
		wantHeld      []pb.Message
		wantAck       *pb.Message // nil: no acknowledgement
		wantApply     []atID
		wantPeers     []pb.Message
	}{
		{
			name: "follower receives MsgApp",
			setup: func(t *testing.T) *RawNode {
				s := atStorage(t, voters, pb.HardState{Term: 1, Commit: 1}, 1, 1)
				rn := atNewRawNode(t, 2, s, true, 1)
				require.NoError(t, rn.Step(pb.Message{Type: pb.MsgApp, From: 1, To: 2, Term: 2,
					Index: 2, LogTerm: 1, Entries: atEnts(3, 2, 2), Commit: 4}))
				return rn
			},
			wantHardState: pb.HardState{Term: 2, Commit: 4},
			wantEntries:   []atID{{3, 2}, {4, 2}},
			wantHeld:      []pb.Message{{Type: pb.MsgAppResp, To: 1, From: 2, Term: 2, Index: 4}},
			wantAck:       ack(2, 2, 4, 2),
			// Committed up to 4, but only entry 2 is durable here.
			wantApply: []atID{{2, 1}},
		},
		{
			name: "follower grants a vote",
			setup: func(t *testing.T) *RawNode {
				s := atStorage(t, voters, pb.HardState{Term: 1, Commit: 1}, 1)
				rn := atNewRawNode(t, 2, s, true, 1)
				require.NoError(t, rn.Step(pb.Message{Type: pb.MsgVote, From: 3, To: 2, Term: 2, Index: 1, LogTerm: 1}))
				return rn
			},
			wantHardState: pb.HardState{Term: 2, Vote: 3, Commit: 1},
			wantHeld:      []pb.Message{{Type: pb.MsgVoteResp, To: 3, From: 2, Term: 2}},
		},
		{
			name: "candidate campaigns",
			setup: func(t *testing.T) *RawNode {
				s := atStorage(t, voters, pb.HardState{Term: 1, Commit: 1}, 1)
				rn := atNewRawNode(t, 1, s, true, 1)
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
				s := atStorage(t, voters, pb.HardState{Term: 1, Commit: 1}, 1)
				rn := atNewRawNode(t, 1, s, true, 1)
				require.NoError(t, rn.Step(pb.Message{Type: pb.MsgApp, From: 2, To: 1, Term: 1,
					Index: 1, LogTerm: 1, Entries: atEnts(2, 1), Commit: 1}))
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
				s := atStorage(t, voters, pb.HardState{Term: 1, Commit: 1}, 1)
				rn := atNewRawNode(t, 1, s, true, 1, func(c *Config) { c.PreVote = true })
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
				s := atStorage(t, voters, pb.HardState{Term: 1, Commit: 1}, 1)
				rn := atNewRawNode(t, 1, s, true, 1)
				atMakeLeader(t, rn, s)
				require.NoError(t, rn.Propose([]byte("x")))
				return rn
			},
			wantEntries: []atID{{3, 2}},
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
			rd, app, apply, peers := atTakeReady(t, rn)
			assert.False(t, rn.HasReady(), "one Ready holds all the work")

			assert.Equal(t, tt.wantPeers, peers)
			require.NotNil(t, app)
			assert.Equal(t, tt.wantHardState, pb.HardState{Term: app.Term, Vote: app.Vote, Commit: app.Commit})
			assert.Equal(t, tt.wantHardState, rd.HardState)
			assert.Equal(t, tt.wantEntries, atNilIfEmpty(atIDs(app.Entries)))
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
				assert.Equal(t, tt.wantApply, atIDs(apply.Entries))
				assert.Equal(t, pb.Message{Type: pb.MsgStorageApplyResp, To: id, From: LocalApplyThread,
					Entries: apply.Entries}, apply.Responses[0])
			}
		})
	}
}

func atNilIfEmpty(ids []atID) []atID {
	if len(ids) == 0 {
		return nil
	}
	return ids
}

// TestAsyncStorageInProgressWatermark: while writes are in flight, later
// Readys hand out only new entries, and committed entries go to the apply
// thread only once they are durable locally, however far the commit index
// is ahead.
func TestAsyncStorageInProgressWatermark(t *testing.T) {
	s := atStorage(t, []uint64{1, 2, 3}, pb.HardState{Term: 1, Commit: 1}, 1)
	rn := atNewRawNode(t, 2, s, true, 1)
	app := func(index uint64, ents []pb.Entry, commit uint64) pb.Message {
		return pb.Message{Type: pb.MsgApp, From: 1, To: 2, Term: 1, Index: index, LogTerm: 1, Entries: ents, Commit: commit}
	}

	require.NoError(t, rn.Step(app(1, atEnts(2, 1, 1), 3)))
	rd1, a1, p, _ := atTakeReady(t, rn)
	assert.Equal(t, []atID{{2, 1}, {3, 1}}, atIDs(rd1.Entries))
	assert.Nil(t, p, "entries 2 and 3 are committed but not durable")
	assert.False(t, rn.HasReady(), "nothing new while the write is in flight")

	require.NoError(t, rn.Step(app(3, atEnts(4, 1, 1), 5)))
	rd2, a2, p, _ := atTakeReady(t, rn)
	assert.Equal(t, []atID{{4, 1}, {5, 1}}, atIDs(rd2.Entries), "entries 2-3 are in flight and not handed out again")
	assert.Nil(t, p)
	assert.Equal(t, pb.HardState{Term: 1, Commit: 5}, rd2.HardState)
	assert.False(t, rn.HasReady())

	// The leader resends everything (say, after a timeout). Nothing is new,
	// but the acknowledgement must still wait for the writes in flight.
	require.NoError(t, rn.Step(app(1, atEnts(2, 1, 1, 1, 1), 5)))
	rd3, a3, p, peers := atTakeReady(t, rn)
	assert.Empty(t, rd3.Entries)
	assert.Nil(t, p)
	assert.Empty(t, peers)
	assert.Equal(t, []pb.Message{
		{Type: pb.MsgAppResp, To: 1, From: 2, Term: 1, Index: 5},
		{Type: pb.MsgStorageAppendResp, To: 2, From: LocalAppendThread, Term: 1, Index: 5, LogTerm: 1},
	}, a3.Responses)

	// The first write completes: 2-3 become durable and go to apply, and
	// only they, although the commit index is 5.
	out := atRunAppend(t, rn, s, *a1)
	assert.Equal(t, []pb.Message{{Type: pb.MsgAppResp, To: 1, From: 2, Term: 1, Index: 3}}, out)
	assert.Equal(t, uint64(4), rn.raft.raftLog.unstable.offset)
	rd4, _, p4, _ := atTakeReady(t, rn)
	assert.Empty(t, rd4.Entries)
	require.NotNil(t, p4)
	assert.Equal(t, []atID{{2, 1}, {3, 1}}, atIDs(p4.Entries))
	assert.False(t, rn.HasReady(), "4-5 are not durable; 2-3 are being applied")

	out = atRunAppend(t, rn, s, *a2)
	assert.Equal(t, []pb.Message{{Type: pb.MsgAppResp, To: 1, From: 2, Term: 1, Index: 5}}, out)
	rd5, _, p5, _ := atTakeReady(t, rn)
	require.NotNil(t, p5)
	assert.Equal(t, []atID{{4, 1}, {5, 1}}, atIDs(p5.Entries), "applying is not held up by the earlier apply")
	assert.Empty(t, rd5.Entries)
	assert.False(t, rn.HasReady())

	atRunAppend(t, rn, s, *a3)
	assert.False(t, rn.HasReady(), "the duplicate acknowledgement changes nothing")
	atStepResponses(t, rn, p4.Responses)
	atStepResponses(t, rn, p5.Responses)
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
		s := atStorage(t, voters, pb.HardState{Term: 2, Commit: 4}, 1, 1, 1, 1)
		return atNewRawNode(t, 2, s, true, 4), s
	}
	requireUnstable := func(t *testing.T, rn *RawNode, want ...atID) {
		t.Helper()
		assert.Equal(t, want, atNilIfEmpty(atIDs(rn.raft.raftLog.unstable.entries)), "unstable entries")
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
		require.NoError(t, rn.Step(app(1, 2, atEnts(5, 2, 2), 4)))
		_, a1, _, _ := atTakeReady(t, rn)
		require.Equal(t, pb.Message{Type: pb.MsgStorageAppendResp, To: 2, From: LocalAppendThread, Term: 2, Index: 6, LogTerm: 2},
			atLastResponse(t, *a1))

		// Node 3 leads term 3 and replaces 5-6, committing them.
		require.NoError(t, rn.Step(app(3, 3, atEnts(5, 3, 3), 6)))
		rd2, a2, p2, _ := atTakeReady(t, rn)
		assert.Equal(t, []atID{{5, 3}, {6, 3}}, atIDs(rd2.Entries))
		assert.Nil(t, p2, "committed but not durable")

		// The first write finishes; storage holds (5,2),(6,2) now.
		out := atRunAppend(t, rn, s, *a1)
		assert.Equal(t, []pb.Message{{Type: pb.MsgAppResp, To: 1, From: 2, Term: 2, Index: 6}}, out,
			"the old leader's acknowledgement is still released (it attests a real write)")
		requireUnstable(t, rn, atID{5, 3}, atID{6, 3})
		assert.False(t, rn.HasReady(), "the term-3 entries are neither stable nor applied")
		assert.Equal(t, uint64(4), rn.BasicStatus().Applied)

		// Only their own acknowledgement makes them stable.
		out = atRunAppend(t, rn, s, *a2)
		assert.Equal(t, []pb.Message{{Type: pb.MsgAppResp, To: 3, From: 2, Term: 3, Index: 6}}, out)
		requireUnstable(t, rn)
		_, _, p, _ := atTakeReady(t, rn)
		require.NotNil(t, p)
		assert.Equal(t, []atID{{5, 3}, {6, 3}}, atIDs(p.Entries))
	})

	t.Run("same term, replaced entries", func(t *testing.T) {
		// An acknowledgement created at the current term names an entry
		// that was replaced later in that term: its LogTerm no longer
		// matches.
		rn, s := newFollower(t)
		require.NoError(t, rn.Step(app(1, 2, atEnts(5, 2, 2), 4)))
		_, a1, _, _ := atTakeReady(t, rn)
		// Node 3 leads term 3; its heartbeat moves us there before its
		// entries arrive. This Ready's write (the new term) carries an
		// acknowledgement covering the entries in flight, at term 3.
		require.NoError(t, rn.Step(pb.Message{Type: pb.MsgHeartbeat, From: 3, To: 2, Term: 3, Commit: 4}))
		_, a2, _, _ := atTakeReady(t, rn)
		require.Equal(t, pb.Message{Type: pb.MsgStorageAppendResp, To: 2, From: LocalAppendThread, Term: 3, Index: 6, LogTerm: 2},
			atLastResponse(t, *a2))
		require.NoError(t, rn.Step(app(3, 3, atEnts(5, 3, 3), 4)))
		_, a3, _, _ := atTakeReady(t, rn)

		atRunAppend(t, rn, s, *a1)
		requireUnstable(t, rn, atID{5, 3}, atID{6, 3})
		atRunAppend(t, rn, s, *a2) // term 3, but (6,2) is gone
		requireUnstable(t, rn, atID{5, 3}, atID{6, 3})
		atRunAppend(t, rn, s, *a3)
		requireUnstable(t, rn)
	})

	t.Run("ABA: the same entries again at a later term", func(t *testing.T) {
		// (5,2),(6,2) are written, replaced by (5,3), then restored by a
		// term-4 leader that has them. When the first write's
		// acknowledgement arrives, the unstable log again holds exactly
		// (5,2),(6,2) — but storage is about to lose them to the second
		// write. Only the acknowledgement's term tells the cases apart.
		rn, s := newFollower(t)
		require.NoError(t, rn.Step(app(1, 2, atEnts(5, 2, 2), 4)))
		_, a1, _, _ := atTakeReady(t, rn)
		require.NoError(t, rn.Step(app(3, 3, atEnts(5, 3), 4)))
		_, a2, _, _ := atTakeReady(t, rn)
		require.NoError(t, rn.Step(app(1, 4, atEnts(5, 2, 2), 6)))
		rd3, a3, p3, _ := atTakeReady(t, rn)
		require.Equal(t, []atID{{5, 2}, {6, 2}}, atIDs(rd3.Entries), "re-appended after the conflict")
		assert.Nil(t, p3)

		atRunAppend(t, rn, s, *a1)
		requireUnstable(t, rn, atID{5, 2}, atID{6, 2})
		assert.False(t, rn.HasReady())

		atRunAppend(t, rn, s, *a2) // storage: (5,3), no 6
		requireUnstable(t, rn, atID{5, 2}, atID{6, 2})
		assert.Equal(t, uint64(6), rn.raft.raftLog.lastIndex())
		assert.False(t, rn.HasReady(), "nothing to apply: storage does not hold the committed entries")

		out := atRunAppend(t, rn, s, *a3)
		assert.Equal(t, []pb.Message{{Type: pb.MsgAppResp, To: 1, From: 2, Term: 4, Index: 6}}, out)
		requireUnstable(t, rn)
		_, _, p, _ := atTakeReady(t, rn)
		require.NotNil(t, p)
		assert.Equal(t, []atID{{5, 2}, {6, 2}}, atIDs(p.Entries))
		for i := uint64(5); i <= 6; i++ {
			term, err := s.Term(i)
			require.NoError(t, err)
			assert.Equal(t, uint64(2), term)
		}
	})

	t.Run("lower term: the snapshot still counts", func(t *testing.T) {
		s := atStorage(t, voters, pb.HardState{Term: 2})
		rn := atNewRawNode(t, 2, s, true, 0)
		snap := pb.Snapshot{Metadata: pb.SnapshotMetadata{Index: 10, Term: 2, ConfState: pb.ConfState{Voters: voters}}}
		require.NoError(t, rn.Step(pb.Message{Type: pb.MsgSnap, From: 1, To: 2, Term: 2, Snapshot: &snap}))
		require.NoError(t, rn.Step(pb.Message{Type: pb.MsgApp, From: 1, To: 2, Term: 2, Index: 10, LogTerm: 2,
			Entries: atEnts(11, 2), Commit: 10}))
		_, a1, p1, _ := atTakeReady(t, rn)
		assert.Nil(t, p1)
		ack := atLastResponse(t, *a1)
		require.Equal(t, pb.Message{Type: pb.MsgStorageAppendResp, To: 2, From: LocalAppendThread,
			Term: 2, Index: 11, LogTerm: 2, Snapshot: &snap}, ack)

		require.NoError(t, rn.Step(pb.Message{Type: pb.MsgHeartbeat, From: 3, To: 2, Term: 3}))
		_, a2, _, _ := atTakeReady(t, rn)

		atRunAppend(t, rn, s, *a1) // acknowledgement at term 2, stepped at 3
		assert.Nil(t, rn.raft.raftLog.unstable.snapshot, "the snapshot is durable whatever the term")
		assert.Equal(t, uint64(10), rn.BasicStatus().Applied)
		requireUnstable(t, rn, atID{11, 2})

		atRunAppend(t, rn, s, *a2)
		requireUnstable(t, rn)
	})
}

// TestAsyncStorageLeaderCommitsWhileOwnWriteInFlight: the leader counts
// durable copies only. Its own copy counts once its write's responses are
// stepped; followers' copies once they answer. With both followers durable
// the entry commits while the leader's write is in flight, but it is applied
// on the leader only after that write.
func TestAsyncStorageLeaderCommitsWhileOwnWriteInFlight(t *testing.T) {
	newLeader := func(t *testing.T) (*RawNode, *MemoryStorage, pb.Message, uint64) {
		s := atStorage(t, []uint64{1, 2, 3}, pb.HardState{Term: 1, Commit: 1}, 1)
		rn := atNewRawNode(t, 1, s, true, 1)
		atMakeLeader(t, rn, s)
		require.NoError(t, rn.Propose([]byte("x")))
		_, app, _, peers := atTakeReady(t, rn)
		require.Len(t, peers, 2, "MsgApp to both followers at once")
		return rn, s, *app, rn.raft.raftLog.lastIndex()
	}
	ackFrom := func(id, index uint64) pb.Message {
		return pb.Message{Type: pb.MsgAppResp, From: id, To: 1, Term: 2, Index: index}
	}

	t.Run("both followers durable", func(t *testing.T) {
		rn, s, app, x := newLeader(t)
		require.NoError(t, rn.Step(ackFrom(2, x)))
		assert.Equal(t, x-1, rn.raft.raftLog.committed, "one follower and no durable leader copy: no quorum")
		require.NoError(t, rn.Step(ackFrom(3, x)))
		assert.Equal(t, x, rn.raft.raftLog.committed, "two durable followers are a quorum")
		assert.Equal(t, x-1, rn.raft.trk.Progress[1].Match, "the leader's own copy is not durable yet")

		rd, a2, p, _ := atTakeReady(t, rn)
		assert.Equal(t, x, rd.HardState.Commit)
		assert.Nil(t, p, "committed, but not applied before it is durable on the leader")
		assert.False(t, rn.HasReady())

		atRunAppend(t, rn, s, app)
		assert.Equal(t, x, rn.raft.trk.Progress[1].Match)
		_, _, p, _ = atTakeReady(t, rn)
		require.NotNil(t, p)
		assert.Equal(t, []atID{{x, 2}}, atIDs(p.Entries))
		atRunAppend(t, rn, s, *a2)
	})

	t.Run("one follower and the leader's own write", func(t *testing.T) {
		rn, s, app, x := newLeader(t)
		require.NoError(t, rn.Step(ackFrom(2, x)))
		assert.Equal(t, x-1, rn.raft.raftLog.committed)
		assert.False(t, rn.HasReady())

		// The self-acknowledgement is among the held responses, ahead of
		// the storage acknowledgement.
		require.Equal(t, []pb.MessageType{pb.MsgAppResp, pb.MsgStorageAppendResp},
			[]pb.MessageType{app.Responses[0].Type, app.Responses[1].Type})
		atPersist(t, s, app)
		require.NoError(t, rn.Step(app.Responses[0]))
		assert.Equal(t, x, rn.raft.raftLog.committed, "follower 2 and the leader are a quorum")
		assert.Nil(t, rn.raft.raftLog.nextCommittedEnts(false), "not stable until the storage acknowledgement")
		require.NoError(t, rn.Step(app.Responses[1]))
		_, _, p, _ := atTakeReady(t, rn)
		require.NotNil(t, p)
		assert.Equal(t, []atID{{x, 2}}, atIDs(p.Entries))
	})
}

// TestAsyncStorageSnapshot: a snapshot reaches an asynchronous follower
// through the append thread. Until the write is acknowledged the node does
// not consider it stable or applied and hands no later committed entry to
// the apply thread; the acknowledgement of the MsgSnap is released only with
// the write.
func TestAsyncStorageSnapshot(t *testing.T) {
	voters := []uint64{1, 2, 3}
	s := atStorage(t, voters, pb.HardState{Term: 2})
	rn := atNewRawNode(t, 2, s, true, 0)
	snap := pb.Snapshot{
		Data:     []byte("state@10"),
		Metadata: pb.SnapshotMetadata{Index: 10, Term: 2, ConfState: pb.ConfState{Voters: voters}},
	}
	require.NoError(t, rn.Step(pb.Message{Type: pb.MsgSnap, From: 1, To: 2, Term: 2, Snapshot: &snap}))
	rd1, a1, p, peers := atTakeReady(t, rn)
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
		Entries: atEnts(11, 2, 2), Commit: 12}))
	rd2, a2, p, _ := atTakeReady(t, rn)
	assert.True(t, IsEmptySnap(rd2.Snapshot))
	assert.Equal(t, []atID{{11, 2}, {12, 2}}, atIDs(a2.Entries))
	assert.Nil(t, p, "nothing is applied before the snapshot")
	assert.Equal(t, uint64(0), rn.BasicStatus().Applied)
	assert.NotNil(t, rn.raft.raftLog.unstable.snapshot)
	assert.True(t, rn.raft.raftLog.hasNextOrInProgressSnapshot())
	assert.False(t, rn.raft.promotable(), "a node installing a snapshot does not campaign")

	// The snapshot's write completes.
	out := atRunAppend(t, rn, s, *a1)
	assert.Equal(t, []pb.Message{{Type: pb.MsgAppResp, To: 1, From: 2, Term: 2, Index: 10}}, out)
	assert.Nil(t, rn.raft.raftLog.unstable.snapshot)
	assert.Equal(t, uint64(10), rn.BasicStatus().Applied, "installing the snapshot applies it")
	assert.False(t, rn.HasReady(), "11-12 are committed but not durable")

	atRunAppend(t, rn, s, *a2)
	_, _, p, _ = atTakeReady(t, rn)
	require.NotNil(t, p)
	assert.Equal(t, []atID{{11, 2}, {12, 2}}, atIDs(p.Entries))
	atStepResponses(t, rn, p.Responses)
	assert.Equal(t, uint64(12), rn.BasicStatus().Applied)
}

// TestAsyncStorageAdvanceIsANoOp: Advance must not be called with
// AsyncStorageWrites; if it is, it logs an error and changes nothing (this
// deviates from etcd/raft v3.6, which panics).
func TestAsyncStorageAdvanceIsANoOp(t *testing.T) {
	var logged bytes.Buffer
	s := atStorage(t, []uint64{1, 2, 3}, pb.HardState{Term: 1, Commit: 1}, 1)
	rn := atNewRawNode(t, 2, s, true, 1, func(c *Config) {
		c.Logger = &DefaultLogger{Logger: log.New(&logged, "", 0)}
	})
	require.NoError(t, rn.Step(pb.Message{Type: pb.MsgApp, From: 1, To: 2, Term: 2, Index: 1, LogTerm: 1,
		Entries: atEnts(2, 2), Commit: 2}))
	rd, app, _, _ := atTakeReady(t, rn)
	logged.Reset()

	type snapshot struct {
		log       string
		unstable  []atID
		prevHard  pb.HardState
		prevSoft  SoftState
		status    BasicStatus
		onAdvance int
		hasReady  bool
	}
	capture := func() snapshot {
		return snapshot{
			log:       rn.raft.raftLog.String(),
			unstable:  atIDs(rn.raft.raftLog.unstable.entries),
			prevHard:  rn.prevHardSt,
			prevSoft:  rn.prevSoftSt,
			status:    rn.BasicStatus(),
			onAdvance: len(rn.stepsOnAdvance),
			hasReady:  rn.HasReady(),
		}
	}
	before := capture()
	assert.NotPanics(t, func() { rn.Advance(rd) })
	assert.NotPanics(t, func() { rn.Advance(Ready{CommittedEntries: atEnts(2, 2)}) })
	assert.Equal(t, before, capture())
	assert.Contains(t, logged.String(), "ERROR: raft: Advance must not be called when using AsyncStorageWrites")

	// The node carries on through its storage responses.
	atRunAppend(t, rn, s, *app)
	_, _, p, _ := atTakeReady(t, rn)
	require.NotNil(t, p)
	assert.Equal(t, []atID{{2, 2}}, atIDs(p.Entries))
}

// atNode is a member of an atCluster.
type atNode struct {
	id      uint64
	cfg     *Config
	rn      *RawNode
	storage *MemoryStorage
	// appendQ and applyQ are the work queues of the local threads (async
	// nodes only), in order.
	appendQ, applyQ []pb.Message
	// view is the log as storage will hold it once appendQ is done.
	view atLogView
	// applied lists the applied entries, in order; appliedIndex is the
	// index of the last one (or of an installed snapshot).
	applied      []pb.Entry
	appliedIndex uint64
}

func (n *atNode) async() bool { return n.cfg.AsyncStorageWrites }

// appliedData returns the payloads of the applied normal entries.
func (n *atNode) appliedData() []string {
	var out []string
	for _, e := range n.applied {
		if e.Type == pb.EntryNormal && len(e.Data) > 0 {
			out = append(out, string(e.Data))
		}
	}
	return out
}

// atLogView tracks index -> term of a log as a sequence of writes leaves
// it, to detect redundant writes.
type atLogView struct {
	last  uint64
	terms map[uint64]uint64
}

func atViewOf(t testing.TB, s *MemoryStorage) atLogView {
	first, err := s.FirstIndex()
	require.NoError(t, err)
	last, err := s.LastIndex()
	require.NoError(t, err)
	v := atLogView{last: last, terms: map[uint64]uint64{}}
	for i := first - 1; i <= last; i++ {
		term, err := s.Term(i)
		require.NoError(t, err)
		v.terms[i] = term
	}
	return v
}

// writeSnapshot applies a MsgStorageAppend's snapshot to the view.
func (v *atLogView) writeSnapshot(m pb.Message) {
	if m.Snapshot != nil && !IsEmptySnap(*m.Snapshot) {
		v.terms = map[uint64]uint64{m.Snapshot.Metadata.Index: m.Snapshot.Metadata.Term}
		v.last = m.Snapshot.Metadata.Index
	}
}

// writeEntries applies a MsgStorageAppend's entries to the view, as
// MemoryStorage does: they replace the suffix from their first index on.
func (v *atLogView) writeEntries(m pb.Message) {
	if len(m.Entries) == 0 {
		return
	}
	for i := m.Entries[0].Index; i <= v.last; i++ {
		delete(v.terms, i)
	}
	for _, e := range m.Entries {
		v.terms[e.Index] = e.Term
	}
	v.last = m.Entries[len(m.Entries)-1].Index
}

// atCluster is an in-memory cluster of synchronous and asynchronous nodes
// with a FIFO network. Nothing happens in the background.
type atCluster struct {
	t     testing.TB
	ids   []uint64
	nodes map[uint64]*atNode
	// queue holds messages in flight, in send order.
	queue []pb.Message
	// drop, if set, loses the messages it returns true for.
	drop func(m pb.Message) bool
	// appliedAt is the first entry applied at each index by any node
	// (State Machine Safety is checked on every apply).
	appliedAt map[uint64]pb.Entry
	// onAppend, if set, sees every MsgStorageAppend as it is queued.
	onAppend func(n *atNode, m pb.Message)
}

// atNewCluster starts len(async) voters with empty logs; async[i] says
// whether node i+1 uses AsyncStorageWrites.
func atNewCluster(t testing.TB, async ...bool) *atCluster {
	c := &atCluster{t: t, nodes: map[uint64]*atNode{}, appliedAt: map[uint64]pb.Entry{}}
	for i := range async {
		c.ids = append(c.ids, uint64(i+1))
	}
	for i, id := range c.ids {
		s := atStorage(t, c.ids, pb.HardState{})
		cfg := atConfig(id, s, async[i])
		rn, err := NewRawNode(cfg)
		require.NoError(t, err)
		c.nodes[id] = &atNode{id: id, cfg: cfg, rn: rn, storage: s, view: atViewOf(t, s)}
	}
	return c
}

func (c *atCluster) node(id uint64) *atNode { return c.nodes[id] }

// send puts m on the network unless drop says otherwise.
func (c *atCluster) send(m pb.Message) {
	c.t.Helper()
	require.False(c.t, IsLocalMsgTarget(m.To), "local message %s on the network", m.Type)
	if c.drop != nil && c.drop(m) {
		return
	}
	c.queue = append(c.queue, m)
}

// deliver steps every message in flight into its recipient. It reports
// whether there were any.
func (c *atCluster) deliver() bool {
	msgs := c.queue
	c.queue = nil
	for _, m := range msgs {
		_ = c.nodes[m.To].rn.Step(m) // forwarded proposals may be dropped
		if m.Type == pb.MsgSnap {
			c.nodes[m.From].rn.ReportSnapshot(m.To, SnapshotFinish)
		}
	}
	return len(msgs) > 0
}

// handleReady takes one Ready from n. A synchronous node persists, sends,
// applies and advances; an asynchronous one queues its storage work and
// sends the rest at once.
func (c *atCluster) handleReady(n *atNode) {
	c.t.Helper()
	rd := n.rn.Ready()
	if !n.async() {
		atPersist(c.t, n.storage, pb.Message{Type: pb.MsgStorageAppend, Entries: rd.Entries, Snapshot: &rd.Snapshot,
			Term: rd.Term, Vote: rd.Vote, Commit: rd.Commit})
		atCheckDurable(c.t, n.id, n.storage, rd.Messages)
		for _, m := range rd.Messages {
			c.send(m)
		}
		if !IsEmptySnap(rd.Snapshot) {
			n.appliedIndex = rd.Snapshot.Metadata.Index
		}
		c.apply(n, rd.CommittedEntries)
		n.rn.Advance(rd)
		return
	}
	app, apply, peers := atCheckAsyncReady(c.t, n.id, rd)
	for _, m := range peers {
		c.send(m)
	}
	if app != nil {
		n.view.writeSnapshot(*app)
		if len(app.Entries) > 0 {
			// An entry is never handed out for writing again while an
			// earlier write of it stands; replacing it is another matter.
			e := app.Entries[0]
			require.LessOrEqual(c.t, e.Index, n.view.last+1, "node %d: gap before written entries", n.id)
			term, ok := n.view.terms[e.Index]
			require.False(c.t, ok && term == e.Term, "node %d: entry (%d, %d) handed out for writing twice", n.id, e.Index, e.Term)
		}
		n.view.writeEntries(*app)
		if c.onAppend != nil {
			c.onAppend(n, *app)
		}
		n.appendQ = append(n.appendQ, *app)
	}
	if apply != nil {
		// Committed entries go to the apply thread only once durable here.
		for _, e := range apply.Entries {
			term, err := n.storage.Term(e.Index)
			require.NoError(c.t, err, "node %d: entry %d handed to apply before it is durable", n.id, e.Index)
			require.Equal(c.t, e.Term, term, "node %d: entry %d handed to apply before it is durable", n.id, e.Index)
		}
		n.applyQ = append(n.applyQ, *apply)
	}
}

// runLocal lets n's append thread do up to appends writes and its apply
// thread up to applies batches (negative: all), delivering the responses.
// It reports whether there was anything to do.
func (c *atCluster) runLocal(n *atNode, appends, applies int) bool {
	c.t.Helper()
	if appends < 0 || appends > len(n.appendQ) {
		appends = len(n.appendQ)
	}
	if applies < 0 || applies > len(n.applyQ) {
		applies = len(n.applyQ)
	}
	did := appends > 0 || applies > 0
	for ; appends > 0; appends-- {
		m := n.appendQ[0]
		n.appendQ = n.appendQ[1:]
		if m.Snapshot != nil && !IsEmptySnap(*m.Snapshot) {
			n.appliedIndex = max(n.appliedIndex, m.Snapshot.Metadata.Index)
		}
		for _, out := range atRunAppend(c.t, n.rn, n.storage, m) {
			c.send(out)
		}
	}
	for ; applies > 0; applies-- {
		m := n.applyQ[0]
		n.applyQ = n.applyQ[1:]
		c.apply(n, m.Entries)
		atStepResponses(c.t, n.rn, m.Responses)
	}
	return did
}

// apply applies ents on n, checking State Machine Safety and order.
func (c *atCluster) apply(n *atNode, ents []pb.Entry) {
	c.t.Helper()
	for _, e := range ents {
		if prev, ok := c.appliedAt[e.Index]; ok {
			require.True(c.t, prev.Term == e.Term && bytes.Equal(prev.Data, e.Data),
				"State Machine Safety: index %d applied as %v and %v", e.Index, prev, e)
		} else {
			c.appliedAt[e.Index] = e
		}
		if e.Index <= n.appliedIndex {
			// A snapshot installed by the append thread already covers it.
			require.True(c.t, n.async(), "node %d applies %d twice", n.id, e.Index)
			continue
		}
		require.Equal(c.t, n.appliedIndex+1, e.Index, "node %d applies out of order", n.id)
		n.appliedIndex = e.Index
		n.applied = append(n.applied, e)
	}
}

// processReadys handles Readys until no node has one; it reports whether
// any had.
func (c *atCluster) processReadys() bool {
	busy := false
	for _, id := range c.ids {
		for n := c.nodes[id]; n.rn.HasReady(); {
			c.handleReady(n)
			busy = true
		}
	}
	return busy
}

// stabilize handles Readys, runs the local threads and delivers messages
// until nothing is left.
func (c *atCluster) stabilize() {
	c.t.Helper()
	for i := 0; i < 10000; i++ {
		busy := c.processReadys()
		for _, id := range c.ids {
			n := c.nodes[id]
			if len(n.appendQ)+len(n.applyQ) > 0 {
				c.runLocal(n, -1, -1)
				busy = true
			}
		}
		if !c.deliver() && !busy {
			return
		}
	}
	c.t.Fatal("cluster did not stabilize")
}

// elect makes id campaign and requires that it wins.
func (c *atCluster) elect(id uint64) {
	c.t.Helper()
	require.NoError(c.t, c.nodes[id].rn.Campaign())
	c.stabilize()
	require.Equal(c.t, StateLeader, c.nodes[id].rn.raft.state, "node %d should have won", id)
}

// crash replaces node id by a fresh RawNode over its storage: the queued
// work of its local threads is lost, the state machine survives up to what
// storage has committed.
func (c *atCluster) crash(id uint64) {
	c.t.Helper()
	n := c.nodes[id]
	hs, _, err := n.storage.InitialState()
	require.NoError(c.t, err)
	snap, err := n.storage.Snapshot()
	require.NoError(c.t, err)
	n.appliedIndex = max(min(n.appliedIndex, hs.Commit), snap.Metadata.Index)
	for len(n.applied) > 0 && n.applied[len(n.applied)-1].Index > n.appliedIndex {
		n.applied = n.applied[:len(n.applied)-1]
	}
	cfg := *n.cfg
	cfg.Applied = n.appliedIndex
	cfg.Rand = rand.New(rand.NewSource(int64(id) + 100))
	rn, err := NewRawNode(&cfg)
	require.NoError(c.t, err)
	n.rn, n.appendQ, n.applyQ = rn, nil, nil
	n.view = atViewOf(c.t, n.storage)
}

// requireSameLogs checks that all nodes hold the same log and applied the
// same entries.
func (c *atCluster) requireSameLogs() {
	c.t.Helper()
	want := c.nodes[c.ids[0]].rn.raft.raftLog.allEntries()
	for _, id := range c.ids[1:] {
		got := c.nodes[id].rn.raft.raftLog.allEntries()
		require.Equal(c.t, len(want), len(got), "log lengths of 1 and %d", id)
		for i := range want {
			require.True(c.t, want[i].Index == got[i].Index && want[i].Term == got[i].Term && bytes.Equal(want[i].Data, got[i].Data),
				"logs of 1 and %d differ at %d: %v vs %v", id, want[i].Index, want[i], got[i])
		}
		require.Equal(c.t, c.nodes[c.ids[0]].appliedData(), c.nodes[id].appliedData(), "applied data of 1 and %d", id)
	}
}

// deliverRandomly delivers the messages in flight in a random order, losing
// some and keeping some for later.
func (c *atCluster) deliverRandomly(rng *rand.Rand) {
	msgs := c.queue
	c.queue = nil
	rng.Shuffle(len(msgs), func(i, j int) { msgs[i], msgs[j] = msgs[j], msgs[i] })
	for _, m := range msgs {
		switch p := rng.Intn(10); {
		case p == 0:
			if m.Type == pb.MsgSnap {
				c.nodes[m.From].rn.ReportSnapshot(m.To, SnapshotFailure)
			}
		case p == 1:
			c.queue = append(c.queue, m)
		default:
			_ = c.nodes[m.To].rn.Step(m)
			if m.Type == pb.MsgSnap {
				c.nodes[m.From].rn.ReportSnapshot(m.To, SnapshotFinish)
			}
		}
	}
}

// compact snapshots node id at what it has applied and durably committed,
// and drops the log up to there.
func (c *atCluster) compact(id uint64) {
	c.t.Helper()
	n := c.nodes[id]
	hs, _, err := n.storage.InitialState()
	require.NoError(c.t, err)
	index := min(n.appliedIndex, hs.Commit)
	first, err := n.storage.FirstIndex()
	require.NoError(c.t, err)
	if index < first {
		return
	}
	cs := n.rn.raft.trk.ConfState()
	_, err = n.storage.CreateSnapshot(index, &cs, []byte(fmt.Sprint("state@", index)))
	require.NoError(c.t, err)
	require.NoError(c.t, n.storage.Compact(index))
}

// TestAsyncStorageCrashWithUnacknowledgedWrites: a node crashes with writes
// handed to its append thread but not done; it restarts from storage that
// never saw them. An entry only the crashed node had is never committed;
// one its followers made durable survives; the cluster goes on committing.
func TestAsyncStorageCrashWithUnacknowledgedWrites(t *testing.T) {
	propose := func(c *atCluster, id uint64, data string) {
		require.NoError(t, c.node(id).rn.Propose([]byte(data)))
	}
	// setup elects node 1 of an asynchronous three-node cluster and commits
	// one entry everywhere.
	setup := func(t *testing.T) *atCluster {
		c := atNewCluster(t, true, true, true)
		c.elect(1)
		propose(c, 1, "a")
		c.stabilize()
		return c
	}
	// finish elects node 2, commits more and checks that the cluster agrees.
	finish := func(t *testing.T, c *atCluster, ghost string) {
		c.drop = nil
		c.elect(2)
		for i := 0; i < 5; i++ {
			propose(c, 2, fmt.Sprint("b", i))
			c.stabilize()
		}
		// Node 1 catches up through the new leader.
		for i := 0; i < 3; i++ {
			c.nodes[2].rn.Tick()
			c.stabilize()
		}
		c.requireSameLogs()
		for _, id := range c.ids {
			data := c.node(id).appliedData()
			assert.NotContains(t, data, ghost, "node %d", id)
			assert.Equal(t, "b4", data[len(data)-1], "node %d", id)
		}
	}

	t.Run("leader loses a write nobody else saw", func(t *testing.T) {
		c := setup(t)
		lastBefore := c.node(1).rn.raft.raftLog.lastIndex()
		propose(c, 1, "ghost")
		// The Ready is taken: MsgApp may go out at once, but the node
		// crashes before they do, and before its write.
		c.drop = func(pb.Message) bool { return true }
		c.processReadys()
		require.Len(t, c.node(1).appendQ, 1)
		c.crash(1)
		assert.Equal(t, lastBefore, c.node(1).rn.raft.raftLog.lastIndex(), "the restarted node never had the entry")
		finish(t, c, "ghost")
	})

	t.Run("leader loses a write its followers made durable", func(t *testing.T) {
		c := setup(t)
		propose(c, 1, "survivor")
		c.processReadys() // MsgApp goes out at once
		require.Len(t, c.node(1).appendQ, 1)
		// Followers persist and acknowledge; the leader crashes before its
		// own write, so their acknowledgements reach the new incarnation.
		c.deliver()
		c.processReadys()
		for _, id := range []uint64{2, 3} {
			require.True(t, c.runLocal(c.node(id), -1, -1))
		}
		c.crash(1)
		c.deliver()
		c.drop = nil
		c.elect(2)
		c.stabilize()
		// Durable on a majority, the entry is kept by the new leader and
		// committed in its term.
		for _, id := range c.ids {
			assert.Contains(t, c.node(id).appliedData(), "survivor", "node %d", id)
		}
		finish(t, c, "ghost")
	})

	t.Run("follower loses a write and its acknowledgement", func(t *testing.T) {
		c := setup(t)
		propose(c, 1, "c")
		c.processReadys()
		c.deliver()
		c.processReadys()
		// Node 3's write is lost with it; its MsgAppResp, held in the
		// write's Responses, is never sent.
		require.NotEmpty(t, c.node(3).appendQ)
		c.crash(3)
		c.stabilize()
		assert.Contains(t, c.node(1).appliedData(), "c", "nodes 1 and 2 commit without node 3")
		// A heartbeat exchange lets the leader find node 3 lagging.
		c.nodes[1].rn.Tick()
		c.stabilize()
		assert.Equal(t, c.node(1).appliedData(), c.node(3).appliedData())
		finish(t, c, "ghost")
	})

	t.Run("follower loses a vote", func(t *testing.T) {
		c := setup(t)
		// Node 2 campaigns; node 3 grants its vote in memory but crashes
		// before persisting it: the grant never leaves.
		require.NoError(t, c.node(2).rn.Campaign())
		c.processReadys()
		c.runLocal(c.node(2), -1, -1)
		var sent []pb.Message
		c.drop = func(m pb.Message) bool {
			sent = append(sent, m)
			return m.From == 3
		}
		c.deliver()
		c.processReadys()
		var heldGrant bool
		for _, m := range c.node(3).appendQ {
			for _, resp := range m.Responses {
				heldGrant = heldGrant || (resp.Type == pb.MsgVoteResp && resp.To == 2 && !resp.Reject)
			}
		}
		require.True(t, heldGrant, "node 3 granted its vote in memory, held until durable")
		c.crash(3)
		hs, _, err := c.node(3).storage.InitialState()
		require.NoError(t, err)
		assert.NotEqual(t, uint64(2), hs.Vote, "the vote never reached storage")
		c.stabilize()
		assert.Equal(t, StateLeader, c.node(2).rn.raft.state, "elected with node 1's vote")
		for _, m := range sent {
			assert.False(t, m.From == 3 && m.Type == pb.MsgVoteResp && !m.Reject, "a vote left before it was durable: %v", m)
		}
		finish(t, c, "ghost")
	})
}

// TestAsyncStorageMixedCluster: synchronous and asynchronous nodes in one
// cluster, with the asynchronous nodes' threads lagging by random amounts,
// commit 100 proposals and end with identical logs.
func TestAsyncStorageMixedCluster(t *testing.T) {
	for _, tt := range []struct {
		name   string
		async  []bool
		leader uint64
	}{
		{"async follower", []bool{false, false, true}, 1},
		{"async leader", []bool{false, false, true}, 3},
	} {
		for seed := int64(1); seed <= 3; seed++ {
			t.Run(fmt.Sprintf("%s/seed=%d", tt.name, seed), func(t *testing.T) {
				rng := rand.New(rand.NewSource(seed))
				c := atNewCluster(t, tt.async...)
				c.elect(tt.leader)
				var want []string
				for i := 0; i < 100; i++ {
					data := fmt.Sprint("p", i)
					// Proposals enter at every node; followers forward them.
					require.NoError(t, c.node(c.ids[i%3]).rn.Propose([]byte(data)))
					want = append(want, data)
					c.processReadys()
					for _, id := range c.ids {
						n := c.node(id)
						c.runLocal(n, rng.Intn(len(n.appendQ)+1), rng.Intn(len(n.applyQ)+1))
					}
					if rng.Intn(2) == 0 {
						c.deliver()
					}
				}
				c.stabilize()
				require.Equal(t, StateLeader, c.node(tt.leader).rn.raft.state)
				c.requireSameLogs()
				for _, id := range c.ids {
					assert.ElementsMatch(t, want, c.node(id).appliedData(), "node %d", id)
				}
			})
		}
	}
}

// TestAsyncStorageSingleNode: a lone asynchronous voter elects itself once
// its own vote is durable and commits its entries once they are.
func TestAsyncStorageSingleNode(t *testing.T) {
	s := atStorage(t, []uint64{1}, pb.HardState{})
	rn := atNewRawNode(t, 1, s, true, 0)
	require.NoError(t, rn.Campaign())
	_, a1, _, _ := atTakeReady(t, rn)
	assert.Equal(t, StateCandidate, rn.raft.state, "the vote is not durable yet")
	atRunAppend(t, rn, s, *a1)
	assert.Equal(t, StateLeader, rn.raft.state)

	_, a2, _, _ := atTakeReady(t, rn) // the leader's empty entry
	require.NoError(t, rn.Propose([]byte("x")))
	_, a3, _, _ := atTakeReady(t, rn)
	assert.Zero(t, rn.raft.raftLog.committed)
	atRunAppend(t, rn, s, *a2)
	assert.Equal(t, uint64(1), rn.raft.raftLog.committed)
	atRunAppend(t, rn, s, *a3)
	assert.Equal(t, uint64(2), rn.raft.raftLog.committed)
	_, applied := atDrain(t, rn, s)
	assert.Equal(t, []atID{{1, 1}, {2, 1}}, atIDs(applied))
	assert.Equal(t, uint64(2), rn.BasicStatus().Applied)
}

// TestAsyncStorageClusterSnapshot: a lagging asynchronous follower is caught
// up by a snapshot from a synchronous leader; the snapshot goes through its
// append thread.
func TestAsyncStorageClusterSnapshot(t *testing.T) {
	c := atNewCluster(t, false, false, true)
	c.elect(1)
	c.drop = func(m pb.Message) bool { return m.To == 3 || m.From == 3 }
	for i := 0; i < 5; i++ {
		require.NoError(t, c.node(1).rn.Propose([]byte(fmt.Sprint("p", i))))
		c.stabilize()
	}
	// The leader compacts its log past what node 3 has.
	l := c.node(1)
	cs := l.rn.raft.trk.ConfState()
	_, err := l.storage.CreateSnapshot(l.appliedIndex, &cs, []byte("state"))
	require.NoError(t, err)
	require.NoError(t, l.storage.Compact(l.appliedIndex))

	c.drop = nil
	var snapWrites int
	c.onAppend = func(n *atNode, m pb.Message) {
		if m.Snapshot != nil {
			snapWrites++
			assert.Equal(t, uint64(3), n.id)
			assert.Less(t, n.rn.raft.raftLog.applied, m.Snapshot.Metadata.Index, "not applied before the write")
			assert.Less(t, n.rn.raft.raftLog.committed, m.Snapshot.Metadata.Index+uint64(len(m.Entries))+1)
		}
	}
	for i := 0; i < 3; i++ {
		l.rn.Tick()
		c.stabilize()
	}
	assert.Equal(t, 1, snapWrites)
	n3 := c.node(3)
	assert.Equal(t, l.appliedIndex, n3.appliedIndex)
	snap, err := n3.storage.Snapshot()
	require.NoError(t, err)
	assert.Equal(t, []byte("state"), snap.Data)

	require.NoError(t, c.node(3).rn.Propose([]byte("after")))
	c.stabilize()
	for _, id := range c.ids {
		data := c.node(id).appliedData()
		assert.Equal(t, "after", data[len(data)-1], "node %d", id)
	}
}

// TestAsyncStorageRandomized drives clusters of synchronous and
// asynchronous nodes through random ticks, proposals, message loss and
// reordering, lagging storage threads, crashes that lose queued writes, and
// compaction. The cluster's checks run throughout: no entry handed out for
// writing twice, nothing applied before it is durable, every released
// response backed by storage, State Machine Safety on every apply, Election
// Safety after every step. At the end the network heals and every node must
// apply a final proposal.
func TestAsyncStorageRandomized(t *testing.T) {
	steps := 600
	if testing.Short() {
		steps = 150
	}
	for _, async := range [][]bool{{true, true, true}, {false, true, true, false, true}} {
		for seed := int64(1); seed <= 10; seed++ {
			t.Run(fmt.Sprintf("nodes=%d/seed=%d", len(async), seed), func(t *testing.T) {
				rng := rand.New(rand.NewSource(seed))
				c := atNewCluster(t, async...)
				for _, n := range c.nodes {
					n.cfg.PreVote = seed%2 == 0
					n.cfg.CheckQuorum = seed%3 == 0
					n.cfg.Rand = rand.New(rand.NewSource(seed*10 + int64(n.id)))
					rn, err := NewRawNode(n.cfg)
					require.NoError(t, err)
					n.rn = rn
				}
				leaderOf := map[uint64]uint64{}
				checkElectionSafety := func() {
					for _, id := range c.ids {
						r := c.node(id).rn.raft
						if r.state != StateLeader {
							continue
						}
						if prev, ok := leaderOf[r.Term]; ok && prev != id {
							t.Fatalf("Election Safety: %d and %d both lead term %d", prev, id, r.Term)
						}
						leaderOf[r.Term] = id
					}
				}
				proposals := 0
				for step := 0; step < steps; step++ {
					id := c.ids[rng.Intn(len(c.ids))]
					n := c.node(id)
					switch p := rng.Intn(100); {
					case p < 40:
						n.rn.Tick()
					case p < 65:
						proposals++
						_ = n.rn.Propose([]byte(fmt.Sprint("p", proposals)))
					case p < 68:
						c.crash(id)
					case p < 72:
						c.compact(id)
					}
					c.processReadys()
					for _, id := range c.ids {
						n := c.node(id)
						c.runLocal(n, rng.Intn(len(n.appendQ)+1), rng.Intn(len(n.applyQ)+1))
					}
					c.deliverRandomly(rng)
					checkElectionSafety()
				}

				// Settle: a leader emerges and every node applies "final".
				final := false
				for i := 0; i < 300; i++ {
					for _, id := range c.ids {
						c.node(id).rn.Tick()
					}
					c.stabilize()
					checkElectionSafety()
					var lead *atNode
					for _, id := range c.ids {
						if c.node(id).rn.raft.state == StateLeader {
							lead = c.node(id)
						}
					}
					if lead == nil {
						continue
					}
					if !final {
						final = lead.rn.Propose([]byte("final")) == nil
						continue
					}
					done := true
					for _, id := range c.ids {
						data := c.node(id).appliedData()
						done = done && len(data) > 0 && data[len(data)-1] == "final"
					}
					if done {
						t.Logf("applied %d of %d proposals, %d terms with leaders, last index %d", len(lead.appliedData()), proposals, len(leaderOf), lead.rn.raft.raftLog.lastIndex())
						return
					}
				}
				t.Fatal("the healed cluster did not converge")
			})
		}
	}
}
