package raft

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/pontoon-raft/raft/internal/corehook"
	pb "github.com/pontoon-raft/raft/raftpb"
)

// TestCorehookSetRandomizedElectionTimeout: the hook rafttest uses makes a
// follower campaign after exactly the given number of ticks, until the
// next reset draws a timeout again; it panics on misuse.
func TestCorehookSetRandomizedElectionTimeout(t *testing.T) {
	require.NotNil(t, corehook.SetRandomizedElectionTimeout, "package raft installs the hook")
	for _, timeout := range []int{3, 7, 25} {
		rn := newTestRawNode(t, 1, newTestStorage(votersConf(1, 2, 3), pb.HardState{}))
		corehook.SetRandomizedElectionTimeout(rn, timeout)
		for i := 1; i < timeout; i++ {
			rn.Tick()
			require.Equal(t, StateFollower, rn.raft.state, "tick %d of %d", i, timeout)
		}
		rn.Tick()
		assert.Equal(t, StateCandidate, rn.raft.state, "campaigns at tick %d", timeout)
		// Becoming a candidate drew a new timeout from the configured range.
		assert.GreaterOrEqual(t, rn.raft.randomizedElectionTimeoutTicks, 10)
		assert.Less(t, rn.raft.randomizedElectionTimeoutTicks, 20)
	}

	rn := newTestRawNode(t, 1, newTestStorage(votersConf(1), pb.HardState{}))
	assert.PanicsWithValue(t, "raft: setRandomizedElectionTimeout wants a *RawNode, got *raft.raft",
		func() { corehook.SetRandomizedElectionTimeout(rn.raft, 5) })
	assert.PanicsWithValue(t, "raft: randomized election timeout must be positive, got 0 ticks",
		func() { corehook.SetRandomizedElectionTimeout(rn, 0) })
}
