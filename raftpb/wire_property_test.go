package raftpb

import (
	"math"
	"math/rand"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestEntrySize pins Entry.Size to the gogo formula etcd v3.6 batches by:
// three always-written varint fields, plus Data when it is non-nil.
func TestEntrySize(t *testing.T) {
	want := func(e Entry) int {
		n := 3 + sov(uint64(e.Type)) + sov(e.Term) + sov(e.Index)
		if e.Data != nil {
			n += 1 + sov(uint64(len(e.Data))) + len(e.Data)
		}
		return n
	}
	tests := []struct {
		name  string
		entry Entry
		size  int // written out by hand as a cross-check of want
	}{
		{"empty", Entry{}, 6},
		{"empty non-nil data", Entry{Data: []byte{}}, 8},
		{"one byte of data", Entry{Term: 1, Index: 1, Data: []byte{0}}, 9},
		{"two-byte varints", Entry{Term: 128, Index: 16383}, 8},
		{"three-byte varint", Entry{Index: 16384}, 8},
		{"max uint64", Entry{Term: math.MaxUint64, Index: math.MaxUint64}, 24},
		{"conf change type", Entry{Type: EntryConfChangeV2, Data: []byte("abc")}, 11},
		{"negative type", Entry{Type: -1}, 15},
		{"127 bytes of data", Entry{Data: make([]byte, 127)}, 6 + 1 + 1 + 127},
		{"128 bytes of data", Entry{Data: make([]byte, 128)}, 6 + 1 + 2 + 128},
		{"1 MiB of data", Entry{Index: 1 << 20, Data: make([]byte, 1<<20)}, 3 + 1 + 1 + 3 + 1 + 3 + 1<<20},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			assert.Equal(t, tc.size, want(tc.entry), "hand-computed size disagrees with the formula")
			assert.Equal(t, tc.size, tc.entry.Size())
			data, err := tc.entry.Marshal()
			require.NoError(t, err)
			assert.Len(t, data, tc.size)
		})
	}
}

// gen produces random values of every message type from a seeded source.
// Integers are drawn so that every varint length occurs; bytes and lists are
// sometimes nil and sometimes non-nil but empty.
type gen struct{ r *rand.Rand }

func (g gen) uint64() uint64 {
	switch g.r.Intn(6) {
	case 0:
		return 0
	case 1:
		return uint64(g.r.Intn(1 << 7))
	case 2:
		return uint64(g.r.Intn(1 << 14))
	case 3:
		return g.r.Uint64() >> g.r.Intn(64)
	case 4:
		return g.r.Uint64()
	default:
		return math.MaxUint64 - uint64(g.r.Intn(2))
	}
}

// enum returns a valid value of an enum with n values most of the time, and
// sometimes a value outside it (including negative ones, which encode as
// ten-byte varints).
func (g gen) enum(n int) int32 {
	switch g.r.Intn(10) {
	case 0:
		return int32(n + g.r.Intn(1000))
	case 1:
		return -1 - int32(g.r.Intn(1<<20))
	default:
		return int32(g.r.Intn(n))
	}
}

func (g gen) bytes() []byte {
	switch g.r.Intn(4) {
	case 0:
		return nil
	case 1:
		return []byte{}
	default:
		b := make([]byte, 1+g.r.Intn(40))
		g.r.Read(b)
		return b
	}
}

func (g gen) ids() []uint64 {
	switch g.r.Intn(4) {
	case 0:
		return nil
	case 1:
		return []uint64{}
	default:
		ids := make([]uint64, 1+g.r.Intn(6))
		for i := range ids {
			ids[i] = g.uint64()
		}
		return ids
	}
}

func (g gen) entry() Entry {
	return Entry{Term: g.uint64(), Index: g.uint64(), Type: EntryType(g.enum(3)), Data: g.bytes()}
}

func (g gen) confState() ConfState {
	return ConfState{
		Voters: g.ids(), Learners: g.ids(), VotersOutgoing: g.ids(), LearnersNext: g.ids(),
		AutoLeave: g.r.Intn(2) == 0,
	}
}

func (g gen) snapshotMetadata() SnapshotMetadata {
	return SnapshotMetadata{ConfState: g.confState(), Index: g.uint64(), Term: g.uint64()}
}

func (g gen) snapshot() Snapshot {
	return Snapshot{Data: g.bytes(), Metadata: g.snapshotMetadata()}
}

// message returns a random Message; responses nest up to depth levels.
func (g gen) message(depth int) Message {
	m := Message{
		Type: MessageType(g.enum(24)), To: g.uint64(), From: g.uint64(), Term: g.uint64(),
		LogTerm: g.uint64(), Index: g.uint64(), Commit: g.uint64(), Vote: g.uint64(),
		Reject: g.r.Intn(2) == 0, RejectHint: g.uint64(), Context: g.bytes(),
	}
	if n := g.r.Intn(5) - 1; n >= 0 {
		m.Entries = make([]Entry, n)
		for i := range m.Entries {
			m.Entries[i] = g.entry()
		}
	}
	if g.r.Intn(3) == 0 {
		s := g.snapshot()
		m.Snapshot = &s
	}
	if depth > 0 {
		if n := g.r.Intn(4) - 1; n >= 0 {
			m.Responses = make([]Message, n)
			for i := range m.Responses {
				m.Responses[i] = g.message(depth - 1)
			}
		}
	}
	return m
}

func (g gen) hardState() HardState {
	return HardState{Term: g.uint64(), Vote: g.uint64(), Commit: g.uint64()}
}

func (g gen) confChangeSingle() ConfChangeSingle {
	return ConfChangeSingle{Type: ConfChangeType(g.enum(4)), NodeID: g.uint64()}
}

func (g gen) confChange() ConfChange {
	return ConfChange{Type: ConfChangeType(g.enum(4)), NodeID: g.uint64(), Context: g.bytes(), ID: g.uint64()}
}

func (g gen) confChangeV2() ConfChangeV2 {
	cc := ConfChangeV2{Transition: ConfChangeTransition(g.enum(3)), Context: g.bytes()}
	if n := g.r.Intn(5) - 1; n >= 0 {
		cc.Changes = make([]ConfChangeSingle, n)
		for i := range cc.Changes {
			cc.Changes[i] = g.confChangeSingle()
		}
	}
	return cc
}

// The normalize functions map a value to what decoding its encoding yields:
// an empty repeated field writes nothing and so decodes as nil. Bytes fields
// keep their nil/empty distinction on the wire and are left alone.

func nilIfEmpty[T any](s []T) []T {
	if len(s) == 0 {
		return nil
	}
	return s
}

func normalizeConfState(cs *ConfState) {
	cs.Voters = nilIfEmpty(cs.Voters)
	cs.Learners = nilIfEmpty(cs.Learners)
	cs.VotersOutgoing = nilIfEmpty(cs.VotersOutgoing)
	cs.LearnersNext = nilIfEmpty(cs.LearnersNext)
}

func normalizeMessage(m *Message) {
	m.Entries = nilIfEmpty(m.Entries)
	if m.Snapshot != nil {
		normalizeConfState(&m.Snapshot.Metadata.ConfState)
	}
	m.Responses = nilIfEmpty(m.Responses)
	for i := range m.Responses {
		normalizeMessage(&m.Responses[i])
	}
}

func normalizeConfChangeV2(cc *ConfChangeV2) {
	cc.Changes = nilIfEmpty(cc.Changes)
}

// TestRoundTripRandom encodes and decodes thousands of random values of each
// message type: decoding must give back the (normalised) value, Size must
// predict the encoded length, and re-encoding must give the same bytes.
func TestRoundTripRandom(t *testing.T) {
	const iterations = 3000
	tests := []struct {
		name string
		next func(g gen) wireMessage
		// normalize rewrites a value, after it was encoded, into what
		// decoding must produce; nil if nothing changes.
		normalize func(wireMessage)
	}{
		{"Entry", func(g gen) wireMessage { v := g.entry(); return &v }, nil},
		{
			"SnapshotMetadata",
			func(g gen) wireMessage { v := g.snapshotMetadata(); return &v },
			func(v wireMessage) { normalizeConfState(&v.(*SnapshotMetadata).ConfState) },
		},
		{
			"Snapshot",
			func(g gen) wireMessage { v := g.snapshot(); return &v },
			func(v wireMessage) { normalizeConfState(&v.(*Snapshot).Metadata.ConfState) },
		},
		{
			"Message",
			func(g gen) wireMessage { v := g.message(2); return &v },
			func(v wireMessage) { normalizeMessage(v.(*Message)) },
		},
		{"HardState", func(g gen) wireMessage { v := g.hardState(); return &v }, nil},
		{
			"ConfState",
			func(g gen) wireMessage { v := g.confState(); return &v },
			func(v wireMessage) { normalizeConfState(v.(*ConfState)) },
		},
		{"ConfChange", func(g gen) wireMessage { v := g.confChange(); return &v }, nil},
		{"ConfChangeSingle", func(g gen) wireMessage { v := g.confChangeSingle(); return &v }, nil},
		{
			"ConfChangeV2",
			func(g gen) wireMessage { v := g.confChangeV2(); return &v },
			func(v wireMessage) { normalizeConfChangeV2(v.(*ConfChangeV2)) },
		},
	}
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			seed := int64(20250205 + i)
			g := gen{rand.New(rand.NewSource(seed))}
			for iter := 0; iter < iterations; iter++ {
				value := tc.next(g)
				data, err := value.Marshal()
				require.NoError(t, err, "seed %d iteration %d", seed, iter)
				require.Equal(t, value.Size(), len(data), "seed %d iteration %d: Size", seed, iter)

				if tc.normalize != nil {
					tc.normalize(value)
				}
				got := newLike(value)
				require.NoError(t, got.Unmarshal(data), "seed %d iteration %d: % x", seed, iter, data)
				require.Equal(t, value, got, "seed %d iteration %d: % x", seed, iter, data)

				again, err := got.Marshal()
				require.NoError(t, err)
				require.Equal(t, data, again, "seed %d iteration %d: re-encoding differs", seed, iter)
			}
		})
	}
}
