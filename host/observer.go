package host

import "time"

// Observer receives the host's measurements, for metrics. Its methods are
// called from the host's goroutines (the Raft loop, the storage and apply
// stages) and must be quick and safe for concurrent use. NopObserver ignores
// everything; embed it to implement only some methods.
type Observer interface {
	// GroupChanged is called when a replica's term, leader or role
	// changes, and when it quiesces or wakes.
	GroupChanged(group uint64, s GroupStatus)
	// Applied is called after a batch of a replica's entries was applied:
	// the commit and apply indexes, so commitIndex-appliedIndex is the apply
	// lag.
	Applied(group, commitIndex, appliedIndex uint64)
	// ProposalDone is called when a Propose returns: its latency from the
	// first proposal to the result, and its error (nil on success).
	ProposalDone(group uint64, latency time.Duration, err error)
	// Saved is called after each write of the storage stage: how many
	// groups and entries it carried, its bytes of entry data, and how long
	// the write and fsync took.
	Saved(groups, entries int, dataBytes int64, took time.Duration)
	// Quiesced reports how many replicas of the host are quiesced.
	Quiesced(count int)
}

// NopObserver is an Observer that ignores everything.
type NopObserver struct{}

// GroupChanged implements Observer.
func (NopObserver) GroupChanged(uint64, GroupStatus) {}

// Applied implements Observer.
func (NopObserver) Applied(uint64, uint64, uint64) {}

// ProposalDone implements Observer.
func (NopObserver) ProposalDone(uint64, time.Duration, error) {}

// Saved implements Observer.
func (NopObserver) Saved(int, int, int64, time.Duration) {}

// Quiesced implements Observer.
func (NopObserver) Quiesced(int) {}
