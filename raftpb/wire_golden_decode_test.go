package raftpb

// Golden decoding tests: encodings the v3.6 encoder never writes but a
// decoder must accept, and the nil/empty distinction of bytes fields.

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestGoldenDecode covers inputs the v3.6 encoder never produces but a
// decoder must accept: the minimal encoding of v3.7 peers, packed repeated
// integers, unknown fields, repeated and split fields.
func TestGoldenDecode(t *testing.T) {
	heartbeat := &Message{Type: MsgHeartbeat, To: 2, From: 1, Term: 5}
	tests := []struct {
		name string
		wire string
		want wireMessage
	}{
		{
			name: "Message/v3.7 minimal heartbeat",
			wire: `
				08 08 // field 1 (type) MsgHeartbeat
				10 02 // field 2 (to) 2
				18 01 // field 3 (from) 1
				20 05 // field 4 (term) 5; zero fields are absent`,
			want: heartbeat,
		},
		{
			name: "Message/v3.7 minimal MsgApp with minimal entry",
			wire: `
				08 03 // field 1 (type) MsgApp
				3a 04 // field 7 (entries[0]) length 4
				10 05 //   field 2 (Term) 5; Type absent
				18 0b //   field 3 (Index) 11`,
			want: &Message{Type: MsgApp, Entries: []Entry{{Term: 5, Index: 11}}},
		},
		{
			name: "Message/fields out of order",
			wire: `
				20 05 // field 4 (term) 5
				18 01 // field 3 (from) 1
				10 02 // field 2 (to) 2
				08 08 // field 1 (type) MsgHeartbeat`,
			want: heartbeat,
		},
		{
			name: "Message/unknown field skipped",
			wire: `
				08 08 10 02 // type MsgHeartbeat, to 2
				98 06 01    // field 99 varint 1: tag 99<<3 = 792 = 0x18 | 6<<7
				18 01 20 05 // from 1, term 5`,
			want: heartbeat,
		},
		{
			name: "Message/empty input is the zero Message",
			wire: ``,
			want: &Message{},
		},
		{
			name: "Message/split snapshot merges",
			wire: `
				4a 04 12 02 10 05 // field 9 (snapshot) {metadata {index 5}}
				4a 04 12 02 18 06 // field 9 (snapshot) {metadata {term 6}}, merged in`,
			want: &Message{Snapshot: &Snapshot{Metadata: SnapshotMetadata{Index: 5, Term: 6}}},
		},
		{
			name: "Message/zero-length context is non-nil",
			wire: `
				62 00 // field 12 (context) length 0`,
			want: &Message{Context: []byte{}},
		},
		{
			name: "Entry/unknown fields of every wire type skipped",
			wire: `
				08 00                      // field 1 (Type) 0
				10 01                      // field 2 (Term) 1
				78 2a                      // field 15 varint 42
				82 01 02 aa bb             // field 16 length-delimited, 2 bytes
				89 01 01 02 03 04 05 06 07 08 // field 17 fixed64
				95 01 01 02 03 04          // field 18 fixed32
				9b 01 08 01 9c 01          // field 19 group {field 1 varint 1}
				18 02                      // field 3 (Index) 2
				22 01 7a                   // field 4 (Data) "z"`,
			want: &Entry{Term: 1, Index: 2, Data: []byte("z")},
		},
		{
			name: "Entry/last scalar wins",
			wire: `
				10 01 // field 2 (Term) 1
				10 02 // field 2 (Term) 2 replaces it`,
			want: &Entry{Term: 2},
		},
		{
			name: "Entry/zero-length data is non-nil",
			wire: `
				22 00 // field 4 (Data) length 0`,
			want: &Entry{Data: []byte{}},
		},
		{
			name: "Snapshot/zero-length data is non-nil",
			wire: `
				0a 00 // field 1 (data) length 0`,
			want: &Snapshot{Data: []byte{}},
		},
		{
			name: "ConfState/packed ids",
			wire: `
				0a 03 01 02 03 // field 1 (voters) packed: 1, 2, 3
				12 03 ac 02 05 // field 2 (learners) packed: 300, 5
				1a 00          // field 3 (voters_outgoing) packed, empty
				20 06          // field 4 (learners_next) unpacked 6 ...
				22 01 07       // ... then packed 7, appended
				28 01          // field 5 (auto_leave) true`,
			want: &ConfState{
				Voters: []uint64{1, 2, 3}, Learners: []uint64{300, 5},
				LearnersNext: []uint64{6, 7}, AutoLeave: true,
			},
		},
		{
			name: "ConfState/mixed packed and unpacked keep order",
			wire: `
				08 03       // field 1 (voters) 3
				0a 02 01 02 // field 1 (voters) packed 1, 2
				08 09       // field 1 (voters) 9`,
			want: &ConfState{Voters: []uint64{3, 1, 2, 9}},
		},
		{
			name: "ConfChange/zero-length context is non-nil",
			wire: `
				22 00 // field 4 (context) length 0`,
			want: &ConfChange{Context: []byte{}},
		},
		{
			name: "ConfChangeV2/v3.7 minimal",
			wire: `
				12 02 // field 2 (changes[0]) length 2
				10 04 //   node_id 4; type absent = AddNode`,
			want: &ConfChangeV2{Changes: []ConfChangeSingle{{NodeID: 4}}},
		},
		{
			name: "ConfChangeV2/zero-length context is non-nil",
			wire: `
				1a 00 // field 3 (context) length 0`,
			want: &ConfChangeV2{Context: []byte{}},
		},
		{
			name: "SnapshotMetadata/unknown field in nested conf_state",
			wire: `
				0a 04       // field 1 (conf_state) length 4
				08 07       //   voters 7
				78 00       //   field 15 varint 0, unknown
				10 03       // field 2 (index) 3`,
			want: &SnapshotMetadata{ConfState: ConfState{Voters: []uint64{7}}, Index: 3},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := newLike(tc.want)
			require.NoError(t, got.Unmarshal(hexWire(tc.wire)))
			assert.Equal(t, tc.want, got)
		})
	}
}

// TestZeroLengthBytesDecodeNonNil checks the nil/empty distinction directly,
// since it decides whether a field is written again on re-encoding.
func TestZeroLengthBytesDecodeNonNil(t *testing.T) {
	var e Entry
	require.NoError(t, e.Unmarshal(hexWire("22 00")))
	assert.NotNil(t, e.Data)
	assert.Empty(t, e.Data)

	var absent Entry
	require.NoError(t, absent.Unmarshal(hexWire("08 00 10 00 18 00")))
	assert.Nil(t, absent.Data)

	var m Message
	require.NoError(t, m.Unmarshal(hexWire("62 00")))
	assert.NotNil(t, m.Context)
	assert.Empty(t, m.Context)
}
