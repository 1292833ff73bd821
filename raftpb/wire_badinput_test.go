package raftpb

import (
	"io"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestUnmarshalTruncatedMessage cuts a Message encoding at every length. A
// cut at a top-level field boundary is itself a valid, shorter Message; a
// cut anywhere else must fail with io.ErrUnexpectedEOF, never panic.
func TestUnmarshalTruncatedMessage(t *testing.T) {
	// One top-level field per element, so the boundaries are known.
	fields := []string{
		"08 13",                            // type MsgStorageAppend
		"10 ff ff ff ff ff ff ff ff ff 01", // to MaxUint64
		"18 01",                            // from 1
		"20 83 01",                         // term 131
		"3a 09 08 00 10 03 18 04 22 01 78", // entries[0]
		"40 02",                            // commit 2
		"4a 0e 0a 02 73 73 12 08 0a 02 28 01 10 07 18 08", // snapshot
		"50 01",                         // reject true
		"62 03 63 74 78",                // context "ctx"
		"68 01",                         // vote 1
		"72 08 08 04 10 02 3a 02 10 03", // responses[0] with an entry
	}
	var full []byte
	boundary := map[int]bool{0: true}
	for _, f := range fields {
		full = append(full, hexWire(f)...)
		boundary[len(full)] = true
	}
	var complete Message
	require.NoError(t, complete.Unmarshal(full))
	require.Len(t, complete.Responses, 1)
	require.NotNil(t, complete.Snapshot)

	for n := 0; n < len(full); n++ {
		prefix := append([]byte(nil), full[:n]...)
		var m Message
		var err error
		require.NotPanics(t, func() { err = m.Unmarshal(prefix) }, "prefix of %d bytes", n)
		if boundary[n] {
			assert.NoError(t, err, "prefix of %d bytes ends at a field boundary", n)
		} else {
			assert.ErrorIs(t, err, io.ErrUnexpectedEOF, "prefix of %d bytes: % x", n, prefix)
		}
	}
}

// TestUnmarshalGoldenPrefixesNeverPanic decodes every prefix of every golden
// encoding; whether a prefix is valid depends on where it is cut, so only
// the absence of panics is checked.
func TestUnmarshalGoldenPrefixesNeverPanic(t *testing.T) {
	for _, tc := range goldenCases() {
		wire := hexWire(tc.wire)
		for n := 0; n < len(wire); n++ {
			m := newLike(tc.value)
			require.NotPanics(t, func() { _ = m.Unmarshal(wire[:n]) }, "%s: prefix of %d bytes", tc.name, n)
		}
	}
}

func TestUnmarshalBadInput(t *testing.T) {
	tests := []struct {
		name    string
		target  func() wireMessage
		wire    string
		wantIs  error  // if set, errors.Is must hold
		wantMsg string // if set, the error text must contain it
	}{
		// Truncation inside a field.
		{name: "Entry/tag without value", target: newEntry, wire: "10", wantIs: io.ErrUnexpectedEOF},
		{name: "Entry/unterminated varint", target: newEntry, wire: "10 80", wantIs: io.ErrUnexpectedEOF},
		{name: "Entry/unterminated tag", target: newEntry, wire: "80", wantIs: io.ErrUnexpectedEOF},
		{name: "Entry/unknown fixed64 truncated", target: newEntry, wire: "79 01 02", wantIs: io.ErrUnexpectedEOF},
		{name: "Entry/unknown fixed32 truncated", target: newEntry, wire: "7d 01", wantIs: io.ErrUnexpectedEOF},
		{name: "Entry/unknown group never closed", target: newEntry, wire: "7b 08 01", wantIs: io.ErrUnexpectedEOF},
		{name: "ConfChangeSingle/tag without value", target: newConfChangeSingle, wire: "08", wantIs: io.ErrUnexpectedEOF},

		// Length prefixes that point past the end of the buffer.
		{name: "Entry/data longer than buffer", target: newEntry, wire: "22 05 61", wantIs: io.ErrUnexpectedEOF},
		{name: "Entry/unknown bytes longer than buffer", target: newEntry, wire: "7a 05 00", wantIs: io.ErrUnexpectedEOF},
		{name: "Message/entries longer than buffer", target: newMessage, wire: "3a 10 08 00", wantIs: io.ErrUnexpectedEOF},
		{name: "Message/snapshot longer than buffer", target: newMessage, wire: "4a 7f", wantIs: io.ErrUnexpectedEOF},
		{name: "Message/nested conf_state longer than its parent", target: newMessage, wire: "4a 04 12 02 0a 05", wantIs: io.ErrUnexpectedEOF},
		{name: "Message/context longer than buffer", target: newMessage, wire: "62 02 01", wantIs: io.ErrUnexpectedEOF},
		{name: "ConfState/packed longer than buffer", target: newConfState, wire: "0a 05 01", wantIs: io.ErrUnexpectedEOF},
		{name: "ConfState/packed varint runs off the end", target: newConfState, wire: "0a 01 80", wantIs: io.ErrUnexpectedEOF},
		{name: "ConfChange/context longer than buffer", target: newConfChange, wire: "22 04 61", wantIs: io.ErrUnexpectedEOF},
		{name: "ConfChangeV2/changes longer than buffer", target: newConfChangeV2, wire: "12 04 08 00", wantIs: io.ErrUnexpectedEOF},
		{name: "Snapshot/data longer than buffer", target: newSnapshot, wire: "0a 03 00", wantIs: io.ErrUnexpectedEOF},

		// Length prefixes that are negative or overflow the index.
		{
			name: "Entry/data length negative", target: newEntry,
			wire:   "22 ff ff ff ff ff ff ff ff ff 01", // 2^64-1 as int is -1
			wantIs: ErrInvalidLengthRaft,
		},
		{
			name: "Entry/data length overflows the offset", target: newEntry,
			wire:   "10 01 22 fe ff ff ff ff ff ff ff 7f", // 2^63-2, plus the offset wraps
			wantIs: ErrInvalidLengthRaft,
		},
		{
			name: "Message/context length negative", target: newMessage,
			wire:   "62 ff ff ff ff ff ff ff ff ff 01",
			wantIs: ErrInvalidLengthRaft,
		},
		{
			name: "Message/entries length negative", target: newMessage,
			wire:   "3a ff ff ff ff ff ff ff ff ff 01",
			wantIs: ErrInvalidLengthRaft,
		},
		{
			name: "ConfState/packed length negative", target: newConfState,
			wire:   "0a ff ff ff ff ff ff ff ff ff 01",
			wantIs: ErrInvalidLengthRaft,
		},
		{
			name: "Entry/unknown bytes length negative", target: newEntry,
			wire:   "7a ff ff ff ff ff ff ff ff ff 01",
			wantIs: ErrInvalidLengthRaft,
		},

		// Known fields with the wrong wire type.
		{name: "Entry/Type as bytes", target: newEntry, wire: "0a 00", wantMsg: "wrong wireType = 2 for field Type"},
		{name: "Entry/Data as varint", target: newEntry, wire: "20 01", wantMsg: "wrong wireType = 0 for field Data"},
		{name: "Entry/Term as fixed64", target: newEntry, wire: "11 00 00 00 00 00 00 00 00", wantMsg: "wrong wireType = 1 for field Term"},
		{name: "Message/term as bytes", target: newMessage, wire: "22 01 00", wantMsg: "wrong wireType = 2 for field Term"},
		{name: "Message/entries as varint", target: newMessage, wire: "38 01", wantMsg: "wrong wireType = 0 for field Entries"},
		{name: "Message/snapshot as varint", target: newMessage, wire: "48 01", wantMsg: "wrong wireType = 0 for field Snapshot"},
		{name: "Message/responses as fixed32", target: newMessage, wire: "75 00 00 00 00", wantMsg: "wrong wireType = 5 for field Responses"},
		{name: "ConfState/voters as fixed64", target: newConfState, wire: "09 00 00 00 00 00 00 00 00", wantMsg: "wrong wireType = 1 for field Voters"},
		{name: "SnapshotMetadata/conf_state as varint", target: newSnapshotMetadata, wire: "08 00", wantMsg: "wrong wireType = 0 for field ConfState"},
		{name: "Snapshot/metadata as varint", target: newSnapshot, wire: "10 00", wantMsg: "wrong wireType = 0 for field Metadata"},
		{name: "HardState/commit as bytes", target: newHardState, wire: "1a 00", wantMsg: "wrong wireType = 2 for field Commit"},
		{name: "ConfChange/id as bytes", target: newConfChange, wire: "0a 00", wantMsg: "wrong wireType = 2 for field ID"},
		{name: "ConfChangeV2/changes as varint", target: newConfChangeV2, wire: "10 01", wantMsg: "wrong wireType = 0 for field Changes"},

		// Malformed tags and wire types.
		{name: "Entry/field number 0", target: newEntry, wire: "00 00", wantMsg: "illegal tag 0"},
		{name: "Entry/end group at top level", target: newEntry, wire: "0c", wantMsg: "end group for non-group"},
		{name: "Message/end group at top level", target: newMessage, wire: "7c", wantMsg: "end group for non-group"},
		{name: "Entry/unknown field wire type 6", target: newEntry, wire: "7e", wantMsg: "illegal wireType 6"},
		{name: "Entry/unknown field wire type 7", target: newEntry, wire: "7f", wantMsg: "illegal wireType 7"},

		// Varints longer than ten bytes.
		{name: "Entry/Term varint overflows", target: newEntry, wire: "10 ff ff ff ff ff ff ff ff ff ff 01", wantIs: ErrIntOverflowRaft},
		{name: "Entry/tag varint overflows", target: newEntry, wire: "ff ff ff ff ff ff ff ff ff ff 01", wantIs: ErrIntOverflowRaft},
		{name: "Entry/data length varint overflows", target: newEntry, wire: "22 80 80 80 80 80 80 80 80 80 80 01", wantIs: ErrIntOverflowRaft},
		{name: "Entry/unknown varint overflows", target: newEntry, wire: "78 ff ff ff ff ff ff ff ff ff ff 01", wantIs: ErrIntOverflowRaft},
		{name: "Message/reject varint overflows", target: newMessage, wire: "50 ff ff ff ff ff ff ff ff ff ff 01", wantIs: ErrIntOverflowRaft},
		{name: "Message/nested entry varint overflows", target: newMessage, wire: "3a 0c 10 ff ff ff ff ff ff ff ff ff ff 01", wantIs: ErrIntOverflowRaft},
		{name: "ConfState/packed element overflows", target: newConfState, wire: "0a 0b ff ff ff ff ff ff ff ff ff ff 01", wantIs: ErrIntOverflowRaft},
		{name: "HardState/vote varint overflows", target: newHardState, wire: "10 80 80 80 80 80 80 80 80 80 80 00", wantIs: ErrIntOverflowRaft},
		{name: "ConfChangeV2/transition varint overflows", target: newConfChangeV2, wire: "08 ff ff ff ff ff ff ff ff ff ff 01", wantIs: ErrIntOverflowRaft},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m := tc.target()
			var err error
			require.NotPanics(t, func() { err = m.Unmarshal(hexWire(tc.wire)) })
			require.Error(t, err)
			if tc.wantIs != nil {
				assert.ErrorIs(t, err, tc.wantIs)
			}
			if tc.wantMsg != "" {
				assert.True(t, strings.Contains(err.Error(), tc.wantMsg), "error %q does not contain %q", err, tc.wantMsg)
			}
		})
	}
}

func newEntry() wireMessage            { return &Entry{} }
func newSnapshotMetadata() wireMessage { return &SnapshotMetadata{} }
func newSnapshot() wireMessage         { return &Snapshot{} }
func newMessage() wireMessage          { return &Message{} }
func newHardState() wireMessage        { return &HardState{} }
func newConfState() wireMessage        { return &ConfState{} }
func newConfChange() wireMessage       { return &ConfChange{} }
func newConfChangeSingle() wireMessage { return &ConfChangeSingle{} }
func newConfChangeV2() wireMessage     { return &ConfChangeV2{} }
