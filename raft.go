package raft

import (
	"fmt"

	"github.com/pontoon-raft/raft/confchange"
	pb "github.com/pontoon-raft/raft/raftpb"
	"github.com/pontoon-raft/raft/tracker"
)

// stepFunc handles a message in the current role, after the role-independent
// term processing of raft.Step.
type stepFunc func(r *raft, m pb.Message) error

// raft is the state machine of one node. It performs no I/O: what it wants
// sent or persisted accumulates in msgs, msgsAfterAppend and the unstable log
// until RawNode hands it out in a Ready.
type raft struct {
	id uint64

	// Term and Vote are the persistent currentTerm and votedFor of the paper
	// (Figure 2); together with the commit index they form the HardState.
	Term uint64
	Vote uint64

	raftLog *raftLog

	// maxMsgSize bounds the entry bytes of one MsgApp.
	maxMsgSize uint64
	// maxUncommittedSize bounds the payload bytes of uncommitted entries a
	// leader accepts; uncommittedSize is the current total.
	maxUncommittedSize uint64
	uncommittedSize    uint64

	trk tracker.ProgressTracker

	state StateType
	// isLearner is true while this node is a learner in the configuration.
	isLearner bool

	// msgs are ready to send as soon as the Ready that carries them is taken.
	msgs []pb.Message
	// msgsCapHint is how many messages the last Ready carried: msgs is
	// handed to the application with each Ready, so a fresh one is needed,
	// and it starts at that size instead of growing by doubling.
	msgsCapHint int
	// msgsAfterAppend may only be sent once everything handed out for
	// persistence so far is durable: votes and append acknowledgements attest
	// durable state (paper §5.1: persist before responding).
	msgsAfterAppend []pb.Message
	// appendsPending records that the leader has entries or a commit index
	// its followers have not been sent yet. Proposals and commit advances
	// only set it; flushAppends sends one batched MsgApp per follower when
	// the next Ready is collected, instead of one per proposal or per
	// acknowledgement.
	appendsPending bool

	lead uint64
	// leadTransferee is the node leadership is being transferred to, or None.
	leadTransferee uint64
	// pendingConfIndex is the log index of the latest configuration change
	// proposed by this leader; a new one is refused until applied reaches it.
	pendingConfIndex uint64
	// disableConfChangeValidation mirrors Config.DisableConfChangeValidation.
	disableConfChangeValidation bool

	readOnly   *readOnly
	readStates []ReadState
	// pendingReadIndexMessages are reads that arrived before this leader
	// committed an entry of its own term; they are served once it has.
	pendingReadIndexMessages []pb.Message

	// electionElapsed counts ticks since the last election-timer reset: on
	// followers, since the leader was last heard from; on leaders, since the
	// last CheckQuorum.
	electionElapsed int
	// heartbeatElapsed counts ticks since the leader's last heartbeat round.
	heartbeatElapsed int
	// leaderTicks counts the ticks of this leadership; lease rounds are
	// stamped with it (see leaseValid).
	leaderTicks int64
	// leaseVoid is set once this leader sent MsgTimeoutNow: the transferee
	// may be elected without waiting for anyone's lease, so this leader's
	// lease means nothing for the rest of its term.
	leaseVoid bool
	// votesWithheldTicks is, under ReadOnlyLeaseBased, how many more ticks
	// this node refuses to vote, itself included: it heard from a leader
	// (and may have acknowledged a heartbeat round that leader's lease
	// counts on) or restarted (and may have done so before the crash). The
	// lease argument rests on this promise (see leaseValid).
	votesWithheldTicks int
	// leaseDriftTicks mirrors Config.LeaseDriftTicks.
	leaseDriftTicks int
	// asyncStorageWrites mirrors Config.AsyncStorageWrites.
	asyncStorageWrites bool

	checkQuorum bool
	preVote     bool

	heartbeatTimeoutTicks int
	electionTimeoutTicks  int
	// randomizedElectionTimeoutTicks is drawn from
	// [electionTimeoutTicks, 2*electionTimeoutTicks) at every reset so that
	// split votes resolve (paper §5.2).
	randomizedElectionTimeoutTicks int

	disableProposalForwarding bool
	stepDownOnRemoval         bool

	rand   RandomSource
	tick   func()
	step   stepFunc
	logger Logger
}

// newRaft builds a node from c, loading its HardState and configuration from
// c.Storage.
func newRaft(c *Config) (*raft, error) {
	if err := c.validate(); err != nil {
		return nil, err
	}
	raftlog, err := newLogWithSize(c.Storage, c.MaxCommittedSizePerReady)
	if err != nil {
		return nil, err
	}
	hs, cs, err := c.Storage.InitialState()
	if err != nil {
		return nil, fmt.Errorf("raft: reading initial state from storage: %w", err)
	}
	r := &raft{
		id:                          c.ID,
		lead:                        None,
		isLearner:                   false,
		raftLog:                     raftlog,
		maxMsgSize:                  c.MaxSizePerMsg,
		maxUncommittedSize:          c.MaxUncommittedEntriesSize,
		trk:                         tracker.MakeProgressTracker(c.MaxInflightMsgs, c.MaxInflightBytes),
		electionTimeoutTicks:        c.ElectionTick,
		heartbeatTimeoutTicks:       c.HeartbeatTick,
		logger:                      c.Logger,
		checkQuorum:                 c.CheckQuorum,
		preVote:                     c.PreVote,
		readOnly:                    newReadOnly(c.ReadOnlyOption),
		disableProposalForwarding:   c.DisableProposalForwarding,
		disableConfChangeValidation: c.DisableConfChangeValidation,
		stepDownOnRemoval:           c.StepDownOnRemoval,
		rand:                        c.Rand,
		leaseDriftTicks:             c.LeaseDriftTicks,
		asyncStorageWrites:          c.AsyncStorageWrites,
	}
	if c.ReadOnlyOption == ReadOnlyLeaseBased && hs.Term > 0 {
		// A restart: see votesWithheldTicks. A node whose term was never
		// durable acknowledged nothing (see echoAfterDurableTerm).
		r.votesWithheldTicks = c.ElectionTick
	}
	cfg, progress, err := confchange.Restore(confchange.Changer{
		Tracker:   r.trk,
		LastIndex: raftlog.lastIndex(),
	}, cs)
	if err != nil {
		return nil, fmt.Errorf("raft: restoring configuration %s from storage: %w", DescribeConfState(cs), err)
	}
	if restored := r.switchToConfig(cfg, progress); restored.Equivalent(cs) != nil {
		return nil, fmt.Errorf("raft: configuration restored from storage is %s, want %s",
			DescribeConfState(restored), DescribeConfState(cs))
	}
	if !IsEmptyHardState(hs) {
		if err := r.loadState(hs); err != nil {
			return nil, err
		}
	}
	if c.Applied > 0 {
		if c.Applied > r.raftLog.committed {
			return nil, invalidConfig("Applied (%d) is beyond the committed index (%d) in Storage",
				c.Applied, r.raftLog.committed)
		}
		if snapIndex := r.raftLog.applied; c.Applied < snapIndex {
			// Raising it to the snapshot would make the state machine skip
			// the entries in between.
			return nil, invalidConfig("Applied (%d) is below the snapshot index (%d) in Storage: restore "+
				"the state machine from the snapshot first (or pass Applied 0 to start from the snapshot)",
				c.Applied, snapIndex)
		}
		r.raftLog.appliedTo(c.Applied, 0)
	}
	r.becomeFollower(r.Term, None)

	r.logger.Infof("newRaft %x [peers: [%s], term: %d, commit: %d, applied: %d, lastindex: %d, lastterm: %d]",
		r.id, idList(r.trk.VoterNodes()), r.Term, r.raftLog.committed, r.raftLog.applied,
		r.raftLog.lastIndex(), r.raftLog.lastTerm())
	return r, nil
}

func (r *raft) hasLeader() bool { return r.lead != None }

func (r *raft) softState() SoftState { return SoftState{Lead: r.lead, RaftState: r.state} }

func (r *raft) hardState() pb.HardState {
	return pb.HardState{Term: r.Term, Vote: r.Vote, Commit: r.raftLog.committed}
}

// loadState installs a HardState read from Storage.
func (r *raft) loadState(state pb.HardState) error {
	if state.Commit < r.raftLog.committed || state.Commit > r.raftLog.lastIndex() {
		return fmt.Errorf("raft: %x HardState commit %d is out of the log's range [%d, %d]",
			r.id, state.Commit, r.raftLog.committed, r.raftLog.lastIndex())
	}
	r.raftLog.committed = state.Commit
	r.Term = state.Term
	r.Vote = state.Vote
	return nil
}

// send queues m for delivery, stamping its sender and term as the wire
// protocol requires: see the term rule of each type in msgFacts.
func (r *raft) send(m pb.Message) {
	if m.From == None {
		m.From = r.id
	}
	f := factsOf(m.Type)
	switch f.term {
	case termChosen:
		if m.Term == 0 {
			panic(fmt.Sprintf("raft: %x tried to send %s without a term", r.id, m.Type))
		}
	case termOfSender, termNone:
		if m.Term != 0 {
			panic(fmt.Sprintf("raft: %x tried to send %s with explicit term %d; only vote messages choose their term",
				r.id, m.Type, m.Term))
		}
		if f.term == termOfSender {
			m.Term = r.Term
		}
	default:
		panic(fmt.Sprintf("raft: %x tried to send %s, which never leaves a node", r.id, m.Type))
	}
	if f.heldUntilDurable || (m.Type == pb.MsgHeartbeatResp && r.echoAfterDurableTerm()) {
		// Held back until the storage writes handed out so far are done.
		r.msgsAfterAppend = append(r.msgsAfterAppend, m)
		return
	}
	if m.To == r.id {
		panic(fmt.Sprintf("raft: %x tried to send %s to itself", r.id, m.Type))
	}
	if r.msgs == nil && r.msgsCapHint > 0 {
		r.msgs = make([]pb.Message, 0, r.msgsCapHint)
	}
	r.msgs = append(r.msgs, m)
}

// echoAfterDurableTerm reports whether heartbeat echoes must wait for the
// node's writes: under ReadOnlyLeaseBased an echo promises the leader's
// lease that this node will not vote for an election timeout, a promise it
// keeps after a restart only if its term survives (see votesWithheldTicks).
// With synchronous storage writes the whole Ready is durable before its
// messages are sent anyway; with AsyncStorageWrites the echo waits behind
// the write of the HardState.
func (r *raft) echoAfterDurableTerm() bool {
	return r.asyncStorageWrites && r.readOnly.option == ReadOnlyLeaseBased
}

// reset prepares the node for a new role in term.
func (r *raft) reset(term uint64) {
	if r.Term != term {
		r.Term = term
		r.Vote = None
	}
	r.lead = None
	r.electionElapsed = 0
	r.heartbeatElapsed = 0
	r.resetRandomizedElectionTimeout()
	r.abortLeaderTransfer()
	r.trk.ResetVotes()
	lastIndex := r.raftLog.lastIndex()
	r.trk.Visit(func(id uint64, pr *tracker.Progress) {
		*pr = tracker.Progress{
			Match:     0,
			Next:      lastIndex + 1,
			Inflights: tracker.NewInflights(r.trk.MaxInflight, r.trk.MaxInflightBytes),
			IsLearner: pr.IsLearner,
		}
		if id == r.id {
			pr.Match = lastIndex
		}
	})
	r.pendingConfIndex = 0
	r.uncommittedSize = 0
	r.appendsPending = false
	r.leaderTicks = 0
	r.leaseVoid = false
	r.readOnly = newReadOnlyFrom(r.readOnly)
	r.pendingReadIndexMessages = nil
}

func (r *raft) resetRandomizedElectionTimeout() {
	r.randomizedElectionTimeoutTicks = r.electionTimeoutTicks + r.rand.Intn(r.electionTimeoutTicks)
}

func (r *raft) pastElectionTimeout() bool {
	return r.electionElapsed >= r.randomizedElectionTimeoutTicks
}

func (r *raft) becomeFollower(term uint64, lead uint64) {
	r.step = stepFollower
	r.reset(term)
	r.tick = r.tickElection
	r.lead = lead
	r.state = StateFollower
	r.logger.Infof("%x became follower at term %d", r.id, r.Term)
}

func (r *raft) becomeCandidate() {
	if r.state == StateLeader {
		panic(fmt.Sprintf("raft: %x invalid transition [leader -> candidate] at term %d", r.id, r.Term))
	}
	r.step = stepCandidate
	r.reset(r.Term + 1)
	r.tick = r.tickElection
	r.Vote = r.id
	r.state = StateCandidate
	r.logger.Infof("%x became candidate at term %d", r.id, r.Term)
}

func (r *raft) becomePreCandidate() {
	if r.state == StateLeader {
		panic(fmt.Sprintf("raft: %x invalid transition [leader -> pre-candidate] at term %d", r.id, r.Term))
	}
	// thesis §9.6: a pre-candidate neither raises its term nor changes its vote; it
	// only asks whether it could win.
	r.step = stepCandidate
	r.trk.ResetVotes()
	r.tick = r.tickElection
	r.lead = None
	r.state = StatePreCandidate
	r.logger.Infof("%x became pre-candidate at term %d", r.id, r.Term)
}

func (r *raft) becomeLeader() {
	if r.state == StateFollower {
		panic(fmt.Sprintf("raft: %x invalid transition [follower -> leader] at term %d", r.id, r.Term))
	}
	r.step = stepLeader
	r.reset(r.Term)
	r.tick = r.tickHeartbeat
	r.lead = r.id
	r.state = StateLeader
	// The leader's own entries are durable up to its last index (it persisted
	// them to vote for itself); it replicates optimistically to itself.
	pr := r.trk.Progress[r.id]
	pr.BecomeReplicate()
	pr.RecentActive = true

	// A configuration change may sit anywhere in the uncommitted tail; be
	// conservative and treat the whole tail as pending.
	r.pendingConfIndex = r.raftLog.lastIndex()

	// paper §5.4.2 and §8: commit an empty entry of the new term at once, so earlier
	// entries become committed and reads can be served.
	if !r.appendEntry(pb.Entry{Data: nil}) {
		panic(fmt.Sprintf("raft: %x could not append the empty entry of a new leader term", r.id))
	}
	r.logger.Infof("%x became leader at term %d", r.id, r.Term)
}

// appendEntry assigns term and index to es and appends them to the leader's
// log. It returns false, appending nothing, when the uncommitted-size limit
// would be exceeded.
func (r *raft) appendEntry(es ...pb.Entry) bool {
	lastIndex := r.raftLog.lastIndex()
	for i := range es {
		es[i].Term = r.Term
		es[i].Index = lastIndex + 1 + uint64(i)
	}
	if !r.increaseUncommittedSize(es) {
		r.logger.Warningf("%x appending new entries to log would exceed uncommitted entry size limit; dropping proposal", r.id)
		return false
	}
	lastIndex = r.raftLog.append(es...)
	// The leader counts itself like any follower, but only once the entries
	// are durable: this acknowledgement is released after the write. All
	// acknowledgements waiting for one write are released together, so the
	// newest covers the earlier ones of the same term.
	if n := len(r.msgsAfterAppend); n > 0 {
		if last := &r.msgsAfterAppend[n-1]; last.To == r.id && last.Type == pb.MsgAppResp && last.Term == r.Term && !last.Reject {
			last.Index = lastIndex
			return true
		}
	}
	r.send(pb.Message{To: r.id, Type: pb.MsgAppResp, Index: lastIndex})
	return true
}

// increaseUncommittedSize accounts for proposed entries, refusing them when
// the limit would be passed. A proposal is always accepted when nothing is
// uncommitted, so one oversized entry cannot block the leader forever.
func (r *raft) increaseUncommittedSize(ents []pb.Entry) bool {
	s := payloadsSize(ents)
	if r.uncommittedSize > 0 && s > 0 && r.uncommittedSize+s > r.maxUncommittedSize {
		return false
	}
	r.uncommittedSize += s
	return true
}

// reduceUncommittedSize releases the accounting of applied entries.
func (r *raft) reduceUncommittedSize(s uint64) {
	if s > r.uncommittedSize {
		// Entries from an earlier term are not counted; don't underflow.
		r.uncommittedSize = 0
	} else {
		r.uncommittedSize -= s
	}
}

// promotable reports whether this node may campaign: it is a voter and not
// in the middle of installing a snapshot.
func (r *raft) promotable() bool {
	pr := r.trk.Progress[r.id]
	return pr != nil && !pr.IsLearner && !r.raftLog.hasNextOrInProgressSnapshot()
}

// isSelfAckType reports whether a node steps messages of type t from itself:
// the acknowledgements of its own log writes and votes, stepped back once
// durable.
func isSelfAckType(t pb.MessageType) bool {
	return t == pb.MsgAppResp || t == pb.MsgVoteResp || t == pb.MsgPreVoteResp
}

// isValidSelfAck reports whether m, an acknowledgement this node sent
// itself in the current term, is one it could have sent: it never rejects,
// and never covers entries the log does not have.
func (r *raft) isValidSelfAck(m pb.Message) bool {
	if m.Type == pb.MsgAppResp {
		return !m.Reject && m.Index <= r.raftLog.lastIndex()
	}
	return !m.Reject
}

// Step is the single entry point for every message, local or remote. It
// refuses what no correct node sends (ErrMalformedMessage) before anything
// changes, applies the rules every role follows for a message of another
// term, then dispatches.
func (r *raft) Step(m pb.Message) error {
	if err := checkWellFormed(m); err != nil {
		r.logger.Warningf("%x refusing a message: %v", r.id, err)
		return err
	}
	if m.From == r.id && messageCarriesTerm(m.Type) {
		if !isSelfAckType(m.Type) {
			r.logger.Warningf("%x ignoring %s claiming to come from itself", r.id, DescribeMessage(m, nil))
			return malformed(m, "claims to come from the node itself")
		}
		if m.Term < r.Term {
			// Our own acknowledgement from an earlier term, such as the
			// append thread's for entries a later leader has replaced:
			// stale, like any message of an earlier term.
			r.logger.Debugf("%x ignoring its own %s of term %d at term %d", r.id, m.Type, m.Term, r.Term)
			return nil
		}
		if !r.isValidSelfAck(m) {
			r.logger.Warningf("%x ignoring %s claiming to come from itself", r.id, DescribeMessage(m, nil))
			return malformed(m, "not an acknowledgement the node could have sent itself")
		}
	}
	if m.Type == pb.MsgHeartbeat && m.Commit > r.raftLog.lastIndex() {
		// A leader's heartbeat commits at most what this node acknowledged
		// (see sendHeartbeat), whatever its term.
		r.logger.Errorf("%x refusing a heartbeat from %x at term %d that commits index %d beyond this node's last "+
			"index %d: either the message is corrupt or forged, or this node's storage lost entries it had "+
			"acknowledged (for example, its data was wiped while it kept its ID)",
			r.id, m.From, m.Term, m.Commit, r.raftLog.lastIndex())
		return malformed(m, "commit index %d beyond the last index %d", m.Commit, r.raftLog.lastIndex())
	}
	if m.Type == pb.MsgTimeoutNow && m.Term >= r.Term {
		// MsgTimeoutNow makes this node campaign past every lease, so only
		// the leader it follows in that term may send it (thesis §3.10).
		if m.Term > r.Term || r.lead == None {
			r.logger.Infof("%x [term %d] ignoring MsgTimeoutNow from %x at term %d: not following it",
				r.id, r.Term, m.From, m.Term)
			return nil
		}
		if m.From != r.lead {
			r.logger.Warningf("%x [term %d] refusing MsgTimeoutNow from %x: its leader is %x", r.id, r.Term, m.From, r.lead)
			return malformed(m, "only the leader %x of term %d may hand over leadership", r.lead, r.Term)
		}
	}
	switch {
	case m.Term == 0:
		// Local message or a term-less forward (MsgProp, MsgReadIndex).
	case m.Term > r.Term:
		if m.Type == pb.MsgVote || m.Type == pb.MsgPreVote {
			force := string(m.Context) == string(campaignTransfer)
			inLease := r.checkQuorum && (r.lead != None && r.electionElapsed < r.electionTimeoutTicks || r.votesWithheldTicks > 0)
			if !force && inLease {
				// paper §6, thesis §4.2.3: a node that heard from a leader within the
				// minimum election timeout neither grants a vote nor moves to
				// the candidate's term, so a partitioned node cannot depose a
				// healthy leader.
				r.logger.Infof("%x [logterm: %d, index: %d, vote: %x] ignored %s from %x [logterm: %d, index: %d] at term %d: lease is not expired (remaining ticks: %d)",
					r.id, r.raftLog.lastTerm(), r.raftLog.lastIndex(), r.Vote, m.Type, m.From, m.LogTerm, m.Index, r.Term,
					max(r.electionTimeoutTicks-r.electionElapsed, r.votesWithheldTicks))
				return nil
			}
		}
		switch {
		case m.Type == pb.MsgPreVote:
			// PreVote never changes our term.
		case m.Type == pb.MsgPreVoteResp && !m.Reject:
			// A granted pre-vote carries the future term of our candidacy;
			// the term moves only when the real election starts.
		default:
			r.logger.Infof("%x [term: %d] received a %s message with higher term from %x [term: %d]",
				r.id, r.Term, m.Type, m.From, m.Term)
			if m.Type == pb.MsgApp || m.Type == pb.MsgHeartbeat || m.Type == pb.MsgSnap {
				r.becomeFollower(m.Term, m.From)
			} else {
				r.becomeFollower(m.Term, None)
			}
		}
	case m.Term < r.Term:
		switch {
		case m.Type == pb.MsgHeartbeat || m.Type == pb.MsgApp:
			// Figure 2: tell a stale leader our term; the bare MsgAppResp
			// at our term makes it step down. Our higher term may never
			// reach it otherwise: with CheckQuorum or PreVote our
			// campaigns do not disturb it, and a node whose configuration
			// lacks that leader never asks it for a vote. (etcd/raft
			// answers only with CheckQuorum or PreVote; raftsim found a
			// node, restarted with a stale configuration, that the leader
			// had made a learner and could never reach: it campaigned at
			// ever higher terms and ignored the leader for good.)
			r.send(pb.Message{To: m.From, Type: pb.MsgAppResp})
		case m.Type == pb.MsgPreVote:
			// Reject explicitly so the pre-candidate learns our term and
			// does not wait for a timeout.
			r.send(pb.Message{To: m.From, Term: r.Term, Type: pb.MsgPreVoteResp, Reject: true})
		case m.Type == pb.MsgVote:
			// Figure 2: reply false with our term, which makes the candidate
			// a follower of our term. (etcd/raft stays silent.) Without the
			// reply, a candidate whose vote requests reach us but whose
			// term never does (our configuration lacks it, so our own
			// campaigns skip it) stays a term behind for good, always asking
			// for a vote we already cast in that term: a livelock raftsim
			// found after membership changes.
			r.send(pb.Message{To: m.From, Term: r.Term, Type: pb.MsgVoteResp, Reject: true})
		case m.Type == pb.MsgStorageAppendResp:
			// Entries written under an earlier term may since have been
			// replaced, so the acknowledgement does not make them stable. A
			// snapshot carries committed state and stays valid.
			if m.Snapshot != nil {
				r.appliedSnap(m.Snapshot)
			}
		default:
			r.logger.Debugf("%x [term: %d] ignored a %s message with lower term from %x [term: %d]",
				r.id, r.Term, m.Type, m.From, m.Term)
		}
		return nil
	}

	switch m.Type {
	case pb.MsgHup:
		if r.preVote {
			return r.hup(campaignPreElection)
		}
		return r.hup(campaignElection)
	case pb.MsgStorageAppendResp:
		if m.Index != 0 {
			r.raftLog.stableTo(m.Index, m.LogTerm)
		}
		if m.Snapshot != nil {
			r.appliedSnap(m.Snapshot)
		}
	case pb.MsgStorageApplyResp:
		if n := len(m.Entries); n > 0 {
			r.appliedTo(m.Entries[n-1].Index, entsSize(m.Entries))
			r.reduceUncommittedSize(payloadsSize(m.Entries))
		}
	case pb.MsgVote, pb.MsgPreVote:
		r.handleVoteRequest(m)
	default:
		return r.step(r, m)
	}
	return nil
}

// appliedTo records that the application applied entries up to index.
func (r *raft) appliedTo(index uint64, size uint64) {
	oldApplied := r.raftLog.applied
	newApplied := max(index, oldApplied)
	r.raftLog.appliedTo(newApplied, size)

	if r.trk.Config.AutoLeave && newApplied >= r.pendingConfIndex && r.state == StateLeader {
		// The joint configuration is applied and auto-leave was requested:
		// propose leaving it. The empty ConfChangeV2 (nil data) is the leave
		// marker; refusal (e.g. during a transfer) is retried on the next apply.
		m, err := confChangeToMsg(nil)
		if err != nil {
			panic(fmt.Sprintf("raft: encoding the auto-leave conf change: %v", err))
		}
		if err := r.Step(m); err != nil {
			r.logger.Debugf("%x not initiating automatic transition out of joint configuration %s: %v",
				r.id, r.trk.Config, err)
		} else {
			r.logger.Infof("%x initiating automatic transition out of joint configuration %s", r.id, r.trk.Config)
		}
	}
}

// appliedSnap records that the application installed snap.
func (r *raft) appliedSnap(snap *pb.Snapshot) {
	index := snap.Metadata.Index
	r.raftLog.stableSnapTo(index)
	r.appliedTo(index, 0)
}
