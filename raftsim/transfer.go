package raftsim

import (
	"slices"

	"github.com/pontoon-raft/raft"
)

// Leader transfers (Faults.TransferLeaderProb): the leader is asked to hand
// leadership to a random other voter of its configuration. The simulator
// follows each request for two election timeouts and counts it in
// Result.TransfersSucceeded if the transferee wins an election in that time.

// FaultTransferLeader counts TransferLeader calls made on a leader.
const FaultTransferLeader FaultKind = "transfer-leader"

// EventTransfer called TransferLeader on Node, the leader.
const EventTransfer EventKind = "transfer"

// transferRequest is a TransferLeader call being followed.
type transferRequest struct {
	from, to uint64
	// term is the leader's term when asked; deadline the last tick at
	// which the transferee's win counts.
	term     uint64
	deadline int64
}

// transferState follows the transfers in progress.
type transferState struct {
	pending []transferRequest
}

// transferRandom asks the leader to transfer leadership to another voter of
// its configuration, as one event. It returns false when there is no leader
// or no other voter.
func (s *Sim) transferRandom() bool {
	l := s.leader()
	if l == nil {
		return false
	}
	var voters []uint64
	for _, id := range configMembers(l.confState) {
		if id != l.id && isVoter(l.confState, id) {
			voters = append(voters, id)
		}
	}
	if len(voters) == 0 {
		return false
	}
	to := voters[s.rng.Intn(len(voters))]
	s.beginEvent(EventTransfer, l.id)
	s.res.Faults[FaultTransferLeader]++
	l.node.TransferLeader(to)
	s.transfers.pending = append(s.transfers.pending, transferRequest{
		from: l.id, to: to, term: l.status.Term, deadline: s.tick + 2*int64(s.opts.ElectionTick),
	})
	s.tracef("transfer leadership %d->%d (term %d)", l.id, to, l.status.Term)
	return true
}

// trackTransfers counts the transfers whose transferee now leads a later
// term, and forgets those past their deadline.
func (s *Sim) trackTransfers() {
	s.transfers.pending = slices.DeleteFunc(s.transfers.pending, func(r transferRequest) bool {
		n := s.node(r.to)
		if n.node != nil && n.status.RaftState == raft.StateLeader && n.status.Term > r.term {
			s.res.TransfersSucceeded++
			s.tracef("transfer %d->%d done: node %d leads term %d", r.from, r.to, r.to, n.status.Term)
			return true
		}
		return s.tick > r.deadline
	})
}
