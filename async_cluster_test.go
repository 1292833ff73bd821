package raft

// Cluster tests of Config.AsyncStorageWrites: crashes with writes in flight
// and clusters mixing synchronous and asynchronous nodes. The randomized run
// is TestRandomizedClusterSafety's async and mixed variants; scenarios are
// in testdata/async_storage_*.txt.

import (
	"fmt"
	"math/rand"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	pb "github.com/pontoon-raft/raft/raftpb"
)

// TestAsyncStorageCrashWithUnacknowledgedWrites: a node crashes with writes
// handed to its append thread but not done; it restarts from storage that
// never saw them. An entry only the crashed node had is never committed;
// one its followers made durable survives; the cluster goes on committing.
func TestAsyncStorageCrashWithUnacknowledgedWrites(t *testing.T) {
	propose := func(c *cluster, id uint64, data string) {
		require.NoError(t, c.node(id).rn.Propose([]byte(data)))
	}
	// setup elects node 1 of an asynchronous three-node cluster and commits
	// one entry everywhere.
	setup := func(t *testing.T) *cluster {
		c := newCluster(t, 3, asyncStorage)
		c.lazyStorage = true
		c.elect(1)
		propose(c, 1, "a")
		c.stabilize()
		return c
	}
	// finish elects node 2, commits more and checks that the cluster agrees.
	finish := func(t *testing.T, c *cluster, ghost string) {
		c.filter = nil
		c.elect(2)
		for i := 0; i < 5; i++ {
			propose(c, 2, fmt.Sprint("b", i))
			c.stabilize()
		}
		// Node 1 catches up through the new leader.
		for i := 0; i < 3; i++ {
			c.nodes[2].rn.Tick()
			c.stabilize()
		}
		c.requireSameLogs(c.ids...)
		for _, id := range c.ids {
			assert.Equal(t, c.node(1).appliedData(), c.node(id).appliedData(), "node %d", id)
			data := c.node(id).appliedData()
			assert.NotContains(t, data, ghost, "node %d", id)
			assert.Equal(t, "b4", data[len(data)-1], "node %d", id)
		}
	}

	t.Run("leader loses a write nobody else saw", func(t *testing.T) {
		c := setup(t)
		lastBefore := c.node(1).rn.raft.raftLog.lastIndex()
		propose(c, 1, "ghost")
		// The Ready is taken: MsgApp may go out at once, but the node
		// crashes before they do, and before its write.
		c.filter = func(*pb.Message) bool { return false }
		c.processReadys()
		require.Len(t, c.node(1).appendWork, 1)
		c.crash(1)
		assert.Equal(t, lastBefore, c.node(1).rn.raft.raftLog.lastIndex(), "the restarted node never had the entry")
		finish(t, c, "ghost")
	})

	t.Run("leader loses a write its followers made durable", func(t *testing.T) {
		c := setup(t)
		propose(c, 1, "survivor")
		c.processReadys() // MsgApp goes out at once
		require.Len(t, c.node(1).appendWork, 1)
		// Followers persist and acknowledge; the leader crashes before its
		// own write, so their acknowledgements reach the new incarnation.
		c.deliver()
		c.processReadys()
		for _, id := range []uint64{2, 3} {
			require.True(t, c.runStorageWork(c.node(id), -1, -1))
		}
		c.crash(1)
		c.deliver()
		c.filter = nil
		c.elect(2)
		c.stabilize()
		// Durable on a majority, the entry is kept by the new leader and
		// committed in its term.
		for _, id := range c.ids {
			assert.Contains(t, c.node(id).appliedData(), "survivor", "node %d", id)
		}
		finish(t, c, "ghost")
	})

	t.Run("follower loses a write and its acknowledgement", func(t *testing.T) {
		c := setup(t)
		propose(c, 1, "c")
		c.processReadys()
		c.deliver()
		c.processReadys()
		// Node 3's write is lost with it; its MsgAppResp, held in the
		// write's Responses, is never sent.
		require.NotEmpty(t, c.node(3).appendWork)
		c.crash(3)
		c.stabilize()
		assert.Contains(t, c.node(1).appliedData(), "c", "nodes 1 and 2 commit without node 3")
		// A heartbeat exchange lets the leader find node 3 lagging.
		c.nodes[1].rn.Tick()
		c.stabilize()
		assert.Equal(t, c.node(1).appliedData(), c.node(3).appliedData())
		finish(t, c, "ghost")
	})

	t.Run("follower loses a vote", func(t *testing.T) {
		c := setup(t)
		// Node 2 campaigns; node 3 grants its vote in memory but crashes
		// before persisting it: the grant never leaves.
		require.NoError(t, c.node(2).rn.Campaign())
		c.processReadys()
		c.runStorageWork(c.node(2), -1, -1)
		var sent []pb.Message
		c.filter = func(m *pb.Message) bool {
			sent = append(sent, *m)
			return m.From != 3
		}
		c.deliver()
		c.processReadys()
		var heldGrant bool
		for _, m := range c.node(3).appendWork {
			for _, resp := range m.Responses {
				heldGrant = heldGrant || (resp.Type == pb.MsgVoteResp && resp.To == 2 && !resp.Reject)
			}
		}
		require.True(t, heldGrant, "node 3 granted its vote in memory, held until durable")
		c.crash(3)
		hs, _, err := c.node(3).storage.InitialState()
		require.NoError(t, err)
		assert.NotEqual(t, uint64(2), hs.Vote, "the vote never reached storage")
		c.stabilize()
		assert.Equal(t, StateLeader, c.node(2).rn.raft.state, "elected with node 1's vote")
		for _, m := range sent {
			assert.False(t, m.From == 3 && m.Type == pb.MsgVoteResp && !m.Reject, "a vote left before it was durable: %v", m)
		}
		finish(t, c, "ghost")
	})
}

// TestAsyncStorageMixedCluster: synchronous and asynchronous nodes in one
// cluster, with the asynchronous nodes' threads lagging by random amounts,
// commit 100 proposals and end with identical logs.
func TestAsyncStorageMixedCluster(t *testing.T) {
	for _, tt := range []struct {
		name   string
		async  []bool
		leader uint64
	}{
		{"async follower", []bool{false, false, true}, 1},
		{"async leader", []bool{false, false, true}, 3},
	} {
		for seed := int64(1); seed <= 3; seed++ {
			t.Run(fmt.Sprintf("%s/seed=%d", tt.name, seed), func(t *testing.T) {
				rng := rand.New(rand.NewSource(seed))
				c := newCluster(t, 3, func(cfg *Config) { cfg.AsyncStorageWrites = tt.async[cfg.ID-1] })
				c.lazyStorage = true
				c.elect(tt.leader)
				var want []string
				for i := 0; i < 100; i++ {
					data := fmt.Sprint("p", i)
					// Proposals enter at every node; followers forward them.
					require.NoError(t, c.node(c.ids[i%3]).rn.Propose([]byte(data)))
					want = append(want, data)
					c.processReadys()
					c.runSomeStorageWork(rng)
					if rng.Intn(2) == 0 {
						c.deliver()
					}
				}
				c.stabilize()
				require.Equal(t, StateLeader, c.node(tt.leader).rn.raft.state)
				c.requireSameLogs(c.ids...)
				for _, id := range c.ids {
					assert.ElementsMatch(t, want, c.node(id).appliedData(), "node %d", id)
				}
			})
		}
	}
}
