package raft

import (
	"encoding/binary"

	"github.com/pontoon-raft/raft/quorum"
	pb "github.com/pontoon-raft/raft/raftpb"
)

// ReadState is the answer to a ReadIndex request: once the application has
// applied entries up to Index, a read of its state machine reflects every
// write committed before the request was made (thesis §6.4). RequestCtx is
// the context the request was made with.
type ReadState struct {
	Index      uint64
	RequestCtx []byte
}

// readIndexStatus is a ReadIndex request waiting for leadership to be
// confirmed.
type readIndexStatus struct {
	req pb.Message
	// index is the leader's commit index when the request arrived.
	index uint64
	// seq is the request's confirmation token; token is its wire form.
	seq   uint64
	token []byte
}

// readOnly tracks ReadIndex requests awaiting confirmation by a heartbeat
// round (every read under ReadOnlySafe; reads outside the lease under
// ReadOnlyLeaseBased) and, under ReadOnlyLeaseBased, the lease rounds.
//
// Every request gets its own sequence number. A heartbeat carries the token
// of the newest request registered before it was sent; a follower's echo of
// token s proves it still followed this leader after requests 1..s arrived,
// so a quorum of echoes ≥ s confirms them all. Two requests with equal (or
// empty) contexts are therefore never confused, and one heartbeat round
// serves any number of requests. Tokens are 8-byte little-endian numbers,
// the format etcd/raft v3.7 leaders use too.
type readOnly struct {
	option ReadOnlyOption
	// queue holds pending requests in arrival (and seq) order.
	queue []*readIndexStatus
	// acks holds, per node, the highest token it echoed in this term.
	acks map[uint64]quorum.Index
	// lastSeq is the last token handed out. It survives term changes so that
	// a token is never reused by this node.
	lastSeq uint64
	// unsent is true when a request arrived after the last heartbeat round
	// that carried the newest token.
	unsent bool
	// rounds are the heartbeat rounds of ReadOnlyLeaseBased, each with a
	// token of its own, in token order; rounds too old to give a lease are
	// dropped.
	rounds []leaseRound
}

// leaseRound is a heartbeat round sent by a leader with ReadOnlyLeaseBased:
// its token and the leader's tick when it went out.
type leaseRound struct {
	seq      uint64
	sentTick int64
}

func newReadOnly(option ReadOnlyOption) *readOnly {
	return &readOnly{option: option, acks: map[uint64]quorum.Index{}}
}

// newReadOnlyFrom returns an empty tracker that continues old's sequence.
func newReadOnlyFrom(old *readOnly) *readOnly {
	ro := newReadOnly(old.option)
	ro.lastSeq = old.lastSeq
	return ro
}

// addRequest registers a request observed at commit index `index` and
// records self's acknowledgement of it.
func (ro *readOnly) addRequest(index uint64, m pb.Message, self uint64) {
	ro.lastSeq++
	token := make([]byte, 8)
	binary.LittleEndian.PutUint64(token, ro.lastSeq)
	ro.queue = append(ro.queue, &readIndexStatus{req: m, index: index, seq: ro.lastSeq, token: token})
	ro.acks[self] = quorum.Index(ro.lastSeq)
	ro.unsent = true
}

// lastPendingToken returns the token of the newest pending request, or nil.
func (ro *readOnly) lastPendingToken() []byte {
	if len(ro.queue) == 0 {
		return nil
	}
	return ro.queue[len(ro.queue)-1].token
}

// takeUnsentToken returns the newest token if it has not been sent in a
// heartbeat yet, and marks it sent.
func (ro *readOnly) takeUnsentToken() []byte {
	if !ro.unsent {
		return nil
	}
	ro.unsent = false
	return ro.lastPendingToken()
}

// takeNewestToken returns the newest token (nil if no read is pending) for
// a heartbeat round about to go out, and marks it sent: that round confirms
// every pending read, so flushReadIndex need not start another.
func (ro *readOnly) takeNewestToken() []byte {
	ro.unsent = false
	return ro.lastPendingToken()
}

// newLeaseRound hands out a fresh token for a heartbeat round sent at
// tick now, records the round, and counts self's acknowledgement. The token
// is newer than every pending request, so the round confirms them all.
// Rounds sent at or before oldest can no longer give a lease and are
// dropped.
func (ro *readOnly) newLeaseRound(now, oldest int64, self uint64) []byte {
	ro.lastSeq++
	token := make([]byte, 8)
	binary.LittleEndian.PutUint64(token, ro.lastSeq)
	ro.acks[self] = quorum.Index(ro.lastSeq)
	ro.unsent = false
	n := 0
	for n < len(ro.rounds) && ro.rounds[n].sentTick <= oldest {
		n++
	}
	ro.rounds = append(ro.rounds[n:], leaseRound{seq: ro.lastSeq, sentTick: now})
	return token
}

// quorumRoundSentTick returns the send tick of the newest lease round that
// a quorum of voters has echoed (or a newer one), if it is still recorded.
func (ro *readOnly) quorumRoundSentTick(voters quorum.JointConfig) (int64, bool) {
	confirmed := uint64(voters.CommittedIndex(ro))
	for i := len(ro.rounds) - 1; i >= 0; i-- {
		if ro.rounds[i].seq <= confirmed {
			return ro.rounds[i].sentTick, true
		}
	}
	return 0, false
}

// recvAck records that node id echoed ctx. It reports whether the echo
// could confirm a pending request.
func (ro *readOnly) recvAck(id uint64, ctx []byte) bool {
	if len(ctx) != 8 {
		return false
	}
	seq := quorum.Index(binary.LittleEndian.Uint64(ctx))
	if seq > quorum.Index(ro.lastSeq) || seq <= ro.acks[id] {
		return false
	}
	ro.acks[id] = seq
	return true
}

// AckedIndex lets the quorum package find the highest token echoed by a
// quorum, exactly as it finds the commit index.
func (ro *readOnly) AckedIndex(id uint64) (quorum.Index, bool) {
	idx, ok := ro.acks[id]
	return idx, ok
}

// advance removes and returns, in order, the requests confirmed by a quorum
// of voters.
func (ro *readOnly) advance(voters quorum.JointConfig) []*readIndexStatus {
	confirmed := uint64(voters.CommittedIndex(ro))
	n := 0
	for n < len(ro.queue) && ro.queue[n].seq <= confirmed {
		n++
	}
	if n == 0 {
		return nil
	}
	done := ro.queue[:n:n]
	ro.queue = ro.queue[n:]
	return done
}

// handleReadIndex serves MsgReadIndex on the leader.
func (r *raft) handleReadIndex(m pb.Message) {
	if len(m.Entries) != 1 {
		r.logger.Warningf("%x ignored MsgReadIndex from %x with %d entries (want 1)", r.id, m.From, len(m.Entries))
		return
	}
	// thesis §6.4: until it commits an entry of its own term, a new leader does not
	// know the cluster's commit index; defer the read. A sole voter too: with
	// AsyncStorageWrites it may have applied entries (and answered their
	// clients) before a crash lost the HardState committing them.
	if !r.committedEntryInCurrentTerm() {
		r.pendingReadIndexMessages = append(r.pendingReadIndexMessages, m)
		return
	}
	r.serveReadIndex(m)
}

// serveReadIndex answers (lease) or registers (safe) a read.
func (r *raft) serveReadIndex(m pb.Message) {
	if r.isSoleVoter() {
		// We are the sole voter, so nobody else can have been elected: once
		// we committed in our term, our commit index is current. (A leader
		// demoted or removed whose one voter is another node knows no such
		// thing: it confirms by round.)
		if resp := r.responseToReadIndexReq(m, r.raftLog.committed); resp.To != None {
			r.send(resp)
		}
		return
	}
	switch r.readOnly.option {
	case ReadOnlySafe:
		r.readOnly.addRequest(r.raftLog.committed, m, r.id)
		// The heartbeat round goes out when the node's output is next
		// collected (flushReadIndex), so reads arriving together share it.
	case ReadOnlyLeaseBased:
		if !r.leaseValid() {
			// Confirm this read by a heartbeat round instead; its answer
			// also renews the lease.
			r.readOnly.addRequest(r.raftLog.committed, m, r.id)
			return
		}
		if resp := r.responseToReadIndexReq(m, r.raftLog.committed); resp.To != None {
			r.send(resp)
		}
	}
}

// leaseValid reports whether this leader may answer reads from its lease:
// whether no other leader can have been elected since its last round of
// heartbeats that a quorum of voters acknowledged.
//
// A voter that answered a heartbeat sent at leader tick s received it at or
// after s, and then refuses to vote, itself included, for an election
// timeout of its own ticks (restarted voters too: see votesWithheldTicks and
// echoAfterDurableTerm). Tick and TickQuiesced move that promise and this
// lease alike. While a follower counts E = electionTimeout ticks the leader
// counts at least E - leaseDriftTicks (Config.LeaseDriftTicks), so no other
// leader exists before the leader's tick s + E - leaseDriftTicks; two more
// ticks are kept in reserve for the phase difference between the clocks. Unlike etcd/raft, whose
// leader trusts its lease until a CheckQuorum finds it cut off (up to two
// election timeouts after it lost its quorum, when a new leader may already
// have served writes), this lease is counted from the send time of the
// acknowledged heartbeats. It still assumes bounded clock drift, as every
// lease does. A leader that started a transfer has no lease: the transferee
// is elected without waiting.
func (r *raft) leaseValid() bool {
	if r.leadTransferee != None || r.leaseVoid {
		return false
	}
	sent, ok := r.readOnly.quorumRoundSentTick(r.trk.Voters)
	return ok && r.leaderTicks-sent <= r.leaseTicks()
}

// leaseTicks is how many leader ticks after its send a heartbeat round that
// a quorum acknowledged gives a lease (see leaseValid).
func (r *raft) leaseTicks() int64 {
	return int64(r.electionTimeoutTicks) - 2 - int64(r.leaseDriftTicks)
}

// flushReadIndex starts the heartbeat round confirming reads registered
// since the last round. RawNode calls it before collecting a Ready.
func (r *raft) flushReadIndex() {
	if r.state != StateLeader {
		return
	}
	if r.readOnly.option == ReadOnlyLeaseBased {
		if r.readOnly.hasUnsent() {
			r.bcastHeartbeat()
		}
		return
	}
	if token := r.readOnly.takeUnsentToken(); token != nil {
		r.bcastHeartbeatWithCtx(token)
	}
}

// hasUnsent reports whether flushReadIndex has a round to start.
func (ro *readOnly) hasUnsent() bool { return ro.unsent }

// releasePendingReadIndexMessages serves the reads deferred until this
// leader committed an entry of its term.
func (r *raft) releasePendingReadIndexMessages() {
	if len(r.pendingReadIndexMessages) == 0 {
		return
	}
	if !r.committedEntryInCurrentTerm() {
		r.logger.Error("pending MsgReadIndex should be released only after first commit in current term")
		return
	}
	msgs := r.pendingReadIndexMessages
	r.pendingReadIndexMessages = nil
	for _, m := range msgs {
		r.serveReadIndex(m)
	}
}

// responseToReadIndexReq answers a read at readIndex: locally as a
// ReadState when the request is our own, else with MsgReadIndexResp to the
// follower that forwarded it.
func (r *raft) responseToReadIndexReq(req pb.Message, readIndex uint64) pb.Message {
	if req.From == None || req.From == r.id {
		r.readStates = append(r.readStates, ReadState{Index: readIndex, RequestCtx: req.Entries[0].Data})
		return pb.Message{}
	}
	return pb.Message{Type: pb.MsgReadIndexResp, To: req.From, Index: readIndex, Entries: req.Entries}
}
