package wal_test

import (
	"fmt"
	"testing"

	pb "github.com/pontoon-raft/raft/raftpb"
	"github.com/pontoon-raft/raft/wal"
	"github.com/pontoon-raft/raft/wal/faultfs"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// busySave appends entry i (300 bytes) to group, recording a snapshot and
// compacting at it every fifth entry when compact is set.
func busySave(t *testing.T, e *wal.Engine, group, i uint64, compact bool) {
	t.Helper()
	u := wal.Update{Group: group, Entries: []pb.Entry{{Index: i, Term: 1, Data: make([]byte, 300)}},
		HardState: pb.HardState{Term: 1, Commit: i}}
	if compact && i%5 == 0 {
		u.LocalSnapshot = pb.Snapshot{Metadata: pb.SnapshotMetadata{Index: i, Term: 1}, Data: []byte("ref")}
		u.CompactIndex = i
	}
	require.NoError(t, e.Save([]wal.Update{u}))
}

func TestCompactedSegmentsAreDeleted(t *testing.T) {
	fs := faultfs.New(faultfs.Config{Seed: 1})
	e := openTest(t, fs)
	for i := uint64(1); i <= 500; i++ {
		busySave(t, e, 1, i, true)
		assert.LessOrEqual(t, len(segmentFiles(fs)), 3, "after entry %d", i)
	}
	st := e.Stats()
	assert.Greater(t, st.Rotations, uint64(30))
	assert.Equal(t, st.Rotations+1-uint64(st.Segments), st.SegmentsRemoved)
	e = reopen(t, e, fs)
	defer e.Close()
	first, _ := e.Storage(1).FirstIndex()
	assert.Equal(t, uint64(501), first)
}

// TestLaggingGroupIsCopiedForward: a group that wrote a little and never
// compacts would pin the oldest segment forever; its entries are copied
// forward so the segments behind it can go.
func TestLaggingGroupIsCopiedForward(t *testing.T) {
	fs := faultfs.New(faultfs.Config{Seed: 1})
	e := openTest(t, fs)
	var lagging []pb.Entry
	for i := uint64(1); i <= 3; i++ {
		lagging = append(lagging, pb.Entry{Index: i, Term: 4, Data: []byte(fmt.Sprint("lagging ", i))})
	}
	require.NoError(t, e.Save([]wal.Update{{Group: 7, Entries: lagging, HardState: pb.HardState{Term: 4, Commit: 3}}}))
	for i := uint64(1); i <= 500; i++ {
		busySave(t, e, 1, i, true)
		assert.LessOrEqual(t, len(segmentFiles(fs)), 3, "after entry %d", i)
	}
	st := e.Stats()
	assert.Positive(t, st.RewrittenEntries)
	assert.LessOrEqual(t, st.RewrittenBytes, st.Rotations*(4<<10)/4, "at most a quarter segment per rotation")
	check := func(e *wal.Engine) {
		got, err := e.Storage(7).Entries(1, 4, 1<<20)
		require.NoError(t, err)
		assert.Equal(t, lagging, got)
	}
	check(e)
	e = reopen(t, e, fs)
	defer e.Close()
	check(e)
}

// TestBusySegmentsAreNotCopied: a group that holds much of old segments
// keeps them; copying would cost more than it frees.
func TestBusySegmentsAreNotCopied(t *testing.T) {
	fs := faultfs.New(faultfs.Config{Seed: 1})
	e := openTest(t, fs)
	defer e.Close()
	for i := uint64(1); i <= 200; i++ {
		busySave(t, e, 1, i, false)
	}
	st := e.Stats()
	assert.Zero(t, st.RewrittenEntries)
	assert.Zero(t, st.SegmentsRemoved)
	assert.Equal(t, int(st.Rotations)+1, st.Segments)
}

func TestRecentEntriesNeedNoDiskRead(t *testing.T) {
	fs := faultfs.New(faultfs.Config{Seed: 1})
	e := openTest(t, fs) // tail cache of 8 entries, 1 KiB
	for i := uint64(1); i <= 20; i++ {
		require.NoError(t, e.Save([]wal.Update{{Group: 1, Entries: []pb.Entry{ent(i, 1, fmt.Sprint("entry ", i))}}}))
	}
	s := e.Storage(1)
	reads := func() uint64 { return e.Stats().DiskReads }
	before := reads()
	ents, err := s.Entries(13, 21, 1<<20)
	require.NoError(t, err)
	require.Len(t, ents, 8)
	assert.Equal(t, before, reads(), "the last 8 entries come from the cache")
	ents, err = s.Entries(10, 21, 1<<20)
	require.NoError(t, err)
	require.Len(t, ents, 11)
	assert.Equal(t, "entry 10", string(ents[0].Data))
	assert.Equal(t, "entry 20", string(ents[10].Data))
	assert.Equal(t, before+1, reads(), "older ones are read from disk")

	// A conflicting append replaces the cached suffix too.
	require.NoError(t, e.Save([]wal.Update{{Group: 1, Entries: []pb.Entry{ent(18, 2, "new 18")}}}))
	ents, err = s.Entries(17, 19, 1<<20)
	require.NoError(t, err)
	assert.Equal(t, []pb.Entry{ent(17, 1, "entry 17"), ent(18, 2, "new 18")}, ents)

	e = reopen(t, e, fs)
	defer e.Close()
	before = e.Stats().DiskReads
	_, err = e.Storage(1).Entries(18, 19, 1<<20)
	require.NoError(t, err)
	assert.Equal(t, before+1, e.Stats().DiskReads, "the cache starts empty after a restart")
}

// TestEntriesAreCheckedOnRead: damage that happens after recovery is
// reported by the read, never returned as data.
func TestEntriesAreCheckedOnRead(t *testing.T) {
	fs := faultfs.New(faultfs.Config{Seed: 1})
	e := openTest(t, fs)
	defer e.Close()
	for i := uint64(1); i <= 20; i++ {
		require.NoError(t, e.Save([]wal.Update{{Group: 1, Entries: []pb.Entry{ent(i, 1, "ABCDEFGHIJKLMNOPQRSTUVWXYZ")}}}))
	}
	name := segmentFiles(fs)[0]
	data, err := fs.ReadFile(name)
	require.NoError(t, err)
	off := int64(-1)
	for k := range data {
		if string(data[k:k+26]) == "ABCDEFGHIJKLMNOPQRSTUVWXYZ" {
			off = int64(k) // the data of entry 1
			break
		}
	}
	require.GreaterOrEqual(t, off, int64(0))
	require.NoError(t, fs.FlipBit(name, off+3, 0))
	_, err = e.Storage(1).Entries(1, 2, 1<<20)
	assert.ErrorIs(t, err, wal.ErrCorrupt)
	assert.Contains(t, err.Error(), "checksum")
}
