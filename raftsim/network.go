package raftsim

import (
	"github.com/pontoon-raft/raft"
	pb "github.com/pontoon-raft/raft/raftpb"
)

// inFlight is a message on the simulated network.
type inFlight struct {
	m pb.Message
	// deliverAt is the first tick at which the message may be delivered.
	deliverAt int64
	// seq orders messages sent at the same tick: lower is older.
	seq uint64
	// senderIncarnation identifies the sender's RawNode, so that a
	// snapshot report never reaches a later incarnation.
	senderIncarnation int
}

// bus is the simulated network: messages waiting for their delivery tick.
// It holds at most maxInFlightMessages. Messages are kept in send order;
// the bus is small enough that linear scans are cheaper than a heap.
type bus struct {
	msgs    []inFlight
	nextSeq uint64
}

// add queues m for delivery at tick deliverAt. It returns false, queueing
// nothing, when the bus is full.
func (b *bus) add(m pb.Message, deliverAt int64, incarnation int) bool {
	if len(b.msgs) >= maxInFlightMessages {
		return false
	}
	b.msgs = append(b.msgs, inFlight{m: m, deliverAt: deliverAt, seq: b.nextSeq, senderIncarnation: incarnation})
	b.nextSeq++
	return true
}

// dueCount returns how many messages may be delivered at tick now.
func (b *bus) dueCount(now int64) int {
	n := 0
	for i := range b.msgs {
		if b.msgs[i].deliverAt <= now {
			n++
		}
	}
	return n
}

// anyOverdue reports whether a message due before tick now is still
// waiting.
func (b *bus) anyOverdue(now int64) bool {
	for i := range b.msgs {
		if b.msgs[i].deliverAt < now {
			return true
		}
	}
	return false
}

// oldestDue returns the position of the due message with the earliest
// delivery tick (ties: sent first), or -1.
func (b *bus) oldestDue(now int64) int {
	best := -1
	for i := range b.msgs {
		f := &b.msgs[i]
		if f.deliverAt > now {
			continue
		}
		if best < 0 || f.deliverAt < b.msgs[best].deliverAt {
			best = i
		}
	}
	return best
}

// nthDue returns the position of the k-th due message (0-based, in send
// order), or -1.
func (b *bus) nthDue(now int64, k int) int {
	for i := range b.msgs {
		if b.msgs[i].deliverAt <= now {
			if k == 0 {
				return i
			}
			k--
		}
	}
	return -1
}

// remove takes the message at position i off the bus, keeping the order of
// the others.
func (b *bus) remove(i int) inFlight {
	f := b.msgs[i]
	copy(b.msgs[i:], b.msgs[i+1:])
	b.msgs[len(b.msgs)-1] = inFlight{}
	b.msgs = b.msgs[:len(b.msgs)-1]
	return f
}

// deliverNext delivers one of the due messages: the oldest, or with
// ReorderProb a random one.
func (s *Sim) deliverNext(due int) {
	i := -1
	if s.faultsOn && due > 1 && s.opts.Faults.ReorderProb > 0 && s.rng.Float64() < s.opts.Faults.ReorderProb {
		i = s.bus.nthDue(s.tick, s.rng.Intn(due))
		s.res.Faults[FaultReorder]++
	} else {
		i = s.bus.oldestDue(s.tick)
	}
	f := s.bus.remove(i)
	m := f.m
	s.beginEvent(EventDeliver, m.To)
	s.ev.Message = &m
	to, from := s.node(m.To), s.node(m.From)
	desc := raft.DescribeMessage(m, nil)
	if to == nil || to.node == nil || (from != nil && s.blocked[m.From][m.To]) {
		s.res.Faults[FaultUndeliverable]++
		reason := "receiver down"
		if to != nil && to.node != nil {
			reason = "link cut"
		}
		s.tracef("undeliverable (%s): %s", reason, desc)
		if from != nil && from.node != nil && from.incarnation == f.senderIncarnation {
			from.node.ReportUnreachable(m.To)
		}
		if m.Type == pb.MsgSnap {
			s.pendingReports = append(s.pendingReports, snapshotReport{
				leader: m.From, to: m.To, incarnation: f.senderIncarnation, status: raft.SnapshotFailure})
		}
		return
	}
	s.res.Delivered++
	err := to.node.Step(m)
	if err != nil {
		s.tracef("deliver %s: %v", desc, err)
	} else {
		s.tracef("deliver %s", desc)
	}
	checkStep(to, m, err)
	if m.Type == pb.MsgSnap {
		s.pendingReports = append(s.pendingReports, snapshotReport{
			leader: m.From, to: m.To, incarnation: f.senderIncarnation, status: raft.SnapshotFinish})
	}
}

// send puts a message of node from on the network, applying the message
// faults.
func (s *Sim) send(from *simNode, m pb.Message) {
	f := &s.opts.Faults
	if s.faultsOn && f.DropProb > 0 && s.rng.Float64() < f.DropProb {
		s.res.Faults[FaultDrop]++
		s.tracef("drop %s", raft.DescribeMessage(m, nil))
		if m.Type == pb.MsgSnap {
			s.pendingReports = append(s.pendingReports, snapshotReport{
				leader: from.id, to: m.To, incarnation: from.incarnation, status: raft.SnapshotFailure})
		}
		return
	}
	delay := int64(0)
	if s.faultsOn && f.DelayProb > 0 && s.rng.Float64() < f.DelayProb {
		delay = 1 + int64(s.rng.Intn(f.MaxDelayTicks))
		s.res.Faults[FaultDelay]++
		s.tracef("delay %d ticks: %s", delay, raft.DescribeMessage(m, nil))
	}
	s.enqueue(from, m, delay)
	if s.faultsOn && f.DupProb > 0 && s.rng.Float64() < f.DupProb {
		delay := int64(s.rng.Intn(f.MaxDelayTicks + 1))
		s.res.Faults[FaultDup]++
		s.tracef("duplicate (delay %d ticks): %s", delay, raft.DescribeMessage(m, nil))
		s.enqueue(from, m, delay)
	}
}

func (s *Sim) enqueue(from *simNode, m pb.Message, delay int64) {
	if !s.bus.add(m, s.tick+delay, from.incarnation) {
		s.res.Faults[FaultOverflow]++
		s.tracef("bus full, lost %s", raft.DescribeMessage(m, nil))
	}
}
