// Package server is one kvstore node: the Raft loop over a RawNode, the
// key-value state machine, the HTTP API and the metrics.
package server

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"log"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pontoon-raft/raft"
	"github.com/pontoon-raft/raft/examples/kvstore/internal/store"
	"github.com/pontoon-raft/raft/examples/kvstore/internal/transport"
	pb "github.com/pontoon-raft/raft/raftpb"
)

// Config configures a node.
type Config struct {
	// ID is this node's raft id.
	ID uint64
	// Peers maps every member of the initial cluster (this node included)
	// to its base URL, e.g. "http://127.0.0.1:7001". It is used only when
	// the data directory is empty and Join is false.
	Peers map[uint64]string
	// Join starts a node with an empty log that waits to be contacted by
	// the leader of an existing cluster (after POST /members/{id}).
	Join bool
	// DataDir holds the Pebble database (raft/pebble) and the snapshot
	// files (raft/snap).
	DataDir string

	// TickInterval is the wall-clock length of one raft tick;
	// ElectionTicks is the election timeout in ticks (the heartbeat is one
	// tick).
	TickInterval  time.Duration
	ElectionTicks int
	// SnapshotEntries is how many applied entries trigger a snapshot;
	// SnapshotCatchUpEntries is how many entries before the snapshot point
	// are kept so slow followers can catch up without a snapshot.
	SnapshotEntries        uint64
	SnapshotCatchUpEntries uint64

	// MaxKeyBytes and MaxValueBytes bound what PUT accepts.
	MaxKeyBytes   int
	MaxValueBytes int
	// RequestTimeout bounds how long a request waits for its write to
	// apply or its read index to be confirmed.
	RequestTimeout time.Duration
	// SendQueueSize bounds the messages queued for each peer.
	SendQueueSize int

	// Logger receives the node's and raft's log lines (stderr if nil).
	Logger *log.Logger
}

// Node is a running kvstore node.
type Node struct {
	cfg       Config
	rn        *raft.RawNode
	storage   *store.DiskStorage
	transport *transport.Transport
	kv        *kvState
	metrics   *metrics
	logger    *log.Logger

	// Owned by the Raft loop.
	confState    pb.ConfState
	appliedIndex uint64
	snapIndex    uint64
	// confChanged is set when a configuration change was applied after
	// the latest snapshot; see maybeSnapshot.
	confChanged  bool
	pendingReads map[uint64]*readRequest
	readyReads   []*readRequest // confirmed, waiting for appliedIndex

	waiters waitRegistry

	leader    atomic.Uint64
	applied   atomic.Uint64
	requestID atomic.Uint64

	recvc    chan pb.Message
	propc    chan proposal
	readc    chan *readRequest
	reportc  chan func(*raft.RawNode)
	statusc  chan chan raft.Status
	stopc    chan struct{}
	done     chan struct{}
	stopOnce sync.Once
}

// proposal is a write handed to the Raft loop; err receives the outcome of
// proposing it (not of committing it).
type proposal struct {
	data []byte
	cc   *pb.ConfChange
	err  chan error
}

// readRequest is a linearizable read waiting for its ReadIndex answer and
// then for the state machine to reach that index.
type readRequest struct {
	id       uint64
	index    uint64
	deadline time.Time
	done     chan struct{}
}

// Open opens the node's storage, recovers its state and returns a node
// ready to Run.
func Open(cfg Config) (*Node, error) {
	if cfg.Logger == nil {
		cfg.Logger = log.New(os.Stderr, fmt.Sprintf("node %d: ", cfg.ID), log.LstdFlags|log.Lmicroseconds)
	}
	n := &Node{
		cfg: cfg, kv: newKVState(), metrics: newMetrics(), logger: cfg.Logger,
		pendingReads: map[uint64]*readRequest{},
		recvc:        make(chan pb.Message, 1024),
		propc:        make(chan proposal, 1024),
		readc:        make(chan *readRequest, 1024),
		reportc:      make(chan func(*raft.RawNode), 1024),
		statusc:      make(chan chan raft.Status),
		stopc:        make(chan struct{}),
		done:         make(chan struct{}),
	}
	n.waiters.init()
	// Request ids must not repeat across restarts of this node: start from
	// the clock, with the node id in the top bits.
	n.requestID.Store(cfg.ID<<48 | uint64(time.Now().UnixNano())&(1<<48-1))

	st, err := store.Open(filepath.Join(cfg.DataDir, "raft"), store.Options{
		SyncObserver: func(d time.Duration) { n.metrics.fsyncLatency.Observe(d.Seconds()) },
	})
	if err != nil {
		return nil, err
	}
	n.storage = st
	snap, _ := st.Snapshot()
	if !raft.IsEmptySnap(snap) {
		if err := n.kv.restore(snap.Data); err != nil {
			st.Close()
			return nil, err
		}
		n.appliedIndex, n.snapIndex = snap.Metadata.Index, snap.Metadata.Index
		n.confState = snap.Metadata.ConfState
	}
	n.applied.Store(n.appliedIndex)

	rc := &raft.Config{
		ID: cfg.ID, ElectionTick: cfg.ElectionTicks, HeartbeatTick: 1, Storage: st,
		Applied: n.appliedIndex, MaxSizePerMsg: 1 << 20, MaxInflightMsgs: 256,
		MaxUncommittedEntriesSize: 64 << 20, CheckQuorum: true, PreVote: true,
		Logger: &raft.DefaultLogger{Logger: log.New(cfg.Logger.Writer(), fmt.Sprintf("raft %d: ", cfg.ID), log.LstdFlags|log.Lmicroseconds)},
	}
	if n.rn, err = raft.NewRawNode(rc); err != nil {
		st.Close()
		return nil, err
	}
	last, _ := st.LastIndex()
	if last == 0 && !cfg.Join {
		peers := make([]raft.Peer, 0, len(cfg.Peers))
		for id, url := range cfg.Peers {
			peers = append(peers, raft.Peer{ID: id, Context: []byte(url)})
		}
		if err := n.rn.Bootstrap(peers); err != nil {
			st.Close()
			return nil, err
		}
	}

	n.transport = transport.New(transport.Config{
		ID: cfg.ID, QueueSize: cfg.SendQueueSize,
		Deliver: func(ctx context.Context, m pb.Message) error {
			select {
			case n.recvc <- m:
				return nil
			case <-ctx.Done():
				return ctx.Err()
			case <-n.done:
				return raft.ErrStopped
			}
		},
		ReportUnreachable: func(id uint64) { n.report(func(rn *raft.RawNode) { rn.ReportUnreachable(id) }) },
		ReportSnapshot: func(id uint64, s raft.SnapshotStatus) {
			n.report(func(rn *raft.RawNode) { rn.ReportSnapshot(id, s) })
		},
		Dropped: func(peer uint64) { n.metrics.transportDrops.WithLabelValues(fmt.Sprint(peer)).Inc() },
		Logf:    n.logger.Printf,
	})
	for id, url := range cfg.Peers {
		n.transport.AddPeer(id, url)
	}
	for id, url := range n.kv.memberURLs() {
		n.transport.AddPeer(id, url)
	}
	return n, nil
}

// report queues a call on the RawNode without blocking; reports are hints,
// so one that does not fit is dropped.
func (n *Node) report(f func(*raft.RawNode)) {
	select {
	case n.reportc <- f:
	default:
	}
}

// Run runs the Raft loop until Stop. It is the only goroutine that touches
// the RawNode, the storage's write side and the state machine's writes.
func (n *Node) Run() {
	defer close(n.done)
	ticker := time.NewTicker(n.cfg.TickInterval)
	defer ticker.Stop()
	for {
		select {
		case <-ticker.C:
			n.rn.Tick()
			n.expireReads()
		case m := <-n.recvc:
			_ = n.rn.Step(m)
		case p := <-n.propc:
			n.propose(p)
		case r := <-n.readc:
			n.startRead(r)
		case f := <-n.reportc:
			f(n.rn)
		case c := <-n.statusc:
			c <- n.rn.Status()
		case <-n.stopc:
			return
		}
		// Take whatever else is already waiting, so that one Ready (and
		// one fsync) covers many requests.
		for i := 0; i < 512 && n.pollInput(); i++ {
		}
		for n.rn.HasReady() {
			if err := n.handleReady(); err != nil {
				n.logger.Fatalf("fatal: %v", err)
			}
		}
	}
}

// pollInput handles one waiting input, if any, without blocking.
func (n *Node) pollInput() bool {
	select {
	case m := <-n.recvc:
		_ = n.rn.Step(m)
	case p := <-n.propc:
		n.propose(p)
	case r := <-n.readc:
		n.startRead(r)
	case f := <-n.reportc:
		f(n.rn)
	default:
		return false
	}
	return true
}

// Stop stops the Raft loop, the transport and the storage.
func (n *Node) Stop() {
	n.stopOnce.Do(func() {
		close(n.stopc)
		<-n.done
		n.transport.Stop()
		if err := n.storage.Close(); err != nil {
			n.logger.Printf("closing storage: %v", err)
		}
	})
}

func (n *Node) propose(p proposal) {
	var err error
	if p.cc != nil {
		err = n.rn.ProposeConfChange(*p.cc)
	} else {
		err = n.rn.Propose(p.data)
	}
	if err != nil {
		n.metrics.proposals.WithLabelValues("dropped").Inc()
	} else {
		n.metrics.proposals.WithLabelValues("proposed").Inc()
	}
	p.err <- err
}

func (n *Node) startRead(r *readRequest) {
	n.pendingReads[r.id] = r
	ctx := make([]byte, 8)
	binary.BigEndian.PutUint64(ctx, r.id)
	n.rn.ReadIndex(ctx)
}

// expireReads forgets reads whose clients have given up; raft never answers
// a ReadIndex whose leadership could not be confirmed.
func (n *Node) expireReads() {
	now := time.Now()
	for id, r := range n.pendingReads {
		if now.After(r.deadline) {
			delete(n.pendingReads, id)
		}
	}
}

// handleReady handles one Ready in the order the Ready contract requires.
func (n *Node) handleReady() error {
	start := time.Now()
	rd := n.rn.Ready()
	if rd.SoftState != nil {
		if prev := n.leader.Swap(rd.SoftState.Lead); prev != rd.SoftState.Lead {
			n.metrics.leaderChanges.Inc()
			n.logger.Printf("leader is now %d", rd.SoftState.Lead)
		}
		isLeader := 0.0
		if rd.SoftState.RaftState == raft.StateLeader {
			isLeader = 1
		}
		n.metrics.isLeader.Set(isLeader)
	}
	if !raft.IsEmptyHardState(rd.HardState) {
		n.metrics.term.Set(float64(rd.HardState.Term))
	}

	// 1. Persist snapshot, entries and HardState in one batch, fsynced
	// when the Ready says so (and always for a snapshot).
	if err := n.storage.Save(rd.HardState, rd.Entries, rd.Snapshot, rd.MustSync); err != nil {
		return fmt.Errorf("persisting ready: %w", err)
	}
	// 2. Only now may messages promising that state go out.
	n.transport.Send(rd.Messages)
	// 3. Install the snapshot, then apply the committed entries.
	if !raft.IsEmptySnap(rd.Snapshot) {
		if err := n.installSnapshot(rd.Snapshot); err != nil {
			return err
		}
	}
	applyStart := time.Now()
	if err := n.applyEntries(rd.CommittedEntries); err != nil {
		return err
	}
	if len(rd.CommittedEntries) > 0 {
		n.metrics.applyDuration.Observe(time.Since(applyStart).Seconds())
	}
	// 4. Serve the reads whose read index is now applied.
	for _, rs := range rd.ReadStates {
		if len(rs.RequestCtx) != 8 {
			continue
		}
		id := binary.BigEndian.Uint64(rs.RequestCtx)
		if r, ok := n.pendingReads[id]; ok {
			delete(n.pendingReads, id)
			r.index = rs.Index
			n.readyReads = append(n.readyReads, r)
		}
	}
	n.releaseReads()
	// 5. Tell raft the Ready is handled.
	n.rn.Advance(rd)
	n.metrics.readyDuration.Observe(time.Since(start).Seconds())
	return n.maybeSnapshot()
}

func (n *Node) releaseReads() {
	kept := n.readyReads[:0]
	for _, r := range n.readyReads {
		if r.index <= n.appliedIndex {
			close(r.done)
		} else {
			kept = append(kept, r)
		}
	}
	n.readyReads = kept
}

func (n *Node) installSnapshot(snap pb.Snapshot) error {
	if err := n.kv.restore(snap.Data); err != nil {
		return err
	}
	n.confState = snap.Metadata.ConfState
	n.appliedIndex, n.snapIndex = snap.Metadata.Index, snap.Metadata.Index
	n.confChanged = false
	n.applied.Store(n.appliedIndex)
	for id, url := range n.kv.memberURLs() {
		n.transport.AddPeer(id, url)
	}
	n.metrics.snapshots.WithLabelValues("installed").Inc()
	n.metrics.appliedIndex.Set(float64(n.appliedIndex))
	n.logger.Printf("installed snapshot at index %d from the leader", snap.Metadata.Index)
	return nil
}

func (n *Node) applyEntries(ents []pb.Entry) error {
	for _, e := range ents {
		if e.Index <= n.appliedIndex {
			continue
		}
		switch e.Type {
		case pb.EntryNormal:
			if len(e.Data) == 0 {
				break // a new leader's empty entry
			}
			c, err := decodeCommand(e.Data)
			if err != nil {
				return fmt.Errorf("entry %d: %w", e.Index, err)
			}
			n.waiters.committed(c.RequestID, n.metrics.commitLatency)
			n.kv.apply(c)
			n.waiters.trigger(c.RequestID, nil)
		case pb.EntryConfChange:
			var cc pb.ConfChange
			if err := cc.Unmarshal(e.Data); err != nil {
				return fmt.Errorf("entry %d: conf change: %w", e.Index, err)
			}
			n.applyConfChange(cc)
		case pb.EntryConfChangeV2:
			return fmt.Errorf("entry %d: ConfChangeV2 is not used by kvstore", e.Index)
		}
		n.appliedIndex = e.Index
	}
	n.applied.Store(n.appliedIndex)
	n.metrics.appliedIndex.Set(float64(n.appliedIndex))
	return nil
}

func (n *Node) applyConfChange(cc pb.ConfChange) {
	n.confState = *n.rn.ApplyConfChange(cc)
	n.confChanged = true
	member := false
	for _, id := range append(n.confState.Voters, n.confState.Learners...) {
		member = member || id == cc.NodeID
	}
	switch {
	case cc.Type == pb.ConfChangeAddNode && member:
		url := string(cc.Context)
		n.kv.setMember(cc.NodeID, url)
		n.transport.AddPeer(cc.NodeID, url)
	case cc.Type == pb.ConfChangeRemoveNode && !member:
		n.kv.setMember(cc.NodeID, "")
		n.transport.RemovePeer(cc.NodeID)
		if cc.NodeID == n.cfg.ID {
			n.logger.Printf("this node was removed from the cluster")
		}
	}
	var err error
	if (cc.Type == pb.ConfChangeAddNode && !member) || (cc.Type == pb.ConfChangeRemoveNode && member) {
		err = errors.New("the configuration change was rejected")
	}
	n.waiters.trigger(cc.ID, err)
}

// maybeSnapshot snapshots the state machine once SnapshotEntries entries
// were applied since the last snapshot, then compacts the log, keeping
// SnapshotCatchUpEntries entries for followers that are slightly behind.
//
// It also snapshots right after a configuration change is applied: a node
// just added can only be caught up by a snapshot whose ConfState already
// contains it (raft ignores any other), and the leader only starts sending
// to that node after applying the change, which happens in the Ready this
// call follows.
func (n *Node) maybeSnapshot() error {
	if n.cfg.SnapshotEntries == 0 || n.appliedIndex == n.snapIndex ||
		(!n.confChanged && n.appliedIndex-n.snapIndex < n.cfg.SnapshotEntries) {
		return nil
	}
	n.confChanged = false
	data, err := n.kv.snapshot()
	if err != nil {
		return err
	}
	if _, err := n.storage.CreateSnapshot(n.appliedIndex, n.confState, data); err != nil {
		return fmt.Errorf("creating snapshot at %d: %w", n.appliedIndex, err)
	}
	n.snapIndex = n.appliedIndex
	n.metrics.snapshots.WithLabelValues("created").Inc()
	if n.appliedIndex > n.cfg.SnapshotCatchUpEntries {
		compact := n.appliedIndex - n.cfg.SnapshotCatchUpEntries
		first, _ := n.storage.FirstIndex()
		if compact >= first {
			if err := n.storage.Compact(compact); err != nil {
				return fmt.Errorf("compacting to %d: %w", compact, err)
			}
		}
	}
	return nil
}
