package raft

// Tests of reading raftLog entries across storage and the unstable tail:
// entries, slice and scan, their size limits, bounds and aliasing.

import (
	"errors"
	"fmt"
	"math"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	pb "github.com/pontoon-raft/raft/raftpb"
)

func TestLogEntries(t *testing.T) {
	ents := entsWithData(4, 1, 4, 10)
	l := newTestLog(t, 3, 1, ents[:2], ents[2:])
	one := entsSize(ents[:1])
	for _, tt := range []struct {
		i, maxSize uint64
		want       []pb.Entry
		err        error
	}{
		{3, math.MaxUint64, nil, ErrCompacted},
		{4, math.MaxUint64, ents, nil},
		{5, math.MaxUint64, ents[1:], nil},
		{7, math.MaxUint64, ents[3:], nil},
		{8, math.MaxUint64, nil, nil},
		{9, math.MaxUint64, nil, nil},
		{4, 0, ents[:1], nil},
		{4, 3 * one, ents[:3], nil},
	} {
		got, err := l.entries(tt.i, tt.maxSize)
		assert.Equal(t, tt.err, err, "entries(%d, %d)", tt.i, tt.maxSize)
		assert.Equal(t, tt.want, got, "entries(%d, %d)", tt.i, tt.maxSize)
	}
}

func TestLogAllEntries(t *testing.T) {
	l := newTestLog(t, 3, 1, makeEnts(4, 1, 2), makeEnts(6, 2))
	assert.Equal(t, makeEnts(4, 1, 2, 2), l.allEntries())

	// Storage compacted between reading the first index and the entries:
	// the read is retried from the new first index.
	l, fs := newFaultyTestLog(t, 3, 1, makeEnts(4, 1, 2), makeEnts(6, 2))
	fs.entries = func(lo, hi, maxSize uint64) ([]pb.Entry, error) {
		fs.entries = nil
		require.NoError(t, fs.Compact(4))
		return nil, ErrCompacted
	}
	assert.Equal(t, makeEnts(5, 2, 2), l.allEntries())
	assert.Equal(t, 2, fs.entriesCalls)

	fs.entries = func(lo, hi, maxSize uint64) ([]pb.Entry, error) { return nil, errDisk }
	msg := panicMessage(func() { l.allEntries() })
	assert.True(t, strings.HasPrefix(msg, "raft: reading all entries: "), msg)
}

func TestLogSlice(t *testing.T) {
	// Snapshot at 3; entries 4..6 stored, 7..9 unstable; 18 bytes each.
	ents := entsWithData(4, 1, 6, 10)
	one := entsSize(ents[:1])
	at := func(lo, hi uint64) []pb.Entry { return ents[lo-4 : hi-4] }

	for _, tt := range []struct {
		name    string
		lo, hi  uint64
		maxSize uint64
		want    []pb.Entry
		err     error
	}{
		{name: "below first", lo: 3, hi: 5, maxSize: math.MaxUint64, err: ErrCompacted},
		{name: "empty", lo: 5, hi: 5, maxSize: math.MaxUint64},
		{name: "empty at the end", lo: 10, hi: 10, maxSize: math.MaxUint64},
		{name: "stored only", lo: 4, hi: 7, maxSize: math.MaxUint64, want: at(4, 7)},
		{name: "unstable only", lo: 7, hi: 10, maxSize: math.MaxUint64, want: at(7, 10)},
		{name: "across", lo: 5, hi: 9, maxSize: math.MaxUint64, want: at(5, 9)},
		{name: "everything", lo: 4, hi: 10, maxSize: math.MaxUint64, want: at(4, 10)},
		{name: "limit 0, stored", lo: 4, hi: 10, maxSize: 0, want: at(4, 5)},
		{name: "limit 0, unstable", lo: 8, hi: 10, maxSize: 0, want: at(8, 9)},
		{name: "limit cuts the stored part", lo: 4, hi: 10, maxSize: 2 * one, want: at(4, 6)},
		{name: "limit equals the stored part", lo: 5, hi: 10, maxSize: 2 * one, want: at(5, 7)},
		{name: "limit leaves less than one unstable entry", lo: 5, hi: 10, maxSize: 2*one + one/2, want: at(5, 7)},
		{name: "limit takes one unstable entry", lo: 5, hi: 10, maxSize: 3 * one, want: at(5, 8)},
		{name: "limit takes one and a half", lo: 5, hi: 10, maxSize: 3*one + one/2, want: at(5, 8)},
		{name: "limit takes all", lo: 5, hi: 10, maxSize: 5 * one, want: at(5, 10)},
		{name: "limit within unstable", lo: 7, hi: 10, maxSize: 2*one + 1, want: at(7, 9)},
		{name: "one stored then unstable limited", lo: 6, hi: 10, maxSize: 2 * one, want: at(6, 8)},
	} {
		t.Run(tt.name, func(t *testing.T) {
			l := newTestLog(t, 3, 1, ents[:3], ents[3:])
			got, err := l.slice(tt.lo, tt.hi, tt.maxSize)
			assert.Equal(t, tt.err, err)
			assert.Equal(t, tt.want, got)
			if tt.maxSize != math.MaxUint64 && len(got) > 1 {
				assert.LessOrEqual(t, entsSize(got), tt.maxSize)
			}
		})
	}

	for _, tt := range []struct {
		lo, hi uint64
		msg    string
	}{
		{6, 5, "raft: invalid log slice: lo 6 > hi 5"},
		{4, 11, "raft: log slice [4, 11) out of bounds [4, 9]"},
	} {
		l := newTestLog(t, 3, 1, ents[:3], ents[3:])
		assert.PanicsWithValue(t, tt.msg, func() { _, _ = l.slice(tt.lo, tt.hi, math.MaxUint64) })
	}
}

// The joined result of slice must not share memory that Storage or the
// unstable log will write, and writing into it must not reach them.
func TestLogSliceDoesNotAlias(t *testing.T) {
	l := newTestLog(t, 0, 0, makeEnts(1, 1, 1), makeEnts(3, 1, 1))
	got, err := l.slice(1, 5, math.MaxUint64)
	require.NoError(t, err)
	for i := range got {
		got[i].Term = 99
	}
	got = append(got, pb.Entry{Index: 5, Term: 99})
	_ = got
	assert.Equal(t, makeEnts(1, 1, 1, 1, 1), l.allEntries())
	l.append(makeEnts(5, 1)...)
	assert.Equal(t, makeEnts(1, 1, 1, 1, 1, 1), l.allEntries())

	// A Storage that hands out spare capacity (allowed: the caller owns it)
	// gets the unstable entries appended in place, and only there.
	l, fs := newFaultyTestLog(t, 0, 0, makeEnts(1, 1, 1), makeEnts(3, 1, 1))
	owned := make([]pb.Entry, 2, 10)
	fs.entries = func(lo, hi, maxSize uint64) ([]pb.Entry, error) {
		copy(owned, makeEnts(1, 1, 1))
		return owned, nil
	}
	got, err = l.slice(1, 5, math.MaxUint64)
	require.NoError(t, err)
	assert.Equal(t, makeEnts(1, 1, 1, 1, 1), got)
	assert.Same(t, &owned[0], &got[0])
	got[3].Term = 99
	assert.Equal(t, makeEnts(3, 1, 1), l.unstable.entries)
}

func TestLogSliceReadsStorageOnlyWhenNeeded(t *testing.T) {
	l, fs := newFaultyTestLog(t, 0, 0, makeEnts(1, 1, 1), makeEnts(3, 1, 1))
	_, err := l.slice(3, 5, math.MaxUint64)
	require.NoError(t, err)
	assert.Zero(t, fs.entriesCalls, "unstable-only range must not read Storage")

	// The stored part is cut by the limit: unstable is not consulted, which
	// shows as the result ending inside Storage.
	got, err := l.slice(1, 5, 0)
	require.NoError(t, err)
	assert.Equal(t, makeEnts(1, 1), got)
	assert.Equal(t, 1, fs.entriesCalls)

	for _, tt := range []struct {
		storageErr error
		check      func(t *testing.T, err error)
	}{
		{fmt.Errorf("raced: %w", ErrCompacted), func(t *testing.T, err error) {
			assert.Equal(t, ErrCompacted, err)
		}},
		{ErrUnavailable, func(t *testing.T, err error) {
			assert.ErrorIs(t, err, ErrUnavailable)
			assert.Contains(t, err.Error(), "[1, 3)")
		}},
		{errDisk, func(t *testing.T, err error) {
			assert.ErrorIs(t, err, errDisk)
			assert.Equal(t, "raft: reading entries [1, 3) from storage: disk on fire", err.Error())
		}},
	} {
		fs.entries = func(lo, hi, maxSize uint64) ([]pb.Entry, error) { return nil, tt.storageErr }
		_, err := l.slice(1, 5, math.MaxUint64)
		tt.check(t, err)
	}
}

func TestLogMustCheckOutOfBounds(t *testing.T) {
	// Snapshot at 3; entries 4..5 stored, 6 unstable.
	l := newTestLog(t, 3, 1, makeEnts(4, 1, 1), makeEnts(6, 1))
	for _, tt := range []struct {
		lo, hi uint64
		err    error
		panics string
	}{
		{lo: 4, hi: 4},
		{lo: 4, hi: 7},
		{lo: 7, hi: 7},
		{lo: 5, hi: 6},
		{lo: 3, hi: 5, err: ErrCompacted},
		{lo: 2, hi: 2, err: ErrCompacted},
		{lo: 4, hi: 8, panics: "raft: log slice [4, 8) out of bounds [4, 6]"},
		{lo: 8, hi: 8, panics: "raft: log slice [8, 8) out of bounds [4, 6]"},
		{lo: 5, hi: 4, panics: "raft: invalid log slice: lo 5 > hi 4"},
	} {
		t.Run(fmt.Sprintf("[%d,%d)", tt.lo, tt.hi), func(t *testing.T) {
			if tt.panics != "" {
				assert.PanicsWithValue(t, tt.panics, func() { _ = l.mustCheckOutOfBounds(tt.lo, tt.hi) })
				return
			}
			assert.Equal(t, tt.err, l.mustCheckOutOfBounds(tt.lo, tt.hi))
		})
	}
}

func TestLogScan(t *testing.T) {
	// Snapshot at 3; entries 4..8 stored, 9..13 unstable.
	ents := entsWithData(4, 1, 10, 10)
	one := entsSize(ents[:1])
	newScanLog := func(t *testing.T) (*raftLog, *faultyStorage) {
		return newFaultyTestLog(t, 3, 1, ents[:5], ents[5:])
	}

	for _, tt := range []struct {
		name     string
		lo, hi   uint64
		pageSize uint64
		want     []int // page lengths
	}{
		{"empty range", 5, 5, math.MaxUint64, nil},
		{"one page", 4, 14, math.MaxUint64, []int{10}},
		{"pages of one", 4, 9, 0, []int{1, 1, 1, 1, 1}},
		{"pages of two", 4, 14, 2*one + one/2, []int{2, 2, 2, 2, 2}},
		{"pages of three", 5, 14, 3 * one, []int{3, 3, 3}},
		{"page larger than entry", 6, 8, one / 2, []int{1, 1}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			l, _ := newScanLog(t)
			var pages []int
			var seen []pb.Entry
			err := l.scan(tt.lo, tt.hi, tt.pageSize, func(page []pb.Entry) error {
				pages = append(pages, len(page))
				if len(page) > 1 {
					assert.LessOrEqual(t, entsSize(page), tt.pageSize)
				}
				seen = append(seen, page...)
				return nil
			})
			require.NoError(t, err)
			assert.Equal(t, tt.want, pages)
			if tt.lo < tt.hi {
				assert.Equal(t, ents[tt.lo-4:tt.hi-4], seen)
			}
		})
	}

	t.Run("visitor error stops the scan", func(t *testing.T) {
		l, _ := newScanLog(t)
		stop := errors.New("stop")
		calls := 0
		err := l.scan(4, 14, one, func([]pb.Entry) error {
			calls++
			if calls == 3 {
				return stop
			}
			return nil
		})
		assert.Equal(t, stop, err)
		assert.Equal(t, 3, calls)
	})

	t.Run("read error", func(t *testing.T) {
		l, fs := newScanLog(t)
		fs.entries = func(lo, hi, maxSize uint64) ([]pb.Entry, error) { return nil, errDisk }
		err := l.scan(4, 14, one, func([]pb.Entry) error { return nil })
		assert.ErrorIs(t, err, errDisk)
		assert.Equal(t, ErrCompacted, l.scan(3, 14, one, func([]pb.Entry) error { return nil }))
	})

	t.Run("storage returning nothing", func(t *testing.T) {
		l, fs := newScanLog(t)
		fs.entries = func(lo, hi, maxSize uint64) ([]pb.Entry, error) { return nil, nil }
		err := l.scan(4, 14, one, func([]pb.Entry) error { return nil })
		assert.EqualError(t, err, "raft: scanning [4, 14): storage returned no entries")
	})
}
