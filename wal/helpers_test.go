package wal_test

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/pontoon-raft/raft"
	pb "github.com/pontoon-raft/raft/raftpb"
	"github.com/pontoon-raft/raft/wal"
	"github.com/pontoon-raft/raft/wal/faultfs"
	"github.com/stretchr/testify/require"
)

const testDir = "/data/wal"

// seededRand returns a deterministic source for engine ids.
type seededRand struct{ r *rand.Rand }

func (s seededRand) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = byte(s.r.Uint32())
	}
	return len(p), nil
}

// testOptions returns small-segment options on fs.
func testOptions(fs wal.FS, seed uint64) wal.Options {
	return wal.Options{
		FS:               fs,
		SegmentBytes:     4 << 10,
		TailCacheEntries: 8,
		TailCacheBytes:   1 << 10,
		Rand:             seededRand{rand.New(rand.NewPCG(seed, 1))},
	}
}

func openTest(t testing.TB, fs wal.FS) *wal.Engine {
	t.Helper()
	e, err := wal.Open(testDir, testOptions(fs, 1))
	require.NoError(t, err)
	return e
}

// reopen closes e, crashes fs (losing nothing: everything was synced) and
// opens the engine again.
func reopen(t testing.TB, e *wal.Engine, fs *faultfs.FS) *wal.Engine {
	t.Helper()
	require.NoError(t, e.Close())
	fs.Crash()
	return openTest(t, fs)
}

func ent(index, term uint64, data string) pb.Entry {
	return pb.Entry{Index: index, Term: term, Data: []byte(data)}
}

// storageDiff compares got with the model on every raft.Storage method,
// for every index around the log and for ranges of entries with several
// size limits, and returns the first difference.
func storageDiff(model *raft.MemoryStorage, got raft.Storage, r *rand.Rand) error {
	mhs, mcs, _ := model.InitialState()
	ghs, gcs, err := got.InitialState()
	if err != nil {
		return fmt.Errorf("InitialState: %v", err)
	}
	if mhs != ghs || mcs.Equivalent(gcs) != nil {
		return fmt.Errorf("InitialState = %+v %+v, want %+v %+v", ghs, gcs, mhs, mcs)
	}
	mfirst, _ := model.FirstIndex()
	mlast, _ := model.LastIndex()
	gfirst, err1 := got.FirstIndex()
	glast, err2 := got.LastIndex()
	if err1 != nil || err2 != nil || gfirst != mfirst || glast != mlast {
		return fmt.Errorf("first, last = %d, %d (%v %v), want %d, %d", gfirst, glast, err1, err2, mfirst, mlast)
	}
	msnap, _ := model.Snapshot()
	gsnap, err := got.Snapshot()
	if err != nil || msnap.Metadata.Index != gsnap.Metadata.Index || msnap.Metadata.Term != gsnap.Metadata.Term ||
		msnap.Metadata.ConfState.Equivalent(gsnap.Metadata.ConfState) != nil || string(msnap.Data) != string(gsnap.Data) {
		return fmt.Errorf("Snapshot = %+v (%v), want %+v", gsnap, err, msnap)
	}
	for i := mfirst - min(mfirst, 2); i <= mlast+1; i++ {
		mt, merr := model.Term(i)
		gt, gerr := got.Term(i)
		if mt != gt || !sameErr(merr, gerr) {
			return fmt.Errorf("Term(%d) = %d, %v; want %d, %v", i, gt, gerr, mt, merr)
		}
	}
	for k := 0; k < 8; k++ {
		lo := mfirst - min(mfirst, 1) + uint64(r.IntN(int(mlast-mfirst+3)))
		hi := lo + uint64(r.IntN(int(mlast+2-min(lo, mlast+1))))
		hi = min(hi, mlast+1)
		if lo > hi {
			continue
		}
		maxSize := []uint64{0, 1, 64, 200, 1 << 20}[r.IntN(5)]
		me, merr := model.Entries(lo, hi, maxSize)
		ge, gerr := got.Entries(lo, hi, maxSize)
		if !sameErr(merr, gerr) {
			return fmt.Errorf("Entries(%d, %d, %d) error %v, want %v", lo, hi, maxSize, gerr, merr)
		}
		if len(me) != len(ge) {
			return fmt.Errorf("Entries(%d, %d, %d) gave %d entries, want %d", lo, hi, maxSize, len(ge), len(me))
		}
		for j := range me {
			if me[j].Index != ge[j].Index || me[j].Term != ge[j].Term || me[j].Type != ge[j].Type ||
				string(me[j].Data) != string(ge[j].Data) || (me[j].Data == nil) != (ge[j].Data == nil) {
				return fmt.Errorf("Entries(%d, %d, %d)[%d] = %+v, want %+v", lo, hi, maxSize, j, ge[j], me[j])
			}
		}
	}
	return nil
}

func sameErr(a, b error) bool {
	if a == nil || b == nil {
		return a == nil && b == nil
	}
	for _, s := range []error{raft.ErrCompacted, raft.ErrUnavailable, raft.ErrSnapOutOfDate} {
		if errors.Is(a, s) != errors.Is(b, s) {
			return false
		}
	}
	return true
}
