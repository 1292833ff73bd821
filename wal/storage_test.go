package wal_test

import (
	"math/rand/v2"
	"testing"

	"github.com/pontoon-raft/raft"
	"github.com/pontoon-raft/raft/wal"
	"github.com/pontoon-raft/raft/wal/faultfs"
	"github.com/stretchr/testify/require"
)

// applyToMemoryStorage applies u to ms with MemoryStorage's own methods.
func applyToMemoryStorage(t *testing.T, ms *raft.MemoryStorage, u wal.Update) *raft.MemoryStorage {
	if u.Remove {
		return raft.NewMemoryStorage()
	}
	if !raft.IsEmptySnap(u.Snapshot) {
		require.NoError(t, ms.ApplySnapshot(u.Snapshot))
	}
	require.NoError(t, ms.Append(u.Entries))
	if !raft.IsEmptyHardState(u.HardState) {
		require.NoError(t, ms.SetHardState(u.HardState))
	}
	if !raft.IsEmptySnap(u.LocalSnapshot) {
		md := u.LocalSnapshot.Metadata
		_, err := ms.CreateSnapshot(md.Index, &md.ConfState, u.LocalSnapshot.Data)
		require.NoError(t, err)
	}
	if u.CompactIndex != 0 {
		require.NoError(t, ms.Compact(u.CompactIndex))
	}
	return ms
}

// TestStorageMatchesMemoryStorage drives groups of the engine and
// raft.MemoryStorages with the same random updates (appends that replace
// suffixes, hard states, installed and recorded snapshots, compactions,
// removals) and checks after each Save, and across reopenings, that every
// raft.Storage method answers alike, errors included.
func TestStorageMatchesMemoryStorage(t *testing.T) {
	for seed := uint64(1); seed <= 20; seed++ {
		r := rand.New(rand.NewPCG(seed, 2))
		fs := faultfs.New(faultfs.Config{Seed: seed})
		e := openTest(t, fs)
		const groups = 4
		mems := map[uint64]*raft.MemoryStorage{}
		models := map[uint64]groupModel{}
		for id := uint64(1); id <= groups; id++ {
			mems[id], models[id] = raft.NewMemoryStorage(), emptyModel()
		}
		for step := 0; step < 300; step++ {
			var us []wal.Update
			for id := uint64(1); id <= groups; id++ {
				if r.IntN(2) == 0 {
					us = append(us, genUpdate(r, id, models[id]))
				}
			}
			require.NoError(t, e.Save(us), "seed %d step %d", seed, step)
			for _, u := range us {
				mems[u.Group] = applyToMemoryStorage(t, mems[u.Group], u)
				models[u.Group] = models[u.Group].apply(u)
			}
			if r.IntN(50) == 0 {
				e = reopen(t, e, fs)
			}
			for id := uint64(1); id <= groups; id++ {
				s := e.Storage(id)
				require.NoError(t, storageDiff(mems[id], s, r), "seed %d step %d group %d", seed, step, id)
				require.NoError(t, models[id].diff(s, r), "seed %d step %d group %d", seed, step, id)
			}
		}
		require.NoError(t, e.Close())
	}
}
