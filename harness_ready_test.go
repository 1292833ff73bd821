package raft

// The harness's Ready loop: handling a Ready synchronously or, with
// AsyncStorageWrites, through the nodes' local storage threads; persisting
// with the durability check and applying with the State Machine Safety check;
// and the read states and logs tests inspect afterwards.

import (
	"bytes"
	"math/rand"

	"github.com/stretchr/testify/require"

	pb "github.com/pontoon-raft/raft/raftpb"
)

// handleReady takes one Ready from n and does what the contract asks.
func (c *ctCluster) handleReady(n *ctNode) {
	c.t.Helper()
	rd := n.rn.Ready()
	n.readys++
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
	c.checkDurable(n, rd.Messages)
	for _, m := range rd.Messages {
		c.send(m)
	}
	if !IsEmptySnap(rd.Snapshot) {
		n.appliedIndex = rd.Snapshot.Metadata.Index
	}
	c.apply(n, rd.CommittedEntries)
	n.rn.Advance(rd)
}

// handleAsyncReady queues the storage work of rd for the node's local
// threads, sends the rest at once, then runs the threads. Responses are
// stepped back only after the work is done, in order.
func (c *ctCluster) handleAsyncReady(n *ctNode, rd Ready) {
	c.t.Helper()
	for _, m := range rd.Messages {
		switch m.To {
		case LocalAppendThread:
			n.appendWork = append(n.appendWork, m)
		case LocalApplyThread:
			n.applyWork = append(n.applyWork, m)
		default:
			c.send(m)
		}
	}
	if !c.lazyStorage {
		c.runStorageThreads(n)
	}
}

// runSomeStorageWork lets the local threads of every node do a random part
// of their queued work, in order (lazyStorage mode).
func (c *ctCluster) runSomeStorageWork(rng *rand.Rand) {
	for _, id := range c.ids {
		n := c.nodes[id]
		appendWork, applyWork := n.appendWork, n.applyWork
		na, np := rng.Intn(len(appendWork)+1), rng.Intn(len(applyWork)+1)
		n.appendWork, n.applyWork = appendWork[:na:na], applyWork[:np:np]
		c.runStorageThreads(n)
		n.appendWork, n.applyWork = appendWork[na:], applyWork[np:]
	}
}

// runAllStorageWork lets every node's local threads finish their work. It
// reports whether there was any.
func (c *ctCluster) runAllStorageWork() bool {
	busy := false
	for _, id := range c.ids {
		n := c.nodes[id]
		if len(n.appendWork)+len(n.applyWork) > 0 {
			c.runStorageThreads(n)
			busy = true
		}
	}
	return busy
}

// runStorageThreads performs the queued append and apply work of n and steps
// the responses back (or sends them, if they are for peers).
func (c *ctCluster) runStorageThreads(n *ctNode) {
	c.t.Helper()
	for len(n.appendWork) > 0 {
		m := n.appendWork[0]
		n.appendWork = n.appendWork[1:]
		var snap pb.Snapshot
		if m.Snapshot != nil {
			snap = *m.Snapshot
		}
		hs := pb.HardState{Term: m.Term, Vote: m.Vote, Commit: m.Commit}
		c.persist(n, snap, m.Entries, hs)
		if !IsEmptySnap(snap) {
			// Installing the snapshot in the state machine.
			n.appliedIndex = snap.Metadata.Index
		}
		c.checkDurable(n, m.Responses)
		for _, resp := range m.Responses {
			if resp.To == n.id {
				require.NoError(c.t, n.rn.Step(resp), "node %d stepping %s", n.id, resp.Type)
			} else {
				c.send(resp)
			}
		}
	}
	for len(n.applyWork) > 0 {
		m := n.applyWork[0]
		n.applyWork = n.applyWork[1:]
		c.apply(n, m.Entries)
		for _, resp := range m.Responses {
			require.Equal(c.t, n.id, resp.To)
			require.NoError(c.t, n.rn.Step(resp), "node %d stepping %s", n.id, resp.Type)
		}
	}
}

// persist writes a snapshot, entries and HardState to n's storage, in the
// order the contract prescribes.
func (c *ctCluster) persist(n *ctNode, snap pb.Snapshot, ents []pb.Entry, hs pb.HardState) {
	c.t.Helper()
	if !IsEmptySnap(snap) {
		require.NoError(c.t, n.storage.ApplySnapshot(snap))
	}
	require.NoError(c.t, n.storage.Append(ents))
	if !IsEmptyHardState(hs) {
		require.NoError(c.t, n.storage.SetHardState(hs))
		n.lastHardState = hs
	}
}

// checkDurable checks that every message attesting durable state attests
// state that n's storage now holds (§5.1: respond only after persisting).
func (c *ctCluster) checkDurable(n *ctNode, msgs []pb.Message) {
	c.t.Helper()
	for _, m := range msgs {
		switch {
		case m.Type == pb.MsgAppResp && !m.Reject && m.Index > 0:
			last, _ := n.storage.LastIndex()
			require.LessOrEqual(c.t, m.Index, last,
				"node %d acknowledged index %d before persisting it", n.id, m.Index)
		case m.Type == pb.MsgVoteResp && !m.Reject:
			// Either the vote is durable, or a later term is: then this
			// node can never vote again in m.Term either.
			hs, _, _ := n.storage.InitialState()
			require.GreaterOrEqual(c.t, hs.Term, m.Term, "node %d granted a vote at term %d before persisting the term", n.id, m.Term)
			if hs.Term == m.Term {
				require.Equal(c.t, m.To, hs.Vote, "node %d granted a vote to %d before persisting it", n.id, m.To)
			}
		}
	}
}

// apply applies committed entries: conf changes through ApplyConfChange, and
// every entry is checked against what other nodes applied at its index.
func (c *ctCluster) apply(n *ctNode, ents []pb.Entry) {
	c.t.Helper()
	for _, e := range ents {
		if term, ok := c.appliedTerm[e.Index]; ok {
			require.Equal(c.t, term, e.Term, "State Machine Safety: nodes applied different entries at index %d", e.Index)
		} else {
			c.appliedTerm[e.Index] = e.Term
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

// takeReadStates returns and clears the read states node id received.
func (c *ctCluster) takeReadStates(id uint64) []ReadState {
	n := c.nodes[id]
	rs := n.readStates
	n.readStates = nil
	return rs
}

// logOf returns every entry in node id's log.
func (c *ctCluster) logOf(id uint64) []pb.Entry {
	return c.nodes[id].raft().raftLog.allEntries()
}

// requireSameLogs checks that every node in ids has the same log, entry by
// entry (index, term and data).
func (c *ctCluster) requireSameLogs(ids ...uint64) {
	c.t.Helper()
	want := c.logOf(ids[0])
	for _, id := range ids[1:] {
		got := c.logOf(id)
		require.Equal(c.t, len(want), len(got), "log length of %d vs %d", ids[0], id)
		for i := range want {
			require.True(c.t, want[i].Index == got[i].Index && want[i].Term == got[i].Term &&
				bytes.Equal(want[i].Data, got[i].Data),
				"logs of %d and %d differ at index %d: %v vs %v", ids[0], id, want[i].Index, want[i], got[i])
		}
	}
}
