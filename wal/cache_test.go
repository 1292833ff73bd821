package wal

import (
	"testing"

	pb "github.com/pontoon-raft/raft/raftpb"
	"github.com/stretchr/testify/assert"
)

func cacheEnts(lo, hi uint64, size int) []pb.Entry {
	var ents []pb.Entry
	for i := lo; i <= hi; i++ {
		ents = append(ents, pb.Entry{Index: i, Term: 1, Data: make([]byte, size)})
	}
	return ents
}

func cachedRange(c *tailCache) (lo, hi uint64) {
	first, ok := c.firstIndex()
	if !ok {
		return 0, 0
	}
	return first, first + uint64(len(c.ents)) - 1
}

func TestTailCache(t *testing.T) {
	tests := []struct {
		name   string
		ops    func(c *tailCache)
		lo, hi uint64
	}{
		{"keeps the last maxEntries", func(c *tailCache) {
			for i := uint64(1); i <= 30; i++ {
				c.append(cacheEnts(i, i, 1))
			}
		}, 23, 30},
		{"a long append keeps its tail", func(c *tailCache) { c.append(cacheEnts(1, 20, 1)) }, 13, 20},
		{"bounded by bytes", func(c *tailCache) { c.append(cacheEnts(1, 8, 30)) }, 6, 8},
		{"an entry larger than the bound is not kept", func(c *tailCache) {
			c.append(cacheEnts(1, 2, 1))
			c.append(cacheEnts(3, 3, 200))
		}, 0, 0},
		{"truncateFrom cuts the suffix", func(c *tailCache) {
			c.append(cacheEnts(1, 6, 1))
			c.truncateFrom(4)
		}, 1, 3},
		{"truncateFrom below the cache empties it", func(c *tailCache) {
			c.append(cacheEnts(5, 6, 1))
			c.truncateFrom(2)
		}, 0, 0},
		{"dropThrough cuts the prefix", func(c *tailCache) {
			c.append(cacheEnts(1, 6, 1))
			c.dropThrough(2)
		}, 3, 6},
		{"dropThrough past the cache empties it", func(c *tailCache) {
			c.append(cacheEnts(1, 6, 1))
			c.dropThrough(9)
		}, 0, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := &tailCache{maxEntries: 8, maxBytes: 100}
			tt.ops(c)
			lo, hi := cachedRange(c)
			assert.Equal(t, tt.lo, lo)
			assert.Equal(t, tt.hi, hi)
			total := 0
			for k, e := range c.ents {
				total += len(e.Data)
				assert.Equal(t, lo+uint64(k), e.Index)
			}
			assert.Equal(t, total, c.bytes)
			assert.LessOrEqual(t, c.bytes, c.maxBytes)
			assert.LessOrEqual(t, len(c.ents), c.maxEntries)
		})
	}
}

func TestTailCacheBufferGrowsWithItsEntries(t *testing.T) {
	c := tailCache{maxEntries: 64, maxBytes: 1 << 20}
	// An idle group appends a handful of entries: its buffer is sized to
	// them, not to maxEntries (thousands of idle groups per host).
	c.append(cacheEnts(1, 3, 8))
	assert.LessOrEqual(t, len(c.buf), 8, "buffer of a cache holding 3 entries")
	// A busy one grows it up to twice the bound, and keeps its tail.
	for i := uint64(4); i <= 500; i++ {
		c.append(cacheEnts(i, i, 8))
	}
	lo, hi := cachedRange(&c)
	assert.Equal(t, [2]uint64{437, 500}, [2]uint64{lo, hi})
	assert.Equal(t, 128, len(c.buf))
	for i, e := range c.ents {
		assert.Equal(t, lo+uint64(i), e.Index)
	}
}
