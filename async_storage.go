package raft

import pb "github.com/pontoon-raft/raft/raftpb"

// The messages below carry Ready's storage work to the application's append
// and apply threads when Config.AsyncStorageWrites is set. In synchronous
// mode the same acknowledgements are built and stepped on Advance, so both
// modes share one path through the state machine.

// needStorageAppendMsg reports whether rd holds something to persist, or
// messages that must wait for earlier writes to be durable.
func needStorageAppendMsg(r *raft, rd Ready) bool {
	return len(rd.Entries) > 0 || !IsEmptyHardState(rd.HardState) ||
		!IsEmptySnap(rd.Snapshot) || len(r.msgsAfterAppend) > 0
}

// needStorageAppendRespMsg reports whether the node must hear that entries
// or a snapshot became durable. Entries handed out in an earlier Ready and
// still in progress count: the append thread works in order, so the
// acknowledgement of this write covers them too.
func needStorageAppendRespMsg(r *raft, rd Ready) bool {
	return r.raftLog.hasNextOrInProgressUnstableEnts() || !IsEmptySnap(rd.Snapshot)
}

// newStorageAppendMsg builds the MsgStorageAppend for rd.
func newStorageAppendMsg(r *raft, rd Ready) pb.Message {
	m := pb.Message{
		Type:    pb.MsgStorageAppend,
		To:      LocalAppendThread,
		From:    r.id,
		Entries: rd.Entries,
	}
	if !IsEmptyHardState(rd.HardState) {
		// All three HardState fields or none, so the application can tell
		// "no update" from an update.
		m.Term = rd.Term
		m.Vote = rd.Vote
		m.Commit = rd.Commit
	}
	if !IsEmptySnap(rd.Snapshot) {
		snap := rd.Snapshot
		m.Snapshot = &snap
	}
	// Delivered once the write is durable. The node's own acknowledgements
	// come before MsgStorageAppendResp so the leader counts its entries
	// while they are still in the unstable log (cheap term lookups).
	m.Responses = r.msgsAfterAppend
	if needStorageAppendRespMsg(r, rd) {
		m.Responses = append(m.Responses, newStorageAppendRespMsg(r, rd))
	}
	return m
}

// newStorageAppendRespMsg builds the acknowledgement of a storage write. It
// names the last entry (index and term) the write covers: if that entry has
// been replaced by the time the acknowledgement is stepped (a new term
// overwrote it), the acknowledgement is ignored, so a stale write never
// marks newer entries stable.
func newStorageAppendRespMsg(r *raft, rd Ready) pb.Message {
	m := pb.Message{
		Type: pb.MsgStorageAppendResp,
		To:   r.id,
		From: LocalAppendThread,
		// Stepped at a later term, the entries part is ignored (see Step).
		Term: r.Term,
	}
	if r.raftLog.hasNextOrInProgressUnstableEnts() {
		m.Index = r.raftLog.lastIndex()
		m.LogTerm = r.raftLog.lastTerm()
	}
	if !IsEmptySnap(rd.Snapshot) {
		snap := rd.Snapshot
		m.Snapshot = &snap
	}
	return m
}

func needStorageApplyMsg(rd Ready) bool { return len(rd.CommittedEntries) > 0 }

func needStorageApplyRespMsg(rd Ready) bool { return needStorageApplyMsg(rd) }

// newStorageApplyMsg builds the MsgStorageApply for rd's committed entries.
func newStorageApplyMsg(r *raft, rd Ready) pb.Message {
	ents := rd.CommittedEntries
	return pb.Message{
		Type:      pb.MsgStorageApply,
		To:        LocalApplyThread,
		From:      r.id,
		Term:      0, // committed entries are term-independent
		Entries:   ents,
		Responses: []pb.Message{newStorageApplyRespMsg(r, ents)},
	}
}

// newStorageApplyRespMsg builds the acknowledgement that ents were applied.
func newStorageApplyRespMsg(r *raft, ents []pb.Entry) pb.Message {
	return pb.Message{
		Type:    pb.MsgStorageApplyResp,
		To:      r.id,
		From:    LocalApplyThread,
		Term:    0,
		Entries: ents,
	}
}
