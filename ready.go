package raft

import (
	pb "github.com/pontoon-raft/raft/raftpb"
)

// SoftState is the volatile part of a node's state: who leads and which role
// this node plays. It is useful for logging and routing and need not be
// persisted.
type SoftState struct {
	Lead      uint64
	RaftState StateType
}

func (a *SoftState) equal(b *SoftState) bool {
	return a.Lead == b.Lead && a.RaftState == b.RaftState
}

// Ready is a batch of work the node hands to the application. See the
// package documentation for the order in which its parts must be handled.
// Everything in a Ready is read-only to the application, and stays valid
// after Advance: the node never writes into slices it has handed out.
type Ready struct {
	// SoftState is nil when it has not changed since the previous Ready.
	*SoftState

	// HardState must be persisted before Messages are sent. It is empty when
	// it has not changed since the previous Ready.
	pb.HardState

	// ReadStates answer ReadIndex requests, in the order the requests were
	// made. A read may be served once Applied reaches ReadState.Index.
	ReadStates []ReadState

	// Entries must be appended to stable storage before Messages are sent.
	Entries []pb.Entry

	// Snapshot, if not empty, must be persisted (and installed in the state
	// machine) before the CommittedEntries of this and later Readys are
	// applied.
	Snapshot pb.Snapshot

	// CommittedEntries are to be applied to the state machine, in order.
	// They may include entries from Entries of this same Ready; those must
	// be persisted first.
	CommittedEntries []pb.Entry

	// Messages are to be sent after Entries, HardState and Snapshot are
	// durable. A MsgSnap among them obliges the application to call
	// ReportSnapshot once the transfer finished or failed. With
	// AsyncStorageWrites, Messages also holds the MsgStorageAppend and
	// MsgStorageApply requests, and every message may be sent at once.
	Messages []pb.Message

	// MustSync says whether HardState and Entries must be written with an
	// fsync (see MustSync).
	MustSync bool
}

// containsUpdates reports whether rd holds anything to act upon.
func (rd Ready) containsUpdates() bool {
	return rd.SoftState != nil || !IsEmptyHardState(rd.HardState) ||
		!IsEmptySnap(rd.Snapshot) || len(rd.Entries) > 0 ||
		len(rd.CommittedEntries) > 0 || len(rd.Messages) > 0 || len(rd.ReadStates) != 0
}

// appliedCursor returns the index of the last entry this Ready makes
// applied (committed entries, else the snapshot), or 0.
func (rd Ready) appliedCursor() uint64 {
	if n := len(rd.CommittedEntries); n > 0 {
		return rd.CommittedEntries[n-1].Index
	}
	if index := rd.Snapshot.Metadata.Index; index > 0 {
		return index
	}
	return 0
}
