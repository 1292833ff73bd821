package raft

import (
	"fmt"
	"math"
	"testing"

	pb "github.com/pontoon-raft/raft/raftpb"
)

// benchPayloadBytes is the payload size of every benchmark entry.
const benchPayloadBytes = 128

// benchResetEntries bounds how many entries a benchmark lets a log grow to
// before it starts over (outside the timer), so memory use does not depend
// on b.N. Real deployments compact; the cost of growth up to this size is
// still measured. It is not a power of two so that the reset does not
// coincide with the array growth it would otherwise make look expensive.
const benchResetEntries = 60000

// benchBatch returns n entries of term 1 starting at index first, sharing
// one payload (entries are never mutated, so sharing is allowed).
func benchBatch(first uint64, n int, payload []byte) []pb.Entry {
	ents := make([]pb.Entry, n)
	reindexBatch(ents, first, payload)
	return ents
}

// reindexBatch rewrites ents in place to start at index first.
func reindexBatch(ents []pb.Entry, first uint64, payload []byte) {
	for i := range ents {
		ents[i] = pb.Entry{Index: first + uint64(i), Term: 1, Data: payload}
	}
}

func BenchmarkMemoryStorageAppend(b *testing.B) {
	payload := make([]byte, benchPayloadBytes)
	for _, batch := range []int{1, 64} {
		b.Run(fmt.Sprintf("batch=%d", batch), func(b *testing.B) {
			ms := NewMemoryStorage()
			// The batch is rebuilt each time: Append copies, so the caller
			// may reuse its slice.
			ents := benchBatch(1, batch, payload)
			next := uint64(1)
			b.SetBytes(int64(batch * benchPayloadBytes))
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if next+uint64(batch) > benchResetEntries {
					b.StopTimer()
					ms, next = NewMemoryStorage(), 1
					b.StartTimer()
				}
				reindexBatch(ents, next, payload)
				if err := ms.Append(ents); err != nil {
					b.Fatal(err)
				}
				next += uint64(batch)
			}
		})
	}
}

// BenchmarkMemoryStorageAppendCompact appends one entry at a time and
// compacts the way etcd's server does: every 100 applied entries, down to
// the last 5,000, so the log holds 5,000-5,100 entries throughout.
func BenchmarkMemoryStorageAppendCompact(b *testing.B) {
	const keepEntries, compactEveryEntries = 5000, 100
	payload := make([]byte, benchPayloadBytes)
	ms := NewMemoryStorage()
	ents := benchBatch(1, 1, payload)
	next := uint64(1)
	for ; next <= keepEntries+compactEveryEntries; next++ {
		reindexBatch(ents, next, payload)
		if err := ms.Append(ents); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		reindexBatch(ents, next, payload)
		if err := ms.Append(ents); err != nil {
			b.Fatal(err)
		}
		if next%compactEveryEntries == 0 {
			if err := ms.Compact(next - keepEntries); err != nil {
				b.Fatal(err)
			}
		}
		next++
	}
}

func BenchmarkMemoryStorageEntries(b *testing.B) {
	const stored = 10000
	const readEntries = 64
	payload := make([]byte, benchPayloadBytes)
	ms := NewMemoryStorage()
	if err := ms.Append(benchBatch(1, stored, payload)); err != nil {
		b.Fatal(err)
	}
	for _, tt := range []struct {
		name    string
		maxSize uint64
	}{
		{"unlimited", math.MaxUint64},
		{"max=4KiB", 4 << 10}, // about 30 of the 64 entries
		{"max=0", 0},
	} {
		b.Run(tt.name, func(b *testing.B) {
			b.ReportAllocs()
			lo := uint64(1)
			for i := 0; i < b.N; i++ {
				ents, err := ms.Entries(lo, lo+readEntries, tt.maxSize)
				if err != nil || len(ents) == 0 {
					b.Fatal(err)
				}
				lo += readEntries
				if lo+readEntries > stored {
					lo = 1
				}
			}
		})
	}
}

// BenchmarkRaftLogAppendSlice measures one cycle of the log's hot path:
// append a batch to the unstable log, read it back (as for a MsgApp), then
// persist it and mark it stable as the application would. "across" reads a
// range that starts in Storage and ends in the new batch, which has to join
// the two parts.
func BenchmarkRaftLogAppendSlice(b *testing.B) {
	const batch = 64
	payload := make([]byte, benchPayloadBytes)
	for _, across := range []bool{false, true} {
		name := "unstable"
		if across {
			name = "across"
		}
		b.Run(name, func(b *testing.B) {
			var (
				ms *MemoryStorage
				l  *raftLog
			)
			reset := func() {
				ms = NewMemoryStorage()
				var err error
				if l, err = newLog(ms); err != nil {
					b.Fatal(err)
				}
			}
			reset()
			ents := benchBatch(1, batch, payload)
			b.SetBytes(batch * benchPayloadBytes)
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if l.lastIndex()+batch > benchResetEntries {
					b.StopTimer()
					reset()
					b.StartTimer()
				}
				first := l.lastIndex() + 1
				reindexBatch(ents, first, payload)
				last := l.append(ents...)

				lo := first
				if across && first > batch/2 {
					lo = first - batch/2
				}
				got, err := l.slice(lo, last+1, math.MaxUint64)
				if err != nil || uint64(len(got)) != last+1-lo {
					b.Fatalf("slice(%d, %d): %d entries, %v", lo, last+1, len(got), err)
				}

				if err := ms.Append(l.nextUnstableEnts()); err != nil {
					b.Fatal(err)
				}
				l.acceptUnstable()
				l.stableTo(last, 1)
			}
		})
	}
}
