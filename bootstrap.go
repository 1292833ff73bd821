package raft

import (
	"errors"

	pb "github.com/pontoon-raft/raft/raftpb"
)

// Peer names a member of the initial configuration given to StartNode or
// RawNode.Bootstrap. Context is carried in the bootstrap conf change entry.
type Peer struct {
	ID      uint64
	Context []byte
}

// Bootstrap initializes a node whose Storage is empty with a configuration
// of the given voters. It writes one committed ConfChangeAddNode entry per
// peer at term 1 (indexes 1..n, the format etcd/raft uses, so mixed clusters
// agree on the log) and applies them, so the configuration exists at once.
// The entries still appear in the next Ready, to be persisted and applied;
// until the application has applied them (handled that Ready and called
// Advance) the node refuses to campaign, as it does with any committed but
// unapplied configuration change.
func (rn *RawNode) Bootstrap(peers []Peer) error {
	if len(peers) == 0 {
		return errors.New("raft: must provide at least one peer to Bootstrap")
	}
	lastIndex, err := rn.raft.raftLog.storage.LastIndex()
	if err != nil {
		return err
	}
	if lastIndex != 0 {
		return errors.New("raft: can't bootstrap a nonempty Storage")
	}
	if rn.raft.raftLog.lastIndex() != 0 {
		// The entries of an earlier Bootstrap are not persisted yet.
		return errors.New("raft: can't bootstrap twice: the node already has a log")
	}
	// Nothing is persisted yet: report the whole HardState in the next Ready.
	rn.prevHardSt = pb.HardState{}

	rn.raft.becomeFollower(1, None)
	ents := make([]pb.Entry, len(peers))
	for i, peer := range peers {
		cc := pb.ConfChange{Type: pb.ConfChangeAddNode, NodeID: peer.ID, Context: peer.Context}
		data, err := cc.Marshal()
		if err != nil {
			return err
		}
		ents[i] = pb.Entry{Type: pb.EntryConfChange, Term: 1, Index: uint64(i + 1), Data: data}
	}
	rn.raft.raftLog.append(ents...)
	// The entries are committed by fiat. They are applied here so the
	// configuration exists right away; the application applies them again
	// from CommittedEntries, which is harmless (adding a voter twice is a
	// no-op). Progress of each peer starts after these entries.
	rn.raft.raftLog.committed = uint64(len(ents))
	for _, peer := range peers {
		rn.raft.applyConfChange(pb.ConfChange{NodeID: peer.ID, Type: pb.ConfChangeAddNode}.AsV2())
	}
	return nil
}
