package raftsim

import (
	"fmt"
	"strings"
)

// Node clocks. Every simulated tick, each live node's clock advances by its
// rate (ticks per simulated tick, in thousandths, carried over in an
// accumulator), so a node at rate 1.25 ticks five times in four simulated
// ticks. Rates change with Faults.ClockDriftProb; slow nodes
// (Faults.SlowNodeProb) tick only every SlowFactor simulated ticks. While the
// cluster is quiesced (Faults.QuiesceProb) a node's ticks are TickQuiesced
// calls, except for the rare early wake-up, a real Tick.

// rateUnit is the rate of a clock that ticks once per simulated tick.
const rateUnit = 1000

// EventQuiesce quiesced the whole cluster, EventClockDrift changed Node's
// clock rate.
const (
	EventQuiesce    EventKind = "quiesce"
	EventClockDrift EventKind = "clock-drift"
)

// clockTicks returns how many times n's clock ticks at this simulated tick.
func (s *Sim) clockTicks(n *simNode) int {
	if n.slowUntil > s.tick && s.tick%int64(s.opts.Faults.SlowFactor) != 0 {
		return 0
	}
	rate := n.clockRate
	if rate == 0 {
		rate = rateUnit
	}
	n.clockAcc += rate
	k := n.clockAcc / rateUnit
	n.clockAcc -= k * rateUnit
	return k
}

// doTick advances virtual time and ticks every live node as many times as
// its clock says: with Tick, or with TickQuiesced while the cluster is
// quiesced.
func (s *Sim) doTick() {
	s.tick++
	s.beginEvent(EventTick, 0)
	quiesced := s.tick <= s.quiescedUntil
	var notes []string
	for _, n := range s.nodes {
		if n.node == nil {
			continue
		}
		k := s.clockTicks(n)
		switch {
		case k == 0:
			notes = append(notes, fmt.Sprintf("%d not ticked", n.id))
		case k > 1:
			notes = append(notes, fmt.Sprintf("%d ticked %d times", n.id, k))
		}
		for i := 0; i < k; i++ {
			if quiesced && s.rng.Float64() >= s.opts.Faults.QuiesceWakeProb {
				n.node.TickQuiesced()
				continue
			}
			if quiesced {
				s.res.Faults[FaultWake]++
				notes = append(notes, fmt.Sprintf("%d wakes up", n.id))
			}
			n.node.Tick()
		}
	}
	text := "tick"
	if quiesced {
		text = "tick (quiesced)"
	}
	if len(notes) > 0 {
		text += " (" + strings.Join(notes, ", ") + ")"
	}
	s.traceText(text)
}

// quiesceCluster quiesces every node for one to five election timeouts.
func (s *Sim) quiesceCluster() bool {
	if s.tick < s.quiescedUntil {
		return false
	}
	ticks := int64(s.opts.ElectionTick * (1 + s.rng.Intn(5)))
	s.beginEvent(EventQuiesce, 0)
	s.res.Faults[FaultQuiesce]++
	s.quiescedUntil = s.tick + ticks
	s.tracef("quiesce every node for %d ticks", ticks)
	return true
}

// driftClockRandom gives a random node a clock rate in [1, MaxClockRate].
func (s *Sim) driftClockRandom() bool {
	n := s.pick(s.nodes)
	maxRate := int(s.opts.Faults.MaxClockRate * rateUnit)
	rate := rateUnit
	if maxRate > rateUnit {
		rate += s.rng.Intn(maxRate - rateUnit + 1)
	}
	s.beginEvent(EventClockDrift, n.id)
	s.res.Faults[FaultClockDrift]++
	n.clockRate = rate
	s.tracef("node %d clock runs at %d.%03d ticks per tick", n.id, rate/rateUnit, rate%rateUnit)
	return true
}

// SetClockRate makes node id's clock count rate ticks per simulated tick
// from now on, as one event. Rates need not be whole: 1.25 ticks five
// times in four simulated ticks. A rate must be in (0, 10]. Clocks that
// drift apart by more than the nodes' LeaseDriftTicks tolerates break the
// premise of lease-based reads, which is what the simulator then shows.
func (s *Sim) SetClockRate(id uint64, rate float64) error {
	n := s.node(id)
	if n == nil || !(rate > 0 && rate <= 10) {
		return invalid("SetClockRate(%d, %v): no such node, or a rate outside (0, 10]", id, rate)
	}
	return s.do(func() {
		s.beginEvent(EventClockDrift, id)
		n.clockRate = int(rate*rateUnit + 0.5)
		s.tracef("node %d clock runs at %d.%03d ticks per tick", id, n.clockRate/rateUnit, n.clockRate%rateUnit)
	})
}

// Quiesce makes every node's next ticks TickQuiesced calls for the given
// number of simulated ticks (see Faults.QuiesceProb), as one event. Heal
// ends a quiescence early.
func (s *Sim) Quiesce(ticks int) error {
	if ticks < 0 {
		return invalid("Quiesce(%d): negative", ticks)
	}
	return s.do(func() {
		s.beginEvent(EventQuiesce, 0)
		s.quiescedUntil = s.tick + int64(ticks)
		s.tracef("quiesce every node for %d ticks", ticks)
	})
}
