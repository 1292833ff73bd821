package raft

import (
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	pb "github.com/pontoon-raft/raft/raftpb"
)

// snapAt returns a snapshot at (index, term).
func snapAt(index, term uint64) *pb.Snapshot {
	return &pb.Snapshot{Metadata: pb.SnapshotMetadata{Index: index, Term: term}}
}

// newUnstable returns an unstable with the given parts and nothing in progress.
func newUnstable(snap *pb.Snapshot, offset uint64, ents []pb.Entry) unstable {
	return unstable{snapshot: snap, entries: ents, offset: offset, offsetInProgress: offset}
}

func TestUnstableMaybeFirstIndex(t *testing.T) {
	for _, tt := range []struct {
		name string
		u    unstable
		want uint64
		ok   bool
	}{
		{"entries only", newUnstable(nil, 5, makeEnts(5, 1)), 0, false},
		{"empty", newUnstable(nil, 0, nil), 0, false},
		{"snapshot and entries", newUnstable(snapAt(4, 1), 5, makeEnts(5, 1)), 5, true},
		{"snapshot only", newUnstable(snapAt(4, 1), 5, nil), 5, true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := tt.u.maybeFirstIndex()
			assert.Equal(t, tt.ok, ok)
			assert.Equal(t, tt.want, got)
		})
	}
}

func TestUnstableMaybeLastIndex(t *testing.T) {
	for _, tt := range []struct {
		name string
		u    unstable
		want uint64
		ok   bool
	}{
		{"entries only", newUnstable(nil, 5, makeEnts(5, 1, 1)), 6, true},
		{"snapshot and entries", newUnstable(snapAt(4, 1), 5, makeEnts(5, 1)), 5, true},
		{"snapshot only", newUnstable(snapAt(4, 1), 5, nil), 4, true},
		{"empty", newUnstable(nil, 0, nil), 0, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := tt.u.maybeLastIndex()
			assert.Equal(t, tt.ok, ok)
			assert.Equal(t, tt.want, got)
		})
	}
}

func TestUnstableMaybeTerm(t *testing.T) {
	for _, tt := range []struct {
		name  string
		u     unstable
		index uint64
		want  uint64
		ok    bool
	}{
		{"entry", newUnstable(nil, 5, makeEnts(5, 1)), 5, 1, true},
		{"beyond entries", newUnstable(nil, 5, makeEnts(5, 1)), 6, 0, false},
		{"below entries", newUnstable(nil, 5, makeEnts(5, 1)), 4, 0, false},
		{"entry after snapshot", newUnstable(snapAt(4, 1), 5, makeEnts(5, 2)), 5, 2, true},
		{"snapshot index", newUnstable(snapAt(4, 1), 5, makeEnts(5, 2)), 4, 1, true},
		{"below snapshot", newUnstable(snapAt(4, 1), 5, makeEnts(5, 2)), 3, 0, false},
		{"beyond snapshot and entries", newUnstable(snapAt(4, 1), 5, makeEnts(5, 2)), 6, 0, false},
		{"snapshot only, its index", newUnstable(snapAt(4, 1), 5, nil), 4, 1, true},
		{"snapshot only, above", newUnstable(snapAt(4, 1), 5, nil), 5, 0, false},
		{"empty", newUnstable(nil, 0, nil), 0, 0, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := tt.u.maybeTerm(tt.index)
			assert.Equal(t, tt.ok, ok)
			assert.Equal(t, tt.want, got)
		})
	}
}

func TestUnstableNextEntries(t *testing.T) {
	for _, tt := range []struct {
		name             string
		offsetInProgress uint64
		want             []pb.Entry
	}{
		{"nothing in progress", 5, makeEnts(5, 1, 1)},
		{"first in progress", 6, makeEnts(6, 1)},
		{"all in progress", 7, nil},
	} {
		t.Run(tt.name, func(t *testing.T) {
			u := newUnstable(nil, 5, makeEnts(5, 1, 1))
			u.offsetInProgress = tt.offsetInProgress
			got := u.nextEntries()
			assert.Equal(t, tt.want, got)
			assert.Equal(t, len(got), cap(got), "handed-out entries must not expose spare capacity")
		})
	}
	empty := newUnstable(nil, 5, nil)
	assert.Nil(t, empty.nextEntries())
}

func TestUnstableNextSnapshot(t *testing.T) {
	snap := snapAt(4, 1)
	for _, tt := range []struct {
		name       string
		snap       *pb.Snapshot
		inProgress bool
		want       *pb.Snapshot
	}{
		{"none", nil, false, nil},
		{"pending", snap, false, snap},
		{"in progress", snap, true, nil},
	} {
		t.Run(tt.name, func(t *testing.T) {
			u := newUnstable(tt.snap, 5, nil)
			u.snapshotInProgress = tt.inProgress
			assert.Equal(t, tt.want, u.nextSnapshot())
		})
	}
}

func TestUnstableAcceptInProgress(t *testing.T) {
	for _, tt := range []struct {
		name             string
		u                unstable
		wantOffsetInProg uint64
		wantSnapInProg   bool
	}{
		{"empty", newUnstable(nil, 5, nil), 5, false},
		{"entries", newUnstable(nil, 5, makeEnts(5, 1, 1)), 7, false},
		{"snapshot", newUnstable(snapAt(4, 1), 5, nil), 5, true},
		{"snapshot and entries", newUnstable(snapAt(4, 1), 5, makeEnts(5, 1, 1)), 7, true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			u := tt.u
			u.acceptInProgress()
			assert.Equal(t, tt.wantOffsetInProg, u.offsetInProgress)
			assert.Equal(t, tt.wantSnapInProg, u.snapshotInProgress)
			assert.Nil(t, u.nextEntries())
			assert.Nil(t, u.nextSnapshot())

			u.acceptInProgress() // idempotent
			assert.Equal(t, tt.wantOffsetInProg, u.offsetInProgress)
		})
	}
}

func TestUnstableStableTo(t *testing.T) {
	for _, tt := range []struct {
		name             string
		u                unstable
		inProgress       uint64 // offsetInProgress before the call
		index, term      uint64
		wantOffset       uint64
		wantInProgress   uint64
		wantEntries      []pb.Entry
		wantSnapshotKept bool
	}{
		{
			name: "empty", u: newUnstable(nil, 0, nil),
			index: 5, term: 1, wantOffset: 0,
		},
		{
			name: "one entry, not in progress", u: newUnstable(nil, 5, makeEnts(5, 1)), inProgress: 5,
			index: 5, term: 1, wantOffset: 6, wantInProgress: 6,
		},
		{
			name: "one entry, in progress", u: newUnstable(nil, 5, makeEnts(5, 1)), inProgress: 6,
			index: 5, term: 1, wantOffset: 6, wantInProgress: 6,
		},
		{
			name: "prefix, some still in progress", u: newUnstable(nil, 5, makeEnts(5, 1, 1, 1)), inProgress: 7,
			index: 5, term: 1, wantOffset: 6, wantInProgress: 7, wantEntries: makeEnts(6, 1, 1),
		},
		{
			name: "prefix, in progress overtaken", u: newUnstable(nil, 5, makeEnts(5, 1, 1, 1)), inProgress: 5,
			index: 6, term: 1, wantOffset: 7, wantInProgress: 7, wantEntries: makeEnts(7, 1),
		},
		{
			// ABA: entry 5 was handed out at term 1, then replaced by an
			// entry of term 2 before the write finished. The ack is for the
			// old entry and must not mark the new one as stable.
			name: "stale ack after replacement", u: newUnstable(nil, 5, makeEnts(5, 2)), inProgress: 5,
			index: 5, term: 1, wantOffset: 5, wantInProgress: 5, wantEntries: makeEnts(5, 2),
		},
		{
			name: "ack beyond entries", u: newUnstable(nil, 5, makeEnts(5, 1)), inProgress: 6,
			index: 6, term: 1, wantOffset: 5, wantInProgress: 6, wantEntries: makeEnts(5, 1),
		},
		{
			name: "ack below offset (already stable)", u: newUnstable(nil, 5, makeEnts(5, 1)), inProgress: 6,
			index: 4, term: 1, wantOffset: 5, wantInProgress: 6, wantEntries: makeEnts(5, 1),
		},
		{
			name: "with snapshot, entry ack", u: newUnstable(snapAt(4, 1), 5, makeEnts(5, 1)), inProgress: 6,
			index: 5, term: 1, wantOffset: 6, wantInProgress: 6, wantSnapshotKept: true,
		},
		{
			name: "with snapshot, stale entry ack", u: newUnstable(snapAt(4, 1), 5, makeEnts(5, 2)), inProgress: 6,
			index: 5, term: 1, wantOffset: 5, wantInProgress: 6, wantEntries: makeEnts(5, 2), wantSnapshotKept: true,
		},
		{
			// The snapshot is acknowledged through stableSnapTo only.
			name: "ack at snapshot index", u: newUnstable(snapAt(4, 1), 5, makeEnts(5, 1)), inProgress: 6,
			index: 4, term: 1, wantOffset: 5, wantInProgress: 6, wantEntries: makeEnts(5, 1), wantSnapshotKept: true,
		},
		{
			name: "snapshot only", u: newUnstable(snapAt(4, 2), 5, nil), inProgress: 5,
			index: 4, term: 2, wantOffset: 5, wantInProgress: 5, wantSnapshotKept: true,
		},
	} {
		t.Run(tt.name, func(t *testing.T) {
			u := tt.u
			u.offsetInProgress = tt.inProgress
			u.stableTo(tt.index, tt.term)
			assert.Equal(t, tt.wantOffset, u.offset, "offset")
			assert.Equal(t, tt.wantInProgress, u.offsetInProgress, "offsetInProgress")
			assert.Equal(t, tt.wantEntries, u.entries)
			assert.Equal(t, tt.wantSnapshotKept, u.snapshot != nil, "snapshot kept")
		})
	}
}

// Once most of the backing array is stable, stableTo must move the live
// entries to a smaller array so the old one can be reclaimed, without
// disturbing slices of the old array that were handed out.
func TestUnstableStableToShrinksArray(t *testing.T) {
	t.Run("tight array is kept", func(t *testing.T) {
		u := newUnstable(nil, 1, nil)
		u.truncateAndAppend(makeEnts(1, repeatTerm(1, 100)...))
		handedOut := u.nextEntries()
		u.acceptInProgress()
		oldCap := cap(u.entries)

		// The remaining capacity shrinks with the live entries, so there
		// is nothing worth copying.
		u.stableTo(40, 1)
		assert.Equal(t, oldCap-40, cap(u.entries))
		assert.Same(t, &handedOut[40], &u.entries[0])
		u.stableTo(90, 1)
		assert.Same(t, &handedOut[90], &u.entries[0])
	})

	t.Run("mostly unused array is replaced", func(t *testing.T) {
		u := newUnstable(nil, 1, make([]pb.Entry, 0, 64))
		u.truncateAndAppend(makeEnts(1, repeatTerm(1, 9)...))
		require.Equal(t, 64, cap(u.entries))
		before := u.slice(1, 10)
		u.stableTo(6, 1)
		assert.Equal(t, makeEnts(7, repeatTerm(1, 3)...), u.entries)
		assert.Equal(t, 3, cap(u.entries), "live entries should move to a right-sized array")
		assert.Equal(t, makeEnts(1, repeatTerm(1, 9)...), before, "old slices must be untouched")

		u.stableTo(9, 1)
		assert.Nil(t, u.entries, "an empty unstable log should drop its array")
		assert.Equal(t, uint64(10), u.offset)
		assert.Equal(t, uint64(10), u.offsetInProgress)
	})
}

func TestUnstableStableSnapTo(t *testing.T) {
	for _, tt := range []struct {
		name     string
		snap     *pb.Snapshot
		index    uint64
		wantSnap bool
	}{
		{"no snapshot", nil, 4, false},
		{"matching", snapAt(4, 1), 4, false},
		{"stale ack", snapAt(4, 1), 3, true},
		{"future ack", snapAt(4, 1), 5, true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			u := newUnstable(tt.snap, 5, makeEnts(5, 1))
			u.snapshotInProgress = tt.snap != nil
			u.stableSnapTo(tt.index)
			assert.Equal(t, tt.wantSnap, u.snapshot != nil)
			assert.Equal(t, tt.wantSnap, u.snapshotInProgress)
			assert.Equal(t, makeEnts(5, 1), u.entries, "entries are not affected")
		})
	}
}

func TestUnstableRestore(t *testing.T) {
	u := newUnstable(snapAt(4, 1), 5, makeEnts(5, 1, 1))
	u.acceptInProgress()
	s := pb.Snapshot{Metadata: pb.SnapshotMetadata{Index: 6, Term: 2}}
	u.restore(s)

	assert.Equal(t, uint64(7), u.offset)
	assert.Equal(t, uint64(7), u.offsetInProgress)
	assert.Empty(t, u.entries)
	require.NotNil(t, u.snapshot)
	assert.Equal(t, s, *u.snapshot)
	assert.False(t, u.snapshotInProgress)
	assert.Equal(t, &s, u.nextSnapshot())
}

func TestUnstableTruncateAndAppend(t *testing.T) {
	for _, tt := range []struct {
		name             string
		offset           uint64
		entries          []pb.Entry
		inProgress       uint64
		snap             *pb.Snapshot
		toAppend         []pb.Entry
		wantOffset       uint64
		wantInProgress   uint64
		wantEntries      []pb.Entry
		wantSnapshotKept bool
	}{
		{
			name:   "nothing to append",
			offset: 5, entries: makeEnts(5, 1), inProgress: 6,
			toAppend:   nil,
			wantOffset: 5, wantInProgress: 6, wantEntries: makeEnts(5, 1),
		},
		{
			name:   "append to the end",
			offset: 5, entries: makeEnts(5, 1), inProgress: 5,
			toAppend:   makeEnts(6, 1, 1),
			wantOffset: 5, wantInProgress: 5, wantEntries: makeEnts(5, 1, 1, 1),
		},
		{
			name:   "append to the end, in progress kept",
			offset: 5, entries: makeEnts(5, 1), inProgress: 6,
			toAppend:   makeEnts(6, 1, 1),
			wantOffset: 5, wantInProgress: 6, wantEntries: makeEnts(5, 1, 1, 1),
		},
		{
			name:   "append to empty",
			offset: 5, entries: nil, inProgress: 5,
			toAppend:   makeEnts(5, 2),
			wantOffset: 5, wantInProgress: 5, wantEntries: makeEnts(5, 2),
		},
		{
			name:   "append after snapshot",
			offset: 5, entries: nil, inProgress: 5, snap: snapAt(4, 1),
			toAppend:   makeEnts(5, 2),
			wantOffset: 5, wantInProgress: 5, wantEntries: makeEnts(5, 2), wantSnapshotKept: true,
		},
		{
			name:   "replace all, same start",
			offset: 5, entries: makeEnts(5, 1), inProgress: 5,
			toAppend:   makeEnts(5, 2, 2),
			wantOffset: 5, wantInProgress: 5, wantEntries: makeEnts(5, 2, 2),
		},
		{
			name:   "replace all, same start, in progress reset",
			offset: 5, entries: makeEnts(5, 1), inProgress: 6,
			toAppend:   makeEnts(5, 2, 2),
			wantOffset: 5, wantInProgress: 5, wantEntries: makeEnts(5, 2, 2),
		},
		{
			name:   "replace all, earlier start",
			offset: 5, entries: makeEnts(5, 1), inProgress: 6,
			toAppend:   makeEnts(4, 2, 2, 2),
			wantOffset: 4, wantInProgress: 4, wantEntries: makeEnts(4, 2, 2, 2),
		},
		{
			name:   "replace all, empty unstable",
			offset: 5, entries: nil, inProgress: 5,
			toAppend:   makeEnts(3, 2),
			wantOffset: 3, wantInProgress: 3, wantEntries: makeEnts(3, 2),
		},
		{
			name:   "truncate suffix, nothing in progress",
			offset: 5, entries: makeEnts(5, 1, 1, 1), inProgress: 5,
			toAppend:   makeEnts(6, 2),
			wantOffset: 5, wantInProgress: 5, wantEntries: makeEnts(5, 1, 2),
		},
		{
			name:   "truncate suffix, in progress below the cut kept",
			offset: 5, entries: makeEnts(5, 1, 1, 1), inProgress: 6,
			toAppend:   makeEnts(7, 2, 2),
			wantOffset: 5, wantInProgress: 6, wantEntries: makeEnts(5, 1, 1, 2, 2),
		},
		{
			name:   "truncate suffix, in progress pulled back to the cut",
			offset: 5, entries: makeEnts(5, 1, 1, 1), inProgress: 8,
			toAppend:   makeEnts(6, 2),
			wantOffset: 5, wantInProgress: 6, wantEntries: makeEnts(5, 1, 2),
		},
	} {
		t.Run(tt.name, func(t *testing.T) {
			u := unstable{snapshot: tt.snap, entries: tt.entries, offset: tt.offset, offsetInProgress: tt.inProgress}
			input := append([]pb.Entry(nil), tt.toAppend...)
			u.truncateAndAppend(input)
			assert.Equal(t, tt.wantOffset, u.offset, "offset")
			assert.Equal(t, tt.wantInProgress, u.offsetInProgress, "offsetInProgress")
			assert.Equal(t, tt.wantEntries, u.entries)
			assert.Equal(t, tt.wantSnapshotKept, u.snapshot != nil)
			assert.Equal(t, tt.toAppend, input, "the argument must not be modified")
		})
	}

	u := newUnstable(nil, 5, makeEnts(5, 1))
	assert.PanicsWithValue(t, "raft: unstable append at index 7 leaves a gap after last index 5", func() {
		u.truncateAndAppend(makeEnts(7, 1))
	})
}

// Slices handed out for writing or applying must never change afterwards,
// whatever is appended, truncated or stabilised later.
func TestUnstableHandedOutSlicesAreImmutable(t *testing.T) {
	u := newUnstable(nil, 1, make([]pb.Entry, 0, 16))
	u.truncateAndAppend(makeEnts(1, repeatTerm(1, 5)...))
	written := u.nextEntries()
	u.acceptInProgress()
	applying := u.slice(2, 5)

	u.truncateAndAppend(makeEnts(3, 2, 2))    // replace a suffix
	u.truncateAndAppend(makeEnts(5, 2, 2, 2)) // extend
	u.stableTo(2, 1)
	u.truncateAndAppend(makeEnts(3, 3)) // replace everything unstable

	assert.Equal(t, makeEnts(1, repeatTerm(1, 5)...), written)
	assert.Equal(t, makeEnts(2, repeatTerm(1, 3)...), applying)
	assert.Equal(t, makeEnts(3, 3), u.entries)

	// The caller of truncateAndAppend keeps its array too: after the
	// "replace all" case, a later extension must not write into it.
	caller := make([]pb.Entry, 1, 8)
	caller[0] = pb.Entry{Index: 3, Term: 4}
	u.truncateAndAppend(caller)
	u.truncateAndAppend(makeEnts(4, 4))
	assert.Equal(t, pb.Entry{}, caller[:2][1], "spare capacity of the caller's slice was written")
}

func TestUnstableSlice(t *testing.T) {
	u := newUnstable(nil, 5, makeEnts(5, 1, 2, 3))
	for _, tt := range []struct {
		lo, hi uint64
		want   []pb.Entry
	}{
		{5, 5, []pb.Entry{}},
		{5, 8, makeEnts(5, 1, 2, 3)},
		{6, 7, makeEnts(6, 2)},
		{8, 8, []pb.Entry{}},
	} {
		t.Run(fmt.Sprintf("[%d,%d)", tt.lo, tt.hi), func(t *testing.T) {
			got := u.slice(tt.lo, tt.hi)
			assert.Equal(t, tt.want, got)
			assert.Equal(t, len(got), cap(got))
		})
	}

	for _, tt := range []struct {
		lo, hi uint64
		msg    string
	}{
		{4, 6, "raft: unstable slice [4, 6) out of bounds [5, 8)"},
		{5, 9, "raft: unstable slice [5, 9) out of bounds [5, 8)"},
		{7, 6, "raft: invalid unstable slice: lo 7 > hi 6"},
	} {
		assert.PanicsWithValue(t, tt.msg, func() { u.slice(tt.lo, tt.hi) })
	}
}
