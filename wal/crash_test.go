package wal_test

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"

	pb "github.com/pontoon-raft/raft/raftpb"
	"github.com/pontoon-raft/raft/wal"
	"github.com/pontoon-raft/raft/wal/faultfs"
	"github.com/stretchr/testify/require"
)

// sweepTotals counts what a crash sweep did, for its report.
type sweepTotals struct {
	seeds, rounds, saves, acked                     int
	failedSaves, inflightKept, inflightLost         int
	cleanRestarts                                   int
	flips, flipsDetected, flipsHarmless             int
	deletions, deletionsDetected, deletionsHarmless int
	extras, extrasDetected                          int
	fs                                              faultfs.Stats
}

func (s *sweepTotals) addFS(f faultfs.Stats) {
	s.fs.Ops += f.Ops
	s.fs.Crashes += f.Crashes
	s.fs.CrashesInWrite += f.CrashesInWrite
	s.fs.UnsyncedWritesKept += f.UnsyncedWritesKept
	s.fs.UnsyncedWritesTorn += f.UnsyncedWritesTorn
	s.fs.UnsyncedWritesLost += f.UnsyncedWritesLost
	s.fs.DirChangesLost += f.DirChangesLost
	s.fs.SyncErrors += f.SyncErrors
	s.fs.NoSpaceErrors += f.NoSpaceErrors
	s.fs.BitFlips += f.BitFlips
}

func (s *sweepTotals) String() string {
	return fmt.Sprintf("seeds %d, rounds %d, Saves %d (acknowledged %d, failed %d: recovered %d, dropped %d), restarts without crash %d\n"+
		"faultfs: ops %d, crashes %d (inside a write %d), unsynced writes at crashes: kept %d, torn %d, lost %d; directory changes lost %d; fsync errors %d; ENOSPC %d\n"+
		"damage at rest: bit flips %d (detected %d, in bytes no longer needed %d); segment deletions %d (detected %d, of a segment holding nothing needed %d); extra segment files %d (detected %d)",
		s.seeds, s.rounds, s.saves, s.acked, s.failedSaves, s.inflightKept, s.inflightLost, s.cleanRestarts,
		s.fs.Ops, s.fs.Crashes, s.fs.CrashesInWrite, s.fs.UnsyncedWritesKept, s.fs.UnsyncedWritesTorn, s.fs.UnsyncedWritesLost,
		s.fs.DirChangesLost, s.fs.SyncErrors, s.fs.NoSpaceErrors,
		s.flips, s.flipsDetected, s.flipsHarmless, s.deletions, s.deletionsDetected, s.deletionsHarmless, s.extras, s.extrasDetected)
}

// sweepSeeds is how many seeds TestCrashSweep runs: WAL_SEEDS, or a small
// number that keeps `go test -race` quick.
func sweepSeeds(t *testing.T) int {
	if v := os.Getenv("WAL_SEEDS"); v != "" {
		n, err := strconv.Atoi(v)
		require.NoError(t, err, "WAL_SEEDS")
		return n
	}
	if testing.Short() {
		return 50
	}
	return 400
}

// TestCrashSweep runs, for each seed, a workload of several groups over
// faultfs (appends that replace suffixes, hard states, installed and
// recorded snapshots, compactions, removals, with segments small enough to
// rotate and rewrite often) through rounds of: saves until the file system
// crashes at a random operation (often inside a write) or fails an fsync or
// a write, a power loss, sometimes damage at rest (a flipped bit, a deleted
// or an extra segment file), and a reopening. It checks that
//   - every acknowledged Save survives and nothing else does, except the
//     one Save in flight, which survives whole or not at all (atomically
//     across its groups);
//   - damage is either reported (ErrCorrupt) or lies in bytes the engine no
//     longer needs, and is never returned as data;
//   - reads of the live engine match the model between Saves.
//
// WAL_SEEDS=20000 runs a larger sweep, WAL_SEED=n only seed n.
func TestCrashSweep(t *testing.T) {
	var totals sweepTotals
	first, n := 1, sweepSeeds(t)
	if v := os.Getenv("WAL_SEED"); v != "" {
		s, err := strconv.Atoi(v)
		require.NoError(t, err, "WAL_SEED")
		first, n = s, s
	}
	for seed := first; seed <= n; seed++ {
		runCrashSeed(t, uint64(seed), &totals)
		if t.Failed() {
			t.Fatalf("seed %d failed; rerun it alone with WAL_SEED=%d", seed, seed)
		}
	}
	t.Logf("crash sweep: %s", &totals)
}

type models map[uint64]groupModel

func (m models) clone() models {
	c := make(models, len(m))
	for k, v := range m {
		c[k] = v
	}
	return c
}

func (m models) get(id uint64) groupModel {
	if g, ok := m[id]; ok {
		return g
	}
	return emptyModel()
}

func runCrashSeed(t *testing.T, seed uint64, tot *sweepTotals) {
	r := rand.New(rand.NewPCG(seed, 3))
	cfg := faultfs.Config{Seed: seed, SurvivalRate: []float64{0.5, 0.1, 0.9}[r.IntN(3)]}
	fs := faultfs.New(cfg)
	opts := testOptions(fs, seed)
	opts.SegmentBytes = int64(4<<10 + r.IntN(8<<10))
	e, err := wal.Open(testDir, opts)
	require.NoError(t, err)
	groups := 1 + r.IntN(5)
	acked := models{}
	tot.seeds++
	for round := 0; round < 6; round++ {
		tot.rounds++
		syncFaults := false
		switch r.IntN(8) {
		case 0:
			fs.SetFaults(faultfs.Faults{SyncErrorRate: 0.03})
			syncFaults = true
		case 1:
			fs.SetFaults(faultfs.Faults{NoSpaceRate: 0.03})
		}
		fs.CrashAfter(uint64(1 + r.IntN(120)))
		var inflight models
		var touched []uint64
		for step := 0; step < 60; step++ {
			next := acked.clone()
			var us []wal.Update
			touched = touched[:0]
			for id := uint64(1); id <= uint64(groups); id++ {
				if r.IntN(3) == 0 {
					u := genUpdate(r, id, acked.get(id))
					us = append(us, u)
					next[id] = acked.get(id).apply(u)
					touched = append(touched, id)
				}
			}
			if len(us) == 0 {
				continue
			}
			tot.saves++
			err := e.Save(us)
			if err == nil {
				tot.acked++
				acked = next
				if r.IntN(10) == 0 {
					requireModels(t, e, acked, r, "live engine")
				}
				continue
			}
			require.False(t, errors.Is(err, wal.ErrInvalidUpdate), "seed %d: the workload made an invalid update: %v", seed, err)
			require.ErrorIs(t, err, wal.ErrFailed)
			tot.failedSaves++
			inflight = next
			break
		}
		fs.CrashAfter(0)
		fs.SetFaults(faultfs.Faults{})
		if inflight == nil && !syncFaults && r.IntN(4) == 0 {
			// A process restart without a power loss.
			require.NoError(t, e.Close())
			tot.cleanRestarts++
		} else {
			_ = e.Close()
			fs.Crash()
		}
		undo := damage(t, fs, r, tot)
		e, err = wal.Open(testDir, opts)
		if undo != nil {
			if err != nil {
				require.ErrorIs(t, err, wal.ErrCorrupt, "seed %d round %d: damage reported without ErrCorrupt", seed, round)
				undo.detected()
				undo.repair()
				e, err = wal.Open(testDir, opts)
			} else {
				undo.harmless()
			}
		}
		require.NoError(t, err, "seed %d round %d: reopening", seed, round)
		if inflight != nil {
			kept := sameModels(e, inflight, touched, r) == nil
			if kept {
				acked = inflight
				tot.inflightKept++
			} else {
				tot.inflightLost++
			}
		}
		requireModels(t, e, acked, r, fmt.Sprintf("seed %d round %d after recovery", seed, round))
	}
	require.NoError(t, e.Close())
	tot.addFS(fs.Stats())
}

// sameModels compares the groups ids (all groups of m if nil) of e with m.
func sameModels(e *wal.Engine, m models, ids []uint64, r *rand.Rand) error {
	if ids == nil {
		set := map[uint64]bool{}
		for id := range m {
			set[id] = true
		}
		for _, id := range e.Groups() {
			set[id] = true
		}
		for id := range set {
			ids = append(ids, id)
		}
		sort.Slice(ids, func(i, j int) bool { return ids[i] < ids[j] })
	}
	for _, id := range ids {
		if err := m.get(id).diff(e.Storage(id), r); err != nil {
			return fmt.Errorf("group %d: %w", id, err)
		}
	}
	return nil
}

func requireModels(t *testing.T, e *wal.Engine, m models, r *rand.Rand, where string) {
	t.Helper()
	require.NoError(t, sameModels(e, m, nil, r), where)
}

// damageUndo records damage done at rest and how to undo it.
type damageUndo struct {
	repair   func()
	detected func()
	harmless func()
}

// damage sometimes damages the engine's files at rest: flips a bit, deletes
// a segment, or adds a segment file that does not belong.
func damage(t *testing.T, fs *faultfs.FS, r *rand.Rand, tot *sweepTotals) *damageUndo {
	var segs []string
	for _, name := range fs.Files() {
		if strings.HasSuffix(name, ".wal") {
			segs = append(segs, name)
		}
	}
	if len(segs) == 0 || r.IntN(6) != 0 {
		return nil
	}
	name := segs[r.IntN(len(segs))]
	data, err := fs.ReadFile(name)
	require.NoError(t, err)
	restore := func() { require.NoError(t, fs.WriteFile(name, data)) }
	switch r.IntN(4) {
	case 0, 1:
		if len(data) == 0 {
			return nil
		}
		off, bit := int64(r.IntN(len(data))), uint(r.IntN(8))
		require.NoError(t, fs.FlipBit(name, off, bit))
		tot.flips++
		return &damageUndo{
			repair:   func() { require.NoError(t, fs.FlipBit(name, off, bit)) },
			detected: func() { tot.flipsDetected++ },
			harmless: func() { tot.flipsHarmless++ },
		}
	case 2:
		require.NoError(t, fs.DeleteFile(name))
		tot.deletions++
		return &damageUndo{
			repair:   restore,
			detected: func() { tot.deletionsDetected++ },
			harmless: func() { tot.deletionsHarmless++ },
		}
	default:
		// A copy of a segment, or junk, under the name of the segment
		// after the newest.
		newest := segs[len(segs)-1]
		base := strings.TrimSuffix(newest[strings.LastIndex(newest, "/")+1:], ".wal")
		n, err := strconv.ParseUint(base, 16, 64)
		require.NoError(t, err)
		extra := fmt.Sprintf("%s/%016x.wal", testDir, n+1)
		content := data
		if r.IntN(2) == 0 {
			content = make([]byte, r.IntN(200))
			for i := range content {
				content[i] = byte(r.Uint32())
			}
		}
		require.NoError(t, fs.WriteFile(extra, content))
		tot.extras++
		return &damageUndo{
			repair:   func() { require.NoError(t, fs.DeleteFile(extra)) },
			detected: func() { tot.extrasDetected++ },
			harmless: func() { t.Fatalf("an extra segment %s was accepted", extra) },
		}
	}
}

// TestConcurrentSavesAcrossCrashes runs writers on their own groups, each
// appending entries as fast as it can, while the file system crashes at a
// random operation (often inside a write of a batch that carries several
// writers' Saves). After the power loss and a reopening, every group must
// hold every entry its writer saw acknowledged, intact, and nothing but
// what its writer saved.
func TestConcurrentSavesAcrossCrashes(t *testing.T) {
	for seed := uint64(1); seed <= 40; seed++ {
		fs := faultfs.New(faultfs.Config{Seed: seed})
		opts := testOptions(fs, seed)
		e, err := wal.Open(testDir, opts)
		require.NoError(t, err)
		fs.CrashAfter(uint64(20 + seed*7%200))
		const writers = 8
		acked := make([]uint64, writers)
		var wg sync.WaitGroup
		for w := 0; w < writers; w++ {
			wg.Add(1)
			go func(w int) {
				defer wg.Done()
				g := uint64(w + 1)
				for i := uint64(1); ; i++ {
					u := wal.Update{Group: g, Entries: []pb.Entry{concurrentEntry(g, i)}, HardState: pb.HardState{Term: 1, Commit: i - 1}}
					if err := e.Save([]wal.Update{u}); err != nil {
						return
					}
					acked[w] = i
				}
			}(w)
		}
		wg.Wait()
		_ = e.Close()
		fs.Crash()
		e, err = wal.Open(testDir, opts)
		require.NoError(t, err, "seed %d", seed)
		for w := 0; w < writers; w++ {
			g := uint64(w + 1)
			s := e.Storage(g)
			last, err := s.LastIndex()
			require.NoError(t, err)
			require.GreaterOrEqual(t, last, acked[w], "seed %d group %d lost acknowledged entries", seed, g)
			require.LessOrEqual(t, last, acked[w]+1, "seed %d group %d: only the Save in flight may survive unacknowledged", seed, g)
			if last == 0 {
				continue
			}
			ents, err := s.Entries(1, last+1, 1<<30)
			require.NoError(t, err)
			for i, en := range ents {
				require.Equal(t, concurrentEntry(g, uint64(i+1)), en, "seed %d group %d", seed, g)
			}
		}
		require.NoError(t, e.Close())
	}
}

func concurrentEntry(g, i uint64) pb.Entry {
	return pb.Entry{Index: i, Term: 1, Data: []byte(fmt.Sprintf("group %d entry %d", g, i))}
}
