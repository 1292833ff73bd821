package wal_test

import (
	"bytes"
	"io"
	"math/rand/v2"
	"testing"

	"github.com/pontoon-raft/raft/wal"
	"github.com/pontoon-raft/raft/wal/faultfs"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const snapDir = "/data/snap"

func randBytes(seed uint64, n int) []byte {
	r := rand.New(rand.NewPCG(seed, 9))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

// writeSnapshot streams data into the store in uneven pieces.
func writeSnapshot(t *testing.T, s *wal.SnapshotStore, group, term, index uint64, data []byte) wal.SnapshotRef {
	t.Helper()
	w, err := s.Create(group, term, index)
	require.NoError(t, err)
	for rest := data; len(rest) > 0; {
		n := min(len(rest), 1000+len(rest)%7777)
		_, err := w.Write(rest[:n])
		require.NoError(t, err)
		rest = rest[n:]
	}
	ref, err := w.Commit()
	require.NoError(t, err)
	return ref
}

func readSnapshot(s *wal.SnapshotStore, ref wal.SnapshotRef) ([]byte, error) {
	r, err := s.Open(ref)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	return io.ReadAll(r)
}

func TestSnapshotStoreRoundTrip(t *testing.T) {
	fs := faultfs.New(faultfs.Config{Seed: 1})
	s, err := wal.OpenSnapshotStore(fs, snapDir)
	require.NoError(t, err)
	for _, size := range []int{0, 1, 64 << 10, 200<<10 + 3} {
		data := randBytes(uint64(size), size)
		ref := writeSnapshot(t, s, 3, 2, uint64(size+1), data)
		assert.Equal(t, int64(size), ref.SizeBytes)
		got, err := readSnapshot(s, ref)
		require.NoError(t, err)
		assert.True(t, bytes.Equal(data, got), "size %d", size)
		parsed, err := wal.ParseSnapshotRef(ref.Marshal())
		require.NoError(t, err)
		assert.Equal(t, ref, parsed)
	}
	fs.Crash() // committed snapshots are durable
	s, err = wal.OpenSnapshotStore(fs, snapDir)
	require.NoError(t, err)
	refs, err := s.List(3)
	require.NoError(t, err)
	assert.Len(t, refs, 4)
}

func TestSnapshotStoreDetectsDamage(t *testing.T) {
	data := randBytes(1, 150<<10)
	tests := []struct {
		name   string
		damage func(t *testing.T, fs *faultfs.FS, name string, ref *wal.SnapshotRef)
	}{
		{"a flipped bit in the last chunk", func(t *testing.T, fs *faultfs.FS, name string, _ *wal.SnapshotRef) {
			require.NoError(t, fs.FlipBit(name, 140<<10, 2))
		}},
		{"the end is cut off", func(t *testing.T, fs *faultfs.FS, name string, _ *wal.SnapshotRef) {
			b, err := fs.ReadFile(name)
			require.NoError(t, err)
			require.NoError(t, fs.WriteFile(name, b[:len(b)-30]))
		}},
		{"the reference names other data", func(t *testing.T, fs *faultfs.FS, name string, ref *wal.SnapshotRef) {
			ref.CRC++
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fs := faultfs.New(faultfs.Config{Seed: 1})
			s, err := wal.OpenSnapshotStore(fs, snapDir)
			require.NoError(t, err)
			ref := writeSnapshot(t, s, 1, 1, 10, data)
			tt.damage(t, fs, snapDir+"/"+fs.Files()[0][len(snapDir)+1:], &ref)
			r, err := s.Open(ref)
			require.NoError(t, err)
			var got []byte
			buf := make([]byte, 4096)
			for {
				n, err := r.Read(buf)
				got = append(got, buf[:n]...)
				if err == io.EOF {
					t.Fatal("damaged snapshot read to the end without an error")
				}
				if err != nil {
					assert.ErrorIs(t, err, wal.ErrCorrupt)
					break
				}
			}
			assert.True(t, bytes.Equal(data[:len(got)], got), "everything handed out before the error is good data")
		})
	}
}

func TestSnapshotStoreUnfinishedWrites(t *testing.T) {
	fs := faultfs.New(faultfs.Config{Seed: 1})
	s, err := wal.OpenSnapshotStore(fs, snapDir)
	require.NoError(t, err)
	w, err := s.Create(1, 1, 5)
	require.NoError(t, err)
	_, err = w.Write(randBytes(2, 100<<10))
	require.NoError(t, err)
	aborted, err := s.Create(1, 1, 6)
	require.NoError(t, err)
	aborted.Abort()
	require.NoError(t, fs.SyncDir(snapDir))
	fs.Crash() // before Commit
	s, err = wal.OpenSnapshotStore(fs, snapDir)
	require.NoError(t, err)
	assert.Empty(t, fs.Files(), "the unfinished snapshot is removed")
	refs, err := s.List(1)
	require.NoError(t, err)
	assert.Empty(t, refs)
}

func TestSnapshotStorePrune(t *testing.T) {
	fs := faultfs.New(faultfs.Config{Seed: 1})
	s, err := wal.OpenSnapshotStore(fs, snapDir)
	require.NoError(t, err)
	for _, i := range []uint64{10, 20, 30, 40, 50} {
		writeSnapshot(t, s, 1, 1, i, []byte("x"))
	}
	writeSnapshot(t, s, 2, 1, 10, []byte("other group"))
	// The engine records 40; 50 may be about to be recorded.
	require.NoError(t, s.Prune(1, 2, 40))
	refs, err := s.List(1)
	require.NoError(t, err)
	var kept []uint64
	for _, r := range refs {
		kept = append(kept, r.Index)
	}
	assert.Equal(t, []uint64{30, 40, 50}, kept)
	assert.Error(t, s.Prune(1, 0, 40))
	require.NoError(t, s.RemoveGroup(1))
	refs, err = s.List(1)
	require.NoError(t, err)
	assert.Empty(t, refs)
	refs, err = s.List(2)
	require.NoError(t, err)
	assert.Len(t, refs, 1)
}
