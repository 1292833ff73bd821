package server

import (
	"fmt"
	"slices"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func members(ids ...uint64) map[uint64]Member {
	out := map[uint64]Member{}
	for _, id := range ids {
		out[id] = Member{HTTP: fmt.Sprintf("h%d:1", id), Raft: fmt.Sprintf("r%d:1", id)}
	}
	return out
}

// settle applies NextStep's steps to m until there are none, and returns
// how many it took.
func settle(t *testing.T, m *ClusterMap) int {
	t.Helper()
	for n := 0; n < 1000; n++ {
		st, ok := NextStep(m)
		if !ok {
			return n
		}
		again, _ := NextStep(m)
		require.Equal(t, st, again, "the same map gives the same step")
		var c metaCommand
		switch {
		case st.Remove != 0:
			c = metaCommand{Op: "remove", ID: st.Remove}
		case st.Reorder != nil:
			c = metaCommand{Op: "replicas", Shard: st.Shard, Replicas: st.Reorder}
		default:
			require.True(t, slices.Contains(m.Shards[st.Shard], st.From))
			require.False(t, slices.Contains(m.Shards[st.Shard], st.To), "a move to a node that holds the shard")
			c = metaCommand{Op: "replicas", Shard: st.Shard, Replicas: m.movedReplicas(st)}
		}
		require.NoError(t, m.apply(c), "step %+v", st)
	}
	t.Fatal("the planner does not converge")
	return 0
}

func assertBalanced(t *testing.T, m *ClusterMap) {
	t.Helper()
	replicas, preferred := map[uint64]int{}, map[uint64]int{}
	for s, r := range m.Shards {
		require.Len(t, r, ReplicasPerShard, "shard %d", s)
		require.Len(t, slices.Compact(slices.Sorted(slices.Values(r))), ReplicasPerShard, "shard %d: %v", s, r)
		for _, id := range r {
			require.Contains(t, m.Members, id)
			replicas[id]++
		}
		preferred[r[0]]++
	}
	lo, hi := 1<<30, 0
	plo, phi := 1<<30, 0
	for id := range m.Members {
		lo, hi = min(lo, replicas[id]), max(hi, replicas[id])
		plo, phi = min(plo, preferred[id]), max(phi, preferred[id])
	}
	assert.LessOrEqual(t, hi-lo, 1, "replicas per node: %v", replicas)
	assert.LessOrEqual(t, phi-plo, 1, "preferred leaderships per node: %v", preferred)
}

func TestPlannerBalancesNewNodes(t *testing.T) {
	m := initialMap(members(1, 2, 3), 64)
	_, ok := NextStep(m)
	assert.False(t, ok, "the initial placement is balanced")

	require.NoError(t, m.apply(metaCommand{Op: "add", ID: 4, Member: members(4)[4]}))
	moves := settle(t, m)
	assertBalanced(t, m)
	assert.Len(t, m.holds(4), 48, "4 nodes hold 192 replicas, 48 each")
	t.Logf("3 -> 4 nodes: %d steps", moves)

	require.NoError(t, m.apply(metaCommand{Op: "add", ID: 5, Member: members(5)[5]}))
	settle(t, m)
	assertBalanced(t, m)
}

func TestPlannerMovesReplicasOffALeavingNode(t *testing.T) {
	m := initialMap(members(1, 2, 3), 16)
	require.NoError(t, m.apply(metaCommand{Op: "add", ID: 4, Member: members(4)[4]}))
	require.NoError(t, m.apply(metaCommand{Op: "add", ID: 5, Member: members(5)[5]}))
	settle(t, m)
	require.NotEmpty(t, m.holds(5))

	require.NoError(t, m.apply(metaCommand{Op: "leave", ID: 5}))
	settle(t, m)
	assert.NotContains(t, m.Members, uint64(5))
	assert.Empty(t, m.Leaving)
	assertBalanced(t, m)
}

func TestClusterMapRefusesBadChanges(t *testing.T) {
	m := initialMap(members(1, 2, 3, 4), 8)
	before := m.clone()
	for _, c := range []metaCommand{
		{Op: "add", ID: 2, Member: members(2)[2]},            // already a member
		{Op: "add", ID: 9},                                   // no addresses
		{Op: "leave", ID: 1},                                 // holds the cluster map
		{Op: "leave", ID: 7},                                 // not a member
		{Op: "remove", ID: 4},                                // not leaving
		{Op: "replicas", Shard: 8, Replicas: []uint64{1}},    // no such shard
		{Op: "replicas", Shard: 0, Replicas: []uint64{1, 9}}, // not a member
		{Op: "rename"},
	} {
		assert.ErrorIs(t, m.apply(c), errRefused, "%+v", c)
	}
	assert.Equal(t, before, m, "refused changes change nothing")
	require.NoError(t, m.apply(metaCommand{Op: "leave", ID: 4}))
	assert.ErrorIs(t, m.apply(metaCommand{Op: "leave", ID: 3}), errRefused, "3 nodes must stay")
}
