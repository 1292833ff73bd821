package raft

import (
	"context"
	"fmt"

	pb "github.com/pontoon-raft/raft/raftpb"
)

// Node is a RawNode running in its own goroutine, driven through channels.
// All methods are safe for concurrent use. The application must keep
// consuming Ready() and call Advance after handling each Ready (unless
// AsyncStorageWrites is set), exactly as with RawNode.
type Node interface {
	// Tick advances the logical clock by one tick. A tick that cannot be
	// queued because the node is busy is dropped and logged.
	Tick()
	// Campaign makes the node start an election.
	Campaign(ctx context.Context) error
	// Propose proposes data for the log and waits until the node accepted
	// or refused it (not until it commits). While no leader is known it
	// blocks until one is, ctx is done or the node stops.
	Propose(ctx context.Context, data []byte) error
	// ProposeConfChange proposes a configuration change without waiting for
	// the outcome; watch the committed entries.
	ProposeConfChange(ctx context.Context, cc pb.ConfChangeI) error
	// Step feeds a message from a peer. Local-only message types are
	// ignored.
	Step(ctx context.Context, msg pb.Message) error
	// Ready returns the channel on which the node offers its Ready batches.
	Ready() <-chan Ready
	// Advance tells the node the last Ready was handled (not with
	// AsyncStorageWrites).
	Advance()
	// ApplyConfChange applies a committed configuration change and returns
	// the new configuration.
	ApplyConfChange(cc pb.ConfChangeI) *pb.ConfState
	// TransferLeadership asks leader lead to hand over to transferee.
	TransferLeadership(ctx context.Context, lead, transferee uint64)
	// ForgetLeader makes a follower forget its leader (see
	// RawNode.ForgetLeader).
	ForgetLeader(ctx context.Context) error
	// ReadIndex requests a linearizable read point; the answer arrives as a
	// ReadState in a later Ready.
	ReadIndex(ctx context.Context, rctx []byte) error
	// Status returns the node's status (the zero Status once stopped).
	Status() Status
	// ReportUnreachable reports that a message to id could not be sent.
	ReportUnreachable(id uint64)
	// ReportSnapshot reports how sending a snapshot to id ended.
	ReportSnapshot(id uint64, status SnapshotStatus)
	// Stop stops the node's goroutine and waits for it to exit. Further
	// calls return ErrStopped or do nothing.
	Stop()
}

// msgWithResult is a proposal travelling to the node goroutine; result, if
// set, receives the outcome of stepping it.
type msgWithResult struct {
	m      pb.Message
	result chan error
}

// node implements Node.
type node struct {
	rn *RawNode

	propc      chan msgWithResult
	recvc      chan pb.Message
	confc      chan pb.ConfChangeV2
	confstatec chan pb.ConfState
	readyc     chan Ready
	advancec   chan struct{}
	tickc      chan struct{}
	statusc    chan chan Status
	stop       chan struct{}
	done       chan struct{}
}

// tickQueueSize bounds the ticks queued while the node goroutine is busy.
const tickQueueSize = 128

func newNode(rn *RawNode) *node {
	return &node{
		rn:         rn,
		propc:      make(chan msgWithResult),
		recvc:      make(chan pb.Message),
		confc:      make(chan pb.ConfChangeV2),
		confstatec: make(chan pb.ConfState),
		readyc:     make(chan Ready),
		advancec:   make(chan struct{}),
		tickc:      make(chan struct{}, tickQueueSize),
		statusc:    make(chan chan Status),
		stop:       make(chan struct{}),
		done:       make(chan struct{}),
	}
}

// StartNode starts a node for a new cluster member with the initial
// configuration peers, bootstrapping an empty Storage. It panics when peers
// is empty or the config is invalid (use NewRawNode to get an error
// instead); use RestartNode for a node with existing state.
func StartNode(c *Config, peers []Peer) Node {
	if len(peers) == 0 {
		panic("raft: StartNode needs at least one peer; use RestartNode for an existing node")
	}
	rn, err := NewRawNode(c)
	if err != nil {
		panic(err)
	}
	if err := rn.Bootstrap(peers); err != nil {
		c.Logger.Warningf("error occurred during starting a new node: %v", err)
	}
	n := newNode(rn)
	go n.run()
	return n
}

// RestartNode starts a node from the state in c.Storage. It panics when the
// config is invalid or Storage cannot be read.
func RestartNode(c *Config) Node {
	rn, err := NewRawNode(c)
	if err != nil {
		panic(err)
	}
	n := newNode(rn)
	go n.run()
	return n
}

// run is the node goroutine: the only place that touches n.rn.
func (n *node) run() {
	var (
		propc    chan msgWithResult
		readyc   chan Ready
		advancec chan struct{}
		rd       Ready
	)
	r := n.rn.raft
	lead := None
	removed := false
	for {
		if advancec == nil && readyc == nil {
			r.flushPending()
			if n.rn.HasReady() {
				// Offer the Ready; it is accepted only when taken.
				rd = n.rn.readyWithoutAccept()
				readyc = n.readyc
			}
		}
		if lead != r.lead || propc == nil {
			if lead != r.lead {
				// A new leader may have added this node back; let proposals
				// through again and let the leader decide (etcd does the same).
				removed = false
			}
			lead = r.lead
			if r.hasLeader() && !removed {
				propc = n.propc
			} else {
				// Proposals wait in their callers until a leader is known.
				propc = nil
			}
		}

		select {
		case pm := <-propc:
			m := pm.m
			m.From = r.id
			err := r.Step(m)
			if pm.result != nil {
				pm.result <- err
			}
		case m := <-n.recvc:
			if IsResponseMsg(m.Type) && !IsLocalMsgTarget(m.From) && r.trk.Progress[m.From] == nil {
				// A response from a node we don't know: ignore it.
				break
			}
			_ = r.Step(m)
		case cc := <-n.confc:
			_, wasMember := r.trk.Progress[r.id]
			cs := r.applyConfChange(cc)
			if _, isMember := r.trk.Progress[r.id]; wasMember && !isMember && !confStateContains(cs, r.id) {
				// Removed: there is no point accepting proposals any more.
				removed = true
				propc = nil
			}
			select {
			case n.confstatec <- cs:
			case <-n.done:
			}
		case <-n.tickc:
			n.rn.Tick()
		case readyc <- rd:
			n.rn.acceptReady(rd)
			if !n.rn.asyncStorageWrites {
				advancec = n.advancec
			}
			readyc = nil
			// The Ready was computed before later inputs may have changed
			// the node; recompute from scratch next time.
			if n.rn.asyncStorageWrites {
				rd = Ready{}
			}
		case <-advancec:
			n.rn.Advance(rd)
			rd = Ready{}
			advancec = nil
		case c := <-n.statusc:
			c <- getStatus(r)
		case <-n.stop:
			close(n.done)
			return
		}
		if readyc != nil {
			// Inputs handled above may have changed what the Ready should
			// contain; withdraw the offer and rebuild it.
			readyc = nil
		}
	}
}

func (n *node) Tick() {
	select {
	case n.tickc <- struct{}{}:
	case <-n.done:
	default:
		n.rn.raft.logger.Warningf("%x a tick missed to fire; node blocks too long", n.rn.raft.id)
	}
}

func (n *node) Campaign(ctx context.Context) error {
	return n.step(ctx, pb.Message{Type: pb.MsgHup})
}

func (n *node) Propose(ctx context.Context, data []byte) error {
	return n.stepWait(ctx, pb.Message{Type: pb.MsgProp, Entries: []pb.Entry{{Data: data}}})
}

func (n *node) ProposeConfChange(ctx context.Context, cc pb.ConfChangeI) error {
	if err := checkConfChangeArg(cc); err != nil {
		return err
	}
	m, err := confChangeToMsg(cc)
	if err != nil {
		return err
	}
	return n.Step(ctx, m)
}

func (n *node) Step(ctx context.Context, m pb.Message) error {
	if IsLocalMsg(m.Type) && !IsLocalMsgTarget(m.From) {
		// Local messages from the network are meaningless; drop them.
		return nil
	}
	return n.step(ctx, m)
}

// step hands m to the node goroutine without waiting for the outcome.
func (n *node) step(ctx context.Context, m pb.Message) error {
	return n.stepWithWaitOption(ctx, m, false)
}

// stepWait hands m to the node goroutine and returns the outcome.
func (n *node) stepWait(ctx context.Context, m pb.Message) error {
	return n.stepWithWaitOption(ctx, m, true)
}

func (n *node) stepWithWaitOption(ctx context.Context, m pb.Message, wait bool) error {
	if m.Type != pb.MsgProp {
		select {
		case n.recvc <- m:
			return nil
		case <-ctx.Done():
			return ctx.Err()
		case <-n.done:
			return ErrStopped
		}
	}
	pm := msgWithResult{m: m}
	if wait {
		pm.result = make(chan error, 1)
	}
	select {
	case n.propc <- pm:
		if !wait {
			return nil
		}
	case <-ctx.Done():
		return ctx.Err()
	case <-n.done:
		return ErrStopped
	}
	select {
	case err := <-pm.result:
		return err
	case <-ctx.Done():
		return ctx.Err()
	case <-n.done:
		return ErrStopped
	}
}

func (n *node) Ready() <-chan Ready { return n.readyc }

func (n *node) Advance() {
	select {
	case n.advancec <- struct{}{}:
	case <-n.done:
	}
}

func (n *node) ApplyConfChange(cc pb.ConfChangeI) *pb.ConfState {
	var cs pb.ConfState
	select {
	case n.confc <- cc.AsV2():
	case <-n.done:
		return &cs
	}
	select {
	case cs = <-n.confstatec:
	case <-n.done:
	}
	return &cs
}

func (n *node) TransferLeadership(ctx context.Context, lead, transferee uint64) {
	select {
	// The message names the transferee as its sender, as on the wire.
	case n.recvc <- pb.Message{Type: pb.MsgTransferLeader, From: transferee, To: lead}:
	case <-ctx.Done():
	case <-n.done:
	}
}

func (n *node) ForgetLeader(ctx context.Context) error {
	return n.step(ctx, pb.Message{Type: pb.MsgForgetLeader})
}

func (n *node) ReadIndex(ctx context.Context, rctx []byte) error {
	return n.step(ctx, pb.Message{Type: pb.MsgReadIndex, Entries: []pb.Entry{{Data: rctx}}})
}

func (n *node) Status() Status {
	c := make(chan Status, 1)
	select {
	case n.statusc <- c:
		return <-c
	case <-n.done:
		return Status{}
	}
}

func (n *node) ReportUnreachable(id uint64) {
	select {
	case n.recvc <- pb.Message{Type: pb.MsgUnreachable, From: id}:
	case <-n.done:
	}
}

func (n *node) ReportSnapshot(id uint64, status SnapshotStatus) {
	select {
	case n.recvc <- pb.Message{Type: pb.MsgSnapStatus, From: id, Reject: status == SnapshotFailure}:
	case <-n.done:
	}
}

func (n *node) Stop() {
	select {
	case n.stop <- struct{}{}:
	case <-n.done:
		return
	}
	<-n.done
}

// String identifies the node in logs.
func (n *node) String() string { return fmt.Sprintf("raft.Node(%x)", n.rn.raft.id) }
