package rafttest_test

import (
	"math"
	"strings"
	"testing"

	"github.com/cockroachdb/datadriven"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/pontoon-raft/raft"
	pb "github.com/pontoon-raft/raft/raftpb"
	"github.com/pontoon-raft/raft/rafttest"
)

func testConfig() raft.Config {
	return raft.Config{ElectionTick: 3, HeartbeatTick: 1, MaxSizePerMsg: math.MaxUint64, MaxInflightMsgs: 16}
}

func bootstrapSnap(index uint64, voters ...uint64) pb.Snapshot {
	var s pb.Snapshot
	s.Metadata.Index = index
	s.Metadata.ConfState.Voters = voters
	return s
}

func TestAddNodesRefusesBadInput(t *testing.T) {
	for _, tc := range []struct {
		name     string
		n        int
		snap     pb.Snapshot
		onConfig func(*raft.Config)
		wantErr  string
	}{
		{name: "no nodes", n: 0, wantErr: "cannot add 0 nodes"},
		{name: "bootstrap index 1", n: 1, snap: bootstrapSnap(1, 1), wantErr: "must be above 1"},
		{name: "content only", n: 1, snap: pb.Snapshot{Data: []byte("x")}, wantErr: "must be above 1"},
		{name: "OnConfig changes the ID", n: 1, onConfig: func(c *raft.Config) { c.ID = 7 }, wantErr: "changed the ID"},
		{name: "OnConfig sets a Logger", n: 1, onConfig: func(c *raft.Config) { c.Logger = raft.NewSlogLogger(nil) }, wantErr: "must not set a Logger"},
		{name: "invalid config", n: 1, onConfig: func(c *raft.Config) { c.HeartbeatTick = 0 }, wantErr: "HeartbeatTick"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			env := rafttest.NewInteractionEnv(&rafttest.InteractionOpts{OnConfig: tc.onConfig})
			err := env.AddNodes(tc.n, testConfig(), tc.snap)
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.wantErr)
			assert.Empty(t, env.Nodes, "no half-made node stays")
		})
	}
}

func TestAddNodes(t *testing.T) {
	var seen []uint64
	env := rafttest.NewInteractionEnv(&rafttest.InteractionOpts{
		OnConfig: func(c *raft.Config) {
			seen = append(seen, c.ID)
			c.PreVote = true
		},
	})
	require.NoError(t, env.AddNodes(2, testConfig(), bootstrapSnap(5, 1, 2, 3)))
	require.NoError(t, env.AddNodes(1, testConfig(), pb.Snapshot{}))
	assert.Equal(t, []uint64{1, 2, 3}, seen)
	require.Len(t, env.Nodes, 3)
	for i, n := range env.Nodes {
		assert.Equal(t, uint64(i+1), n.Config.ID)
		assert.True(t, n.Config.PreVote)
		assert.NotNil(t, n.Config.Rand, "a seeded source by default")
		assert.Same(t, env.Output, n.Config.Logger)
		require.Len(t, n.History, 1)
	}
	// Bootstrapped nodes start at the snapshot, with term 1.
	for _, n := range env.Nodes[:2] {
		first, err := n.FirstIndex()
		require.NoError(t, err)
		assert.Equal(t, uint64(6), first)
		snap, err := n.Snapshot()
		require.NoError(t, err)
		assert.Equal(t, uint64(1), snap.Metadata.Term)
		assert.Equal(t, []uint64{1, 2, 3}, snap.Metadata.ConfState.Voters)
	}
	// The third starts empty.
	assert.True(t, raft.IsEmptySnap(env.Nodes[2].History[0]))
}

// TestSnapshotIsLatestAppliedState: a node's Storage.Snapshot is its
// latest applied state, with the configuration of the conf changes it
// applied.
func TestSnapshotIsLatestAppliedState(t *testing.T) {
	env := rafttest.NewInteractionEnv(nil)
	env.Output.Lvl = 5 // NONE
	require.NoError(t, env.AddNodes(2, testConfig(), bootstrapSnap(2, 1, 2)))
	require.NoError(t, env.Campaign(0))
	require.NoError(t, env.Stabilize())
	require.NoError(t, env.Propose(0, []byte("a")))
	require.NoError(t, env.ProposeConfChange(0, pb.ConfChange{Type: pb.ConfChangeAddLearnerNode, NodeID: 3, Context: []byte("+3")}))
	require.NoError(t, env.Propose(0, []byte("b")))
	require.NoError(t, env.Stabilize())
	for _, n := range env.Nodes {
		snap, err := n.Snapshot()
		require.NoError(t, err)
		assert.Equal(t, "a+3b", string(snap.Data))
		assert.Equal(t, uint64(6), snap.Metadata.Index)
		assert.Equal(t, []uint64{3}, snap.Metadata.ConfState.Learners)
		// One state per applied entry: the initial one and indexes 3 to 6.
		assert.Len(t, n.History, 5)
	}
}

func TestSetRandomizedElectionTimeoutOption(t *testing.T) {
	var calls []int
	env := rafttest.NewInteractionEnv(&rafttest.InteractionOpts{
		SetRandomizedElectionTimeout: func(node *raft.RawNode, timeout int) { calls = append(calls, timeout) },
	})
	require.NoError(t, env.AddNodes(1, testConfig(), bootstrapSnap(2, 1)))
	d := parseDirective(t, "set-randomized-election-timeout 1 timeout=9")
	assert.Equal(t, "ok", env.Handle(t, d))
	assert.Equal(t, []int{9}, calls, "the option is used when set")
}

// TestDeliverMsgsNeverDropsLocalMessages: messages between a node and its
// storage threads model local calls; drop leaves them in flight.
func TestDeliverMsgsNeverDropsLocalMessages(t *testing.T) {
	env := rafttest.NewInteractionEnv(nil)
	env.Output.Lvl = 5
	cfg := testConfig()
	cfg.AsyncStorageWrites = true
	require.NoError(t, env.AddNodes(1, cfg, bootstrapSnap(2, 1)))
	require.NoError(t, env.Campaign(0))
	require.NoError(t, env.ProcessReady(0))
	require.NoError(t, env.ProcessAppendThread(0))
	require.Len(t, env.Messages, 1)
	require.Equal(t, pb.MsgVoteResp, env.Messages[0].Type)

	assert.Zero(t, env.DeliverMsgs(-1, rafttest.Recipient{ID: 1, Drop: true}))
	assert.Len(t, env.Messages, 1)
	assert.Equal(t, 1, env.DeliverMsgs(pb.MsgVoteResp, rafttest.Recipient{ID: 1}))
	assert.Empty(t, env.Messages)
	assert.Equal(t, raft.StateLeader, env.Nodes[0].BasicStatus().RaftState)
}

func TestRedirectLogger(t *testing.T) {
	l := &rafttest.RedirectLogger{Builder: &strings.Builder{}}
	l.Debugf("d %d", 1)
	l.Info("i", 2)
	l.Warningf("w\n")
	l.Errorf("e")
	assert.Equal(t, "DEBUG d 1\nINFO i 2\nWARN w\nERROR e\n", l.String())

	l.Reset()
	l.Lvl = 2 // WARN and above
	l.Debug("hidden")
	l.Infof("hidden")
	l.Warning("shown")
	assert.Equal(t, "WARN shown\n", l.String())
	assert.False(t, l.Quiet())

	l.Reset()
	l.Lvl = 5 // NONE
	assert.True(t, l.Quiet())
	n, err := l.WriteString("x")
	assert.Zero(t, n)
	assert.NoError(t, err)
	n, err = l.Write([]byte("x"))
	assert.Zero(t, n)
	assert.NoError(t, err)
	assert.NoError(t, l.WriteByte('x'))
	n, err = l.WriteRune('x')
	assert.Zero(t, n)
	assert.NoError(t, err)
	l.Errorf("hidden")
	assert.Empty(t, l.String())

	l.Lvl = 0
	assert.PanicsWithValue(t, "boom 1", func() { l.Panicf("boom %d", 1) })
	assert.PanicsWithValue(t, "fatal", func() { l.Fatal("fatal") })
	assert.Equal(t, "FATAL boom 1\nFATAL fatal\n", l.String())
}

func TestLogLevelNames(t *testing.T) {
	env := rafttest.NewInteractionEnv(nil)
	for lvl, name := range []string{"debug", "INFO", "Warn", "error", "fatal", "none"} {
		require.NoError(t, env.LogLevel(name))
		assert.Equal(t, lvl, env.Output.Lvl, name)
	}
	assert.Error(t, env.LogLevel("WARNING"))
}

// parseDirective builds the TestData of a one-line directive.
func parseDirective(t *testing.T, line string) datadriven.TestData {
	t.Helper()
	cmd, args, err := datadriven.ParseLine(line)
	require.NoError(t, err)
	return datadriven.TestData{Pos: "test:1", Cmd: cmd, CmdArgs: args}
}
