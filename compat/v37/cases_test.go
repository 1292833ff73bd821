package v37

import (
	"testing"

	epb "go.etcd.io/raft/v3/raftpb"

	pb "github.com/pontoon-raft/raft/raftpb"
)

func TestWireInteropV37(t *testing.T) {
	v37Case[pb.Message, *pb.Message, *epb.Message]{
		name:  "Message",
		gen:   func(g gen, i int) pb.Message { return g.message(pb.MessageType(i%numMessageTypes), 2) },
		to:    MessageToV37,
		from:  MessageFromV37,
		fresh: func() *epb.Message { return new(epb.Message) },
	}.run(t)
	v37Case[pb.Entry, *pb.Entry, *epb.Entry]{
		name: "Entry", gen: func(g gen, _ int) pb.Entry { return g.entry() },
		to: EntryToV37, from: EntryFromV37, fresh: func() *epb.Entry { return new(epb.Entry) },
	}.run(t)
	v37Case[pb.Snapshot, *pb.Snapshot, *epb.Snapshot]{
		name: "Snapshot", gen: func(g gen, _ int) pb.Snapshot { return g.snapshot() },
		to: SnapshotToV37, from: SnapshotFromV37, fresh: func() *epb.Snapshot { return new(epb.Snapshot) },
	}.run(t)
	v37Case[pb.SnapshotMetadata, *pb.SnapshotMetadata, *epb.SnapshotMetadata]{
		name: "SnapshotMetadata", gen: func(g gen, _ int) pb.SnapshotMetadata { return g.snapshotMetadata() },
		to: SnapshotMetadataToV37, from: SnapshotMetadataFromV37,
		fresh: func() *epb.SnapshotMetadata { return new(epb.SnapshotMetadata) },
	}.run(t)
	v37Case[pb.ConfState, *pb.ConfState, *epb.ConfState]{
		name: "ConfState", gen: func(g gen, _ int) pb.ConfState { return g.confState() },
		to: ConfStateToV37, from: ConfStateFromV37, fresh: func() *epb.ConfState { return new(epb.ConfState) },
	}.run(t)
	v37Case[pb.HardState, *pb.HardState, *epb.HardState]{
		name: "HardState", gen: func(g gen, _ int) pb.HardState { return g.hardState() },
		to: HardStateToV37, from: HardStateFromV37, fresh: func() *epb.HardState { return new(epb.HardState) },
	}.run(t)
	v37Case[pb.ConfChange, *pb.ConfChange, *epb.ConfChange]{
		name: "ConfChange", gen: func(g gen, _ int) pb.ConfChange { return g.confChange() },
		to: ConfChangeToV37, from: ConfChangeFromV37, fresh: func() *epb.ConfChange { return new(epb.ConfChange) },
	}.run(t)
	v37Case[pb.ConfChangeV2, *pb.ConfChangeV2, *epb.ConfChangeV2]{
		name: "ConfChangeV2", gen: func(g gen, _ int) pb.ConfChangeV2 { return g.confChangeV2() },
		to: ConfChangeV2ToV37, from: ConfChangeV2FromV37, fresh: func() *epb.ConfChangeV2 { return new(epb.ConfChangeV2) },
	}.run(t)
	v37Case[pb.ConfChangeSingle, *pb.ConfChangeSingle, *epb.ConfChangeSingle]{
		name: "ConfChangeSingle", gen: func(g gen, _ int) pb.ConfChangeSingle { return g.confChangeSingle() },
		to: ConfChangeSingleToV37, from: ConfChangeSingleFromV37,
		fresh: func() *epb.ConfChangeSingle { return new(epb.ConfChangeSingle) },
	}.run(t)
}
