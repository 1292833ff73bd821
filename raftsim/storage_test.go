package raftsim

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/pontoon-raft/raft/wal"
	"github.com/pontoon-raft/raft/wal/faultfs"
)

// walOptions are the options of a StorageWAL run of seed: five nodes, every
// fault, and the seed's choice of PreVote, CheckQuorum and asynchronous
// storage writes.
func walOptions(seed int64) Options {
	return Options{
		Nodes: 5, Seed: seed, Steps: 2000, Storage: StorageWAL, Faults: AllFaults(),
		PreVote: seed&1 == 1, CheckQuorum: seed&2 == 2, Async: AsyncMode(seed % 3),
	}
}

func TestWALStorage(t *testing.T) {
	seeds := 50
	if testing.Short() {
		seeds = 10
	}
	faults := map[FaultKind]int{}
	for seed := int64(1); seed <= int64(seeds); seed++ {
		res, err := Run(walOptions(seed))
		require.NoError(t, err, "seed %d", seed)
		for k, n := range res.Faults {
			faults[k] += n
		}
	}
	var summary []string
	for _, k := range storageFaultKinds {
		summary = append(summary, fmt.Sprintf("%s=%d", k, faults[k]))
		if k != FaultFailedStart && (k != FaultNoSpace || !testing.Short()) {
			// A failed start needs a disk fault while the engine opens:
			// rare.
			assert.Positive(t, faults[k], "disk fault %s was never injected", k)
		}
	}
	t.Logf("%d seeds: %s", seeds, strings.Join(summary, " "))
}

// TestWALStorageLongRuns runs long enough for the engines to fill
// segments, so that rotation, segment removal and the rewriting of live
// entries happen under the faults too.
func TestWALStorageLongRuns(t *testing.T) {
	var rotations, removed, rewritten uint64
	for seed := int64(1); seed <= 3; seed++ {
		o := walOptions(seed)
		o.Steps = 20000
		s, err := New(o)
		require.NoError(t, err)
		for i := 0; i < o.Steps; i++ {
			require.NoError(t, s.Step(), "seed %d", seed)
		}
		require.NoError(t, s.CheckLiveness(), "seed %d", seed)
		require.NoError(t, s.Finish(), "seed %d", seed)
		for _, n := range s.nodes {
			if n.disk.engine != nil {
				st := n.disk.engine.Stats() // since the engine's last open
				rotations, removed, rewritten = rotations+st.Rotations, removed+st.SegmentsRemoved, rewritten+st.RewrittenEntries
			}
		}
	}
	assert.Positive(t, rotations, "no engine started a new segment")
	assert.Positive(t, removed, "no engine removed a segment")
	assert.Positive(t, rewritten, "no engine copied live entries forward")
	t.Logf("since their last open, the engines rotated %d times, removed %d segments, rewrote %d entries", rotations, removed, rewritten)
}

func TestWALStorageSameSeedSameTrace(t *testing.T) {
	for _, seed := range []int64{3, 4, 5} {
		a, lines, res := traceDigest(t, walOptions(seed))
		b, _, _ := traceDigest(t, walOptions(seed))
		require.Equal(t, a, b, "seed %d: two runs traced differently", seed)
		require.Positive(t, lines)
		require.Positive(t, res.Faults[FaultTornWrite]+res.Faults[FaultBitFlip], "seed %d injected no disk fault", seed)
	}
}

// TestWALStorageCatchesLyingSync runs the nodes on disks whose fsync
// reports success without making anything durable, as a drive with a
// volatile write cache might: a crash then loses writes the engine
// acknowledged, and the restart must notice.
func TestWALStorageCatchesLyingSync(t *testing.T) {
	for seed := int64(1); seed <= 20; seed++ {
		o := walOptions(seed)
		o.wrapDisk = func(fs *faultfs.FS) wal.FS { return lyingSyncFS{fs} }
		_, err := Run(o)
		var v *Violation
		if errors.As(err, &v) {
			require.Equal(t, InvDurableStorage, v.Invariant, "seed %d: %v", seed, v)
			t.Logf("seed %d: %v", seed, v.Err)
			return
		}
		require.NoError(t, err)
	}
	t.Fatal("no run noticed that fsync made nothing durable")
}

// lyingSyncFS is a faultfs whose Sync and SyncDir do nothing.
type lyingSyncFS struct{ *faultfs.FS }

func (l lyingSyncFS) Create(name string) (wal.File, error) {
	f, err := l.FS.Create(name)
	return lyingSyncFile{f}, err
}

func (l lyingSyncFS) Open(name string) (wal.File, error) {
	f, err := l.FS.Open(name)
	return lyingSyncFile{f}, err
}

func (lyingSyncFS) SyncDir(string) error { return nil }

type lyingSyncFile struct{ wal.File }

func (lyingSyncFile) Sync() error { return nil }

func TestStorageModeNames(t *testing.T) {
	for _, m := range []StorageMode{StorageMemory, StorageWAL} {
		got, err := ParseStorageMode(m.String())
		require.NoError(t, err)
		assert.Equal(t, m, got)
	}
	_, err := ParseStorageMode("disk")
	assert.ErrorIs(t, err, ErrInvalidOptions)
	_, err = New(Options{Storage: StorageMode(7)})
	assert.ErrorIs(t, err, ErrInvalidOptions)
}

// walSegment returns the name and written length of node id's newest
// segment file.
func walSegment(t *testing.T, s *Sim, id uint64) (string, int64) {
	t.Helper()
	fs := s.node(id).disk.fs
	var name string
	for _, f := range fs.Files() {
		if strings.HasSuffix(f, ".wal") {
			name = f
		}
	}
	require.NotEmpty(t, name, "node %d has no segment", id)
	data, err := fs.ReadFile(name)
	require.NoError(t, err)
	written := int64(len(data))
	for written > 0 && data[written-1] == 0 {
		written--
	}
	return name, written
}

func TestWALBitFlipRefusesStart(t *testing.T) {
	s, err := New(Options{Nodes: 3, Seed: 1, Storage: StorageWAL})
	require.NoError(t, err)
	for i := 0; i < 300; i++ {
		require.NoError(t, s.Step())
	}
	require.NoError(t, s.Crash(1))
	name, written := walSegment(t, s, 1)
	f := &bitFlip{file: name, offset: written / 2, bit: 3}
	n := s.node(1)
	require.NoError(t, n.disk.fs.FlipBit(f.file, f.offset, f.bit))
	n.disk.flip = f

	require.NoError(t, s.Restart(1))
	assert.Nil(t, n.node, "node 1 started over a damaged log")
	assert.Equal(t, 1, s.Result().Faults[FaultCorruptionDetected])
	tail := strings.Join(s.TraceTail(), "\n")
	assert.Contains(t, tail, "node 1 failed to start")
	assert.Contains(t, tail, "corrupt")

	require.NoError(t, s.Restart(1), "the damage was repaired")
	assert.NotNil(t, n.node)
	require.NoError(t, s.CheckLiveness())
	require.NoError(t, s.Finish())
}

// TestWALDamageNotInjectedIsAViolation: an engine that reports damage
// nobody injected (here: injected behind the simulator's back) breaks
// InvDurableStorage.
func TestWALDamageNotInjectedIsAViolation(t *testing.T) {
	s, err := New(Options{Nodes: 3, Seed: 1, Storage: StorageWAL})
	require.NoError(t, err)
	for i := 0; i < 300; i++ {
		require.NoError(t, s.Step())
	}
	require.NoError(t, s.Crash(2))
	name, written := walSegment(t, s, 2)
	require.NoError(t, s.node(2).disk.fs.FlipBit(name, written/2, 5))
	err = s.Restart(2)
	var v *Violation
	require.ErrorAs(t, err, &v)
	assert.Equal(t, InvDurableStorage, v.Invariant)
	assert.ErrorIs(t, v.Err, wal.ErrCorrupt)
}
