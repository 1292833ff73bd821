package raft

import (
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	pb "github.com/pontoon-raft/raft/raftpb"
)

// Tests of the ReadOnlyLeaseBased lease (see leaseValid). The clusters use
// ElectionTick 10 and HeartbeatTick 1, so a lease lasts 8 ticks from the
// send of the newest heartbeat round a quorum acknowledged. A new leader's
// first read and a leader that sent MsgTimeoutNow are in
// testdata/read_lease.txt.

// leaseCluster returns a three-node cluster led by node 1, with CheckQuorum
// and lease-based reads, that has committed one proposal.
func leaseCluster(t *testing.T) *cluster {
	return newLeaderCluster(t, 3, func(cfg *Config) { cfg.CheckQuorum = true; cfg.ReadOnlyOption = ReadOnlyLeaseBased })
}

// The lease runs from the send time of the acknowledged round, not until the
// next CheckQuorum: an isolated leader stops answering from its lease after
// 8 ticks, even though its CheckQuorum (which still counts the answers of
// that round) keeps it leader until the next check. Under etcd/raft's rule
// it would answer for up to two election timeouts, after the others may
// have elected a new leader and committed writes it does not know.
func TestLeaseCountsFromAcknowledgedRound(t *testing.T) {
	c := leaseCluster(t)
	c.tick(1) // heartbeat round sent at leader tick 1, acknowledged
	c.stabilize()
	commit := c.node(1).raft().raftLog.committed
	c.isolate(1)

	for i := 0; i < 8; i++ {
		c.tick(1)
		c.stabilize()
	}
	c.node(1).rn.ReadIndex([]byte("in lease"))
	assert.Equal(t, []ReadState{readState(commit, "in lease")}, c.node(1).raft().readStates, "8 ticks after the round: answered from the lease")
	c.takeReadStates(1)
	c.node(1).raft().readStates = nil

	c.tick(1)
	c.stabilize()
	require.Equal(t, StateLeader, c.node(1).raft().state, "CheckQuorum still counts the round's answers")
	c.node(1).rn.ReadIndex([]byte("expired"))
	c.stabilize()
	assert.Empty(t, c.node(1).raft().readStates)
	assert.Empty(t, c.takeReadStates(1), "9 ticks after the round: no lease, and no quorum to confirm the read")

	// Once healed, the read is confirmed by a round and answered.
	c.heal()
	c.tick(1)
	c.stabilize()
	assert.Equal(t, []ReadState{readState(commit, "expired")}, c.takeReadStates(1))
}

// A node that restarts (its HardState has a term) with ReadOnlyLeaseBased
// refuses votes for an election timeout: before it crashed it may have
// answered a heartbeat some leader's lease counts on. Without the lease
// option, or on a brand-new node, it votes at once.
func TestLeaseRestartedNodeWithholdsVotes(t *testing.T) {
	vote := pb.Message{Type: pb.MsgVote, From: 2, To: 1, Term: 3, LogTerm: 2, Index: 2}
	granted := func(rn *RawNode, s *MemoryStorage) bool {
		peers, _ := drain(t, rn, s)
		for _, m := range peers {
			if m.Type == pb.MsgVoteResp && m.To == 2 && !m.Reject {
				return true
			}
		}
		return false
	}
	for _, tt := range []struct {
		name     string
		hs       pb.HardState
		lease    bool
		withheld bool
	}{
		{"restart with lease", pb.HardState{Term: 2, Commit: 2}, true, true},
		{"restart with safe reads", pb.HardState{Term: 2, Commit: 2}, false, false},
		{"first start with lease", pb.HardState{}, true, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			s := newTestStorage(votersConf(1, 2, 3), tt.hs, 1, 2)
			cfg := testConfig(1, s)
			cfg.CheckQuorum = true
			if tt.lease {
				cfg.ReadOnlyOption = ReadOnlyLeaseBased
			}
			rn, err := NewRawNode(cfg)
			require.NoError(t, err)
			require.NoError(t, rn.Step(vote))
			if !tt.withheld {
				assert.True(t, granted(rn, s))
				return
			}
			assert.False(t, granted(rn, s), "vote withheld just after the restart")
			assert.Equal(t, uint64(2), rn.raft.Term, "the candidate's term is not adopted either")
			for i := 0; i < 10; i++ {
				rn.Tick()
			}
			// (It may have campaigned itself meanwhile; a newer term wins.)
			vote.Term = 5
			require.NoError(t, rn.Step(vote))
			assert.True(t, granted(rn, s), "granted an election timeout later")
		})
	}
}

// leaseTestConfig is the configuration of the lease scenarios below: PreVote,
// CheckQuorum and lease-based reads.
func leaseTestConfig(cfg *Config) {
	cfg.PreVote = true
	cfg.CheckQuorum = true
	cfg.ReadOnlyOption = ReadOnlyLeaseBased
}

// leaseReadIsCurrent asks the old leader for a read and fails if it answers
// at an index below one committed elsewhere: a stale read.
func leaseReadIsCurrent(t *testing.T, c *cluster, oldLeader uint64) {
	t.Helper()
	c.node(oldLeader).rn.ReadIndex([]byte("lease read"))
	c.stabilize()
	newest := c.maxCommitted()
	for _, rs := range c.takeReadStates(oldLeader) {
		assert.GreaterOrEqual(t, rs.Index, newest,
			"node %d answered a read at index %d although index %d is committed: a stale read", oldLeader, rs.Index, newest)
	}
}

// A follower that acknowledged the leader's heartbeats must keep its
// promise not to vote, not even for itself, for an election timeout: a
// manual Campaign() must not let it win with the vote of a node the leader
// lost, while the old leader still answers reads from its lease.
func TestLeaseManualCampaignKeepsThePromise(t *testing.T) {
	c := newLeaderCluster(t, 3, leaseTestConfig)
	c.cutLink(1, 3)
	for c.node(3).raft().state != StatePreCandidate {
		c.tickAll(1) // node 3 hears nothing from node 1 and times out
	}
	c.tickAll(1) // a fresh heartbeat round, acknowledged by node 2

	err := c.node(2).rn.Campaign()
	assert.ErrorIs(t, err, ErrCampaignRefused, "node 2 promised node 1 not to vote")
	// Node 2's link to node 1 fails too.
	c.cutLink(1, 2)
	c.stabilize()
	if c.node(2).raft().state == StateLeader {
		require.NoError(t, c.propose(2, "x"))
		c.stabilize()
	}
	leaseReadIsCurrent(t, c, 1)
}

// TickQuiesced moves the clocks the lease depends on: the followers' promise
// and the leader's lease both run out, or neither does.
func TestLeaseTickQuiescedAdvancesTheLeaseClock(t *testing.T) {
	c := newLeaderCluster(t, 3, leaseTestConfig)
	c.tickAll(1) // a heartbeat round acknowledged by everyone
	c.cutLink(1, 3)
	for i := 0; i < 25; i++ {
		for _, id := range c.ids {
			c.node(id).rn.TickQuiesced()
		}
	}
	c.tick(3) // node 3 wakes up first, long past its election timeout
	c.stabilize()
	require.Equal(t, StateLeader, c.node(3).raft().state, "nodes 2 and 3 elect a new leader")
	require.NoError(t, c.propose(3, "x"))
	c.stabilize()
	leaseReadIsCurrent(t, c, 1)
}

// With AsyncStorageWrites a node must not acknowledge a heartbeat before its
// term is durable: a fresh voter that echoed, crashed before writing its
// first HardState and restarted with term 0 would vote at once, while the
// leader's lease still counts its echo.
func TestLeaseAsyncEchoWaitsForDurableTerm(t *testing.T) {
	c := newCluster(t, 3, func(cfg *Config) {
		leaseTestConfig(cfg)
		cfg.AsyncStorageWrites = cfg.ID == 3
	})
	c.lazyStorage = true
	// settle runs Readys, storage threads and deliveries until idle, except
	// that the storage threads of node `frozen` do not run.
	frozen := uint64(3)
	settle := func() {
		for i := 0; i < maxStabilizeRounds; i++ {
			busy := c.processReadys()
			for _, id := range c.ids {
				if n := c.node(id); id != frozen && len(n.appendWork)+len(n.applyWork) > 0 {
					c.runStorageWork(n, -1, -1)
					busy = true
				}
			}
			if !c.deliver() && !busy {
				return
			}
		}
		t.Fatal("cluster did not settle")
	}
	// Node 1 leads with node 2's vote while node 3 hears nothing.
	c.isolate(3)
	require.NoError(t, c.node(1).rn.Campaign())
	settle()
	require.Equal(t, StateLeader, c.node(1).raft().state)

	// Node 1 now reaches only node 3; node 2 hears from no leader.
	c.heal()
	c.cutLink(1, 2)
	for i := 0; i < 12; i++ {
		c.tick(1, 2, 3) // heartbeat rounds: node 3 (term 0 on disk) answers them
		settle()
	}
	require.Equal(t, uint64(0), c.node(3).storage.hardState.Term, "node 3's term is not durable yet")

	// Node 3 crashes before its first HardState is written and restarts;
	// node 1 loses its last link; node 2 campaigns.
	c.node(3).appendWork, c.node(3).applyWork = nil, nil
	c.restart(3, 0)
	frozen = None
	c.isolate(1)
	require.NoError(t, c.node(2).rn.Campaign())
	settle()
	if c.node(2).raft().state == StateLeader {
		require.NoError(t, c.propose(2, "x"))
		settle()
	}
	c.node(1).rn.ReadIndex([]byte("lease read"))
	settle()
	newest := c.maxCommitted()
	for _, rs := range c.takeReadStates(1) {
		assert.GreaterOrEqual(t, rs.Index, newest, "stale read at %d, %d is committed", rs.Index, newest)
	}
}

// With LeaseDriftTicks the lease is shorter by that many ticks: the leader
// tolerates followers whose clocks run that much faster over an election
// timeout.
func TestLeaseDriftTicksShortensTheLease(t *testing.T) {
	for _, drift := range []int{0, 3} {
		t.Run(fmt.Sprint("drift ", drift), func(t *testing.T) {
			c := newLeaderCluster(t, 3, leaseTestConfig, func(cfg *Config) { cfg.LeaseDriftTicks = drift })
			c.tick(1) // a heartbeat round, acknowledged
			c.stabilize()
			c.isolate(1)
			lease := 10 - 2 - drift
			for i := 0; i < lease; i++ {
				c.tick(1)
				c.stabilize()
			}
			c.node(1).rn.ReadIndex([]byte("in lease"))
			assert.Len(t, c.node(1).raft().readStates, 1, "%d ticks after the round: answered from the lease", lease)
			c.node(1).raft().readStates = nil
			c.tick(1)
			c.stabilize()
			c.node(1).rn.ReadIndex([]byte("expired"))
			assert.Empty(t, c.node(1).raft().readStates, "%d ticks after the round: no lease", lease+1)
		})
	}
}
