package store

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/cockroachdb/pebble/v2"
	"github.com/pontoon-raft/raft"
	pb "github.com/pontoon-raft/raft/raftpb"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func ents(term uint64, from, to uint64) []pb.Entry {
	var out []pb.Entry
	for i := from; i <= to; i++ {
		out = append(out, pb.Entry{Term: term, Index: i, Data: []byte{byte(i)}})
	}
	return out
}

func open(t *testing.T, dir string) *DiskStorage {
	t.Helper()
	s, err := Open(dir, Options{})
	require.NoError(t, err)
	return s
}

func TestFreshStorageIsEmpty(t *testing.T) {
	s := open(t, t.TempDir())
	defer s.Close()
	first, _ := s.FirstIndex()
	last, _ := s.LastIndex()
	assert.Equal(t, uint64(1), first)
	assert.Equal(t, uint64(0), last)
	term, err := s.Term(0)
	require.NoError(t, err)
	assert.Equal(t, uint64(0), term)
	_, err = s.Entries(1, 1, 100)
	assert.ErrorIs(t, err, raft.ErrUnavailable)
}

func TestSaveSurvivesReopen(t *testing.T) {
	dir := t.TempDir()
	s := open(t, dir)
	hs := pb.HardState{Term: 2, Vote: 3, Commit: 4}
	require.NoError(t, s.Save(hs, ents(1, 1, 5), pb.Snapshot{}, true))
	// A conflicting suffix replaces entries from its first index on.
	require.NoError(t, s.Save(pb.HardState{}, ents(2, 4, 4), pb.Snapshot{}, true))
	require.NoError(t, s.Close())

	s = open(t, dir)
	defer s.Close()
	gotHS, _, err := s.InitialState()
	require.NoError(t, err)
	assert.Equal(t, hs, gotHS)
	last, _ := s.LastIndex()
	assert.Equal(t, uint64(4), last)
	got, err := s.Entries(1, 5, 1<<20)
	require.NoError(t, err)
	want := append(ents(1, 1, 3), ents(2, 4, 4)...)
	assert.Equal(t, want, got)
	term, err := s.Term(4)
	require.NoError(t, err)
	assert.Equal(t, uint64(2), term)
	_, err = s.Term(5)
	assert.ErrorIs(t, err, raft.ErrUnavailable)
}

func TestEntriesRespectsMaxSize(t *testing.T) {
	s := open(t, t.TempDir())
	defer s.Close()
	all := ents(1, 1, 5)
	require.NoError(t, s.Save(pb.HardState{}, all, pb.Snapshot{}, true))
	one := uint64(all[0].Size())
	for _, tc := range []struct {
		maxSize uint64
		want    int
	}{{0, 1}, {one, 1}, {2*one + 1, 2}, {5 * one, 5}, {1 << 20, 5}} {
		got, err := s.Entries(1, 6, tc.maxSize)
		require.NoError(t, err)
		assert.Len(t, got, tc.want, "maxSize %d", tc.maxSize)
	}
}

func TestSnapshotAndCompaction(t *testing.T) {
	dir := t.TempDir()
	s := open(t, dir)
	require.NoError(t, s.Save(pb.HardState{Term: 1, Commit: 10}, ents(1, 1, 10), pb.Snapshot{}, true))
	cs := pb.ConfState{Voters: []uint64{1, 2, 3}}
	snap, err := s.CreateSnapshot(8, cs, []byte("state@8"))
	require.NoError(t, err)
	assert.Equal(t, uint64(1), snap.Metadata.Term)
	require.Error(t, s.Compact(9), "compaction beyond the snapshot")
	require.NoError(t, s.Compact(6))
	require.NoError(t, s.Close())

	s = open(t, dir)
	defer s.Close()
	first, _ := s.FirstIndex()
	assert.Equal(t, uint64(7), first)
	term, err := s.Term(6)
	require.NoError(t, err)
	assert.Equal(t, uint64(1), term)
	_, err = s.Term(5)
	assert.ErrorIs(t, err, raft.ErrCompacted)
	_, err = s.Entries(6, 8, 100)
	assert.ErrorIs(t, err, raft.ErrCompacted)
	got, err := s.Snapshot()
	require.NoError(t, err)
	assert.Equal(t, []byte("state@8"), got.Data)
	_, gotCS, _ := s.InitialState()
	assert.Equal(t, cs, gotCS)
	_, err = s.CreateSnapshot(8, cs, nil)
	assert.ErrorIs(t, err, raft.ErrSnapOutOfDate)
}

func TestSaveIncomingSnapshotReplacesLog(t *testing.T) {
	dir := t.TempDir()
	s := open(t, dir)
	require.NoError(t, s.Save(pb.HardState{Term: 1}, ents(1, 1, 3), pb.Snapshot{}, true))
	snap := pb.Snapshot{Data: []byte("leader state"), Metadata: pb.SnapshotMetadata{
		Index: 20, Term: 3, ConfState: pb.ConfState{Voters: []uint64{1, 2}}}}
	require.NoError(t, s.Save(pb.HardState{Term: 3, Commit: 20}, ents(3, 21, 22), snap, false))
	require.NoError(t, s.Close())

	s = open(t, dir)
	defer s.Close()
	first, _ := s.FirstIndex()
	last, _ := s.LastIndex()
	assert.Equal(t, []uint64{21, 22}, []uint64{first, last})
	term, err := s.Term(20)
	require.NoError(t, err)
	assert.Equal(t, uint64(3), term)
	got, _ := s.Snapshot()
	assert.Equal(t, snap, got)
	assert.ErrorIs(t, s.Save(pb.HardState{}, nil, snap, true), raft.ErrSnapOutOfDate)
}

// TestCorruptionIsReported damages what a crash or a bad disk could
// damage and checks that Open refuses the data instead of handing it on.
func TestCorruptionIsReported(t *testing.T) {
	for _, tc := range []struct {
		name   string
		damage func(t *testing.T, db *pebble.DB, dir string)
	}{
		{"flipped bit in an entry", func(t *testing.T, db *pebble.DB, _ string) {
			v := getRaw(t, db, entryKey(2))
			v[len(v)-1] ^= 0x01
			require.NoError(t, db.Set(entryKey(2), v, pebble.Sync))
		}},
		{"torn tail entry", func(t *testing.T, db *pebble.DB, _ string) {
			v := getRaw(t, db, entryKey(3))
			require.NoError(t, db.Set(entryKey(3), v[:len(v)-3], pebble.Sync))
		}},
		{"value shorter than its checksum", func(t *testing.T, db *pebble.DB, _ string) {
			require.NoError(t, db.Set(entryKey(3), []byte{1, 2}, pebble.Sync))
		}},
		{"entry stored under another index", func(t *testing.T, db *pebble.DB, _ string) {
			require.NoError(t, db.Set(entryKey(3), getRaw(t, db, entryKey(2)), pebble.Sync))
		}},
		{"gap in the log", func(t *testing.T, db *pebble.DB, _ string) {
			require.NoError(t, db.Delete(entryKey(2), pebble.Sync))
		}},
		{"corrupt hard state", func(t *testing.T, db *pebble.DB, _ string) {
			v := getRaw(t, db, hardStateKey)
			v[0] ^= 0xff
			require.NoError(t, db.Set(hardStateKey, v, pebble.Sync))
		}},
		{"lost entries under the commit index", func(t *testing.T, db *pebble.DB, _ string) {
			require.NoError(t, db.Delete(entryKey(3), pebble.Sync))
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			s := open(t, dir)
			require.NoError(t, s.Save(pb.HardState{Term: 1, Commit: 3}, ents(1, 1, 3), pb.Snapshot{}, true))
			require.NoError(t, s.Close())

			db, err := pebble.Open(filepath.Join(dir, "pebble"), &pebble.Options{Logger: quietLogger{}})
			require.NoError(t, err)
			tc.damage(t, db, dir)
			require.NoError(t, db.Close())

			_, err = Open(dir, Options{})
			assert.ErrorIs(t, err, ErrCorrupt)
		})
	}
}

func TestCorruptEntryIsReportedOnRead(t *testing.T) {
	dir := t.TempDir()
	s := open(t, dir)
	defer s.Close()
	require.NoError(t, s.Save(pb.HardState{}, ents(1, 1, 3), pb.Snapshot{}, true))
	v := getRaw(t, s.db, entryKey(2))
	v[5] ^= 0x10
	require.NoError(t, s.db.Set(entryKey(2), v, pebble.Sync))
	_, err := s.Entries(1, 4, 1<<20)
	assert.ErrorIs(t, err, ErrCorrupt)
	_, err = s.Term(2)
	assert.ErrorIs(t, err, ErrCorrupt)
}

func TestCorruptSnapshotFileIsReported(t *testing.T) {
	dir := t.TempDir()
	s := open(t, dir)
	require.NoError(t, s.Save(pb.HardState{Term: 1, Commit: 3}, ents(1, 1, 3), pb.Snapshot{}, true))
	_, err := s.CreateSnapshot(3, pb.ConfState{Voters: []uint64{1}}, []byte("some state"))
	require.NoError(t, err)
	require.NoError(t, s.Close())

	name := filepath.Join(dir, "snap", snapFileName(1, 3))
	raw, err := os.ReadFile(name)
	require.NoError(t, err)
	raw[len(raw)-2] ^= 0x04
	require.NoError(t, os.WriteFile(name, raw, 0o644))
	_, err = Open(dir, Options{})
	assert.ErrorIs(t, err, ErrCorrupt)
}

func getRaw(t *testing.T, db *pebble.DB, key []byte) []byte {
	t.Helper()
	v, closer, err := db.Get(key)
	require.NoError(t, err)
	defer closer.Close()
	return append([]byte(nil), v...)
}
