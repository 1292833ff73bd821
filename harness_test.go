package raft

// The harness every imperative test of the package shares; scenarios that
// read best as the messages nodes exchange are scripts in testdata/, run by
// TestInteraction (interaction_test.go).
//
//   - harness_test.go: building a Config, a Storage, entries and a single
//     node, and running one node's Ready loop, synchronous or asynchronous,
//     with the Ready contract checked on the way.
//   - harness_cluster_test.go: the in-memory cluster (type cluster): nodes
//     with synchronous or asynchronous storage, a network that can lose,
//     rewrite and cut messages, and time that passes only when a test ticks.
//   - harness_ready_test.go: the cluster's Ready loop and storage threads.
//   - harness_faults_test.go: crashes, compaction, random delivery, role
//     changes, the Election Safety and linearizable-read checks, and the
//     randomized test that drives them.

import (
	"io"
	"log"
	"math/rand"
	"testing"

	"github.com/stretchr/testify/require"

	pb "github.com/pontoon-raft/raft/raftpb"
)

// testLogger keeps the tests quiet.
var testLogger = &DefaultLogger{Logger: log.New(io.Discard, "", 0)}

// testConfig returns the configuration every test node starts from: ticks
// of 10/1, no size limits, a discard logger, and an election-timeout source
// seeded by the node id so a run replays exactly.
func testConfig(id uint64, s Storage) *Config {
	return &Config{
		ID:              id,
		ElectionTick:    10,
		HeartbeatTick:   1,
		Storage:         s,
		MaxSizePerMsg:   noLimit,
		MaxInflightMsgs: 256,
		Logger:          testLogger,
		Rand:            rand.New(rand.NewSource(int64(id))),
	}
}

// asyncStorage is the Config option that turns on AsyncStorageWrites.
func asyncStorage(cfg *Config) { cfg.AsyncStorageWrites = true }

// appliedAt returns the Config option that sets Applied.
func appliedAt(index uint64) func(*Config) { return func(cfg *Config) { cfg.Applied = index } }

// votersConf is the configuration of the given voters.
func votersConf(ids ...uint64) pb.ConfState { return pb.ConfState{Voters: ids} }

// newTestStorage returns a MemoryStorage whose configuration (the ConfState
// of its empty initial snapshot) is cs, holding entries with the given terms
// at indexes 1, 2, ... and the HardState hs.
func newTestStorage(cs pb.ConfState, hs pb.HardState, terms ...uint64) *MemoryStorage {
	ms := NewMemoryStorage()
	ms.snapshot.Metadata.ConfState = cs
	if err := ms.Append(makeEnts(1, terms...)); err != nil {
		panic(err)
	}
	if err := ms.SetHardState(hs); err != nil {
		panic(err)
	}
	return ms
}

// newCompactedStorage returns a MemoryStorage holding a snapshot at
// (snapIndex, snapTerm), without a configuration, followed by ents.
func newCompactedStorage(t testing.TB, snapIndex, snapTerm uint64, ents []pb.Entry) *MemoryStorage {
	t.Helper()
	ms := NewMemoryStorage()
	if snapIndex > 0 {
		require.NoError(t, ms.ApplySnapshot(pb.Snapshot{Metadata: pb.SnapshotMetadata{Index: snapIndex, Term: snapTerm}}))
	}
	require.NoError(t, ms.Append(ents))
	return ms
}

// makeEnts returns consecutive entries starting at index first with the
// given terms.
func makeEnts(first uint64, terms ...uint64) []pb.Entry {
	ents := make([]pb.Entry, len(terms))
	for i, term := range terms {
		ents[i] = pb.Entry{Index: first + uint64(i), Term: term}
	}
	return ents
}

// repeatTerm returns n copies of term, for building long logs.
func repeatTerm(term uint64, n int) []uint64 {
	ts := make([]uint64, n)
	for i := range ts {
		ts[i] = term
	}
	return ts
}

// idsUpTo returns 1..n.
func idsUpTo(n int) []uint64 {
	ids := make([]uint64, n)
	for i := range ids {
		ids[i] = uint64(i + 1)
	}
	return ids
}

// staleSnapshot returns a snapshot at index 1 of term 1 with voters 1, 2
// and 3: well formed, and ignored by a node that committed index 1.
func staleSnapshot() *pb.Snapshot {
	return &pb.Snapshot{Metadata: pb.SnapshotMetadata{Index: 1, Term: 1, ConfState: votersConf(1, 2, 3)}}
}

// newTestRaft builds a bare state machine for unit tests of single rules.
func newTestRaft(t testing.TB, id uint64, s Storage, opts ...func(*Config)) *raft {
	t.Helper()
	cfg := testConfig(id, s)
	for _, o := range opts {
		o(cfg)
	}
	r, err := newRaft(cfg)
	require.NoError(t, err)
	return r
}

// newTestRawNode starts node id over s.
func newTestRawNode(t testing.TB, id uint64, s Storage, opts ...func(*Config)) *RawNode {
	t.Helper()
	cfg := testConfig(id, s)
	for _, o := range opts {
		o(cfg)
	}
	rn, err := NewRawNode(cfg)
	require.NoError(t, err)
	return rn
}

// takeMsgs returns every message r wants sent, including those that wait
// for durability, and clears them. Messages r addresses to itself (its own
// votes and acknowledgements) are left out.
func takeMsgs(r *raft) []pb.Message {
	var out []pb.Message
	for _, m := range append(r.msgs, r.msgsAfterAppend...) {
		if m.To != r.id {
			out = append(out, m)
		}
	}
	r.msgs, r.msgsAfterAppend = nil, nil
	return out
}

// msgsOfType returns the messages of type typ.
func msgsOfType(msgs []pb.Message, typ pb.MessageType) []pb.Message {
	var out []pb.Message
	for _, m := range msgs {
		if m.Type == typ {
			out = append(out, m)
		}
	}
	return out
}

// msgTypes returns the types of msgs.
func msgTypes(msgs []pb.Message) []pb.MessageType {
	out := make([]pb.MessageType, len(msgs))
	for i, m := range msgs {
		out[i] = m.Type
	}
	return out
}

// payloads returns the payloads of the normal entries with data in ents.
func payloads(ents []pb.Entry) []string {
	var out []string
	for _, e := range ents {
		if e.Type == pb.EntryNormal && len(e.Data) > 0 {
			out = append(out, string(e.Data))
		}
	}
	return out
}

// entryID is an entry's identity: (index, term).
type entryID struct{ Index, Term uint64 }

// entryIDs returns the identities of ents, nil if there are none.
func entryIDs(ents []pb.Entry) []entryID {
	var ids []entryID
	for _, e := range ents {
		ids = append(ids, entryID{e.Index, e.Term})
	}
	return ids
}

// writeToStorage persists what a Ready or a MsgStorageAppend hands out, in
// the order the contract prescribes: snapshot, entries, HardState.
func writeToStorage(t testing.TB, s *MemoryStorage, snap pb.Snapshot, ents []pb.Entry, hs pb.HardState) {
	t.Helper()
	if !IsEmptySnap(snap) {
		require.NoError(t, s.ApplySnapshot(snap))
	}
	require.NoError(t, s.Append(ents))
	if !IsEmptyHardState(hs) {
		require.NoError(t, s.SetHardState(hs))
	}
}

// readyCycle takes the next Ready of a synchronous node, persists it to s
// and advances.
func readyCycle(t testing.TB, rn *RawNode, s *MemoryStorage) Ready {
	t.Helper()
	require.True(t, rn.HasReady())
	rd := rn.Ready()
	writeToStorage(t, s, rd.Snapshot, rd.Entries, rd.HardState)
	rn.Advance(rd)
	return rd
}

// drain runs rn's Ready loop over s until it has nothing left, performing
// every write and apply at once: a synchronous node's through Ready and
// Advance, an asynchronous node's through its local messages, whose
// responses it steps back. It returns the messages for peers and the
// entries handed out for applying.
func drain(t testing.TB, rn *RawNode, s *MemoryStorage) (peers []pb.Message, applied []pb.Entry) {
	t.Helper()
	for i := 0; rn.HasReady(); i++ {
		require.Less(t, i, 100, "the node does not run out of work")
		if !rn.raft.asyncStorageWrites {
			rd := readyCycle(t, rn, s)
			peers = append(peers, rd.Messages...)
			applied = append(applied, rd.CommittedEntries...)
			continue
		}
		_, app, apply, out := takeAsyncReady(t, rn)
		peers = append(peers, out...)
		if app != nil {
			peers = append(peers, runAppend(t, rn, s, *app)...)
		}
		if apply != nil {
			applied = append(applied, apply.Entries...)
			stepResponses(t, rn, apply.Responses)
		}
	}
	return peers, applied
}

// mustWaitForWrite reports whether r must hold messages of type typ back
// until its storage writes are done: those that attest durable state
// (persist before responding, paper §5.1), and, under lease-based reads,
// heartbeat echoes, which a leader's lease counts on as a promise made at a
// durable term.
func mustWaitForWrite(r *raft, typ pb.MessageType) bool {
	switch typ {
	case pb.MsgAppResp, pb.MsgVoteResp, pb.MsgPreVoteResp:
		return true
	case pb.MsgHeartbeatResp:
		return r.readOnly.option == ReadOnlyLeaseBased
	}
	return false
}

// checkAsyncReady checks a Ready of an asynchronous node and returns its
// MsgStorageAppend and MsgStorageApply (nil if absent) and the messages for
// peers. Every piece of storage work in the Ready's fields must be mirrored
// in the local messages, so that the application needs to look at Messages
// only; messages that attest durable state wait in the write's Responses.
func checkAsyncReady(t testing.TB, r *raft, rd Ready) (app, apply *pb.Message, peers []pb.Message) {
	t.Helper()
	id := r.id
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
			require.False(t, mustWaitForWrite(r, m.Type),
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
	if len(rd.Entries) > 0 || !IsEmptyHardState(rd.HardState) || !IsEmptySnap(rd.Snapshot) {
		require.NotNil(t, app, "node %d: Ready has storage work but no MsgStorageAppend", id)
	}
	if app != nil {
		require.Equal(t, pb.MsgStorageAppend, app.Type)
		require.Equal(t, id, app.From)
		require.Zero(t, app.Index)
		require.Zero(t, app.LogTerm)
		require.Equal(t, entryIDs(rd.Entries), entryIDs(app.Entries), "node %d: MsgStorageAppend.Entries", id)
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
			require.True(t, mustWaitForWrite(r, resp.Type), "node %d: %s held back needlessly", id, resp.Type)
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

// takeAsyncReady returns the next Ready of an asynchronous node, checked,
// with its local requests and its messages for peers.
func takeAsyncReady(t testing.TB, rn *RawNode) (rd Ready, app, apply *pb.Message, peers []pb.Message) {
	t.Helper()
	require.True(t, rn.HasReady())
	rd = rn.Ready()
	app, apply, peers = checkAsyncReady(t, rn.raft, rd)
	return rd, app, apply, peers
}

// checkDurable checks that every message released after a write attests
// state that s now holds (persist before responding, paper §5.1).
func checkDurable(t testing.TB, id uint64, s *MemoryStorage, msgs []pb.Message) {
	t.Helper()
	last, err := s.LastIndex()
	require.NoError(t, err)
	hs, _, err := s.InitialState()
	require.NoError(t, err)
	for _, m := range msgs {
		switch {
		case m.Type == pb.MsgAppResp && !m.Reject:
			require.LessOrEqual(t, m.Index, last, "node %d acknowledged index %d before persisting it", id, m.Index)
		case m.Type == pb.MsgVoteResp && !m.Reject:
			// Either the vote is durable, or a later term is: then this
			// node can never vote again in m.Term either.
			require.GreaterOrEqual(t, hs.Term, m.Term, "node %d granted a vote at term %d before persisting the term", id, m.Term)
			if hs.Term == m.Term {
				require.Equal(t, m.To, hs.Vote, "node %d granted a vote to %d before persisting it", id, m.To)
			}
		case m.Type == pb.MsgStorageAppendResp && m.Index > 0:
			// The append thread works in order, so the entry the
			// acknowledgement names is in storage now, whatever happened
			// to the node's unstable log since.
			if term, err := s.Term(m.Index); err == nil {
				require.Equal(t, m.LogTerm, term, "node %d: acknowledgement of (%d, %d) but storage has term %d",
					id, m.Index, m.LogTerm, term)
			}
		}
	}
}

// stepResponses steps the responses addressed to rn's node and returns the
// others (to peers).
func stepResponses(t testing.TB, rn *RawNode, resps []pb.Message) (peers []pb.Message) {
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

// runAppend carries out the write m (a MsgStorageAppend) on s and delivers
// its responses: those for the node are stepped, the others returned.
func runAppend(t testing.TB, rn *RawNode, s *MemoryStorage, m pb.Message) []pb.Message {
	t.Helper()
	require.Equal(t, pb.MsgStorageAppend, m.Type)
	var snap pb.Snapshot
	if m.Snapshot != nil {
		snap = *m.Snapshot
	}
	writeToStorage(t, s, snap, m.Entries, pb.HardState{Term: m.Term, Vote: m.Vote, Commit: m.Commit})
	checkDurable(t, rn.raft.id, s, m.Responses)
	return stepResponses(t, rn, m.Responses)
}

// lastResponse returns the last response of m, normally its
// MsgStorageAppendResp.
func lastResponse(t testing.TB, m pb.Message) pb.Message {
	t.Helper()
	require.NotEmpty(t, m.Responses)
	return m.Responses[len(m.Responses)-1]
}

// makeLeader turns node 1 of voters {1,2,3} (at term 1 with a stable log)
// into the leader of term 2 with both followers in StateReplicate and its
// empty entry committed.
func makeLeader(t testing.TB, rn *RawNode, s *MemoryStorage) {
	t.Helper()
	require.NoError(t, rn.Campaign())
	drain(t, rn, s)
	require.NoError(t, rn.Step(pb.Message{Type: pb.MsgVoteResp, From: 2, To: 1, Term: 2}))
	require.Equal(t, StateLeader, rn.raft.state)
	drain(t, rn, s)
	last := rn.raft.raftLog.lastIndex()
	for _, id := range []uint64{2, 3} {
		require.NoError(t, rn.Step(pb.Message{Type: pb.MsgAppResp, From: id, To: 1, Term: 2, Index: last}))
	}
	drain(t, rn, s)
	require.Equal(t, last, rn.raft.raftLog.committed)
}
