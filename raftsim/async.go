package raftsim

import (
	"fmt"
	"hash/fnv"
	"strings"

	"github.com/pontoon-raft/raft"
	pb "github.com/pontoon-raft/raft/raftpb"
	"github.com/pontoon-raft/raft/wal"
)

// Nodes with Config.AsyncStorageWrites. Their Ready carries the storage
// work as local messages: a MsgStorageAppend for the append thread and a
// MsgStorageApply for the apply thread. The simulator queues each on its
// thread, in order, and completes it a random number of ticks later
// (Options.MaxAsyncDelayTicks) as an event of its own: the append thread
// persists the snapshot, entries and HardState and only then delivers the
// responses (the node's own acknowledgement, and the peer messages that
// promise durability); the apply thread applies the entries and steps the
// acknowledgement back. Other messages go out at once, and Advance is never
// called. A crash loses every write not completed, and with
// Faults.CrashMidReadyProb a node may crash after a write but before its
// responses are delivered.

// AsyncMode selects the nodes that run with Config.AsyncStorageWrites.
type AsyncMode int

// The async modes.
const (
	// AsyncNone: every node persists and applies inside its Ready loop.
	AsyncNone AsyncMode = iota
	// AsyncAll: every node uses asynchronous storage writes.
	AsyncAll
	// AsyncMixed: every other node ID does, starting with node 1 or node 2
	// as the seed decides, so a cluster of two or more mixes both kinds.
	AsyncMixed
)

var asyncModeNames = [...]string{"none", "all", "mixed"}

// String returns "none", "all" or "mixed".
func (m AsyncMode) String() string {
	if m < 0 || int(m) >= len(asyncModeNames) {
		return fmt.Sprintf("AsyncMode(%d)", int(m))
	}
	return asyncModeNames[m]
}

// ParseAsyncMode returns the AsyncMode named by s ("none", "all" or
// "mixed").
func ParseAsyncMode(s string) (AsyncMode, error) {
	for i, name := range asyncModeNames {
		if s == name {
			return AsyncMode(i), nil
		}
	}
	return AsyncNone, invalid("async mode %q: want none, all or mixed", s)
}

// The events of the local threads of asynchronous nodes.
const (
	// EventAsyncAppend completed the oldest write of Node's append thread.
	EventAsyncAppend EventKind = "async-append"
	// EventAsyncApply completed the oldest batch of Node's apply thread.
	EventAsyncApply EventKind = "async-apply"
)

// asyncThreads are the queues of an asynchronous node's local threads.
type asyncThreads struct {
	appendQ, applyQ []localWork
	// snapshotWanted is set when a conf change was applied before the
	// commit index covering it was durable (see Sim.confChangeApplied).
	snapshotWanted bool
}

// localWork is a MsgStorageAppend or MsgStorageApply waiting on its thread
// until doneAt.
type localWork struct {
	m      pb.Message
	doneAt int64
}

// asyncFor reports whether node id runs with asynchronous storage writes.
func (s *Sim) asyncFor(id uint64) bool {
	for _, a := range s.opts.AsyncNodes {
		if a == id {
			return true
		}
	}
	switch s.opts.Async {
	case AsyncAll:
		return true
	case AsyncMixed:
		h := fnv.New64a()
		fmt.Fprint(h, s.opts.Seed)
		return (h.Sum64()+id)%2 == 0
	}
	return false
}

// handleAsyncReady takes a Ready from the asynchronous node n: the storage
// work goes to its threads, the other messages to the network.
func (s *Sim) handleAsyncReady(n *simNode) {
	s.beginEvent(EventReady, n.id)
	rd := n.node.Ready()
	s.tracef("ready node %d (async): %s", n.id, describeReadySummary(rd))
	for _, m := range rd.Messages {
		switch m.To {
		case raft.LocalAppendThread:
			s.queueLocal(n, &n.async.appendQ, m)
		case raft.LocalApplyThread:
			s.queueLocal(n, &n.async.applyQ, m)
		default:
			if m.Type == pb.MsgSnap {
				s.res.SnapshotsSent++
			}
			s.send(n, m)
		}
	}
	s.completeClientOps(n, raft.Ready{ReadStates: rd.ReadStates})
	if s.faultsOn && s.opts.Faults.CrashMidReadyProb > 0 && s.rng.Float64() < s.opts.Faults.CrashMidReadyProb {
		s.crashMidReadyText(n, "with its writes queued")
	}
}

// queueLocal puts m at the end of a thread's queue. A thread works in
// order, so m completes no earlier than the work before it.
func (s *Sim) queueLocal(n *simNode, q *[]localWork, m pb.Message) {
	doneAt := s.tick + int64(s.rng.Intn(s.opts.MaxAsyncDelayTicks+1))
	if k := len(*q); k > 0 {
		doneAt = max(doneAt, (*q)[k-1].doneAt)
	}
	*q = append(*q, localWork{m: m, doneAt: doneAt})
	s.tracef("node %d queues %s (done at tick %d)", n.id, describeLocal(m), doneAt)
}

// describeLocal renders a MsgStorageAppend or MsgStorageApply on one line.
func describeLocal(m pb.Message) string {
	var b strings.Builder
	b.WriteString(m.Type.String())
	if m.Snapshot != nil && !raft.IsEmptySnap(*m.Snapshot) {
		fmt.Fprintf(&b, " Snapshot{%d/%d}", m.Snapshot.Metadata.Term, m.Snapshot.Metadata.Index)
	}
	if k := len(m.Entries); k > 0 {
		fmt.Fprintf(&b, " Entries %d/%d..%d/%d", m.Entries[0].Term, m.Entries[0].Index, m.Entries[k-1].Term, m.Entries[k-1].Index)
	}
	if hs := (pb.HardState{Term: m.Term, Vote: m.Vote, Commit: m.Commit}); m.Type == pb.MsgStorageAppend && !raft.IsEmptyHardState(hs) {
		fmt.Fprintf(&b, " HardState{%s}", raft.DescribeHardState(hs))
	}
	fmt.Fprintf(&b, " Responses %d", len(m.Responses))
	return b.String()
}

// localThread names one thread of a node.
type localThread struct {
	n     *simNode
	apply bool
}

// dueLocalThreads lists the threads of running nodes whose oldest work is
// done by now, in node order, the append thread first.
func (s *Sim) dueLocalThreads() []localThread {
	var out []localThread
	for _, n := range s.nodes {
		if n.node == nil || n.async == nil {
			continue
		}
		if q := n.async.appendQ; len(q) > 0 && q[0].doneAt <= s.tick {
			out = append(out, localThread{n: n})
		}
		if q := n.async.applyQ; len(q) > 0 && q[0].doneAt <= s.tick {
			out = append(out, localThread{n: n, apply: true})
		}
	}
	return out
}

// runLocalThread completes the oldest work of thread t as one event.
func (s *Sim) runLocalThread(t localThread) {
	if t.apply {
		s.completeApply(t.n)
	} else {
		s.completeAppend(t.n)
	}
}

// completeAppend performs the oldest write of n's append thread and then
// delivers its responses.
func (s *Sim) completeAppend(n *simNode) {
	w := n.async.appendQ[0]
	n.async.appendQ = n.async.appendQ[1:]
	m := w.m
	s.beginEvent(EventAsyncAppend, n.id)
	s.tracef("node %d writes %s", n.id, describeLocal(m))
	u := wal.Update{Entries: m.Entries, HardState: pb.HardState{Term: m.Term, Vote: m.Vote, Commit: m.Commit}}
	if m.Snapshot != nil {
		u.Snapshot = *m.Snapshot
	}
	if !s.persist(n, u, "persisting a MsgStorageAppend") {
		return
	}
	s.ev.Persisted = m.Entries
	if m.Snapshot != nil && !raft.IsEmptySnap(*m.Snapshot) && m.Snapshot.Metadata.Index > n.applied {
		// The state machine takes the snapshot now; the apply thread skips
		// what it covers.
		s.restoreStateMachine(n, *m.Snapshot)
		s.res.SnapshotsInstalled++
		s.completeClientOps(n, raft.Ready{Snapshot: *m.Snapshot})
	}
	if n.async.snapshotWanted && s.commitDurable(n) {
		n.async.snapshotWanted = false
		if snap, _ := n.storage.Snapshot(); snap.Metadata.Index < n.applied {
			s.snapshotForConfig(n)
		}
	}
	if s.faultsOn && s.opts.Faults.CrashMidReadyProb > 0 && s.rng.Float64() < s.opts.Faults.CrashMidReadyProb {
		s.crashMidReadyText(n, "after a write, before acknowledging it")
		return
	}
	s.deliverResponses(n, m.Responses)
}

// completeApply applies the oldest batch of n's apply thread and steps its
// acknowledgement back.
func (s *Sim) completeApply(n *simNode) {
	w := n.async.applyQ[0]
	n.async.applyQ = n.async.applyQ[1:]
	s.beginEvent(EventAsyncApply, n.id)
	ents := w.m.Entries
	skip := 0
	for skip < len(ents) && ents[skip].Index <= n.applied {
		skip++
	}
	if skip > 0 {
		s.tracef("node %d skipped %d..%d, covered by its snapshot", n.id, ents[0].Index, ents[skip-1].Index)
	}
	s.apply(n, ents[skip:])
	s.completeClientOps(n, raft.Ready{CommittedEntries: ents[skip:]})
	s.deliverResponses(n, w.m.Responses)
}

// deliverResponses steps the responses addressed to n into it and sends the
// others.
func (s *Sim) deliverResponses(n *simNode, resps []pb.Message) {
	if n.halted() {
		return // its disk failed; it crashes at the end of the event
	}
	for _, r := range resps {
		if r.To != n.id {
			s.send(n, r)
			continue
		}
		err := n.node.Step(r)
		if err != nil {
			s.tracef("node %d steps %s: %v", n.id, raft.DescribeMessage(r, nil), err)
		}
		checkStep(n, r, err)
	}
}

// commitDurable reports whether n's storage holds a commit index covering
// everything n applied. It always does for a synchronous node. An
// asynchronous one may apply entries before the HardState that commits them
// is written, and its storage must not hold a snapshot beyond its durable
// commit index: a restart would find that commit index below its log.
func (s *Sim) commitDurable(n *simNode) bool {
	if n.async == nil {
		return true
	}
	hs, _, err := n.storage.InitialState()
	return err == nil && hs.Commit >= n.applied
}

// discardLocalWork drops the unfinished work of n's threads: a crash loses
// it.
func (s *Sim) discardLocalWork(n *simNode) {
	if n.async == nil {
		return
	}
	if k := len(n.async.appendQ) + len(n.async.applyQ); k > 0 {
		s.tracef("node %d loses %d unfinished writes and %d unapplied batches", n.id, len(n.async.appendQ), len(n.async.applyQ))
	}
	n.async.appendQ, n.async.applyQ = nil, nil
}

// crashMidReadyText crashes n part-way through its storage work.
func (s *Sim) crashMidReadyText(n *simNode, where string) {
	s.res.Faults[FaultCrashMidReady]++
	s.crash(n)
	s.tracef("node %d crashed %s", n.id, where)
}

// logTerm returns the term of entry i in node n's log as its writes will
// leave it: its storage, with the writes queued on an asynchronous node's
// append thread applied in order. An asynchronous candidate may win an
// election (with the votes of others) while entries it received are still
// on their way to disk; its log, the one it replicates as leader, holds
// them, and the append thread writes them before anything that follows.
// covered reports that a snapshot covers i.
func (n *simNode) logTerm(i uint64) (term uint64, covered bool, err error) {
	if n.async != nil {
		for k := len(n.async.appendQ) - 1; k >= 0; k-- {
			m := n.async.appendQ[k].m
			if len(m.Entries) > 0 && m.Entries[0].Index <= i {
				if last := m.Entries[len(m.Entries)-1].Index; i <= last {
					return m.Entries[i-m.Entries[0].Index].Term, false, nil
				}
				return 0, false, raft.ErrUnavailable // the write replaces the log from its first entry on
			}
			if s := m.Snapshot; s != nil && !raft.IsEmptySnap(*s) {
				if i <= s.Metadata.Index {
					return 0, true, nil
				}
				return 0, false, raft.ErrUnavailable // the log restarts after the snapshot
			}
		}
	}
	snap, err := n.storage.Snapshot()
	if err != nil {
		return 0, false, err
	}
	if i <= snap.Metadata.Index {
		return 0, true, nil
	}
	t, err := n.storage.Term(i)
	return t, false, err
}
