package raft

// Faults the tests drive the cluster with (crash and restart, compaction,
// random delivery, role changes), the Election Safety and linearizable-read
// checks, and the randomized test that mixes them all.

import (
	"fmt"
	"math/rand"
	"slices"
	"testing"

	"github.com/stretchr/testify/require"

	pb "github.com/pontoon-raft/raft/raftpb"
)

// restart replaces node id by a fresh RawNode over the same storage, as after
// a crash: unpersisted state is lost. The state machine survives as of index
// applied, which must not be below the storage's snapshot; entries after it
// are applied again. (An application that keeps applied state past the
// snapshot must keep the configuration too; the harness does not, so after
// conf changes it restarts from the snapshot, see crash.)
func (c *cluster) restart(id uint64, applied uint64) {
	c.t.Helper()
	n := c.nodes[id]
	n.appliedIndex = applied
	for len(n.applied) > 0 && n.applied[len(n.applied)-1].Index > n.appliedIndex {
		n.applied = n.applied[:len(n.applied)-1]
	}
	cfg := *n.cfg
	cfg.Applied = n.appliedIndex
	cfg.Rand = rand.New(rand.NewSource(int64(id) + 1000))
	rn, err := NewRawNode(&cfg)
	require.NoError(c.t, err)
	n.rn = rn
	n.appendWork, n.applyWork = nil, nil
	n.written = writtenLogOf(c.t, n.storage)
}

// crash restarts node id with the state machine of its last snapshot, whose
// ConfState is the configuration as of that point.
func (c *cluster) crash(id uint64) {
	c.t.Helper()
	snap, err := c.nodes[id].storage.Snapshot()
	require.NoError(c.t, err)
	c.restart(id, snap.Metadata.Index)
}

// compact snapshots node id's state machine at its applied index and drops
// the log up to there, as an application does to bound its log.
func (c *cluster) compact(id uint64) {
	c.t.Helper()
	n := c.nodes[id]
	// With AsyncStorageWrites entries may be applied before the HardState
	// that commits them is durable; a snapshot beyond the durable commit
	// index would make the storage inconsistent (NewRawNode refuses it).
	// The configuration is known only as of the applied index, so the
	// snapshot is taken there or not at all.
	index := n.appliedIndex
	first, _ := n.storage.FirstIndex()
	if index < first || index > n.lastHardState.Commit {
		return
	}
	cs := n.raft().trk.ConfState()
	_, err := n.storage.CreateSnapshot(index, &cs, []byte(fmt.Sprint("state@", index)))
	require.NoError(c.t, err)
	require.NoError(c.t, n.storage.Compact(index))
}

// deliverRandomly delivers the queued messages in a random order, losing
// some and keeping some back for later.
func (c *cluster) deliverRandomly(rng *rand.Rand) {
	msgs := c.queue
	c.queue = nil
	rng.Shuffle(len(msgs), func(i, j int) { msgs[i], msgs[j] = msgs[j], msgs[i] })
	for _, m := range msgs {
		switch p := rng.Intn(10); {
		case p == 0:
			c.drop(m)
		case p == 1:
			c.queue = append(c.queue, m)
		default:
			c.deliverOne(m)
		}
	}
}

// checkElectionSafety records the leader of every term seen and fails if a
// term has two (paper §5.2, Election Safety).
func (c *cluster) checkElectionSafety(leaderOf map[uint64]uint64) {
	c.t.Helper()
	for _, id := range c.ids {
		r := c.nodes[id].raft()
		if r.state != StateLeader {
			continue
		}
		if prev, ok := leaderOf[r.Term]; ok && prev != id {
			c.t.Fatalf("Election Safety: nodes %d and %d both lead term %d", prev, id, r.Term)
		}
		leaderOf[r.Term] = id
	}
}

// checkReads checks that every ReadIndex answer is linearizable: its index
// covers every entry committed before the request was made (thesis §6.4).
func (c *cluster) checkReads(readFloor map[string]uint64) {
	c.t.Helper()
	for _, id := range c.ids {
		for _, rs := range c.takeReadStates(id) {
			floor, ok := readFloor[string(rs.RequestCtx)]
			require.True(c.t, ok, "node %d got an answer to an unknown read %q", id, rs.RequestCtx)
			require.GreaterOrEqual(c.t, rs.Index, floor,
				"read %q answered at index %d, below the commit index %d when it was made", rs.RequestCtx, rs.Index, floor)
			delete(readFloor, string(rs.RequestCtx))
		}
	}
}

// proposeRoleChange asks the node that believes it leads to turn a random
// node from voter into learner or back, with a simple or a joint change,
// keeping at least three voters.
func (c *cluster) proposeRoleChange(rng *rand.Rand) {
	leaders := c.leaders()
	if len(leaders) == 0 {
		return
	}
	l := c.nodes[leaders[rng.Intn(len(leaders))]]
	cfg := l.raft().trk.Config
	target := c.ids[rng.Intn(len(c.ids))]
	typ := pb.ConfChangeAddNode
	if _, isVoter := cfg.Voters[0][target]; isVoter {
		if len(cfg.Voters[0]) <= 3 {
			return
		}
		typ = pb.ConfChangeAddLearnerNode
	}
	var cc pb.ConfChangeI = pb.ConfChange{Type: typ, NodeID: target}
	if rng.Intn(2) == 0 {
		cc = pb.ConfChangeV2{Transition: pb.ConfChangeTransitionJointImplicit,
			Changes: []pb.ConfChangeSingle{{Type: typ, NodeID: target}}}
	}
	_ = l.rn.ProposeConfChange(cc)
}

// TestHarnessElectsAndReplicates is the harness's own smoke test: a leader
// is elected, a proposal is applied everywhere, and the messages are counted.
func TestHarnessElectsAndReplicates(t *testing.T) {
	c := newCluster(t, 3)
	c.elect(1)
	require.NoError(t, c.propose(1, "x"))
	c.stabilize()
	for _, id := range c.ids {
		require.Equal(t, []string{"x"}, c.node(id).appliedData(), "node %d", id)
	}
	require.Equal(t, 2, c.sent[pb.MsgVote])
	require.Positive(t, c.sent[pb.MsgApp])
	c.requireSameLogs(c.ids...)
}

// TestRandomizedClusterSafety drives five-node clusters through random
// ticks, proposals, partitions, message loss and reordering, crashes and
// log compaction, checking Election Safety after every step and State
// Machine Safety on every apply (the harness does that); leadership
// transfers, role changes between voter and learner, and ReadIndex requests
// (checked for linearizability) are mixed in. Storage is synchronous,
// asynchronous, or mixed (odd nodes asynchronous), with the storage threads
// doing their work at once or lagging by random amounts; every asynchronous
// Ready is checked by checkAsyncReady, and crashes lose the queued writes.
// Finally it heals the network and checks that every node catches up.
func TestRandomizedClusterSafety(t *testing.T) {
	variants := []struct {
		name string
		opt  func(*Config)
		// lazy: storage threads lag behind (cluster.lazyStorage).
		lazy bool
	}{
		{"plain", func(*Config) {}, false},
		{"prevote+checkquorum", func(c *Config) { c.PreVote, c.CheckQuorum = true, true }, false},
		{"small messages", func(c *Config) { c.MaxSizePerMsg, c.MaxInflightMsgs, c.MaxCommittedSizePerReady = 0, 2, 0 }, false},
		{"async storage", func(c *Config) { c.AsyncStorageWrites, c.PreVote = true, true }, false},
		{"lazy async storage", func(c *Config) { c.AsyncStorageWrites, c.CheckQuorum = true, true }, true},
		{"lazy mixed storage", func(c *Config) { c.AsyncStorageWrites, c.PreVote = c.ID%2 == 1, true }, true},
	}
	steps := 400
	if testing.Short() {
		steps = 100
	}
	for _, v := range variants {
		for seed := int64(1); seed <= 10; seed++ {
			t.Run(fmt.Sprintf("%s/seed=%d", v.name, seed), func(t *testing.T) {
				rng := rand.New(rand.NewSource(seed))
				c := newCluster(t, 5, v.opt, func(cfg *Config) {
					cfg.Rand = rand.New(rand.NewSource(seed*10 + int64(cfg.ID)))
				})
				c.lazyStorage = v.lazy
				leaderOf := map[uint64]uint64{}
				proposals, reads := 0, 0
				// readFloor maps a read's context to the highest commit
				// index anywhere when it was requested.
				readFloor := map[string]uint64{}
				for step := 0; step < steps; step++ {
					id := c.ids[rng.Intn(len(c.ids))]
					switch p := rng.Intn(100); {
					case p < 35:
						c.tick(id)
					case p < 55:
						proposals++
						_ = c.propose(id, fmt.Sprint("p", proposals))
					case p < 60:
						c.heal()
						switch rng.Intn(3) {
						case 0:
							c.isolate(id)
						case 1:
							perm := rng.Perm(len(c.ids))
							var a, b []uint64
							for i, k := range perm {
								if i < 2 {
									a = append(a, c.ids[k])
								} else {
									b = append(b, c.ids[k])
								}
							}
							c.partition(a, b)
						}
					case p < 62:
						c.crash(id)
					case p < 65:
						c.compact(id)
					case p < 67:
						c.node(id).rn.TransferLeader(c.ids[rng.Intn(len(c.ids))])
					case p < 72:
						reads++
						ctx := fmt.Sprint("r", reads)
						readFloor[ctx] = c.maxCommitted()
						c.node(id).rn.ReadIndex([]byte(ctx))
					case p < 74:
						c.proposeRoleChange(rng)
					case p < 75:
						_ = c.node(id).rn.ForgetLeader()
					}
					c.processReadys()
					if c.lazyStorage {
						c.runSomeStorageWork(rng)
					}
					c.deliverRandomly(rng)
					c.checkElectionSafety(leaderOf)
					c.checkReads(readFloor)
				}

				// Heal and let the cluster settle: every node follows one
				// leader at its term and has applied everything, including
				// a final proposal.
				c.heal()
				finalProposed, settled := false, false
				for i := 0; i < 500 && !settled; i++ {
					c.tickAll(1)
					c.checkElectionSafety(leaderOf)
					leaders := c.leaders()
					if len(leaders) != 1 {
						continue
					}
					lead := c.node(leaders[0])
					agree := true
					for _, id := range c.ids {
						n := c.node(id)
						agree = agree && n.raft().Term == lead.raft().Term && n.raft().lead == lead.id &&
							n.appliedIndex == lead.appliedIndex
					}
					switch {
					case !agree:
					case !finalProposed:
						finalProposed = c.propose(lead.id, "final") == nil
					default:
						settled = slices.Contains(lead.appliedData(), "final")
					}
				}
				require.True(t, settled, "the healed cluster did not converge")
			})
		}
	}
}
