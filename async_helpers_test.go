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
	"testing"

	"github.com/stretchr/testify/require"

	pb "github.com/pontoon-raft/raft/raftpb"
)

// atConfig is the configuration of every test node: ticks of 10/1, no size
// limits, and an election-timeout source seeded by the node id.
func atConfig(id uint64, s Storage, async bool) *Config {
	cfg := ctConfig(id, s)
	cfg.AsyncStorageWrites = async
	return cfg
}

// atStorage returns a MemoryStorage whose configuration has the given voters,
// holding entries with the given terms at indexes 1, 2, ... and HardState hs.
func atStorage(t testing.TB, voters []uint64, hs pb.HardState, terms ...uint64) *MemoryStorage {
	t.Helper()
	ms := NewMemoryStorage()
	ms.snapshot.Metadata.ConfState = pb.ConfState{Voters: voters}
	require.NoError(t, ms.Append(ctEnts(1, terms...)))
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

func atNilIfEmpty(ids []atID) []atID {
	if len(ids) == 0 {
		return nil
	}
	return ids
}
