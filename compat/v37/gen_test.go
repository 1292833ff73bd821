package v37

import (
	"math"
	"math/rand"

	pb "github.com/pontoon-raft/raft/raftpb"
)

// gen draws random Pontoon raftpb values from a seeded source. It is the
// generator of compat/wire restricted to valid enum values, because v3.7's
// proto2 enums are closed: an unknown value goes to the unknown fields. Integers
// cover every varint length; byte fields are nil, empty-but-present or
// filled; repeated fields are nil or non-empty, because an empty non-nil
// list has no encoding and decodes as nil on both sides.
type gen struct{ r *rand.Rand }

func newGen(seed int64) gen { return gen{r: rand.New(rand.NewSource(seed))} }

func (g gen) u64() uint64 {
	switch g.r.Intn(6) {
	case 0:
		return 0
	case 1:
		return uint64(g.r.Intn(1 << 7))
	case 2:
		return uint64(g.r.Intn(1 << 14))
	case 3:
		return g.r.Uint64() >> uint(g.r.Intn(64))
	case 4:
		return math.MaxUint64 - uint64(g.r.Intn(3))
	default:
		return g.r.Uint64()
	}
}

func (g gen) bytes() []byte {
	switch g.r.Intn(4) {
	case 0:
		return nil
	case 1:
		return []byte{}
	default:
		b := make([]byte, 1+g.r.Intn(300))
		g.r.Read(b)
		return b
	}
}

func (g gen) ids() []uint64 {
	if g.r.Intn(3) == 0 {
		return nil
	}
	out := make([]uint64, 1+g.r.Intn(6))
	for i := range out {
		out[i] = g.u64()
	}
	return out
}

func (g gen) entryType() pb.EntryType {
	return pb.EntryType(g.r.Intn(3))
}

func (g gen) entry() pb.Entry {
	return pb.Entry{Term: g.u64(), Index: g.u64(), Type: g.entryType(), Data: g.bytes()}
}

func (g gen) entries() []pb.Entry {
	if g.r.Intn(3) == 0 {
		return nil
	}
	out := make([]pb.Entry, 1+g.r.Intn(5))
	for i := range out {
		out[i] = g.entry()
	}
	return out
}

func (g gen) confState() pb.ConfState {
	return pb.ConfState{
		Voters: g.ids(), Learners: g.ids(), VotersOutgoing: g.ids(), LearnersNext: g.ids(),
		AutoLeave: g.r.Intn(2) == 0,
	}
}

func (g gen) snapshotMetadata() pb.SnapshotMetadata {
	return pb.SnapshotMetadata{ConfState: g.confState(), Index: g.u64(), Term: g.u64()}
}

func (g gen) snapshot() pb.Snapshot {
	return pb.Snapshot{Data: g.bytes(), Metadata: g.snapshotMetadata()}
}

func (g gen) hardState() pb.HardState {
	return pb.HardState{Term: g.u64(), Vote: g.u64(), Commit: g.u64()}
}

// message returns a random message of type typ; depth bounds the nesting
// of Responses.
func (g gen) message(typ pb.MessageType, depth int) pb.Message {
	m := pb.Message{
		Type: typ, To: g.u64(), From: g.u64(), Term: g.u64(), LogTerm: g.u64(), Index: g.u64(),
		Entries: g.entries(), Commit: g.u64(), Vote: g.u64(), Reject: g.r.Intn(2) == 0,
		RejectHint: g.u64(), Context: g.bytes(),
	}
	if g.r.Intn(3) == 0 {
		s := g.snapshot()
		m.Snapshot = &s
	}
	if depth > 0 && g.r.Intn(3) == 0 {
		m.Responses = make([]pb.Message, 1+g.r.Intn(3))
		for i := range m.Responses {
			m.Responses[i] = g.message(g.messageType(), depth-1)
		}
	}
	return m
}

// numMessageTypes is the number of MessageType values (MsgHup..MsgForgetLeader).
const numMessageTypes = 24

func (g gen) messageType() pb.MessageType {
	return pb.MessageType(g.r.Intn(numMessageTypes))
}

func (g gen) confChangeType() pb.ConfChangeType {
	return pb.ConfChangeType(g.r.Intn(4))
}

func (g gen) confChange() pb.ConfChange {
	return pb.ConfChange{Type: g.confChangeType(), NodeID: g.u64(), Context: g.bytes(), ID: g.u64()}
}

func (g gen) confChangeSingle() pb.ConfChangeSingle {
	return pb.ConfChangeSingle{Type: g.confChangeType(), NodeID: g.u64()}
}

func (g gen) confChangeV2() pb.ConfChangeV2 {
	cc := pb.ConfChangeV2{Transition: pb.ConfChangeTransition(g.r.Intn(3)), Context: g.bytes()}
	if g.r.Intn(4) != 0 {
		cc.Changes = make([]pb.ConfChangeSingle, 1+g.r.Intn(5))
		for i := range cc.Changes {
			cc.Changes[i] = g.confChangeSingle()
		}
	}
	return cc
}
