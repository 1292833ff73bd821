package wal

import pb "github.com/pontoon-raft/raft/raftpb"

// minTailCacheBuf is the length of a tail cache's first buffer.
const minTailCacheBuf = 8

// tailCache holds the most recent entries of one group, so that reading
// them (the leader sending what it just appended, a follower applying what
// it just stored) needs no disk read. It holds at most maxEntries entries
// whose Data add up to at most maxBytes; entries share Data with the slices
// Save was given.
//
// Invariant: the cached entries are consecutive and end at the group's
// last index, or the cache is empty.
type tailCache struct {
	ents       []pb.Entry // a window of buf
	buf        []pb.Entry // backing array, growing up to 2*maxEntries
	bytes      int        // total len(Data) of ents
	maxEntries int
	maxBytes   int
}

func (c *tailCache) reset() {
	clear(c.ents)
	c.ents = c.buf[:0]
	c.bytes = 0
}

// firstIndex returns the index of the first cached entry; ok is false when
// the cache is empty.
func (c *tailCache) firstIndex() (uint64, bool) {
	if len(c.ents) == 0 {
		return 0, false
	}
	return c.ents[0].Index, true
}

// truncateFrom drops cached entries at index i and above.
func (c *tailCache) truncateFrom(i uint64) {
	first, ok := c.firstIndex()
	if !ok || i >= first+uint64(len(c.ents)) {
		return
	}
	if i <= first {
		c.reset()
		return
	}
	keep := int(i - first)
	for _, e := range c.ents[keep:] {
		c.bytes -= len(e.Data)
	}
	clear(c.ents[keep:])
	c.ents = c.ents[:keep]
}

// dropThrough drops cached entries up to and including index i.
func (c *tailCache) dropThrough(i uint64) {
	first, ok := c.firstIndex()
	if !ok || i < first {
		return
	}
	c.dropFront(min(int(i-first+1), len(c.ents)))
}

func (c *tailCache) dropFront(n int) {
	for _, e := range c.ents[:n] {
		c.bytes -= len(e.Data)
	}
	clear(c.ents[:n])
	c.ents = c.ents[n:]
}

// append adds entries that directly follow the cached ones (or start the
// cache when it is empty), then trims the front to the bounds.
func (c *tailCache) append(ents []pb.Entry) {
	if c.maxEntries <= 0 {
		return
	}
	if len(ents) > c.maxEntries {
		ents = ents[len(ents)-c.maxEntries:]
	}
	if over := len(c.ents) + len(ents) - c.maxEntries; over > 0 {
		c.dropFront(min(over, len(c.ents)))
	}
	if cap(c.ents)-len(c.ents) < len(ents) {
		// Slide the window back to the start of buf, first doubling buf
		// (up to 2*maxEntries) while it is less than twice what the
		// window must hold: a group that appends little, as an idle one
		// does, keeps a small buffer, and at full size the window slides
		// once every maxEntries appended entries at most.
		need := len(c.ents) + len(ents)
		if len(c.buf) < 2*need {
			c.buf = make([]pb.Entry, min(2*c.maxEntries, max(minTailCacheBuf, 2*need)))
		}
		n := copy(c.buf, c.ents)
		clear(c.buf[n:])
		c.ents = c.buf[:n]
	}
	for _, e := range ents {
		c.ents = append(c.ents, e)
		c.bytes += len(e.Data)
	}
	for len(c.ents) > 0 && c.bytes > c.maxBytes {
		c.dropFront(1)
	}
}

// slice returns the cached entries with indexes in [lo, hi), which the
// caller has checked lie in the cache. The result aliases the cache: copy
// it before releasing the group's lock.
func (c *tailCache) slice(lo, hi uint64) []pb.Entry {
	first := c.ents[0].Index
	return c.ents[lo-first : hi-first]
}
