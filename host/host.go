package host

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"sort"
	"sync"
	"time"

	"github.com/pontoon-raft/raft"
	"github.com/pontoon-raft/raft/transport"
	"github.com/pontoon-raft/raft/wal"
)

// Host runs this node's replicas of any number of Raft groups: one Raft loop
// owns every replica (RawNode), a storage stage writes the work of every
// ready replica with one wal.Save, and an apply stage applies committed
// commands to the state machines. See the package documentation.
type Host struct {
	cfg     Config
	id      uint64
	session uint64
	engine  *wal.Engine
	snaps   *wal.SnapshotStore
	trans   transport.Transport

	// Inputs of the Raft loop: functions run on it, in order.
	inMu   sync.Mutex
	inputs []input
	// inputsClosed: Stop failed the inputs left; no request may join them.
	inputsClosed bool
	wake         chan struct{}

	// Owned by the Raft loop.
	groups    map[uint64]*group
	order     []uint64 // the keys of groups, sorted
	dirty     []*group
	ticks     int64
	nextSeq   uint64
	nextToken uint64
	out       []transport.GroupMessage
	batch     []appendWork
	// localSnaps are snapshot records for the next storage batch.
	localSnaps []wal.Update
	quiesced   int
	// lastHeard is the tick at which each peer host was last heard from;
	// silent, whether it had not been for an election timeout at the last
	// tick.
	lastHeard map[uint64]int64
	silent    map[uint64]bool
	// ticking lists the replicas the clock visits (quiesce.go).
	ticking []uint64
	// peerHosts are the hosts this host shares a group with, when
	// peerHostsKnown.
	peerHosts      []uint64
	peerHostsKnown bool

	// groupIDs mirrors the keys of groups for other goroutines (HasGroup).
	idMu     sync.RWMutex
	groupIDs map[uint64]bool

	// The storage stage's queue of batches, in order.
	stMu    sync.Mutex
	stQueue [][]appendWork
	// lazy: the groups with a lazyHS (storage stage only).
	lazy   []*group
	stWake chan struct{}

	// The apply stage: groups with tasks, each once; and, in Manual mode,
	// background jobs (snapshot writing) run by RunApply.
	apMu    sync.Mutex
	apQueue []*group
	apWake  chan struct{}
	bgJobs  []func()

	// incoming holds the local copies of snapshots received, until their
	// MsgSnap is stepped.
	inSnapMu sync.Mutex
	incoming map[snapKey]wal.SnapshotRef

	errMu sync.Mutex
	err   error

	stop     chan struct{}
	stopOnce sync.Once
	wg       sync.WaitGroup
}

// snapKey names a snapshot of a group.
type snapKey struct{ group, term, index uint64 }

// New opens the host's storage under cfg.Dir, restarts every replica found
// there (restoring each state machine from its latest snapshot), builds the
// transport and, unless cfg.Manual, starts the host's goroutines.
func New(cfg Config) (*Host, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	engine, err := wal.Open(filepath.Join(cfg.Dir, "wal"), wal.Options{FS: cfg.FS, SegmentBytes: cfg.LogSegmentBytes})
	if err != nil {
		return nil, fmt.Errorf("host: opening the log engine: %w", err)
	}
	snaps, err := wal.OpenSnapshotStore(cfg.FS, filepath.Join(cfg.Dir, "snap"))
	if err != nil {
		engine.Close()
		return nil, fmt.Errorf("host: opening the snapshot store: %w", err)
	}
	h := &Host{
		cfg: cfg, id: cfg.NodeID, engine: engine, snaps: snaps,
		nextSeq:   1,
		wake:      make(chan struct{}, 1),
		groups:    map[uint64]*group{},
		lastHeard: map[uint64]int64{},
		silent:    map[uint64]bool{},
		groupIDs:  map[uint64]bool{},
		stWake:    make(chan struct{}, 1),
		apWake:    make(chan struct{}, cfg.ApplyWorkers),
		incoming:  map[snapKey]wal.SnapshotRef{},
		stop:      make(chan struct{}),
	}
	incarnation, err := h.nextIncarnation()
	if err != nil {
		engine.Close()
		return nil, fmt.Errorf("host: counting the host's incarnations: %w", err)
	}
	// The session tags this incarnation's proposals and, as the first read
	// token, its reads: a reply meant for an earlier incarnation (still in
	// the network when it crashed) must match nothing of this one, even if
	// Rand is seeded as before.
	h.session = newSession(cfg.Rand.Uint64(), incarnation)
	h.nextToken = h.session
	joining, err := h.readJoining()
	if err != nil {
		engine.Close()
		return nil, err
	}
	ids := append(engine.Groups(), joining...)
	slices.Sort(ids)
	ids = slices.Compact(ids)
	for _, id := range ids {
		if err := h.openGroup(id); err != nil {
			h.closeStorage()
			return nil, err
		}
	}
	if h.trans, err = cfg.NewTransport(h); err != nil {
		h.closeStorage()
		return nil, fmt.Errorf("host: building the transport: %w", err)
	}
	if !cfg.Manual {
		h.startGoroutines()
	}
	return h, nil
}

// openGroup starts the replica of group id over its storage (see
// StartGroup for how a new one gets there). It runs on the Raft loop, or in
// New.
func (h *Host) openGroup(id uint64) error {
	storage := h.engine.Storage(id)
	snap, err := storage.Snapshot()
	if err != nil {
		return fmt.Errorf("host: group %d: reading its snapshot: %w", id, err)
	}
	_, cs, err := storage.InitialState()
	if err != nil {
		return fmt.Errorf("host: group %d: reading its state: %w", id, err)
	}
	rc := h.cfg.raftConfig(h.id, storage, snap.Metadata.Index)
	rc.Logger = newGroupLogger(rc.Logger, id)
	rn, err := raft.NewRawNode(rc)
	if err != nil {
		return fmt.Errorf("host: group %d: %w", id, err)
	}
	sm, err := h.cfg.NewStateMachine(id)
	if err != nil {
		return fmt.Errorf("host: group %d: building its state machine: %w", id, err)
	}
	g := &group{
		id: id, rn: rn, storage: storage, confState: cs,
		sm: sm, sessions: newSessions(maxSessions),
	}
	h.groups[id] = g
	i, _ := slices.BinarySearch(h.order, id)
	h.order = slices.Insert(h.order, i, id)
	h.idMu.Lock()
	h.groupIDs[id] = true
	h.idMu.Unlock()
	h.configChanged()
	h.startTicking(g)
	if !raft.IsEmptySnap(snap) {
		// Committed entries after the snapshot follow this task in order.
		h.queueApply(g, applyTask{restore: &snap})
	}
	h.markDirty(g)
	return nil
}

// startGoroutines runs the Raft loop, the storage stage and the apply
// workers.
func (h *Host) startGoroutines() {
	h.wg.Add(2 + h.cfg.ApplyWorkers)
	go func() {
		defer h.wg.Done()
		ticker := time.NewTicker(h.cfg.TickInterval)
		defer ticker.Stop()
		for {
			select {
			case <-h.stop:
				return
			case <-ticker.C:
				h.post(h.tick)
			case <-h.wake:
			}
			for h.RunRaft() {
			}
		}
	}()
	go func() {
		defer h.wg.Done()
		for {
			select {
			case <-h.stop:
				return
			case <-h.stWake:
			}
			for h.RunStorage() {
			}
		}
	}()
	for i := 0; i < h.cfg.ApplyWorkers; i++ {
		go func() {
			defer h.wg.Done()
			for {
				select {
				case <-h.stop:
					return
				case <-h.apWake:
				}
				for h.RunApply() {
				}
			}
		}()
	}
}

// post queues fn to run on the Raft loop.
func (h *Host) post(fn func()) {
	h.inMu.Lock()
	h.inputs = append(h.inputs, input{fn: fn})
	h.inMu.Unlock()
	h.wakeLoop()
}

// wakeLoop wakes the Raft loop if it sleeps.
func (h *Host) wakeLoop() {
	select {
	case h.wake <- struct{}{}:
	default:
	}
}

// input is a function for the Raft loop to run, and the request it starts
// if any, which fails with ErrStopped if the loop never runs it.
type input struct {
	fn func()
	r  *Request
}

// submit has the Raft loop start r with fn: at once in Manual mode,
// through the input queue otherwise, without waiting for the loop (the
// caller waits for r). A request the loop never took, because the host
// stopped first, fails with ErrStopped at Stop.
func (h *Host) submit(r *Request, fn func()) {
	if h.cfg.Manual {
		if err := h.call(fn); err != nil {
			r.finish(nil, err)
		}
		return
	}
	h.inMu.Lock()
	if h.inputsClosed || h.Err() != nil {
		h.inMu.Unlock()
		r.finish(nil, ErrStopped)
		return
	}
	h.inputs = append(h.inputs, input{fn: fn, r: r})
	h.inMu.Unlock()
	h.wakeLoop()
}

// call runs fn on the Raft loop and waits for it: at once in Manual mode
// (the caller is the loop's only goroutine), through the input queue
// otherwise.
func (h *Host) call(fn func()) error {
	if h.cfg.Manual {
		if err := h.Err(); err != nil {
			return err
		}
		var failed error
		func() {
			defer h.stopOnPanic(func(err error) { failed = err })
			fn()
		}()
		return failed
	}
	done := make(chan struct{})
	h.post(func() { fn(); close(done) })
	select {
	case <-done:
		return nil
	case <-h.stop:
		return ErrStopped
	}
}

// Err returns the error that stopped the host (a failed write, or Stop), or
// nil while it runs.
func (h *Host) Err() error {
	h.errMu.Lock()
	defer h.errMu.Unlock()
	return h.err
}

// fail stops the host after an error it cannot recover from, such as a
// failed write: the storage engine refuses every later write, so the
// replicas could not go on safely. Reopen the host to recover.
func (h *Host) fail(err error) {
	h.errMu.Lock()
	if h.err == nil {
		h.err = err
		h.cfg.Logger.Errorf("host %x: stopping: %v", h.id, err)
	}
	h.errMu.Unlock()
	h.stopOnce.Do(func() { close(h.stop) })
}

// Stop stops the host: its goroutines end, the transport and storage close,
// and requests still waiting fail with ErrStopped. Stop must not be called
// from a Handler or a state machine.
func (h *Host) Stop() error {
	h.errMu.Lock()
	if h.err == nil {
		h.err = ErrStopped
	}
	h.errMu.Unlock()
	h.stopOnce.Do(func() { close(h.stop) })
	var err error
	if h.trans != nil {
		err = h.trans.Close()
	}
	h.wg.Wait()
	h.inMu.Lock()
	h.failInputs(h.inputs)
	h.inputs, h.inputsClosed = nil, true
	h.inMu.Unlock()
	for _, g := range h.groups {
		h.failRequests(g, ErrStopped)
		g.apMu.Lock()
		if cerr := g.sm.Close(); cerr != nil && err == nil {
			err = cerr
		}
		g.apMu.Unlock()
	}
	if cerr := h.closeStorage(); cerr != nil && err == nil {
		err = cerr
	}
	return err
}

func (h *Host) closeStorage() error { return h.engine.Close() }

// ID returns the host's node ID.
func (h *Host) ID() uint64 { return h.id }

// Groups returns the IDs of the groups with a replica on this host, in
// increasing order.
func (h *Host) Groups() []uint64 {
	h.idMu.RLock()
	defer h.idMu.RUnlock()
	ids := make([]uint64, 0, len(h.groupIDs))
	for id := range h.groupIDs {
		ids = append(ids, id)
	}
	sort.Slice(ids, func(i, j int) bool { return ids[i] < ids[j] })
	return ids
}

// StartGroup starts a replica of a new group. With peers (the node IDs of
// its initial voters, this host among them) it bootstraps the group; with
// none, the replica starts empty and waits to be added by the group's
// leader (see AddReplica), which then catches it up. Either way the replica
// is on disk when StartGroup returns: a host restarting later runs it
// again, as it runs every replica found on disk in New.
func (h *Host) StartGroup(id uint64, peers []uint64) error {
	if id == 0 {
		return fmt.Errorf("host: group ID 0 is reserved")
	}
	var err error
	if cerr := h.call(func() {
		if h.groups[id] != nil {
			err = ErrGroupExists
			return
		}
		// Durable before the replica starts (registry.go).
		if len(peers) > 0 {
			err = h.bootstrapLog(id, peers)
		} else {
			err = h.setJoining(id, true)
		}
		if err != nil {
			err = fmt.Errorf("host: starting group %d: %w", id, err)
			return
		}
		err = h.openGroup(id)
	}); cerr != nil {
		return cerr
	}
	return err
}

// Status returns the status of the replica of group.
func (h *Host) Status(group uint64) (GroupStatus, error) {
	var st GroupStatus
	var err error
	if cerr := h.call(func() {
		g := h.groups[group]
		if g == nil {
			err = ErrUnknownGroup
			return
		}
		st = g.status()
	}); cerr != nil {
		return st, cerr
	}
	return st, err
}

// SubmitPropose proposes cmd to group and returns at once; the Request
// completes with the state machine's result once this host's replica has
// applied the command. If the group has no leader, or the leader changes,
// or the command is not applied within ReproposeTicks, it is proposed
// again; a session and sequence number make each replica apply it at most
// once. A follower forwards the proposal to the leader.
func (h *Host) SubmitPropose(group uint64, cmd []byte) *Request {
	r := newRequest(kindPropose, group)
	r.data = cmd
	h.submit(r, func() { h.propose(r) })
	return r
}

// Propose proposes cmd to group and waits for its result (see
// SubmitPropose). If ctx ends first the command may still be applied.
func (h *Host) Propose(ctx context.Context, group uint64, cmd []byte) ([]byte, error) {
	if h.cfg.Manual {
		return nil, ErrManual
	}
	return h.SubmitPropose(group, cmd).wait(ctx)
}

// SubmitRead starts a linearizable read barrier on group and returns at
// once. The Request completes once this host's replica has applied every
// command committed before the call: the state machine can then be read
// locally and reflects every write acknowledged before it (ReadIndex, or the
// leader's lease with raft.ReadOnlyLeaseBased).
func (h *Host) SubmitRead(group uint64) *Request {
	r := newRequest(kindRead, group)
	h.submit(r, func() { h.read(r) })
	return r
}

// Read waits for a linearizable read barrier on group (see SubmitRead).
func (h *Host) Read(ctx context.Context, group uint64) error {
	if h.cfg.Manual {
		return ErrManual
	}
	_, err := h.SubmitRead(group).wait(ctx)
	return err
}

// TransferLeadership asks the replica of group on this host, which must
// lead, to hand leadership to node to.
func (h *Host) TransferLeadership(group, to uint64) error {
	var err error
	if cerr := h.call(func() {
		g := h.groups[group]
		switch {
		case g == nil:
			err = ErrUnknownGroup
		case g.role != raft.StateLeader:
			err = &NotLeaderError{Group: group, Leader: g.lead}
		default:
			h.wakeGroup(g)
			g.rn.TransferLeader(to)
			h.markDirty(g)
		}
	}); cerr != nil {
		return cerr
	}
	return err
}

// RemoveGroup stops this host's replica of group and deletes its storage
// and snapshots. It does not change the group's membership (RemoveReplica
// does, on the leader); remove a replica from the group first.
func (h *Host) RemoveGroup(group uint64) error {
	var err error
	if cerr := h.call(func() {
		g := h.groups[group]
		if g == nil {
			err = ErrUnknownGroup
			return
		}
		h.removeGroup(g)
	}); cerr != nil {
		return cerr
	}
	return err
}

// Crash stops the host at once, as a power loss would, for simulations: no
// further work is done, nothing more is written or sent, the transport is
// closed and the storage is left as it is (not closed). Requests still
// waiting never complete. Only for Manual hosts; the simulation then
// crashes the file system and may start a new Host on it.
func (h *Host) Crash() {
	h.errMu.Lock()
	if h.err == nil {
		h.err = ErrStopped
	}
	h.errMu.Unlock()
	h.stopOnce.Do(func() { close(h.stop) })
	if h.trans != nil {
		_ = h.trans.Close()
	}
}
