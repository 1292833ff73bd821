package raftsim

import (
	"fmt"

	"github.com/pontoon-raft/raft"
	pb "github.com/pontoon-raft/raft/raftpb"
	"github.com/pontoon-raft/raft/wal"
)

// crashPoint is where in a Ready's handling a node crashes.
type crashPoint int

const (
	noCrash crashPoint = iota
	crashBeforePersist
	crashAfterPersist
	crashAfterSend
	crashAfterApply
)

var crashPointNames = [...]string{"", "before persisting", "after persisting", "after sending", "after applying"}

// handleReady takes a Ready from n and handles it as the contract of
// package raft prescribes, possibly crashing part-way (CrashMidReadyProb).
// With SplitReadyProb it stops after sending, and a later event applies
// and advances (finishReady); until then the node may receive messages,
// ticks and proposals, as it does under a Node goroutine, but is not asked
// for another Ready.
func (s *Sim) handleReady(n *simNode) {
	if n.async != nil {
		s.handleAsyncReady(n)
		return
	}
	s.beginEvent(EventReady, n.id)
	rd := n.node.Ready()
	crash := noCrash
	if s.faultsOn && s.opts.Faults.CrashMidReadyProb > 0 && s.rng.Float64() < s.opts.Faults.CrashMidReadyProb {
		crash = crashPoint(1 + s.rng.Intn(4))
	}
	s.tracef("ready node %d: %s", n.id, describeReadySummary(rd))
	if crash == crashBeforePersist {
		s.crashMidReady(n, crash)
		return
	}

	// 1. Persist the snapshot, the entries, then the HardState.
	if !s.persist(n, wal.Update{Snapshot: rd.Snapshot, Entries: rd.Entries, HardState: rd.HardState}, "persisting a Ready") {
		return
	}
	s.ev.Persisted = rd.Entries
	if crash == crashAfterPersist {
		s.crashMidReady(n, crash)
		return
	}

	// 2. Send.
	for _, m := range rd.Messages {
		if m.Type == pb.MsgSnap {
			s.res.SnapshotsSent++
		}
		s.send(n, m)
	}
	if crash == crashAfterSend {
		s.crashMidReady(n, crash)
		return
	}

	if s.opts.SplitReadyProb > 0 && s.rng.Float64() < s.opts.SplitReadyProb {
		n.pending = &pendingReady{rd: rd, crash: crash}
		s.tracef("node %d defers applying and Advance", n.id)
		return
	}
	s.applyReady(n, rd, crash)
}

// pendingReady is a Ready persisted and sent but not yet applied and
// advanced.
type pendingReady struct {
	rd    raft.Ready
	crash crashPoint
}

// finishReady applies and advances n's pending Ready as one event.
func (s *Sim) finishReady(n *simNode) {
	p := n.pending
	n.pending = nil
	s.beginEvent(EventApply, n.id)
	s.tracef("node %d applies and advances its deferred Ready", n.id)
	crash := p.crash
	if !s.faultsOn {
		// The crash was drawn while faults were on; in the liveness phase
		// nothing restarts a crashed node.
		crash = noCrash
	}
	s.applyReady(n, p.rd, crash)
}

// applyReady runs steps 3 and 4 of the Ready contract.
func (s *Sim) applyReady(n *simNode, rd raft.Ready, crash crashPoint) {
	// 3. Apply: first the snapshot, then the committed entries.
	if !raft.IsEmptySnap(rd.Snapshot) {
		s.restoreStateMachine(n, rd.Snapshot)
		s.res.SnapshotsInstalled++
	}
	s.apply(n, rd.CommittedEntries)
	s.completeClientOps(n, rd)
	if n.halted() {
		return // its disk failed taking a snapshot; it crashes at the end of the event
	}
	if crash == crashAfterApply {
		s.crashMidReady(n, crash)
		return
	}

	// 4. Advance.
	n.node.Advance(rd)
}

// contractError is a panic value for a node breaking the Ready contract;
// Step and the Run loop report it as a "contract" violation.
type contractError struct{ err error }

// restoreStateMachine installs snapshot snap into n's state machine.
func (s *Sim) restoreStateMachine(n *simNode, snap pb.Snapshot) {
	env, err := decodeEnvelope(snap.Data)
	if err == nil && env.index != snap.Metadata.Index {
		err = fmt.Errorf("raftsim: snapshot data is for index %d, metadata says %d", env.index, snap.Metadata.Index)
	}
	if err == nil {
		err = n.sm.Restore(env.appData)
	}
	if err != nil {
		panic(contractError{fmt.Errorf("node %d: restoring snapshot %s: %w", n.id, raft.DescribeSnapshot(snap), err)})
	}
	n.applied = snap.Metadata.Index
	n.chain = env.chain
	n.confState = snap.Metadata.ConfState
	meta := snap.Metadata
	s.ev.Snapshot = &meta
	s.ev.SnapshotChain = env.chain
	s.tracef("node %d restored snapshot at %d/%d", n.id, meta.Term, meta.Index)
}

// apply applies committed entries to n's state machine.
func (s *Sim) apply(n *simNode, ents []pb.Entry) {
	if len(ents) > 0 && ents[0].Index <= n.restoredIndex {
		skip := 0
		for skip < len(ents) && ents[skip].Index <= n.restoredIndex {
			skip++
		}
		s.tracef("node %d skipped %d..%d, covered by the snapshot it restarted from", n.id, ents[0].Index, ents[skip-1].Index)
		ents = ents[skip:]
	}
	if len(ents) == 0 {
		return
	}
	for _, e := range ents {
		switch e.Type {
		case pb.EntryConfChange:
			var cc pb.ConfChange
			if err := cc.Unmarshal(e.Data); err != nil {
				panic(contractError{fmt.Errorf("node %d: entry %d/%d: %w", n.id, e.Term, e.Index, err)})
			}
			n.confState = *n.node.ApplyConfChange(cc)
		case pb.EntryConfChangeV2:
			var cc pb.ConfChangeV2
			if err := cc.Unmarshal(e.Data); err != nil {
				panic(contractError{fmt.Errorf("node %d: entry %d/%d: %w", n.id, e.Term, e.Index, err)})
			}
			n.confState = *n.node.ApplyConfChange(cc)
		}
		n.sm.Apply(e)
		n.applied = e.Index
		n.chain = chainHash(n.chain, e)
		s.history.record(e, n.chain)
		ae := AppliedEntry{Entry: e, Chain: n.chain}
		if e.Type == pb.EntryConfChange || e.Type == pb.EntryConfChangeV2 {
			cs := n.confState
			ae.ConfState = &cs
		}
		s.ev.Applied = append(s.ev.Applied, ae)
		s.res.Applied++
		if e.Type != pb.EntryNormal {
			s.confChangeApplied(n, e.Index)
		}
		if s.probe != "" && s.probeIndex == 0 && e.Type == pb.EntryNormal && hasPrefix(e.Data, s.probe) {
			s.probeIndex = e.Index
		}
	}
	first, last := ents[0], ents[len(ents)-1]
	s.tracef("node %d applied %d/%d..%d/%d (hash %016x)", n.id, first.Term, first.Index, last.Term, last.Index, n.chain)
}

func hasPrefix(data []byte, prefix string) bool {
	return len(data) >= len(prefix) && string(data[:len(prefix)]) == prefix
}

// describeReadySummary renders a Ready on one line, without its messages
// (which are traced as they are delivered or lost).
func describeReadySummary(rd raft.Ready) string {
	b := make([]byte, 0, 96)
	if rd.SoftState != nil {
		b = fmt.Appendf(b, "%s ", raft.DescribeSoftState(*rd.SoftState))
	}
	if !raft.IsEmptyHardState(rd.HardState) {
		b = fmt.Appendf(b, "HardState{%s} ", raft.DescribeHardState(rd.HardState))
	}
	if !raft.IsEmptySnap(rd.Snapshot) {
		b = fmt.Appendf(b, "Snapshot{%d/%d} ", rd.Snapshot.Metadata.Term, rd.Snapshot.Metadata.Index)
	}
	if n := len(rd.Entries); n > 0 {
		b = fmt.Appendf(b, "Entries %d/%d..%d/%d ", rd.Entries[0].Term, rd.Entries[0].Index,
			rd.Entries[n-1].Term, rd.Entries[n-1].Index)
	}
	if n := len(rd.CommittedEntries); n > 0 {
		b = fmt.Appendf(b, "Committed %d..%d ", rd.CommittedEntries[0].Index, rd.CommittedEntries[n-1].Index)
	}
	b = fmt.Appendf(b, "Messages %d", len(rd.Messages))
	return string(b)
}
