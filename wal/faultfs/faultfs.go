// Package faultfs is an in-memory wal.FS for tests and simulations that
// models what a crash leaves on disk and injects the faults storage code
// must survive.
//
// It tracks, for every file, the bytes a successful Sync made durable and
// the writes and truncations since, and, for every directory, the entries
// a successful SyncDir made durable and the creations, renames and removals
// since. Crash (a power loss) then keeps the durable state plus a random
// part of the rest: each unsynced sector of each write survives or reads
// back as zeros, each unsynced truncation and size change survives or not,
// and each directory keeps a random prefix of its unsynced changes (a
// journaled file system replays metadata changes in order).
//
// Faults:
//   - CrashAfter makes the FS crash inside a later operation, a write being
//     cut at a random byte (a torn write), so a single goroutine can crash
//     a program at any point of its I/O deterministically;
//   - Faults.SyncErrorRate makes Sync and SyncDir fail with EIO, leaving
//     the data unsynced;
//   - Faults.NoSpaceRate and Config.CapacityBytes make writes fail with
//     ENOSPC after writing a prefix;
//   - FlipBit damages bytes at rest; WriteFile, DeleteFile and ReadFile
//     let a test add, remove or copy files behind the program's back.
//
// Everything is decided by a random source seeded from Config.Seed, so a
// run that makes the same calls makes the same decisions. The FS starts no
// goroutines; it is safe for concurrent use (one mutex), but only a
// single-goroutine program gets reproducible runs.
package faultfs

import (
	"errors"
	"io"
	"io/fs"
	"math/rand/v2"
	"path/filepath"
	"sort"
	"sync"
	"syscall"

	"github.com/pontoon-raft/raft/wal"
)

// ErrCrashed is returned by every operation of a file system that has
// crashed (see CrashAfter), and by the files opened before a Crash.
var ErrCrashed = errors.New("faultfs: file system crashed")

// Config configures an FS.
type Config struct {
	// Seed seeds every random decision.
	Seed uint64
	// SectorBytes is the unit in which unsynced writes survive a crash or
	// not. Default 512.
	SectorBytes int
	// SurvivalRate is the probability that each unsynced sector, size
	// change or truncation survives a crash. Default 0.5; set it to a tiny
	// positive value to lose nearly everything unsynced.
	SurvivalRate float64
	// CapacityBytes, if positive, is the total size all files may reach;
	// a write beyond it fails with ENOSPC after writing what fits.
	CapacityBytes int64
	// Faults are the initial fault rates; see SetFaults.
	Faults Faults
}

// Faults are the rates of the faults injected at random.
type Faults struct {
	// SyncErrorRate is the probability that a Sync or SyncDir fails with
	// EIO. A failed Sync leaves the file's unsynced writes unsynced.
	SyncErrorRate float64
	// NoSpaceRate is the probability that a Write fails with ENOSPC after
	// writing a random prefix of its data.
	NoSpaceRate float64
}

// Stats counts what the FS did and injected.
type Stats struct {
	Ops                 uint64 // mutating operations: create, write, sync, truncate, allocate, rename, remove, sync dir
	Crashes             int    // calls to Crash
	CrashesInWrite      int    // crashes that cut a write short (torn writes at the crash point)
	UnsyncedWritesKept  int    // unsynced writes that survived a crash whole
	UnsyncedWritesTorn  int    // unsynced writes of which only some sectors survived
	UnsyncedWritesLost  int    // unsynced writes of which nothing survived
	DirChangesLost      int    // unsynced directory changes a crash undid
	SyncErrors          int    // injected Sync and SyncDir failures
	NoSpaceErrors       int    // writes failed with ENOSPC
	BitFlips            int    // bits flipped by FlipBit
	FilesAddedOrRemoved int    // WriteFile and DeleteFile calls
}

// FS is the fault-injecting file system. Create one with New.
type FS struct {
	mu     sync.Mutex
	cfg    Config
	faults Faults
	rng    *rand.Rand

	cur    map[string]*inode    // the namespace programs see
	dur    map[string]*inode    // the namespace that survives a crash
	dirLog map[string][]dirOp   // unsynced directory changes, per directory, in order
	dirs   map[string]bool      // directories (durable as soon as made)
	locks  map[string]*lockFile // names locked with Lock

	gen     uint64 // crash generation; files of older generations are dead
	crashAt uint64 // Stats.Ops value at which to crash; 0 for never
	down    bool   // crashed, until Crash is called
	stats   Stats
}

type inode struct {
	data     []byte   // what reads see now
	durable  []byte   // what a crash keeps for sure
	unsynced []change // since the last successful Sync, in order
}

// change is an unsynced write (data at off) or truncation (to size).
type change struct {
	off      int64
	data     []byte
	truncate bool
	size     int64
}

type dirOp struct {
	kind     byte // 'c'reate, 'r'ename, 'd'elete
	name     string
	old      string // rename source
	ino      *inode
	replaced bool // create of a name that existed (contents truncated, entry unchanged)
}

var _ wal.FS = (*FS)(nil)

// New returns an empty FS with the root directory "/" and the working
// directory "." existing.
func New(cfg Config) *FS {
	if cfg.SectorBytes <= 0 {
		cfg.SectorBytes = 512
	}
	if cfg.SurvivalRate <= 0 {
		cfg.SurvivalRate = 0.5
	}
	return &FS{
		cfg:    cfg,
		faults: cfg.Faults,
		rng:    rand.New(rand.NewPCG(cfg.Seed, cfg.Seed^0x5eed)),
		cur:    map[string]*inode{},
		dur:    map[string]*inode{},
		dirLog: map[string][]dirOp{},
		dirs:   map[string]bool{"/": true, ".": true},
		locks:  map[string]*lockFile{},
	}
}

// SetFaults changes the fault rates from now on.
func (f *FS) SetFaults(faults Faults) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.faults = faults
}

// CrashAfter makes the FS crash during the n-th mutating operation from
// now (n ≥ 1): that operation does not happen, except that a write may
// leave any prefix of its data behind (unsynced), and it and every later
// operation fail with ErrCrashed until Crash is called. n = 0 cancels.
func (f *FS) CrashAfter(n uint64) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if n == 0 {
		f.crashAt = 0
		return
	}
	f.crashAt = f.stats.Ops + n
}

// Down reports whether the FS has crashed (CrashAfter) and awaits Crash.
func (f *FS) Down() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.down
}

// Stats returns the counters.
func (f *FS) Stats() Stats {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.stats
}

// step accounts for one mutating operation and reports whether the FS is
// (now) down.
func (f *FS) step() error {
	if f.down {
		return ErrCrashed
	}
	f.stats.Ops++
	if f.crashAt != 0 && f.stats.Ops >= f.crashAt {
		f.down = true
		f.crashAt = 0
		return ErrCrashed
	}
	return nil
}

// Crash simulates a power loss and restart: every file is reduced to what
// survives (see the package documentation), files opened before are dead,
// locks are released and the FS is up again.
func (f *FS) Crash() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.stats.Crashes++
	dirs := make([]string, 0, len(f.dirLog))
	for d := range f.dirLog {
		dirs = append(dirs, d)
	}
	sort.Strings(dirs)
	for _, d := range dirs {
		log := f.dirLog[d]
		keep := f.rng.IntN(len(log) + 1)
		for _, op := range log[:keep] {
			f.applyDurable(op)
		}
		f.stats.DirChangesLost += len(log) - keep
	}
	f.dirLog = map[string][]dirOp{}

	names := make([]string, 0, len(f.dur))
	for n := range f.dur {
		names = append(names, n)
	}
	sort.Strings(names)
	done := map[*inode]bool{}
	f.cur = map[string]*inode{}
	for _, n := range names {
		ino := f.dur[n]
		f.cur[n] = ino
		if !done[ino] {
			done[ino] = true
			f.materialize(ino)
		}
	}
	f.locks = map[string]*lockFile{}
	f.gen++
	f.down = false
	f.crashAt = 0
}

func (f *FS) applyDurable(op dirOp) {
	switch op.kind {
	case 'c':
		f.dur[op.name] = op.ino
	case 'r':
		delete(f.dur, op.old)
		f.dur[op.name] = op.ino
	case 'd':
		delete(f.dur, op.name)
	}
}

// materialize reduces ino to what survives a crash.
func (f *FS) materialize(ino *inode) {
	content := append([]byte(nil), ino.durable...)
	sector := int64(f.cfg.SectorBytes)
	for _, c := range ino.unsynced {
		if c.truncate {
			if f.rng.Float64() < f.cfg.SurvivalRate {
				content = resize(content, c.size)
			}
			continue
		}
		kept, lost := 0, 0
		end := c.off + int64(len(c.data))
		for s := c.off - c.off%sector; s < end; s += sector {
			lo, hi := max(s, c.off), min(s+sector, end)
			if f.rng.Float64() < f.cfg.SurvivalRate {
				if int64(len(content)) < hi {
					content = resize(content, hi)
				}
				copy(content[lo:hi], c.data[lo-c.off:hi-c.off])
				kept++
			} else {
				lost++
			}
		}
		// The size may have reached the disk without the data.
		if int64(len(content)) < end && f.rng.Float64() < f.cfg.SurvivalRate {
			content = resize(content, end)
		}
		switch {
		case lost == 0:
			f.stats.UnsyncedWritesKept++
		case kept == 0:
			f.stats.UnsyncedWritesLost++
		default:
			f.stats.UnsyncedWritesTorn++
		}
	}
	ino.data = content
	ino.durable = append([]byte(nil), content...)
	ino.unsynced = nil
}

// resize returns b cut or zero-extended to size.
func resize(b []byte, size int64) []byte {
	if int64(len(b)) >= size {
		return b[:size]
	}
	return append(b, make([]byte, size-int64(len(b)))...)
}

func pathErr(op, name string, err error) error { return &fs.PathError{Op: op, Path: name, Err: err} }

func clean(name string) string { return filepath.Clean(name) }

func (f *FS) checkDir(name string) error {
	if d := filepath.Dir(name); !f.dirs[d] {
		return pathErr("open", name, fs.ErrNotExist)
	}
	return nil
}

// Create implements wal.FS.
func (f *FS) Create(name string) (wal.File, error) {
	name = clean(name)
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.step(); err != nil {
		return nil, err
	}
	if err := f.checkDir(name); err != nil {
		return nil, err
	}
	if ino := f.cur[name]; ino != nil {
		ino.data = ino.data[:0]
		ino.unsynced = append(ino.unsynced, change{truncate: true})
		return f.open(name, ino), nil
	}
	ino := &inode{}
	f.cur[name] = ino
	d := filepath.Dir(name)
	f.dirLog[d] = append(f.dirLog[d], dirOp{kind: 'c', name: name, ino: ino})
	return f.open(name, ino), nil
}

// Open implements wal.FS.
func (f *FS) Open(name string) (wal.File, error) {
	name = clean(name)
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.down {
		return nil, ErrCrashed
	}
	ino := f.cur[name]
	if ino == nil {
		return nil, pathErr("open", name, fs.ErrNotExist)
	}
	return f.open(name, ino), nil
}

func (f *FS) open(name string, ino *inode) *file {
	return &file{fs: f, ino: ino, name: name, gen: f.gen}
}

// Remove implements wal.FS.
func (f *FS) Remove(name string) error {
	name = clean(name)
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.step(); err != nil {
		return err
	}
	if f.cur[name] == nil {
		return pathErr("remove", name, fs.ErrNotExist)
	}
	delete(f.cur, name)
	d := filepath.Dir(name)
	f.dirLog[d] = append(f.dirLog[d], dirOp{kind: 'd', name: name})
	return nil
}

// Rename implements wal.FS. Both names must be in the same directory.
func (f *FS) Rename(oldname, newname string) error {
	oldname, newname = clean(oldname), clean(newname)
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.step(); err != nil {
		return err
	}
	ino := f.cur[oldname]
	if ino == nil {
		return pathErr("rename", oldname, fs.ErrNotExist)
	}
	d := filepath.Dir(oldname)
	if filepath.Dir(newname) != d {
		return pathErr("rename", newname, syscall.EXDEV)
	}
	delete(f.cur, oldname)
	f.cur[newname] = ino
	f.dirLog[d] = append(f.dirLog[d], dirOp{kind: 'r', name: newname, old: oldname, ino: ino})
	return nil
}

// List implements wal.FS.
func (f *FS) List(dir string) ([]string, error) {
	dir = clean(dir)
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.down {
		return nil, ErrCrashed
	}
	if !f.dirs[dir] {
		return nil, pathErr("open", dir, fs.ErrNotExist)
	}
	var names []string
	for n := range f.cur {
		if filepath.Dir(n) == dir {
			names = append(names, filepath.Base(n))
		}
	}
	for d := range f.dirs {
		if d != dir && filepath.Dir(d) == dir {
			names = append(names, filepath.Base(d))
		}
	}
	sort.Strings(names)
	return names, nil
}

// MkdirAll implements wal.FS. Directories are durable at once.
func (f *FS) MkdirAll(dir string) error {
	dir = clean(dir)
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.down {
		return ErrCrashed
	}
	for d := dir; !f.dirs[d]; d = filepath.Dir(d) {
		if f.cur[d] != nil {
			return pathErr("mkdir", d, syscall.ENOTDIR)
		}
		f.dirs[d] = true
	}
	return nil
}

// SyncDir implements wal.FS.
func (f *FS) SyncDir(dir string) error {
	dir = clean(dir)
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.step(); err != nil {
		return err
	}
	if !f.dirs[dir] {
		return pathErr("sync", dir, fs.ErrNotExist)
	}
	if f.rng.Float64() < f.faults.SyncErrorRate {
		f.stats.SyncErrors++
		return pathErr("sync", dir, syscall.EIO)
	}
	for _, op := range f.dirLog[dir] {
		f.applyDurable(op)
	}
	delete(f.dirLog, dir)
	return nil
}

// Lock implements wal.FS. Locks are released by Close or by Crash.
func (f *FS) Lock(name string) (io.Closer, error) {
	name = clean(name)
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.down {
		return nil, ErrCrashed
	}
	if f.locks[name] != nil {
		return nil, pathErr("lock", name, syscall.EWOULDBLOCK)
	}
	l := &lockFile{fs: f, name: name, gen: f.gen}
	f.locks[name] = l
	return l, nil
}

type lockFile struct {
	fs   *FS
	name string
	gen  uint64
}

// Close releases the lock.
func (l *lockFile) Close() error {
	l.fs.mu.Lock()
	defer l.fs.mu.Unlock()
	if l.fs.locks[l.name] == l {
		delete(l.fs.locks, l.name)
	}
	return nil
}

// used returns the total size of the files in the namespace.
func (f *FS) used() int64 {
	var n int64
	seen := map[*inode]bool{}
	for _, ino := range f.cur {
		if !seen[ino] {
			seen[ino] = true
			n += int64(len(ino.data))
		}
	}
	return n
}
