package server

import (
	"hash/fnv"
	"slices"
)

// ReplicasPerShard is how many nodes hold each shard (fewer if the cluster
// has fewer nodes).
const ReplicasPerShard = 3

// ShardOf returns the shard of key among shards: FNV-1a of the key, modulo
// the number of shards. Every node computes the same.
func ShardOf(key string, shards int) int {
	h := fnv.New32a()
	_, _ = h.Write([]byte(key))
	return int(h.Sum32() % uint32(shards))
}

// GroupOf returns the host group ID of shard: shard+1 (host reserves 0).
func GroupOf(shard int) uint64 { return uint64(shard) + 1 }

// Placement returns, for each of shards shards, the nodes holding it: shard
// s is on the ReplicasPerShard members that follow s in the sorted member
// list, wrapping around, so every node holds about the same number of
// replicas. The first node of each list is the shard's preferred leader,
// which spreads leaderships evenly too. It depends only on its arguments.
func Placement(members []uint64, shards int) [][]uint64 {
	ids := slices.Clone(members)
	slices.Sort(ids)
	ids = slices.Compact(ids)
	r := min(ReplicasPerShard, len(ids))
	out := make([][]uint64, shards)
	for s := range out {
		for i := 0; i < r; i++ {
			out[s] = append(out[s], ids[(s+i)%len(ids)])
		}
	}
	return out
}
