package raft

// Tests of proposals: when they are dropped, forwarding to the leader, and
// proposals from nodes outside the configuration.

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	pb "github.com/pontoon-raft/raft/raftpb"
)

// assertDropped checks that err is ErrProposalDropped and names its cause.
func assertDropped(t *testing.T, err error, cause string) {
	t.Helper()
	assert.ErrorIs(t, err, ErrProposalDropped)
	if assert.Error(t, err) {
		assert.Contains(t, err.Error(), cause)
	}
}

// TestProposalDropped checks every case in which a proposal is refused with
// ErrProposalDropped, and that the error says which.
func TestProposalDropped(t *testing.T) {
	t.Run("follower without leader", func(t *testing.T) {
		c := newCluster(t, 3)
		assertDropped(t, c.propose(2, "x"), "no leader")
	})
	t.Run("candidate", func(t *testing.T) {
		c := newCluster(t, 3)
		c.isolate(1)
		c.campaign(1)
		require.Equal(t, StateCandidate, c.node(1).raft().state)
		assertDropped(t, c.propose(1, "x"), "no leader")
	})
	t.Run("pre-candidate", func(t *testing.T) {
		c := newCluster(t, 3, func(cfg *Config) { cfg.PreVote = true })
		c.isolate(1)
		c.campaign(1)
		require.Equal(t, StatePreCandidate, c.node(1).raft().state)
		assertDropped(t, c.propose(1, "x"), "no leader")
	})
	t.Run("forwarding disabled", func(t *testing.T) {
		c := newCluster(t, 3, func(cfg *Config) { cfg.DisableProposalForwarding = true })
		c.elect(1)
		assertDropped(t, c.propose(2, "x"), "forwarding is disabled")
		assert.NoError(t, c.propose(1, "y"), "the leader itself still accepts")
	})
	t.Run("leader transfer in progress", func(t *testing.T) {
		c := newCluster(t, 3)
		c.elect(1)
		c.isolate(3)
		require.NoError(t, c.propose(1, "a"))
		c.stabilize()
		c.node(1).rn.TransferLeader(3) // 3 lags: the transfer waits
		require.Equal(t, uint64(3), c.node(1).rn.BasicStatus().LeadTransferee)
		assertDropped(t, c.propose(1, "x"), "leadership transfer to 3 is in progress")
		// Forwarded proposals are dropped by the leader too.
		c.record = true
		require.NoError(t, c.propose(2, "y"))
		c.stabilize()
		require.NotEmpty(t, c.stepErrs)
		assert.ErrorIs(t, c.stepErrs[len(c.stepErrs)-1], ErrProposalDropped)
		assert.NotContains(t, c.node(1).appliedData(), "y")
	})
	t.Run("uncommitted size limit", func(t *testing.T) {
		c := newCluster(t, 3, func(cfg *Config) { cfg.MaxUncommittedEntriesSize = 100 })
		c.elect(1)
		c.isolate(1) // nothing commits
		big := strings.Repeat("x", 60)
		require.NoError(t, c.propose(1, big))
		assertDropped(t, c.propose(1, big), "MaxUncommittedEntriesSize") // 60+60 > 100
		require.NoError(t, c.propose(1, big[:40]), "60+40 fits")
		assert.ErrorIs(t, c.propose(1, "y"), ErrProposalDropped)
		// Committing and applying releases the budget.
		c.heal()
		c.stabilize()
		c.tick(1)
		c.stabilize()
		require.Equal(t, []string{big, big[:40]}, c.node(1).appliedData())
		assert.NoError(t, c.propose(1, big))
	})
	t.Run("oversized single proposal is accepted when nothing is uncommitted", func(t *testing.T) {
		c := newCluster(t, 3, func(cfg *Config) { cfg.MaxUncommittedEntriesSize = 10 })
		c.elect(1)
		assert.NoError(t, c.propose(1, strings.Repeat("x", 50)))
	})
}

// TestProposalForwarding: a follower forwards a proposal to the leader as a
// MsgProp with Term 0, as forwarded local requests are sent, and the entry commits everywhere.
func TestProposalForwarding(t *testing.T) {
	c := newCluster(t, 3)
	c.elect(1)
	c.record = true
	require.NoError(t, c.propose(3, "fwd"))
	c.stabilize()
	props := msgsOfType(c.delivered, pb.MsgProp)
	require.Len(t, props, 1)
	assert.Equal(t, uint64(3), props[0].From)
	assert.Equal(t, uint64(1), props[0].To)
	assert.Equal(t, uint64(0), props[0].Term)
	require.Len(t, props[0].Entries, 1)
	for _, id := range c.ids {
		assert.Equal(t, []string{"fwd"}, c.node(id).appliedData(), "node %d", id)
	}
}

// TestLeaderAcceptsProposalFromNonMember: leaders accept MsgProp from any
// sender, member or not.
func TestLeaderAcceptsProposalFromNonMember(t *testing.T) {
	c := newCluster(t, 3)
	c.elect(1)
	require.NoError(t, c.node(1).rn.Step(pb.Message{Type: pb.MsgProp, From: 42, To: 1,
		Entries: []pb.Entry{{Data: []byte("from-42")}}}))
	c.stabilize()
	assert.Equal(t, []string{"from-42"}, c.node(2).appliedData())
}

// The leader's Propose reuses one entry buffer, and the Ready loop reuses
// the array of self-addressed acknowledgements. Neither may leak into what
// the application holds: entries and messages from an earlier Ready keep
// their contents when later proposals reuse the buffers.
func TestProposeBufferReuseDoesNotAliasHandedOutEntries(t *testing.T) {
	s := newTestStorage(votersConf(1, 2), pb.HardState{})
	rn := newTestRawNode(t, 1, s)
	require.NoError(t, rn.Campaign())
	drain(t, rn, s)
	// Node 2 votes; 1 becomes leader.
	require.NoError(t, rn.Step(pb.Message{From: 2, To: 1, Type: pb.MsgVoteResp, Term: rn.raft.Term}))
	require.Equal(t, StateLeader, rn.raft.state)

	require.NoError(t, rn.Propose([]byte("first")))
	rd1 := rn.Ready()
	require.NoError(t, s.Append(rd1.Entries))
	rn.Advance(rd1)
	// Node 2 has everything so far and is replicating.
	last := rd1.Entries[len(rd1.Entries)-1].Index
	require.NoError(t, rn.Step(pb.Message{From: 2, To: 1, Type: pb.MsgAppResp, Term: rn.raft.Term, Index: last}))
	require.NoError(t, rn.Propose([]byte("second")))
	require.NoError(t, rn.Propose([]byte("third")))
	rd2 := rn.Ready()

	last1 := rd1.Entries[len(rd1.Entries)-1]
	assert.Equal(t, "first", string(last1.Data), "entry handed out in the first Ready changed")
	require.Len(t, rd2.Entries, 2)
	assert.Equal(t, "second", string(rd2.Entries[0].Data))
	assert.Equal(t, "third", string(rd2.Entries[1].Data))
	assert.Equal(t, last1.Index+1, rd2.Entries[0].Index)

	// The MsgApp to node 2 carries its own copies of the entries.
	apps := msgsOfType(rd2.Messages, pb.MsgApp)
	require.NotEmpty(t, apps)
	var sent []string
	for _, m := range apps {
		for _, e := range m.Entries {
			sent = append(sent, string(e.Data))
		}
	}
	assert.Contains(t, sent, "third")
}

// A follower forwards a proposal as a message: each forwarded message keeps
// its own entry after later proposals.
func TestFollowerProposalsForwardedWithOwnEntries(t *testing.T) {
	s := newTestStorage(votersConf(1, 2), pb.HardState{})
	rn := newTestRawNode(t, 1, s)
	require.NoError(t, rn.Step(pb.Message{From: 2, To: 1, Type: pb.MsgHeartbeat, Term: 2}))
	require.Equal(t, uint64(2), rn.raft.lead)

	require.NoError(t, rn.Propose([]byte("a")))
	require.NoError(t, rn.Propose([]byte("b")))
	props := msgsOfType(rn.Ready().Messages, pb.MsgProp)
	require.Len(t, props, 2)
	assert.Equal(t, "a", string(props[0].Entries[0].Data))
	assert.Equal(t, "b", string(props[1].Entries[0].Data))
}
