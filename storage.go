package raft

import (
	"errors"
	"fmt"
	"sync"

	pb "github.com/pontoon-raft/raft/raftpb"
)

// ErrCompacted is returned by Storage.Entries and Storage.Term (and by
// MemoryStorage.Compact) when the requested index lies at or below the point
// up to which the log has been compacted into a snapshot.
var ErrCompacted = errors.New("requested index is unavailable due to compaction")

// ErrSnapOutOfDate is returned by MemoryStorage.ApplySnapshot and
// MemoryStorage.CreateSnapshot when the requested snapshot is not newer than
// the one the storage already holds.
var ErrSnapOutOfDate = errors.New("requested index is older than the existing snapshot")

// ErrUnavailable is returned by Storage.Entries and Storage.Term when the
// requested index is beyond the last entry the storage holds.
var ErrUnavailable = errors.New("requested entry at index is unavailable")

// ErrSnapshotTemporarilyUnavailable may be returned by Storage.Snapshot when
// a snapshot cannot be produced right now (for instance while one is being
// built). The leader then skips sending a snapshot to the follower and tries
// again later.
var ErrSnapshotTemporarilyUnavailable = errors.New("snapshot is temporarily unavailable")

// Storage is the read side of the durable state that a raft node has
// persisted: its HardState, its log entries and its latest snapshot. The
// application implements it (or uses MemoryStorage) and writes to it itself
// when it handles a Ready; raft only reads.
//
// Every index range raft asks for lies within what the methods below have
// reported, so an implementation may treat an out-of-range request as a
// programming error. Errors other than the sentinels documented here are
// treated by raft as fatal storage failures.
type Storage interface {
	// InitialState returns the persisted HardState and the ConfState of the
	// latest snapshot (or of the empty configuration if there is none). It is
	// called once, when a node starts.
	InitialState() (pb.HardState, pb.ConfState, error)

	// Entries returns the entries with indexes in [lo, hi), in order. The
	// total encoded size (pb.Entry.Size) of the result is at most maxSize,
	// except that at least one entry is returned whenever the range is not
	// empty; the result is therefore a prefix of the range. It returns
	// ErrCompacted if lo is at or below the index of the latest snapshot,
	// and ErrUnavailable if the storage holds no entries at all.
	//
	// The caller owns the returned slice and may append to it, so it must
	// not share spare capacity with memory the implementation writes later.
	// The entries themselves (including Data) are shared and must be treated
	// as immutable by both sides: raft may hand them back to the application
	// in a Ready.
	Entries(lo, hi, maxSize uint64) ([]pb.Entry, error)

	// Term returns the term of the entry at index i. It must answer for
	// every i in [FirstIndex()-1, LastIndex()]: the term of the entry just
	// before the first retained one stays known (it is the snapshot's term)
	// so that appends right after a snapshot can be matched. Below that
	// range it returns ErrCompacted, above it ErrUnavailable.
	Term(i uint64) (uint64, error)

	// LastIndex returns the index of the last entry in the log, or the
	// snapshot's index if no entries follow the snapshot.
	LastIndex() (uint64, error)

	// FirstIndex returns the index of the first entry that can still be read
	// with Entries; older entries have been compacted into the snapshot. For
	// a log without any entry it is LastIndex()+1.
	FirstIndex() (uint64, error)

	// Snapshot returns the most recent snapshot. If none is available right
	// now it may return ErrSnapshotTemporarilyUnavailable, and raft will ask
	// again later instead of failing.
	Snapshot() (pb.Snapshot, error)
}

// MemoryStorage is a Storage backed by an in-memory slice of entries, plus
// the mutators the application needs to keep it up to date (SetHardState,
// Append, ApplySnapshot, CreateSnapshot, Compact). It is meant for tests and
// for applications that persist elsewhere and rebuild the log on restart.
//
// All methods are safe for concurrent use: each one takes the embedded
// Mutex for its whole duration. The Mutex is not reentrant, so a caller that
// locks it must unlock it before calling any method.
type MemoryStorage struct {
	// Mutex guards every field below.
	sync.Mutex

	hardState pb.HardState
	snapshot  pb.Snapshot
	// ents[0] is a placeholder that carries the index and term of the last
	// compacted entry (the snapshot point); ents[i] has index ents[0].Index+i.
	// Slices returned by Entries never extend past len(ents) in capacity, and
	// ents is copied into a new array whenever a suffix is replaced, so a
	// slice handed out is never written to again.
	ents []pb.Entry
}

// NewMemoryStorage returns an empty MemoryStorage: no entries, no snapshot,
// FirstIndex 1 and LastIndex 0.
func NewMemoryStorage() *MemoryStorage {
	return &MemoryStorage{
		ents: make([]pb.Entry, 1),
	}
}

// InitialState implements Storage. It returns the last HardState passed to
// SetHardState and the ConfState of the current snapshot.
func (ms *MemoryStorage) InitialState() (pb.HardState, pb.ConfState, error) {
	ms.Lock()
	defer ms.Unlock()
	return ms.hardState, ms.snapshot.Metadata.ConfState, nil
}

// SetHardState records st as the persisted HardState. It never fails.
func (ms *MemoryStorage) SetHardState(st pb.HardState) error {
	ms.Lock()
	defer ms.Unlock()
	ms.hardState = st
	return nil
}

// Entries implements Storage. The returned slice has no spare capacity, so
// appending to it always copies. It panics if hi is beyond LastIndex()+1 or
// lo > hi: raft never asks for entries it has not been told about.
func (ms *MemoryStorage) Entries(lo, hi, maxSize uint64) ([]pb.Entry, error) {
	ms.Lock()
	defer ms.Unlock()
	offset := ms.ents[0].Index
	if lo <= offset {
		return nil, ErrCompacted
	}
	if last := ms.lastIndex(); hi > last+1 {
		panic(fmt.Sprintf("raft: MemoryStorage.Entries: hi %d is beyond last index %d + 1", hi, last))
	}
	if lo > hi {
		panic(fmt.Sprintf("raft: MemoryStorage.Entries: lo %d is greater than hi %d", lo, hi))
	}
	if len(ms.ents) == 1 {
		return nil, ErrUnavailable
	}
	ents := limitSize(ms.ents[lo-offset:hi-offset], maxSize)
	return ents[:len(ents):len(ents)], nil
}

// Term implements Storage.
func (ms *MemoryStorage) Term(i uint64) (uint64, error) {
	ms.Lock()
	defer ms.Unlock()
	offset := ms.ents[0].Index
	if i < offset {
		return 0, ErrCompacted
	}
	if i-offset >= uint64(len(ms.ents)) {
		return 0, ErrUnavailable
	}
	return ms.ents[i-offset].Term, nil
}

// LastIndex implements Storage.
func (ms *MemoryStorage) LastIndex() (uint64, error) {
	ms.Lock()
	defer ms.Unlock()
	return ms.lastIndex(), nil
}

func (ms *MemoryStorage) lastIndex() uint64 {
	return ms.ents[0].Index + uint64(len(ms.ents)) - 1
}

// FirstIndex implements Storage.
func (ms *MemoryStorage) FirstIndex() (uint64, error) {
	ms.Lock()
	defer ms.Unlock()
	return ms.firstIndex(), nil
}

func (ms *MemoryStorage) firstIndex() uint64 {
	return ms.ents[0].Index + 1
}

// Snapshot implements Storage. It returns the snapshot installed by the last
// ApplySnapshot or CreateSnapshot (an empty one initially).
func (ms *MemoryStorage) Snapshot() (pb.Snapshot, error) {
	ms.Lock()
	defer ms.Unlock()
	return ms.snapshot, nil
}

// ApplySnapshot replaces the storage's contents with snap: every entry is
// discarded and the log restarts right after the snapshot's index. It returns
// ErrSnapOutOfDate, and changes nothing, unless snap is newer than the
// snapshot already held.
func (ms *MemoryStorage) ApplySnapshot(snap pb.Snapshot) error {
	ms.Lock()
	defer ms.Unlock()
	if snap.Metadata.Index <= ms.snapshot.Metadata.Index {
		return ErrSnapOutOfDate
	}
	ms.snapshot = snap
	ms.ents = []pb.Entry{{Term: snap.Metadata.Term, Index: snap.Metadata.Index}}
	return nil
}

// CreateSnapshot records a snapshot of the state machine as of log index i
// and returns it; the term is taken from the entry at i. A nil cs keeps the
// ConfState of the previous snapshot. The log itself is not touched: call
// Compact to drop the entries the snapshot covers.
//
// It returns ErrSnapOutOfDate if i is not above the current snapshot's index
// and ErrCompacted if the entry at i has already been compacted away. It
// panics if i is beyond the last index, since no state machine can have
// applied an entry that is not in the log.
func (ms *MemoryStorage) CreateSnapshot(i uint64, cs *pb.ConfState, data []byte) (pb.Snapshot, error) {
	ms.Lock()
	defer ms.Unlock()
	if i <= ms.snapshot.Metadata.Index {
		return pb.Snapshot{}, ErrSnapOutOfDate
	}
	offset := ms.ents[0].Index
	if last := ms.lastIndex(); i > last {
		panic(fmt.Sprintf("raft: MemoryStorage.CreateSnapshot: index %d is beyond last index %d", i, last))
	}
	if i < offset {
		return pb.Snapshot{}, ErrCompacted
	}
	ms.snapshot.Metadata.Index = i
	ms.snapshot.Metadata.Term = ms.ents[i-offset].Term
	if cs != nil {
		ms.snapshot.Metadata.ConfState = *cs
	}
	ms.snapshot.Data = data
	return ms.snapshot, nil
}

// Compact discards every entry up to and including compactIndex; the term of
// compactIndex stays available through Term. The application calls it once
// the entries are covered by a snapshot (see CreateSnapshot) and no longer
// needed to catch up slow followers.
//
// It returns ErrCompacted if compactIndex has already been compacted, and
// panics if compactIndex is beyond the last index.
func (ms *MemoryStorage) Compact(compactIndex uint64) error {
	ms.Lock()
	defer ms.Unlock()
	offset := ms.ents[0].Index
	if compactIndex <= offset {
		return ErrCompacted
	}
	if last := ms.lastIndex(); compactIndex > last {
		panic(fmt.Sprintf("raft: MemoryStorage.Compact: compact index %d is beyond last index %d", compactIndex, last))
	}
	// Copy the survivors into a new array: re-slicing would keep the whole
	// old array, and every compacted entry's Data, reachable. The array has
	// room for as many new entries as were just compacted, up to as many as
	// are kept: an embedder that compacts at a steady pace (etcd compacts
	// every 100 applied entries down to the last 5,000) then appends into it
	// until the next Compact, instead of Append copying the survivors once
	// more into a doubled array right after every Compact.
	cut := compactIndex - offset
	keep := uint64(len(ms.ents)) - cut
	kept := make([]pb.Entry, 1, keep+min(cut, keep))
	kept[0] = pb.Entry{Index: ms.ents[cut].Index, Term: ms.ents[cut].Term}
	ms.ents = append(kept, ms.ents[cut+1:]...)
	return nil
}

// Append adds entries to the log. The entries must be consecutive and must
// start no later than LastIndex()+1; every stored entry at or after the first
// new index is replaced (that suffix conflicts with the leader's log). The
// part of entries that has already been compacted is ignored. It panics if
// there would be a gap between the stored and the new entries.
//
// Append copies the entries it keeps; it never writes into entries, nor into
// memory that a slice returned by Entries may still refer to.
func (ms *MemoryStorage) Append(entries []pb.Entry) error {
	if len(entries) == 0 {
		return nil
	}
	ms.Lock()
	defer ms.Unlock()

	first := ms.firstIndex()
	newFirst := entries[0].Index
	newLast := newFirst + uint64(len(entries)) - 1
	if newLast < first {
		return nil // all of it is covered by the snapshot
	}
	if newFirst < first {
		entries = entries[first-newFirst:]
		newFirst = first
	}

	offset := ms.ents[0].Index
	switch keep := newFirst - offset; {
	case keep == uint64(len(ms.ents)):
		// A plain extension. Writing into spare capacity is safe: Entries
		// never hands out capacity beyond len(ms.ents). The array grows by
		// doubling rather than by append's ~1.25x for large slices: a log
		// only grows until the next Compact, and copying a large array
		// every few appends dominated the cost of Append (5x slower for
		// 64-entry batches, see BenchmarkMemoryStorageAppend).
		if need := len(ms.ents) + len(entries); need > cap(ms.ents) {
			grown := make([]pb.Entry, len(ms.ents), max(need, 2*cap(ms.ents)))
			copy(grown, ms.ents)
			ms.ents = grown
		}
		ms.ents = append(ms.ents, entries...)
	case keep < uint64(len(ms.ents)):
		// Replace a suffix. Build a new array rather than overwriting in
		// place, since callers of Entries may still read the old suffix.
		fresh := make([]pb.Entry, 0, keep+uint64(len(entries)))
		fresh = append(fresh, ms.ents[:keep]...)
		ms.ents = append(fresh, entries...)
	default:
		panic(fmt.Sprintf("raft: MemoryStorage.Append: first new index %d leaves a gap after last index %d",
			newFirst, ms.lastIndex()))
	}
	return nil
}
