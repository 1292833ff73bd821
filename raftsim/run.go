package raftsim

import (
	"fmt"
	"strings"
)

// Result counts what happened in a run.
type Result struct {
	// Seed is Options.Seed.
	Seed int64
	// Events is the number of events, from the start to the finish.
	Events int
	// Ticks is the virtual time at the end.
	Ticks int64
	// Proposals counts proposals made, ProposalsDropped those a node
	// refused at once (e.g. no leader known).
	Proposals        int
	ProposalsDropped int
	// Commits is the highest log index any node applied.
	Commits int
	// Applied counts entries applied, summed over nodes and incarnations.
	Applied int
	// Delivered counts messages delivered.
	Delivered int
	// SnapshotsSent counts MsgSnap messages leaders sent, and
	// SnapshotsInstalled the snapshots nodes received in a Ready and
	// installed.
	SnapshotsSent      int
	SnapshotsInstalled int
	// LeaderChanges counts the times a node became leader of a new term.
	LeaderChanges int
	// Faults counts injected faults by kind; kinds that never happened are
	// absent. Iterate over AllFaultKinds for a stable order.
	Faults map[FaultKind]int
	// LivenessTicks is how long the healed cluster took to commit the
	// liveness probe on every node.
	LivenessTicks int64
	// ReadsServed counts ReadIndex reads that returned a value (those
	// issued are Faults[FaultReadIndex]), and ReadChecksUnknown the
	// linearizability checks that ran out of time.
	ReadsServed       int
	ReadChecksUnknown int
	// ConfChangesApplied counts the configurations the cluster went
	// through (conf change entries applied, bootstrap excluded), and
	// TransfersSucceeded the leader transfers whose transferee won.
	ConfChangesApplied int
	TransfersSucceeded int
}

// Run simulates one run: the cluster starts, Options.Steps events of the
// fault phase follow, then (unless SkipLiveness) the liveness phase, and
// finally an EventFinish. It returns the counters and, if an invariant
// failed, a *Violation; other errors mean the Options were unusable.
func Run(opts Options) (Result, error) {
	s, err := New(opts)
	if err != nil {
		if s == nil {
			return Result{}, err
		}
		return s.Result(), err
	}
	for i := 0; i < s.opts.Steps; i++ {
		if err := s.Step(); err != nil {
			return s.Result(), err
		}
	}
	if !s.opts.SkipLiveness {
		if err := s.CheckLiveness(); err != nil {
			return s.Result(), err
		}
	}
	if err := s.Finish(); err != nil {
		return s.Result(), err
	}
	return s.Result(), nil
}

// do runs action as one event and checks the invariants after it.
func (s *Sim) do(action func()) (err error) {
	if s.violation != nil {
		return s.violation
	}
	defer s.guard(&err)
	action()
	return s.endEvent()
}

// Crash crashes node id (if it is up) as one event: its node incarnation and
// everything it had not persisted are lost; its storage survives.
func (s *Sim) Crash(id uint64) error {
	n := s.node(id)
	if n == nil || n.node == nil {
		return nil
	}
	return s.do(func() { s.crashNode(n) })
}

// Restart starts a new incarnation of node id (if it is down, and not
// retired from the cluster) over its storage, as one event. The state
// machine is restored from the storage's snapshot and the node applies its
// committed entries again.
func (s *Sim) Restart(id uint64) error {
	n := s.node(id)
	if n == nil || n.node != nil || n.retired {
		return nil
	}
	return s.do(func() {
		if err := s.restart(n); err != nil {
			panic(contractError{err})
		}
	})
}

// Propose proposes data on node id as one event. It reports whether the
// node accepted the proposal, which does not mean it will commit.
func (s *Sim) Propose(id uint64, data []byte) (bool, error) {
	n := s.node(id)
	if n == nil || n.node == nil {
		return false, nil
	}
	ok := false
	err := s.do(func() { ok = s.propose(n, data) })
	return ok, err
}

// Heal restores every link and brings slow nodes back to speed, as one
// event. Crashed nodes stay down (see Restart) and later Steps may inject
// faults again.
func (s *Sim) Heal() error {
	return s.do(func() {
		s.beginEvent(EventNetwork, 0)
		s.healNetwork()
		s.traceText("heal: all links restored, no slow nodes")
	})
}

// Partition cuts every link between the nodes in side and the others, in
// both directions, as one event.
func (s *Sim) Partition(side ...uint64) error {
	return s.do(func() {
		s.beginEvent(EventNetwork, 0)
		in := [MaxNodes + 1]bool{}
		for _, id := range side {
			if s.node(id) != nil {
				in[id] = true
			}
		}
		s.cutBetween(in)
	})
}

// CutLink cuts the link from node from to node to, in that direction only,
// as one event.
func (s *Sim) CutLink(from, to uint64) error {
	return s.do(func() {
		s.beginEvent(EventNetwork, 0)
		if s.node(from) != nil && s.node(to) != nil && from != to {
			s.blocked[from][to] = true
			s.tracef("cut link %d->%d (one way)", from, to)
		}
	})
}

// endFaults turns every fault off for the rest of the run, heals the
// network (one event) and restarts every crashed node (one event each).
func (s *Sim) endFaults() error {
	s.faultsOn = false
	err := s.do(func() {
		s.beginEvent(EventNetwork, 0)
		s.healNetwork()
		s.traceText("end of faults: all links restored, no slow nodes, crashed nodes restart")
		if !s.opts.PreVote {
			// Without PreVote, nodes whose clocks run fast and whose logs
			// are behind can keep every up-to-date node from timing out:
			// each of their campaigns resets the others' election timers
			// and none of them can win (seeds 19450 and 35180 of a
			// 100,000-seed sweep, rates 1.5). Raft's liveness rests on
			// comparable timeouts there, so the check runs on equal clocks.
			for _, n := range s.nodes {
				n.clockRate, n.clockAcc = 0, 0
			}
			s.traceText("end of faults: without PreVote, every clock runs at the same rate")
		}
		s.retireDue(true)
	})
	if err != nil {
		return err
	}
	for _, n := range s.nodes {
		if d := n.disk; d != nil {
			d.fs.SetFaults(s.diskFaults())
			d.fs.CrashAfter(0)
			d.armed = false
		}
	}
	for _, n := range s.nodes {
		if err := s.Restart(n.id); err != nil {
			return err
		}
		if n.node == nil && n.disk != nil && !n.retired {
			// Its start found the damage injected while it was down, which
			// is repaired now: the second start succeeds.
			if err := s.Restart(n.id); err != nil {
				return err
			}
		}
	}
	return nil
}

// CheckLiveness ends the fault phase for good (no more faults, every link
// healed, every crashed node restarted, removed nodes retired) and then
// requires that within Options.LivenessTicks a leader emerges and a proposal
// made on it is applied by every member of the latest configuration.
// Proposals are retried every two election timeouts
// until one is applied somewhere. Failure is an InvLiveness violation.
func (s *Sim) CheckLiveness() (err error) {
	if err := s.endFaults(); err != nil {
		return err
	}
	if s.violation != nil {
		return s.violation
	}
	defer s.guard(&err)
	start := s.tick
	deadline := start + int64(s.opts.LivenessTicks)
	s.probe, s.probeIndex = "liveness-probe-", 0
	proposedAt, attempts := int64(-1), 0
	// Time only moves when the nodes let it (see work); a node that always
	// has a Ready could stop it, so the events are bounded too.
	maxEvents := s.res.Events + livenessEventsPerTick*s.opts.Nodes*s.opts.LivenessTicks
	for s.tick <= deadline {
		if s.res.Events > maxEvents {
			return s.fail(InvLiveness, fmt.Errorf("time stopped: %d events without reaching tick %d: %s",
				livenessEventsPerTick*s.opts.Nodes*s.opts.LivenessTicks, deadline, s.describeCluster()))
		}
		if s.probeIndex != 0 && s.allApplied(s.probeIndex) {
			s.res.LivenessTicks = s.tick - start
			s.tracef("liveness: probe at index %d applied everywhere after %d ticks", s.probeIndex, s.res.LivenessTicks)
			return nil
		}
		if s.probeIndex == 0 && (proposedAt < 0 || s.tick-proposedAt >= 2*int64(s.opts.ElectionTick)) {
			if l := s.leader(); l != nil {
				attempts++
				s.propose(l, []byte(fmt.Sprintf("%s%d", s.probe, attempts)))
				proposedAt = s.tick
				if err := s.endEvent(); err != nil {
					return err
				}
				continue
			}
		}
		s.work()
		if err := s.endEvent(); err != nil {
			return err
		}
	}
	return s.fail(InvLiveness, fmt.Errorf("after %d ticks of a healed network: %s", s.opts.LivenessTicks, s.describeCluster()))
}

// livenessEventsPerTick, times the cluster size, bounds the events of one
// tick in the liveness phase.
const livenessEventsPerTick = 1000

func (s *Sim) allApplied(index uint64) bool {
	for _, n := range s.nodes {
		if !s.isCurrentMember(n.id) {
			continue // removed, or added by a change that never took effect
		}
		if n.node == nil || n.applied < index {
			return false
		}
	}
	return true
}

// describeCluster renders every node's role, term, commit and applied
// index on one line.
func (s *Sim) describeCluster() string {
	var parts []string
	if s.probeIndex == 0 {
		parts = append(parts, "no probe proposal was applied")
	} else {
		parts = append(parts, fmt.Sprintf("probe at index %d", s.probeIndex))
	}
	for _, n := range s.nodes {
		if n.node == nil {
			parts = append(parts, fmt.Sprintf("node %d down", n.id))
			continue
		}
		parts = append(parts, fmt.Sprintf("node %d %s term %d commit %d applied %d",
			n.id, n.status.RaftState, n.status.Term, n.status.Commit, n.applied))
	}
	return strings.Join(parts, "; ")
}

// Finish ends the run with an EventFinish, at which invariants make their
// whole-cluster checks (the built-in log matching compares every pair of
// logs).
func (s *Sim) Finish() error {
	return s.do(func() {
		s.beginEvent(EventFinish, 0)
		s.tracef("finish: %s", s.describeCluster())
	})
}
