package raft

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

// faultyStorage is a MemoryStorage whose methods can be made to fail, and
// which counts reads of entries.
type faultyStorage struct {
	*MemoryStorage
	firstErr, lastErr, termErr, snapErr error
	// entries, if set, replaces MemoryStorage.Entries.
	entries      func(lo, hi, maxSize uint64) ([]pb.Entry, error)
	entriesCalls int
}

func (s *faultyStorage) FirstIndex() (uint64, error) {
	if s.firstErr != nil {
		return 0, s.firstErr
	}
	return s.MemoryStorage.FirstIndex()
}

func (s *faultyStorage) LastIndex() (uint64, error) {
	if s.lastErr != nil {
		return 0, s.lastErr
	}
	return s.MemoryStorage.LastIndex()
}

func (s *faultyStorage) Term(i uint64) (uint64, error) {
	if s.termErr != nil {
		return 0, s.termErr
	}
	return s.MemoryStorage.Term(i)
}

func (s *faultyStorage) Snapshot() (pb.Snapshot, error) {
	if s.snapErr != nil {
		return pb.Snapshot{}, s.snapErr
	}
	return s.MemoryStorage.Snapshot()
}

func (s *faultyStorage) Entries(lo, hi, maxSize uint64) ([]pb.Entry, error) {
	s.entriesCalls++
	if s.entries != nil {
		return s.entries(lo, hi, maxSize)
	}
	return s.MemoryStorage.Entries(lo, hi, maxSize)
}

// newTestLog returns a log over a storage holding a snapshot at (snapIndex,
// snapTerm) and the entries stored, followed by the unstable entries.
func newTestLog(t *testing.T, snapIndex, snapTerm uint64, stored, unstable []pb.Entry) *raftLog {
	t.Helper()
	l, err := newLog(newCompactedStorage(t, snapIndex, snapTerm, stored))
	require.NoError(t, err)
	l.append(unstable...)
	return l
}

// newFaultyTestLog is newTestLog over an faultyStorage, which it also returns.
func newFaultyTestLog(t *testing.T, snapIndex, snapTerm uint64, stored, unstable []pb.Entry) (*raftLog, *faultyStorage) {
	t.Helper()
	fs := &faultyStorage{MemoryStorage: newCompactedStorage(t, snapIndex, snapTerm, stored)}
	l, err := newLog(fs)
	require.NoError(t, err)
	l.append(unstable...)
	return l, fs
}

var errDisk = errors.New("disk on fire")

func TestNewLog(t *testing.T) {
	ms := newCompactedStorage(t, 10, 2, makeEnts(11, 2, 3, 3))
	l, err := newLog(ms)
	require.NoError(t, err)
	assert.Equal(t, uint64(14), l.unstable.offset)
	assert.Equal(t, uint64(14), l.unstable.offsetInProgress)
	assert.Equal(t, uint64(10), l.committed)
	assert.Equal(t, uint64(10), l.applying)
	assert.Equal(t, uint64(10), l.applied)
	assert.Equal(t, uint64(math.MaxUint64), l.maxApplyingEntsSize)
	assert.Equal(t, uint64(11), l.firstIndex())
	assert.Equal(t, uint64(13), l.lastIndex())
	assert.Equal(t, uint64(3), l.lastTerm())

	l, err = newLogWithSize(ms, 1000)
	require.NoError(t, err)
	assert.Equal(t, uint64(1000), l.maxApplyingEntsSize)

	_, err = newLog(nil)
	assert.EqualError(t, err, "raft: log storage must not be nil")

	fs := &faultyStorage{MemoryStorage: NewMemoryStorage(), firstErr: errDisk}
	_, err = newLog(fs)
	assert.ErrorIs(t, err, errDisk)
	assert.Contains(t, err.Error(), "first index")

	fs = &faultyStorage{MemoryStorage: NewMemoryStorage(), lastErr: errDisk}
	_, err = newLog(fs)
	assert.ErrorIs(t, err, errDisk)
	assert.Contains(t, err.Error(), "last index")
}

func TestLogString(t *testing.T) {
	l := newTestLog(t, 3, 1, makeEnts(4, 1), makeEnts(5, 1, 1))
	l.commitTo(5)
	l.acceptApplying(4, 6, true)
	assert.Equal(t,
		"committed=5 applying=4 applied=3 unstable.offset=5 unstable.offsetInProgress=5 len(unstable.entries)=2",
		l.String())
}

func TestLogNextCommittedEnts(t *testing.T) {
	// Snapshot at 3; entries 4 and 5 stored, 6 unstable.
	ents := makeEnts(4, 1, 1, 1)
	snap := pb.Snapshot{Metadata: pb.SnapshotMetadata{Index: 4, Term: 1}}
	for _, tt := range []struct {
		name          string
		applying      uint64
		committed     uint64
		allowUnstable bool
		paused        bool
		snap          bool
		want          []pb.Entry
	}{
		{name: "stable only", applying: 3, committed: 5, want: ents[:2]},
		{name: "stable, allow unstable", applying: 3, committed: 5, allowUnstable: true, want: ents[:2]},
		{name: "partly applying", applying: 4, committed: 5, want: ents[1:2]},
		{name: "all applying", applying: 5, committed: 5},
		{name: "commit into unstable", applying: 3, committed: 6, want: ents[:2]},
		{name: "commit into unstable, allowed", applying: 3, committed: 6, allowUnstable: true, want: ents},
		{name: "only unstable left", applying: 5, committed: 6},
		{name: "only unstable left, allowed", applying: 5, committed: 6, allowUnstable: true, want: ents[2:]},
		{name: "paused", applying: 3, committed: 6, allowUnstable: true, paused: true},
		{name: "snapshot pending", applying: 3, committed: 6, allowUnstable: true, snap: true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			l := newTestLog(t, 3, 1, ents[:2], ents[2:])
			l.commitTo(tt.committed)
			l.applying = tt.applying
			l.applyingEntsPaused = tt.paused
			if tt.snap {
				s := snap
				l.unstable.snapshot = &s
			}
			assert.Equal(t, tt.want, l.nextCommittedEnts(tt.allowUnstable))
			assert.Equal(t, len(tt.want) > 0, l.hasNextCommittedEnts(tt.allowUnstable))
		})
	}

	t.Run("storage failure panics", func(t *testing.T) {
		l, fs := newFaultyTestLog(t, 3, 1, ents[:2], nil)
		l.commitTo(5)
		fs.entries = func(lo, hi, maxSize uint64) ([]pb.Entry, error) { return nil, errDisk }
		msg := panicMessage(func() { l.nextCommittedEnts(false) })
		assert.True(t, strings.HasPrefix(msg, "raft: reading committed entries [4, 6) to apply: "), msg)
		assert.Contains(t, msg, errDisk.Error())
	})
}

// nextCommittedEnts, acceptApplying and appliedTo together keep the bytes
// being applied within maxApplyingEntsSize, while always making progress.
func TestLogApplyPacing(t *testing.T) {
	const n = 10
	ents := entsWithData(1, 1, n, 100)
	entSize := entsSize(ents[:1])

	newPacedLog := func(t *testing.T, maxBytes uint64) *raftLog {
		l, err := newLogWithSize(newCompactedStorage(t, 0, 0, ents), maxBytes)
		require.NoError(t, err)
		l.commitTo(n)
		return l
	}
	// take hands out the next batch as the core does, returning its
	// indexes.
	take := func(l *raftLog) []uint64 {
		batch := l.nextCommittedEnts(false)
		if len(batch) == 0 {
			return nil
		}
		l.acceptApplying(batch[len(batch)-1].Index, entsSize(batch), false)
		idx := make([]uint64, len(batch))
		for i := range batch {
			idx[i] = batch[i].Index
		}
		return idx
	}

	t.Run("budget of three entries", func(t *testing.T) {
		l := newPacedLog(t, 3*entSize)
		assert.Equal(t, []uint64{1, 2, 3}, take(l))
		assert.True(t, l.applyingEntsPaused)
		assert.False(t, l.hasNextCommittedEnts(false))
		assert.Nil(t, take(l))

		l.appliedTo(1, entSize) // one entry's worth frees up
		assert.False(t, l.applyingEntsPaused)
		assert.Equal(t, []uint64{4}, take(l))
		assert.True(t, l.applyingEntsPaused)

		l.appliedTo(4, 3*entSize)
		assert.Zero(t, l.applyingEntsSize)
		assert.Equal(t, []uint64{5, 6, 7}, take(l))
		l.appliedTo(7, 3*entSize)
		assert.Equal(t, []uint64{8, 9, 10}, take(l))
		assert.True(t, l.applyingEntsPaused)
		assert.Nil(t, take(l))
		l.appliedTo(9, 2*entSize)
		assert.False(t, l.applyingEntsPaused)
		assert.Nil(t, take(l), "nothing left to apply")
		l.appliedTo(10, entSize)
		assert.Equal(t, uint64(10), l.applied)
		assert.Zero(t, l.applyingEntsSize)
	})

	t.Run("batch cut by size pauses", func(t *testing.T) {
		l := newPacedLog(t, 2*entSize+entSize/2)
		assert.Equal(t, []uint64{1, 2}, take(l))
		assert.Less(t, l.applyingEntsSize, l.maxApplyingEntsSize)
		assert.True(t, l.applyingEntsPaused, "the next entry did not fit")
		l.appliedTo(2, 2*entSize)
		assert.Equal(t, []uint64{3, 4}, take(l))
	})

	t.Run("entry larger than the budget still goes out alone", func(t *testing.T) {
		l := newPacedLog(t, entSize/2)
		for i := uint64(1); i <= n; i++ {
			assert.Equal(t, []uint64{i}, take(l))
			assert.Nil(t, take(l))
			l.appliedTo(i, entSize)
		}
	})

	t.Run("zero budget applies one entry at a time", func(t *testing.T) {
		l := newPacedLog(t, 0)
		for i := uint64(1); i <= 3; i++ {
			assert.Equal(t, []uint64{i}, take(l))
			assert.Nil(t, take(l))
			l.appliedTo(i, entSize)
		}
	})

	t.Run("no budget", func(t *testing.T) {
		l := newPacedLog(t, math.MaxUint64)
		assert.Len(t, take(l), n)
	})

	t.Run("over-release does not underflow", func(t *testing.T) {
		l := newPacedLog(t, 3*entSize)
		take(l)
		l.appliedTo(3, 100*entSize)
		assert.Zero(t, l.applyingEntsSize)
		assert.False(t, l.applyingEntsPaused)
	})
}

func TestLogApplyCursorPanics(t *testing.T) {
	l := newTestLog(t, 0, 0, makeEnts(1, 1, 1, 1), nil)
	l.commitTo(2)
	l.appliedTo(1, 0)
	assert.PanicsWithValue(t, "raft: applied index 3 is outside [previous applied 1, committed 2]", func() {
		l.appliedTo(3, 0)
	})
	assert.PanicsWithValue(t, "raft: applied index 0 is outside [previous applied 1, committed 2]", func() {
		l.appliedTo(0, 0)
	})
	assert.PanicsWithValue(t, "raft: applying index 3 is beyond committed index 2", func() {
		l.acceptApplying(3, 0, true)
	})
	l.acceptApplying(2, 0, true)
	l.appliedTo(1, 0)
	assert.Equal(t, uint64(2), l.applying, "appliedTo never moves applying back")
}

func TestLogMaxAppliableIndex(t *testing.T) {
	for _, tt := range []struct {
		committed     uint64
		allowUnstable bool
		want          uint64
	}{
		{2, false, 2},
		{2, true, 2},
		{4, false, 3}, // capped at the last durable entry
		{4, true, 4},
	} {
		l := newTestLog(t, 0, 0, makeEnts(1, 1, 1, 1), makeEnts(4, 1))
		l.commitTo(tt.committed)
		assert.Equal(t, tt.want, l.maxAppliableIndex(tt.allowUnstable), "%+v", tt)
	}
}

func TestLogSnapshot(t *testing.T) {
	l, fs := newFaultyTestLog(t, 5, 2, nil, nil)
	snap, err := l.snapshot()
	require.NoError(t, err)
	assert.Equal(t, uint64(5), snap.Metadata.Index)

	fs.snapErr = ErrSnapshotTemporarilyUnavailable
	_, err = l.snapshot()
	assert.Equal(t, ErrSnapshotTemporarilyUnavailable, err)

	unstableSnap := pb.Snapshot{Metadata: pb.SnapshotMetadata{Index: 9, Term: 3}}
	l.restore(unstableSnap)
	snap, err = l.snapshot()
	require.NoError(t, err, "the unstable snapshot does not need Storage")
	assert.Equal(t, unstableSnap, snap)
}

func TestLogIndexPanicsOnStorageFailure(t *testing.T) {
	l, fs := newFaultyTestLog(t, 0, 0, makeEnts(1, 1), nil)
	fs.firstErr = errDisk
	assert.PanicsWithValue(t, "raft: reading the first index from storage: disk on fire", func() { l.firstIndex() })
	fs.lastErr = errDisk
	assert.PanicsWithValue(t, "raft: reading the last index from storage: disk on fire", func() { l.lastIndex() })

	l, fs = newFaultyTestLog(t, 0, 0, makeEnts(1, 1), nil)
	fs.termErr = errDisk
	assert.PanicsWithValue(t, "raft: reading the term of the last entry 1: disk on fire", func() { l.lastTerm() })
}

func TestLogTerm(t *testing.T) {
	// Snapshot at (3, 3); entries 4, 5 stored and 6, 7 unstable.
	l := newTestLog(t, 3, 3, makeEnts(4, 4, 5), makeEnts(6, 6, 7))
	for _, tt := range []struct {
		i    uint64
		want uint64
		err  error
	}{
		{0, 0, ErrCompacted},
		{2, 0, ErrCompacted},
		{3, 3, nil},
		{4, 4, nil},
		{5, 5, nil},
		{6, 6, nil},
		{7, 7, nil},
		{8, 0, ErrUnavailable},
		{math.MaxUint64, 0, ErrUnavailable},
	} {
		t.Run(fmt.Sprint(tt.i), func(t *testing.T) {
			term, err := l.term(tt.i)
			assert.Equal(t, tt.err, err)
			assert.Equal(t, tt.want, term)
		})
	}

	t.Run("unstable snapshot", func(t *testing.T) {
		l := newTestLog(t, 3, 3, makeEnts(4, 4, 5), nil)
		l.restore(pb.Snapshot{Metadata: pb.SnapshotMetadata{Index: 10, Term: 6}})
		l.append(makeEnts(11, 6)...)
		for _, tt := range []struct {
			i    uint64
			want uint64
			err  error
		}{
			{4, 0, ErrCompacted}, // Storage still has it, but the snapshot supersedes it
			{9, 0, ErrCompacted},
			{10, 6, nil},
			{11, 6, nil},
			{12, 0, ErrUnavailable},
		} {
			term, err := l.term(tt.i)
			assert.Equal(t, tt.err, err, "index %d", tt.i)
			assert.Equal(t, tt.want, term, "index %d", tt.i)
		}
	})

	t.Run("storage errors", func(t *testing.T) {
		l, fs := newFaultyTestLog(t, 3, 3, makeEnts(4, 4, 5), nil)
		for _, tt := range []struct {
			storageErr error
			want       error
		}{
			{fmt.Errorf("raced: %w", ErrCompacted), ErrCompacted},
			{fmt.Errorf("raced: %w", ErrUnavailable), ErrUnavailable},
			{errDisk, errDisk},
		} {
			fs.termErr = tt.storageErr
			_, err := l.term(4)
			assert.Equal(t, tt.want, err, "sentinels are returned unwrapped, others as they are")
		}
	})
}

func TestLogIsUpToDate(t *testing.T) {
	l := newTestLog(t, 0, 0, makeEnts(1, 1, 2), makeEnts(3, 3))
	for _, tt := range []struct {
		lastIndex, term uint64
		want            bool
	}{
		{2, 4, true}, // higher last term wins, whatever the length
		{3, 4, true},
		{4, 4, true},
		{2, 2, false}, // lower last term loses, whatever the length
		{3, 2, false},
		{4, 2, false},
		{2, 3, false}, // same last term: the longer log wins
		{3, 3, true},
		{4, 3, true},
	} {
		assert.Equal(t, tt.want, l.isUpToDate(tt.lastIndex, tt.term), "%+v", tt)
	}
}

func TestLogMatchTerm(t *testing.T) {
	l := newTestLog(t, 1, 1, makeEnts(2, 2), makeEnts(3, 3))
	for _, tt := range []struct {
		i, term uint64
		want    bool
	}{
		{0, 0, false}, // compacted
		{1, 1, true},
		{1, 2, false},
		{2, 2, true},
		{3, 3, true},
		{3, 2, false},
		{4, 0, false}, // beyond the log
	} {
		assert.Equal(t, tt.want, l.matchTerm(tt.i, tt.term), "%+v", tt)
	}
}

func TestLogMaybeCommit(t *testing.T) {
	for _, tt := range []struct {
		maxIndex, term uint64
		want           bool
		wantCommitted  uint64
	}{
		{3, 3, true, 3},
		{2, 2, true, 2},
		{3, 2, false, 1},  // paper §5.4.2: not an entry of that term
		{1, 1, false, 1},  // not an advance
		{4, 3, false, 1},  // beyond the log: unknown term never matches
		{0, 0, false, 1},  // no leader has term 0
		{2, 0, false, 1},  // even if the index looks valid
		{3, 4, false, 1},  // newer term than the entry
		{2, 3, false, 1},  // term of a different index
		{3, 30, false, 1}, // nonsense term
	} {
		l := newTestLog(t, 0, 0, makeEnts(1, 1, 2), makeEnts(3, 3))
		l.commitTo(1)
		assert.Equal(t, tt.want, l.maybeCommit(tt.maxIndex, tt.term), "%+v", tt)
		assert.Equal(t, tt.wantCommitted, l.committed, "%+v", tt)
	}
}

func TestLogCommitTo(t *testing.T) {
	for _, tt := range []struct{ to, want uint64 }{
		{3, 3},
		{2, 2},
		{1, 2}, // never decreases
		{0, 2},
	} {
		l := newTestLog(t, 0, 0, makeEnts(1, 1, 2), makeEnts(3, 3))
		l.commitTo(2)
		l.commitTo(tt.to)
		assert.Equal(t, tt.want, l.committed, "commitTo(%d)", tt.to)
	}
	l := newTestLog(t, 0, 0, makeEnts(1, 1, 2), makeEnts(3, 3))
	assert.PanicsWithValue(t, "raft: commit index 4 is beyond last index 3; was the log lost or corrupted?", func() {
		l.commitTo(4)
	})
}

func TestLogRestore(t *testing.T) {
	l := newTestLog(t, 0, 0, makeEnts(1, 1, 1), makeEnts(3, 1))
	l.commitTo(2)
	snap := pb.Snapshot{Metadata: pb.SnapshotMetadata{Index: 100, Term: 5}}
	l.restore(snap)
	assert.Equal(t, uint64(100), l.committed)
	assert.Equal(t, uint64(101), l.unstable.offset)
	assert.Equal(t, uint64(101), l.firstIndex())
	assert.Equal(t, uint64(100), l.lastIndex())
	assert.Empty(t, l.allEntries())
	term, err := l.term(100)
	require.NoError(t, err)
	assert.Equal(t, uint64(5), term)
	assert.Equal(t, uint64(0), l.applied, "applying the snapshot is reported separately")
}

func TestLogZeroTermOnOutOfBounds(t *testing.T) {
	l := newTestLog(t, 0, 0, nil, nil)
	for _, tt := range []struct {
		term uint64
		err  error
		want uint64
	}{
		{5, nil, 5},
		{5, ErrCompacted, 0},
		{5, ErrUnavailable, 0},
		{5, fmt.Errorf("wrapped: %w", ErrUnavailable), 0},
	} {
		assert.Equal(t, tt.want, l.zeroTermOnOutOfBounds(tt.term, tt.err), "%v", tt.err)
	}
	assert.PanicsWithValue(t, "raft: unexpected error reading a term: disk on fire", func() {
		l.zeroTermOnOutOfBounds(5, errDisk)
	})
}
