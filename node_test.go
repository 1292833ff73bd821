package raft

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	pb "github.com/pontoon-raft/raft/raftpb"
)

// requireNoNodeGoroutines fails t if the goroutine of a Node started by the
// test is still running. Stop waits for it, but a test that forgot Stop
// leaks it; it may take a moment to exit, so the check polls for a second.
// (Node tests do not run in parallel, so any such goroutine is the test's.)
func requireNoNodeGoroutines(t *testing.T) {
	t.Helper()
	running := func() bool {
		buf := make([]byte, 1<<20)
		return bytes.Contains(buf[:runtime.Stack(buf, true)], []byte("raft.(*node).run("))
	}
	require.Eventually(t, func() bool { return !running() }, time.Second, time.Millisecond,
		"a Node goroutine is still running")
}

// runNodeLoop is an application Ready loop for a single-node cluster: it
// persists, applies (counting normal entries with data) and advances until
// stop is closed. applied receives the data of each applied entry.
func runNodeLoop(n Node, storage *MemoryStorage, applied chan<- string, stop <-chan struct{}) {
	for {
		select {
		case rd := <-n.Ready():
			if !IsEmptyHardState(rd.HardState) {
				_ = storage.SetHardState(rd.HardState)
			}
			_ = storage.Append(rd.Entries)
			for _, e := range rd.CommittedEntries {
				switch e.Type {
				case pb.EntryNormal:
					if len(e.Data) > 0 {
						applied <- string(e.Data)
					}
				case pb.EntryConfChange:
					var cc pb.ConfChange
					_ = cc.Unmarshal(e.Data)
					n.ApplyConfChange(cc)
				}
			}
			n.Advance()
		case <-stop:
			return
		}
	}
}

func TestNodeConcurrentProposals(t *testing.T) {
	defer requireNoNodeGoroutines(t)

	storage := NewMemoryStorage()
	n := StartNode(testConfig(1, storage), []Peer{{ID: 1}})
	const writers, perWriter = 16, 25
	applied := make(chan string, writers*perWriter)
	stop := make(chan struct{})
	loopDone := make(chan struct{})
	// Apply the bootstrap configuration before campaigning: a node does not
	// campaign while a committed conf change is unapplied.
	rd := <-n.Ready()
	require.NoError(t, storage.Append(rd.Entries))
	require.NoError(t, storage.SetHardState(rd.HardState))
	for _, e := range rd.CommittedEntries {
		var cc pb.ConfChange
		require.NoError(t, cc.Unmarshal(e.Data))
		n.ApplyConfChange(cc)
	}
	n.Advance()
	go func() {
		runNodeLoop(n, storage, applied, stop)
		close(loopDone)
	}()
	require.NoError(t, n.Campaign(context.Background()))

	var wg sync.WaitGroup
	errs := make(chan error, writers*perWriter)
	for w := 0; w < writers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for i := 0; i < perWriter; i++ {
				// Propose blocks until the single node is leader; the
				// timeout turns a hang into a test failure.
				ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
				errs <- n.Propose(ctx, []byte(fmt.Sprintf("w%d-%d", w, i)))
				cancel()
			}
		}(w)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}

	seen := map[string]bool{}
	for len(seen) < writers*perWriter {
		seen[<-applied] = true
	}
	assert.Len(t, seen, writers*perWriter)
	st := n.Status()
	assert.Equal(t, StateLeader, st.RaftState)
	assert.Equal(t, uint64(1), st.Lead)

	close(stop)
	<-loopDone
	n.Stop()
}

func TestNodeProposeBlocksWithoutLeaderUntilContextDone(t *testing.T) {
	defer requireNoNodeGoroutines(t)

	storage := NewMemoryStorage()
	// Three peers and nobody campaigns: no leader will be known.
	n := StartNode(testConfig(1, storage), []Peer{{ID: 1}, {ID: 2}, {ID: 3}})
	defer n.Stop()

	ctx, cancel := context.WithCancel(context.Background())
	result := make(chan error, 1)
	go func() { result <- n.Propose(ctx, []byte("x")) }()
	cancel()
	err := <-result
	assert.True(t, errors.Is(err, context.Canceled), "got %v", err)
}

func TestNodeStopWhileReadyPending(t *testing.T) {
	defer requireNoNodeGoroutines(t)

	storage := NewMemoryStorage()
	n := StartNode(testConfig(1, storage), []Peer{{ID: 1}})
	// The bootstrap Ready is offered; take it and never call Advance.
	rd := <-n.Ready()
	require.NotEmpty(t, rd.CommittedEntries)
	n.Stop()

	assert.Equal(t, ErrStopped, n.Propose(context.Background(), []byte("x")))
	assert.Equal(t, ErrStopped, n.Campaign(context.Background()))
	assert.Equal(t, ErrStopped, n.ReadIndex(context.Background(), nil))
	assert.Equal(t, Status{}, n.Status())
	n.Tick()    // must not block
	n.Stop()    // second Stop is a no-op
	n.Advance() // must not block after Stop
}

func TestNodeStepIgnoresLocalMessages(t *testing.T) {
	defer requireNoNodeGoroutines(t)

	storage := NewMemoryStorage()
	n := StartNode(testConfig(1, storage), []Peer{{ID: 1}, {ID: 2}})
	defer n.Stop()
	for _, mt := range []pb.MessageType{pb.MsgHup, pb.MsgBeat, pb.MsgUnreachable, pb.MsgSnapStatus, pb.MsgCheckQuorum} {
		require.NoError(t, n.Step(context.Background(), pb.Message{Type: mt, From: 2}))
	}
	// MsgHup from the network did not start an election.
	assert.Equal(t, StateFollower, n.Status().RaftState)
	assert.Equal(t, uint64(1), n.Status().Term)
}

func TestStartNodeWithoutPeersPanics(t *testing.T) {
	assert.Panics(t, func() { StartNode(testConfig(1, NewMemoryStorage()), nil) })
}

func TestRestartNodeKeepsState(t *testing.T) {
	defer requireNoNodeGoroutines(t)

	storage := NewMemoryStorage()
	require.NoError(t, storage.Append([]pb.Entry{{Term: 1, Index: 1}, {Term: 2, Index: 2}}))
	require.NoError(t, storage.SetHardState(pb.HardState{Term: 2, Vote: 1, Commit: 1}))
	_, err := storage.CreateSnapshot(0, &pb.ConfState{Voters: []uint64{1, 2, 3}}, nil)
	if err != nil {
		// An index-0 snapshot is refused; set the configuration through a
		// snapshot at index 1 instead.
		storage = NewMemoryStorage()
		require.NoError(t, storage.ApplySnapshot(pb.Snapshot{Metadata: pb.SnapshotMetadata{
			Index: 1, Term: 1, ConfState: pb.ConfState{Voters: []uint64{1, 2, 3}}}}))
		require.NoError(t, storage.Append([]pb.Entry{{Term: 2, Index: 2}}))
		require.NoError(t, storage.SetHardState(pb.HardState{Term: 2, Vote: 1, Commit: 1}))
	}
	n := RestartNode(testConfig(1, storage))
	defer n.Stop()
	st := n.Status()
	assert.Equal(t, uint64(2), st.Term)
	assert.Equal(t, uint64(1), st.Vote)
	assert.Equal(t, uint64(1), st.Commit)
	assert.Equal(t, StateFollower, st.RaftState)
}

// A node removed from the configuration stops accepting proposals, but, as
// with etcd/raft, only until a leader change: a node added back (or one
// that learns of a new leader) must not block its proposers forever.
func TestNodeProposalsResumeAfterRemovalWhenLeaderChanges(t *testing.T) {
	defer requireNoNodeGoroutines(t)

	storage := NewMemoryStorage()
	n := StartNode(testConfig(1, storage), []Peer{{ID: 1}, {ID: 2}})
	defer n.Stop()
	rd := <-n.Ready()
	require.NoError(t, storage.Append(rd.Entries))
	n.Advance()

	n.ApplyConfChange(pb.ConfChange{Type: pb.ConfChangeRemoveNode, NodeID: 1})
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	err := n.Propose(ctx, []byte("while removed"))
	cancel()
	require.ErrorIs(t, err, context.DeadlineExceeded)

	// Node 2 leads a new term; node 1 hears its heartbeat.
	require.NoError(t, n.Step(context.Background(), pb.Message{Type: pb.MsgHeartbeat, From: 2, To: 1, Term: 5}))
	ctx, cancel = context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	assert.NoError(t, n.Propose(ctx, []byte("after leader change")), "proposal must be forwarded to the new leader")
}
