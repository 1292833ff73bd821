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

// TestReadIndexSafeNeedsQuorumAndUsesRequestCommit: the leader answers only
// once a quorum (itself included) echoed the heartbeat of the request, and
// answers with its commit index of the time of the request, even if the
// commit index moved since.
func TestReadIndexSafeNeedsQuorumAndUsesRequestCommit(t *testing.T) {
	c := rtLeaderCluster(t, 5)
	commit := c.node(1).raft().raftLog.committed

	c.node(1).rn.ReadIndex([]byte("r"))
	c.processReadys()
	hbs := rtPick(rtStash(c), pb.MsgHeartbeat, None)
	require.Len(t, hbs, 4)
	for _, hb := range hbs {
		assert.Equal(t, rtToken(1), hb.Context, "the first read of this node carries token 1")
	}
	assert.Empty(t, rtTakeReads(c, 1))

	// The commit index moves on before leadership is confirmed.
	require.NoError(t, c.propose(1, "b"))
	c.stabilize()
	require.Equal(t, commit+1, c.node(1).raft().raftLog.committed)
	assert.Empty(t, rtTakeReads(c, 1))

	rtRoundTrip(c, hbs[0]) // 2 acks: {1, 2} is not a quorum of 5
	assert.Empty(t, rtTakeReads(c, 1))
	rtRoundTrip(c, hbs[1]) // 3 acks: {1, 2, 3}
	assert.Equal(t, []ReadState{rtRS(commit, "r")}, rtTakeReads(c, 1))
	rtRoundTrip(c, hbs[2:]...)
	c.stabilize()
	assert.Empty(t, rtTakeReads(c, 1), "late acks answer nothing more")
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

// TestReadIndexDeferredUntilFirstCommitOfTerm: a new leader does not know
// the cluster's commit index until it commits an entry of its own term
// (thesis §6.4). Reads arriving before that, its own and forwarded ones,
// wait and are then answered in order with the new commit index.
func TestReadIndexDeferredUntilFirstCommitOfTerm(t *testing.T) {
	for _, option := range []ReadOnlyOption{ReadOnlySafe, ReadOnlyLeaseBased} {
		t.Run([]string{"safe", "lease"}[option], func(t *testing.T) {
			c := ctNewCluster(t, 3, func(cfg *Config) { cfg.CheckQuorum = true; cfg.ReadOnlyOption = option })
			require.NoError(t, c.node(1).rn.Campaign())
			c.processReadys()
			c.deliver() // vote requests
			c.processReadys()
			c.deliver() // grants
			leader := c.node(1).raft()
			require.Equal(t, StateLeader, leader.state)
			require.False(t, leader.committedEntryInCurrentTerm())

			c.node(1).rn.ReadIndex([]byte("a1"))
			c.node(1).rn.ReadIndex([]byte("a2"))
			assert.Len(t, leader.pendingReadIndexMessages, 2)
			c.processReadys() // the leader's MsgApp of its empty entry
			assert.Zero(t, c.sent[pb.MsgHeartbeat], "no confirmation round for deferred reads")
			apps := rtStash(c)
			require.Len(t, rtPick(apps, pb.MsgApp, None), 2)
			require.Len(t, apps, 2)
			for _, m := range apps {
				rtStep(c, m)
			}
			// Follower 2 now knows the leader; its read reaches the leader
			// before its acknowledgement does.
			c.node(2).rn.ReadIndex([]byte("b"))
			c.processReadys()
			require.Equal(t, pb.MsgReadIndex, c.queue[0].Type)
			rtStep(c, c.queue[0])
			c.queue = c.queue[1:]
			assert.Len(t, leader.pendingReadIndexMessages, 3)
			assert.Empty(t, rtTakeReads(c, 1))

			c.stabilize()
			require.True(t, leader.committedEntryInCurrentTerm())
			commit := leader.raftLog.committed
			require.Equal(t, uint64(1), commit, "the new leader's empty entry")
			assert.Empty(t, leader.pendingReadIndexMessages)
			c.node(1).rn.ReadIndex([]byte("a3"))
			c.stabilize()
			assert.Equal(t, []ReadState{rtRS(commit, "a1"), rtRS(commit, "a2"), rtRS(commit, "a3")}, rtTakeReads(c, 1))
			assert.Equal(t, []ReadState{rtRS(commit, "b")}, rtTakeReads(c, 2))
		})
	}
}

// TestReadIndexFollowerRead: a follower forwards MsgReadIndex (term 0, its
// context in the only entry) and turns the leader's MsgReadIndexResp into a
// ReadState with its own context.
func TestReadIndexFollowerRead(t *testing.T) {
	c := rtLeaderCluster(t, 3)
	commit := c.node(1).raft().raftLog.committed
	c.record = true
	c.node(3).rn.ReadIndex([]byte("from-3"))
	c.stabilize()
	assert.Equal(t, []ReadState{rtRS(commit, "from-3")}, rtTakeReads(c, 3))
	assert.Empty(t, rtTakeReads(c, 1), "the leader gets no ReadState for a forwarded read")

	reqs := rtPick(c.delivered, pb.MsgReadIndex, None)
	require.Len(t, reqs, 1)
	assert.Equal(t, pb.Message{Type: pb.MsgReadIndex, From: 3, To: 1, Term: 0,
		Entries: []pb.Entry{{Data: []byte("from-3")}}}, reqs[0])
	resps := rtPick(c.delivered, pb.MsgReadIndexResp, None)
	require.Len(t, resps, 1)
	assert.Equal(t, pb.Message{Type: pb.MsgReadIndexResp, From: 1, To: 3, Term: 1, Index: commit,
		Entries: []pb.Entry{{Data: []byte("from-3")}}}, resps[0])

	// Without a known leader the request is dropped.
	c2 := ctNewCluster(t, 3)
	c2.node(2).rn.ReadIndex([]byte("nobody"))
	assert.False(t, c2.node(2).rn.HasReady())
	c2.elect(1)
	assert.Empty(t, rtTakeReads(c2, 2))
}

// TestReadIndexResultsInRequestOrder: reads confirmed by a later round are
// answered together with the earlier ones, in the order they were made.
func TestReadIndexResultsInRequestOrder(t *testing.T) {
	c := rtLeaderCluster(t, 3)
	commit := c.node(1).raft().raftLog.committed
	for _, ctx := range []string{"r1", "r2", "r3"} {
		c.node(1).rn.ReadIndex([]byte(ctx))
	}
	c.processReadys()
	round1 := rtStash(c)
	require.Len(t, rtPick(round1, pb.MsgHeartbeat, None), 2)

	require.NoError(t, c.propose(1, "b"))
	c.stabilize()
	commit2 := c.node(1).raft().raftLog.committed
	require.Equal(t, commit+1, commit2)
	for _, ctx := range []string{"r4", "r5"} {
		c.node(1).rn.ReadIndex([]byte(ctx))
	}
	c.processReadys()
	round2 := rtStash(c)
	require.Len(t, rtPick(round2, pb.MsgHeartbeat, None), 2)
	assert.Equal(t, rtToken(5), round2[0].Context, "the round carries the newest token")

	// Round 2 is acknowledged first: it confirms every earlier read too.
	rtRoundTrip(c, round2[0])
	assert.Equal(t, []ReadState{rtRS(commit, "r1"), rtRS(commit, "r2"), rtRS(commit, "r3"),
		rtRS(commit2, "r4"), rtRS(commit2, "r5")}, rtTakeReads(c, 1))
	rtRoundTrip(c, round1...)
	rtRoundTrip(c, round2[1:]...)
	c.stabilize()
	assert.Empty(t, rtTakeReads(c, 1))
}

// TestReadIndexOneRoundPerReady: any number of reads made between two Ready
// calls share one heartbeat round; a read made later starts another.
func TestReadIndexOneRoundPerReady(t *testing.T) {
	c := rtLeaderCluster(t, 5)
	for i := 0; i < 10; i++ {
		c.node(1).rn.ReadIndex([]byte{byte('a' + i)})
		c.node(2).rn.ReadIndex([]byte{byte('A' + i)})
	}
	assert.Zero(t, c.sent[pb.MsgHeartbeat], "nothing goes out before the Ready")
	c.processReadys()
	c.deliver() // 2's forwarded reads reach the leader, which registers them
	c.processReadys()
	assert.Equal(t, 8, c.sent[pb.MsgHeartbeat], "one round for the leader's reads, one for the forwarded ones")
	c.stabilize()
	assert.Equal(t, 8, c.sent[pb.MsgHeartbeat])
	assert.Len(t, rtTakeReads(c, 1), 10)
	assert.Len(t, rtTakeReads(c, 2), 10)

	c.node(1).rn.ReadIndex([]byte("later"))
	c.stabilize()
	assert.Equal(t, 12, c.sent[pb.MsgHeartbeat])
	assert.Len(t, rtTakeReads(c, 1), 1)
}

// TestReadIndexEqualAndEmptyContexts: every request gets its own answer,
// whatever its context; none is merged with another.
func TestReadIndexEqualAndEmptyContexts(t *testing.T) {
	c := rtLeaderCluster(t, 3)
	commit := c.node(1).raft().raftLog.committed
	rn := c.node(1).rn
	rn.ReadIndex([]byte("same"))
	rn.ReadIndex([]byte("same"))
	rn.ReadIndex(nil)
	rn.ReadIndex(nil)
	rn.ReadIndex([]byte{})
	c.stabilize()
	got := rtTakeReads(c, 1)
	require.Len(t, got, 5)
	for i, want := range []string{"same", "same", "", "", ""} {
		assert.Equal(t, commit, got[i].Index)
		assert.Equal(t, want, string(got[i].RequestCtx), "read %d", i)
	}

	// The same context in two separate rounds.
	rn.ReadIndex([]byte("x"))
	c.stabilize()
	rn.ReadIndex([]byte("x"))
	c.stabilize()
	assert.Equal(t, []ReadState{rtRS(commit, "x"), rtRS(commit, "x")}, rtTakeReads(c, 1))

	// Follower reads with equal and empty contexts.
	c.node(2).rn.ReadIndex(nil)
	c.node(2).rn.ReadIndex(nil)
	c.node(3).rn.ReadIndex(nil)
	c.stabilize()
	assert.Len(t, rtTakeReads(c, 2), 2)
	assert.Len(t, rtTakeReads(c, 3), 1)
}

// TestReadIndexStaleAckDoesNotConfirmNewerRequest builds the scenario of
// etcd-io/etcd#20418: request A is made and its heartbeat round sent; then
// request B with the same context; the leader is partitioned away, and the
// followers' acknowledgements of A's round arrive late. They prove
// leadership at the time of A only, so B must not be answered.
func TestReadIndexStaleAckDoesNotConfirmNewerRequest(t *testing.T) {
	for _, ctx := range [][]byte{[]byte("same"), nil} {
		t.Run(string(ctx), func(t *testing.T) {
			c := rtLeaderCluster(t, 3)
			commit := c.node(1).raft().raftLog.committed
			c.node(1).rn.ReadIndex(ctx) // A
			c.processReadys()
			c.deliver() // A's round reaches 2 and 3
			c.processReadys()
			acksForA := rtPick(rtStash(c), pb.MsgHeartbeatResp, 1)
			require.Len(t, acksForA, 2)

			c.node(1).rn.ReadIndex(ctx) // B
			c.isolate(1)
			c.processReadys() // B's round is lost
			require.Equal(t, 2, c.dropped[pb.MsgHeartbeat])

			for _, ack := range acksForA {
				rtStep(c, ack)
				c.processReadys()
			}
			got := rtTakeReads(c, 1)
			require.Len(t, got, 1, "only A is answered")
			assert.Equal(t, commit, got[0].Index)
			for i := 0; i < 3*c.node(1).cfg.ElectionTick; i++ {
				c.tick(1)
				c.stabilize()
			}
			assert.Equal(t, StateLeader, c.node(1).raft().state)
			assert.Empty(t, rtTakeReads(c, 1), "B is never answered while partitioned")
			assert.Len(t, c.node(1).raft().readOnly.queue, 1)
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

// TestReadIndexSingleVoter: a sole voter answers at once, before any Ready,
// without a round: nobody else can have been elected. Learners don't count.
func TestReadIndexSingleVoter(t *testing.T) {
	s1 := NewMemoryStorage()
	s1.snapshot.Metadata.ConfState = pb.ConfState{Voters: []uint64{1}, Learners: []uint64{2}}
	s2 := NewMemoryStorage()
	s2.snapshot.Metadata.ConfState = pb.ConfState{Voters: []uint64{1}, Learners: []uint64{2}}
	c := ctNewClusterFromStorage(t, map[uint64]*MemoryStorage{1: s1, 2: s2})
	c.elect(1)
	require.NoError(t, c.propose(1, "a"))
	c.stabilize()
	commit := c.node(1).raft().raftLog.committed
	c.resetCounters()

	c.node(1).rn.ReadIndex([]byte("now"))
	assert.Equal(t, []ReadState{rtRS(commit, "now")}, c.node(1).raft().readStates)
	rd := c.node(1).rn.Ready()
	assert.Equal(t, []ReadState{rtRS(commit, "now")}, rd.ReadStates)
	assert.Empty(t, rd.Messages)
	c.node(1).rn.Advance(rd)

	// The learner's read is forwarded and answered at once as well.
	c.node(2).rn.ReadIndex([]byte("learner"))
	c.stabilize()
	assert.Equal(t, []ReadState{rtRS(commit, "learner")}, rtTakeReads(c, 2))
	assert.Zero(t, c.sent[pb.MsgHeartbeat])
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

// TestReadIndexLeaseBased: with ReadOnlyLeaseBased the leader answers from
// its lease, at once and without a heartbeat round, once a quorum answered
// a heartbeat round; the option requires CheckQuorum.
func TestReadIndexLeaseBased(t *testing.T) {
	c := rtLeaderCluster(t, 3, func(cfg *Config) { cfg.CheckQuorum = true; cfg.ReadOnlyOption = ReadOnlyLeaseBased })
	// The periodic heartbeat round, acknowledged, gives the lease.
	c.tick(1)
	c.stabilize()
	c.resetCounters()
	commit := c.node(1).raft().raftLog.committed
	c.node(1).rn.ReadIndex([]byte("lease"))
	assert.Equal(t, []ReadState{rtRS(commit, "lease")}, c.node(1).raft().readStates, "answered inside ReadIndex")
	c.node(3).rn.ReadIndex([]byte("follower"))
	c.stabilize()
	assert.Equal(t, []ReadState{rtRS(commit, "lease")}, rtTakeReads(c, 1))
	assert.Equal(t, []ReadState{rtRS(commit, "follower")}, rtTakeReads(c, 3))
	assert.Zero(t, c.sent[pb.MsgHeartbeat])

	cfg := ctConfig(1, ctStorage([]uint64{1}, pb.HardState{}))
	cfg.ReadOnlyOption = ReadOnlyLeaseBased
	_, err := NewRawNode(cfg)
	assert.ErrorIs(t, err, ErrInvalidConfig)
	cfg = ctConfig(1, ctStorage([]uint64{1}, pb.HardState{}))
	cfg.ReadOnlyOption = ReadOnlyOption(7)
	_, err = NewRawNode(cfg)
	assert.ErrorIs(t, err, ErrInvalidConfig)
}

// TestReadIndexAsyncStorageWrites: reads work the same when the log is
// written asynchronously, on the leader and on followers. A candidate drops
// reads: it knows no leader to confirm them.
func TestReadIndexAsyncStorageWrites(t *testing.T) {
	for _, size := range []int{1, 3} {
		c := ctNewCluster(t, size, func(cfg *Config) { cfg.AsyncStorageWrites = true })
		require.NoError(t, c.node(1).rn.Campaign())
		require.Equal(t, StateCandidate, c.node(1).raft().state, "its own vote is not durable yet")
		c.node(1).rn.ReadIndex([]byte("dropped"))
		c.stabilize()
		require.Equal(t, []uint64{1}, c.leaders())
		require.NoError(t, c.propose(1, "a"))
		c.stabilize()
		commit := c.node(1).raft().raftLog.committed
		c.node(1).rn.ReadIndex([]byte("leader"))
		c.node(uint64(size)).rn.ReadIndex([]byte("last"))
		c.stabilize()
		got := rtTakeReads(c, 1)
		if size == 1 {
			assert.Equal(t, []ReadState{rtRS(commit, "leader"), rtRS(commit, "last")}, got)
			continue
		}
		assert.Equal(t, []ReadState{rtRS(commit, "leader")}, got)
		assert.Equal(t, []ReadState{rtRS(commit, "last")}, rtTakeReads(c, 3))
	}
}

// TestReadIndexPeriodicHeartbeatCarriesPendingReads: a heartbeat round that
// goes out on a tick carries the newest read token, so reads made before it
// need no extra round when the next Ready is collected.
func TestReadIndexPeriodicHeartbeatCarriesPendingReads(t *testing.T) {
	c := rtLeaderCluster(t, 5)
	for i := 0; i < 3; i++ {
		c.node(1).rn.ReadIndex([]byte{byte('a' + i)})
	}
	for i := 0; i < c.node(1).cfg.HeartbeatTick; i++ {
		c.tick(1)
	}
	c.processReadys()
	hbs := rtPick(c.queue, pb.MsgHeartbeat, None)
	require.Len(t, hbs, 4, "one round, not the tick's and another")
	for _, hb := range hbs {
		assert.Equal(t, rtToken(3), hb.Context)
	}
	c.stabilize()
	assert.Len(t, rtTakeReads(c, 1), 3)
	assert.Equal(t, 4, c.sent[pb.MsgHeartbeat])
}
