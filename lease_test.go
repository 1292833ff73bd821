package raft

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	pb "github.com/pontoon-raft/raft/raftpb"
)

// Tests of the ReadOnlyLeaseBased lease (see leaseValid). The clusters use
// ElectionTick 10 and HeartbeatTick 1, so a lease lasts 8 ticks from the
// send of the newest heartbeat round a quorum acknowledged.

func leaseCluster(t *testing.T) *ctCluster {
	c := rtLeaderCluster(t, 3, func(cfg *Config) { cfg.CheckQuorum = true; cfg.ReadOnlyOption = ReadOnlyLeaseBased })
	return c
}

// A new leader has no lease until a quorum answered one of its heartbeat
// rounds: its first read is confirmed by a round.
func TestLeaseFirstReadConfirmedByRound(t *testing.T) {
	c := leaseCluster(t)
	commit := c.node(1).raft().raftLog.committed
	c.node(1).rn.ReadIndex([]byte("first"))
	assert.Empty(t, c.node(1).raft().readStates, "no lease yet: not answered inside ReadIndex")
	c.stabilize()
	assert.Equal(t, []ReadState{rtRS(commit, "first")}, rtTakeReads(c, 1))
	assert.Positive(t, c.sent[pb.MsgHeartbeat], "confirmed by a heartbeat round")
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
	assert.Equal(t, []ReadState{rtRS(commit, "in lease")}, c.node(1).raft().readStates, "8 ticks after the round: answered from the lease")
	rtTakeReads(c, 1)
	c.node(1).raft().readStates = nil

	c.tick(1)
	c.stabilize()
	require.Equal(t, StateLeader, c.node(1).raft().state, "CheckQuorum still counts the round's answers")
	c.node(1).rn.ReadIndex([]byte("expired"))
	c.stabilize()
	assert.Empty(t, c.node(1).raft().readStates)
	assert.Empty(t, rtTakeReads(c, 1), "9 ticks after the round: no lease, and no quorum to confirm the read")

	// Once healed, the read is confirmed by a round and answered.
	c.heal()
	c.tick(1)
	c.stabilize()
	assert.Equal(t, []ReadState{rtRS(commit, "expired")}, rtTakeReads(c, 1))
}

// A leader that sent MsgTimeoutNow has no lease for the rest of its term:
// the transferee is elected without waiting for anyone's lease.
func TestLeaseVoidAfterTimeoutNow(t *testing.T) {
	c := leaseCluster(t)
	c.tick(1)
	c.stabilize()
	c.filter = func(m *pb.Message) bool { return m.Type != pb.MsgTimeoutNow }
	c.node(1).rn.TransferLeader(2)
	c.stabilize()
	require.Positive(t, c.dropped[pb.MsgTimeoutNow])
	// The transfer times out; node 1 stays leader.
	c.tickAll(10)
	require.Equal(t, StateLeader, c.node(1).raft().state)
	require.Equal(t, None, c.node(1).raft().leadTransferee)

	c.resetCounters()
	commit := c.node(1).raft().raftLog.committed
	c.node(1).rn.ReadIndex([]byte("after transfer"))
	assert.Empty(t, c.node(1).raft().readStates, "no lease: not answered inside ReadIndex")
	c.stabilize()
	assert.Equal(t, []ReadState{rtRS(commit, "after transfer")}, rtTakeReads(c, 1))
	assert.Positive(t, c.sent[pb.MsgHeartbeat])
}

// A node that restarts (its HardState has a term) with ReadOnlyLeaseBased
// refuses votes for an election timeout: before it crashed it may have
// answered a heartbeat some leader's lease counts on. Without the lease
// option, or on a brand-new node, it votes at once.
func TestLeaseRestartedNodeWithholdsVotes(t *testing.T) {
	vote := pb.Message{Type: pb.MsgVote, From: 2, To: 1, Term: 3, LogTerm: 2, Index: 2}
	granted := func(rn *RawNode) bool {
		rd := rn.Ready()
		rn.Advance(rd)
		for _, m := range rd.Messages {
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
			s := ctStorage([]uint64{1, 2, 3}, tt.hs, 1, 2)
			cfg := ctConfig(1, s)
			cfg.CheckQuorum = true
			if tt.lease {
				cfg.ReadOnlyOption = ReadOnlyLeaseBased
			}
			rn, err := NewRawNode(cfg)
			require.NoError(t, err)
			require.NoError(t, rn.Step(vote))
			if !tt.withheld {
				assert.True(t, granted(rn))
				return
			}
			assert.False(t, granted(rn), "vote withheld just after the restart")
			assert.Equal(t, uint64(2), rn.raft.Term, "the candidate's term is not adopted either")
			for i := 0; i < 10; i++ {
				rn.Tick()
			}
			// (It may have campaigned itself meanwhile; a newer term wins.)
			vote.Term = 5
			require.NoError(t, rn.Step(vote))
			assert.True(t, granted(rn), "granted an election timeout later")
		})
	}
}
