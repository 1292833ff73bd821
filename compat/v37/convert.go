package v37

import (
	epb "go.etcd.io/raft/v3/raftpb"
	"google.golang.org/protobuf/proto"

	pb "github.com/pontoon-raft/raft/raftpb"
)

// EntryToV37 returns e as a v3.7 Entry with every field set, as the v3.6
// encoder writes them.
func EntryToV37(e pb.Entry) *epb.Entry {
	return &epb.Entry{
		Term: proto.Uint64(e.Term), Index: proto.Uint64(e.Index),
		Type: epb.EntryType(e.Type).Enum(), Data: e.Data,
	}
}

// EntryFromV37 reads e through its getters.
func EntryFromV37(e *epb.Entry) pb.Entry {
	return pb.Entry{Term: e.GetTerm(), Index: e.GetIndex(), Type: pb.EntryType(e.GetType()), Data: e.GetData()}
}

func entriesToV37(ents []pb.Entry) []*epb.Entry {
	if ents == nil {
		return nil
	}
	out := make([]*epb.Entry, len(ents))
	for i, e := range ents {
		out[i] = EntryToV37(e)
	}
	return out
}

func entriesFromV37(ents []*epb.Entry) []pb.Entry {
	if ents == nil {
		return nil
	}
	out := make([]pb.Entry, len(ents))
	for i, e := range ents {
		out[i] = EntryFromV37(e)
	}
	return out
}

// ConfStateToV37 returns cs as a v3.7 ConfState.
func ConfStateToV37(cs pb.ConfState) *epb.ConfState {
	return &epb.ConfState{
		Voters: cs.Voters, Learners: cs.Learners, VotersOutgoing: cs.VotersOutgoing,
		LearnersNext: cs.LearnersNext, AutoLeave: proto.Bool(cs.AutoLeave),
	}
}

// ConfStateFromV37 reads cs through its getters.
func ConfStateFromV37(cs *epb.ConfState) pb.ConfState {
	return pb.ConfState{
		Voters: cs.GetVoters(), Learners: cs.GetLearners(), VotersOutgoing: cs.GetVotersOutgoing(),
		LearnersNext: cs.GetLearnersNext(), AutoLeave: cs.GetAutoLeave(),
	}
}

// SnapshotMetadataToV37 returns md as v3.7 SnapshotMetadata.
func SnapshotMetadataToV37(md pb.SnapshotMetadata) *epb.SnapshotMetadata {
	return &epb.SnapshotMetadata{
		ConfState: ConfStateToV37(md.ConfState), Index: proto.Uint64(md.Index), Term: proto.Uint64(md.Term),
	}
}

// SnapshotMetadataFromV37 reads md through its getters.
func SnapshotMetadataFromV37(md *epb.SnapshotMetadata) pb.SnapshotMetadata {
	return pb.SnapshotMetadata{
		ConfState: ConfStateFromV37(md.GetConfState()), Index: md.GetIndex(), Term: md.GetTerm(),
	}
}

// SnapshotToV37 returns s as a v3.7 Snapshot.
func SnapshotToV37(s pb.Snapshot) *epb.Snapshot {
	return &epb.Snapshot{Data: s.Data, Metadata: SnapshotMetadataToV37(s.Metadata)}
}

// SnapshotFromV37 reads s through its getters.
func SnapshotFromV37(s *epb.Snapshot) pb.Snapshot {
	return pb.Snapshot{Data: s.GetData(), Metadata: SnapshotMetadataFromV37(s.GetMetadata())}
}

// HardStateToV37 returns hs as a v3.7 HardState.
func HardStateToV37(hs pb.HardState) *epb.HardState {
	return &epb.HardState{Term: proto.Uint64(hs.Term), Vote: proto.Uint64(hs.Vote), Commit: proto.Uint64(hs.Commit)}
}

// HardStateFromV37 reads hs through its getters.
func HardStateFromV37(hs *epb.HardState) pb.HardState {
	return pb.HardState{Term: hs.GetTerm(), Vote: hs.GetVote(), Commit: hs.GetCommit()}
}

// MessageToV37 returns m as a v3.7 Message with every always-written field
// set, so that its encoding equals the v3.6 one.
func MessageToV37(m pb.Message) *epb.Message {
	out := &epb.Message{
		Type: epb.MessageType(m.Type).Enum(), To: proto.Uint64(m.To), From: proto.Uint64(m.From),
		Term: proto.Uint64(m.Term), LogTerm: proto.Uint64(m.LogTerm), Index: proto.Uint64(m.Index),
		Entries: entriesToV37(m.Entries), Commit: proto.Uint64(m.Commit), Vote: proto.Uint64(m.Vote),
		Reject: proto.Bool(m.Reject), RejectHint: proto.Uint64(m.RejectHint), Context: m.Context,
	}
	if m.Snapshot != nil {
		out.Snapshot = SnapshotToV37(*m.Snapshot)
	}
	if m.Responses != nil {
		out.Responses = make([]*epb.Message, len(m.Responses))
		for i, r := range m.Responses {
			out.Responses[i] = MessageToV37(r)
		}
	}
	return out
}

// MessageFromV37 reads m through its getters.
func MessageFromV37(m *epb.Message) pb.Message {
	out := pb.Message{
		Type: pb.MessageType(m.GetType()), To: m.GetTo(), From: m.GetFrom(), Term: m.GetTerm(),
		LogTerm: m.GetLogTerm(), Index: m.GetIndex(), Entries: entriesFromV37(m.GetEntries()),
		Commit: m.GetCommit(), Vote: m.GetVote(), Reject: m.GetReject(), RejectHint: m.GetRejectHint(),
		Context: m.GetContext(),
	}
	if s := m.GetSnapshot(); s != nil {
		snap := SnapshotFromV37(s)
		out.Snapshot = &snap
	}
	if rs := m.GetResponses(); rs != nil {
		out.Responses = make([]pb.Message, len(rs))
		for i, r := range rs {
			out.Responses[i] = MessageFromV37(r)
		}
	}
	return out
}

// ConfChangeToV37 returns cc as a v3.7 ConfChange.
func ConfChangeToV37(cc pb.ConfChange) *epb.ConfChange {
	return &epb.ConfChange{
		Type: epb.ConfChangeType(cc.Type).Enum(), NodeId: proto.Uint64(cc.NodeID),
		Context: cc.Context, Id: proto.Uint64(cc.ID),
	}
}

// ConfChangeFromV37 reads cc through its getters.
func ConfChangeFromV37(cc *epb.ConfChange) pb.ConfChange {
	return pb.ConfChange{
		Type: pb.ConfChangeType(cc.GetType()), NodeID: cc.GetNodeId(), Context: cc.GetContext(), ID: cc.GetId(),
	}
}

// ConfChangeSingleToV37 returns c as a v3.7 ConfChangeSingle.
func ConfChangeSingleToV37(c pb.ConfChangeSingle) *epb.ConfChangeSingle {
	return &epb.ConfChangeSingle{Type: epb.ConfChangeType(c.Type).Enum(), NodeId: proto.Uint64(c.NodeID)}
}

// ConfChangeSingleFromV37 reads c through its getters.
func ConfChangeSingleFromV37(c *epb.ConfChangeSingle) pb.ConfChangeSingle {
	return pb.ConfChangeSingle{Type: pb.ConfChangeType(c.GetType()), NodeID: c.GetNodeId()}
}

// ConfChangeV2ToV37 returns cc as a v3.7 ConfChangeV2.
func ConfChangeV2ToV37(cc pb.ConfChangeV2) *epb.ConfChangeV2 {
	out := &epb.ConfChangeV2{Transition: epb.ConfChangeTransition(cc.Transition).Enum(), Context: cc.Context}
	if cc.Changes != nil {
		out.Changes = make([]*epb.ConfChangeSingle, len(cc.Changes))
		for i, c := range cc.Changes {
			out.Changes[i] = ConfChangeSingleToV37(c)
		}
	}
	return out
}

// ConfChangeV2FromV37 reads cc through its getters.
func ConfChangeV2FromV37(cc *epb.ConfChangeV2) pb.ConfChangeV2 {
	out := pb.ConfChangeV2{Transition: pb.ConfChangeTransition(cc.GetTransition()), Context: cc.GetContext()}
	if cs := cc.GetChanges(); cs != nil {
		out.Changes = make([]pb.ConfChangeSingle, len(cs))
		for i, c := range cs {
			out.Changes[i] = ConfChangeSingleFromV37(c)
		}
	}
	return out
}
