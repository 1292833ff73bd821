package wal

import (
	"errors"
	"fmt"
	"io"
	"sort"
	"sync"
	"sync/atomic"
)

// ErrClosed is returned by every method of an Engine (and of its
// GroupStorages) after Close.
var ErrClosed = errors.New("wal: engine is closed")

// ErrFailed is wrapped by every error Save returns after a write or an
// fsync has failed. The engine then refuses all further writes: after a
// failed fsync the kernel may have dropped the unsynced data while still
// showing it, so nothing written since the last good fsync can be trusted,
// and retrying would report data durable that is not (the "fsyncgate"
// lesson). Close the engine and open it again to recover from what is on
// disk. Reads keep serving the state of the last successful Save.
var ErrFailed = errors.New("wal: engine failed")

// Engine stores the logs of many Raft groups in shared segment files in one
// directory. Save persists any number of groups' updates with one write and
// one fsync; Storage returns a group's raft.Storage. All methods are safe
// for concurrent use.
type Engine struct {
	fs   FS
	dir  string
	opts Options
	lock io.Closer

	mu          sync.Mutex
	cond        sync.Cond // signalled when a batch completes or the writer role frees up, if condWaiters > 0
	condWaiters int
	groups      map[uint64]*group
	pending     *batch    // the batch Saves are appending to
	spare       batchBufs // buffers of a completed batch, for the next one
	writing     bool      // a goroutine holds the writer role
	fullWaits   int       // Saves that found the pending batch full, for tests
	closed      bool
	err         error // sticky, wraps ErrFailed
	stats       Stats

	// Writer state: touched only by the goroutine holding the writer role
	// (writing == true), or during Open and Close.
	engineID uint64
	nextSeq  uint64     // sequence number of the next batch frame
	segs     []*segment // live segments, oldest first; the last is the one being appended to
	obsolete []string   // segment files to remove whose removal failed
	wstats   Stats      // counters the writer adds to stats when it returns

	// table lets readers find a segment's file without a lock.
	table      atomic.Pointer[segTable]
	closedFlag atomic.Bool   // closed, for readers
	diskReads  atomic.Uint64 // Stats.DiskReads
}

// Stats are counters of an Engine's activity since Open.
type Stats struct {
	Saves            uint64 // Save calls that succeeded
	Writes           uint64 // batch frames written, each with its own fsync
	Syncs            uint64 // file and directory fsyncs, rotations included
	BytesWritten     uint64 // bytes written to segment files
	Rotations        uint64 // segments started
	SegmentsRemoved  uint64 // segments deleted because no group needs them
	RewrittenEntries uint64 // live entries copied forward to free an old segment
	RewrittenBytes   uint64
	DiskReads        uint64 // reads of entries from segment files (cache misses)
	Segments         int    // live segment files
	Groups           int    // groups with any state

	// Filled by Open.
	RecoveredSegments  int   // segment files replayed
	RecoveredBytes     int64 // bytes of segment data replayed
	TruncatedTailBytes int64 // bytes of a torn write dropped from the last segment
}

// segTable maps a segment number to its open file for readers.
type segTable struct {
	first uint64 // number of files[0]
	files []File
}

func (t *segTable) file(number uint32) (File, bool) {
	if t == nil || uint64(number) < t.first || uint64(number)-t.first >= uint64(len(t.files)) {
		return nil, false
	}
	return t.files[uint64(number)-t.first], true
}

// segment is a live segment file, as the writer tracks it.
type segment struct {
	number      uint64
	file        File
	salt        uint64
	size        int64  // bytes durable in the file; where the next frame goes
	dataStart   int64  // end of the header and checkpoint
	firstSeq    uint64 // sequence number of the segment's first batch
	unsealed    bool   // recovery found no seal although a successor exists
	liveBytes   int64  // encoded bytes of entries some group still references
	liveEntries int64
	groups      map[uint64]struct{} // groups that appended entries here
}

// publishTable makes the current segments visible to readers.
func (e *Engine) publishTable() {
	t := &segTable{first: e.segs[0].number, files: make([]File, len(e.segs))}
	for i, s := range e.segs {
		t.files[i] = s.file
	}
	e.table.Store(t)
}

// segmentFor returns the live segment with the given number, or nil.
func (e *Engine) segmentFor(number uint32) *segment {
	if len(e.segs) == 0 {
		return nil
	}
	i := uint64(number) - e.segs[0].number
	if uint64(number) < e.segs[0].number || i >= uint64(len(e.segs)) {
		return nil
	}
	return e.segs[i]
}

// retain implements liveTracker.
func (e *Engine) retain(p entryPos) {
	s := e.segmentFor(p.seg)
	if s == nil {
		panic(fmt.Sprintf("wal: an entry refers to segment %d, which is not live", p.seg))
	}
	s.liveBytes += int64(p.size)
	s.liveEntries++
}

// release implements liveTracker.
func (e *Engine) release(p entryPos) {
	s := e.segmentFor(p.seg)
	if s == nil {
		panic(fmt.Sprintf("wal: an entry refers to segment %d, which is not live", p.seg))
	}
	s.liveBytes -= int64(p.size)
	s.liveEntries--
}

// Storage returns the raft.Storage of group id, creating an empty group if
// there is none. Nothing is written until a Save carries an update for the
// group. The handle stays valid until the group is removed; after that its
// methods return ErrGroupRemoved.
func (e *Engine) Storage(id uint64) *GroupStorage {
	e.mu.Lock()
	defer e.mu.Unlock()
	return &GroupStorage{e: e, g: e.groupLocked(id)}
}

// groupLocked returns group id, creating it empty if needed.
func (e *Engine) groupLocked(id uint64) *group {
	g := e.groups[id]
	if g == nil {
		g = e.newGroup(id)
		e.groups[id] = g
	}
	return g
}

func (e *Engine) newGroup(id uint64) *group {
	g := &group{id: id, meta: emptyMeta()}
	g.cache.maxEntries, g.cache.maxBytes = e.opts.TailCacheEntries, e.opts.TailCacheBytes
	return g
}

// Groups returns the ids of the groups that have any state (an entry, a
// HardState or a snapshot), in increasing order.
func (e *Engine) Groups() []uint64 {
	e.mu.Lock()
	defer e.mu.Unlock()
	var ids []uint64
	for id, g := range e.groups {
		if !g.meta.isEmpty() {
			ids = append(ids, id)
		}
	}
	sort.Slice(ids, func(i, j int) bool { return ids[i] < ids[j] })
	return ids
}

// Stats returns the engine's counters.
func (e *Engine) Stats() Stats {
	e.mu.Lock()
	defer e.mu.Unlock()
	s := e.stats
	s.DiskReads = e.diskReads.Load()
	if t := e.table.Load(); t != nil {
		s.Segments = len(t.files)
	}
	for _, g := range e.groups {
		if !g.meta.isEmpty() {
			s.Groups++
		}
	}
	return s
}

// Close waits for the write in progress, closes every file and releases
// the directory. Saves that are queued but not yet written fail with
// ErrClosed. Close is idempotent.
func (e *Engine) Close() error {
	e.mu.Lock()
	for e.writing {
		e.condWait()
	}
	if e.closed {
		e.mu.Unlock()
		return nil
	}
	e.closed = true
	e.closedFlag.Store(true)
	if b := e.pending; len(b.ops) > 0 {
		e.finish(b, ErrClosed)
	}
	if e.condWaiters > 0 {
		e.cond.Broadcast()
	}
	e.mu.Unlock()

	var err error
	for _, s := range e.segs {
		if cerr := s.file.Close(); err == nil {
			err = cerr
		}
	}
	e.table.Store(nil)
	if cerr := e.lock.Close(); err == nil {
		err = cerr
	}
	return err
}

// Compact discards the entries of group id up to and including index,
// which must not be beyond the group's snapshot. It is a Save of
// Update{Group: id, CompactIndex: index}.
func (e *Engine) Compact(id, index uint64) error {
	return e.Save([]Update{{Group: id, CompactIndex: index}})
}

// RemoveGroup deletes group id and everything stored for it. It is a Save
// of Update{Group: id, Remove: true}.
func (e *Engine) RemoveGroup(id uint64) error {
	return e.Save([]Update{{Group: id, Remove: true}})
}
