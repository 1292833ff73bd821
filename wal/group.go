package wal

import (
	"errors"
	"fmt"
	"sync"

	"github.com/pontoon-raft/raft"
	pb "github.com/pontoon-raft/raft/raftpb"
)

// groupMeta is what the engine keeps of a group besides its entries.
type groupMeta struct {
	hs        pb.HardState
	snap      pb.Snapshot // latest snapshot: metadata and the application's data descriptor
	first     uint64      // index of the first retained entry
	firstTerm uint64      // term of the entry at first-1 (the compaction point)
	last      uint64      // index of the last entry; first-1 when there is none
}

func emptyMeta() groupMeta { return groupMeta{first: 1} }

func (m *groupMeta) isEmpty() bool {
	return raft.IsEmptyHardState(m.hs) && raft.IsEmptySnap(m.snap) && m.first == 1 && m.last == 0 && m.firstTerm == 0
}

// group is one Raft group's state in memory. Readers (GroupStorage) take mu
// for reading; the goroutine that writes for the engine takes it for
// writing while it applies durable updates, holding Engine.mu as well, so
// anyone holding Engine.mu may read meta without mu.
type group struct {
	id uint64

	mu      sync.RWMutex
	meta    groupMeta
	pos     []entryPos // pos[i] is the entry at meta.first+i
	cache   tailCache
	removed bool // RemoveGroup applied: this struct is no longer the group's

	// Guarded by Engine.mu.
	pending bool   // an update of this group is queued or being written
	lastSeg uint32 // segment this group last appended entries to
}

// op is one group's part of a batch, decoded or about to be encoded. Its
// entries are ents[entStart:entStart+entCount] of the batch's arena.
type op struct {
	group        uint64
	flags        uint16 // op kinds (opAll); the encoding's hints are not kept
	snap         pb.Snapshot
	local        pb.Snapshot
	hs           pb.HardState
	compactIndex uint64
	compactTerm  uint64
	first        uint64
	entStart     int
	entCount     int
	cache        []pb.Entry // the entries themselves, for the tail cache (writes only)
}

// errInconsistent is what check reports for a record that recovery read:
// a record that verified but cannot be applied.
var errInconsistent = errors.New("inconsistent record")

// check verifies that o can be applied to a group with metadata m whose
// entries are known through pos (for terms), returning an error wrapping
// invalid, raft.ErrSnapOutOfDate or raft.ErrCompacted otherwise. ents are
// o's entries.
func check(m groupMeta, pos []entryPos, o *op, ents []entryPos, invalid error) error {
	if o.flags&^opAll != 0 || o.flags == 0 {
		return fmt.Errorf("%w: op flags %#x", invalid, o.flags)
	}
	if o.flags&opRemove != 0 && o.flags != opRemove {
		return fmt.Errorf("%w: a removal carries other updates (flags %#x)", invalid, o.flags)
	}
	if o.flags&opRewrite != 0 && o.flags != opRewrite {
		return fmt.Errorf("%w: a rewrite carries other updates (flags %#x)", invalid, o.flags)
	}
	installed := false
	if o.flags&opSnapshot != 0 {
		si := o.snap.Metadata.Index
		if si <= m.snap.Metadata.Index {
			return fmt.Errorf("snapshot %d is not newer than %d: %w", si, m.snap.Metadata.Index, raft.ErrSnapOutOfDate)
		}
		m.snap, m.first, m.firstTerm, m.last = o.snap, si+1, o.snap.Metadata.Term, si
		installed = true
	}
	termAt := func(i uint64) (uint64, bool) {
		switch {
		case o.flags&opEntries != 0 && i >= o.first && i < o.first+uint64(o.entCount):
			return ents[i-o.first].term, true
		case i == m.first-1:
			return m.firstTerm, true
		case installed || i < m.first || i > m.last:
			return 0, false
		case pos[i-m.first].seg == 0:
			return 0, false // recovery has not seen it yet
		default:
			return pos[i-m.first].term, true
		}
	}
	if o.flags&(opEntries|opRewrite) != 0 {
		if o.entCount == 0 {
			return fmt.Errorf("%w: an entries op without entries", invalid)
		}
		if o.first < m.first {
			return fmt.Errorf("%w: entries from %d start below the first retained index %d", invalid, o.first, m.first)
		}
		if o.first > m.last+1 {
			return fmt.Errorf("%w: entries from %d leave a gap after the last index %d", invalid, o.first, m.last)
		}
		end := o.first + uint64(o.entCount) - 1
		if o.flags&opRewrite != 0 {
			if end > m.last {
				return fmt.Errorf("%w: rewritten entries [%d, %d] are beyond the last index %d", invalid, o.first, end, m.last)
			}
			for i, p := range ents {
				if t, ok := termAt(o.first + uint64(i)); ok && t != p.term {
					return fmt.Errorf("%w: rewritten entry %d has term %d, the log has %d", invalid, o.first+uint64(i), p.term, t)
				}
			}
			return nil
		}
		m.last = end
	}
	if o.flags&opHardState != 0 {
		m.hs = o.hs
	}
	if m.hs.Commit > m.last {
		// Raft never removes a committed entry: a snapshot or a conflicting
		// append that does comes with a HardState that moves the commit.
		return fmt.Errorf("%w: the commit index %d would be beyond the last index %d", invalid, m.hs.Commit, m.last)
	}
	if o.flags&opLocalSnapshot != 0 {
		si := o.local.Metadata.Index
		switch {
		case si <= m.snap.Metadata.Index:
			return fmt.Errorf("snapshot %d is not newer than %d: %w", si, m.snap.Metadata.Index, raft.ErrSnapOutOfDate)
		case si > m.last:
			return fmt.Errorf("%w: snapshot %d is beyond the last index %d", invalid, si, m.last)
		case si < m.first-1:
			return fmt.Errorf("snapshot %d is below the compaction point %d: %w", si, m.first-1, raft.ErrCompacted)
		}
		if t, ok := termAt(si); ok && t != o.local.Metadata.Term {
			return fmt.Errorf("%w: snapshot %d has term %d, the log has %d", invalid, si, o.local.Metadata.Term, t)
		}
		m.snap = o.local
	}
	if o.flags&opCompact != 0 {
		ci := o.compactIndex
		switch {
		case ci < m.first:
			return fmt.Errorf("compact index %d is at or below the compaction point %d: %w", ci, m.first-1, raft.ErrCompacted)
		case ci > m.last:
			return fmt.Errorf("%w: compact index %d is beyond the last index %d", invalid, ci, m.last)
		case ci > m.snap.Metadata.Index:
			return fmt.Errorf("%w: compact index %d is beyond the snapshot index %d", invalid, ci, m.snap.Metadata.Index)
		}
		if t, ok := termAt(ci); ok && t != o.compactTerm {
			return fmt.Errorf("%w: compaction at %d has term %d, the log has %d", invalid, ci, o.compactTerm, t)
		}
	}
	return nil
}

// liveTracker is told about every entry position a group starts or stops
// referencing, so the engine knows which segments are still needed.
type liveTracker interface {
	retain(p entryPos)
	release(p entryPos)
}

// apply applies an op that check accepted. ents are its entry positions,
// with absolute segments and offsets. The caller holds g.mu for writing.
func (g *group) apply(o *op, ents []entryPos, lt liveTracker) {
	m := &g.meta
	if o.flags&opRemove != 0 {
		g.dropFrom(m.first, lt)
		g.meta = emptyMeta()
		g.cache.reset()
		return
	}
	if o.flags&opRewrite != 0 {
		for i, p := range ents {
			slot := &g.pos[o.first-m.first+uint64(i)]
			if slot.seg != 0 {
				lt.release(*slot)
			}
			*slot = p
			lt.retain(p)
		}
		return
	}
	if o.flags&opSnapshot != 0 {
		g.dropFrom(m.first, lt)
		si := o.snap.Metadata.Index
		m.snap, m.first, m.firstTerm, m.last = o.snap, si+1, o.snap.Metadata.Term, si
		g.pos = g.pos[:0]
		g.cache.reset()
	}
	if o.flags&opEntries != 0 {
		g.dropFrom(o.first, lt)
		if need := len(g.pos) + len(ents); need > cap(g.pos) {
			// Double rather than let append grow by a quarter: a log
			// grows until the next compaction, and copying a long index
			// every few appends showed in profiles.
			grown := make([]entryPos, len(g.pos), max(need, 2*cap(g.pos), 16))
			copy(grown, g.pos)
			g.pos = grown
		}
		g.pos = append(g.pos, ents...)
		for _, p := range ents {
			lt.retain(p)
		}
		m.last = o.first + uint64(len(ents)) - 1
		g.cache.truncateFrom(o.first)
		if o.cache != nil {
			g.cache.append(o.cache)
		}
	}
	if o.flags&opHardState != 0 {
		m.hs = o.hs
	}
	if o.flags&opLocalSnapshot != 0 {
		m.snap = o.local
	}
	if o.flags&opCompact != 0 {
		g.dropThrough(o.compactIndex, lt)
		m.first, m.firstTerm = o.compactIndex+1, o.compactTerm
		g.cache.dropThrough(o.compactIndex)
	}
}

// dropFrom forgets the positions of entries at index i and above.
func (g *group) dropFrom(i uint64, lt liveTracker) {
	m := &g.meta
	if i > m.last {
		return
	}
	cut := i - m.first
	for _, p := range g.pos[cut:] {
		if p.seg != 0 {
			lt.release(p)
		}
	}
	clear(g.pos[cut:])
	g.pos = g.pos[:cut]
	m.last = i - 1
}

// dropThrough forgets the positions of entries up to and including i.
func (g *group) dropThrough(i uint64, lt liveTracker) {
	m := &g.meta
	n := i - m.first + 1
	for _, p := range g.pos[:n] {
		if p.seg != 0 {
			lt.release(p)
		}
	}
	rest := g.pos[n:]
	if cap(rest) < 2*len(rest)+64 {
		g.pos = rest
		return
	}
	// Copy rather than keep a mostly empty array alive.
	g.pos = append(make([]entryPos, 0, len(rest)+len(rest)/4+8), rest...)
}

// termAt returns the term of entry i, which must lie in [first-1, last].
func (g *group) termAt(i uint64) uint64 {
	if i == g.meta.first-1 {
		return g.meta.firstTerm
	}
	return g.pos[i-g.meta.first].term
}
