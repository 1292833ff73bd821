package raftsim

import (
	"fmt"
	"math/rand"
	"runtime/debug"
	"strings"

	"github.com/pontoon-raft/raft"
	pb "github.com/pontoon-raft/raft/raftpb"
	"github.com/pontoon-raft/raft/wal"
)

// simNode is one cluster member: durable storage that survives crashes and,
// while it runs, the node incarnation and its state machine.
type simNode struct {
	id uint64
	// storage is the node's durable state. In StorageWAL mode, where the
	// node runs on disk (its engine), it holds what the engine
	// acknowledged (storage.go).
	storage *raft.MemoryStorage
	// disk is the node's file system and engine in StorageWAL mode, or
	// nil.
	disk *walDisk
	// node is nil while the node is down.
	node Node
	// incarnation counts the node's starts.
	incarnation int
	sm          StateMachine
	// applied and chain are the index and applied-log hash of the last
	// entry the state machine holds; confState is the configuration as of
	// applied.
	applied   uint64
	chain     uint64
	confState pb.ConfState
	// restoredIndex is the index of the snapshot the incarnation's state
	// machine was restored from when it started. With Config.Applied = 0
	// the node hands out again the committed entries it still has in its
	// log, which may start below that snapshot (the log is compacted to a
	// point at or below it); like a real application, the simulator skips
	// those, as they are already part of the state.
	restoredIndex uint64
	// slowUntil is the tick until which the node ticks only every
	// SlowFactor ticks.
	slowUntil int64
	// clockRate is how many thousandths of a tick the node's clock counts
	// per simulated tick (0: rateUnit), and clockAcc the fraction carried
	// over (clock.go).
	clockRate, clockAcc int
	// pending is a Ready persisted and sent, to be applied and advanced by
	// a later event (Options.SplitReadyProb), or nil.
	pending *pendingReady
	// status is the node's BasicStatus after the last event.
	status raft.BasicStatus
	// retired is set once the node, removed from the configuration, was
	// shut down for good (membership.go).
	retired bool
	// async holds the local threads of a node with
	// Config.AsyncStorageWrites, or is nil (async.go).
	async *asyncThreads
}

// snapshotReport is a ReportSnapshot owed to a leader for a MsgSnap.
type snapshotReport struct {
	leader, to  uint64
	incarnation int
	status      raft.SnapshotStatus
}

// Sim is a simulated cluster. It owns virtual time, the network, every
// node's storage and the random source that decides everything, so a run is
// a pure function of its Options. A Sim is not safe for concurrent use.
//
// Use Run for a complete run. To script a scenario, call New and then any
// mix of Step (one random event), Propose, Crash, Restart, Partition,
// CutLink, Heal, Campaign, ForgetLeader, ReportUnreachable, Quiesce and
// SetClockRate, inspect the cluster through View, and end with
// CheckLiveness and Finish. Every one of them is one event or more, after
// each of which every invariant is checked.
type Sim struct {
	opts Options
	rng  *rand.Rand
	ids  []uint64
	// nodes[i] has ID i+1.
	nodes []*simNode
	bus   bus
	// blocked[a][b] cuts the link from node a to node b.
	blocked [MaxNodes + 1][MaxNodes + 1]bool
	tick    int64
	ev      Event
	trace   *tracer
	// faultsOn is false during the liveness phase.
	faultsOn bool
	// quiescedUntil is the last tick of the current quiescence, if any.
	quiescedUntil int64

	// actions are the per-event actions of Step, drawn with the
	// probabilities in actionProbs.
	actions     []func() bool
	actionProbs []float64

	invariants []Invariant
	history    history
	view       View

	res            Result
	proposalSeq    int
	pendingReports []snapshotReport
	// probe is the data prefix of liveness proposals and probeIndex the
	// index at which one was first applied.
	probe      string
	probeIndex uint64
	violation  *Violation
	// clients is the history of writes and reads, when reads are
	// simulated (Faults.ReadIndexProb > 0), else nil.
	clients *clientHistory
	// membership follows configurations and the node pool, transfers the
	// leader transfers in progress.
	membership membershipState
	transfers  transferState
	// durabilityErr is an InvDurableStorage violation found by a restart,
	// reported at the end of its event.
	durabilityErr error
}

// New builds the cluster described by opts: every node's storage holds the
// initial configuration (all nodes voters) and every node is started. The
// start is the first event, and invariants are checked after it.
func New(opts Options) (*Sim, error) {
	o, err := opts.withDefaults()
	if err != nil {
		return nil, err
	}
	s := &Sim{
		opts:     o,
		rng:      rand.New(rand.NewSource(o.Seed)),
		trace:    newTracer(o.TraceLines, o.TraceWriter),
		faultsOn: true,
		res:      Result{Seed: o.Seed, Faults: map[FaultKind]int{}},
	}
	s.view = View{s: s}
	s.actionProbs = o.eventActionProbs()
	s.actions = []func() bool{
		s.crashRandom, s.restartRandom, s.partitionRandom, s.oneWayRandom,
		s.isolateLeader, s.heal, s.slowRandom, s.snapshotRandom, s.proposeRandom,
		s.readRandom, s.confChangeRandom, s.transferRandom,
		s.campaignRandom, s.forgetLeaderRandom, s.reportUnreachableRandom, s.quiesceCluster, s.driftClockRandom,
		s.armTornWriteRandom, s.flipBitRandom,
	}
	s.invariants = append(builtinInvariants(o.SkipInvariants), o.Invariants...)
	if o.Faults.ReadIndexProb > 0 {
		s.clients = newClientHistory()
	}

	// Every storage starts as RawNode.Bootstrap would leave it once
	// persisted: one committed ConfChangeAddNode per node at term 1. The
	// nodes then start like restarted ones and apply the configuration from
	// their first Ready, whatever Node implementation they are.
	boot := make([]pb.Entry, o.Nodes)
	for i := range boot {
		cc := pb.ConfChange{Type: pb.ConfChangeAddNode, NodeID: uint64(i + 1)}
		data, err := cc.Marshal()
		if err != nil {
			return nil, err
		}
		boot[i] = pb.Entry{Type: pb.EntryConfChange, Term: 1, Index: uint64(i + 1), Data: data}
	}
	s.beginEvent(EventStart, 0)
	s.tracef("start: %d nodes, seed %d, PreVote %t, CheckQuorum %t", o.Nodes, o.Seed, o.PreVote, o.CheckQuorum)
	for i := 0; i < o.Nodes; i++ {
		n := s.newSimNode(uint64(i + 1))
		if !s.persist(n, wal.Update{Entries: boot, HardState: pb.HardState{Term: 1, Commit: uint64(len(boot))}}, "bootstrapping") {
			return nil, fmt.Errorf("raftsim: bootstrapping node %d: %w", n.id, n.disk.halted)
		}
		s.ids = append(s.ids, n.id)
		s.nodes = append(s.nodes, n)
	}
	s.initMembership()
	for _, n := range s.nodes {
		if err := s.startNode(n); err != nil {
			return nil, err
		}
	}
	if err := s.endEvent(); err != nil {
		return s, err
	}
	return s, nil
}

// node returns the node with the given ID, or nil.
func (s *Sim) node(id uint64) *simNode {
	if id == 0 || id > uint64(len(s.nodes)) {
		return nil
	}
	return s.nodes[id-1]
}

// View returns a read-only view of the cluster, as invariants get it.
func (s *Sim) View() *View { return &s.view }

// Result returns the counters of the run so far.
func (s *Sim) Result() Result {
	r := s.res
	r.Ticks = s.tick
	r.Commits = int(s.history.maxIndex())
	if s.clients != nil {
		r.ReadsServed, r.ReadChecksUnknown = s.clients.served, s.clients.unknown
	}
	r.Faults = make(map[FaultKind]int, len(s.res.Faults))
	for _, k := range AllFaultKinds {
		if c := s.res.Faults[k]; c > 0 {
			r.Faults[k] = c
		}
	}
	return r
}

// TraceTail returns the last trace lines (Options.TraceLines), oldest
// first.
func (s *Sim) TraceTail() []string { return s.trace.last() }

// tracef adds a line to the trace for the current event.
func (s *Sim) tracef(format string, args ...interface{}) {
	s.trace.add(s.ev.Num, s.tick, fmt.Sprintf(format, args...))
}

// traceText adds a preformatted line to the trace for the current event.
func (s *Sim) traceText(text string) { s.trace.add(s.ev.Num, s.tick, text) }

// beginEvent starts a new event of the given kind.
func (s *Sim) beginEvent(kind EventKind, node uint64) {
	s.res.Events++
	s.ev = Event{Num: s.res.Events, Tick: s.tick, Kind: kind, Node: node}
}

// endEvent finishes the current event: owed snapshot reports are made, role
// changes are traced, and every invariant is checked.
func (s *Sim) endEvent() error {
	s.haltFailedDisks()
	for len(s.pendingReports) > 0 {
		r := s.pendingReports[0]
		s.pendingReports = s.pendingReports[1:]
		if l := s.node(r.leader); l != nil && l.node != nil && l.incarnation == r.incarnation {
			l.node.ReportSnapshot(r.to, r.status)
			s.tracef("report snapshot %d->%d %s", r.leader, r.to, snapshotStatusName(r.status))
		}
	}
	s.observe()
	s.retireDue(!s.faultsOn)
	s.trackTransfers()
	if s.trace.writeErr != nil {
		return s.trace.writeErr
	}
	if err := s.durabilityErr; err != nil {
		s.durabilityErr = nil
		return s.fail(InvDurableStorage, err)
	}
	for _, inv := range s.invariants {
		if err := inv.Check(&s.view); err != nil {
			return s.fail(inv.Name(), err)
		}
	}
	return nil
}

// fail records a violation of the named invariant and returns it.
func (s *Sim) fail(name string, err error) *Violation {
	// Only the first line: a panic's stack differs between processes and
	// would make traces of the same seed differ.
	msg := err.Error()
	if i := strings.IndexByte(msg, '\n'); i >= 0 {
		msg = msg[:i]
	}
	s.tracef("VIOLATION %s: %s", name, msg)
	v := &Violation{
		Invariant: name, Seed: s.opts.Seed, Nodes: s.opts.Nodes,
		Event: s.ev.Num, Tick: s.tick, Err: err, Trace: s.trace.last(),
	}
	s.violation = v
	return v
}

// observe refreshes every live node's status and traces role changes.
func (s *Sim) observe() {
	for _, n := range s.nodes {
		if n.node == nil {
			continue
		}
		prev := n.status
		st := n.node.BasicStatus()
		n.status = st
		if st.RaftState != prev.RaftState || st.Term != prev.Term || st.Lead != prev.Lead {
			s.tracef("node %d is %s term %d lead %d commit %d", n.id, st.RaftState, st.Term, st.Lead, st.Commit)
			if st.RaftState == raft.StateLeader && (prev.RaftState != raft.StateLeader || prev.Term != st.Term) {
				s.res.LeaderChanges++
			}
		}
	}
}

// guard turns a panic in a node (or in the simulator) into a violation.
func (s *Sim) guard(err *error) {
	p := recover()
	if p == nil {
		return
	}
	if ce, ok := p.(contractError); ok {
		*err = s.fail("contract", ce.err)
		return
	}
	if sr, ok := p.(stepRefusal); ok {
		*err = s.fail(InvStepErrors, sr.err)
		return
	}
	*err = s.fail("panic", fmt.Errorf("%v\n%s", p, debug.Stack()))
}

// Step runs one event of the fault phase: with the per-event
// probabilities of Options.Faults a fault or a snapshot, with
// Options.ProposeProb a proposal, and otherwise network and node work (see
// work). It then checks every invariant. After a violation it keeps
// returning that violation.
func (s *Sim) Step() (err error) {
	if s.violation != nil {
		return s.violation
	}
	defer s.guard(&err)
	x := s.rng.Float64()
	acc := 0.0
	for i, p := range s.actionProbs {
		acc += p
		if x < acc {
			if !s.suppressed() && s.actions[i]() {
				return s.endEvent()
			}
			break
		}
	}
	s.work()
	return s.endEvent()
}

// work runs one unit of ordinary work: deliver a due message, handle a
// node's Ready (or finish a deferred one), complete the oldest work of an
// asynchronous node's append or apply thread, or (when there is none of
// these, and sometimes anyway) advance time by a tick.
func (s *Sim) work() {
	due := s.bus.dueCount(s.tick)
	var ready []*simNode
	for _, n := range s.nodes {
		if n.node != nil && (n.pending != nil || n.node.HasReady()) {
			ready = append(ready, n)
		}
	}
	local := s.dueLocalThreads()
	choices := len(ready) + len(local)
	if due > 0 {
		choices++
	}
	// Time may move on while work is pending, but never past a message
	// that is already overdue: that bounds how far the network can fall
	// behind, whatever the cluster size and load.
	if choices == 0 || (!s.bus.anyOverdue(s.tick) && s.rng.Float64() < s.opts.TickWhileBusyProb) {
		s.doTick()
		return
	}
	k := s.rng.Intn(choices)
	if due > 0 {
		if k == 0 {
			s.deliverNext(due)
			return
		}
		k--
	}
	if k >= len(ready) {
		s.runLocalThread(local[k-len(ready)])
		return
	}
	if n := ready[k]; n.pending != nil {
		s.finishReady(n)
	} else {
		s.handleReady(n)
	}
}

// startNode creates a new incarnation of n over its storage, restoring the
// state machine from the storage's snapshot.
func (s *Sim) startNode(n *simNode) error {
	if err := s.startDisk(n); err != nil {
		return err
	}
	n.incarnation++
	n.sm = s.opts.NewStateMachine(n.id)
	if s.clients != nil {
		n.sm = newKVMachine(n.sm)
	}
	n.applied, n.chain, n.confState = 0, 0, pb.ConfState{}
	snap, err := n.storage.Snapshot()
	if err != nil {
		return err
	}
	if !raft.IsEmptySnap(snap) {
		s.restoreStateMachine(n, snap)
	}
	n.restoredIndex = n.applied
	logger := s.opts.RaftLogger
	if logger == nil {
		logger = quietLogger{}
	}
	var storage raft.Storage = n.storage
	if n.disk != nil {
		storage = n.disk.engine.Storage(1)
		n.disk.fs.SetFaults(s.diskFaults())
	}
	cfg := &raft.Config{
		ID:              n.id,
		ElectionTick:    s.opts.ElectionTick,
		HeartbeatTick:   s.opts.HeartbeatTick,
		Storage:         storage,
		Applied:         0,
		MaxSizePerMsg:   s.opts.MaxSizePerMsg,
		MaxInflightMsgs: s.opts.MaxInflightMsgs,
		CheckQuorum:     s.opts.CheckQuorum,
		PreVote:         s.opts.PreVote,
		ReadOnlyOption:  s.opts.ReadOnlyOption,
		LeaseDriftTicks: s.opts.LeaseDriftTicks,
		Logger:          logger,
		Rand:            rand.New(rand.NewSource(s.rng.Int63())),
	}
	cfg.StepDownOnRemoval = s.opts.StepDownOnRemoval
	cfg.AsyncStorageWrites = n.async != nil
	node, err := s.opts.NodeFactory(cfg)
	if err != nil {
		return fmt.Errorf("raftsim: starting node %d: %w", n.id, err)
	}
	n.node = node
	n.status = raft.BasicStatus{}
	n.slowUntil = 0
	return nil
}

// crash discards n's node incarnation and everything it had not persisted.
func (s *Sim) crash(n *simNode) {
	s.discardLocalWork(n)
	n.node = nil
	n.pending = nil
	n.sm = nil
	n.status = raft.BasicStatus{}
	s.crashDisk(n)
}

// halted reports whether n's disk failed during the current event: the
// node must not act on what it was persisting, and crashes at the end of
// the event.
func (n *simNode) halted() bool { return n.disk != nil && n.disk.halted != nil }

func (s *Sim) crashMidReady(n *simNode, at crashPoint) {
	s.res.Faults[FaultCrashMidReady]++
	s.crash(n)
	s.tracef("node %d crashed %s", n.id, crashPointNames[at])
}
