package tracker

import "strconv"

// StateType is the replication mode the leader uses towards one peer.
type StateType uint64

const (
	// StateProbe: the leader does not know where the peer's log diverges
	// from its own. It sends at most one append per heartbeat interval and
	// waits for the answer before sending more, moving Next back on each
	// rejection until the logs match.
	StateProbe StateType = iota
	// StateReplicate: the peer's log matches up to Match and the leader
	// streams appends optimistically, advancing Next as soon as it sends,
	// bounded by Inflights.
	StateReplicate
	// StateSnapshot: the peer needs entries the leader has compacted away.
	// A snapshot is on its way and nothing else is sent until it is
	// acknowledged or reported as failed.
	StateSnapshot
)

// String returns the constant's name, e.g. "StateReplicate".
func (st StateType) String() string {
	switch st {
	case StateProbe:
		return "StateProbe"
	case StateReplicate:
		return "StateReplicate"
	case StateSnapshot:
		return "StateSnapshot"
	}
	return "StateType(" + strconv.FormatUint(uint64(st), 10) + ")"
}
