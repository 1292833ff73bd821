package wal

import (
	"encoding/binary"
	"hash/crc32"
	"testing"

	pb "github.com/pontoon-raft/raft/raftpb"
	"github.com/stretchr/testify/assert"
)

func TestCRCUint64sMatchesCRC32(t *testing.T) {
	for _, vs := range [][]uint64{{0}, {1, 2, 3}, {^uint64(0), 0x0123456789abcdef}} {
		var b []byte
		for _, v := range vs {
			b = binary.LittleEndian.AppendUint64(b, v)
		}
		assert.Equal(t, crc32.Checksum(b, castagnoli), crcUint64s(vs...))
	}
}

func TestEntryPBSizeMatchesProto(t *testing.T) {
	for _, e := range []pb.Entry{
		{},
		{Term: 1, Index: 1},
		{Term: 300, Index: 1 << 40, Type: pb.EntryConfChangeV2, Data: []byte{}},
		{Term: 5, Index: 200, Type: pb.EntryConfChange, Data: make([]byte, 1000)},
	} {
		assert.Equal(t, uint32(e.Size()), entryPBSize(e.Term, e.Index, e.Type, len(e.Data), e.Data != nil))
	}
}
