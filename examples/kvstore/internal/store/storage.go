// Package store is a durable raft.Storage on the Pebble storage engine.
//
// Layout inside Pebble: one key per log entry ("e" + big-endian index, so
// keys sort by index), one for the HardState ("h") and one for the metadata
// of the latest snapshot ("m"). Every value carries a CRC-32C of its bytes.
// The log always holds a placeholder entry at the compaction point whose
// term answers Term(FirstIndex()-1); entries above it are the real log.
// Snapshot data lives in files next to the database (see writeSnapFile).
package store

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/cockroachdb/pebble/v2"
	"github.com/pontoon-raft/raft"
	pb "github.com/pontoon-raft/raft/raftpb"
)

var (
	hardStateKey = []byte("h")
	snapMetaKey  = []byte("m")
)

// entryKey returns the Pebble key of the entry at index.
func entryKey(index uint64) []byte {
	k := make([]byte, 9)
	k[0] = 'e'
	binary.BigEndian.PutUint64(k[1:], index)
	return k
}

// Options tunes a DiskStorage.
type Options struct {
	// SyncObserver, if set, is called with the duration of every batch
	// commit made with fsync.
	SyncObserver func(time.Duration)
}

// DiskStorage implements raft.Storage on Pebble. Reads (the raft.Storage
// methods) may run concurrently with each other; Save, CreateSnapshot and
// Compact must be called from one goroutine, the one handling Readys.
type DiskStorage struct {
	db      *pebble.DB
	snapDir string
	opts    Options

	mu         sync.RWMutex
	hardState  pb.HardState
	snapshot   pb.Snapshot // latest snapshot, data included
	dummyIndex uint64      // index of the placeholder entry: FirstIndex()-1
	dummyTerm  uint64
	lastIndex  uint64
}

var _ raft.Storage = (*DiskStorage)(nil)

// Open opens (or creates) the storage in dir and checks all of it: every
// entry's checksum and index, the HardState and the snapshot file. Any
// mismatch, including a torn write at the tail of the log, is returned as
// an error wrapping ErrCorrupt; nothing is repaired silently.
func Open(dir string, opts Options) (*DiskStorage, error) {
	snapDir := filepath.Join(dir, "snap")
	if err := os.MkdirAll(snapDir, 0o755); err != nil {
		return nil, err
	}
	db, err := pebble.Open(filepath.Join(dir, "pebble"), &pebble.Options{Logger: quietLogger{}})
	if err != nil {
		return nil, err
	}
	s := &DiskStorage{db: db, snapDir: snapDir, opts: opts}
	if err := s.load(); err != nil {
		db.Close()
		return nil, err
	}
	return s, nil
}

// Close closes the database.
func (s *DiskStorage) Close() error { return s.db.Close() }

func (s *DiskStorage) load() error {
	if v, ok, err := s.getFramed(hardStateKey, "hard state"); err != nil {
		return err
	} else if ok {
		if err := s.hardState.Unmarshal(v); err != nil {
			return fmt.Errorf("%w: hard state: %v", ErrCorrupt, err)
		}
	}
	keep := ""
	if v, ok, err := s.getFramed(snapMetaKey, "snapshot metadata"); err != nil {
		return err
	} else if ok {
		var md pb.SnapshotMetadata
		if err := md.Unmarshal(v); err != nil {
			return fmt.Errorf("%w: snapshot metadata: %v", ErrCorrupt, err)
		}
		if s.snapshot, err = readSnapFile(s.snapDir, md.Term, md.Index); err != nil {
			return err
		}
		keep = snapFileName(md.Term, md.Index)
	}
	if err := removeSnapFilesExcept(s.snapDir, keep); err != nil {
		return err
	}
	if err := s.scanLog(); err != nil {
		return err
	}
	if s.hardState.Commit > s.lastIndex {
		return fmt.Errorf("%w: hard state commit %d is beyond the last entry %d", ErrCorrupt, s.hardState.Commit, s.lastIndex)
	}
	if si := s.snapshot.Metadata.Index; si > s.lastIndex {
		return fmt.Errorf("%w: snapshot index %d is beyond the last entry %d", ErrCorrupt, si, s.lastIndex)
	}
	return nil
}

// scanLog reads every entry once, checking checksums and that indexes are
// contiguous, and sets the log bounds. An empty database gets the initial
// placeholder at index 0.
func (s *DiskStorage) scanLog() error {
	it, err := s.db.NewIter(&pebble.IterOptions{LowerBound: entryKey(0), UpperBound: entryKey(math.MaxUint64)})
	if err != nil {
		return err
	}
	defer it.Close()
	first := true
	for it.First(); it.Valid(); it.Next() {
		e, err := decodeEntry(it.Key(), it.Value())
		if err != nil {
			return err
		}
		switch {
		case first:
			s.dummyIndex, s.dummyTerm, s.lastIndex = e.Index, e.Term, e.Index
			first = false
		case e.Index != s.lastIndex+1:
			return fmt.Errorf("%w: log has a gap: entry %d follows %d", ErrCorrupt, e.Index, s.lastIndex)
		default:
			s.lastIndex = e.Index
		}
	}
	if err := it.Error(); err != nil {
		return err
	}
	if first {
		v := frame(mustMarshal(&pb.Entry{}))
		return s.db.Set(entryKey(0), v, pebble.Sync)
	}
	return nil
}

// decodeEntry checks and decodes the entry stored under key.
func decodeEntry(key, value []byte) (pb.Entry, error) {
	if len(key) != 9 || key[0] != 'e' {
		return pb.Entry{}, fmt.Errorf("%w: unexpected log key %x", ErrCorrupt, key)
	}
	index := binary.BigEndian.Uint64(key[1:])
	what := fmt.Sprintf("entry %d", index)
	payload, err := unframe(value, what)
	if err != nil {
		return pb.Entry{}, err
	}
	var e pb.Entry
	// Unmarshal copies Data out of payload, which Pebble may reuse.
	if err := e.Unmarshal(payload); err != nil {
		return pb.Entry{}, fmt.Errorf("%w: %s: %v", ErrCorrupt, what, err)
	}
	if e.Index != index {
		return pb.Entry{}, fmt.Errorf("%w: %s holds index %d", ErrCorrupt, what, e.Index)
	}
	return e, nil
}

// getFramed reads and checks the value of key; ok is false if it is absent.
func (s *DiskStorage) getFramed(key []byte, what string) (payload []byte, ok bool, err error) {
	v, closer, err := s.db.Get(key)
	if errors.Is(err, pebble.ErrNotFound) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, err
	}
	defer closer.Close()
	p, err := unframe(v, what)
	if err != nil {
		return nil, false, err
	}
	return append([]byte(nil), p...), true, nil
}

// InitialState implements raft.Storage.
func (s *DiskStorage) InitialState() (pb.HardState, pb.ConfState, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.hardState, s.snapshot.Metadata.ConfState, nil
}

// Entries implements raft.Storage. A value that fails its checksum is
// returned as an error wrapping ErrCorrupt, which raft treats as fatal.
func (s *DiskStorage) Entries(lo, hi, maxSize uint64) ([]pb.Entry, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if lo <= s.dummyIndex {
		return nil, raft.ErrCompacted
	}
	if hi > s.lastIndex+1 {
		return nil, fmt.Errorf("kvstore: entries [%d, %d) requested beyond the last index %d", lo, hi, s.lastIndex)
	}
	if s.lastIndex == s.dummyIndex {
		return nil, raft.ErrUnavailable
	}
	it, err := s.db.NewIter(&pebble.IterOptions{LowerBound: entryKey(lo), UpperBound: entryKey(hi)})
	if err != nil {
		return nil, err
	}
	defer it.Close()
	var ents []pb.Entry
	var size uint64
	next := lo
	full := false
	for it.First(); it.Valid(); it.Next() {
		e, err := decodeEntry(it.Key(), it.Value())
		if err != nil {
			return nil, err
		}
		if e.Index != next {
			return nil, fmt.Errorf("%w: expected entry %d, found %d", ErrCorrupt, next, e.Index)
		}
		size += uint64(e.Size())
		if len(ents) > 0 && size > maxSize {
			full = true
			break
		}
		ents = append(ents, e)
		next++
	}
	if err := it.Error(); err != nil {
		return nil, err
	}
	if next < hi && !full {
		return nil, fmt.Errorf("%w: entries [%d, %d) are missing from %d on", ErrCorrupt, lo, hi, next)
	}
	return ents, nil
}

// Term implements raft.Storage.
func (s *DiskStorage) Term(i uint64) (uint64, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	switch {
	case i < s.dummyIndex:
		return 0, raft.ErrCompacted
	case i > s.lastIndex:
		return 0, raft.ErrUnavailable
	case i == s.dummyIndex:
		return s.dummyTerm, nil
	}
	key := entryKey(i)
	v, closer, err := s.db.Get(key)
	if err != nil {
		return 0, fmt.Errorf("kvstore: reading entry %d: %w", i, err)
	}
	defer closer.Close()
	e, err := decodeEntry(key, v)
	if err != nil {
		return 0, err
	}
	return e.Term, nil
}

// LastIndex implements raft.Storage.
func (s *DiskStorage) LastIndex() (uint64, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.lastIndex, nil
}

// FirstIndex implements raft.Storage.
func (s *DiskStorage) FirstIndex() (uint64, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.dummyIndex + 1, nil
}

// Snapshot implements raft.Storage. The snapshot is kept in memory.
func (s *DiskStorage) Snapshot() (pb.Snapshot, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.snapshot, nil
}

// HardState returns the persisted HardState.
func (s *DiskStorage) HardState() pb.HardState {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.hardState
}

// Save persists the durable parts of a Ready in one Pebble batch: the
// snapshot (its file is written and fsynced first), then the entries (which
// replace any stored entries from their first index on), then the
// HardState. With sync the batch is fsynced before Save returns, as the
// Ready contract requires before Messages are sent when Ready.MustSync.
func (s *DiskStorage) Save(hs pb.HardState, ents []pb.Entry, snap pb.Snapshot, sync bool) error {
	b := s.db.NewBatch()
	defer b.Close()

	s.mu.RLock()
	dummyIndex, dummyTerm, lastIndex := s.dummyIndex, s.dummyTerm, s.lastIndex
	s.mu.RUnlock()

	hasSnap := !raft.IsEmptySnap(snap)
	if hasSnap {
		if snap.Metadata.Index <= s.snapshot.Metadata.Index {
			return raft.ErrSnapOutOfDate
		}
		if err := writeSnapFile(s.snapDir, snap); err != nil {
			return err
		}
		if err := b.Set(snapMetaKey, frame(mustMarshal(&snap.Metadata)), nil); err != nil {
			return err
		}
		// The snapshot replaces the whole log.
		if err := b.DeleteRange(entryKey(0), entryKey(math.MaxUint64), nil); err != nil {
			return err
		}
		dummyIndex, dummyTerm, lastIndex = snap.Metadata.Index, snap.Metadata.Term, snap.Metadata.Index
		placeholder := pb.Entry{Index: dummyIndex, Term: dummyTerm}
		if err := b.Set(entryKey(dummyIndex), frame(mustMarshal(&placeholder)), nil); err != nil {
			return err
		}
	}
	// Entries at or below the placeholder are already covered by it.
	for len(ents) > 0 && ents[0].Index <= dummyIndex {
		ents = ents[1:]
	}
	if len(ents) > 0 {
		first := ents[0].Index
		if first > lastIndex+1 {
			return fmt.Errorf("kvstore: appending entry %d would leave a gap after %d", first, lastIndex)
		}
		if first <= lastIndex {
			if err := b.DeleteRange(entryKey(first), entryKey(lastIndex+1), nil); err != nil {
				return err
			}
		}
		for i := range ents {
			if err := b.Set(entryKey(ents[i].Index), frame(mustMarshal(&ents[i])), nil); err != nil {
				return err
			}
		}
		lastIndex = ents[len(ents)-1].Index
	}
	if !raft.IsEmptyHardState(hs) {
		if err := b.Set(hardStateKey, frame(mustMarshal(&hs)), nil); err != nil {
			return err
		}
	}
	if b.Empty() {
		return nil
	}
	if err := s.commit(b, sync || hasSnap); err != nil {
		return err
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	if hasSnap {
		s.snapshot = snap
		if err := removeSnapFilesExcept(s.snapDir, snapFileName(snap.Metadata.Term, snap.Metadata.Index)); err != nil {
			return err
		}
	}
	s.dummyIndex, s.dummyTerm, s.lastIndex = dummyIndex, dummyTerm, lastIndex
	if !raft.IsEmptyHardState(hs) {
		s.hardState = hs
	}
	return nil
}

// CreateSnapshot records data as the state machine's snapshot at index
// (which must be applied, so its term is known) with configuration cs. The
// file is written and the metadata committed with fsync; the log is not
// touched (see Compact).
func (s *DiskStorage) CreateSnapshot(index uint64, cs pb.ConfState, data []byte) (pb.Snapshot, error) {
	s.mu.RLock()
	current := s.snapshot.Metadata.Index
	s.mu.RUnlock()
	if index <= current {
		return pb.Snapshot{}, raft.ErrSnapOutOfDate
	}
	term, err := s.Term(index)
	if err != nil {
		return pb.Snapshot{}, err
	}
	snap := pb.Snapshot{Data: data, Metadata: pb.SnapshotMetadata{ConfState: cs, Index: index, Term: term}}
	if err := writeSnapFile(s.snapDir, snap); err != nil {
		return pb.Snapshot{}, err
	}
	b := s.db.NewBatch()
	defer b.Close()
	if err := b.Set(snapMetaKey, frame(mustMarshal(&snap.Metadata)), nil); err != nil {
		return pb.Snapshot{}, err
	}
	if err := s.commit(b, true); err != nil {
		return pb.Snapshot{}, err
	}
	s.mu.Lock()
	s.snapshot = snap
	s.mu.Unlock()
	return snap, removeSnapFilesExcept(s.snapDir, snapFileName(term, index))
}

// Compact discards the entries below compactIndex; the entry at
// compactIndex becomes the placeholder, so FirstIndex becomes
// compactIndex+1. compactIndex must not exceed the latest snapshot's index:
// entries are only dropped once a snapshot covers them.
func (s *DiskStorage) Compact(compactIndex uint64) error {
	s.mu.RLock()
	dummyIndex, snapIndex := s.dummyIndex, s.snapshot.Metadata.Index
	s.mu.RUnlock()
	if compactIndex <= dummyIndex {
		return raft.ErrCompacted
	}
	if compactIndex > snapIndex {
		return fmt.Errorf("kvstore: compaction to %d would drop entries above the snapshot at %d", compactIndex, snapIndex)
	}
	term, err := s.Term(compactIndex)
	if err != nil {
		return err
	}
	b := s.db.NewBatch()
	defer b.Close()
	if err := b.DeleteRange(entryKey(dummyIndex), entryKey(compactIndex), nil); err != nil {
		return err
	}
	// Losing this batch in a crash only leaves more log behind: no fsync.
	if err := s.commit(b, false); err != nil {
		return err
	}
	s.mu.Lock()
	s.dummyIndex, s.dummyTerm = compactIndex, term
	s.mu.Unlock()
	return nil
}

func (s *DiskStorage) commit(b *pebble.Batch, sync bool) error {
	if !sync {
		return b.Commit(pebble.NoSync)
	}
	start := time.Now()
	err := b.Commit(pebble.Sync)
	if s.opts.SyncObserver != nil {
		s.opts.SyncObserver(time.Since(start))
	}
	return err
}

// marshaler is what the raftpb types generated by gogo provide.
type marshaler interface{ Marshal() ([]byte, error) }

// mustMarshal encodes a raftpb value; encoding them cannot fail.
func mustMarshal(m marshaler) []byte {
	b, err := m.Marshal()
	if err != nil {
		panic(fmt.Sprintf("kvstore: marshaling %T: %v", m, err))
	}
	return b
}

// quietLogger drops Pebble's informational output and keeps its errors.
type quietLogger struct{}

func (quietLogger) Infof(string, ...interface{}) {}
func (quietLogger) Errorf(format string, args ...interface{}) {
	fmt.Fprintf(os.Stderr, "pebble: "+format+"\n", args...)
}
func (quietLogger) Fatalf(format string, args ...interface{}) {
	fmt.Fprintf(os.Stderr, "pebble: "+format+"\n", args...)
	os.Exit(1)
}
