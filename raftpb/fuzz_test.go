package raftpb

import (
	"testing"

	"github.com/stretchr/testify/require"
)

// The fuzz targets decode arbitrary bytes. Most inputs are rejected, which is
// fine as long as nothing panics. For an accepted input, the decoded value is
// the reference: re-encoding it must succeed with the size Size predicts, and
// decoding that must give an equal value. The bytes themselves are not
// compared with the input, since decoding drops unknown fields, keeps only
// the last of a repeated scalar, merges split nested messages and accepts
// packed integers and over-long varints, none of which re-encoding
// reproduces. Re-encoding the second value must however give exactly the
// same bytes again: the encoding of a decoded value is canonical.

// checkReencode runs the property above for one message type.
func checkReencode[T any, P interface {
	*T
	wireMessage
}](t *testing.T, data []byte) {
	first := P(new(T))
	if err := first.Unmarshal(data); err != nil {
		return
	}
	encoded, err := first.Marshal()
	require.NoError(t, err)
	require.Equal(t, first.Size(), len(encoded), "Size disagrees with Marshal")

	second := P(new(T))
	require.NoError(t, second.Unmarshal(encoded), "re-decoding % x", encoded)
	require.Equal(t, first, second, "re-encoded as % x", encoded)

	again, err := second.Marshal()
	require.NoError(t, err)
	require.Equal(t, encoded, again, "encoding of a decoded value is not stable")
}

// addGoldenSeeds seeds f with the golden encodings of values of type T,
// plus a few inputs every decoder must cope with.
func addGoldenSeeds[T any, P interface {
	*T
	wireMessage
}](f *testing.F) {
	for _, tc := range goldenCases() {
		if _, ok := tc.value.(P); ok {
			f.Add(hexWire(tc.wire))
		}
	}
	f.Add([]byte{})
	f.Add(hexWire("78 2a 7a 01 00 7b 7c")) // unknown varint, bytes and group fields
	f.Add(hexWire("08 ff ff ff ff ff ff ff ff ff 01"))
}

func FuzzUnmarshalMessage(f *testing.F) {
	addGoldenSeeds[Message](f)
	f.Add(hexWire("08 08 10 02 18 01 20 05"))                   // v3.7 minimal heartbeat
	f.Add(hexWire("4a 04 12 02 10 05 4a 04 12 02 18 06"))       // split snapshot
	f.Add(hexWire("72 06 72 04 72 02 72 00"))                   // nested responses
	f.Add(hexWire("4a 0a 12 08 0a 06 0a 02 01 02 18 03 62 00")) // packed voters in a snapshot
	f.Fuzz(func(t *testing.T, data []byte) {
		checkReencode[Message](t, data)
	})
}

func FuzzUnmarshalEntry(f *testing.F) {
	addGoldenSeeds[Entry](f)
	f.Add(hexWire("10 01 10 02 22 00 22 01 61")) // repeated scalar and bytes fields
	f.Fuzz(func(t *testing.T, data []byte) {
		checkReencode[Entry](t, data)
	})
}

func FuzzUnmarshalSnapshot(f *testing.F) {
	addGoldenSeeds[Snapshot](f)
	f.Add(hexWire("0a 00 12 06 0a 04 0a 02 05 06"))
	f.Fuzz(func(t *testing.T, data []byte) {
		checkReencode[Snapshot](t, data)
	})
}

func FuzzUnmarshalConfChangeV2(f *testing.F) {
	addGoldenSeeds[ConfChangeV2](f)
	f.Add(hexWire("08 03 12 00 12 02 10 04 1a 00"))
	f.Fuzz(func(t *testing.T, data []byte) {
		checkReencode[ConfChangeV2](t, data)
	})
}

func FuzzUnmarshalConfChange(f *testing.F) {
	addGoldenSeeds[ConfChange](f)
	f.Fuzz(func(t *testing.T, data []byte) {
		checkReencode[ConfChange](t, data)
	})
}

func FuzzUnmarshalConfState(f *testing.F) {
	addGoldenSeeds[ConfState](f)
	f.Add(hexWire("0a 03 01 02 03 12 03 ac 02 05 1a 00 20 06 22 01 07 28 01"))
	f.Fuzz(func(t *testing.T, data []byte) {
		checkReencode[ConfState](t, data)
	})
}
