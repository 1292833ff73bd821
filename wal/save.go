package wal

import (
	"encoding/binary"
	"errors"
	"fmt"
	"runtime"

	"github.com/pontoon-raft/raft"
	pb "github.com/pontoon-raft/raft/raftpb"
)

// ErrInvalidUpdate is wrapped by the error Save returns for an update that
// cannot be applied to its group: entries that leave a gap or are not
// consecutive, a HardState that commits beyond the log, a compaction beyond
// the snapshot, and similar misuse. Where raft.MemoryStorage would return
// raft.ErrSnapOutOfDate or raft.ErrCompacted, Save wraps those instead.
// Nothing of a Save that fails this way is written.
var ErrInvalidUpdate = errors.New("wal: invalid update")

// Update is one group's part of a Save. Its parts are applied in the order
// of the fields, and a Save is atomic: after a crash, either all of its
// updates are recovered or none.
type Update struct {
	// Group is the id of the Raft group.
	Group uint64

	// Snapshot is Ready.Snapshot: a snapshot the node installs. If not
	// empty it becomes the group's snapshot and the log is reset to start
	// right after it. Its Data is stored as given (see
	// Options.MaxSnapshotDataBytes).
	Snapshot pb.Snapshot

	// Entries is Ready.Entries. They must be consecutive and start at most
	// one past the last index; stored entries from the first one's index on
	// are replaced, and entries at or below the compaction point are
	// ignored, as raft.MemoryStorage.Append does. Replacing entries at or
	// below the commit index is refused unless HardState lowers it (raft
	// never does that). Save keeps sharing their Data (for the tail
	// cache): it must not be modified afterwards.
	Entries []pb.Entry

	// HardState is Ready.HardState; an empty one leaves the stored one.
	HardState pb.HardState

	// LocalSnapshot, if not empty, records a snapshot the application took
	// of its own state machine (for instance with a SnapshotStore) as the
	// group's snapshot, without touching the log. Its index must not be
	// beyond the last index and its term must be the log's term there.
	LocalSnapshot pb.Snapshot

	// CompactIndex, if not zero, discards the entries up to and including
	// it, which must not be beyond the group's snapshot (after
	// LocalSnapshot), so the snapshot always covers what was discarded.
	CompactIndex uint64

	// Remove deletes the group and everything stored for it. An update
	// that removes must carry nothing else.
	Remove bool
}

// frameReserve is the room kept at the start of a batch buffer for the
// frame header and the sequence number, which are filled in when the batch
// is written.
const frameReserve = frameHeaderSize + binary.MaxVarintLen64

// batchBufs are the buffers a batch encodes into; the writer hands them on
// to the next batch once it has applied its own.
type batchBufs struct {
	buf    []byte     // frameReserve bytes, then the ops
	ops    []op       // decoded form of the ops in buf, for applying
	ents   []entryPos // the ops' entries; off is relative to buf until written
	groups []*group   // groups whose pending flag this batch holds
}

// batch collects the encoded updates of the Saves that one write carries.
type batch struct {
	batchBufs
	waiters int // Saves in the batch

	// Set by the writer.
	start   int    // offset of the frame in buf
	seg     uint32 // segment the frame went to
	fileOff int64  // file offset of buf[0] (the frame starts at fileOff+start)
	done    bool   // under Engine.mu; doneCh is closed at the same time
	err     error  // set before doneCh is closed
	doneCh  chan struct{}
	// leadCh receives a token when the writer role frees up while this
	// batch is the pending one: the waiter that takes it writes the batch.
	// Waking one waiter, not all, keeps hundreds of writers from stampeding.
	leadCh chan struct{}
}

func newBatch(bufs batchBufs) *batch {
	if bufs.buf == nil {
		bufs.buf = make([]byte, frameReserve, 64<<10)
	}
	return &batch{batchBufs: bufs, doneCh: make(chan struct{}), leadCh: make(chan struct{}, 1)}
}

// release empties b's buffers for the next batch, dropping references to
// callers' entries, and returns them.
func (b *batch) release() batchBufs {
	clear(b.ops)
	clear(b.groups)
	bufs := batchBufs{buf: b.buf[:frameReserve], ops: b.ops[:0], ents: b.ents[:0], groups: b.groups[:0]}
	b.batchBufs = batchBufs{}
	if cap(bufs.buf) > 16<<20 {
		return batchBufs{}
	}
	return bufs
}

type batchMark struct{ buf, ops, ents, groups int }

func (b *batch) mark() batchMark {
	return batchMark{len(b.buf), len(b.ops), len(b.ents), len(b.groups)}
}

// rollback undoes what was added since m.
func (b *batch) rollback(m batchMark) {
	for _, g := range b.groups[m.groups:] {
		g.pending = false
	}
	clear(b.ops[m.ops:])
	clear(b.groups[m.groups:])
	b.buf, b.ops, b.ents, b.groups = b.buf[:m.buf], b.ops[:m.ops], b.ents[:m.ents], b.groups[:m.groups]
}

// frame writes the sequence number for seq, appends the trailer's place
// and returns the frame, to be sealed by sealFrame.
func (b *batch) frame(seq uint64) []byte {
	var tmp [binary.MaxVarintLen64]byte
	n := binary.PutUvarint(tmp[:], seq)
	b.start = frameReserve - frameHeaderSize - n
	copy(b.buf[frameReserve-n:], tmp[:n])
	b.buf = append(b.buf, 0)
	return b.buf[b.start:]
}

// Save makes the updates durable: when it returns nil they have been
// written and fsynced, and the groups' Storages show them. Concurrent Saves
// share one write and one fsync (group commit); no goroutine is started:
// the first caller writes everything queued while the others wait, and one
// of those writes the next batch. A group may appear only once in updates;
// a Save touching a group that another Save is still writing waits for it.
//
// An update that cannot be applied fails the whole Save with an error
// wrapping ErrInvalidUpdate, raft.ErrSnapOutOfDate or raft.ErrCompacted,
// and nothing is written. A failed write or fsync fails this Save, the
// Saves sharing its write, and every later one (ErrFailed).
func (e *Engine) Save(updates []Update) error {
	if len(updates) == 0 {
		return nil
	}
	e.mu.Lock()
	for {
		if e.closed {
			e.mu.Unlock()
			return ErrClosed
		}
		if e.err != nil {
			e.mu.Unlock()
			return e.err
		}
		if !e.anyPending(updates) {
			break
		}
		e.condWait()
	}
	var b *batch
	for {
		var err error
		var full bool
		b, full, err = e.enqueue(updates)
		if err != nil {
			e.mu.Unlock()
			return err
		}
		if !full {
			break
		}
		// The pending batch is too full to take this Save as well: help
		// it out, then start the next one.
		e.fullWaits++
		for e.pending == b && !e.closed && e.err == nil {
			if !e.waitOrLead(b) {
				e.mu.Lock()
			}
		}
		if e.closed || e.err != nil {
			e.mu.Unlock()
			return e.Save(updates)
		}
	}
	if b == nil {
		e.stats.Saves++ // nothing to write: every entry was already compacted
		e.mu.Unlock()
		return nil
	}
	b.waiters++
	for !b.done {
		if !e.waitOrLead(b) {
			return b.err // done, and e.mu released
		}
	}
	e.mu.Unlock()
	return b.err
}

// waitOrLead writes the pending batch b if the writer role is free, or
// waits until b is done or the role frees up. The caller holds e.mu. It
// returns false, with e.mu released, if it woke because b is done; true,
// with e.mu held, otherwise.
func (e *Engine) waitOrLead(b *batch) bool {
	if !e.writing && e.pending == b {
		e.lead()
		return true
	}
	e.mu.Unlock()
	select {
	case <-b.doneCh:
		return false
	case <-b.leadCh:
		e.mu.Lock()
		return true
	}
}

// condWait waits on e.cond, which is signalled when a batch completes and
// when the writer role frees up, for as long as someone waits on it. The
// caller holds e.mu.
func (e *Engine) condWait() {
	e.condWaiters++
	e.cond.Wait()
	e.condWaiters--
}

// softBatchBytes is the size beyond which a batch takes no more Saves; a
// single Save may still be as large as maxFramePayload.
const softBatchBytes = 16 << 20

// enqueue encodes updates into the pending batch and returns it, or nil if
// there was nothing to write. full reports that the batch already held
// other Saves and this one would have made it too large; nothing was
// added then.
func (e *Engine) enqueue(updates []Update) (b *batch, full bool, err error) {
	b = e.pending
	m := b.mark()
	for i := range updates {
		u := &updates[i]
		g := e.groupLocked(u.Group)
		if g.pending {
			b.rollback(m)
			return nil, false, fmt.Errorf("%w: group %d appears twice in one Save", ErrInvalidUpdate, u.Group)
		}
		g.pending = true
		b.groups = append(b.groups, g)
		if err := e.encodeUpdate(b, g, u); err != nil {
			b.rollback(m)
			return nil, false, fmt.Errorf("wal: group %d: %w", u.Group, err)
		}
	}
	size := len(b.buf) - frameReserve
	switch {
	case len(b.ops) == m.ops:
		b.rollback(m)
		return nil, false, nil
	case m.buf > frameReserve && size > softBatchBytes:
		b.rollback(m)
		return b, true, nil
	case size > maxFramePayload:
		b.rollback(m)
		return nil, false, fmt.Errorf("%w: the Save encodes to %d bytes, more than %d", ErrInvalidUpdate, size-(m.buf-frameReserve), maxFramePayload)
	}
	return b, false, nil
}

func (e *Engine) anyPending(updates []Update) bool {
	for i := range updates {
		if g := e.groups[updates[i].Group]; g != nil && g.pending {
			return true
		}
	}
	return false
}

// lead takes the writer role, writes the pending batch and applies it. It
// is called, and returns, with e.mu held.
func (e *Engine) lead() {
	e.writing = true
	e.gatherSaves()
	b := e.pending
	e.pending = newBatch(e.spare)
	e.spare = batchBufs{}
	if e.err == nil {
		e.mu.Unlock()
		err := e.writeBatch(b)
		e.mu.Lock()
		e.mergeWriterStats()
		if err != nil {
			e.err = fmt.Errorf("%w: %w", ErrFailed, err)
		} else {
			e.applyBatch(b)
			e.stats.Saves += uint64(b.waiters)
		}
	}
	e.finish(b, e.err)
	e.writing = false
	if e.pending.waiters > 0 {
		select {
		case e.pending.leadCh <- struct{}{}:
		default:
		}
	}
	if e.condWaiters > 0 {
		e.cond.Broadcast()
	}
}

// gatherSaves lets other goroutines run for as long as they keep adding
// Saves to the pending batch, a few times at most, before the batch is
// taken. When a write completes, its Saves' goroutines usually come back at
// once with their next Save; giving them the chance to join makes the
// batches of a steady set of writers twice as large, and each write and
// fsync serve twice the Saves (16 writers: 8 Saves per fsync without it,
// 15.6 with it). It uses no clock: a single-goroutine program passes
// straight through. The caller holds e.mu and the writer role.
func (e *Engine) gatherSaves() {
	for i := 0; i < 4; i++ {
		n := e.pending.waiters
		e.mu.Unlock()
		runtime.Gosched()
		e.mu.Lock()
		if e.pending.waiters == n {
			return
		}
	}
}

// mergeWriterStats adds the writer's counters to e.stats. The caller
// holds e.mu and the writer role.
func (e *Engine) mergeWriterStats() {
	w := &e.wstats
	s := &e.stats
	s.Writes += w.Writes
	s.Syncs += w.Syncs
	s.BytesWritten += w.BytesWritten
	s.Rotations += w.Rotations
	s.SegmentsRemoved += w.SegmentsRemoved
	s.RewrittenEntries += w.RewrittenEntries
	s.RewrittenBytes += w.RewrittenBytes
	*w = Stats{}
}

// finish completes b with err, frees its groups for the next Saves and
// keeps its buffers for the next batch.
func (e *Engine) finish(b *batch, err error) {
	for _, g := range b.groups {
		g.pending = false
	}
	if bufs := b.release(); e.spare.buf == nil {
		e.spare = bufs
	}
	b.done, b.err = true, err
	close(b.doneCh)
	if e.condWaiters > 0 {
		e.cond.Broadcast()
	}
}

// applyBatch applies a written batch to the groups. The caller holds e.mu
// and the writer role.
func (e *Engine) applyBatch(b *batch) {
	for i := range b.ops {
		o := &b.ops[i]
		ents := b.ents[o.entStart : o.entStart+o.entCount]
		for j := range ents {
			ents[j].seg = b.seg
			ents[j].off += uint32(b.fileOff)
		}
		e.applyOp(o, ents, b.seg)
	}
}

// applyOp applies one durable op. The caller holds e.mu and the writer role.
func (e *Engine) applyOp(o *op, ents []entryPos, seg uint32) {
	g := e.groupLocked(o.group)
	g.mu.Lock()
	g.apply(o, ents, e)
	if o.flags&opRemove != 0 {
		g.removed = true
		delete(e.groups, o.group)
	}
	g.mu.Unlock()
	if len(ents) > 0 && g.lastSeg != seg {
		e.segmentFor(seg).groups[g.id] = struct{}{}
		g.lastSeg = seg
	}
}

// encodeUpdate checks u against g's durable state and appends it to b. The
// caller holds e.mu and g.pending, so g's state cannot change meanwhile.
func (e *Engine) encodeUpdate(b *batch, g *group, u *Update) error {
	o := op{group: g.id, entStart: len(b.ents)}
	if u.Remove {
		if !raft.IsEmptySnap(u.Snapshot) || len(u.Entries) > 0 || !raft.IsEmptyHardState(u.HardState) ||
			!raft.IsEmptySnap(u.LocalSnapshot) || u.CompactIndex != 0 {
			return fmt.Errorf("%w: an update that removes the group carries other changes", ErrInvalidUpdate)
		}
		o.flags = opRemove
	}
	base := g.meta.first // first index entries may start at
	if !raft.IsEmptySnap(u.Snapshot) {
		if err := e.checkSnapshotData(&u.Snapshot); err != nil {
			return err
		}
		o.flags |= opSnapshot
		o.snap = u.Snapshot
		base = u.Snapshot.Metadata.Index + 1
	}
	ents := u.Entries
	for i := range ents {
		if ents[i].Type > pb.EntryConfChangeV2 {
			return fmt.Errorf("%w: entry %d has type %d, which the engine cannot store", ErrInvalidUpdate, ents[i].Index, ents[i].Type)
		}
		if i > 0 && ents[i].Index != ents[i-1].Index+1 {
			return fmt.Errorf("%w: entry %d follows entry %d", ErrInvalidUpdate, ents[i].Index, ents[i-1].Index)
		}
	}
	if n := len(ents); n > 0 && ents[n-1].Index >= base {
		if ents[0].Index < base {
			ents = ents[base-ents[0].Index:]
		}
		o.flags |= opEntries
		o.first, o.entCount, o.cache = ents[0].Index, len(ents), ents
		for i := range ents {
			b.ents = append(b.ents, entryPos{term: ents[i].Term, pbSize: uint32(ents[i].Size())})
		}
	}
	if !raft.IsEmptyHardState(u.HardState) {
		o.flags |= opHardState
		o.hs = u.HardState
	}
	if !raft.IsEmptySnap(u.LocalSnapshot) {
		if err := e.checkSnapshotData(&u.LocalSnapshot); err != nil {
			return err
		}
		o.flags |= opLocalSnapshot
		o.local = u.LocalSnapshot
	}
	if u.CompactIndex != 0 {
		o.flags |= opCompact
		o.compactIndex = u.CompactIndex
		o.compactTerm = e.termForCompaction(g, &o, b.ents[o.entStart:])
	}
	if o.flags == 0 {
		return nil
	}
	if err := check(g.meta, g.pos, &o, b.ents[o.entStart:], ErrInvalidUpdate); err != nil {
		return err
	}
	b.buf = encodeOp(b.buf, &o, ents, b.ents[o.entStart:], &g.meta)
	b.ops = append(b.ops, o)
	return nil
}

func (e *Engine) checkSnapshotData(s *pb.Snapshot) error {
	if len(s.Data) > e.opts.MaxSnapshotDataBytes {
		return fmt.Errorf("%w: snapshot data of %d bytes exceeds MaxSnapshotDataBytes %d", ErrInvalidUpdate, len(s.Data), e.opts.MaxSnapshotDataBytes)
	}
	return nil
}

// termForCompaction returns the term of the entry o compacts up to, as the
// group will hold it when o's earlier parts are applied, or 0 if that index
// is out of range (check then reports why).
func (e *Engine) termForCompaction(g *group, o *op, ents []entryPos) uint64 {
	i := o.compactIndex
	m := g.meta
	if o.flags&opEntries != 0 && i >= o.first && i < o.first+uint64(o.entCount) {
		return ents[i-o.first].term
	}
	if o.flags&opSnapshot != 0 {
		if i == o.snap.Metadata.Index {
			return o.snap.Metadata.Term
		}
		return 0
	}
	if i+1 < m.first || i > m.last || (o.flags&opEntries != 0 && i >= o.first) {
		return 0
	}
	return g.termAt(i)
}

// encodeOp appends o to buf (see the format in encoding.go). ents are the
// pb entries of o and pos their positions, whose off and size it fills in
// relative to buf. prev is the group's metadata before o.
func encodeOp(buf []byte, o *op, ents []pb.Entry, pos []entryPos, prev *groupMeta) []byte {
	flags := o.flags
	last := prev.last
	if flags&opSnapshot != 0 {
		last = o.snap.Metadata.Index
	}
	runTerm := uint64(0)
	if flags&opEntries != 0 {
		runTerm = ents[0].Term
		for i := range ents {
			if ents[i].Term != runTerm {
				runTerm = 0
				break
			}
		}
		if o.first == last+1 {
			flags |= hintAppend
		}
		if len(ents) == 1 {
			flags |= hintOneEntry
		}
		if runTerm != 0 && runTerm == prev.hs.Term {
			flags |= hintRunTerm
		}
	}
	if flags&opHardState != 0 && o.hs.Term == prev.hs.Term && o.hs.Vote == prev.hs.Vote {
		flags |= hintCommitOnly
	}
	buf = binary.AppendUvarint(buf, o.group)
	buf = binary.AppendUvarint(buf, uint64(flags))
	if flags&opSnapshot != 0 {
		buf = appendSnapshot(buf, &o.snap)
	}
	if flags&opEntries != 0 {
		if flags&hintAppend == 0 {
			buf = binary.AppendVarint(buf, int64(o.first-(last+1)))
		}
		if flags&hintOneEntry == 0 {
			buf = binary.AppendUvarint(buf, uint64(len(ents)))
		}
		if flags&hintRunTerm == 0 {
			buf = binary.AppendUvarint(buf, runTerm)
		}
		for i := range ents {
			start := len(buf)
			buf = appendEntry(buf, o.group, ents[i].Index, &ents[i], runTerm == 0)
			pos[i].off, pos[i].size = uint32(start), uint32(len(buf)-start)
		}
		last = o.first + uint64(len(ents)) - 1
	}
	if flags&opHardState != 0 {
		if flags&hintCommitOnly == 0 {
			buf = binary.AppendUvarint(buf, o.hs.Term)
			buf = binary.AppendUvarint(buf, o.hs.Vote)
		}
		buf = binary.AppendUvarint(buf, last-o.hs.Commit)
	}
	if flags&opLocalSnapshot != 0 {
		buf = appendSnapshot(buf, &o.local)
	}
	if flags&opCompact != 0 {
		buf = binary.AppendUvarint(buf, o.compactIndex)
		buf = binary.AppendUvarint(buf, o.compactTerm)
	}
	return buf
}
