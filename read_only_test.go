package raft

// ReadIndex (thesis §6.4) where a script cannot say it: a leader cut off with
// a minority under four configurations, heartbeat contexts a follower echoes
// and tokens a leader did not issue, malformed requests, and a sole voter's
// read after a restart that lost its commit index. The scenarios are in
// testdata/read_index_*.txt; the lease is in lease_test.go and
// testdata/read_lease.txt.

import (
	"bytes"
	"encoding/binary"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	pb "github.com/pontoon-raft/raft/raftpb"
)

// readState is the ReadState of a read made with context ctx and answered
// at index.
func readState(index uint64, ctx string) ReadState {
	return ReadState{Index: index, RequestCtx: []byte(ctx)}
}

// readToken is the heartbeat context a leader sends with its seq-th read
// round.
func readToken(seq uint64) []byte {
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
			c := newLeaderCluster(t, 5, func(cfg *Config) { cfg.CheckQuorum = tt.checkQuorum; cfg.PreVote = tt.preVote })
			c.partition([]uint64{1, 2}, []uint64{3, 4, 5})
			c.node(1).rn.ReadIndex([]byte("on-leader"))
			c.node(2).rn.ReadIndex([]byte("on-follower"))
			const electionTimeouts = 5
			c.tickAll(electionTimeouts * c.node(1).cfg.ElectionTick)

			assert.Empty(t, c.takeReadStates(1))
			assert.Empty(t, c.takeReadStates(2))
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
			rs := c.takeReadStates(lead)
			require.Len(t, rs, 1)
			assert.Equal(t, "majority", string(rs[0].RequestCtx))

			c.heal()
			c.tickAll(2 * c.node(1).cfg.ElectionTick)
			assert.NotEqual(t, StateLeader, c.node(1).raft().state)
			for _, id := range []uint64{1, 2} {
				for _, rs := range c.takeReadStates(id) {
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
	s := newTestStorage(votersConf(1, 2, 3), pb.HardState{Term: 1}, 1)
	r := newTestRaft(t, 2, s)
	ctx := []byte("request-13by.")
	require.Len(t, ctx, 13)
	require.NoError(t, r.Step(pb.Message{Type: pb.MsgHeartbeat, From: 1, To: 2, Term: 1, Commit: 1, Context: ctx}))
	msgs := takeMsgs(r)
	require.Len(t, msgs, 1)
	assert.Equal(t, pb.Message{Type: pb.MsgHeartbeatResp, From: 2, To: 1, Term: 1, Context: ctx}, msgs[0])
	for _, other := range [][]byte{nil, readToken(7), {0}} {
		require.NoError(t, r.Step(pb.Message{Type: pb.MsgHeartbeat, From: 1, To: 2, Term: 1, Context: other}))
		msgs = takeMsgs(r)
		require.Len(t, msgs, 1)
		assert.True(t, bytes.Equal(other, msgs[0].Context), "context %x echoed as %x", other, msgs[0].Context)
	}

	// The leader side: foreign or forged tokens confirm nothing.
	c := newLeaderCluster(t, 3)
	c.node(1).rn.ReadIndex([]byte("r"))
	c.processReadys()
	c.takeQueued()
	for _, bad := range [][]byte{ctx, readToken(2), readToken(1 << 40), {1}} {
		for _, from := range []uint64{2, 3} {
			c.stepOrFail(pb.Message{Type: pb.MsgHeartbeatResp, From: from, To: 1, Term: 1, Context: bad})
		}
		c.processReadys()
		assert.Empty(t, c.takeReadStates(1), "context %x", bad)
		c.takeQueued()
	}
	c.stepOrFail(pb.Message{Type: pb.MsgHeartbeatResp, From: 2, To: 1, Term: 1, Context: readToken(1)})
	c.processReadys()
	assert.Len(t, c.takeReadStates(1), 1)
}

// TestReadIndexIgnoresMalformedRequests: a MsgReadIndex must carry exactly
// one entry (the context), and so must the answer.
func TestReadIndexIgnoresMalformedRequests(t *testing.T) {
	bad := [][]pb.Entry{nil, {}, {{Data: []byte("a")}, {Data: []byte("b")}}}
	for _, n := range []int{1, 3} {
		c := newLeaderCluster(t, n)
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

	c := newLeaderCluster(t, 3)
	follower := c.node(2).raft()
	for _, ents := range bad {
		require.NoError(t, follower.Step(pb.Message{Type: pb.MsgReadIndexResp, From: 1, To: 2, Term: 1, Index: 1, Entries: ents}))
	}
	assert.Empty(t, follower.readStates)
}

// TestSingleVoterReadAfterRestartWaitsForItsTerm: with asynchronous storage
// writes an entry may be applied, and its client answered, before the
// HardState recording its commit is durable. A sole voter that crashes
// then restarts with a commit index below that entry. Before the fix it
// answered ReadIndex at once with that stale commit index, so the read
// missed an acknowledged write; like any new leader it must first commit
// an entry of its own term.
func TestSingleVoterReadAfterRestartWaitsForItsTerm(t *testing.T) {
	s := newTestStorage(votersConf(1), pb.HardState{Term: 1, Commit: 1}, 1)
	rn := newTestRawNode(t, 1, s, asyncStorage, appliedAt(1))
	require.NoError(t, rn.Campaign())
	drain(t, rn, s)
	require.Equal(t, StateLeader, rn.raft.state)

	require.NoError(t, rn.Propose([]byte("x")))
	_, app, _, _ := takeAsyncReady(t, rn)
	require.NotNil(t, app)
	runAppend(t, rn, s, *app)
	_, _, apply, _ := takeAsyncReady(t, rn)
	require.NotNil(t, apply, "the write is committed and handed to the apply thread")
	written := apply.Entries[len(apply.Entries)-1].Index
	// The apply thread applies it and the client is answered; the node
	// crashes before the append thread writes the new commit index.
	hs, _, err := s.InitialState()
	require.NoError(t, err)
	require.Less(t, hs.Commit, written)

	rn = newTestRawNode(t, 1, s, asyncStorage, appliedAt(hs.Commit))
	require.NoError(t, rn.Campaign())
	_, app, _, _ = takeAsyncReady(t, rn)
	require.NotNil(t, app)
	runAppend(t, rn, s, *app)
	require.Equal(t, StateLeader, rn.raft.state)

	rn.ReadIndex([]byte("after restart"))
	var reads []ReadState
	for i := 0; rn.HasReady(); i++ {
		require.Less(t, i, 100)
		rd, app, apply, _ := takeAsyncReady(t, rn)
		reads = append(reads, rd.ReadStates...)
		if app != nil {
			runAppend(t, rn, s, *app)
		}
		if apply != nil {
			stepResponses(t, rn, apply.Responses)
		}
	}
	require.Len(t, reads, 1)
	assert.GreaterOrEqual(t, reads[0].Index, written, "the read must see the acknowledged write")
}
