package raftpb

import (
	"encoding/hex"
	"math/bits"
	"strings"
)

// wireMessage is the generated method set every raftpb message has and the
// wire tests rely on.
type wireMessage interface {
	Marshal() ([]byte, error)
	Unmarshal([]byte) error
	Size() int
}

// Every message type in raft.proto; a new one must be added to the golden,
// round-trip and fuzz tests.
var (
	_ wireMessage = (*Entry)(nil)
	_ wireMessage = (*SnapshotMetadata)(nil)
	_ wireMessage = (*Snapshot)(nil)
	_ wireMessage = (*Message)(nil)
	_ wireMessage = (*HardState)(nil)
	_ wireMessage = (*ConfState)(nil)
	_ wireMessage = (*ConfChange)(nil)
	_ wireMessage = (*ConfChangeSingle)(nil)
	_ wireMessage = (*ConfChangeV2)(nil)
)

// hexWire turns an annotated hex listing into bytes. Each line holds hex
// byte pairs separated by spaces; anything after "//" is a comment. A
// malformed listing is a bug in the test itself, so it panics.
func hexWire(listing string) []byte {
	var digits strings.Builder
	for _, line := range strings.Split(listing, "\n") {
		if i := strings.Index(line, "//"); i >= 0 {
			line = line[:i]
		}
		for _, f := range strings.Fields(line) {
			if len(f) != 2 {
				panic("hexWire: want byte pairs separated by spaces, got " + f)
			}
			digits.WriteString(f)
		}
	}
	b, err := hex.DecodeString(digits.String())
	if err != nil {
		panic("hexWire: " + err.Error())
	}
	return b
}

// sov is the length in bytes of the base-128 varint encoding of x,
// computed independently of the generated sovRaft.
func sov(x uint64) int {
	if x == 0 {
		return 1
	}
	return (bits.Len64(x) + 6) / 7
}
