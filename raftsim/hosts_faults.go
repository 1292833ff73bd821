package raftsim

import (
	"errors"
	"fmt"
	"slices"

	"github.com/pontoon-raft/raft/host"
	"github.com/pontoon-raft/raft/wal/faultfs"
)

// The faults and client operations of RunHosts. Each returns false, doing
// nothing, when it does not apply.

func (s *hostSim) pickLive() *hostNode {
	live := s.liveNodes()
	if len(live) == 0 {
		return nil
	}
	return live[s.rng.Intn(len(live))]
}

func (s *hostSim) crashRandom() bool {
	n := s.pickLive()
	if n == nil || len(s.liveNodes()) == 1 {
		return false
	}
	s.res.Crashes++
	s.crash(n, "power loss")
	return true
}

// stopRandom stops a running host cleanly.
func (s *hostSim) stopRandom() bool {
	n := s.pickLive()
	if n == nil || len(s.liveNodes()) == 1 {
		return false
	}
	s.res.Stops++
	err := n.h.Stop()
	n.h = nil
	s.tracef("host %d stopped (%v)", n.id, err)
	return true
}

// armCrashRandom makes a running host's file system crash inside one of
// its next few mutating operations, possibly in the middle of a write.
func (s *hostSim) armCrashRandom() bool {
	n := s.pickLive()
	if n == nil || n.fs.Down() {
		return false
	}
	s.res.MidIOCrashes++
	ops := uint64(1 + s.rng.Intn(6))
	n.fs.CrashAfter(ops)
	s.tracef("host %d: its file system will crash within %d writes", n.id, ops)
	return true
}

func (s *hostSim) restartRandom() bool {
	var down []*hostNode
	for _, n := range s.nodes {
		if n.h == nil {
			down = append(down, n)
		}
	}
	if len(down) == 0 {
		return false
	}
	n := down[s.rng.Intn(len(down))]
	if n.fs.Down() {
		n.fs.Crash()
	}
	n.fs.SetFaults(s.fsFaults())
	s.res.Restarts++
	if err := s.start(n); err != nil {
		// Opening a host writes (its incarnation), so the disk's injected
		// faults may fail it; the host stays down and is tried again.
		s.res.FailedStarts++
		s.tracef("host %d failed to start: %v", n.id, err)
		return true
	}
	s.tracef("host %d restarted (groups %v)", n.id, n.h.Groups())
	return true
}

func (s *hostSim) fsFaults() faultfs.Faults {
	return faultfs.Faults{SyncErrorRate: s.o.Faults.SyncErrorRate}
}

func (s *hostSim) partitionRandom() bool {
	if len(s.nodes) < 2 {
		return false
	}
	var side []uint64
	for _, i := range s.rng.Perm(len(s.nodes))[:1+s.rng.Intn(len(s.nodes)-1)] {
		side = append(side, uint64(i+1))
	}
	slices.Sort(side)
	s.net.Partition(side...)
	s.res.Partitions++
	s.tracef("partition %v | the rest", side)
	return true
}

func (s *hostSim) heal() bool {
	s.net.Heal()
	s.tracef("heal")
	return true
}

func (s *hostSim) transferRandom() bool {
	g := uint64(1 + s.rng.Intn(s.o.Groups))
	l := s.leaderOf(g)
	if l == nil {
		return false
	}
	st, _ := l.h.Status(g)
	var others []uint64
	for _, id := range st.Config.Voters {
		if id != l.id {
			others = append(others, id)
		}
	}
	if len(others) == 0 {
		return false
	}
	to := others[s.rng.Intn(len(others))]
	if l.h.TransferLeadership(g, to) == nil {
		s.res.Transfers++
		s.tracef("group %d: transfer leadership %d -> %d", g, l.id, to)
	}
	return true
}

// replicaMove moves a replica of a group: the new one is added (as a
// learner, then promoted), then an old one is removed and its host drops
// the group.
type replicaMove struct {
	group, to, from uint64
	req             *host.Request
	removing        bool
	// leader is the host the request was made on, in its incarnation.
	leader      *hostNode
	incarnation int
}

func (s *hostSim) moveRandom() bool {
	g := uint64(1 + s.rng.Intn(s.o.Groups))
	if s.moves[g] != nil || len(s.nodes) <= s.o.Replicas {
		return false
	}
	l := s.leaderOf(g)
	if l == nil {
		return false
	}
	st, _ := l.h.Status(g)
	var candidates []uint64
	for _, n := range s.nodes {
		if n.h != nil && !slices.Contains(configMembers(st.Config), n.id) && !slices.Contains(n.h.Groups(), g) {
			candidates = append(candidates, n.id)
		}
	}
	if len(candidates) == 0 {
		return false
	}
	to := candidates[s.rng.Intn(len(candidates))]
	if err := s.node(to).h.StartGroup(g, nil); err != nil {
		return false
	}
	m := &replicaMove{group: g, to: to, req: l.h.SubmitAddReplica(g, to), leader: l, incarnation: l.incarnation}
	s.moves[g] = m
	s.tracef("group %d: adding a replica on host %d (leader %d)", g, to, l.id)
	return true
}

// followMoves moves the replica moves on as their requests complete.
func (s *hostSim) followMoves() {
	for _, g := range sortedUint64Keys(s.moves) {
		m := s.moves[g]
		select {
		case <-m.req.Done():
		default:
			continue
		}
		_, err := m.req.Result()
		switch {
		case err != nil && !m.removing:
			s.tracef("group %d: adding host %d: %v", g, m.to, err)
			delete(s.moves, g)
		case err != nil:
			s.tracef("group %d: removing host %d: %v", g, m.from, err)
			delete(s.moves, g)
		case !m.removing:
			l := s.leaderOf(g)
			if l == nil {
				delete(s.moves, g)
				continue
			}
			st, _ := l.h.Status(g)
			var victims []uint64
			for _, id := range st.Config.Voters {
				if id != l.id && id != m.to {
					victims = append(victims, id)
				}
			}
			if len(victims) == 0 {
				delete(s.moves, g)
				continue
			}
			m.from = victims[s.rng.Intn(len(victims))]
			m.removing = true
			m.req = l.h.SubmitRemoveReplica(g, m.from)
			m.leader, m.incarnation = l, l.incarnation
			s.tracef("group %d: host %d added; removing host %d", g, m.to, m.from)
		default:
			s.res.ReplicasMoved++
			s.tracef("group %d: replica moved from host %d to host %d", g, m.from, m.to)
			delete(s.moves, g)
		}
	}
	s.reconcile()
}

// outOfConfigTicks is how long a replica must be missing from its group's
// configuration before its host drops it: a change adding it may be
// committed but not applied yet.
const outOfConfigTicks = 100

// reconcile makes the replicas match the configurations, as an operator
// would: a request that failed (its leader changed) may still have taken
// effect, so configurations, not outcomes, decide. Every running member of
// a group runs a replica; a replica long out of its group's configuration
// is dropped; a group grown beyond Replicas voters loses one.
func (s *hostSim) reconcile() {
	for g := uint64(1); g <= uint64(s.o.Groups); g++ {
		l := s.leaderOf(g)
		if l == nil {
			continue
		}
		st, _ := l.h.Status(g)
		if st.Applied != st.Commit {
			continue
		}
		members := configMembers(st.Config)
		for _, n := range s.liveNodes() {
			has := slices.Contains(n.h.Groups(), g)
			in := slices.Contains(members, n.id)
			key := [2]uint64{n.id, g}
			switch {
			case in && !has:
				if err := n.h.StartGroup(g, nil); err == nil {
					s.tracef("host %d: restarted its missing replica of group %d", n.id, g)
				}
			case !in && has:
				if s.outOfConfig[key] == 0 {
					s.outOfConfig[key] = s.ticks
				} else if s.ticks-s.outOfConfig[key] >= outOfConfigTicks && s.moves[g] == nil {
					if err := n.h.RemoveGroup(g); err == nil {
						s.tracef("host %d: dropped its replica of group %d", n.id, g)
					}
					delete(s.outOfConfig, key)
				}
			default:
				delete(s.outOfConfig, key)
			}
		}
		if s.moves[g] == nil && len(st.Config.Voters) > s.o.Replicas && len(st.Config.VotersOutgoing) == 0 {
			for _, id := range st.Config.Voters {
				if id != l.id {
					s.moves[g] = &replicaMove{group: g, from: id, removing: true, req: l.h.SubmitRemoveReplica(g, id),
						leader: l, incarnation: l.incarnation}
					s.tracef("group %d: %d voters; removing host %d", g, len(st.Config.Voters), id)
					break
				}
			}
		}
	}
	// A move whose leader crashed never completes.
	for _, g := range sortedUint64Keys(s.moves) {
		if m := s.moves[g]; m.leader != nil && (m.leader.h == nil || m.leader.incarnation != m.incarnation) {
			s.tracef("group %d: the host leading the move crashed", g)
			delete(s.moves, g)
		}
	}
}

// clientWrite is a write a simulated client made.
type clientWrite struct {
	op   int
	req  *host.Request
	tick int
	done bool
	err  error
}

func (s *hostSim) writeRandom() bool {
	return s.write(uint64(1+s.rng.Intn(s.o.Groups)), false) != nil
}

// write proposes a write of a random key of group on a random running
// host with a replica of it.
func (s *hostSim) write(group uint64, probe bool) *clientWrite {
	n := s.pickReplica(group)
	if n == nil {
		return nil
	}
	s.clientSeq++
	key := fmt.Sprintf("k%d", s.rng.Intn(kvKeys))
	value := fmt.Sprintf("v%d", s.clientSeq)
	w := &clientWrite{req: n.h.SubmitPropose(group, []byte(key+"="+value)), tick: s.ticks}
	w.op = s.checker.invokeWrite(n, group, key, value, w)
	if !probe {
		s.res.Writes++
	}
	return w
}

func (s *hostSim) readRandom() bool {
	g := uint64(1 + s.rng.Intn(s.o.Groups))
	n := s.pickReplica(g)
	if n == nil || s.o.NewStateMachine != nil {
		return false
	}
	s.res.Reads++
	key := fmt.Sprintf("k%d", s.rng.Intn(kvKeys))
	s.checker.invokeRead(n, g, key, n.h.SubmitRead(g))
	return true
}

// pickReplica returns a random running host with a replica of group.
func (s *hostSim) pickReplica(group uint64) *hostNode {
	var ns []*hostNode
	for _, n := range s.liveNodes() {
		if slices.Contains(n.h.Groups(), group) {
			ns = append(ns, n)
		}
	}
	if len(ns) == 0 {
		return nil
	}
	return ns[s.rng.Intn(len(ns))]
}

// errWriteLost reports an acknowledged write that a replica does not hold.
var errWriteLost = errors.New("an acknowledged write is lost")
