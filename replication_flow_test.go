package raft

// Tests of the leader's flow control (MaxInflightMsgs, MaxInflightBytes,
// StateProbe) and of the message size limits.

import (
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	pb "github.com/pontoon-raft/raft/raftpb"
	"github.com/pontoon-raft/raft/tracker"
)

// leaderWithFollowers returns a three-node cluster led by node 1 in which
// every follower is in StateReplicate.
func leaderWithFollowers(t *testing.T, opts ...func(*Config)) *cluster {
	c := newCluster(t, 3, opts...)
	c.elect(1)
	for _, id := range []uint64{2, 3} {
		require.Equal(t, tracker.StateReplicate, c.node(1).raft().trk.Progress[id].State)
	}
	return c
}

// TestFlowControlInflightMsgs: in StateReplicate at most MaxInflightMsgs
// appends are unacknowledged; the flow pauses when the window is full and
// resumes as acknowledgements free it.
func TestFlowControlInflightMsgs(t *testing.T) {
	const window = 3
	c := leaderWithFollowers(t, func(cfg *Config) {
		cfg.MaxInflightMsgs = window
		cfg.MaxSizePerMsg = 0 // one entry per MsgApp
	})
	pr := c.node(1).raft().trk.Progress[2]
	var held []pb.Message
	c.filter = func(m *pb.Message) bool {
		if m.To != 2 || m.Type != pb.MsgApp {
			return true
		}
		// Node 2 hears nothing, so it acknowledges nothing. (Even an empty
		// commit-only append would make it reject and reset the window.)
		if len(m.Entries) > 0 {
			held = append(held, *m)
		}
		return false
	}
	for i := 0; i < 10; i++ {
		require.NoError(t, c.propose(1, fmt.Sprint(i)))
		c.stabilize()
	}
	require.Len(t, held, window)
	for _, m := range held {
		assert.Len(t, m.Entries, 1)
	}
	assert.Equal(t, tracker.StateReplicate, pr.State)
	assert.True(t, pr.IsPaused())
	assert.Equal(t, window, pr.Inflights.Count())

	// Delivering the first append frees one slot when its acknowledgement
	// arrives: exactly one more append goes out.
	first := held[0]
	held = nil
	require.NoError(t, c.node(2).rn.Step(first))
	c.stabilize()
	require.Len(t, held, 1)
	assert.Equal(t, first.Entries[0].Index+window, held[0].Entries[0].Index)
	assert.True(t, pr.IsPaused())

	// Delivering everything drains the backlog.
	c.filter = nil
	c.tick(1)
	c.stabilize()
	c.requireSameLogs(1, 2, 3)
}

// TestFlowControlInflightBytes: MaxInflightBytes pauses the flow once the
// payload in flight reaches it, whatever the message count.
func TestFlowControlInflightBytes(t *testing.T) {
	payload := strings.Repeat("x", 100)
	c := leaderWithFollowers(t, func(cfg *Config) {
		cfg.MaxSizePerMsg = 0
		cfg.MaxInflightBytes = 250
	})
	pr := c.node(1).raft().trk.Progress[2]
	sent := 0
	c.filter = func(m *pb.Message) bool {
		if m.To != 2 || m.Type != pb.MsgApp {
			return true
		}
		if len(m.Entries) > 0 {
			sent++
		}
		return false
	}
	for i := 0; i < 10; i++ {
		require.NoError(t, c.propose(1, payload))
		c.stabilize()
	}
	assert.Equal(t, 3, sent, "100+100 < 250 <= 100+100+100")
	assert.True(t, pr.IsPaused())
}

// TestFlowControlFullWindowHeartbeat: a heartbeat response from a follower
// whose window is full makes the leader send an empty MsgApp, so that a
// window of lost appends is recovered.
func TestFlowControlFullWindowHeartbeat(t *testing.T) {
	c := leaderWithFollowers(t, func(cfg *Config) { cfg.MaxInflightMsgs = 1; cfg.MaxSizePerMsg = 0 })
	l := c.node(1).raft()
	c.isolate(2)
	require.NoError(t, c.propose(1, "a"))
	require.NoError(t, c.propose(1, "b"))
	c.stabilize()
	pr := l.trk.Progress[2]
	require.True(t, pr.Inflights.Full())

	require.NoError(t, c.node(1).rn.Step(pb.Message{Type: pb.MsgHeartbeatResp, From: 2, To: 1, Term: l.Term}))
	msgs := takeMsgs(l)
	require.Len(t, msgs, 1)
	assert.Equal(t, pb.MsgApp, msgs[0].Type)
	assert.Equal(t, uint64(2), msgs[0].To)
	assert.Empty(t, msgs[0].Entries)
}

// TestFlowControlProbe: in StateProbe the leader sends one append and then
// waits; each heartbeat response releases exactly one more.
func TestFlowControlProbe(t *testing.T) {
	c := leaderWithFollowers(t)
	l := c.node(1).raft()
	c.isolate(2)
	c.node(1).rn.ReportUnreachable(2)
	pr := l.trk.Progress[2]
	require.Equal(t, tracker.StateProbe, pr.State)

	count := 0
	c.filter = func(m *pb.Message) bool {
		if m.To == 2 && m.Type == pb.MsgApp && len(m.Entries) > 0 {
			count++
		}
		return true
	}
	for i := 0; i < 5; i++ {
		require.NoError(t, c.propose(1, fmt.Sprint(i)))
		c.stabilize()
	}
	assert.Equal(t, 1, count, "one probe until the follower answers")
	assert.True(t, pr.IsPaused())

	for i := 1; i <= 3; i++ {
		require.NoError(t, c.node(1).rn.Step(pb.Message{Type: pb.MsgHeartbeatResp, From: 2, To: 1, Term: l.Term}))
		c.stabilize()
		assert.Equal(t, 1+i, count, "one append per heartbeat response")
		assert.Equal(t, tracker.StateProbe, pr.State)
	}

	// Once the follower is reachable, an answer moves it to StateReplicate.
	c.heal()
	c.tick(1)
	c.stabilize()
	assert.Equal(t, tracker.StateReplicate, pr.State)
	c.requireSameLogs(1, 2, 3)
}

// TestMaxSizePerMsg: appends are cut at MaxSizePerMsg encoded bytes, but
// always carry at least one entry.
func TestMaxSizePerMsg(t *testing.T) {
	payload := strings.Repeat("x", 100)
	entrySize := uint64((&pb.Entry{Term: 1, Index: 10, Data: []byte(payload)}).Size())
	for _, tt := range []struct {
		maxSize  uint64
		wantMax  int
		wantMsgs int
	}{
		{0, 1, 10},
		{entrySize - 1, 1, 10},
		{entrySize, 1, 10},
		{3 * entrySize, 3, 4},
		{noLimit, 10, 1},
	} {
		t.Run(fmt.Sprint(tt.maxSize), func(t *testing.T) {
			c := leaderWithFollowers(t, func(cfg *Config) { cfg.MaxSizePerMsg = tt.maxSize })
			c.isolate(2)
			for i := 0; i < 10; i++ {
				require.NoError(t, c.propose(1, payload))
			}
			c.stabilize()
			c.heal()
			var apps []pb.Message
			c.filter = func(m *pb.Message) bool {
				if m.To == 2 && m.Type == pb.MsgApp && len(m.Entries) > 0 {
					apps = append(apps, *m)
				}
				return true
			}
			c.tick(1)
			c.stabilize()
			c.requireSameLogs(1, 2)
			require.Len(t, apps, tt.wantMsgs)
			for _, m := range apps {
				assert.LessOrEqual(t, len(m.Entries), tt.wantMax)
				if len(m.Entries) > 1 {
					assert.LessOrEqual(t, entsSize(m.Entries), tt.maxSize)
				}
			}
		})
	}
}

// TestZeroSizeLimits: with MaxSizePerMsg and MaxCommittedSizePerReady both
// zero, every append carries one entry and every Ready one committed entry,
// and the cluster still commits and applies everything (etcd/raft v3.6
// panics here).
func TestZeroSizeLimits(t *testing.T) {
	c := newCluster(t, 3, func(cfg *Config) {
		cfg.MaxSizePerMsg = 0
		cfg.MaxCommittedSizePerReady = 0
	})
	maxCommitted := 0
	c.onReady = func(_ *member, rd Ready) { maxCommitted = max(maxCommitted, len(rd.CommittedEntries)) }
	c.record = true
	c.elect(1)
	var want []string
	for i := 0; i < 20; i++ {
		want = append(want, fmt.Sprint("p", i))
		require.NoError(t, c.propose(1, want[i]))
	}
	c.stabilize()
	for _, id := range c.ids {
		assert.Equal(t, want, c.node(id).appliedData(), "node %d", id)
	}
	assert.Equal(t, 1, maxCommitted)
	for _, m := range msgsOfType(c.delivered, pb.MsgApp) {
		assert.LessOrEqual(t, len(m.Entries), 1)
	}
}

// TestStaleHeartbeatReplyIsNotAProbeSuccess: a node answers a heartbeat of
// an old term with a bare MsgAppResp at its own term (paper Figure 2). If the
// sender has meanwhile become leader of that term, the reply must not read
// as a successful probe of a follower that has nothing: the follower is up
// to date, and moving it back to index 1 would replay the whole log (or
// send a snapshot) for nothing.
func TestStaleHeartbeatReplyIsNotAProbeSuccess(t *testing.T) {
	c := newLeaderCluster(t, 3)
	for i := 0; i < 5; i++ {
		require.NoError(t, c.propose(1, fmt.Sprint("e", i)))
	}
	c.stabilize()
	c.tick(1) // a heartbeat of term 1 to node 2, delayed in the network
	c.processReadys()
	var hb pb.Message
	for _, m := range c.takeQueued() {
		if m.Type == pb.MsgHeartbeat && m.To == 2 {
			hb = m
		}
	}
	require.Equal(t, pb.MsgHeartbeat, hb.Type)

	// Node 1 restarts and wins the election of term 2.
	c.crash(1)
	require.NoError(t, c.node(1).rn.Campaign())
	for c.node(1).raft().state != StateLeader {
		require.True(t, c.processReadys() || c.deliver(), "node 1 must win")
	}
	c.processReadys() // the new leader probes its followers
	require.Equal(t, uint64(2), c.node(1).raft().Term)
	next := c.node(1).raft().trk.Progress[2].Next

	// The old heartbeat reaches node 2 first; its reply reaches node 1
	// before node 2's answer to the probe.
	c.stepOrFail(hb)
	c.processReadys()
	var reply pb.Message
	kept := c.queue[:0]
	for _, m := range c.queue {
		if m.Type == pb.MsgAppResp && m.From == 2 && m.Index == 0 {
			reply = m
			continue
		}
		kept = append(kept, m)
	}
	c.queue = kept
	require.Equal(t, uint64(2), reply.Term, "node 2 answered the stale heartbeat at its term")
	c.stepOrFail(reply)
	pr := c.node(1).raft().trk.Progress[2]
	assert.Equal(t, next, pr.Next, "the reply acknowledged no probe")
	c.processReadys()
	for _, m := range c.queue {
		if m.To == 2 {
			assert.False(t, (m.Type == pb.MsgApp && m.Index == 0) || m.Type == pb.MsgSnap,
				"node 2 is up to date but is sent %s", DescribeMessage(m, nil))
		}
	}
}

// TestAppendsBatchedOnePerFollowerPerReady: while a batched send is due
// (a proposal, or a commit advance, since the last Ready), an
// acknowledgement that lets the leader tell its sender more does not send
// at once: the Ready carries one MsgApp per follower, in ID order, with the
// new entries and the new commit index together. etcd's
// confchange_v2_replace_leader.txt and campaign.txt scripts showed the
// follower whose acknowledgement arrived last getting an extra commit-only
// MsgApp, ahead of the other followers.
func TestAppendsBatchedOnePerFollowerPerReady(t *testing.T) {
	for _, tc := range []struct {
		name        string
		proposeNext bool // a proposal is also pending when the acks arrive
	}{
		{"commit advance only", false},
		{"commit advance and proposal", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := leaderWithFollowers(t)
			leader := c.node(1)
			require.NoError(t, c.propose(1, "a"))
			c.handleReady(leader)
			require.True(t, c.deliver(), "the MsgApps reach the followers")
			for _, id := range []uint64{2, 3} {
				c.handleReady(c.node(id))
			}
			acks := c.queue
			c.queue = nil
			require.Len(t, acks, 2)
			if tc.proposeNext {
				require.NoError(t, c.propose(1, "b"))
			}
			// Node 2's ack commits "a"; node 3's arrives after it.
			for _, m := range acks {
				require.NoError(t, leader.rn.Step(m))
			}

			rd := leader.rn.Ready()
			apps := msgsOfType(rd.Messages, pb.MsgApp)
			require.Len(t, apps, 2, "one MsgApp per follower: %v", apps)
			for i, id := range []uint64{2, 3} {
				m := apps[i]
				assert.Equal(t, id, m.To)
				assert.Equal(t, leader.raft().raftLog.committed, m.Commit)
				if tc.proposeNext {
					assert.Equal(t, []string{"b"}, payloads(m.Entries))
				} else {
					assert.Empty(t, m.Entries)
				}
			}
		})
	}
}
