package raft

import (
	pb "github.com/pontoon-raft/raft/raftpb"
	"github.com/pontoon-raft/raft/tracker"
)

// handleTransferLeader starts moving leadership to m.From (thesis §3.10).
// pr is the transferee's progress.
func (r *raft) handleTransferLeader(m pb.Message, pr *tracker.Progress) {
	if pr.IsLearner {
		r.logger.Debugf("%x is learner. Ignored transferring leadership", r.id)
		return
	}
	transferee := m.From
	if last := r.leadTransferee; last != None {
		if last == transferee {
			r.logger.Infof("%x [term %d] transfer leadership to %x is in progress, ignores request to same node %x",
				r.id, r.Term, transferee, transferee)
			return
		}
		r.abortLeaderTransfer()
		r.logger.Infof("%x [term %d] abort previous transferring leadership to %x", r.id, r.Term, last)
	}
	if transferee == r.id {
		r.logger.Debugf("%x is already leader. Ignored transferring leadership to self", r.id)
		return
	}
	r.logger.Infof("%x [term %d] starts to transfer leadership to %x", r.id, r.Term, transferee)
	// The transfer must finish within an election timeout; tickHeartbeat
	// aborts it otherwise.
	r.electionElapsed = 0
	r.leadTransferee = transferee
	if pr.Match == r.raftLog.lastIndex() {
		r.sendTimeoutNow(transferee)
		r.logger.Infof("%x sends MsgTimeoutNow to %x immediately as %x already has up-to-date log", r.id, transferee, transferee)
	} else {
		// Catch the transferee up first; handleAppendResponse sends
		// MsgTimeoutNow once it matches our last index.
		r.sendAppend(transferee)
	}
}

func (r *raft) sendTimeoutNow(to uint64) {
	r.leaseVoid = true
	r.send(pb.Message{To: to, Type: pb.MsgTimeoutNow})
}

func (r *raft) abortLeaderTransfer() {
	r.leadTransferee = None
}
