package raft

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	pb "github.com/pontoon-raft/raft/raftpb"
)

// The leader's Propose reuses one entry buffer, and the Ready loop reuses
// the array of self-addressed acknowledgements. Neither may leak into what
// the application holds: entries and messages from an earlier Ready keep
// their contents when later proposals reuse the buffers.
func TestProposeBufferReuseDoesNotAliasHandedOutEntries(t *testing.T) {
	s := newTestStorage(votersConf(1, 2), pb.HardState{})
	rn, err := NewRawNode(testConfig(1, s))
	require.NoError(t, err)
	require.NoError(t, rn.Campaign())
	for rn.HasReady() {
		rd := rn.Ready()
		require.NoError(t, s.Append(rd.Entries))
		rn.Advance(rd)
	}
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
	rn, err := NewRawNode(testConfig(1, s))
	require.NoError(t, err)
	require.NoError(t, rn.Step(pb.Message{From: 2, To: 1, Type: pb.MsgHeartbeat, Term: 2}))
	require.Equal(t, uint64(2), rn.raft.lead)

	require.NoError(t, rn.Propose([]byte("a")))
	require.NoError(t, rn.Propose([]byte("b")))
	props := msgsOfType(rn.Ready().Messages, pb.MsgProp)
	require.Len(t, props, 2)
	assert.Equal(t, "a", string(props[0].Entries[0].Data))
	assert.Equal(t, "b", string(props[1].Entries[0].Data))
}
