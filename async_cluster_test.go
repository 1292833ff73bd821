package raft

// Cluster tests of Config.AsyncStorageWrites: crashes, mixed clusters,
// snapshots and a randomized run.

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
	propose := func(c *atCluster, id uint64, data string) {
		require.NoError(t, c.node(id).rn.Propose([]byte(data)))
	}
	// setup elects node 1 of an asynchronous three-node cluster and commits
	// one entry everywhere.
	setup := func(t *testing.T) *atCluster {
		c := atNewCluster(t, true, true, true)
		c.elect(1)
		propose(c, 1, "a")
		c.stabilize()
		return c
	}
	// finish elects node 2, commits more and checks that the cluster agrees.
	finish := func(t *testing.T, c *atCluster, ghost string) {
		c.drop = nil
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
		c.requireSameLogs()
		for _, id := range c.ids {
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
		c.drop = func(pb.Message) bool { return true }
		c.processReadys()
		require.Len(t, c.node(1).appendQ, 1)
		c.crash(1)
		assert.Equal(t, lastBefore, c.node(1).rn.raft.raftLog.lastIndex(), "the restarted node never had the entry")
		finish(t, c, "ghost")
	})

	t.Run("leader loses a write its followers made durable", func(t *testing.T) {
		c := setup(t)
		propose(c, 1, "survivor")
		c.processReadys() // MsgApp goes out at once
		require.Len(t, c.node(1).appendQ, 1)
		// Followers persist and acknowledge; the leader crashes before its
		// own write, so their acknowledgements reach the new incarnation.
		c.deliver()
		c.processReadys()
		for _, id := range []uint64{2, 3} {
			require.True(t, c.runLocal(c.node(id), -1, -1))
		}
		c.crash(1)
		c.deliver()
		c.drop = nil
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
		require.NotEmpty(t, c.node(3).appendQ)
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
		c.runLocal(c.node(2), -1, -1)
		var sent []pb.Message
		c.drop = func(m pb.Message) bool {
			sent = append(sent, m)
			return m.From == 3
		}
		c.deliver()
		c.processReadys()
		var heldGrant bool
		for _, m := range c.node(3).appendQ {
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
				c := atNewCluster(t, tt.async...)
				c.elect(tt.leader)
				var want []string
				for i := 0; i < 100; i++ {
					data := fmt.Sprint("p", i)
					// Proposals enter at every node; followers forward them.
					require.NoError(t, c.node(c.ids[i%3]).rn.Propose([]byte(data)))
					want = append(want, data)
					c.processReadys()
					for _, id := range c.ids {
						n := c.node(id)
						c.runLocal(n, rng.Intn(len(n.appendQ)+1), rng.Intn(len(n.applyQ)+1))
					}
					if rng.Intn(2) == 0 {
						c.deliver()
					}
				}
				c.stabilize()
				require.Equal(t, StateLeader, c.node(tt.leader).rn.raft.state)
				c.requireSameLogs()
				for _, id := range c.ids {
					assert.ElementsMatch(t, want, c.node(id).appliedData(), "node %d", id)
				}
			})
		}
	}
}

// TestAsyncStorageRandomized drives clusters of synchronous and
// asynchronous nodes through random ticks, proposals, message loss and
// reordering, lagging storage threads, crashes that lose queued writes, and
// compaction. The cluster's checks run throughout: no entry handed out for
// writing twice, nothing applied before it is durable, every released
// response backed by storage, State Machine Safety on every apply, Election
// Safety after every step. At the end the network heals and every node must
// apply a final proposal.
func TestAsyncStorageRandomized(t *testing.T) {
	steps := 600
	if testing.Short() {
		steps = 150
	}
	for _, async := range [][]bool{{true, true, true}, {false, true, true, false, true}} {
		for seed := int64(1); seed <= 10; seed++ {
			t.Run(fmt.Sprintf("nodes=%d/seed=%d", len(async), seed), func(t *testing.T) {
				rng := rand.New(rand.NewSource(seed))
				c := atNewCluster(t, async...)
				for _, n := range c.nodes {
					n.cfg.PreVote = seed%2 == 0
					n.cfg.CheckQuorum = seed%3 == 0
					n.cfg.Rand = rand.New(rand.NewSource(seed*10 + int64(n.id)))
					rn, err := NewRawNode(n.cfg)
					require.NoError(t, err)
					n.rn = rn
				}
				leaderOf := map[uint64]uint64{}
				checkElectionSafety := func() {
					for _, id := range c.ids {
						r := c.node(id).rn.raft
						if r.state != StateLeader {
							continue
						}
						if prev, ok := leaderOf[r.Term]; ok && prev != id {
							t.Fatalf("Election Safety: %d and %d both lead term %d", prev, id, r.Term)
						}
						leaderOf[r.Term] = id
					}
				}
				proposals := 0
				for step := 0; step < steps; step++ {
					id := c.ids[rng.Intn(len(c.ids))]
					n := c.node(id)
					switch p := rng.Intn(100); {
					case p < 40:
						n.rn.Tick()
					case p < 65:
						proposals++
						_ = n.rn.Propose([]byte(fmt.Sprint("p", proposals)))
					case p < 68:
						c.crash(id)
					case p < 72:
						c.compact(id)
					}
					c.processReadys()
					for _, id := range c.ids {
						n := c.node(id)
						c.runLocal(n, rng.Intn(len(n.appendQ)+1), rng.Intn(len(n.applyQ)+1))
					}
					c.deliverRandomly(rng)
					checkElectionSafety()
				}

				// Settle: a leader emerges and every node applies "final".
				final := false
				for i := 0; i < 300; i++ {
					for _, id := range c.ids {
						c.node(id).rn.Tick()
					}
					c.stabilize()
					checkElectionSafety()
					var lead *atNode
					for _, id := range c.ids {
						if c.node(id).rn.raft.state == StateLeader {
							lead = c.node(id)
						}
					}
					if lead == nil {
						continue
					}
					if !final {
						final = lead.rn.Propose([]byte("final")) == nil
						continue
					}
					done := true
					for _, id := range c.ids {
						data := c.node(id).appliedData()
						done = done && len(data) > 0 && data[len(data)-1] == "final"
					}
					if done {
						t.Logf("applied %d of %d proposals, %d terms with leaders, last index %d", len(lead.appliedData()), proposals, len(leaderOf), lead.rn.raft.raftLog.lastIndex())
						return
					}
				}
				t.Fatal("the healed cluster did not converge")
			})
		}
	}
}
