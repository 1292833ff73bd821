package server

import (
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestShardOfIsStableAndSpreads(t *testing.T) {
	const shards = 16
	count := make([]int, shards)
	for i := 0; i < 16000; i++ {
		s := ShardOf(fmt.Sprintf("key-%d", i), shards)
		require.Equal(t, s, ShardOf(fmt.Sprintf("key-%d", i), shards))
		count[s]++
	}
	for s, n := range count {
		assert.InDelta(t, 1000, n, 200, "shard %d", s)
	}
	// FNV-1a of "a" is 0xe40c292c.
	assert.Equal(t, int(uint32(0xe40c292c)%7), ShardOf("a", 7))
}

func TestPlacementIsBalancedAndDeterministic(t *testing.T) {
	for _, members := range [][]uint64{{1}, {1, 2, 3}, {3, 1, 2, 4}, {1, 2, 3, 4, 5}, {10, 20, 30, 40, 50, 60, 70}} {
		const shards = 64
		p := Placement(members, shards)
		assert.Equal(t, p, Placement(members, shards))
		replicas, leads := map[uint64]int{}, map[uint64]int{}
		for s, nodes := range p {
			require.Len(t, nodes, min(3, len(members)), "shard %d", s)
			seen := map[uint64]bool{}
			for _, n := range nodes {
				require.False(t, seen[n], "shard %d on node %d twice", s, n)
				seen[n] = true
				replicas[n]++
			}
			leads[nodes[0]]++
		}
		for _, n := range members {
			want := float64(shards*min(3, len(members))) / float64(len(members))
			assert.InDelta(t, want, replicas[n], 1, "replicas on node %d of %v", n, members)
			assert.InDelta(t, float64(shards)/float64(len(members)), leads[n], 1, "leaderships of node %d of %v", n, members)
		}
	}
}
