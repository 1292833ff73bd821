package raft

// Tests of appending to the raftLog: finding the conflicting entry (by index
// and by term), maybeAppend and append, and the wrappers around the unstable
// tail.

import (
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"

	pb "github.com/pontoon-raft/raft/raftpb"
)

func TestLogFindConflict(t *testing.T) {
	for _, tt := range []struct {
		name string
		ents []pb.Entry
		want uint64
	}{
		{"no entries", nil, 0},
		{"all present", makeEnts(1, 1, 2, 3), 0},
		{"suffix present", makeEnts(2, 2, 3), 0},
		{"last present", makeEnts(3, 3), 0},
		{"present then new", makeEnts(1, 1, 2, 3, 4, 4), 4},
		{"suffix then new", makeEnts(3, 3, 4), 4},
		{"only new", makeEnts(4, 4, 4), 4},
		{"conflict at first", makeEnts(1, 4, 4), 1},
		{"conflict in middle", makeEnts(2, 1, 4, 4), 2},
		{"conflict at last", makeEnts(3, 1, 4, 4), 3},
	} {
		t.Run(tt.name, func(t *testing.T) {
			l := newTestLog(t, 0, 0, makeEnts(1, 1, 2), makeEnts(3, 3))
			assert.Equal(t, tt.want, l.findConflict(tt.ents))
		})
	}
}

func TestLogFindConflictByTerm(t *testing.T) {
	// Snapshot at (10, 3); entries 11..17 of terms 3 3 4 4 4 6 6, the last
	// three of them unstable.
	l := newTestLog(t, 10, 3, makeEnts(11, 3, 3, 4, 4), makeEnts(15, 4, 6, 6))
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
	l = newTestLog(t, 0, 0, makeEnts(1, 2, 2, 3), nil)
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
			prevIndex: 3, prevTerm: 2, committed: 3, ents: makeEnts(4, 4),
			wantCommitted: 1, wantLog: makeEnts(1, 1, 2, 3),
		},
		{
			name:      "prev index beyond log",
			prevIndex: 4, prevTerm: 3, committed: 3, ents: makeEnts(5, 4),
			wantCommitted: 1, wantLog: makeEnts(1, 1, 2, 3),
		},
		{
			name:      "heartbeat-like, commit follows leader",
			prevIndex: 3, prevTerm: 3, committed: 3,
			wantLastNew: 3, wantOK: true, wantCommitted: 3, wantLog: makeEnts(1, 1, 2, 3),
		},
		{
			name:      "commit capped at last new entry",
			prevIndex: 2, prevTerm: 2, committed: 3,
			wantLastNew: 2, wantOK: true, wantCommitted: 2, wantLog: makeEnts(1, 1, 2, 3),
		},
		{
			name:      "append one, commit it",
			prevIndex: 3, prevTerm: 3, committed: 4, ents: makeEnts(4, 4),
			wantLastNew: 4, wantOK: true, wantCommitted: 4, wantLog: makeEnts(1, 1, 2, 3, 4),
		},
		{
			name:      "append two, commit one",
			prevIndex: 3, prevTerm: 3, committed: 4, ents: makeEnts(4, 4, 4),
			wantLastNew: 5, wantOK: true, wantCommitted: 4, wantLog: makeEnts(1, 1, 2, 3, 4, 4),
		},
		{
			name:      "existing entries then new",
			prevIndex: 1, prevTerm: 1, committed: 3, ents: makeEnts(2, 2, 3, 4),
			wantLastNew: 4, wantOK: true, wantCommitted: 3, wantLog: makeEnts(1, 1, 2, 3, 4),
		},
		{
			name:      "conflict replaces the suffix",
			prevIndex: 2, prevTerm: 2, committed: 3, ents: makeEnts(3, 4),
			wantLastNew: 3, wantOK: true, wantCommitted: 3, wantLog: makeEnts(1, 1, 2, 4),
		},
		{
			name:      "conflict right after commit",
			prevIndex: 1, prevTerm: 1, committed: 2, ents: makeEnts(2, 4, 4),
			wantLastNew: 3, wantOK: true, wantCommitted: 2, wantLog: makeEnts(1, 1, 4, 4),
		},
		{
			// A stale request whose entries we already have must not
			// truncate what follows them.
			name:      "stale duplicate keeps the tail",
			prevIndex: 1, prevTerm: 1, committed: 1, ents: makeEnts(2, 2),
			wantLastNew: 2, wantOK: true, wantCommitted: 1, wantLog: makeEnts(1, 1, 2, 3),
		},
		{
			name:      "from the very start",
			prevIndex: 0, prevTerm: 0, committed: 3, ents: makeEnts(1, 1),
			wantLastNew: 1, wantOK: true, wantCommitted: 1, wantLog: makeEnts(1, 1, 2, 3),
		},
		{
			name:      "leader commit below ours is ignored",
			prevIndex: 3, prevTerm: 3, committed: 0,
			wantLastNew: 3, wantOK: true, wantCommitted: 1, wantLog: makeEnts(1, 1, 2, 3),
		},
	} {
		t.Run(tt.name, func(t *testing.T) {
			l := newTestLog(t, 0, 0, makeEnts(1, 1, 2), makeEnts(3, 3))
			l.commitTo(1)
			lastNew, ok := l.maybeAppend(tt.prevIndex, tt.prevTerm, tt.committed, tt.ents)
			assert.Equal(t, tt.wantOK, ok)
			assert.Equal(t, tt.wantLastNew, lastNew)
			assert.Equal(t, tt.wantCommitted, l.committed)
			assert.Equal(t, tt.wantLog, l.allEntries())
		})
	}

	l := newTestLog(t, 0, 0, makeEnts(1, 1, 2), makeEnts(3, 3))
	l.commitTo(2)
	assert.PanicsWithValue(t, "raft: entry 2 conflicts with a committed entry (committed=2)", func() {
		l.maybeAppend(1, 1, 3, makeEnts(2, 4))
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
		{"nothing", nil, 2, makeEnts(1, 1, 2), 3},
		{"extend", makeEnts(3, 2), 3, makeEnts(1, 1, 2, 2), 3},
		{"replace everything", makeEnts(1, 2), 1, makeEnts(1, 2), 1},
		{"replace a stored suffix", makeEnts(2, 3, 3), 3, makeEnts(1, 1, 3, 3), 2},
	} {
		t.Run(tt.name, func(t *testing.T) {
			l := newTestLog(t, 0, 0, makeEnts(1, 1, 2), nil)
			assert.Equal(t, tt.wantLast, l.append(tt.ents...))
			assert.Equal(t, tt.wantLog, l.allEntries())
			assert.Equal(t, tt.wantUnstable, l.unstable.offset)
			stored, _ := l.storage.LastIndex()
			assert.Equal(t, uint64(2), stored, "append must not write to Storage")
		})
	}

	l := newTestLog(t, 0, 0, makeEnts(1, 1, 2), nil)
	l.commitTo(1)
	assert.PanicsWithValue(t, "raft: appending after index 0 would overwrite committed entries (committed=1)", func() {
		l.append(makeEnts(1, 3)...)
	})
}

// The wrappers around unstable, over one write cycle of entries and one of
// a snapshot.
func TestLogUnstableCycle(t *testing.T) {
	l := newTestLog(t, 0, 0, makeEnts(1, 1), nil)
	assert.False(t, l.hasNextUnstableEnts())
	assert.False(t, l.hasNextOrInProgressUnstableEnts())
	assert.Nil(t, l.nextUnstableEnts())

	l.append(makeEnts(2, 1, 1)...)
	assert.True(t, l.hasNextUnstableEnts())
	assert.True(t, l.hasNextOrInProgressUnstableEnts())
	assert.Equal(t, makeEnts(2, 1, 1), l.nextUnstableEnts())

	l.acceptUnstable()
	assert.False(t, l.hasNextUnstableEnts())
	assert.True(t, l.hasNextOrInProgressUnstableEnts())

	l.append(makeEnts(4, 1)...)
	assert.Equal(t, makeEnts(4, 1), l.nextUnstableEnts(), "only entries not yet handed out")

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
