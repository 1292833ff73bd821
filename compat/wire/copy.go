package wire

import (
	epb "go.etcd.io/raft/v3/raftpb"

	pb "github.com/pontoon-raft/raft/raftpb"
)

// CopyEntryToEtcd returns e as an etcd Entry, field by field.
func CopyEntryToEtcd(e pb.Entry) epb.Entry {
	return epb.Entry{Term: e.Term, Index: e.Index, Type: epb.EntryType(e.Type), Data: e.Data}
}

// CopyEntryFromEtcd returns e as a Pontoon Entry, field by field.
func CopyEntryFromEtcd(e epb.Entry) pb.Entry {
	return pb.Entry{Term: e.Term, Index: e.Index, Type: pb.EntryType(e.Type), Data: e.Data}
}

// CopyEntriesToEtcd converts a slice of entries; nil stays nil.
func CopyEntriesToEtcd(ents []pb.Entry) []epb.Entry {
	if ents == nil {
		return nil
	}
	out := make([]epb.Entry, len(ents))
	for i, e := range ents {
		out[i] = CopyEntryToEtcd(e)
	}
	return out
}

// CopyEntriesFromEtcd converts a slice of entries; nil stays nil.
func CopyEntriesFromEtcd(ents []epb.Entry) []pb.Entry {
	if ents == nil {
		return nil
	}
	out := make([]pb.Entry, len(ents))
	for i, e := range ents {
		out[i] = CopyEntryFromEtcd(e)
	}
	return out
}

// CopyConfStateToEtcd returns cs as an etcd ConfState, field by field.
func CopyConfStateToEtcd(cs pb.ConfState) epb.ConfState {
	return epb.ConfState{
		Voters: cs.Voters, Learners: cs.Learners, VotersOutgoing: cs.VotersOutgoing,
		LearnersNext: cs.LearnersNext, AutoLeave: cs.AutoLeave,
	}
}

// CopyConfStateFromEtcd returns cs as a Pontoon ConfState, field by field.
func CopyConfStateFromEtcd(cs epb.ConfState) pb.ConfState {
	return pb.ConfState{
		Voters: cs.Voters, Learners: cs.Learners, VotersOutgoing: cs.VotersOutgoing,
		LearnersNext: cs.LearnersNext, AutoLeave: cs.AutoLeave,
	}
}

// CopySnapshotMetadataToEtcd returns md as etcd SnapshotMetadata.
func CopySnapshotMetadataToEtcd(md pb.SnapshotMetadata) epb.SnapshotMetadata {
	return epb.SnapshotMetadata{ConfState: CopyConfStateToEtcd(md.ConfState), Index: md.Index, Term: md.Term}
}

// CopySnapshotMetadataFromEtcd returns md as Pontoon SnapshotMetadata.
func CopySnapshotMetadataFromEtcd(md epb.SnapshotMetadata) pb.SnapshotMetadata {
	return pb.SnapshotMetadata{ConfState: CopyConfStateFromEtcd(md.ConfState), Index: md.Index, Term: md.Term}
}

// CopySnapshotToEtcd returns s as an etcd Snapshot, field by field.
func CopySnapshotToEtcd(s pb.Snapshot) epb.Snapshot {
	return epb.Snapshot{Data: s.Data, Metadata: CopySnapshotMetadataToEtcd(s.Metadata)}
}

// CopySnapshotFromEtcd returns s as a Pontoon Snapshot, field by field.
func CopySnapshotFromEtcd(s epb.Snapshot) pb.Snapshot {
	return pb.Snapshot{Data: s.Data, Metadata: CopySnapshotMetadataFromEtcd(s.Metadata)}
}

// CopyHardStateToEtcd returns hs as an etcd HardState.
func CopyHardStateToEtcd(hs pb.HardState) epb.HardState {
	return epb.HardState{Term: hs.Term, Vote: hs.Vote, Commit: hs.Commit}
}

// CopyHardStateFromEtcd returns hs as a Pontoon HardState.
func CopyHardStateFromEtcd(hs epb.HardState) pb.HardState {
	return pb.HardState{Term: hs.Term, Vote: hs.Vote, Commit: hs.Commit}
}

// CopyMessageToEtcd returns m as an etcd Message, field by field,
// including its entries, snapshot and nested responses.
func CopyMessageToEtcd(m pb.Message) epb.Message {
	out := epb.Message{
		Type: epb.MessageType(m.Type), To: m.To, From: m.From, Term: m.Term,
		LogTerm: m.LogTerm, Index: m.Index, Entries: CopyEntriesToEtcd(m.Entries),
		Commit: m.Commit, Vote: m.Vote, Reject: m.Reject, RejectHint: m.RejectHint,
		Context: m.Context,
	}
	if m.Snapshot != nil {
		s := CopySnapshotToEtcd(*m.Snapshot)
		out.Snapshot = &s
	}
	if m.Responses != nil {
		out.Responses = make([]epb.Message, len(m.Responses))
		for i, r := range m.Responses {
			out.Responses[i] = CopyMessageToEtcd(r)
		}
	}
	return out
}

// CopyMessageFromEtcd returns m as a Pontoon Message, field by field.
func CopyMessageFromEtcd(m epb.Message) pb.Message {
	out := pb.Message{
		Type: pb.MessageType(m.Type), To: m.To, From: m.From, Term: m.Term,
		LogTerm: m.LogTerm, Index: m.Index, Entries: CopyEntriesFromEtcd(m.Entries),
		Commit: m.Commit, Vote: m.Vote, Reject: m.Reject, RejectHint: m.RejectHint,
		Context: m.Context,
	}
	if m.Snapshot != nil {
		s := CopySnapshotFromEtcd(*m.Snapshot)
		out.Snapshot = &s
	}
	if m.Responses != nil {
		out.Responses = make([]pb.Message, len(m.Responses))
		for i, r := range m.Responses {
			out.Responses[i] = CopyMessageFromEtcd(r)
		}
	}
	return out
}

// CopyConfChangeToEtcd returns cc as an etcd ConfChange.
func CopyConfChangeToEtcd(cc pb.ConfChange) epb.ConfChange {
	return epb.ConfChange{Type: epb.ConfChangeType(cc.Type), NodeID: cc.NodeID, Context: cc.Context, ID: cc.ID}
}

// CopyConfChangeFromEtcd returns cc as a Pontoon ConfChange.
func CopyConfChangeFromEtcd(cc epb.ConfChange) pb.ConfChange {
	return pb.ConfChange{Type: pb.ConfChangeType(cc.Type), NodeID: cc.NodeID, Context: cc.Context, ID: cc.ID}
}

// CopyConfChangeSingleToEtcd returns c as an etcd ConfChangeSingle.
func CopyConfChangeSingleToEtcd(c pb.ConfChangeSingle) epb.ConfChangeSingle {
	return epb.ConfChangeSingle{Type: epb.ConfChangeType(c.Type), NodeID: c.NodeID}
}

// CopyConfChangeSingleFromEtcd returns c as a Pontoon ConfChangeSingle.
func CopyConfChangeSingleFromEtcd(c epb.ConfChangeSingle) pb.ConfChangeSingle {
	return pb.ConfChangeSingle{Type: pb.ConfChangeType(c.Type), NodeID: c.NodeID}
}

// CopyConfChangeV2ToEtcd returns cc as an etcd ConfChangeV2.
func CopyConfChangeV2ToEtcd(cc pb.ConfChangeV2) epb.ConfChangeV2 {
	out := epb.ConfChangeV2{Transition: epb.ConfChangeTransition(cc.Transition), Context: cc.Context}
	if cc.Changes != nil {
		out.Changes = make([]epb.ConfChangeSingle, len(cc.Changes))
		for i, c := range cc.Changes {
			out.Changes[i] = CopyConfChangeSingleToEtcd(c)
		}
	}
	return out
}

// CopyConfChangeV2FromEtcd returns cc as a Pontoon ConfChangeV2.
func CopyConfChangeV2FromEtcd(cc epb.ConfChangeV2) pb.ConfChangeV2 {
	out := pb.ConfChangeV2{Transition: pb.ConfChangeTransition(cc.Transition), Context: cc.Context}
	if cc.Changes != nil {
		out.Changes = make([]pb.ConfChangeSingle, len(cc.Changes))
		for i, c := range cc.Changes {
			out.Changes[i] = CopyConfChangeSingleFromEtcd(c)
		}
	}
	return out
}
