package raft

import (
	"bytes"
	"encoding/binary"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	pb "github.com/pontoon-raft/raft/raftpb"
)

// rtTakeReads returns and clears the read states node id received.
func rtTakeReads(c *ctCluster, id uint64) []ReadState {
	n := c.node(id)
	rs := n.readStates
	n.readStates = nil
	return rs
}

// rtStash takes every message queued on the network off it, to be delivered
// later (or never) by the test.
func rtStash(c *ctCluster) []pb.Message {
	msgs := c.queue
	c.queue = nil
	return msgs
}

// rtPick returns the messages of type typ sent to `to` (0: to anyone).
func rtPick(msgs []pb.Message, typ pb.MessageType, to uint64) []pb.Message {
	var out []pb.Message
	for _, m := range msgs {
		if m.Type == typ && (to == None || m.To == to) {
			out = append(out, m)
		}
	}
	return out
}

// rtStep steps m into its recipient, failing the test on error.
func rtStep(c *ctCluster, m pb.Message) {
	c.t.Helper()
	require.NoError(c.t, c.node(m.To).rn.Step(m), "stepping %s", DescribeMessage(m, nil))
}

// rtRoundTrip delivers msgs to their recipients and then carries their
// direct answers back, without letting anything else happen.
func rtRoundTrip(c *ctCluster, msgs ...pb.Message) {
	c.t.Helper()
	for _, m := range msgs {
		rtStep(c, m)
	}
	c.processReadys()
	c.deliver()
	c.processReadys()
}

// rtLeaderCluster returns an n-node cluster whose node 1 leads and has
// committed one proposal.
func rtLeaderCluster(t *testing.T, n int, opts ...func(*Config)) *ctCluster {
	t.Helper()
	c := ctNewCluster(t, n, opts...)
	c.elect(1)
	require.NoError(t, c.propose(1, "a"))
	c.stabilize()
	c.resetCounters()
	return c
}

func rtRS(index uint64, ctx string) ReadState {
	return ReadState{Index: index, RequestCtx: []byte(ctx)}
}

func rtToken(seq uint64) []byte {
	b := make([]byte, 8)
	binary.LittleEndian.PutUint64(b, seq)
	return b
}

// TestReadIndexMinorityLeaderNeverAnswers: a leader cut off with a minority
// never produces a ReadState, whether or not it notices (CheckQuorum), and
// its reads are dropped once it learns of the new term.
func TestReadIndexMinorityLeaderNeverAnswers(t *testing.T) {
	for _, tt := range []struct {
		name        string
		checkQuorum bool
		preVote     bool
	}{
		{"plain", false, false},
		{"checkquorum", true, false},
		{"prevote", false, true},
		{"checkquorum+prevote", true, true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c := rtLeaderCluster(t, 5, func(cfg *Config) { cfg.CheckQuorum = tt.checkQuorum; cfg.PreVote = tt.preVote })
			c.partition([]uint64{1, 2}, []uint64{3, 4, 5})
			c.node(1).rn.ReadIndex([]byte("on-leader"))
			c.node(2).rn.ReadIndex([]byte("on-follower"))
			const electionTimeouts = 5
			c.tickAll(electionTimeouts * c.node(1).cfg.ElectionTick)

			assert.Empty(t, rtTakeReads(c, 1))
			assert.Empty(t, rtTakeReads(c, 2))
			if tt.checkQuorum {
				assert.NotEqual(t, StateLeader, c.node(1).raft().state, "CheckQuorum makes it step down")
			} else {
				assert.Equal(t, StateLeader, c.node(1).raft().state, "still believes it leads, yet answers nothing")
			}
			// The majority elected a leader of its own, which serves reads.
			var lead uint64
			for _, id := range []uint64{3, 4, 5} {
				if c.node(id).raft().state == StateLeader {
					lead = id
				}
			}
			require.NotZero(t, lead, "the majority should have a leader")
			c.node(lead).rn.ReadIndex([]byte("majority"))
			c.stabilize()
			rs := rtTakeReads(c, lead)
			require.Len(t, rs, 1)
			assert.Equal(t, "majority", string(rs[0].RequestCtx))

			c.heal()
			c.tickAll(2 * c.node(1).cfg.ElectionTick)
			assert.NotEqual(t, StateLeader, c.node(1).raft().state)
			for _, id := range []uint64{1, 2} {
				for _, rs := range rtTakeReads(c, id) {
					assert.NotEqual(t, "on-leader", string(rs.RequestCtx))
					assert.NotEqual(t, "on-follower", string(rs.RequestCtx))
				}
			}
		})
	}
}

// TestReadIndexFollowerEchoesContextVerbatim: the heartbeat context belongs
// to the leader. A follower echoes whatever it gets (here a 13-byte context
// an etcd/raft v3.6 leader could send) and the leader ignores tokens it did
// not issue.
func TestReadIndexFollowerEchoesContextVerbatim(t *testing.T) {
	s := ctStorage([]uint64{1, 2, 3}, pb.HardState{Term: 1}, 1)
	r := ctRaft(t, 2, s)
	ctx := []byte("request-13by.")
	require.Len(t, ctx, 13)
	require.NoError(t, r.Step(pb.Message{Type: pb.MsgHeartbeat, From: 1, To: 2, Term: 1, Commit: 1, Context: ctx}))
	msgs := ctTakeMsgs(r)
	require.Len(t, msgs, 1)
	assert.Equal(t, pb.Message{Type: pb.MsgHeartbeatResp, From: 2, To: 1, Term: 1, Context: ctx}, msgs[0])
	for _, other := range [][]byte{nil, rtToken(7), {0}} {
		require.NoError(t, r.Step(pb.Message{Type: pb.MsgHeartbeat, From: 1, To: 2, Term: 1, Context: other}))
		msgs = ctTakeMsgs(r)
		require.Len(t, msgs, 1)
		assert.True(t, bytes.Equal(other, msgs[0].Context), "context %x echoed as %x", other, msgs[0].Context)
	}

	// The leader side: foreign or forged tokens confirm nothing.
	c := rtLeaderCluster(t, 3)
	c.node(1).rn.ReadIndex([]byte("r"))
	c.processReadys()
	rtStash(c)
	for _, bad := range [][]byte{ctx, rtToken(2), rtToken(1 << 40), {1}} {
		for _, from := range []uint64{2, 3} {
			rtStep(c, pb.Message{Type: pb.MsgHeartbeatResp, From: from, To: 1, Term: 1, Context: bad})
		}
		c.processReadys()
		assert.Empty(t, rtTakeReads(c, 1), "context %x", bad)
		rtStash(c)
	}
	rtStep(c, pb.Message{Type: pb.MsgHeartbeatResp, From: 2, To: 1, Term: 1, Context: rtToken(1)})
	c.processReadys()
	assert.Len(t, rtTakeReads(c, 1), 1)
}

// TestReadIndexIgnoresMalformedRequests: a MsgReadIndex must carry exactly
// one entry (the context), and so must the answer.
func TestReadIndexIgnoresMalformedRequests(t *testing.T) {
	bad := [][]pb.Entry{nil, {}, {{Data: []byte("a")}, {Data: []byte("b")}}}
	for _, n := range []int{1, 3} {
		c := rtLeaderCluster(t, n)
		leader := c.node(1).raft()
		for _, ents := range bad {
			require.NoError(t, leader.Step(pb.Message{Type: pb.MsgReadIndex, Entries: ents}))
			if n > 1 {
				require.NoError(t, leader.Step(pb.Message{Type: pb.MsgReadIndex, From: 2, Entries: ents}))
			}
		}
		assert.Empty(t, leader.readStates, "%d nodes", n)
		assert.Empty(t, leader.readOnly.queue, "%d nodes", n)
		assert.False(t, leader.readOnly.hasUnsent(), "%d nodes", n)
		assert.Empty(t, leader.msgs, "%d nodes", n)
	}

	c := rtLeaderCluster(t, 3)
	follower := c.node(2).raft()
	for _, ents := range bad {
		require.NoError(t, follower.Step(pb.Message{Type: pb.MsgReadIndexResp, From: 1, To: 2, Term: 1, Index: 1, Entries: ents}))
	}
	assert.Empty(t, follower.readStates)
}
