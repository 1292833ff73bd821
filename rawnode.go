package raft

import (
	"errors"

	pb "github.com/pontoon-raft/raft/raftpb"
	"github.com/pontoon-raft/raft/tracker"
)

// RawNode drives one raft node from a single goroutine. It is the whole
// library without threads: the application calls Tick, Step and Propose,
// collects a Ready, does the I/O, and calls Advance. RawNode is not safe for
// concurrent use; Node wraps it for that.
type RawNode struct {
	raft               *raft
	asyncStorageWrites bool

	// prevSoftSt and prevHardSt are what the last Ready reported, so the
	// next one carries only changes.
	prevSoftSt SoftState
	prevHardSt pb.HardState
	// stepsOnAdvance are messages to step into the node once the
	// application calls Advance: acknowledgements of the writes of the last
	// Ready, including the node's own votes and append acknowledgements.
	stepsOnAdvance []pb.Message
	// proposal is the one-entry buffer Propose hands to a leader, which
	// copies proposed entries into its log and keeps no reference to the
	// slice; reusing it saves an allocation per proposal.
	proposal [1]pb.Entry
}

// NewRawNode returns a node configured by config, loading its state from
// config.Storage. An invalid config (see Config) returns an error wrapping
// ErrInvalidConfig; a Storage failure returns that error. (etcd/raft panics
// on an invalid config.)
func NewRawNode(config *Config) (*RawNode, error) {
	r, err := newRaft(config)
	if err != nil {
		return nil, err
	}
	rn := &RawNode{raft: r, asyncStorageWrites: config.AsyncStorageWrites}
	rn.prevSoftSt = r.softState()
	rn.prevHardSt = r.hardState()
	return rn, nil
}

// Tick advances the node's logical clock by one tick. Elections and
// heartbeats are measured in ticks.
func (rn *RawNode) Tick() {
	rn.raft.tickLeaseClocks()
	rn.raft.tick()
}

// TickQuiesced advances the node's clock by one tick without heartbeats,
// elections or CheckQuorum: a follower's election timeout runs (it campaigns
// at its next Tick once past it), and under ReadOnlyLeaseBased the
// followers' promise not to vote and the leader's lease run out exactly as
// with Tick, so a leader serves no read from a lease that quiesced ticks
// have outlived. It exists for etcd/raft compatibility and is deprecated
// there: an application that quiesces a group should wake every member
// with Tick, not some.
func (rn *RawNode) TickQuiesced() {
	rn.raft.tickLeaseClocks()
	rn.raft.electionElapsed++
}

// Campaign makes this node start an election now (with PreVote if
// configured). As with etcd/raft it does nothing, returning nil and logging
// why, when the node leads already, is not a voter (a learner, removed, or
// installing a snapshot), or has committed configuration changes still to
// apply; BasicStatus shows the outcome. Under ReadOnlyLeaseBased it returns
// an error wrapping ErrCampaignRefused while the node keeps its promise not
// to vote (see ErrCampaignRefused), where etcd/raft would campaign.
func (rn *RawNode) Campaign() error {
	return rn.raft.Step(pb.Message{Type: pb.MsgHup})
}

// Propose asks for data to be appended to the log. On a follower the
// proposal is forwarded to the leader; ErrProposalDropped says it could not
// be accepted. Success does not mean the entry will commit: watch the
// committed entries.
func (rn *RawNode) Propose(data []byte) error {
	if rn.raft.state != StateLeader {
		// A follower forwards the message, entries and all, so the slice
		// must be its own.
		return rn.raft.Step(pb.Message{
			Type:    pb.MsgProp,
			From:    rn.raft.id,
			Entries: []pb.Entry{{Data: data}},
		})
	}
	rn.proposal[0] = pb.Entry{Data: data}
	err := rn.raft.Step(pb.Message{Type: pb.MsgProp, From: rn.raft.id, Entries: rn.proposal[:]})
	rn.proposal[0] = pb.Entry{}
	return err
}

// ProposeConfChange proposes a configuration change (a ConfChange or
// ConfChangeV2). The change takes effect when its entry is applied and the
// application calls ApplyConfChange.
func (rn *RawNode) ProposeConfChange(cc pb.ConfChangeI) error {
	if err := checkConfChangeArg(cc); err != nil {
		return err
	}
	m, err := confChangeToMsg(cc)
	if err != nil {
		return err
	}
	return rn.raft.Step(m)
}

// ApplyConfChange applies a committed configuration change to the node and
// returns the resulting configuration, which the application should store
// with its state (it goes into snapshots). Call it when the entry holding cc
// is applied.
func (rn *RawNode) ApplyConfChange(cc pb.ConfChangeI) *pb.ConfState {
	cs := rn.raft.applyConfChange(cc.AsV2())
	return &cs
}

// Step feeds a message received from a peer, or a storage response with
// AsyncStorageWrites, into the node. Local-only message types coming from
// the network are refused with ErrStepLocalMsg, responses from unknown
// peers with ErrStepPeerNotFound.
func (rn *RawNode) Step(m pb.Message) error {
	if IsLocalMsg(m.Type) && !IsLocalMsgTarget(m.From) {
		return ErrStepLocalMsg
	}
	if IsResponseMsg(m.Type) && !IsLocalMsgTarget(m.From) && rn.raft.trk.Progress[m.From] == nil {
		return ErrStepPeerNotFound
	}
	return rn.raft.Step(m)
}

// Ready returns the work the node has for the application and considers it
// handed out: the next Ready will not repeat it. Call HasReady first to
// avoid empty batches.
func (rn *RawNode) Ready() Ready {
	rn.raft.flushPending()
	rd := rn.readyWithoutAccept()
	rn.acceptReady(rd)
	return rd
}

// readyWithoutAccept assembles a Ready without changing the node.
func (rn *RawNode) readyWithoutAccept() Ready {
	r := rn.raft
	rd := Ready{
		Entries:          r.raftLog.nextUnstableEnts(),
		CommittedEntries: r.raftLog.nextCommittedEnts(rn.applyUnstableEntries()),
		Messages:         r.msgs,
	}
	if softSt := r.softState(); !softSt.equal(&rn.prevSoftSt) {
		// Copied so that softSt itself stays on the stack when unchanged.
		rd.SoftState = new(SoftState)
		*rd.SoftState = softSt
	}
	if hardSt := r.hardState(); hardSt != rn.prevHardSt {
		rd.HardState = hardSt
	}
	if r.raftLog.hasNextUnstableSnapshot() {
		rd.Snapshot = *r.raftLog.nextUnstableSnapshot()
	}
	if len(r.readStates) != 0 {
		rd.ReadStates = r.readStates
	}
	rd.MustSync = MustSync(r.hardState(), rn.prevHardSt, len(rd.Entries))

	if rn.asyncStorageWrites {
		if needStorageAppendMsg(r, rd) {
			rd.Messages = append(rd.Messages, newStorageAppendMsg(r, rd))
		}
		if needStorageApplyMsg(rd) {
			rd.Messages = append(rd.Messages, newStorageApplyMsg(r, rd))
		}
	} else {
		// Messages that wait for durability may go out with this Ready: the
		// contract is to persist before sending. Those addressed to
		// ourselves are stepped back in Advance instead.
		for _, m := range r.msgsAfterAppend {
			if m.To != r.id {
				rd.Messages = append(rd.Messages, m)
			}
		}
	}
	return rd
}

// acceptReady records that rd was handed to the application.
func (rn *RawNode) acceptReady(rd Ready) {
	r := rn.raft
	if rd.SoftState != nil {
		rn.prevSoftSt = *rd.SoftState
	}
	if !IsEmptyHardState(rd.HardState) {
		rn.prevHardSt = rd.HardState
	}
	if len(rd.ReadStates) != 0 {
		r.readStates = nil
	}
	if !rn.asyncStorageWrites {
		if len(rn.stepsOnAdvance) != 0 {
			r.logger.Panicf("raft: %x Ready called twice without Advance (%d acknowledgements pending)",
				r.id, len(rn.stepsOnAdvance))
		}
		for _, m := range r.msgsAfterAppend {
			if m.To == r.id {
				rn.stepsOnAdvance = append(rn.stepsOnAdvance, m)
			}
		}
		if needStorageAppendRespMsg(r, rd) {
			rn.stepsOnAdvance = append(rn.stepsOnAdvance, newStorageAppendRespMsg(r, rd))
		}
		if needStorageApplyRespMsg(rd) {
			rn.stepsOnAdvance = append(rn.stepsOnAdvance, newStorageApplyRespMsg(r, rd.CommittedEntries))
		}
	}
	r.msgsCapHint = len(r.msgs)
	r.msgs = nil
	if rn.asyncStorageWrites {
		// Handed out as the Responses of a MsgStorageAppend.
		r.msgsAfterAppend = nil
	} else {
		// Only copied out (to Messages or stepsOnAdvance): reuse the array.
		clear(r.msgsAfterAppend)
		r.msgsAfterAppend = r.msgsAfterAppend[:0]
	}
	r.raftLog.acceptUnstable()
	if n := len(rd.CommittedEntries); n > 0 {
		r.raftLog.acceptApplying(rd.CommittedEntries[n-1].Index, entsSize(rd.CommittedEntries), rn.applyUnstableEntries())
	}
}

// applyUnstableEntries reports whether committed entries may be handed out
// for application before they are durable locally. In synchronous mode they
// are persisted (from Ready.Entries) before being applied, so yes.
func (rn *RawNode) applyUnstableEntries() bool { return !rn.asyncStorageWrites }

// HasReady reports whether Ready would return anything to act upon.
func (rn *RawNode) HasReady() bool {
	r := rn.raft
	if softSt := r.softState(); !softSt.equal(&rn.prevSoftSt) {
		return true
	}
	if hardSt := r.hardState(); !IsEmptyHardState(hardSt) && hardSt != rn.prevHardSt {
		return true
	}
	if r.raftLog.hasNextUnstableSnapshot() {
		return true
	}
	if len(r.msgs) > 0 || len(r.msgsAfterAppend) > 0 || r.readOnly.hasUnsent() || r.appendsPending {
		return true
	}
	if r.raftLog.hasNextUnstableEnts() || r.raftLog.hasNextCommittedEnts(rn.applyUnstableEntries()) {
		return true
	}
	return len(r.readStates) != 0
}

// errAdvanceAsync is logged when Advance is called with AsyncStorageWrites.
var errAdvanceAsync = errors.New("raft: Advance must not be called when using AsyncStorageWrites")

// Advance tells the node that the application persisted, sent and applied
// the last Ready as the contract requires. The node then learns that its
// writes are durable (its own votes and append acknowledgements count now)
// and that the committed entries were applied. With AsyncStorageWrites,
// storage responses are stepped instead and Advance only logs an error.
func (rn *RawNode) Advance(_ Ready) {
	if rn.asyncStorageWrites {
		rn.raft.logger.Error(errAdvanceAsync.Error())
		return
	}
	for i, m := range rn.stepsOnAdvance {
		_ = rn.raft.Step(m)
		rn.stepsOnAdvance[i] = pb.Message{}
	}
	rn.stepsOnAdvance = rn.stepsOnAdvance[:0]
}

// Status returns the node's current status, including the progress of every
// peer when it leads. It allocates; see BasicStatus and WithProgress.
func (rn *RawNode) Status() Status { return getStatus(rn.raft) }

// BasicStatus returns the status without the progress map; it does not
// allocate.
func (rn *RawNode) BasicStatus() BasicStatus { return getBasicStatus(rn.raft) }

// ProgressType tells a voter's progress from a learner's in WithProgress.
type ProgressType byte

const (
	// ProgressTypePeer marks a voter.
	ProgressTypePeer ProgressType = iota
	// ProgressTypeLearner marks a learner.
	ProgressTypeLearner
)

// WithProgress calls visitor for every peer's progress, in ascending ID
// order, without allocating. The progress passed has nil Inflights.
func (rn *RawNode) WithProgress(visitor func(id uint64, typ ProgressType, pr tracker.Progress)) {
	rn.raft.trk.Visit(func(id uint64, pr *tracker.Progress) {
		typ := ProgressTypePeer
		if pr.IsLearner {
			typ = ProgressTypeLearner
		}
		p := *pr
		p.Inflights = nil
		visitor(id, typ, p)
	})
}

// ReportUnreachable tells the leader that a message to node id could not be
// delivered, so it stops optimistic replication to it.
func (rn *RawNode) ReportUnreachable(id uint64) {
	_ = rn.raft.Step(pb.Message{Type: pb.MsgUnreachable, From: id})
}

// SnapshotStatus is the outcome of sending a snapshot, reported with
// ReportSnapshot.
type SnapshotStatus int

const (
	// SnapshotFinish means the snapshot reached the follower.
	SnapshotFinish SnapshotStatus = 1
	// SnapshotFailure means it did not; the leader will retry.
	SnapshotFailure SnapshotStatus = 2
)

// ReportSnapshot tells the leader how sending a snapshot to node id ended.
// Every MsgSnap the application sends must be reported.
func (rn *RawNode) ReportSnapshot(id uint64, status SnapshotStatus) {
	_ = rn.raft.Step(pb.Message{Type: pb.MsgSnapStatus, From: id, Reject: status == SnapshotFailure})
}

// TransferLeader asks the leader to hand leadership to transferee. On a
// follower the request is forwarded to the leader.
func (rn *RawNode) TransferLeader(transferee uint64) {
	_ = rn.raft.Step(pb.Message{Type: pb.MsgTransferLeader, From: transferee})
}

// ForgetLeader makes a follower forget its leader, so it can grant votes at
// once instead of waiting out the lease. It is refused under
// ReadOnlyLeaseBased.
func (rn *RawNode) ForgetLeader() error {
	return rn.raft.Step(pb.Message{Type: pb.MsgForgetLeader})
}

// ReadIndex requests a linearizable read point. The answer arrives as a
// ReadState carrying rctx in a later Ready. Requests are never answered when
// leadership cannot be confirmed, so callers need a timeout.
func (rn *RawNode) ReadIndex(rctx []byte) {
	_ = rn.raft.Step(pb.Message{Type: pb.MsgReadIndex, Entries: []pb.Entry{{Data: rctx}}})
}
