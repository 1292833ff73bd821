package transport

import (
	"fmt"
	"time"
)

// Faults are the random faults of a MemNetwork. Every decision is drawn
// from the network's seeded random source when a batch is sent, so a run
// is a function of the seed and the driver's calls. The zero value is a
// perfect network with no latency.
type Faults struct {
	// MinLatency and MaxLatency bound the transit time of a batch, drawn
	// uniformly. Batches of one class between two nodes stay in order
	// (like a TCP connection) unless DelayRate holds one back.
	MinLatency, MaxLatency time.Duration
	// DropRate is the probability that a message is lost silently, as on
	// a real network: the sender gets no ReportUnreachable for it.
	DropRate float64
	// DuplicateRate is the probability that a message is delivered twice;
	// the copy travels later in a batch of its own.
	DuplicateRate float64
	// DelayRate is the probability that a batch is held back by an extra
	// delay of up to MaxDelay, so later batches overtake it.
	DelayRate float64
	// MaxDelay bounds the extra delay of DelayRate.
	MaxDelay time.Duration
	// ReorderRate is the probability that the messages of a batch are
	// delivered in a shuffled order.
	ReorderRate float64
	// SnapshotFailRate is the probability that a snapshot stream breaks
	// after a random part of its body: the receiver's sink is aborted and
	// the sender told the snapshot failed.
	SnapshotFailRate float64
}

// validate returns an error naming the first field out of range.
func (f Faults) validate() error {
	rates := []struct {
		name string
		v    float64
	}{
		{"DropRate", f.DropRate}, {"DuplicateRate", f.DuplicateRate}, {"DelayRate", f.DelayRate},
		{"ReorderRate", f.ReorderRate}, {"SnapshotFailRate", f.SnapshotFailRate},
	}
	for _, r := range rates {
		if !(r.v >= 0 && r.v <= 1) { // also catches NaN
			return fmt.Errorf("%w: Faults.%s = %v, want a probability in [0, 1]", ErrInvalidConfig, r.name, r.v)
		}
	}
	switch {
	case f.MinLatency < 0:
		return fmt.Errorf("%w: Faults.MinLatency = %v is negative", ErrInvalidConfig, f.MinLatency)
	case f.MaxLatency < f.MinLatency:
		return fmt.Errorf("%w: Faults.MaxLatency = %v is below MinLatency = %v", ErrInvalidConfig, f.MaxLatency, f.MinLatency)
	case f.MaxDelay < 0:
		return fmt.Errorf("%w: Faults.MaxDelay = %v is negative", ErrInvalidConfig, f.MaxDelay)
	}
	return nil
}

// MemStats counts what a MemNetwork did, by kind of fault. Messages are
// counted one by one, batches where a fault applies to a whole batch.
type MemStats struct {
	// Sent counts messages accepted by Send (before any fault).
	Sent int
	// Delivered counts messages handed to a Handler, including duplicates
	// and snapshots.
	Delivered int
	// Dropped counts messages lost to DropRate.
	Dropped int
	// Duplicated counts extra copies made by DuplicateRate.
	Duplicated int
	// Delayed counts batches held back by DelayRate.
	Delayed int
	// Reordered counts batches shuffled by ReorderRate.
	Reordered int
	// Cut counts messages lost to a cut link or partition.
	Cut int
	// Down counts messages lost because their sender or receiver was down,
	// closed or replaced by a new incarnation.
	Down int
	// QueueFull counts messages dropped because a link already had
	// MemConfig.QueueMessages in flight.
	QueueFull int
	// Rejected counts messages that failed the receive checks.
	Rejected int
	// SnapshotsDelivered and SnapshotsFailed count snapshot streams by
	// outcome; SnapshotFaults counts the failures SnapshotFailRate caused.
	SnapshotsDelivered, SnapshotsFailed, SnapshotFaults int
}

// linkKey names a one-way link between two nodes.
type linkKey struct{ from, to uint64 }

// SetFaults replaces the random faults from now on; batches already in
// flight keep their fate.
func (n *MemNetwork) SetFaults(f Faults) error {
	if err := f.validate(); err != nil {
		return err
	}
	n.faults = f
	return nil
}

// Cut makes the link from node from to node to lose everything, one way:
// messages from to to from still arrive. A message is checked when it is
// due, so those in flight are lost too.
func (n *MemNetwork) Cut(from, to uint64) { n.cuts[linkKey{from, to}] = true }

// Partition cuts both ways every link between the nodes in side and all
// other nodes. Partitions add up until Heal.
func (n *MemNetwork) Partition(side ...uint64) {
	set := make(map[uint64]bool, len(side))
	for _, id := range side {
		set[id] = true
	}
	n.partitions = append(n.partitions, set)
}

// Heal removes every cut and partition.
func (n *MemNetwork) Heal() {
	clear(n.cuts)
	n.partitions = nil
}

// SetDown takes node id off the network (down true) or back on it. A down
// node keeps its Handler: what it sends is dropped (and reported to it),
// what is sent to it is lost when due, and snapshot streams to or from it
// fail.
func (n *MemNetwork) SetDown(id uint64, down bool) { n.down[id] = down }

// isCut reports whether the link from -> to loses messages now.
func (n *MemNetwork) isCut(from, to uint64) bool {
	if n.cuts[linkKey{from, to}] {
		return true
	}
	for _, side := range n.partitions {
		if side[from] != side[to] {
			return true
		}
	}
	return false
}

// Stats returns the counts so far.
func (n *MemNetwork) Stats() MemStats { return n.stats }

// chance draws whether an event of probability p happens. It draws nothing
// for p == 0, so enabling one fault does not change the draws of a run
// without it.
func (n *MemNetwork) chance(p float64) bool {
	return p > 0 && n.rand.Float64() < p
}

// between draws a duration uniformly from [lo, hi].
func (n *MemNetwork) between(lo, hi time.Duration) time.Duration {
	if hi <= lo {
		return lo
	}
	return lo + time.Duration(n.rand.Int64N(int64(hi-lo)+1))
}
