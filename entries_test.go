package raft

import (
	"fmt"
	"math"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	pb "github.com/pontoon-raft/raft/raftpb"
)

// Helpers shared by the log and storage tests.

// entsWithData returns n consecutive entries of term term starting at
// index first, each carrying dataBytes bytes of payload.
func entsWithData(first, term uint64, n, dataBytes int) []pb.Entry {
	ents := make([]pb.Entry, n)
	for i := range ents {
		ents[i] = pb.Entry{Index: first + uint64(i), Term: term, Data: make([]byte, dataBytes)}
	}
	return ents
}

// panicMessage runs f and returns the string it panicked with, or "" if it
// did not panic.
func panicMessage(f func()) (msg string) {
	defer func() {
		if r := recover(); r != nil {
			msg = fmt.Sprint(r)
		}
	}()
	f()
	return ""
}

func TestEntriesEntsSize(t *testing.T) {
	ents := []pb.Entry{
		{Index: 1, Term: 1},                      // 6 bytes: three 1-byte varints with tags
		{Index: 300, Term: 1},                    // index needs two varint bytes: 7
		{Index: 2, Term: 1, Data: []byte("abc")}, // 6 + tag + length + 3 = 11
		{Index: 3, Term: 1, Data: []byte{}},      // non-nil empty Data is still encoded: 8
	}
	for i, want := range []uint64{6, 7, 11, 8} {
		assert.Equal(t, want, entsSize(ents[i:i+1]), "entry %d", i)
	}
	assert.Equal(t, uint64(32), entsSize(ents))
	assert.Zero(t, entsSize(nil))
}

func TestEntriesLimitSize(t *testing.T) {
	ents := entsWithData(1, 1, 4, 10) // 18 bytes each
	one := entsSize(ents[:1])
	require.Equal(t, uint64(18), one)

	for _, tt := range []struct {
		name    string
		maxSize uint64
		want    int
	}{
		{"no limit", math.MaxUint64, 4},
		{"zero keeps one", 0, 1},
		{"below one entry keeps one", one - 1, 1},
		{"exactly one", one, 1},
		{"one and a bit", one + 1, 1},
		{"exactly two", 2 * one, 2},
		{"just under three", 3*one - 1, 2},
		{"exactly all", 4 * one, 4},
		{"more than all", 100 * one, 4},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got := limitSize(ents, tt.maxSize)
			assert.Equal(t, ents[:tt.want], got)
		})
	}
	assert.Empty(t, limitSize(nil, 0))
	assert.Empty(t, limitSize([]pb.Entry{}, 10))
}

func TestEntriesPayloadSize(t *testing.T) {
	ents := []pb.Entry{{Data: []byte("hello")}, {}, {Data: make([]byte, 1000)}}
	assert.Equal(t, uint64(5), payloadSize(ents[0]))
	assert.Zero(t, payloadSize(ents[1]))
	assert.Equal(t, uint64(1005), payloadsSize(ents))
	assert.Zero(t, payloadsSize(nil))
}

func TestEntriesExtend(t *testing.T) {
	t.Run("fits in spare capacity", func(t *testing.T) {
		dst := make([]pb.Entry, 2, 5)
		copy(dst, makeEnts(1, 1, 1))
		vals := makeEnts(3, 2, 2)
		got := extend(dst, vals)
		assert.Equal(t, makeEnts(1, 1, 1, 2, 2), got)
		assert.Same(t, &dst[0], &got[0], "should append in place")
	})
	t.Run("no spare capacity", func(t *testing.T) {
		dst := makeEnts(1, 1, 1)
		dst = dst[:2:2]
		vals := makeEnts(3, 2, 2, 2)
		got := extend(dst, vals)
		assert.Equal(t, makeEnts(1, 1, 1, 2, 2, 2), got)
		assert.Equal(t, 5, cap(got), "allocates exactly what is needed")
		assert.NotSame(t, &dst[0], &got[0])
		assert.NotSame(t, &vals[0], &got[2])
		// Writing into the result must not show through either input.
		got[0].Term, got[2].Term = 9, 9
		assert.Equal(t, uint64(1), dst[0].Term)
		assert.Equal(t, uint64(2), vals[0].Term)
	})
	t.Run("some but not enough capacity", func(t *testing.T) {
		dst := make([]pb.Entry, 1, 2)
		got := extend(dst, makeEnts(2, 1, 1))
		assert.Len(t, got, 3)
		assert.Equal(t, 3, cap(got))
		assert.NotSame(t, &dst[0], &got[0])
	})
	t.Run("empty inputs", func(t *testing.T) {
		assert.Empty(t, extend(nil, nil))
		assert.Equal(t, makeEnts(1, 1), extend(nil, makeEnts(1, 1)))
	})
}
