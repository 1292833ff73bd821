package raftsim

import (
	"fmt"
	"strings"

	"github.com/pontoon-raft/raft"
	pb "github.com/pontoon-raft/raft/raftpb"
)

// Invariant is a property of the cluster that must hold after every event.
// Check returns nil when it holds and an error describing the breach when
// it does not; the simulator wraps that error in a *Violation.
type Invariant interface {
	// Name identifies the invariant in violations and in SkipInvariants.
	Name() string
	// Check inspects the cluster after an event. It must not change
	// anything it can reach through v.
	Check(v *View) error
}

// NewInvariant returns an Invariant with the given name and check
// function.
func NewInvariant(name string, check func(v *View) error) Invariant {
	return funcInvariant{name: name, check: check}
}

type funcInvariant struct {
	name  string
	check func(v *View) error
}

func (f funcInvariant) Name() string        { return f.name }
func (f funcInvariant) Check(v *View) error { return f.check(v) }

// EventKind says what an event did.
type EventKind string

// The kinds of events.
const (
	// EventStart is the first event: the cluster was created.
	EventStart EventKind = "start"
	// EventTick advanced virtual time by one tick and ticked the nodes.
	EventTick EventKind = "tick"
	// EventDeliver delivered one message (or found it undeliverable).
	EventDeliver EventKind = "deliver"
	// EventReady handled one Ready of Node: all of it, or (see
	// Options.SplitReadyProb) its persistence and messages only.
	EventReady EventKind = "ready"
	// EventApply applied the committed entries of Node's deferred Ready
	// and called Advance.
	EventApply EventKind = "apply"
	// EventPropose made a proposal on Node.
	EventPropose EventKind = "propose"
	// EventCrash crashed Node.
	EventCrash EventKind = "crash"
	// EventRestart restarted Node over its storage.
	EventRestart EventKind = "restart"
	// EventNetwork changed the network: a partition, or a heal.
	EventNetwork EventKind = "network"
	// EventSlow made Node slow.
	EventSlow EventKind = "slow"
	// EventSnapshot snapshotted Node's state machine and compacted its log.
	EventSnapshot EventKind = "snapshot"
	// EventFinish is the last event of a run; invariants may do their
	// expensive whole-cluster checks then.
	EventFinish EventKind = "finish"
)

// AppliedEntry is a committed entry a node applied, with the node's
// applied-log hash after applying it.
type AppliedEntry struct {
	Entry pb.Entry
	// Chain is the hash of every entry the node applied up to and
	// including this one (see View.AppliedHash).
	Chain uint64
	// ConfState is, for a conf change entry, the configuration
	// ApplyConfChange returned for it; nil for other entries.
	ConfState *pb.ConfState
}

// Event describes the event just completed. Its slices are shared with the
// simulator and must not be modified.
type Event struct {
	// Num counts events from 1.
	Num int
	// Tick is the virtual time at which the event happened.
	Tick int64
	// Kind says what the event did.
	Kind EventKind
	// Node is the node the event concerned, or 0.
	Node uint64
	// Message is the message delivered by an EventDeliver.
	Message *pb.Message
	// Persisted are the entries an EventReady or EventAsyncAppend appended
	// to Node's storage.
	Persisted []pb.Entry
	// Snapshot is the metadata of a snapshot installed in Node's state
	// machine: one received in a Ready, or the one a restarted node was
	// restored from.
	Snapshot *pb.SnapshotMetadata
	// SnapshotChain is the applied-log hash recorded in that snapshot.
	SnapshotChain uint64
	// Applied are the committed entries Node applied (in an EventReady or
	// EventApply), in order.
	Applied []AppliedEntry
}

// View is the read-only window an Invariant gets onto the cluster. It is
// valid only during the Check call.
type View struct {
	s *Sim
}

// Seed returns the run's seed.
func (v *View) Seed() int64 { return v.s.opts.Seed }

// Event returns the event just completed.
func (v *View) Event() *Event { return &v.s.ev }

// Tick returns the current virtual time.
func (v *View) Tick() int64 { return v.s.tick }

// NodeIDs returns the IDs of all nodes, live or crashed, in ascending
// order. The caller must not modify the slice.
func (v *View) NodeIDs() []uint64 { return v.s.ids }

// Voters returns the voters of the latest configuration any node applied,
// both halves of a joint one, in ascending order.
func (v *View) Voters() []uint64 {
	cs := v.s.latestConfig().cs
	var out []uint64
	for _, id := range configMembers(cs) {
		if isVoter(cs, id) {
			out = append(out, id)
		}
	}
	return out
}

// Config returns the configuration node id has applied (that of its state
// machine), and false if the node is down.
func (v *View) Config(id uint64) (pb.ConfState, bool) {
	n := v.s.node(id)
	if n == nil || n.node == nil {
		return pb.ConfState{}, false
	}
	return cloneConfState(n.confState), true
}

// Up reports whether node id is running.
func (v *View) Up(id uint64) bool {
	n := v.s.node(id)
	return n != nil && n.node != nil
}

// Status returns node id's status as it was right after the event, and
// false if the node is down.
func (v *View) Status(id uint64) (raft.BasicStatus, bool) {
	n := v.s.node(id)
	if n == nil || n.node == nil {
		return raft.BasicStatus{}, false
	}
	return n.status, true
}

// Storage returns node id's durable storage, which survives crashes. It
// must only be read. With Options.Storage StorageWAL it is what the node's
// engine acknowledged, which every reopened engine must still hold.
func (v *View) Storage(id uint64) raft.Storage {
	n := v.s.node(id)
	if n == nil {
		return nil
	}
	return n.storage
}

// StateMachine returns node id's application state machine, or nil while
// the node is down. It must only be read.
func (v *View) StateMachine(id uint64) StateMachine {
	n := v.s.node(id)
	if n == nil || n.node == nil {
		return nil
	}
	return unwrapStateMachine(n.sm)
}

// Applied returns the index of the last entry node id applied (or the
// index of the snapshot it was restored from).
func (v *View) Applied(id uint64) uint64 {
	if n := v.s.node(id); n != nil {
		return n.applied
	}
	return 0
}

// AppliedHash returns the hash of every entry node id has applied, which
// equals that of every other node at the same applied index when the
// cluster is correct.
func (v *View) AppliedHash(id uint64) uint64 {
	if n := v.s.node(id); n != nil {
		return n.chain
	}
	return 0
}

// CommittedEntry is what the simulator recorded about the entry at an
// index when a node first applied it.
type CommittedEntry struct {
	Term uint64
	// Hash identifies the entry's type and data.
	Hash uint64
	// Chain is the applied-log hash after the entry (see View.AppliedHash).
	Chain uint64
}

// Committed returns what was recorded about the entry at index when a node
// first applied it, and false if no node has applied it (yet, or ever,
// because every node learned it from a snapshot).
func (v *View) Committed(index uint64) (CommittedEntry, bool) {
	return v.s.history.get(index)
}

// MaxCommitted returns the highest index any node has applied.
func (v *View) MaxCommitted() uint64 { return v.s.history.maxIndex() }

// Violation is the error a run returns when an invariant does not hold. It
// carries what is needed to replay and study the failure.
type Violation struct {
	// Invariant names the broken property: a built-in invariant, a user
	// invariant, "liveness", "panic" (a node panicked) or "contract" (a
	// node broke the Ready contract, e.g. storage refused its writes).
	Invariant string
	// Seed and Nodes identify the run; with the same Options they replay
	// it exactly.
	Seed  int64
	Nodes int
	// Event and Tick say when the violation was detected.
	Event int
	Tick  int64
	// Err is what the invariant reported.
	Err error
	// Trace holds the last trace lines before the violation, oldest first.
	Trace []string
}

// Error returns a multi-line description: the summary, then the trace.
func (v *Violation) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "raftsim: invariant %q violated (seed %d, %d nodes, event %d, tick %d): %v",
		v.Invariant, v.Seed, v.Nodes, v.Event, v.Tick, v.Err)
	if len(v.Trace) > 0 {
		fmt.Fprintf(&b, "\nlast %d trace lines:", len(v.Trace))
		for _, l := range v.Trace {
			b.WriteString("\n  ")
			b.WriteString(l)
		}
	}
	return b.String()
}

// Unwrap returns the invariant's own error.
func (v *Violation) Unwrap() error { return v.Err }
