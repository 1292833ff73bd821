package raft

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	pb "github.com/pontoon-raft/raft/raftpb"
)

// A snapshot that arrives while committed entries are out for applying is
// not installed: the application would apply those older entries (and call
// ApplyConfChange for their conf changes) after the snapshot, rolling the
// state machine and the configuration back onto the snapshot's. raftsim
// found the configuration corruption (seed 26442, 5 nodes, async mixed):
// re-applied bootstrap and joint entries turned a node's configuration into
// one no other node had. Once the entries are reported applied, the same
// snapshot is installed.
func TestSnapshotNotRestoredWhileEntriesAreApplied(t *testing.T) {
	s := newTestStorage(votersConf(1, 2, 3), pb.HardState{Term: 2, Commit: 1}, 1, 2)
	rn, err := NewRawNode(testConfig(2, s))
	require.NoError(t, err)
	// The leader commits entry 2; the follower hands it out for applying.
	require.NoError(t, rn.Step(pb.Message{Type: pb.MsgHeartbeat, From: 1, To: 2, Term: 2, Commit: 2}))
	rd := rn.Ready()
	require.NoError(t, s.SetHardState(rd.HardState))
	require.NotEmpty(t, rd.CommittedEntries)

	snap := pb.Snapshot{Metadata: pb.SnapshotMetadata{Index: 10, Term: 2,
		ConfState: pb.ConfState{Voters: []uint64{1, 2, 4}}}}
	require.NoError(t, rn.Step(pb.Message{Type: pb.MsgSnap, From: 1, To: 2, Term: 2, Snapshot: &snap}))
	assert.Equal(t, uint64(2), rn.raft.raftLog.committed, "snapshot must wait for the entries being applied")
	assert.Equal(t, []uint64{1, 2, 3}, rn.raft.trk.VoterNodes())
	rn.Advance(rd)

	require.NoError(t, rn.Step(pb.Message{Type: pb.MsgSnap, From: 1, To: 2, Term: 2, Snapshot: &snap}))
	assert.Equal(t, uint64(10), rn.raft.raftLog.committed)
	assert.Equal(t, []uint64{1, 2, 4}, rn.raft.trk.VoterNodes())
	rd = rn.Ready()
	assert.Equal(t, uint64(10), rd.Snapshot.Metadata.Index)
	assert.Empty(t, rd.CommittedEntries)
}
