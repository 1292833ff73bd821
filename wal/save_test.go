package wal_test

import (
	"errors"
	"fmt"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"

	"github.com/pontoon-raft/raft"
	pb "github.com/pontoon-raft/raft/raftpb"
	"github.com/pontoon-raft/raft/wal"
	"github.com/pontoon-raft/raft/wal/faultfs"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// seedGroup saves entries 1..10 at term 2 for group 1, with a snapshot
// recorded at 5 and the log compacted to 3.
func seedGroup(t *testing.T, e *wal.Engine) {
	var ents []pb.Entry
	for i := uint64(1); i <= 10; i++ {
		ents = append(ents, ent(i, 2, "x"))
	}
	require.NoError(t, e.Save([]wal.Update{{Group: 1, Entries: ents, HardState: pb.HardState{Term: 2, Commit: 8}}}))
	require.NoError(t, e.Save([]wal.Update{{Group: 1, LocalSnapshot: pb.Snapshot{Metadata: pb.SnapshotMetadata{Index: 5, Term: 2}}, CompactIndex: 3}}))
}

func TestSaveRejectsInvalidUpdates(t *testing.T) {
	snap := func(i, term uint64) pb.Snapshot {
		return pb.Snapshot{Metadata: pb.SnapshotMetadata{Index: i, Term: term}}
	}
	tests := []struct {
		name string
		u    wal.Update
		want error
	}{
		{"gap after the last index", wal.Update{Group: 1, Entries: []pb.Entry{ent(12, 2, "")}}, wal.ErrInvalidUpdate},
		{"entries not consecutive", wal.Update{Group: 1, Entries: []pb.Entry{ent(11, 2, ""), ent(13, 2, "")}}, wal.ErrInvalidUpdate},
		{"unknown entry type", wal.Update{Group: 1, Entries: []pb.Entry{{Index: 11, Term: 2, Type: 7}}}, wal.ErrInvalidUpdate},
		{"commit beyond the log", wal.Update{Group: 1, HardState: pb.HardState{Term: 2, Commit: 11}}, wal.ErrInvalidUpdate},
		{"replacing committed entries", wal.Update{Group: 1, Entries: []pb.Entry{ent(7, 3, "")}}, wal.ErrInvalidUpdate},
		{"remove with entries", wal.Update{Group: 1, Remove: true, Entries: []pb.Entry{ent(11, 2, "")}}, wal.ErrInvalidUpdate},
		{"compact beyond the snapshot", wal.Update{Group: 1, CompactIndex: 6}, wal.ErrInvalidUpdate},
		{"compact beyond the log", wal.Update{Group: 1, CompactIndex: 11}, wal.ErrInvalidUpdate},
		{"compact the compacted", wal.Update{Group: 1, CompactIndex: 3}, raft.ErrCompacted},
		{"recorded snapshot not newer", wal.Update{Group: 1, LocalSnapshot: snap(5, 2)}, raft.ErrSnapOutOfDate},
		{"recorded snapshot beyond the log", wal.Update{Group: 1, LocalSnapshot: snap(11, 2)}, wal.ErrInvalidUpdate},
		{"recorded snapshot with a wrong term", wal.Update{Group: 1, LocalSnapshot: snap(7, 3)}, wal.ErrInvalidUpdate},
		{"installed snapshot not newer", wal.Update{Group: 1, Snapshot: snap(4, 2)}, raft.ErrSnapOutOfDate},
		{"snapshot data too large", wal.Update{Group: 1, Snapshot: pb.Snapshot{Metadata: pb.SnapshotMetadata{Index: 20, Term: 3}, Data: make([]byte, 2<<20)}}, wal.ErrInvalidUpdate},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fs := faultfs.New(faultfs.Config{Seed: 1})
			e := openTest(t, fs)
			defer e.Close()
			seedGroup(t, e)
			before := e.Stats().Writes
			// A valid update of another group in the same Save is not
			// applied either.
			err := e.Save([]wal.Update{{Group: 2, Entries: []pb.Entry{ent(1, 1, "y")}}, tt.u})
			require.Error(t, err)
			assert.ErrorIs(t, err, tt.want)
			assert.Equal(t, before, e.Stats().Writes, "nothing is written")
			last, err := e.Storage(2).LastIndex()
			require.NoError(t, err)
			assert.Zero(t, last, "the other group's update was not applied")
			last, err = e.Storage(1).LastIndex()
			require.NoError(t, err)
			assert.Equal(t, uint64(10), last)
			// The engine still works.
			require.NoError(t, e.Save([]wal.Update{{Group: 1, Entries: []pb.Entry{ent(11, 2, "z")}}}))
		})
	}
}

func TestSaveRejectsAGroupTwice(t *testing.T) {
	e := openTest(t, faultfs.New(faultfs.Config{Seed: 1}))
	defer e.Close()
	err := e.Save([]wal.Update{{Group: 1, Entries: []pb.Entry{ent(1, 1, "")}}, {Group: 1, Entries: []pb.Entry{ent(2, 1, "")}}})
	assert.ErrorIs(t, err, wal.ErrInvalidUpdate)
	assert.Zero(t, e.Stats().Writes)
}

func TestSaveIgnoresCompactedEntries(t *testing.T) {
	e := openTest(t, faultfs.New(faultfs.Config{Seed: 1}))
	defer e.Close()
	seedGroup(t, e)
	writes := e.Stats().Writes
	require.NoError(t, e.Save([]wal.Update{{Group: 1, Entries: []pb.Entry{ent(2, 2, "old"), ent(3, 2, "old")}}}))
	assert.Equal(t, writes, e.Stats().Writes, "entries at or below the compaction point need no write")
	require.NoError(t, e.Save([]wal.Update{{Group: 1, Entries: []pb.Entry{ent(3, 2, "old"), ent(4, 3, "new")}, HardState: pb.HardState{Term: 3, Commit: 4}}}))
	ents, err := e.Storage(1).Entries(4, 5, 100)
	require.NoError(t, err)
	assert.Equal(t, []pb.Entry{ent(4, 3, "new")}, ents, "the part above the compaction point replaces the suffix")
	last, _ := e.Storage(1).LastIndex()
	assert.Equal(t, uint64(4), last)
}

// gateFS blocks the next file Sync until released, so a test can queue
// Saves behind a write in progress.
type gateFS struct {
	wal.FS
	mu      sync.Mutex
	armed   bool
	entered chan struct{}
	release chan struct{}
}

type gateFile struct {
	wal.File
	fs *gateFS
}

func (g *gateFS) Create(name string) (wal.File, error) {
	f, err := g.FS.Create(name)
	return &gateFile{f, g}, err
}

func (g *gateFS) Open(name string) (wal.File, error) {
	f, err := g.FS.Open(name)
	return &gateFile{f, g}, err
}

func (f *gateFile) Sync() error {
	f.fs.mu.Lock()
	armed := f.fs.armed
	f.fs.armed = false
	f.fs.mu.Unlock()
	if armed {
		f.fs.entered <- struct{}{}
		<-f.fs.release
	}
	return f.File.Sync()
}

// TestConcurrentSavesShareOneWrite holds the first Save's fsync until
// every other Save has queued, and checks that they all go out in one
// more write: group commit without a goroutine of the engine's own.
func TestConcurrentSavesShareOneWrite(t *testing.T) {
	gate := &gateFS{FS: faultfs.New(faultfs.Config{Seed: 1}), entered: make(chan struct{}), release: make(chan struct{})}
	opts := testOptions(gate, 1)
	opts.SegmentBytes = 1 << 20
	e, err := wal.Open(testDir, opts)
	require.NoError(t, err)
	defer e.Close()
	start := e.Stats()

	const writers = 16
	gate.armed = true
	errs := make(chan error, writers)
	go func() { errs <- e.Save([]wal.Update{{Group: 1, Entries: []pb.Entry{ent(1, 1, "first")}}}) }()
	<-gate.entered // the first Save is inside its fsync
	for g := uint64(2); g <= writers; g++ {
		go func() { errs <- e.Save([]wal.Update{{Group: g, Entries: []pb.Entry{ent(1, 1, "later")}}}) }()
	}
	waitQueued(t, e, writers-1)
	close(gate.release)
	for i := 0; i < writers; i++ {
		require.NoError(t, <-errs)
	}
	st := e.Stats()
	assert.Equal(t, uint64(2), st.Writes-start.Writes, "one write for the first Save, one for the rest")
	assert.Equal(t, uint64(writers), st.Saves-start.Saves)
	for g := uint64(1); g <= writers; g++ {
		last, err := e.Storage(g).LastIndex()
		require.NoError(t, err)
		assert.Equal(t, uint64(1), last)
	}
}

// waitQueued waits until n Saves are queued behind the write in progress.
func waitQueued(t *testing.T, e *wal.Engine, n int) {
	t.Helper()
	for e.QueuedSaves() < n {
		runtime.Gosched()
	}
}

// TestLargeSavesTakeSeparateWrites: a Save that would make the pending
// batch too large waits for the next one, and both complete.
func TestLargeSavesTakeSeparateWrites(t *testing.T) {
	gate := &gateFS{FS: faultfs.New(faultfs.Config{Seed: 1}), entered: make(chan struct{}), release: make(chan struct{})}
	opts := testOptions(gate, 1)
	opts.SegmentBytes = 64 << 20
	e, err := wal.Open(testDir, opts)
	require.NoError(t, err)
	defer e.Close()
	start := e.Stats().Writes
	big := func(g uint64) []wal.Update {
		var ents []pb.Entry
		for i := uint64(1); i <= 10; i++ {
			ents = append(ents, pb.Entry{Index: i, Term: 1, Data: make([]byte, 1<<20)})
		}
		return []wal.Update{{Group: g, Entries: ents}}
	}
	gate.armed = true
	errs := make(chan error, 3)
	go func() { errs <- e.Save([]wal.Update{{Group: 1, Entries: []pb.Entry{ent(1, 1, "small")}}}) }()
	<-gate.entered
	go func() { errs <- e.Save(big(2)) }()
	waitQueued(t, e, 1)
	go func() { errs <- e.Save(big(3)) }()
	for e.FullWaits() == 0 {
		runtime.Gosched()
	}
	close(gate.release)
	for i := 0; i < 3; i++ {
		require.NoError(t, <-errs)
	}
	assert.Equal(t, uint64(3), e.Stats().Writes-start)
	for g := uint64(2); g <= 3; g++ {
		last, err := e.Storage(g).LastIndex()
		require.NoError(t, err)
		assert.Equal(t, uint64(10), last)
	}
}

func TestSameGroupSavesAreOrdered(t *testing.T) {
	e := openTest(t, faultfs.New(faultfs.Config{Seed: 1}))
	defer e.Close()
	var wg sync.WaitGroup
	var mu sync.Mutex
	next := uint64(1)
	for w := 0; w < 4; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for k := 0; k < 50; k++ {
				// Each Save appends the next index; the lock orders the
				// appends, the engine must keep them in that order even
				// though it writes them in shared batches.
				mu.Lock()
				i := next
				next++
				err := e.Save([]wal.Update{{Group: 1, Entries: []pb.Entry{ent(i, 1, fmt.Sprint(i))}}})
				mu.Unlock()
				assert.NoError(t, err)
			}
		}()
	}
	wg.Wait()
	ents, err := e.Storage(1).Entries(1, 201, 1<<30)
	require.NoError(t, err)
	require.Len(t, ents, 200)
	for i, en := range ents {
		assert.Equal(t, fmt.Sprint(i+1), string(en.Data))
	}
}

// TestFailedFsyncIsSticky: after an fsync fails, the Save fails and every
// later Save fails at once without touching the disk (never retry an
// fsync); reads keep serving the last durable state; reopening recovers.
func TestFailedFsyncIsSticky(t *testing.T) {
	fs := faultfs.New(faultfs.Config{Seed: 1})
	e := openTest(t, fs)
	require.NoError(t, e.Save([]wal.Update{{Group: 1, Entries: []pb.Entry{ent(1, 1, "a")}}}))
	fs.SetFaults(faultfs.Faults{SyncErrorRate: 1})
	err := e.Save([]wal.Update{{Group: 1, Entries: []pb.Entry{ent(2, 1, "b")}}})
	require.ErrorIs(t, err, wal.ErrFailed)
	assert.ErrorIs(t, err, syscall.EIO)
	fs.SetFaults(faultfs.Faults{})
	ops := fs.Stats().Ops
	err = e.Save([]wal.Update{{Group: 2, Entries: []pb.Entry{ent(1, 1, "c")}}})
	require.ErrorIs(t, err, wal.ErrFailed)
	assert.Equal(t, ops, fs.Stats().Ops, "a failed engine does not write")
	last, err := e.Storage(1).LastIndex()
	require.NoError(t, err)
	assert.Equal(t, uint64(1), last, "reads show the last durable state")
	require.NoError(t, e.Close())
	fs.Crash()
	e = openTest(t, fs)
	defer e.Close()
	last, err = e.Storage(1).LastIndex()
	require.NoError(t, err)
	assert.Contains(t, []uint64{1, 2}, last, "the failed Save may or may not have reached the disk")
	require.NoError(t, e.Save([]wal.Update{{Group: 1, Entries: []pb.Entry{ent(last+1, 1, "d")}}}))
}

func TestNoSpace(t *testing.T) {
	// Room for the first segment (4 KiB, allocated up front) and the
	// identity file, not for a second segment.
	fs := faultfs.New(faultfs.Config{Seed: 1, CapacityBytes: 6000})
	e := openTest(t, fs)
	var err error
	i := uint64(1)
	for ; err == nil && i < 1000; i++ {
		err = e.Save([]wal.Update{{Group: 1, Entries: []pb.Entry{ent(i, 1, "0123456789012345678901234567890123456789")}}})
	}
	require.ErrorIs(t, err, wal.ErrFailed)
	assert.ErrorIs(t, err, syscall.ENOSPC)
	require.NoError(t, e.Close())
	e = openTest(t, fs) // a restart without a crash
	defer e.Close()
	last, err := e.Storage(1).LastIndex()
	require.NoError(t, err)
	assert.Equal(t, i-2, last, "every acknowledged Save is there, the failed one is not")
}

func TestClosedEngine(t *testing.T) {
	e := openTest(t, faultfs.New(faultfs.Config{Seed: 1}))
	s := e.Storage(1)
	require.NoError(t, e.Close())
	require.NoError(t, e.Close(), "Close is idempotent")
	assert.ErrorIs(t, e.Save([]wal.Update{{Group: 1, Entries: []pb.Entry{ent(1, 1, "")}}}), wal.ErrClosed)
	_, err := s.LastIndex()
	assert.ErrorIs(t, err, wal.ErrClosed)
	_, err = s.Entries(1, 1, 0)
	assert.ErrorIs(t, err, wal.ErrClosed)
}

func TestRemoveGroup(t *testing.T) {
	fs := faultfs.New(faultfs.Config{Seed: 1})
	e := openTest(t, fs)
	seedGroup(t, e)
	require.NoError(t, e.Save([]wal.Update{{Group: 2, Entries: []pb.Entry{ent(1, 1, "keep")}}}))
	old := e.Storage(1)
	require.NoError(t, e.RemoveGroup(1))
	_, err := old.LastIndex()
	assert.ErrorIs(t, err, wal.ErrGroupRemoved)
	assert.Equal(t, []uint64{2}, e.Groups())
	fresh := e.Storage(1)
	last, err := fresh.LastIndex()
	require.NoError(t, err)
	assert.Zero(t, last, "the group starts afresh")
	require.NoError(t, e.Save([]wal.Update{{Group: 1, Entries: []pb.Entry{ent(1, 7, "again")}}}))
	e = reopen(t, e, fs)
	defer e.Close()
	assert.Equal(t, []uint64{1, 2}, e.Groups())
	ents, err := e.Storage(1).Entries(1, 2, 100)
	require.NoError(t, err)
	assert.Equal(t, []pb.Entry{ent(1, 7, "again")}, ents)
	snap, err := e.Storage(1).Snapshot()
	require.NoError(t, err)
	assert.True(t, raft.IsEmptySnap(snap), "the old snapshot went with the group")
}

func TestOptionsValidation(t *testing.T) {
	for _, o := range []wal.Options{
		{SegmentBytes: 100},
		{SegmentBytes: 1 << 40},
		{MaxSnapshotDataBytes: -1},
	} {
		o.FS = faultfs.New(faultfs.Config{Seed: 1})
		_, err := wal.Open(testDir, o)
		assert.True(t, errors.Is(err, wal.ErrInvalidOptions), "%+v: %v", o, err)
	}
}

// TestStaleSegmentsStayRemoved: segments a crash brought back (their
// removal was not yet durable) are removed durably when the engine opens,
// before it acknowledges anything: one of them may lack its seal, and
// coming back later beside a lost newest segment it would pass for the
// newest.
func TestStaleSegmentsStayRemoved(t *testing.T) {
	fs := faultfs.New(faultfs.Config{Seed: 3})
	e := openTest(t, fs)
	for i := uint64(1); len(segmentFiles(fs)) < 3; i++ {
		require.NoError(t, e.Save([]wal.Update{{Group: 1, Entries: []pb.Entry{ent(i, 1, "0123456789abcdef0123456789abcdef")}}}))
	}
	old := map[string][]byte{}
	for _, name := range segmentFiles(fs) {
		data, err := fs.ReadFile(name)
		require.NoError(t, err)
		old[name] = data
	}
	require.NoError(t, e.RemoveGroup(1)) // nothing live: the next rotation frees every segment
	for i := uint64(1); e.Stats().SegmentsRemoved == 0; i++ {
		require.NoError(t, e.Save([]wal.Update{{Group: 2, Entries: []pb.Entry{ent(i, 1, "0123456789abcdef0123456789abcdef")},
			LocalSnapshot: pb.Snapshot{Metadata: pb.SnapshotMetadata{Index: i, Term: 1}}, CompactIndex: i}}))
	}
	require.NoError(t, e.Close())
	for name, data := range old { // a crash undid the removals
		require.NoError(t, fs.WriteFile(name, data))
	}
	e = openTest(t, fs)
	require.NoError(t, e.Close())
	fs.Crash()
	for name := range old {
		_, err := fs.ReadFile(name)
		assert.Error(t, err, "%s came back after a crash", name)
	}
}

func segmentFiles(fs *faultfs.FS) []string {
	var names []string
	for _, n := range fs.Files() {
		if strings.HasSuffix(n, ".wal") {
			names = append(names, n)
		}
	}
	return names
}
