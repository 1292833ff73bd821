package raft

import (
	"fmt"

	pb "github.com/pontoon-raft/raft/raftpb"
)

// unstable holds the tail of the log that raft knows about but that the
// application has not yet confirmed as written to Storage: at most one
// incoming snapshot and the entries that follow it (or follow Storage's last
// entry).
//
// Invariants:
//   - entries[i] has index offset+i;
//   - if snapshot != nil, offset > snapshot.Metadata.Index: the entries
//     continue the snapshot (offset moves further only as entries after it
//     become stable);
//   - offset <= offsetInProgress <= offset+len(entries).
//
// The application writes the unstable state asynchronously: nextEntries and
// nextSnapshot return what has not been handed out yet, acceptInProgress
// marks it as handed out, and stableTo/stableSnapTo drop it once written.
//
// Slices handed out by this type are never written to afterwards: entries
// are only ever appended past the current end (where no handed-out slice can
// reach, since they are capacity-clipped) or rebuilt in a new array.
type unstable struct {
	// snapshot is the incoming snapshot not yet stored, if any.
	snapshot *pb.Snapshot
	// entries are the entries not yet stored, starting at index offset.
	entries []pb.Entry
	// offset is the index of entries[0], or where it would be.
	offset uint64

	// snapshotInProgress is set once snapshot has been handed out for
	// writing; a second hand-out is suppressed until stableSnapTo.
	snapshotInProgress bool
	// offsetInProgress is one past the last entry handed out for writing:
	// entries in [offset, offsetInProgress) are being written.
	offsetInProgress uint64
}

// unstableShrinkFactor is how much larger than the live entries the backing
// array may be before stableTo copies them into a right-sized one.
const unstableShrinkFactor = 2

// maybeFirstIndex returns the index of the first entry that may be in the
// log, if the unstable snapshot determines it.
func (u *unstable) maybeFirstIndex() (uint64, bool) {
	if u.snapshot != nil {
		return u.snapshot.Metadata.Index + 1, true
	}
	return 0, false
}

// maybeLastIndex returns the last index of the log if the unstable part
// determines it: the last unstable entry, else the unstable snapshot's index.
func (u *unstable) maybeLastIndex() (uint64, bool) {
	if n := len(u.entries); n > 0 {
		return u.offset + uint64(n) - 1, true
	}
	if u.snapshot != nil {
		return u.snapshot.Metadata.Index, true
	}
	return 0, false
}

// maybeTerm returns the term of the entry at index i if the unstable part
// knows it: i is an unstable entry or the unstable snapshot's index.
func (u *unstable) maybeTerm(i uint64) (uint64, bool) {
	if i < u.offset {
		if u.snapshot != nil && u.snapshot.Metadata.Index == i {
			return u.snapshot.Metadata.Term, true
		}
		return 0, false
	}
	if i-u.offset >= uint64(len(u.entries)) {
		return 0, false
	}
	return u.entries[i-u.offset].Term, true
}

// nextEntries returns the unstable entries not yet handed out for writing,
// or nil if there are none.
func (u *unstable) nextEntries() []pb.Entry {
	start := u.offsetInProgress - u.offset
	if start == uint64(len(u.entries)) {
		return nil
	}
	return u.entries[start:len(u.entries):len(u.entries)]
}

// nextSnapshot returns the unstable snapshot if it has not been handed out
// for writing yet, and nil otherwise.
func (u *unstable) nextSnapshot() *pb.Snapshot {
	if u.snapshot == nil || u.snapshotInProgress {
		return nil
	}
	return u.snapshot
}

// acceptInProgress records that everything nextEntries and nextSnapshot
// currently return has been handed out for writing, so they are not returned
// again.
func (u *unstable) acceptInProgress() {
	u.offsetInProgress = u.offset + uint64(len(u.entries))
	if u.snapshot != nil {
		u.snapshotInProgress = true
	}
}

// stableTo records that the entries up to and including index i, with the
// entry at i having term t, have been written to Storage, and drops them.
//
// An acknowledgement that no longer matches the unstable entries is ignored.
// This happens when the entries were replaced (by a new leader's entries or
// a snapshot) while the write was in flight: the entry now at i is a
// different one and has not been written, even if it has the same index.
// Checking the term as well as the index is what tells the two apart.
func (u *unstable) stableTo(i, t uint64) {
	gt, ok := u.maybeTerm(i)
	if !ok || i < u.offset {
		// Either already stable, or i is the unstable snapshot's index
		// (the snapshot is acknowledged separately, by stableSnapTo).
		return
	}
	if gt != t {
		return
	}
	drop := i + 1 - u.offset
	u.entries = u.entries[drop:]
	u.offset = i + 1
	u.offsetInProgress = max(u.offsetInProgress, u.offset)
	u.shrinkEntriesArray()
}

// shrinkEntriesArray moves the live entries to a right-sized array when the
// current one is mostly unused, so that the memory (and the Data of entries
// already stable) can be reclaimed once no handed-out slice refers to it.
// The live entries are copied, never moved in place: the old array may still
// be referenced.
func (u *unstable) shrinkEntriesArray() {
	switch n := len(u.entries); {
	case n == 0:
		u.entries = nil
	case n*unstableShrinkFactor < cap(u.entries):
		fresh := make([]pb.Entry, n)
		copy(fresh, u.entries)
		u.entries = fresh
	}
}

// stableSnapTo records that the unstable snapshot with index i has been
// written to Storage, and drops it. Any other index is a stale
// acknowledgement and is ignored.
func (u *unstable) stableSnapTo(i uint64) {
	if u.snapshot != nil && u.snapshot.Metadata.Index == i {
		u.snapshot = nil
		u.snapshotInProgress = false
	}
}

// restore replaces the whole unstable state with the snapshot s.
func (u *unstable) restore(s pb.Snapshot) {
	u.offset = s.Metadata.Index + 1
	u.offsetInProgress = u.offset
	u.entries = nil
	u.snapshot = &s
	u.snapshotInProgress = false
}

// truncateAndAppend appends ents, first discarding every unstable entry at
// or after ents[0].Index. If ents starts at or before offset, the unstable
// entries are replaced entirely (the entries they conflict with in Storage
// are overwritten when the new ones are written). ents must not leave a gap
// after the last unstable entry.
//
// ents is not modified, but its elements are shared: callers must not
// mutate them afterwards.
func (u *unstable) truncateAndAppend(ents []pb.Entry) {
	if len(ents) == 0 {
		return
	}
	from := ents[0].Index
	end := u.offset + uint64(len(u.entries))
	switch {
	case from == end:
		// Plain extension. The spare capacity of u.entries is ours: every
		// slice handed out is clipped at or before len(u.entries).
		u.entries = append(u.entries, ents...)
	case from <= u.offset:
		// Everything unstable is replaced. Keep the caller's array, but
		// clipped so that a later extension copies instead of writing into
		// the caller's spare capacity.
		u.entries = ents[:len(ents):len(ents)]
		u.offset = from
		u.offsetInProgress = from
	case from < end:
		// Keep [offset, from) and replace the rest. A new array is needed:
		// slices of the old one may be out for writing or applying.
		keep := from - u.offset
		fresh := make([]pb.Entry, 0, keep+uint64(len(ents)))
		fresh = append(fresh, u.entries[:keep]...)
		u.entries = append(fresh, ents...)
		// Entries from `from` on were replaced, so whatever write was in
		// flight for them no longer counts.
		u.offsetInProgress = min(u.offsetInProgress, from)
	default:
		panic(fmt.Sprintf("raft: unstable append at index %d leaves a gap after last index %d", from, end-1))
	}
}

// slice returns the unstable entries with indexes in [lo, hi). The result
// shares the unstable array but has no spare capacity. It panics unless
// offset <= lo <= hi <= offset+len(entries).
func (u *unstable) slice(lo, hi uint64) []pb.Entry {
	u.mustCheckOutOfBounds(lo, hi)
	return u.entries[lo-u.offset : hi-u.offset : hi-u.offset]
}

// mustCheckOutOfBounds panics unless offset <= lo <= hi <= offset+len(entries).
func (u *unstable) mustCheckOutOfBounds(lo, hi uint64) {
	if lo > hi {
		panic(fmt.Sprintf("raft: invalid unstable slice: lo %d > hi %d", lo, hi))
	}
	if end := u.offset + uint64(len(u.entries)); lo < u.offset || hi > end {
		panic(fmt.Sprintf("raft: unstable slice [%d, %d) out of bounds [%d, %d)", lo, hi, u.offset, end))
	}
}
