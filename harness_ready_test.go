package raft

// The cluster's Ready loop: handling a Ready synchronously or, with
// AsyncStorageWrites, through the node's local storage threads; persisting
// with the durability check and applying with the State Machine Safety
// check.

import (
	"bytes"
	"math/rand"

	"github.com/stretchr/testify/require"

	pb "github.com/pontoon-raft/raft/raftpb"
)

// processReadys handles the Ready of every node until none has one. It
// reports whether any node had one.
func (c *cluster) processReadys() bool {
	busy := false
	for _, id := range c.ids {
		for n := c.nodes[id]; n.rn.HasReady(); {
			c.handleReady(n)
			busy = true
		}
	}
	return busy
}

// handleReady takes one Ready from n and does what the contract asks.
func (c *cluster) handleReady(n *member) {
	c.t.Helper()
	rd := n.rn.Ready()
	if c.onReady != nil {
		c.onReady(n, rd)
	}
	n.readStates = append(n.readStates, rd.ReadStates...)
	if n.cfg.AsyncStorageWrites {
		c.handleAsyncReady(n, rd)
		return
	}
	// The same (non-empty) HardState is never handed out twice.
	if !IsEmptyHardState(rd.HardState) {
		require.NotEqual(c.t, n.lastHardState, rd.HardState, "node %d: HardState repeated in a Ready", n.id)
	}
	c.persist(n, rd.Snapshot, rd.Entries, rd.HardState)
	checkDurable(c.t, n.id, n.storage, rd.Messages)
	for _, m := range rd.Messages {
		c.send(m)
	}
	if !IsEmptySnap(rd.Snapshot) {
		n.appliedIndex = rd.Snapshot.Metadata.Index
	}
	c.apply(n, rd.CommittedEntries)
	n.rn.Advance(rd)
}

// handleAsyncReady checks rd (checkAsyncReady), queues its storage work for
// the node's local threads and sends the rest at once. Unless the cluster
// is lazy, the threads then do their work. Responses are stepped back only
// after the work is done, in order.
func (c *cluster) handleAsyncReady(n *member, rd Ready) {
	c.t.Helper()
	app, apply, peers := checkAsyncReady(c.t, n.raft(), rd)
	for _, m := range peers {
		c.send(m)
	}
	if app != nil {
		n.written.add(c.t, n.id, *app)
		n.appendWork = append(n.appendWork, *app)
	}
	if apply != nil {
		// Committed entries go to the apply thread only once durable here.
		for _, e := range apply.Entries {
			term, err := n.storage.Term(e.Index)
			require.NoError(c.t, err, "node %d: entry %d handed to apply before it is durable", n.id, e.Index)
			require.Equal(c.t, e.Term, term, "node %d: entry %d handed to apply before it is durable", n.id, e.Index)
		}
		n.applyWork = append(n.applyWork, *apply)
	}
	if !c.lazyStorage {
		c.runStorageWork(n, -1, -1)
	}
}

// runSomeStorageWork lets the local threads of every node do a random part
// of their queued work, in order (lazyStorage mode).
func (c *cluster) runSomeStorageWork(rng *rand.Rand) {
	for _, id := range c.ids {
		n := c.nodes[id]
		c.runStorageWork(n, rng.Intn(len(n.appendWork)+1), rng.Intn(len(n.applyWork)+1))
	}
}

// runAllStorageWork lets every node's local threads finish their work. It
// reports whether there was any.
func (c *cluster) runAllStorageWork() bool {
	busy := false
	for _, id := range c.ids {
		busy = c.runStorageWork(c.nodes[id], -1, -1) || busy
	}
	return busy
}

// runStorageWork lets n's append thread do up to appends writes and its
// apply thread up to applies batches (negative: all), stepping the
// responses back or sending them, if they are for peers. It reports whether
// there was anything to do.
func (c *cluster) runStorageWork(n *member, appends, applies int) bool {
	c.t.Helper()
	if appends < 0 || appends > len(n.appendWork) {
		appends = len(n.appendWork)
	}
	if applies < 0 || applies > len(n.applyWork) {
		applies = len(n.applyWork)
	}
	for i := 0; i < appends; i++ {
		m := n.appendWork[0]
		n.appendWork = n.appendWork[1:]
		var snap pb.Snapshot
		if m.Snapshot != nil {
			snap = *m.Snapshot
		}
		c.persist(n, snap, m.Entries, pb.HardState{Term: m.Term, Vote: m.Vote, Commit: m.Commit})
		if !IsEmptySnap(snap) {
			// Installing the snapshot in the state machine.
			n.appliedIndex = max(n.appliedIndex, snap.Metadata.Index)
		}
		checkDurable(c.t, n.id, n.storage, m.Responses)
		for _, resp := range stepResponses(c.t, n.rn, m.Responses) {
			c.send(resp)
		}
	}
	for i := 0; i < applies; i++ {
		m := n.applyWork[0]
		n.applyWork = n.applyWork[1:]
		c.apply(n, m.Entries)
		require.Empty(c.t, stepResponses(c.t, n.rn, m.Responses), "node %d: apply responses for peers", n.id)
	}
	return appends+applies > 0
}

// persist writes a snapshot, entries and HardState to n's storage, in the
// order the contract prescribes.
func (c *cluster) persist(n *member, snap pb.Snapshot, ents []pb.Entry, hs pb.HardState) {
	c.t.Helper()
	writeToStorage(c.t, n.storage, snap, ents, hs)
	if !IsEmptyHardState(hs) {
		n.lastHardState = hs
	}
}

// apply applies committed entries: conf changes through ApplyConfChange,
// and every entry is checked against what other nodes applied at its index.
func (c *cluster) apply(n *member, ents []pb.Entry) {
	c.t.Helper()
	for _, e := range ents {
		if prev, ok := c.appliedAt[e.Index]; ok {
			require.True(c.t, prev.Term == e.Term && bytes.Equal(prev.Data, e.Data),
				"State Machine Safety: index %d applied as %v and as %v", e.Index, prev, e)
		} else {
			c.appliedAt[e.Index] = e
		}
		if n.cfg.AsyncStorageWrites && e.Index <= n.appliedIndex {
			// With AsyncStorageWrites the append thread may install a
			// snapshot while the apply thread still holds older committed
			// entries; the state machine already reflects them.
			continue
		}
		require.Equal(c.t, n.appliedIndex+1, e.Index, "node %d applies out of order", n.id)
		switch e.Type {
		case pb.EntryConfChange:
			var cc pb.ConfChange
			require.NoError(c.t, cc.Unmarshal(e.Data))
			n.rn.ApplyConfChange(cc)
		case pb.EntryConfChangeV2:
			var cc pb.ConfChangeV2
			require.NoError(c.t, cc.Unmarshal(e.Data))
			n.rn.ApplyConfChange(cc)
		}
		n.appliedIndex = e.Index
		n.applied = append(n.applied, e)
	}
}
