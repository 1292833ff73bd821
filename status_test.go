package raft

// Tests of Status and BasicStatus, and of their JSON form.

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	pb "github.com/pontoon-raft/raft/raftpb"
	"github.com/pontoon-raft/raft/tracker"
)

func TestStatusOfLeaderAndFollower(t *testing.T) {
	c := newCluster(t, 3)
	c.elect(1)
	require.NoError(t, c.propose(1, "a"))
	c.stabilize()
	last := c.node(1).raft().raftLog.lastIndex()
	require.Equal(t, uint64(2), last)

	st := c.node(1).rn.Status()
	assert.Equal(t, uint64(1), st.ID)
	assert.Equal(t, pb.HardState{Term: 1, Vote: 1, Commit: last}, st.HardState)
	assert.Equal(t, SoftState{Lead: 1, RaftState: StateLeader}, st.SoftState)
	assert.Equal(t, last, st.Applied)
	assert.Equal(t, None, st.LeadTransferee)
	assert.Equal(t, []uint64{1, 2, 3}, st.Config.Voters[0].Slice())
	require.Len(t, st.Progress, 3)
	for id := uint64(1); id <= 3; id++ {
		pr := st.Progress[id]
		assert.Equal(t, last, pr.Match, "node %d", id)
		assert.Equal(t, last+1, pr.Next, "node %d", id)
		assert.Equal(t, tracker.StateReplicate, pr.State, "node %d", id)
		require.NotNil(t, pr.Inflights, "node %d", id)
	}
	// BasicStatus is the same without the allocations.
	assert.Equal(t, st.BasicStatus, c.node(1).rn.BasicStatus())

	// The progress map is a copy: changing it changes nothing in the node.
	pr := st.Progress[2]
	pr.Match = 0
	pr.Inflights.Add(100, 1)
	st.Progress[2] = pr
	assert.Equal(t, last, c.node(1).raft().trk.Progress[2].Match)
	assert.Zero(t, c.node(1).raft().trk.Progress[2].Inflights.Count())
	st.Config.Voters[0][9] = struct{}{}
	assert.NotContains(t, c.node(1).raft().trk.Voters[0], uint64(9))

	// WithProgress visits the same members, without their Inflights.
	visited := map[uint64]ProgressType{}
	c.node(1).rn.WithProgress(func(id uint64, typ ProgressType, pr tracker.Progress) {
		visited[id] = typ
		assert.Nil(t, pr.Inflights)
	})
	assert.Equal(t, map[uint64]ProgressType{1: ProgressTypePeer, 2: ProgressTypePeer, 3: ProgressTypePeer}, visited)

	// Followers report no progress.
	fst := c.node(2).rn.Status()
	assert.Nil(t, fst.Progress)
	assert.Equal(t, SoftState{Lead: 1, RaftState: StateFollower}, fst.SoftState)
	assert.Equal(t, pb.HardState{Term: 1, Vote: 1, Commit: last}, fst.HardState)
	assert.Equal(t, last, fst.Applied)
	assert.Equal(t, []uint64{1, 2, 3}, fst.Config.Voters[0].Slice())
}

func TestStatusLeadTransfereeAndApplied(t *testing.T) {
	c := newCluster(t, 3)
	c.elect(1)
	c.isolate(3)
	require.NoError(t, c.propose(1, "a"))
	c.stabilize()
	c.node(1).rn.TransferLeader(3)
	assert.Equal(t, uint64(3), c.node(1).rn.Status().LeadTransferee)
	assert.Equal(t, uint64(3), c.node(1).rn.BasicStatus().LeadTransferee)
	// Only the leader knows about the transfer.
	assert.Equal(t, None, c.node(2).rn.BasicStatus().LeadTransferee)

	// Applied follows what the application applied (Advance), not what is
	// committed.
	require.NoError(t, c.node(1).raft().Step(pb.Message{Type: pb.MsgTransferLeader, From: 1})) // aborts the transfer
	require.Equal(t, None, c.node(1).rn.BasicStatus().LeadTransferee)
	require.NoError(t, c.propose(1, "b"))
	c.stabilize() // 1 and 2 commit "b"
	commit := c.node(1).raft().raftLog.committed
	require.Equal(t, commit, c.node(1).rn.BasicStatus().Applied)
	require.NoError(t, c.propose(1, "c"))
	c.processReadys()
	c.deliver() // MsgApp to 2
	c.processReadys()
	c.deliver() // 2's acknowledgement: "c" commits on 1
	require.Equal(t, commit+1, c.node(1).raft().raftLog.committed)
	rd := c.node(1).rn.Ready()
	require.Len(t, rd.CommittedEntries, 1)
	assert.Equal(t, commit, c.node(1).rn.BasicStatus().Applied, "not applied before Advance")
	require.NoError(t, c.node(1).storage.Append(rd.Entries))
	c.node(1).rn.Advance(rd)
	assert.Equal(t, commit+1, c.node(1).rn.BasicStatus().Applied)
	assert.Equal(t, commit+1, c.node(1).rn.Status().Applied)
}

func TestStatusMarshalJSON(t *testing.T) {
	st := Status{
		BasicStatus: BasicStatus{
			ID:             0x1a,
			HardState:      pb.HardState{Term: 5, Vote: 0x1a, Commit: 7},
			SoftState:      SoftState{Lead: 0x1a, RaftState: StateLeader},
			Applied:        6,
			LeadTransferee: 0xff,
		},
		Progress: map[uint64]tracker.Progress{
			0x1a: {Match: 7, Next: 8, State: tracker.StateReplicate},
			0xb:  {Match: 0, Next: 3, State: tracker.StateProbe},
			0xff: {Match: 2, Next: 3, State: tracker.StateSnapshot, PendingSnapshot: 2},
		},
	}
	want := `{"id":"1a","term":5,"vote":"1a","commit":7,"lead":"1a","raftState":"StateLeader","applied":6,"progress":{` +
		`"b":{"match":0,"next":3,"state":"StateProbe"},` +
		`"1a":{"match":7,"next":8,"state":"StateReplicate"},` +
		`"ff":{"match":2,"next":3,"state":"StateSnapshot"}},"leadtransferee":"ff"}`
	b, err := st.MarshalJSON()
	require.NoError(t, err)
	assert.True(t, json.Valid(b), "%s", b)
	assert.Equal(t, want, string(b))
	assert.Equal(t, want, st.String())
	// encoding/json goes through MarshalJSON too.
	viaJSON, err := json.Marshal(st)
	require.NoError(t, err)
	assert.Equal(t, want, string(viaJSON))

	var decoded map[string]interface{}
	require.NoError(t, json.Unmarshal(b, &decoded))
	assert.Equal(t, "1a", decoded["id"])
	assert.Equal(t, "ff", decoded["leadtransferee"])
	assert.Len(t, decoded["progress"], 3)

	// A follower (no progress) and the zero Status are valid JSON too.
	for _, s := range []Status{{}, {BasicStatus: BasicStatus{ID: 2, SoftState: SoftState{Lead: 1}}}} {
		b, err := s.MarshalJSON()
		require.NoError(t, err)
		assert.True(t, json.Valid(b), "%s", b)
	}
	assert.Equal(t, `{"id":"0","term":0,"vote":"0","commit":0,"lead":"0","raftState":"StateFollower","applied":0,"progress":{},"leadtransferee":"0"}`,
		Status{}.String())

	// A live leader's status.
	c := newCluster(t, 3)
	c.elect(1)
	b, err = c.node(1).rn.Status().MarshalJSON()
	require.NoError(t, err)
	assert.True(t, json.Valid(b), "%s", b)
	assert.Contains(t, string(b), `"raftState":"StateLeader"`)
	assert.Contains(t, string(b), `"3":{"match":1,"next":2,"state":"StateReplicate"}`)
}

func TestStateTypeStringAndJSON(t *testing.T) {
	for _, tt := range []struct {
		st   StateType
		want string
	}{
		{StateFollower, "StateFollower"},
		{StateCandidate, "StateCandidate"},
		{StateLeader, "StateLeader"},
		{StatePreCandidate, "StatePreCandidate"},
		{StateType(4), "StateType(4)"},
	} {
		assert.Equal(t, tt.want, tt.st.String())
		b, err := tt.st.MarshalJSON()
		require.NoError(t, err)
		assert.Equal(t, `"`+tt.want+`"`, string(b))
	}
	b, err := json.Marshal(struct{ S StateType }{StateLeader})
	require.NoError(t, err)
	assert.Equal(t, `{"S":"StateLeader"}`, string(b))
}
