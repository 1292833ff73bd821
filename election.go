package raft

import (
	"errors"
	"fmt"
	"slices"

	"github.com/pontoon-raft/raft/quorum"
	pb "github.com/pontoon-raft/raft/raftpb"
)

// tickLeaseClocks advances the clocks the lease argument compares (see
// leaseValid): the promise not to vote of a node that heard from a leader,
// and a leader's count of its own ticks. Tick and TickQuiesced both call
// it, so a quiesced cluster's promises and leases run out together.
func (r *raft) tickLeaseClocks() {
	if r.votesWithheldTicks > 0 {
		r.votesWithheldTicks--
	}
	if r.state == StateLeader {
		r.leaderTicks++
	}
}

// tickElection is the tick of followers and (pre-)candidates: campaign once
// the randomized election timeout passes without news from a leader.
func (r *raft) tickElection() {
	r.electionElapsed++
	if r.promotable() && r.pastElectionTimeout() {
		r.electionElapsed = 0
		if err := r.Step(pb.Message{From: r.id, Type: pb.MsgHup}); err != nil {
			r.logger.Debugf("%x error occurred during election: %v", r.id, err)
		}
	}
}

// tickHeartbeat is the leader's tick: heartbeats every heartbeatTimeoutTicks,
// and every electionTimeoutTicks a CheckQuorum and a leader-transfer timeout.
func (r *raft) tickHeartbeat() {
	r.heartbeatElapsed++
	r.electionElapsed++

	if r.electionElapsed >= r.electionTimeoutTicks {
		r.electionElapsed = 0
		if r.checkQuorum {
			if err := r.Step(pb.Message{From: r.id, Type: pb.MsgCheckQuorum}); err != nil {
				r.logger.Debugf("%x error occurred during checking sending heartbeat: %v", r.id, err)
			}
		}
		// thesis §3.10: a transfer that did not finish within an election timeout
		// is abandoned so that proposals are accepted again.
		if r.state == StateLeader && r.leadTransferee != None {
			r.abortLeaderTransfer()
		}
	}

	if r.state != StateLeader {
		return
	}
	if r.heartbeatElapsed >= r.heartbeatTimeoutTicks {
		r.heartbeatElapsed = 0
		if err := r.Step(pb.Message{From: r.id, Type: pb.MsgBeat}); err != nil {
			r.logger.Debugf("%x error occurred during checking sending heartbeat: %v", r.id, err)
		}
	}
}

// hup starts an election of kind t if this node may campaign. Like
// etcd/raft it does nothing (and logs why) when the node leads already, is
// not a voter, is installing a snapshot or has committed configuration
// changes to apply. It returns an error wrapping ErrCampaignRefused only
// where Pontoon refuses what etcd/raft would do: under ReadOnlyLeaseBased,
// while the node keeps its promise not to vote.
func (r *raft) hup(t CampaignType) error {
	if r.state == StateLeader {
		r.logger.Debugf("%x ignoring MsgHup because already leader", r.id)
		return nil
	}
	if !r.promotable() {
		r.logger.Warningf("%x is unpromotable and can not campaign", r.id)
		return nil
	}
	if r.hasUnappliedConfChanges() {
		// The configuration this node would campaign in may be about to
		// change; wait until it is applied.
		r.logger.Warningf("%x cannot campaign at term %d since there are still pending configuration changes to apply", r.id, r.Term)
		return nil
	}
	if t != campaignTransfer && r.votesWithheldTicks > 0 && !r.isSoleVoter() {
		// Its own vote is a vote too: a leader's lease may count on this
		// node not helping anyone, itself included, win an election yet.
		// (A transfer is safe: the leader gave up its lease to start it.)
		r.logger.Infof("%x [term %d] not campaigning: it promised a leader's lease not to vote for %d more ticks",
			r.id, r.Term, r.votesWithheldTicks)
		return fmt.Errorf("%w: under ReadOnlyLeaseBased this node heard from a leader (or restarted) within the "+
			"last %d ticks and keeps its promise not to vote for %d more; TransferLeader moves leadership at once",
			ErrCampaignRefused, r.electionTimeoutTicks, r.votesWithheldTicks)
	}
	r.logger.Infof("%x is starting a new election at term %d", r.id, r.Term)
	r.campaign(t)
	return nil
}

// isSoleVoter reports whether this node is the only voter of a
// configuration that is not joint: then no other node can be elected.
func (r *raft) isSoleVoter() bool {
	_, selfVotes := r.trk.Voters[0][r.id]
	return selfVotes && r.trk.IsSingleton()
}

// errBreak stops a log scan early.
var errBreak = errors.New("break")

// hasUnappliedConfChanges reports whether a committed but not yet applied
// entry changes the configuration.
func (r *raft) hasUnappliedConfChanges() bool {
	if r.raftLog.applied >= r.raftLog.committed {
		return false
	}
	found := false
	// Page through the entries so a long unapplied tail does not have to be
	// held in memory at once.
	lo, hi := r.raftLog.applied+1, r.raftLog.committed+1
	pageSize := r.raftLog.maxApplyingEntsSize
	if err := r.raftLog.scan(lo, hi, pageSize, func(ents []pb.Entry) error {
		for i := range ents {
			if ents[i].Type == pb.EntryConfChange || ents[i].Type == pb.EntryConfChangeV2 {
				found = true
				return errBreak
			}
		}
		return nil
	}); err != nil && err != errBreak {
		panic(fmt.Sprintf("raft: %x cannot read committed entries [%d, %d) from its log: %v", r.id, lo, hi, err))
	}
	return found
}

// campaign asks every voter for its (pre-)vote.
func (r *raft) campaign(t CampaignType) {
	if !r.promotable() {
		r.logger.Warningf("%x is unpromotable; campaign() should have been called", r.id)
	}
	var term uint64
	var voteMsg pb.MessageType
	if t == campaignPreElection {
		r.becomePreCandidate()
		voteMsg = pb.MsgPreVote
		// A pre-vote asks about the term we would campaign in, without
		// moving to it.
		term = r.Term + 1
	} else {
		r.becomeCandidate()
		voteMsg = pb.MsgVote
		term = r.Term
	}
	var ctx []byte
	if t == campaignTransfer {
		ctx = []byte(t)
	}
	lastIndex, lastTerm := r.raftLog.lastIndex(), r.raftLog.lastTerm()
	ids := r.trk.Voters.IDs()
	sorted := make([]uint64, 0, len(ids))
	for id := range ids {
		sorted = append(sorted, id)
	}
	slices.Sort(sorted)
	for _, id := range sorted {
		if id == r.id {
			// Our own vote counts only once it is durable, so it travels the
			// same delayed path as any vote response.
			r.send(pb.Message{To: id, Term: term, Type: voteRespMsgType(voteMsg)})
			continue
		}
		r.logger.Infof("%x [logterm: %d, index: %d] sent %s request to %x at term %d",
			r.id, lastTerm, lastIndex, voteMsg, id, r.Term)
		r.send(pb.Message{To: id, Term: term, Type: voteMsg, Index: lastIndex, LogTerm: lastTerm, Context: ctx})
	}
}

// poll records a vote and returns the tally.
func (r *raft) poll(id uint64, t pb.MessageType, v bool) (granted int, rejected int, result quorum.VoteResult) {
	if v {
		r.logger.Infof("%x received %s from %x at term %d", r.id, t, id, r.Term)
	} else {
		r.logger.Infof("%x received %s rejection from %x at term %d", r.id, t, id, r.Term)
	}
	r.trk.RecordVote(id, v)
	return r.trk.TallyVotes()
}

// handleVoteRequest answers MsgVote and MsgPreVote (Figure 2, RequestVote).
func (r *raft) handleVoteRequest(m pb.Message) {
	// We can vote for m.From if we already did in this term, or have voted
	// for nobody and know no leader, or it is a pre-vote for a future term.
	canVote := r.Vote == m.From ||
		(r.Vote == None && r.lead == None) ||
		(m.Type == pb.MsgPreVote && m.Term > r.Term)
	// paper §5.4.1: only a candidate whose log is at least as up to date as ours.
	if canVote && r.raftLog.isUpToDate(m.Index, m.LogTerm) {
		r.logger.Infof("%x [logterm: %d, index: %d, vote: %x] cast %s for %x [logterm: %d, index: %d] at term %d",
			r.id, r.raftLog.lastTerm(), r.raftLog.lastIndex(), r.Vote, m.Type, m.From, m.LogTerm, m.Index, r.Term)
		// The grant carries the candidate's term: for a pre-vote that is a
		// term we have not reached, which the pre-candidate expects.
		r.send(pb.Message{To: m.From, Term: m.Term, Type: voteRespMsgType(m.Type)})
		if m.Type == pb.MsgVote {
			r.electionElapsed = 0
			r.Vote = m.From
		}
		return
	}
	r.logger.Infof("%x [logterm: %d, index: %d, vote: %x] rejected %s from %x [logterm: %d, index: %d] at term %d",
		r.id, r.raftLog.lastTerm(), r.raftLog.lastIndex(), r.Vote, m.Type, m.From, m.LogTerm, m.Index, r.Term)
	r.send(pb.Message{To: m.From, Term: r.Term, Type: voteRespMsgType(m.Type), Reject: true})
}

// stepCandidate handles messages as a candidate or pre-candidate.
func stepCandidate(r *raft, m pb.Message) error {
	// Only responses of our own kind count: a pre-candidate ignores vote
	// responses, and a candidate ignores pre-vote responses.
	myVoteRespType := pb.MsgVoteResp
	if r.state == StatePreCandidate {
		myVoteRespType = pb.MsgPreVoteResp
	}
	switch m.Type {
	case pb.MsgProp:
		r.logger.Infof("%x no leader at term %d; dropping proposal", r.id, r.Term)
		return fmt.Errorf("%w: no leader at term %d (this node is a %s)", ErrProposalDropped, r.Term, r.state)
	case pb.MsgApp:
		r.becomeFollower(m.Term, m.From) // always m.Term == r.Term
		r.handleAppendEntries(m)
	case pb.MsgHeartbeat:
		r.becomeFollower(m.Term, m.From)
		r.handleHeartbeat(m)
	case pb.MsgSnap:
		r.becomeFollower(m.Term, m.From)
		r.handleSnapshot(m)
	case myVoteRespType:
		granted, rejected, res := r.poll(m.From, m.Type, !m.Reject)
		r.logger.Infof("%x has received %d %s votes and %d vote rejections", r.id, granted, m.Type, rejected)
		switch res {
		case quorum.VoteWon:
			if r.state == StatePreCandidate {
				r.campaign(campaignElection)
			} else {
				r.becomeLeader()
				r.bcastAppend()
			}
		case quorum.VoteLost:
			// A rejection at a higher term already made us follower in Step.
			r.becomeFollower(r.Term, None)
		}
	case pb.MsgTimeoutNow:
		r.logger.Debugf("%x [term %d state %v] ignored MsgTimeoutNow from %x", r.id, r.Term, r.state, m.From)
	}
	return nil
}
