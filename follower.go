package raft

import (
	"fmt"

	"github.com/pontoon-raft/raft/confchange"
	pb "github.com/pontoon-raft/raft/raftpb"
)

// stepFollower handles messages as a follower.
func stepFollower(r *raft, m pb.Message) error {
	switch m.Type {
	case pb.MsgProp:
		if r.lead == None {
			r.logger.Infof("%x no leader at term %d; dropping proposal", r.id, r.Term)
			return fmt.Errorf("%w: no leader at term %d", ErrProposalDropped, r.Term)
		}
		if r.disableProposalForwarding {
			r.logger.Infof("%x not forwarding to leader %x at term %d; dropping proposal", r.id, r.lead, r.Term)
			return fmt.Errorf("%w: this node follows %x and proposal forwarding is disabled", ErrProposalDropped, r.lead)
		}
		r.forwardToLeader(m)
	case pb.MsgApp:
		r.electionElapsed = 0
		r.lead = m.From
		r.handleAppendEntries(m)
	case pb.MsgHeartbeat:
		r.electionElapsed = 0
		r.lead = m.From
		r.handleHeartbeat(m)
	case pb.MsgSnap:
		r.electionElapsed = 0
		r.lead = m.From
		r.handleSnapshot(m)
	case pb.MsgTransferLeader:
		if r.lead == None {
			r.logger.Infof("%x no leader at term %d; dropping leader transfer msg", r.id, r.Term)
			return nil
		}
		r.forwardToLeader(m)
	case pb.MsgForgetLeader:
		if r.readOnly.option == ReadOnlyLeaseBased {
			// Forgetting the leader would let us vote while the old leader
			// still serves reads from its lease.
			r.logger.Error("ignoring MsgForgetLeader due to ReadOnlyLeaseBased")
			return nil
		}
		if r.lead != None {
			r.logger.Infof("%x forgetting leader %x at term %d", r.id, r.lead, r.Term)
			r.lead = None
		}
	case pb.MsgTimeoutNow:
		r.logger.Infof("%x [term %d] received MsgTimeoutNow from %x and starts an election to get leadership", r.id, r.Term, m.From)
		// thesis §3.10: the leader handed over (Step checked that it is the leader
		// we follow); campaign at once, without PreVote and past the
		// voters' lease check.
		return r.hup(campaignTransfer)
	case pb.MsgReadIndex:
		if r.lead == None {
			r.logger.Infof("%x no leader at term %d; dropping index reading msg", r.id, r.Term)
			return nil
		}
		r.forwardToLeader(m)
	case pb.MsgReadIndexResp:
		if len(m.Entries) != 1 {
			r.logger.Errorf("%x invalid format of MsgReadIndexResp from %x, entries count: %d", r.id, m.From, len(m.Entries))
			return nil
		}
		r.readStates = append(r.readStates, ReadState{Index: m.Index, RequestCtx: m.Entries[0].Data})
	}
	return nil
}

// renewLeasePromise records, under ReadOnlyLeaseBased, that this node heard
// from its leader and so promises not to vote for an election timeout (see
// votesWithheldTicks). Every message of the leader renews it.
func (r *raft) renewLeasePromise() {
	if r.readOnly.option == ReadOnlyLeaseBased {
		r.votesWithheldTicks = r.electionTimeoutTicks
	}
}

// handleAppendEntries is the follower side of AppendEntries (Figure 2).
func (r *raft) handleAppendEntries(m pb.Message) {
	r.renewLeasePromise()
	if m.Index < r.raftLog.committed {
		// Everything up to our commit index already matches the leader's
		// log (Log Matching); tell the leader where we are.
		r.send(pb.Message{To: m.From, Type: pb.MsgAppResp, Index: r.raftLog.committed})
		return
	}
	if lastNewIndex, ok := r.raftLog.maybeAppend(m.Index, m.LogTerm, m.Commit, m.Entries); ok {
		r.send(pb.Message{To: m.From, Type: pb.MsgAppResp, Index: lastNewIndex})
		return
	}
	// Our log does not contain (m.Index, m.LogTerm). Point the leader at the
	// last of our entries that could still match: the largest index at or
	// below min(m.Index, lastIndex) whose term is ≤ m.LogTerm. The leader
	// then skips every entry of terms we cannot share, one term per round
	// trip at most.
	hintIndex := min(m.Index, r.raftLog.lastIndex())
	hintIndex, hintTerm := r.raftLog.findConflictByTerm(hintIndex, m.LogTerm)
	r.logger.Debugf("%x [logterm: %d, index: %d] rejected MsgApp [logterm: %d, index: %d] from %x",
		r.id, r.raftLog.zeroTermOnOutOfBounds(r.raftLog.term(m.Index)), m.Index, m.LogTerm, m.Index, m.From)
	r.send(pb.Message{
		To:         m.From,
		Type:       pb.MsgAppResp,
		Index:      m.Index,
		Reject:     true,
		RejectHint: hintIndex,
		LogTerm:    hintTerm,
	})
}

// handleHeartbeat advances the commit index (the leader never sends more
// than our match) and echoes the read token.
func (r *raft) handleHeartbeat(m pb.Message) {
	r.renewLeasePromise()
	r.raftLog.commitTo(m.Commit)
	r.send(pb.Message{To: m.From, Type: pb.MsgHeartbeatResp, Context: m.Context})
}

// handleSnapshot is the follower side of InstallSnapshot (paper §7).
func (r *raft) handleSnapshot(m pb.Message) {
	r.renewLeasePromise()
	var s pb.Snapshot
	if m.Snapshot != nil {
		s = *m.Snapshot
	}
	sindex, sterm := s.Metadata.Index, s.Metadata.Term
	if r.restore(s) {
		r.logger.Infof("%x [commit: %d] restored snapshot [index: %d, term: %d]", r.id, r.raftLog.committed, sindex, sterm)
		r.send(pb.Message{To: m.From, Type: pb.MsgAppResp, Index: r.raftLog.lastIndex()})
		return
	}
	r.logger.Infof("%x [commit: %d] ignored snapshot [index: %d, term: %d]", r.id, r.raftLog.committed, sindex, sterm)
	r.send(pb.Message{To: m.From, Type: pb.MsgAppResp, Index: r.raftLog.committed})
}

// restore installs snapshot s if it is newer than our commit index. It
// returns false when the snapshot is not installed (stale, not for us, or
// already covered by our log, in which case the commit index moves up).
func (r *raft) restore(s pb.Snapshot) bool {
	if s.Metadata.Index <= r.raftLog.committed {
		return false
	}
	if r.state != StateFollower {
		// Only followers install snapshots; a leader or candidate receiving
		// one is a bug elsewhere. Move to a fresh term as follower so no
		// damage is done, and ignore it.
		r.logger.Warningf("%x attempted to restore snapshot as %s; should never happen", r.id, r.state)
		r.becomeFollower(r.Term+1, None)
		return false
	}
	cs := s.Metadata.ConfState
	if !confStateContains(cs, r.id) {
		// A snapshot whose configuration does not include us would leave
		// the node without a progress of its own.
		r.logger.Warningf("%x attempted to restore snapshot but it is not in the ConfState %v; should never happen", r.id, cs)
		return false
	}
	if r.raftLog.matchTerm(s.Metadata.Index, s.Metadata.Term) {
		// Our log already has the snapshot's last entry: keep the log (and
		// any suffix beyond it) and just learn that it is committed.
		r.logger.Infof("%x [commit: %d, lastindex: %d, lastterm: %d] fast-forwarded commit to snapshot [index: %d, term: %d]",
			r.id, r.raftLog.committed, r.raftLog.lastIndex(), r.raftLog.lastTerm(), s.Metadata.Index, s.Metadata.Term)
		r.raftLog.commitTo(s.Metadata.Index)
		return false
	}
	if r.raftLog.applying > r.raftLog.applied {
		// Committed entries are out for applying. The application applies
		// them (conf changes through ApplyConfChange) after anything we do
		// now, so installing the snapshot would let it apply older entries,
		// and older configurations, on top of the snapshot's. Refuse; the
		// leader sends it again once the application reported those
		// entries applied.
		r.logger.Infof("%x [applied: %d, applying: %d] not restoring snapshot [index: %d, term: %d] while entries are being applied",
			r.id, r.raftLog.applied, r.raftLog.applying, s.Metadata.Index, s.Metadata.Term)
		return false
	}

	// Compute the new configuration before touching the log, so that a
	// snapshot with an invalid ConfState is refused without side effects.
	fresh := freshTracker(r.trk)
	cfg, progress, err := confchange.Restore(confchange.Changer{Tracker: fresh, LastIndex: s.Metadata.Index}, cs)
	if err != nil {
		r.logger.Errorf("%x refusing snapshot [index: %d, term: %d] with invalid ConfState %s: %v",
			r.id, s.Metadata.Index, s.Metadata.Term, DescribeConfState(cs), err)
		return false
	}
	r.raftLog.restore(s)
	r.trk = fresh
	if got := r.switchToConfig(cfg, progress); got.Equivalent(cs) != nil {
		panic("raft: configuration after restoring snapshot is " + DescribeConfState(got) + ", want " + DescribeConfState(cs))
	}
	r.logger.Infof("%x [commit: %d, lastindex: %d, lastterm: %d] restored snapshot [index: %d, term: %d]",
		r.id, r.raftLog.committed, r.raftLog.lastIndex(), r.raftLog.lastTerm(), s.Metadata.Index, s.Metadata.Term)
	return true
}

// confStateContains reports whether id is a voter, learner or outgoing
// voter of cs.
func confStateContains(cs pb.ConfState, id uint64) bool {
	for _, set := range [][]uint64{cs.Voters, cs.Learners, cs.VotersOutgoing} {
		for _, x := range set {
			if x == id {
				return true
			}
		}
	}
	return false
}

// forwardToLeader sends m, a request for the leader, on to it. Whatever term
// m arrived with, send gives the forward the one it should carry (none for
// proposals and reads, ours for a transfer request).
func (r *raft) forwardToLeader(m pb.Message) {
	m.To = r.lead
	m.Term = 0
	r.send(m)
}
