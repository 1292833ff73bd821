package raftsim

import (
	"fmt"
	"slices"

	"github.com/pontoon-raft/raft"
	pb "github.com/pontoon-raft/raft/raftpb"
)

// Names of the built-in invariants, for Violation.Invariant and
// Options.SkipInvariants. Each is checked after every event.
const (
	// InvElectionSafety: at most one node is ever leader in a term (§5.2).
	InvElectionSafety = "election-safety"
	// InvLogMatching: entries with the same index and term are identical
	// and are preceded by identical entries, in every durable log at every
	// point of the run (§5.3).
	InvLogMatching = "log-matching"
	// InvLeaderCompleteness: a node that becomes leader of a term holds in
	// its durable log every applied entry that was committed in an earlier
	// term, unless its snapshot covers it (§5.4).
	InvLeaderCompleteness = "leader-completeness"
	// InvStateMachineSafety: nodes apply the same entry at every index, in
	// index order without gaps or repeats, and their applied-log hashes
	// agree at every index (§5.4.3).
	InvStateMachineSafety = "state-machine-safety"
	// InvCommitMonotonic: a node's commit index never decreases while it
	// runs.
	InvCommitMonotonic = "commit-monotonic"
	// InvQuorumBeforeApply: when a node applies an entry, a quorum of a
	// configuration in force before it (both majorities of a joint one)
	// holds it in durable storage (or a snapshot covering it). Which of
	// those configurations the leader used depends on how far its own
	// applied index lagged; InvCommitQuorum checks leaders exactly.
	InvQuorumBeforeApply = "quorum-before-apply"
	// InvLiveness is not an Invariant: it names the violation CheckLiveness
	// returns when a healed cluster does not elect a leader and commit a
	// proposal on every node in time.
	InvLiveness = "liveness"
)

// BuiltinInvariantNames lists the built-in invariants in the order they are
// checked.
var BuiltinInvariantNames = []string{
	InvElectionSafety, InvLogMatching, InvLeaderCompleteness,
	InvStateMachineSafety, InvCommitMonotonic, InvQuorumBeforeApply,
	InvLinearizableReads, InvLeaderInConfig, InvCommitQuorum, InvConfigAgreement,
}

func isBuiltinInvariant(name string) bool { return slices.Contains(BuiltinInvariantNames, name) }

// builtinInvariants returns fresh built-in invariants, less the skipped ones.
func builtinInvariants(skip []string) []Invariant {
	all := []Invariant{
		&electionSafety{leaders: map[uint64]uint64{}},
		&logMatching{seen: map[indexTerm]logRecord{}},
		&leaderCompleteness{checked: map[uint64]bool{}},
		&stateMachineSafety{},
		&commitMonotonic{},
		quorumBeforeApply{},
		&linearizableReads{},
		&leaderInConfig{},
		&commitQuorum{},
		&configAgreement{at: map[uint64]pb.ConfState{}},
	}
	var out []Invariant
	for _, inv := range all {
		if !slices.Contains(skip, inv.Name()) {
			out = append(out, inv)
		}
	}
	return out
}

// history records, for every index some node applied, what the first node
// to apply it applied there. It is indexed by log index.
type history struct {
	entries []historyEntry
}

type historyEntry struct {
	CommittedEntry
	known bool
}

func (h *history) record(e pb.Entry, chain uint64) {
	for uint64(len(h.entries)) <= e.Index {
		h.entries = append(h.entries, historyEntry{})
	}
	if !h.entries[e.Index].known {
		h.entries[e.Index] = historyEntry{CommittedEntry{Term: e.Term, Hash: entryHash(e), Chain: chain}, true}
	}
}

func (h *history) get(index uint64) (CommittedEntry, bool) {
	if index >= uint64(len(h.entries)) || !h.entries[index].known {
		return CommittedEntry{}, false
	}
	return h.entries[index].CommittedEntry, true
}

func (h *history) maxIndex() uint64 {
	if len(h.entries) == 0 {
		return 0
	}
	return uint64(len(h.entries) - 1)
}

// electionSafety remembers the leader of every term.
type electionSafety struct {
	leaders map[uint64]uint64
}

func (*electionSafety) Name() string { return InvElectionSafety }

func (es *electionSafety) Check(v *View) error {
	for _, id := range v.NodeIDs() {
		st, up := v.Status(id)
		if !up || st.RaftState != raft.StateLeader {
			continue
		}
		if l, ok := es.leaders[st.Term]; ok && l != id {
			return fmt.Errorf("term %d has two leaders: node %d and node %d", st.Term, l, id)
		}
		es.leaders[st.Term] = id
	}
	return nil
}

type indexTerm struct{ index, term uint64 }

// logRecord is what logMatching remembers of the first entry persisted with
// some index and term: its contents and the term of the entry before it.
type logRecord struct {
	hash, prevTerm uint64
	node           uint64
	event          int
}

// logMatching checks every entry as it is persisted against every entry
// ever persisted at the same index and term. Because the check covers the
// term of the preceding entry, equal (index, term) implies equal prefixes
// by induction. At EventFinish it also compares all pairs of logs
// directly.
type logMatching struct {
	seen map[indexTerm]logRecord
}

func (*logMatching) Name() string { return InvLogMatching }

func (lm *logMatching) Check(v *View) error {
	ev := v.Event()
	switch {
	case len(ev.Persisted) > 0:
		return lm.checkPersisted(v, ev)
	case ev.Kind == EventFinish:
		return checkLogsPairwise(v)
	}
	return nil
}

func (lm *logMatching) checkPersisted(v *View, ev *Event) error {
	st := v.Storage(ev.Node)
	first, err := st.FirstIndex()
	if err != nil {
		return err
	}
	for _, e := range ev.Persisted {
		if e.Index < first {
			continue // covered by the snapshot
		}
		t, err := st.Term(e.Index)
		if err != nil || t != e.Term {
			return fmt.Errorf("node %d persisted %d/%d but its storage holds term %d (%v)", ev.Node, e.Term, e.Index, t, err)
		}
		prevTerm, err := st.Term(e.Index - 1)
		if err != nil {
			return fmt.Errorf("node %d: term of %d, before persisted %d/%d: %w", ev.Node, e.Index-1, e.Term, e.Index, err)
		}
		key := indexTerm{e.Index, e.Term}
		rec := logRecord{hash: entryHash(e), prevTerm: prevTerm, node: ev.Node, event: ev.Num}
		old, ok := lm.seen[key]
		if !ok {
			lm.seen[key] = rec
			continue
		}
		if old.hash != rec.hash {
			return fmt.Errorf("node %d persisted %s, but node %d persisted different data at %d/%d (event %d)",
				ev.Node, raft.DescribeEntry(e, nil), old.node, e.Term, e.Index, old.event)
		}
		if old.prevTerm != rec.prevTerm {
			return fmt.Errorf("node %d persisted %d/%d after an entry of term %d, but node %d has it after term %d (event %d)",
				ev.Node, e.Term, e.Index, prevTerm, old.node, old.prevTerm, old.event)
		}
	}
	return nil
}

// checkLogsPairwise compares every pair of durable logs directly: where
// both hold an entry with the same index and term, every entry from there
// down to the first index both hold must be identical.
func checkLogsPairwise(v *View) error {
	ids := v.NodeIDs()
	for i, a := range ids {
		for _, b := range ids[i+1:] {
			if err := compareLogs(v, a, b); err != nil {
				return err
			}
		}
	}
	return nil
}

func compareLogs(v *View, a, b uint64) error {
	sa, sb := v.Storage(a), v.Storage(b)
	fa, _ := sa.FirstIndex()
	fb, _ := sb.FirstIndex()
	la, _ := sa.LastIndex()
	lb, _ := sb.LastIndex()
	lo, hi := max(fa, fb), min(la, lb)
	if lo > hi {
		return nil
	}
	ea, err := sa.Entries(lo, hi+1, noLimit)
	if err != nil {
		return err
	}
	eb, err := sb.Entries(lo, hi+1, noLimit)
	if err != nil {
		return err
	}
	// Find the highest common index with equal terms; everything at or
	// below it must match.
	top := -1
	for k := len(ea) - 1; k >= 0; k-- {
		if ea[k].Term == eb[k].Term {
			top = k
			break
		}
	}
	for k := 0; k <= top; k++ {
		if ea[k].Term != eb[k].Term || entryHash(ea[k]) != entryHash(eb[k]) {
			return fmt.Errorf("nodes %d and %d both hold %d/%d, but differ at index %d: %s vs %s",
				a, b, ea[top].Term, ea[top].Index, ea[k].Index, raft.DescribeEntry(ea[k], nil), raft.DescribeEntry(eb[k], nil))
		}
	}
	return nil
}

const noLimit = ^uint64(0)

// leaderCompleteness checks each new leader's log (durable, and for an
// asynchronous node what its append thread is writing) once per term against
// the entries committed in earlier terms (§5.4: an entry committed in a
// term is in the log of the leader of every higher term). A leader of an
// old term may legitimately be elected after a later term committed
// entries it lacks, so the term in which each entry was committed matters.
// It is bounded from above by observation: a node at term T whose commit
// index is at least i proves that entry i was committed in term T or
// earlier. commitTerm keeps, for each index, the lowest such T seen; it is
// non-decreasing in the index, since an observation covering an index
// covers all lower ones.
type leaderCompleteness struct {
	checked map[uint64]bool
	// commitTerm[i] bounds the term in which entry i was committed; 0 means
	// no node has reported it committed yet.
	commitTerm []uint64
}

func (*leaderCompleteness) Name() string { return InvLeaderCompleteness }

// observe lowers commitTerm for every index up to commit to term.
func (lc *leaderCompleteness) observe(term, commit uint64) {
	for uint64(len(lc.commitTerm)) <= commit {
		lc.commitTerm = append(lc.commitTerm, 0)
	}
	for i := commit; i > 0; i-- {
		if t := lc.commitTerm[i]; t != 0 && t <= term {
			break // lower indexes are bounded at least as tightly
		}
		lc.commitTerm[i] = term
	}
}

func (lc *leaderCompleteness) Check(v *View) error {
	for _, id := range v.NodeIDs() {
		if st, up := v.Status(id); up {
			lc.observe(st.Term, st.Commit)
		}
	}
	for _, id := range v.NodeIDs() {
		st, up := v.Status(id)
		if !up || st.RaftState != raft.StateLeader || lc.checked[st.Term] {
			continue
		}
		lc.checked[st.Term] = true
		n := v.s.node(id)
		for i := uint64(1); i < uint64(len(lc.commitTerm)); i++ {
			if lc.commitTerm[i] == 0 || lc.commitTerm[i] >= st.Term {
				break // committed in this term or later, or not yet
			}
			ce, ok := v.Committed(i)
			if !ok {
				continue // committed, but not applied anywhere yet
			}
			// The leader's log: durable, plus what its append thread is
			// writing (see simNode.logTerm).
			t, covered, err := n.logTerm(i)
			if covered {
				continue
			}
			if err != nil || t != ce.Term {
				return fmt.Errorf("node %d became leader of term %d without entry %d/%d, committed by term %d (its log has term %d there: %v)",
					id, st.Term, ce.Term, i, lc.commitTerm[i], t, err)
			}
		}
	}
	return nil
}

// stateMachineSafety follows what each node applies.
type stateMachineSafety struct {
	// last is the index each node last applied, as this invariant saw it.
	last [MaxNodes + 1]uint64
}

func (*stateMachineSafety) Name() string { return InvStateMachineSafety }

func (sm *stateMachineSafety) Check(v *View) error {
	ev := v.Event()
	if ev.Kind == EventRestart {
		sm.last[ev.Node] = 0
	}
	if ev.Snapshot != nil {
		meta := ev.Snapshot
		sm.last[ev.Node] = meta.Index
		if ce, ok := v.Committed(meta.Index); ok && (ce.Term != meta.Term || ce.Chain != ev.SnapshotChain) {
			return fmt.Errorf("node %d installed a snapshot at %d/%d with hash %016x, but %d/%d was applied with hash %016x",
				ev.Node, meta.Term, meta.Index, ev.SnapshotChain, ce.Term, meta.Index, ce.Chain)
		}
	}
	for _, a := range ev.Applied {
		e := a.Entry
		if want := sm.last[ev.Node] + 1; e.Index != want {
			return fmt.Errorf("node %d applied index %d, want %d", ev.Node, e.Index, want)
		}
		sm.last[ev.Node] = e.Index
		ce, _ := v.Committed(e.Index)
		if ce.Term != e.Term || ce.Hash != entryHash(e) {
			return fmt.Errorf("node %d applied %s, but %d/%d was applied elsewhere with another entry", ev.Node,
				raft.DescribeEntry(e, nil), ce.Term, e.Index)
		}
		if ce.Chain != a.Chain {
			return fmt.Errorf("node %d has applied-log hash %016x at %d/%d, others %016x: the applied prefixes differ",
				ev.Node, a.Chain, e.Term, e.Index, ce.Chain)
		}
	}
	return nil
}

// commitMonotonic remembers each running node's last commit index.
type commitMonotonic struct {
	last [MaxNodes + 1]uint64
}

func (*commitMonotonic) Name() string { return InvCommitMonotonic }

func (cm *commitMonotonic) Check(v *View) error {
	ev := v.Event()
	if ev.Kind == EventRestart {
		st, _ := v.Status(ev.Node)
		cm.last[ev.Node] = st.Commit
	}
	for _, id := range v.NodeIDs() {
		st, up := v.Status(id)
		if !up {
			continue
		}
		if st.Commit < cm.last[id] {
			return fmt.Errorf("node %d commit index went back from %d to %d", id, cm.last[id], st.Commit)
		}
		cm.last[id] = st.Commit
	}
	return nil
}

// quorumBeforeApply checks each applied entry against the voters' storages.
type quorumBeforeApply struct{}

func (quorumBeforeApply) Name() string { return InvQuorumBeforeApply }

func (quorumBeforeApply) Check(v *View) error {
	ev := v.Event()
	for _, a := range ev.Applied {
		ok, err := heldByQuorumBefore(v, a.Entry)
		if err != nil {
			return err
		}
		if !ok {
			return fmt.Errorf("node %d applied %d/%d, held by no quorum of any configuration in force before it (latest: %s)",
				ev.Node, a.Entry.Term, a.Entry.Index, describeConfState(v.s.latestConfig().cs))
		}
	}
	return nil
}
