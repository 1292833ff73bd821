package faultfs

import (
	"errors"
	"io"
	"io/fs"
	"syscall"
	"testing"

	"github.com/pontoon-raft/raft/wal"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// write appends s to f.
func write(t *testing.T, f wal.File, s string) {
	t.Helper()
	n, err := appendTo(f, []byte(s))
	require.NoError(t, err)
	require.Equal(t, len(s), n)
}

func appendTo(f wal.File, p []byte) (int, error) {
	size, err := f.Size()
	if err != nil {
		return 0, err
	}
	return f.WriteAt(p, size)
}

func contents(t *testing.T, fsys *FS, name string) string {
	t.Helper()
	b, err := fsys.ReadFile(name)
	require.NoError(t, err)
	return string(b)
}

func TestSyncedDataSurvivesACrash(t *testing.T) {
	fsys := New(Config{Seed: 1, SurvivalRate: 1e-9})
	f, err := fsys.Create("/a")
	require.NoError(t, err)
	write(t, f, "durable")
	require.NoError(t, f.Sync())
	require.NoError(t, fsys.SyncDir("/"))
	write(t, f, " lost")
	fsys.Crash()
	assert.Equal(t, "durable", contents(t, fsys, "/a"))
	_, err = f.ReadAt(make([]byte, 1), 0)
	assert.ErrorIs(t, err, ErrCrashed, "files opened before a crash are dead")
	st := fsys.Stats()
	assert.Equal(t, 1, st.UnsyncedWritesLost)
	assert.Equal(t, 1, st.Crashes)
}

func TestUnsyncedDataMaySurvive(t *testing.T) {
	fsys := New(Config{Seed: 1, SurvivalRate: 1})
	f, err := fsys.Create("/a")
	require.NoError(t, err)
	require.NoError(t, fsys.SyncDir("/"))
	write(t, f, "kept although never synced")
	fsys.Crash()
	assert.Equal(t, "kept although never synced", contents(t, fsys, "/a"))
	assert.Equal(t, 1, fsys.Stats().UnsyncedWritesKept)
}

// TestTornWritesLoseWholeSectors: an unsynced write that partly survives
// keeps whole sectors; the sectors that did not reach the disk read as
// zeros when the file grew over them.
func TestTornWritesLoseWholeSectors(t *testing.T) {
	for seed := uint64(1); seed <= 50; seed++ {
		fsys := New(Config{Seed: seed, SectorBytes: 4})
		f, err := fsys.Create("/a")
		require.NoError(t, err)
		require.NoError(t, fsys.SyncDir("/"))
		write(t, f, "ab")
		require.NoError(t, f.Sync())
		write(t, f, "cdefghijklmn")
		fsys.Crash()
		got := contents(t, fsys, "/a")
		want := "abcdefghijklmn"
		require.LessOrEqual(t, len(got), len(want))
		require.Equal(t, "ab", got[:2], "seed %d: synced bytes survive", seed)
		for s := 0; s < len(got); s += 4 {
			chunk := got[s:min(s+4, len(got))]
			if chunk != want[s:s+len(chunk)] {
				lo := max(2, s) - s // the synced part of the first sector is kept
				assert.Equal(t, string(make([]byte, len(chunk)-lo)), chunk[lo:], "seed %d: sector %d is either new or zeros: %q", seed, s, got)
			}
		}
	}
}

func TestDirectoryChangesNeedSyncDir(t *testing.T) {
	prefixes := [][]string{{"/a"}, {"/b"}, {}, {"/c"}}
	seen := map[int]bool{}
	for seed := uint64(1); seed <= 40; seed++ {
		fsys := New(Config{Seed: seed})
		f, err := fsys.Create("/a")
		require.NoError(t, err)
		write(t, f, "x")
		require.NoError(t, f.Sync())
		require.NoError(t, fsys.SyncDir("/"))
		require.NoError(t, fsys.Rename("/a", "/b"))
		require.NoError(t, fsys.Remove("/b"))
		g, err := fsys.Create("/c")
		require.NoError(t, err)
		require.NoError(t, g.Sync())
		fsys.Crash()
		// The three changes survive as a prefix: none, the rename, the
		// rename and the removal, or all three.
		names := fsys.Files()
		require.Contains(t, prefixes, names)
		for kept, p := range prefixes {
			if assert.ObjectsAreEqual(p, names) {
				assert.Equal(t, 3-kept, fsys.Stats().DirChangesLost)
				seen[kept] = true
			}
		}
	}
	assert.Len(t, seen, 4, "every prefix occurs")
}

func TestCrashAfterCutsAWrite(t *testing.T) {
	fsys := New(Config{Seed: 3, SurvivalRate: 1})
	f, err := fsys.Create("/a")
	require.NoError(t, err)
	require.NoError(t, fsys.SyncDir("/"))
	fsys.CrashAfter(2)
	write(t, f, "first ")
	n, err := appendTo(f, []byte("second write"))
	assert.ErrorIs(t, err, ErrCrashed)
	assert.Zero(t, n)
	assert.True(t, fsys.Down())
	assert.ErrorIs(t, f.Sync(), ErrCrashed, "everything fails once crashed")
	_, err = fsys.Create("/b")
	assert.ErrorIs(t, err, ErrCrashed)
	fsys.Crash()
	assert.False(t, fsys.Down())
	got := contents(t, fsys, "/a")
	assert.Regexp(t, `^first (s(e(c(o(n(d( (w(r(i(te?)?)?)?)?)?)?)?)?)?)?)?$`, got, "a prefix of the cut write may remain")
	assert.Equal(t, 1, fsys.Stats().CrashesInWrite)
}

func TestFailedSyncLeavesDataUnsynced(t *testing.T) {
	fsys := New(Config{Seed: 1, SurvivalRate: 1e-9, Faults: Faults{SyncErrorRate: 1}})
	f, err := fsys.Create("/a")
	require.NoError(t, err)
	write(t, f, "data")
	err = f.Sync()
	assert.ErrorIs(t, err, syscall.EIO)
	assert.ErrorIs(t, fsys.SyncDir("/"), syscall.EIO)
	assert.Equal(t, 2, fsys.Stats().SyncErrors)
	fsys.SetFaults(Faults{})
	require.NoError(t, fsys.SyncDir("/"))
	fsys.Crash()
	assert.Equal(t, "", contents(t, fsys, "/a"), "the data was never synced")
}

func TestNoSpace(t *testing.T) {
	fsys := New(Config{Seed: 1, CapacityBytes: 10})
	f, err := fsys.Create("/a")
	require.NoError(t, err)
	write(t, f, "12345678")
	n, err := appendTo(f, []byte("abcdef"))
	assert.ErrorIs(t, err, syscall.ENOSPC)
	assert.Less(t, n, 3, "only what fits may be written")
	assert.Equal(t, "12345678abcdef"[:8+n], contents(t, fsys, "/a"))

	fsys = New(Config{Seed: 1, Faults: Faults{NoSpaceRate: 1}})
	f, err = fsys.Create("/a")
	require.NoError(t, err)
	n, err = appendTo(f, []byte("abcdef"))
	assert.ErrorIs(t, err, syscall.ENOSPC)
	assert.Less(t, n, 6)
	assert.Equal(t, 2, fsys.Stats().NoSpaceErrors+1)
}

func TestFlipBitAndOperatorChanges(t *testing.T) {
	fsys := New(Config{Seed: 1})
	require.NoError(t, fsys.MkdirAll("/d/e"))
	require.NoError(t, fsys.WriteFile("/d/e/f", []byte{0, 0}))
	require.NoError(t, fsys.FlipBit("/d/e/f", 1, 3))
	fsys.Crash()
	assert.Equal(t, string([]byte{0, 8}), contents(t, fsys, "/d/e/f"), "the damage is at rest")
	assert.Error(t, fsys.FlipBit("/d/e/f", 2, 0))
	require.NoError(t, fsys.DeleteFile("/d/e/f"))
	fsys.Crash()
	_, err := fsys.ReadFile("/d/e/f")
	assert.True(t, errors.Is(err, fs.ErrNotExist))
	names, err := fsys.List("/d")
	require.NoError(t, err)
	assert.Equal(t, []string{"e"}, names)
	assert.Equal(t, 1, fsys.Stats().BitFlips)
}

func TestReadAtAndTruncate(t *testing.T) {
	fsys := New(Config{Seed: 1})
	f, err := fsys.Create("/a")
	require.NoError(t, err)
	write(t, f, "hello world")
	buf := make([]byte, 5)
	n, err := f.ReadAt(buf, 6)
	require.NoError(t, err)
	assert.Equal(t, "world", string(buf[:n]))
	n, err = f.ReadAt(buf, 8)
	assert.Equal(t, io.EOF, err)
	assert.Equal(t, "rld", string(buf[:n]))
	require.NoError(t, f.Truncate(5))
	write(t, f, "!")
	size, err := f.Size()
	require.NoError(t, err)
	assert.Equal(t, int64(6), size)
	assert.Equal(t, "hello!", contents(t, fsys, "/a"))
	require.NoError(t, f.Close())
	_, err = f.ReadAt(buf, 0)
	assert.Error(t, err, "closed")
}

func TestLock(t *testing.T) {
	fsys := New(Config{Seed: 1})
	l, err := fsys.Lock("/LOCK")
	require.NoError(t, err)
	_, err = fsys.Lock("/LOCK")
	assert.Error(t, err)
	require.NoError(t, l.Close())
	l, err = fsys.Lock("/LOCK")
	require.NoError(t, err)
	fsys.Crash()
	_, err = fsys.Lock("/LOCK")
	assert.NoError(t, err, "a crash releases locks")
	_ = l
}

// TestDeterministic: the same calls on the same seed give the same files.
func TestDeterministic(t *testing.T) {
	run := func() []string {
		fsys := New(Config{Seed: 42, SectorBytes: 2})
		var out []string
		for i := 0; i < 5; i++ {
			f, err := fsys.Create("/f")
			require.NoError(t, err)
			write(t, f, "some data that may or may not survive")
			if i%2 == 0 {
				require.NoError(t, f.Sync())
			}
			fsys.Crash()
			b, _ := fsys.ReadFile("/f")
			out = append(out, string(b))
		}
		return out
	}
	assert.Equal(t, run(), run())
}

func TestAllocate(t *testing.T) {
	fsys := New(Config{Seed: 1, SurvivalRate: 1e-9, CapacityBytes: 100})
	f, err := fsys.Create("/a")
	require.NoError(t, err)
	require.NoError(t, fsys.SyncDir("/"))
	require.NoError(t, f.Allocate(64))
	require.NoError(t, f.Sync())
	n, err := f.WriteAt([]byte("data"), 0)
	require.NoError(t, err)
	require.Equal(t, 4, n)
	assert.ErrorIs(t, f.Allocate(200), syscall.ENOSPC)
	fsys.Crash()
	assert.Equal(t, string(make([]byte, 64)), contents(t, fsys, "/a"), "allocated bytes are zeros; the unsynced write is gone")
}
