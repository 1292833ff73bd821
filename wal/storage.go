package wal

import (
	"errors"
	"fmt"

	"github.com/pontoon-raft/raft"
	pb "github.com/pontoon-raft/raft/raftpb"
)

// ErrGroupRemoved is returned by the methods of a GroupStorage whose group
// has been removed (Engine.RemoveGroup or an Update with Remove). Ask the
// engine for a new Storage to start the group afresh.
var ErrGroupRemoved = errors.New("wal: group was removed")

// GroupStorage is one group's view of an Engine. It implements
// raft.Storage with raft.MemoryStorage's semantics and errors, over what
// Save has made durable: the core reads it directly. Its methods are safe
// to call concurrently with each other and with Saves.
//
// Entries and Snapshot share memory with the engine (entry and snapshot
// Data): treat them as immutable, as the raft.Storage contract says.
type GroupStorage struct {
	e *Engine
	g *group
}

var _ raft.Storage = (*GroupStorage)(nil)

// Group returns the id of the group.
func (s *GroupStorage) Group() uint64 { return s.g.id }

// rlock takes the group's read lock, or returns why the group cannot be
// read. On success the caller must call s.g.mu.RUnlock.
func (s *GroupStorage) rlock() error {
	if s.e.closedFlag.Load() {
		return ErrClosed
	}
	s.g.mu.RLock()
	if s.g.removed {
		s.g.mu.RUnlock()
		return ErrGroupRemoved
	}
	return nil
}

// InitialState implements raft.Storage: the last saved HardState and the
// ConfState of the group's snapshot.
func (s *GroupStorage) InitialState() (pb.HardState, pb.ConfState, error) {
	if err := s.rlock(); err != nil {
		return pb.HardState{}, pb.ConfState{}, err
	}
	defer s.g.mu.RUnlock()
	return s.g.meta.hs, s.g.meta.snap.Metadata.ConfState, nil
}

// Entries implements raft.Storage. Recent entries come from the group's
// tail cache; older ones are read from the segment files, checking each
// one's checksum (a mismatch is an error wrapping ErrCorrupt). A range that
// reaches past LastIndex()+1 returns an error wrapping raft.ErrUnavailable.
func (s *GroupStorage) Entries(lo, hi, maxSize uint64) ([]pb.Entry, error) {
	if err := s.rlock(); err != nil {
		return nil, err
	}
	defer s.g.mu.RUnlock()
	g := s.g
	m := &g.meta
	switch {
	case lo < m.first:
		return nil, raft.ErrCompacted
	case hi > m.last+1:
		return nil, fmt.Errorf("wal: group %d: entries [%d, %d) reach beyond the last index %d: %w", g.id, lo, hi, m.last, raft.ErrUnavailable)
	case lo > hi:
		return nil, fmt.Errorf("wal: group %d: Entries(%d, %d): lo is above hi", g.id, lo, hi)
	case m.last < m.first:
		return nil, raft.ErrUnavailable
	case lo == hi:
		return []pb.Entry{}, nil
	}
	pos := g.pos[lo-m.first : hi-m.first]
	n, size := 1, uint64(pos[0].pbSize)
	for ; n < len(pos); n++ {
		if size += uint64(pos[n].pbSize); size > maxSize {
			break
		}
	}
	hi = lo + uint64(n)
	out := make([]pb.Entry, 0, n)
	diskHi := hi
	if cacheFirst, ok := g.cache.firstIndex(); ok && cacheFirst < hi {
		diskHi = max(lo, cacheFirst)
	}
	if lo < diskHi {
		s.e.diskReads.Add(1)
		var err error
		if out, err = s.e.readEntries(g.id, lo, pos[:diskHi-lo], out); err != nil {
			return nil, err
		}
	}
	if diskHi < hi {
		out = append(out, g.cache.slice(diskHi, hi)...)
	}
	return out[:len(out):len(out)], nil
}

// Term implements raft.Storage. It answers from memory for every index in
// [FirstIndex()-1, LastIndex()].
func (s *GroupStorage) Term(i uint64) (uint64, error) {
	if err := s.rlock(); err != nil {
		return 0, err
	}
	defer s.g.mu.RUnlock()
	m := &s.g.meta
	switch {
	case i+1 < m.first:
		return 0, raft.ErrCompacted
	case i > m.last:
		return 0, raft.ErrUnavailable
	}
	return s.g.termAt(i), nil
}

// LastIndex implements raft.Storage.
func (s *GroupStorage) LastIndex() (uint64, error) {
	if err := s.rlock(); err != nil {
		return 0, err
	}
	defer s.g.mu.RUnlock()
	return s.g.meta.last, nil
}

// FirstIndex implements raft.Storage.
func (s *GroupStorage) FirstIndex() (uint64, error) {
	if err := s.rlock(); err != nil {
		return 0, err
	}
	defer s.g.mu.RUnlock()
	return s.g.meta.first, nil
}

// Snapshot implements raft.Storage: the group's latest snapshot, installed
// (Update.Snapshot) or recorded (Update.LocalSnapshot), with the Data it
// was saved with. It is empty if the group has none.
func (s *GroupStorage) Snapshot() (pb.Snapshot, error) {
	if err := s.rlock(); err != nil {
		return pb.Snapshot{}, err
	}
	defer s.g.mu.RUnlock()
	return s.g.meta.snap, nil
}
