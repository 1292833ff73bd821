package raftsim

import (
	"errors"
	"fmt"
	"strings"

	"github.com/pontoon-raft/raft"
	"github.com/pontoon-raft/raft/wal"
)

// The per-event actions of Step. Each returns false, doing nothing, when it
// does not apply (no live node to crash, no leader to isolate, ...), and
// Step then does ordinary work instead.

// liveNodes returns the nodes that are up, or down (but not retired) when up
// is false, in ID order.
func (s *Sim) liveNodes(up bool) []*simNode {
	var out []*simNode
	for _, n := range s.nodes {
		if (n.node != nil) == up && !n.retired {
			out = append(out, n)
		}
	}
	return out
}

// pick returns a random element of ns, or nil.
func (s *Sim) pick(ns []*simNode) *simNode {
	if len(ns) == 0 {
		return nil
	}
	return ns[s.rng.Intn(len(ns))]
}

func (s *Sim) crashRandom() bool {
	n := s.pick(s.liveNodes(true))
	if n == nil {
		return false
	}
	s.crashNode(n)
	return true
}

// crashNode crashes the live node n as one event.
func (s *Sim) crashNode(n *simNode) {
	s.beginEvent(EventCrash, n.id)
	s.res.Faults[FaultCrash]++
	s.crash(n)
	s.tracef("node %d crashed", n.id)
}

func (s *Sim) restartRandom() bool {
	n := s.pick(s.liveNodes(false))
	if n == nil {
		return false
	}
	if err := s.restart(n); err != nil {
		panic(contractError{err})
	}
	return true
}

// restart starts a new incarnation of the crashed node n as one event.
func (s *Sim) restart(n *simNode) error {
	s.beginEvent(EventRestart, n.id)
	s.res.Faults[FaultRestart]++
	if err := s.startNode(n); errors.Is(err, errStartFailed) {
		s.tracef("node %d failed to start: %v", n.id, err)
		return nil
	} else if err != nil {
		return err
	}
	hs, _, _ := n.storage.InitialState()
	last, _ := n.storage.LastIndex()
	s.tracef("node %d restarted (incarnation %d, HardState{%s}, last index %d, applied %d)",
		n.id, n.incarnation, raft.DescribeHardState(hs), last, n.applied)
	return nil
}

func (s *Sim) partitionRandom() bool {
	if len(s.nodes) < 2 {
		return false
	}
	order := s.rng.Perm(len(s.nodes))
	cut := 1 + s.rng.Intn(len(s.nodes)-1)
	var side [MaxNodes + 1]bool
	for _, i := range order[:cut] {
		side[i+1] = true
	}
	s.beginEvent(EventNetwork, 0)
	s.res.Faults[FaultPartition]++
	s.cutBetween(side)
	return true
}

// cutBetween cuts every link between the nodes marked in side and the
// others, both ways.
func (s *Sim) cutBetween(side [MaxNodes + 1]bool) {
	var a, b []string
	for _, x := range s.ids {
		if side[x] {
			a = append(a, fmt.Sprint(x))
		} else {
			b = append(b, fmt.Sprint(x))
		}
		for _, y := range s.ids {
			if side[x] != side[y] {
				s.blocked[x][y] = true
			}
		}
	}
	s.tracef("partition {%s} | {%s}", strings.Join(a, " "), strings.Join(b, " "))
}

func (s *Sim) oneWayRandom() bool {
	if len(s.nodes) < 2 {
		return false
	}
	from := s.ids[s.rng.Intn(len(s.ids))]
	to := s.ids[s.rng.Intn(len(s.ids)-1)]
	if to >= from {
		to++
	}
	s.beginEvent(EventNetwork, 0)
	s.res.Faults[FaultOneWay]++
	s.blocked[from][to] = true
	s.tracef("cut link %d->%d (one way)", from, to)
	return true
}

// leader returns the live node that leads the highest term, or nil.
func (s *Sim) leader() *simNode {
	var best *simNode
	for _, n := range s.nodes {
		if n.node != nil && n.status.RaftState == raft.StateLeader &&
			(best == nil || n.status.Term > best.status.Term) {
			best = n
		}
	}
	return best
}

func (s *Sim) isolateLeader() bool {
	l := s.leader()
	if l == nil || len(s.nodes) < 2 {
		return false
	}
	s.beginEvent(EventNetwork, l.id)
	s.res.Faults[FaultIsolateLeader]++
	for _, x := range s.ids {
		if x != l.id {
			s.blocked[x][l.id] = true
			s.blocked[l.id][x] = true
		}
	}
	s.tracef("isolate leader %d (term %d)", l.id, l.status.Term)
	return true
}

func (s *Sim) heal() bool {
	s.beginEvent(EventNetwork, 0)
	s.res.Faults[FaultHeal]++
	s.healNetwork()
	s.traceText("heal: all links restored, no slow nodes")
	return true
}

// healNetwork restores every link, brings slow nodes back to speed and
// ends a quiescence. Clock rates within the drift bound stay.
func (s *Sim) healNetwork() {
	s.blocked = [MaxNodes + 1][MaxNodes + 1]bool{}
	for _, n := range s.nodes {
		n.slowUntil = 0
	}
	s.quiescedUntil = 0
}

func (s *Sim) slowRandom() bool {
	if s.opts.ReadOnlyOption == raft.ReadOnlyLeaseBased && s.clients != nil {
		// A slow node's clock drifts without bound, and lease-based reads
		// are only safe while drift is bounded (thesis §6.4.1): a slow
		// leader keeps serving reads from a lease the others consider
		// expired.
		return false
	}
	n := s.pick(s.nodes)
	s.beginEvent(EventSlow, n.id)
	s.res.Faults[FaultSlow]++
	ticks := int64(2*s.opts.ElectionTick + s.rng.Intn(10*s.opts.ElectionTick))
	n.slowUntil = s.tick + ticks
	s.tracef("node %d slow (1 tick in %d) for %d ticks", n.id, s.opts.Faults.SlowFactor, ticks)
	return true
}

// snapshotRandom makes a random live node snapshot its state machine at its
// applied index and compact its log up to a random point at or below it.
func (s *Sim) snapshotRandom() bool {
	var candidates []*simNode
	for _, n := range s.liveNodes(true) {
		snap, _ := n.storage.Snapshot()
		if n.applied > snap.Metadata.Index {
			candidates = append(candidates, n)
		}
	}
	n := s.pick(candidates)
	if n == nil {
		return false
	}
	return s.snapshotNode(n)
}

// snapshotNode snapshots n's state machine at its applied index and
// compacts its log, as one event. It returns false, doing nothing, if the
// storage already holds a snapshot at or above that index, or (see
// commitDurable) does not yet hold a commit index that high.
func (s *Sim) snapshotNode(n *simNode) bool {
	if snap, _ := n.storage.Snapshot(); n.applied <= snap.Metadata.Index || !s.commitDurable(n) {
		return false
	}
	s.beginEvent(EventSnapshot, n.id)
	u := wal.Update{LocalSnapshot: s.localSnapshot(n)}
	compactIndex := n.applied - min(n.applied, uint64(s.rng.Intn(s.opts.Faults.CompactLagEntries+1)))
	if first, _ := n.storage.FirstIndex(); compactIndex >= first {
		u.CompactIndex = compactIndex
	}
	if !s.persist(n, u, fmt.Sprintf("snapshot at applied index %d, compaction to %d", n.applied, u.CompactIndex)) {
		return true
	}
	s.res.Faults[FaultSnapshot]++
	if u.CompactIndex != 0 {
		s.res.Faults[FaultCompact]++
		s.tracef("node %d snapshot at %d, compacted to %d", n.id, n.applied, compactIndex)
	} else {
		s.tracef("node %d snapshot at %d", n.id, n.applied)
	}
	return true
}

func (s *Sim) proposeRandom() bool {
	n := s.pick(s.liveNodes(true))
	if n == nil {
		return false
	}
	s.proposalSeq++
	if s.clients != nil {
		s.proposeWrite(n)
		return true
	}
	s.propose(n, []byte(fmt.Sprintf("p%d", s.proposalSeq)))
	return true
}

// propose proposes data on the live node n as one event and reports whether
// the node accepted it.
func (s *Sim) propose(n *simNode, data []byte) bool {
	id := n.id
	s.beginEvent(EventPropose, id)
	s.res.Proposals++
	if err := n.node.Propose(data); err != nil {
		s.res.ProposalsDropped++
		s.tracef("propose %q on node %d: %v", data, id, err)
		return false
	}
	s.tracef("propose %q on node %d", data, id)
	return true
}

func snapshotStatusName(st raft.SnapshotStatus) string {
	if st == raft.SnapshotFinish {
		return "finish"
	}
	return "failure"
}
