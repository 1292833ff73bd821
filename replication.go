package raft

import (
	"errors"
	"fmt"

	pb "github.com/pontoon-raft/raft/raftpb"
	"github.com/pontoon-raft/raft/tracker"
)

// stepLeader handles messages as the leader.
func stepLeader(r *raft, m pb.Message) error {
	// Messages that need no progress of the sender.
	switch m.Type {
	case pb.MsgBeat:
		r.bcastHeartbeat()
		return nil
	case pb.MsgCheckQuorum:
		// thesis §6.2: a leader that has not heard from a quorum within an election
		// timeout may be partitioned away; step down so clients look for the
		// real leader.
		if !r.trk.QuorumActive() {
			r.logger.Warningf("%x stepped down to follower since quorum is not active", r.id)
			r.becomeFollower(r.Term, None)
		}
		// Start the next observation window.
		r.trk.Visit(func(id uint64, pr *tracker.Progress) {
			if id != r.id {
				pr.RecentActive = false
			}
		})
		return nil
	case pb.MsgProp:
		return r.handleProposal(m)
	case pb.MsgReadIndex:
		r.handleReadIndex(m)
		return nil
	case pb.MsgForgetLeader:
		return nil // a leader knows who the leader is
	}

	pr := r.trk.Progress[m.From]
	if pr == nil {
		r.logger.Debugf("%x no progress available for %x", r.id, m.From)
		return nil
	}
	switch m.Type {
	case pb.MsgAppResp:
		if last := r.raftLog.lastIndex(); m.Index > last {
			// No follower acknowledges, or probes for, entries this leader
			// has not sent: counting it could commit entries that exist
			// nowhere.
			r.logger.Warningf("%x refusing %s: index beyond the last index %d", r.id, DescribeMessage(m, nil), last)
			return malformed(m, "index %d beyond the leader's last index %d", m.Index, last)
		}
		r.handleAppendResponse(m, pr)
	case pb.MsgHeartbeatResp:
		r.handleHeartbeatResponse(m, pr)
	case pb.MsgSnapStatus:
		if pr.State != tracker.StateSnapshot {
			return nil
		}
		if m.Reject {
			// The snapshot did not arrive: forget it so the next attempt
			// fetches a fresh one.
			pr.PendingSnapshot = 0
			pr.BecomeProbe()
			r.logger.Debugf("%x snapshot failed, resumed sending replication messages to %x [%s]", r.id, m.From, pr)
		} else {
			pr.BecomeProbe()
			r.logger.Debugf("%x snapshot succeeded, resumed sending replication messages to %x [%s]", r.id, m.From, pr)
		}
		// Wait for the follower's next response (or the next heartbeat
		// response) before probing, instead of probing into the void.
		pr.MsgAppFlowPaused = true
	case pb.MsgUnreachable:
		// Optimistic replication to an unreachable peer has probably lost
		// messages; fall back to probing.
		if pr.State == tracker.StateReplicate {
			pr.BecomeProbe()
		}
		r.logger.Debugf("%x failed to send message to %x because it is unreachable [%s]", r.id, m.From, pr)
	case pb.MsgTransferLeader:
		r.handleTransferLeader(m, pr)
	}
	return nil
}

// errEmptyProposal rejects a MsgProp without entries.
var errEmptyProposal = errors.New("raft: proposal carries no entries")

// handleProposal appends proposed entries to the leader's log.
func (r *raft) handleProposal(m pb.Message) error {
	if len(m.Entries) == 0 {
		r.logger.Warningf("%x dropped a proposal from %x without entries", r.id, m.From)
		return errEmptyProposal
	}
	if r.trk.Progress[r.id] == nil {
		// Removed from the configuration while leader: we cannot commit, so
		// don't accept anything.
		return fmt.Errorf("%w: this leader is no longer in the configuration", ErrProposalDropped)
	}
	if r.leadTransferee != None {
		r.logger.Debugf("%x [term %d] transfer leadership to %x is in progress; dropping proposal", r.id, r.Term, r.leadTransferee)
		return fmt.Errorf("%w: leadership transfer to %x is in progress", ErrProposalDropped, r.leadTransferee)
	}
	// A conf change no node could apply is refused with the whole proposal
	// before anything is appended (etcd/raft panics).
	var ccs []pb.ConfChangeI
	for i := range m.Entries {
		e := &m.Entries[i]
		if e.Type != pb.EntryConfChange && e.Type != pb.EntryConfChangeV2 {
			continue
		}
		cc, err := decodeConfChange(*e)
		if err != nil {
			r.logger.Warningf("%x refusing a proposal from %x: entry %d holds a malformed conf change: %v", r.id, m.From, i, err)
			return malformed(m, "entry %d holds a malformed conf change: %v", i, err)
		}
		ccs = append(ccs, cc)
	}
	for i := range m.Entries {
		e := &m.Entries[i]
		if e.Type != pb.EntryConfChange && e.Type != pb.EntryConfChangeV2 {
			continue
		}
		cc := ccs[0]
		ccs = ccs[1:]
		if refusal := r.confChangeRefusal(cc); refusal != "" {
			r.logger.Infof("%x ignoring conf change %s at config %s: %s", r.id, DescribeEntry(*e, nil), r.trk.Config, refusal)
			// Keep the slot (the proposer may wait for this index) but make
			// it a no-op.
			*e = pb.Entry{Type: pb.EntryNormal}
			continue
		}
		r.pendingConfIndex = r.raftLog.lastIndex() + uint64(i) + 1
	}
	if !r.appendEntry(m.Entries...) {
		return fmt.Errorf("%w: the leader's uncommitted entries would exceed MaxUncommittedEntriesSize (%d bytes)",
			ErrProposalDropped, r.maxUncommittedSize)
	}
	r.appendsPending = true
	return nil
}

// confChangeRefusal returns why the conf change cc must not be appended
// now, or "" if it may. DisableConfChangeValidation lifts every check.
func (r *raft) confChangeRefusal(cc pb.ConfChangeI) string {
	if r.disableConfChangeValidation {
		return ""
	}
	alreadyPending := r.pendingConfIndex > r.raftLog.applied
	alreadyJoint := len(r.trk.Config.Voters[1]) > 0
	wantsLeaveJoint := len(cc.AsV2().Changes) == 0
	switch {
	case alreadyPending:
		return fmt.Sprintf("possible unapplied conf change at index %d (applied to %d)", r.pendingConfIndex, r.raftLog.applied)
	case alreadyJoint && !wantsLeaveJoint:
		return "must transition out of joint config first"
	case !alreadyJoint && wantsLeaveJoint:
		return "not in joint state; refusing empty conf change"
	}
	return ""
}

// decodeConfChange parses the conf change carried by a conf change entry.
func decodeConfChange(e pb.Entry) (pb.ConfChangeI, error) {
	switch e.Type {
	case pb.EntryConfChange:
		var cc pb.ConfChange
		if err := cc.Unmarshal(e.Data); err != nil {
			return nil, err
		}
		return cc, nil
	case pb.EntryConfChangeV2:
		var cc pb.ConfChangeV2
		if err := cc.Unmarshal(e.Data); err != nil {
			return nil, err
		}
		return cc, nil
	}
	return nil, fmt.Errorf("entry type %s is not a conf change", e.Type)
}

// errNilConfChange is returned by ProposeConfChange for a nil conf change.
var errNilConfChange = errors.New("raft: ProposeConfChange needs a conf change, got nil " +
	"(to leave a joint configuration, propose an empty ConfChangeV2)")

// checkConfChangeArg refuses a nil conf change, including a typed nil
// pointer, which etcd/raft dereferences and Pontoon would otherwise read as
// the request to leave a joint configuration.
func checkConfChangeArg(cc pb.ConfChangeI) error {
	switch c := cc.(type) {
	case nil:
		return errNilConfChange
	case *pb.ConfChange:
		if c == nil {
			return errNilConfChange
		}
	case *pb.ConfChangeV2:
		if c == nil {
			return errNilConfChange
		}
	}
	return nil
}

// confChangeToMsg wraps a conf change (nil: leave the joint configuration)
// into a proposal.
func confChangeToMsg(c pb.ConfChangeI) (pb.Message, error) {
	typ, data, err := pb.MarshalConfChange(c)
	if err != nil {
		return pb.Message{}, err
	}
	return pb.Message{Type: pb.MsgProp, Entries: []pb.Entry{{Type: typ, Data: data}}}, nil
}

// handleAppendResponse processes a follower's answer to MsgApp (or to
// MsgSnap), including the leader's acknowledgement of its own writes.
func (r *raft) handleAppendResponse(m pb.Message, pr *tracker.Progress) {
	pr.RecentActive = true

	if m.Reject {
		// The follower's log does not contain (m.Index, our term there).
		// Use its hint to skip a whole term per round trip (paper §5.3, fast
		// backtracking): with LogTerm set, jump to the last of our entries
		// whose term is at most the follower's term at the hint.
		r.logger.Debugf("%x received MsgAppResp(rejected, hint: (index %d, term %d)) from %x for index %d",
			r.id, m.RejectHint, m.LogTerm, m.From, m.Index)
		nextProbeIdx := m.RejectHint
		if m.LogTerm > 0 {
			nextProbeIdx, _ = r.raftLog.findConflictByTerm(min(m.RejectHint, r.raftLog.lastIndex()), m.LogTerm)
		}
		if pr.MaybeDecrTo(m.Index, nextProbeIdx) {
			r.logger.Debugf("%x decreased progress of %x to [%s]", r.id, m.From, pr)
			if pr.State == tracker.StateReplicate {
				pr.BecomeProbe()
			}
			r.sendAppend(m.From)
		}
		return
	}

	// Probe state also moves on when the follower confirms exactly what we
	// probed with (Match unchanged, the probe was sent at Next-1): the
	// probe succeeded. An acknowledgement of less, such as the bare reply
	// to a heartbeat of an earlier term (see Step), confirms no probe.
	probeConfirmed := pr.State == tracker.StateProbe && pr.Match == m.Index && m.Index+1 >= pr.Next
	if !pr.MaybeUpdate(m.Index) && !probeConfirmed {
		return
	}
	switch {
	case pr.State == tracker.StateProbe:
		pr.BecomeReplicate()
	case pr.State == tracker.StateSnapshot && pr.Match+1 >= r.raftLog.firstIndex():
		// The follower can be caught up from the log now, whether or not it
		// was through the snapshot we sent.
		r.logger.Debugf("%x recovered from needing snapshot, resumed sending replication messages to %x [%s]", r.id, m.From, pr)
		pr.BecomeProbe()
		pr.BecomeReplicate()
	case pr.State == tracker.StateReplicate:
		pr.Inflights.FreeLE(m.Index)
	}

	if r.maybeCommit() {
		// Committing may have confirmed the leader's first entry of its
		// term: deferred reads can be served now.
		r.releasePendingReadIndexMessages()
		r.appendsPending = true
	}
	// While a batched send is due, it serves this follower too, together
	// with the others and in one message: the entries it can take now that
	// flow control may have opened, and the commit index it lacks.
	if r.id != m.From && !r.appendsPending {
		if pr.CanBumpCommit(r.raftLog.committed) {
			// The follower is in sync but does not know the commit index yet.
			r.sendAppend(m.From)
		}
		// Flow control may have opened (probe -> replicate, inflights
		// freed): send what we can, without empty commit-only messages.
		for r.maybeSendAppend(m.From, false) {
		}
	}
	// thesis §3.10: the transferee caught up; let it campaign.
	if m.From == r.leadTransferee && pr.Match == r.raftLog.lastIndex() {
		r.logger.Infof("%x sent MsgTimeoutNow to %x after received MsgAppResp", r.id, m.From)
		r.sendTimeoutNow(m.From)
	}
}

// handleHeartbeatResponse processes MsgHeartbeatResp.
func (r *raft) handleHeartbeatResponse(m pb.Message, pr *tracker.Progress) {
	pr.RecentActive = true
	pr.MsgAppFlowPaused = false

	// A heartbeat answer proves the follower is reachable: if it lags or is
	// being probed, send an append. With full inflights the append is empty,
	// which still lets a lost window of messages be recovered.
	if pr.Match < r.raftLog.lastIndex() || pr.State == tracker.StateProbe {
		r.sendAppend(m.From)
	}

	if len(m.Context) == 0 || !r.readOnly.recvAck(m.From, m.Context) {
		return
	}
	for _, rs := range r.readOnly.advance(r.trk.Voters) {
		if resp := r.responseToReadIndexReq(rs.req, rs.index); resp.To != None {
			r.send(resp)
		}
	}
}

// maybeCommit advances the commit index to what a quorum has durably
// matched, if that entry is of the current term (paper §5.4.2).
func (r *raft) maybeCommit() bool {
	return r.raftLog.maybeCommit(r.trk.Committed(), r.Term)
}

// sendAppend sends to peer `to` the entries it lacks, or an empty MsgApp
// (e.g. to carry the commit index or probe) if it lacks none.
func (r *raft) sendAppend(to uint64) {
	r.maybeSendAppend(to, true)
}

// maybeSendAppend sends one MsgApp (or MsgSnap) to `to` if flow control
// allows. With sendIfEmpty false, it sends nothing when there are no entries
// to send. It reports whether a message was sent.
func (r *raft) maybeSendAppend(to uint64, sendIfEmpty bool) bool {
	pr := r.trk.Progress[to]
	if pr.IsPaused() {
		return false
	}

	prevIndex := pr.Next - 1
	prevTerm, err := r.raftLog.term(prevIndex)
	if err != nil {
		// The log is compacted past what the follower has: only a snapshot
		// can catch it up. This must come before the "nothing to send"
		// check below, which would otherwise leave the follower waiting
		// for the next heartbeat response.
		return r.maybeSendSnapshot(to, pr)
	}
	var ents []pb.Entry
	// With a full window only an empty MsgApp may go out: if every message
	// of the window was lost, its answer (ack or reject) unblocks the flow.
	if pr.State != tracker.StateReplicate || !pr.Inflights.Full() {
		ents, err = r.raftLog.entries(pr.Next, r.maxMsgSize)
	}
	if len(ents) == 0 && !sendIfEmpty {
		return false
	}
	if err != nil {
		// The entries the follower needs are gone from our log.
		return r.maybeSendSnapshot(to, pr)
	}

	r.send(pb.Message{
		To:      to,
		Type:    pb.MsgApp,
		Index:   prevIndex,
		LogTerm: prevTerm,
		Entries: ents,
		Commit:  r.raftLog.committed,
	})
	pr.SentEntries(len(ents), payloadsSize(ents))
	pr.SentCommit(r.raftLog.committed)
	return true
}

// maybeSendSnapshot sends the current snapshot to a follower whose next
// entries are compacted, switching it to StateSnapshot.
func (r *raft) maybeSendSnapshot(to uint64, pr *tracker.Progress) bool {
	if !pr.RecentActive {
		r.logger.Debugf("ignore sending snapshot to %x since it is not recently active", to)
		return false
	}
	snapshot, err := r.raftLog.snapshot()
	if err != nil {
		if errors.Is(err, ErrSnapshotTemporarilyUnavailable) {
			r.logger.Debugf("%x failed to send snapshot to %x because snapshot is temporarily unavailable", r.id, to)
			return false
		}
		r.logger.Errorf("%x cannot send snapshot to %x: reading the snapshot from storage failed: %v", r.id, to, err)
		return false
	}
	if IsEmptySnap(snapshot) {
		r.logger.Errorf("%x cannot send snapshot to %x: its log is compacted below %d but storage returned an empty snapshot",
			r.id, to, pr.Next)
		return false
	}
	r.logger.Debugf("%x [firstindex: %d, commit: %d] sent snapshot[index: %d, term: %d] to %x [%s]",
		r.id, r.raftLog.firstIndex(), r.raftLog.committed, snapshot.Metadata.Index, snapshot.Metadata.Term, to, pr)
	pr.BecomeSnapshot(snapshot.Metadata.Index)
	r.send(pb.Message{To: to, Type: pb.MsgSnap, Snapshot: &snapshot})
	return true
}

// sendHeartbeat sends a heartbeat to `to`. Its commit index never exceeds
// what the follower is known to hold: a follower must not be told to commit
// entries it may not have.
func (r *raft) sendHeartbeat(to uint64, ctx []byte) {
	pr := r.trk.Progress[to]
	commit := min(pr.Match, r.raftLog.committed)
	r.send(pb.Message{To: to, Type: pb.MsgHeartbeat, Commit: commit, Context: ctx})
	pr.SentCommit(commit)
}

// flushAppends sends what proposals and commit advances since the last
// Ready left for the followers: as many MsgApps as flow control allows to
// each follower with entries to receive, or one empty MsgApp carrying the
// commit index to a follower that has every entry but not that index.
// Batching here turns a Ready's worth of proposals into one message per
// follower rather than one per proposal.
func (r *raft) flushAppends() {
	if !r.appendsPending {
		return
	}
	r.appendsPending = false
	if r.state != StateLeader {
		return
	}
	committed := r.raftLog.committed
	r.trk.Visit(func(id uint64, pr *tracker.Progress) {
		if id == r.id {
			return
		}
		sent := false
		for r.maybeSendAppend(id, false) {
			sent = true
		}
		if !sent && pr.CanBumpCommit(committed) {
			r.sendAppend(id)
		}
	})
}

// flushPending sends the messages whose sending is deferred until a Ready
// is collected: batched appends and the heartbeat round for new reads.
func (r *raft) flushPending() {
	r.flushAppends()
	r.flushReadIndex()
}

// bcastAppend sends pending entries to every other node.
func (r *raft) bcastAppend() {
	r.trk.Visit(func(id uint64, _ *tracker.Progress) {
		if id != r.id {
			r.sendAppend(id)
		}
	})
}

// bcastHeartbeat sends a heartbeat to every other node, carrying the token
// of the newest pending read so that its confirmation can complete.
func (r *raft) bcastHeartbeat() {
	if r.readOnly.option == ReadOnlyLeaseBased {
		// Every round has its own token, so that its acknowledgements
		// renew the lease from the round's send time.
		oldest := r.leaderTicks - int64(r.electionTimeoutTicks)
		r.bcastHeartbeatWithCtx(r.readOnly.newLeaseRound(r.leaderTicks, oldest, r.id))
		return
	}
	r.bcastHeartbeatWithCtx(r.readOnly.takeNewestToken())
}

func (r *raft) bcastHeartbeatWithCtx(ctx []byte) {
	r.trk.Visit(func(id uint64, _ *tracker.Progress) {
		if id != r.id {
			r.sendHeartbeat(id, ctx)
		}
	})
}

// committedEntryInCurrentTerm reports whether this leader has committed an
// entry of its own term, which is when its commit index is known to be the
// cluster's (thesis §6.4).
func (r *raft) committedEntryInCurrentTerm() bool {
	return r.raftLog.zeroTermOnOutOfBounds(r.raftLog.term(r.raftLog.committed)) == r.Term
}
