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
			require.True(t, slices.Contains(m.group(st.Shard), st.From))
			require.False(t, slices.Contains(m.group(st.Shard), st.To), "a move to a node that holds the shard")
			require.NoError(t, m.apply(metaCommand{Op: "moving", Move: &st}))
			c = metaCommand{Op: "replicas", Shard: st.Shard, Replicas: m.movedReplicas(st)}
		}
		require.NoError(t, m.apply(c), "step %+v", st)
		for _, d := range slices.Clone(m.Drops) {
			require.NoError(t, m.apply(metaCommand{Op: "dropped", ID: d.Node, Shard: d.Shard}))
		}
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
		{Op: "add", ID: 2, Member: members(2)[2]},             // already a member
		{Op: "add", ID: 9},                                    // no addresses
		{Op: "leave", ID: 7},                                  // not a member
		{Op: "remove", ID: 4},                                 // not leaving
		{Op: "replicas", Shard: 8, Replicas: []uint64{1}},     // no such shard
		{Op: "replicas", Shard: 0, Replicas: []uint64{1, 9}},  // not a member
		{Op: "moving", Move: &Step{Shard: 0, From: 9, To: 1}}, // 9 holds no replica
		{Op: "moving", Move: &Step{Shard: 0, From: 1, To: 9}}, // 9 is not a member
		{Op: "moving"},                                        // no move
		{Op: "dropped", ID: 1, Shard: 0},                      // nothing to delete
		{Op: "rename"},
	} {
		assert.ErrorIs(t, m.apply(c), errRefused, "%+v", c)
	}
	assert.Equal(t, before, m, "refused changes change nothing")
	require.NoError(t, m.apply(metaCommand{Op: "leave", ID: 4}))
	assert.ErrorIs(t, m.apply(metaCommand{Op: "leave", ID: 3}), errRefused, "3 nodes must stay")
}

// A replica moved off a node stays to delete (the node may be down) until
// the node has deleted it: the node is not removed from the cluster, nor
// given that shard again, before.
func TestClusterMapKeepsMovedReplicasToDelete(t *testing.T) {
	m := initialMap(members(1, 2, 3, 4), 8)
	held := m.holds(4)
	require.NoError(t, m.apply(metaCommand{Op: "leave", ID: 4}))
	for len(m.holds(4)) > 0 {
		st, ok := NextStep(m)
		require.True(t, ok)
		require.Equal(t, uint64(4), st.From, "%+v", st)
		require.NoError(t, m.apply(metaCommand{Op: "replicas", Shard: st.Shard, Replicas: m.movedReplicas(st)}))
	}
	require.Len(t, m.Drops, len(held))
	for _, d := range m.Drops {
		assert.Equal(t, uint64(4), d.Node)
		assert.Contains(t, held, d.Shard)
	}
	assert.ErrorIs(t, m.apply(metaCommand{Op: "remove", ID: 4}), errRefused, "node 4 has replicas to delete")
	for {
		st, ok := NextStep(m)
		if !ok {
			break
		}
		require.Zero(t, st.Remove, "node 4 removed before it deleted its replicas")
		require.NotNil(t, st.Reorder, "%+v", st)
		require.NoError(t, m.apply(metaCommand{Op: "replicas", Shard: st.Shard, Replicas: st.Reorder}))
	}

	assert.ErrorIs(t, m.apply(metaCommand{Op: "dropped", ID: 1, Shard: held[0]}), errRefused, "nothing to delete")
	for _, d := range slices.Clone(m.Drops) {
		require.NoError(t, m.apply(metaCommand{Op: "dropped", ID: d.Node, Shard: d.Shard}))
	}
	assert.Empty(t, m.Drops)
	st, ok := NextStep(m)
	require.True(t, ok)
	assert.Equal(t, Step{Remove: 4}, st)
}

// The planner gives a shard back to a node it was moved off only once the
// node has deleted its old replica.
func TestPlannerWaitsForADeletionBeforeMovingAShardBack(t *testing.T) {
	m := initialMap(members(1, 2, 3), 4)
	require.NoError(t, m.apply(metaCommand{Op: "add", ID: 4, Member: members(4)[4]}))
	require.NoError(t, m.apply(metaCommand{Op: "replicas", Shard: 0, Replicas: m.movedReplicas(Step{Shard: 0, From: 3, To: 4})}))
	require.NoError(t, m.apply(metaCommand{Op: "leave", ID: 4}))
	st, ok := NextStep(m)
	assert.False(t, ok, "shard 0 moved back to node 3 before node 3 deleted it: %+v", st)
	require.NoError(t, m.apply(metaCommand{Op: "dropped", ID: 3, Shard: 0}))
	st, ok = NextStep(m)
	require.True(t, ok)
	assert.Equal(t, Step{Shard: 0, From: 4, To: 3}, st)
}

// A replica moved back to the node it was moved off before the node
// deleted it is no longer to delete.
func TestClusterMapForgetsADropOfAReplicaMovedBack(t *testing.T) {
	m := initialMap(members(1, 2, 3, 4), 4)
	s := m.holds(4)[0]
	before := slices.Clone(m.Shards[s])
	to := uint64(1)
	for slices.Contains(before, to) {
		to++
	}
	require.NoError(t, m.apply(metaCommand{Op: "replicas", Shard: s, Replicas: m.movedReplicas(Step{Shard: s, From: 4, To: to})}))
	require.Equal(t, []Drop{{Node: 4, Shard: s}}, m.Drops)
	require.NoError(t, m.apply(metaCommand{Op: "replicas", Shard: s, Replicas: before}))
	assert.Equal(t, []Drop{{Node: to, Shard: s}}, m.Drops)
}

// A move begun is finished before any other step, even if the map changed
// meanwhile (the mover may have crashed with the new replica already a
// voter).
func TestPlannerFinishesAMoveBegun(t *testing.T) {
	m := initialMap(members(1, 2, 3), 4)
	require.NoError(t, m.apply(metaCommand{Op: "add", ID: 4, Member: members(4)[4]}))
	st, ok := NextStep(m)
	require.True(t, ok)
	require.Equal(t, uint64(4), st.To)
	require.NoError(t, m.apply(metaCommand{Op: "moving", Move: &st}))
	other := Step{Shard: st.Shard, From: st.From, To: 4}
	other.Shard = (st.Shard + 1) % 4
	assert.ErrorIs(t, m.apply(metaCommand{Op: "moving", Move: &other}), errRefused, "another move under way")

	require.NoError(t, m.apply(metaCommand{Op: "add", ID: 5, Member: members(5)[5]}))
	require.NoError(t, m.apply(metaCommand{Op: "leave", ID: 4}))
	again, ok := NextStep(m)
	require.True(t, ok)
	assert.Equal(t, st, again, "the move begun comes first")

	require.NoError(t, m.apply(metaCommand{Op: "replicas", Shard: st.Shard, Replicas: m.movedReplicas(st)}))
	assert.Nil(t, m.Moving)
	next, ok := NextStep(m)
	require.True(t, ok)
	assert.Equal(t, Step{Shard: st.Shard, From: 4, To: 5}, next, "then the leaving node's replica moves off")
}

// A node with a replica of the meta group can leave: that replica moves
// first, to the node with the fewest replicas, and the node is removed
// only once it holds none.
func TestPlannerMovesTheMetaGroupOffALeavingNode(t *testing.T) {
	m := initialMap(members(1, 2, 3), 8)
	require.NoError(t, m.apply(metaCommand{Op: "add", ID: 4, Member: members(4)[4]}))
	settle(t, m)
	require.NoError(t, m.apply(metaCommand{Op: "leave", ID: 1}))
	st, ok := NextStep(m)
	require.True(t, ok)
	assert.Equal(t, Step{Shard: MetaShard, From: 1, To: 4}, st)

	require.NoError(t, m.apply(metaCommand{Op: "moving", Move: &st}))
	require.NoError(t, m.apply(metaCommand{Op: "replicas", Shard: MetaShard, Replicas: m.movedReplicas(st)}))
	assert.Equal(t, []uint64{4, 2, 3}, m.Meta)
	assert.Equal(t, []Drop{{Node: 1, Shard: MetaShard}}, m.Drops)
	settle(t, m)
	assert.NotContains(t, m.Members, uint64(1))
	assert.Equal(t, []uint64{4, 2, 3}, m.Meta)
	assertBalanced(t, m)
}
