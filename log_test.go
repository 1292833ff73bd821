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

// ltFaultyStorage is a MemoryStorage whose methods can be made to fail, and
// which counts reads of entries.
type ltFaultyStorage struct {
	*MemoryStorage
	firstErr, lastErr, termErr, snapErr error
	// entries, if set, replaces MemoryStorage.Entries.
	entries      func(lo, hi, maxSize uint64) ([]pb.Entry, error)
	entriesCalls int
}

func (s *ltFaultyStorage) FirstIndex() (uint64, error) {
	if s.firstErr != nil {
		return 0, s.firstErr
	}
	return s.MemoryStorage.FirstIndex()
}

func (s *ltFaultyStorage) LastIndex() (uint64, error) {
	if s.lastErr != nil {
		return 0, s.lastErr
	}
	return s.MemoryStorage.LastIndex()
}

func (s *ltFaultyStorage) Term(i uint64) (uint64, error) {
	if s.termErr != nil {
		return 0, s.termErr
	}
	return s.MemoryStorage.Term(i)
}

func (s *ltFaultyStorage) Snapshot() (pb.Snapshot, error) {
	if s.snapErr != nil {
		return pb.Snapshot{}, s.snapErr
	}
	return s.MemoryStorage.Snapshot()
}

func (s *ltFaultyStorage) Entries(lo, hi, maxSize uint64) ([]pb.Entry, error) {
	s.entriesCalls++
	if s.entries != nil {
		return s.entries(lo, hi, maxSize)
	}
	return s.MemoryStorage.Entries(lo, hi, maxSize)
}

// ltLog returns a log over a storage holding a snapshot at (snapIndex,
// snapTerm) and the entries stored, followed by the unstable entries.
func ltLog(t *testing.T, snapIndex, snapTerm uint64, stored, unstable []pb.Entry) *raftLog {
	t.Helper()
	l, err := newLog(ltStorage(t, snapIndex, snapTerm, stored))
	require.NoError(t, err)
	l.append(unstable...)
	return l
}

// ltFaultyLog is ltLog over an ltFaultyStorage, which it also returns.
func ltFaultyLog(t *testing.T, snapIndex, snapTerm uint64, stored, unstable []pb.Entry) (*raftLog, *ltFaultyStorage) {
	t.Helper()
	fs := &ltFaultyStorage{MemoryStorage: ltStorage(t, snapIndex, snapTerm, stored)}
	l, err := newLog(fs)
	require.NoError(t, err)
	l.append(unstable...)
	return l, fs
}

var errLtDisk = errors.New("disk on fire")

func TestNewLog(t *testing.T) {
	ms := ltStorage(t, 10, 2, ltEnts(11, 2, 3, 3))
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

	fs := &ltFaultyStorage{MemoryStorage: NewMemoryStorage(), firstErr: errLtDisk}
	_, err = newLog(fs)
	assert.ErrorIs(t, err, errLtDisk)
	assert.Contains(t, err.Error(), "first index")

	fs = &ltFaultyStorage{MemoryStorage: NewMemoryStorage(), lastErr: errLtDisk}
	_, err = newLog(fs)
	assert.ErrorIs(t, err, errLtDisk)
	assert.Contains(t, err.Error(), "last index")
}

func TestLogString(t *testing.T) {
	l := ltLog(t, 3, 1, ltEnts(4, 1), ltEnts(5, 1, 1))
	l.commitTo(5)
	l.acceptApplying(4, 6, true)
	assert.Equal(t,
		"committed=5 applying=4 applied=3 unstable.offset=5 unstable.offsetInProgress=5 len(unstable.entries)=2",
		l.String())
}

func TestLogFindConflict(t *testing.T) {
	for _, tt := range []struct {
		name string
		ents []pb.Entry
		want uint64
	}{
		{"no entries", nil, 0},
		{"all present", ltEnts(1, 1, 2, 3), 0},
		{"suffix present", ltEnts(2, 2, 3), 0},
		{"last present", ltEnts(3, 3), 0},
		{"present then new", ltEnts(1, 1, 2, 3, 4, 4), 4},
		{"suffix then new", ltEnts(3, 3, 4), 4},
		{"only new", ltEnts(4, 4, 4), 4},
		{"conflict at first", ltEnts(1, 4, 4), 1},
		{"conflict in middle", ltEnts(2, 1, 4, 4), 2},
		{"conflict at last", ltEnts(3, 1, 4, 4), 3},
	} {
		t.Run(tt.name, func(t *testing.T) {
			l := ltLog(t, 0, 0, ltEnts(1, 1, 2), ltEnts(3, 3))
			assert.Equal(t, tt.want, l.findConflict(tt.ents))
		})
	}
}

func TestLogFindConflictByTerm(t *testing.T) {
	// Snapshot at (10, 3); entries 11..17 of terms 3 3 4 4 4 6 6, the last
	// three of them unstable.
	l := ltLog(t, 10, 3, ltEnts(11, 3, 3, 4, 4), ltEnts(15, 4, 6, 6))
	for _, tt := range []struct {
		index, term uint64
		wantIndex   uint64
		wantTerm    uint64
	}{
		{17, 6, 17, 6}, // same term: matches right away
		{17, 7, 17, 6}, // higher term: our entry may match
		{17, 5, 15, 4}, // skip the term-6 entries
		{17, 4, 15, 4},
		{16, 4, 15, 4},
		{14, 4, 14, 4},
		{17, 3, 12, 3}, // skip terms 6 and 4
		{12, 10, 12, 3},
		{11, 3, 11, 3},
		{10, 3, 10, 3}, // the snapshot's term is known
		{17, 2, 9, 0},  // everything known is newer; 9 is compacted: unknown
		{10, 2, 9, 0},
		{20, 6, 20, 0}, // beyond the log: unknown (callers clamp first)
	} {
		t.Run(fmt.Sprintf("%d/%d", tt.index, tt.term), func(t *testing.T) {
			index, term := l.findConflictByTerm(tt.index, tt.term)
			assert.Equal(t, tt.wantIndex, index, "index")
			assert.Equal(t, tt.wantTerm, term, "term")
		})
	}

	// From the start of an uncompacted log, the search can reach index 0,
	// whose term is 0.
	l = ltLog(t, 0, 0, ltEnts(1, 2, 2, 3), nil)
	for _, tt := range []struct{ index, term, wantIndex, wantTerm uint64 }{
		{3, 2, 2, 2},
		{3, 1, 0, 0},
		{3, 0, 0, 0},
		{0, 0, 0, 0},
	} {
		index, term := l.findConflictByTerm(tt.index, tt.term)
		assert.Equal(t, tt.wantIndex, index, "%d/%d index", tt.index, tt.term)
		assert.Equal(t, tt.wantTerm, term, "%d/%d term", tt.index, tt.term)
	}
}

func TestLogMaybeAppend(t *testing.T) {
	for _, tt := range []struct {
		name                string
		prevIndex, prevTerm uint64
		committed           uint64
		ents                []pb.Entry
		wantLastNew         uint64
		wantOK              bool
		wantCommitted       uint64
		wantLog             []pb.Entry
	}{
		{
			name:      "prev term mismatch",
			prevIndex: 3, prevTerm: 2, committed: 3, ents: ltEnts(4, 4),
			wantCommitted: 1, wantLog: ltEnts(1, 1, 2, 3),
		},
		{
			name:      "prev index beyond log",
			prevIndex: 4, prevTerm: 3, committed: 3, ents: ltEnts(5, 4),
			wantCommitted: 1, wantLog: ltEnts(1, 1, 2, 3),
		},
		{
			name:      "heartbeat-like, commit follows leader",
			prevIndex: 3, prevTerm: 3, committed: 3,
			wantLastNew: 3, wantOK: true, wantCommitted: 3, wantLog: ltEnts(1, 1, 2, 3),
		},
		{
			name:      "commit capped at last new entry",
			prevIndex: 2, prevTerm: 2, committed: 3,
			wantLastNew: 2, wantOK: true, wantCommitted: 2, wantLog: ltEnts(1, 1, 2, 3),
		},
		{
			name:      "append one, commit it",
			prevIndex: 3, prevTerm: 3, committed: 4, ents: ltEnts(4, 4),
			wantLastNew: 4, wantOK: true, wantCommitted: 4, wantLog: ltEnts(1, 1, 2, 3, 4),
		},
		{
			name:      "append two, commit one",
			prevIndex: 3, prevTerm: 3, committed: 4, ents: ltEnts(4, 4, 4),
			wantLastNew: 5, wantOK: true, wantCommitted: 4, wantLog: ltEnts(1, 1, 2, 3, 4, 4),
		},
		{
			name:      "existing entries then new",
			prevIndex: 1, prevTerm: 1, committed: 3, ents: ltEnts(2, 2, 3, 4),
			wantLastNew: 4, wantOK: true, wantCommitted: 3, wantLog: ltEnts(1, 1, 2, 3, 4),
		},
		{
			name:      "conflict replaces the suffix",
			prevIndex: 2, prevTerm: 2, committed: 3, ents: ltEnts(3, 4),
			wantLastNew: 3, wantOK: true, wantCommitted: 3, wantLog: ltEnts(1, 1, 2, 4),
		},
		{
			name:      "conflict right after commit",
			prevIndex: 1, prevTerm: 1, committed: 2, ents: ltEnts(2, 4, 4),
			wantLastNew: 3, wantOK: true, wantCommitted: 2, wantLog: ltEnts(1, 1, 4, 4),
		},
		{
			// A stale request whose entries we already have must not
			// truncate what follows them.
			name:      "stale duplicate keeps the tail",
			prevIndex: 1, prevTerm: 1, committed: 1, ents: ltEnts(2, 2),
			wantLastNew: 2, wantOK: true, wantCommitted: 1, wantLog: ltEnts(1, 1, 2, 3),
		},
		{
			name:      "from the very start",
			prevIndex: 0, prevTerm: 0, committed: 3, ents: ltEnts(1, 1),
			wantLastNew: 1, wantOK: true, wantCommitted: 1, wantLog: ltEnts(1, 1, 2, 3),
		},
		{
			name:      "leader commit below ours is ignored",
			prevIndex: 3, prevTerm: 3, committed: 0,
			wantLastNew: 3, wantOK: true, wantCommitted: 1, wantLog: ltEnts(1, 1, 2, 3),
		},
	} {
		t.Run(tt.name, func(t *testing.T) {
			l := ltLog(t, 0, 0, ltEnts(1, 1, 2), ltEnts(3, 3))
			l.commitTo(1)
			lastNew, ok := l.maybeAppend(tt.prevIndex, tt.prevTerm, tt.committed, tt.ents)
			assert.Equal(t, tt.wantOK, ok)
			assert.Equal(t, tt.wantLastNew, lastNew)
			assert.Equal(t, tt.wantCommitted, l.committed)
			assert.Equal(t, tt.wantLog, l.allEntries())
		})
	}

	l := ltLog(t, 0, 0, ltEnts(1, 1, 2), ltEnts(3, 3))
	l.commitTo(2)
	assert.PanicsWithValue(t, "raft: entry 2 conflicts with a committed entry (committed=2)", func() {
		l.maybeAppend(1, 1, 3, ltEnts(2, 4))
	})
}

func TestLogAppend(t *testing.T) {
	for _, tt := range []struct {
		name         string
		ents         []pb.Entry
		wantLast     uint64
		wantLog      []pb.Entry
		wantUnstable uint64 // unstable.offset afterwards
	}{
		{"nothing", nil, 2, ltEnts(1, 1, 2), 3},
		{"extend", ltEnts(3, 2), 3, ltEnts(1, 1, 2, 2), 3},
		{"replace everything", ltEnts(1, 2), 1, ltEnts(1, 2), 1},
		{"replace a stored suffix", ltEnts(2, 3, 3), 3, ltEnts(1, 1, 3, 3), 2},
	} {
		t.Run(tt.name, func(t *testing.T) {
			l := ltLog(t, 0, 0, ltEnts(1, 1, 2), nil)
			assert.Equal(t, tt.wantLast, l.append(tt.ents...))
			assert.Equal(t, tt.wantLog, l.allEntries())
			assert.Equal(t, tt.wantUnstable, l.unstable.offset)
			stored, _ := l.storage.LastIndex()
			assert.Equal(t, uint64(2), stored, "append must not write to Storage")
		})
	}

	l := ltLog(t, 0, 0, ltEnts(1, 1, 2), nil)
	l.commitTo(1)
	assert.PanicsWithValue(t, "raft: appending after index 0 would overwrite committed entries (committed=1)", func() {
		l.append(ltEnts(1, 3)...)
	})
}

// The wrappers around unstable, over one write cycle of entries and one of
// a snapshot.
func TestLogUnstableCycle(t *testing.T) {
	l := ltLog(t, 0, 0, ltEnts(1, 1), nil)
	assert.False(t, l.hasNextUnstableEnts())
	assert.False(t, l.hasNextOrInProgressUnstableEnts())
	assert.Nil(t, l.nextUnstableEnts())

	l.append(ltEnts(2, 1, 1)...)
	assert.True(t, l.hasNextUnstableEnts())
	assert.True(t, l.hasNextOrInProgressUnstableEnts())
	assert.Equal(t, ltEnts(2, 1, 1), l.nextUnstableEnts())

	l.acceptUnstable()
	assert.False(t, l.hasNextUnstableEnts())
	assert.True(t, l.hasNextOrInProgressUnstableEnts())

	l.append(ltEnts(4, 1)...)
	assert.Equal(t, ltEnts(4, 1), l.nextUnstableEnts(), "only entries not yet handed out")

	l.stableTo(3, 1)
	assert.Equal(t, uint64(4), l.unstable.offset)
	l.stableTo(3, 1) // a repeated ack is harmless
	assert.Equal(t, uint64(4), l.unstable.offset)
	l.acceptUnstable()
	l.stableTo(4, 1)
	assert.False(t, l.hasNextOrInProgressUnstableEnts())

	assert.False(t, l.hasNextUnstableSnapshot())
	assert.False(t, l.hasNextOrInProgressSnapshot())
	assert.Nil(t, l.nextUnstableSnapshot())

	snap := pb.Snapshot{Metadata: pb.SnapshotMetadata{Index: 10, Term: 2}}
	l.restore(snap)
	assert.Equal(t, uint64(10), l.committed)
	assert.True(t, l.hasNextUnstableSnapshot())
	assert.True(t, l.hasNextOrInProgressSnapshot())
	assert.Equal(t, &snap, l.nextUnstableSnapshot())
	assert.Equal(t, uint64(11), l.firstIndex())
	assert.Equal(t, uint64(10), l.lastIndex())
	assert.Equal(t, uint64(2), l.lastTerm())

	l.acceptUnstable()
	assert.False(t, l.hasNextUnstableSnapshot())
	assert.True(t, l.hasNextOrInProgressSnapshot())

	l.stableSnapTo(9) // stale
	assert.True(t, l.hasNextOrInProgressSnapshot())
	l.stableSnapTo(10)
	assert.False(t, l.hasNextOrInProgressSnapshot())
}

func TestLogNextCommittedEnts(t *testing.T) {
	// Snapshot at 3; entries 4 and 5 stored, 6 unstable.
	ents := ltEnts(4, 1, 1, 1)
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
			l := ltLog(t, 3, 1, ents[:2], ents[2:])
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
		l, fs := ltFaultyLog(t, 3, 1, ents[:2], nil)
		l.commitTo(5)
		fs.entries = func(lo, hi, maxSize uint64) ([]pb.Entry, error) { return nil, errLtDisk }
		msg := ltPanicMessage(func() { l.nextCommittedEnts(false) })
		assert.True(t, strings.HasPrefix(msg, "raft: reading committed entries [4, 6) to apply: "), msg)
		assert.Contains(t, msg, errLtDisk.Error())
	})
}

// nextCommittedEnts, acceptApplying and appliedTo together keep the bytes
// being applied within maxApplyingEntsSize, while always making progress.
func TestLogApplyPacing(t *testing.T) {
	const n = 10
	ents := ltEntsWithData(1, 1, n, 100)
	entSize := entsSize(ents[:1])

	newPacedLog := func(t *testing.T, maxBytes uint64) *raftLog {
		l, err := newLogWithSize(ltStorage(t, 0, 0, ents), maxBytes)
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
	l := ltLog(t, 0, 0, ltEnts(1, 1, 1, 1), nil)
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
		l := ltLog(t, 0, 0, ltEnts(1, 1, 1, 1), ltEnts(4, 1))
		l.commitTo(tt.committed)
		assert.Equal(t, tt.want, l.maxAppliableIndex(tt.allowUnstable), "%+v", tt)
	}
}

func TestLogSnapshot(t *testing.T) {
	l, fs := ltFaultyLog(t, 5, 2, nil, nil)
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
	l, fs := ltFaultyLog(t, 0, 0, ltEnts(1, 1), nil)
	fs.firstErr = errLtDisk
	assert.PanicsWithValue(t, "raft: reading the first index from storage: disk on fire", func() { l.firstIndex() })
	fs.lastErr = errLtDisk
	assert.PanicsWithValue(t, "raft: reading the last index from storage: disk on fire", func() { l.lastIndex() })

	l, fs = ltFaultyLog(t, 0, 0, ltEnts(1, 1), nil)
	fs.termErr = errLtDisk
	assert.PanicsWithValue(t, "raft: reading the term of the last entry 1: disk on fire", func() { l.lastTerm() })
}

func TestLogTerm(t *testing.T) {
	// Snapshot at (3, 3); entries 4, 5 stored and 6, 7 unstable.
	l := ltLog(t, 3, 3, ltEnts(4, 4, 5), ltEnts(6, 6, 7))
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
		l := ltLog(t, 3, 3, ltEnts(4, 4, 5), nil)
		l.restore(pb.Snapshot{Metadata: pb.SnapshotMetadata{Index: 10, Term: 6}})
		l.append(ltEnts(11, 6)...)
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
		l, fs := ltFaultyLog(t, 3, 3, ltEnts(4, 4, 5), nil)
		for _, tt := range []struct {
			storageErr error
			want       error
		}{
			{fmt.Errorf("raced: %w", ErrCompacted), ErrCompacted},
			{fmt.Errorf("raced: %w", ErrUnavailable), ErrUnavailable},
			{errLtDisk, errLtDisk},
		} {
			fs.termErr = tt.storageErr
			_, err := l.term(4)
			assert.Equal(t, tt.want, err, "sentinels are returned unwrapped, others as they are")
		}
	})
}

func TestLogEntries(t *testing.T) {
	ents := ltEntsWithData(4, 1, 4, 10)
	l := ltLog(t, 3, 1, ents[:2], ents[2:])
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
	l := ltLog(t, 3, 1, ltEnts(4, 1, 2), ltEnts(6, 2))
	assert.Equal(t, ltEnts(4, 1, 2, 2), l.allEntries())

	// Storage compacted between reading the first index and the entries:
	// the read is retried from the new first index.
	l, fs := ltFaultyLog(t, 3, 1, ltEnts(4, 1, 2), ltEnts(6, 2))
	fs.entries = func(lo, hi, maxSize uint64) ([]pb.Entry, error) {
		fs.entries = nil
		require.NoError(t, fs.Compact(4))
		return nil, ErrCompacted
	}
	assert.Equal(t, ltEnts(5, 2, 2), l.allEntries())
	assert.Equal(t, 2, fs.entriesCalls)

	fs.entries = func(lo, hi, maxSize uint64) ([]pb.Entry, error) { return nil, errLtDisk }
	msg := ltPanicMessage(func() { l.allEntries() })
	assert.True(t, strings.HasPrefix(msg, "raft: reading all entries: "), msg)
}

func TestLogIsUpToDate(t *testing.T) {
	l := ltLog(t, 0, 0, ltEnts(1, 1, 2), ltEnts(3, 3))
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
	l := ltLog(t, 1, 1, ltEnts(2, 2), ltEnts(3, 3))
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
		{3, 2, false, 1},  // §5.4.2: not an entry of that term
		{1, 1, false, 1},  // not an advance
		{4, 3, false, 1},  // beyond the log: unknown term never matches
		{0, 0, false, 1},  // no leader has term 0
		{2, 0, false, 1},  // even if the index looks valid
		{3, 4, false, 1},  // newer term than the entry
		{2, 3, false, 1},  // term of a different index
		{3, 30, false, 1}, // nonsense term
	} {
		l := ltLog(t, 0, 0, ltEnts(1, 1, 2), ltEnts(3, 3))
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
		l := ltLog(t, 0, 0, ltEnts(1, 1, 2), ltEnts(3, 3))
		l.commitTo(2)
		l.commitTo(tt.to)
		assert.Equal(t, tt.want, l.committed, "commitTo(%d)", tt.to)
	}
	l := ltLog(t, 0, 0, ltEnts(1, 1, 2), ltEnts(3, 3))
	assert.PanicsWithValue(t, "raft: commit index 4 is beyond last index 3; was the log lost or corrupted?", func() {
		l.commitTo(4)
	})
}

func TestLogRestore(t *testing.T) {
	l := ltLog(t, 0, 0, ltEnts(1, 1, 1), ltEnts(3, 1))
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

func TestLogSlice(t *testing.T) {
	// Snapshot at 3; entries 4..6 stored, 7..9 unstable; 18 bytes each.
	ents := ltEntsWithData(4, 1, 6, 10)
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
			l := ltLog(t, 3, 1, ents[:3], ents[3:])
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
		l := ltLog(t, 3, 1, ents[:3], ents[3:])
		assert.PanicsWithValue(t, tt.msg, func() { _, _ = l.slice(tt.lo, tt.hi, math.MaxUint64) })
	}
}

// The joined result of slice must not share memory that Storage or the
// unstable log will write, and writing into it must not reach them.
func TestLogSliceDoesNotAlias(t *testing.T) {
	l := ltLog(t, 0, 0, ltEnts(1, 1, 1), ltEnts(3, 1, 1))
	got, err := l.slice(1, 5, math.MaxUint64)
	require.NoError(t, err)
	for i := range got {
		got[i].Term = 99
	}
	got = append(got, pb.Entry{Index: 5, Term: 99})
	_ = got
	assert.Equal(t, ltEnts(1, 1, 1, 1, 1), l.allEntries())
	l.append(ltEnts(5, 1)...)
	assert.Equal(t, ltEnts(1, 1, 1, 1, 1, 1), l.allEntries())

	// A Storage that hands out spare capacity (allowed: the caller owns it)
	// gets the unstable entries appended in place, and only there.
	l, fs := ltFaultyLog(t, 0, 0, ltEnts(1, 1, 1), ltEnts(3, 1, 1))
	owned := make([]pb.Entry, 2, 10)
	fs.entries = func(lo, hi, maxSize uint64) ([]pb.Entry, error) {
		copy(owned, ltEnts(1, 1, 1))
		return owned, nil
	}
	got, err = l.slice(1, 5, math.MaxUint64)
	require.NoError(t, err)
	assert.Equal(t, ltEnts(1, 1, 1, 1, 1), got)
	assert.Same(t, &owned[0], &got[0])
	got[3].Term = 99
	assert.Equal(t, ltEnts(3, 1, 1), l.unstable.entries)
}

func TestLogSliceReadsStorageOnlyWhenNeeded(t *testing.T) {
	l, fs := ltFaultyLog(t, 0, 0, ltEnts(1, 1, 1), ltEnts(3, 1, 1))
	_, err := l.slice(3, 5, math.MaxUint64)
	require.NoError(t, err)
	assert.Zero(t, fs.entriesCalls, "unstable-only range must not read Storage")

	// The stored part is cut by the limit: unstable is not consulted, which
	// shows as the result ending inside Storage.
	got, err := l.slice(1, 5, 0)
	require.NoError(t, err)
	assert.Equal(t, ltEnts(1, 1), got)
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
		{errLtDisk, func(t *testing.T, err error) {
			assert.ErrorIs(t, err, errLtDisk)
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
	l := ltLog(t, 3, 1, ltEnts(4, 1, 1), ltEnts(6, 1))
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

func TestLogZeroTermOnOutOfBounds(t *testing.T) {
	l := ltLog(t, 0, 0, nil, nil)
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
		l.zeroTermOnOutOfBounds(5, errLtDisk)
	})
}

func TestLogScan(t *testing.T) {
	// Snapshot at 3; entries 4..8 stored, 9..13 unstable.
	ents := ltEntsWithData(4, 1, 10, 10)
	one := entsSize(ents[:1])
	newScanLog := func(t *testing.T) (*raftLog, *ltFaultyStorage) {
		return ltFaultyLog(t, 3, 1, ents[:5], ents[5:])
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
		fs.entries = func(lo, hi, maxSize uint64) ([]pb.Entry, error) { return nil, errLtDisk }
		err := l.scan(4, 14, one, func([]pb.Entry) error { return nil })
		assert.ErrorIs(t, err, errLtDisk)
		assert.Equal(t, ErrCompacted, l.scan(3, 14, one, func([]pb.Entry) error { return nil }))
	})

	t.Run("storage returning nothing", func(t *testing.T) {
		l, fs := newScanLog(t)
		fs.entries = func(lo, hi, maxSize uint64) ([]pb.Entry, error) { return nil, nil }
		err := l.scan(4, 14, one, func([]pb.Entry) error { return nil })
		assert.EqualError(t, err, "raft: scanning [4, 14): storage returned no entries")
	})
}
