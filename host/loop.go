package host

import (
	"encoding/binary"
	"fmt"
	"slices"

	"github.com/pontoon-raft/raft"
	pb "github.com/pontoon-raft/raft/raftpb"
	"github.com/pontoon-raft/raft/transport"
	"github.com/pontoon-raft/raft/wal"
)

// appendWork is a replica's MsgStorageAppend, for the storage stage.
type appendWork struct {
	g *group
	m pb.Message
	// update, when set instead of m, is a record of the host's own (a
	// snapshot taken, a group removed).
	update *wal.Update
}

// RunRaft runs one cycle of the Raft loop: it runs the queued inputs
// (received messages, proposals, ticks, storage and apply outcomes), then
// takes the Ready of every replica that may have one, sends their messages
// in one Transport.Send, and hands their storage work to the storage stage
// as one batch and their committed entries to the apply stage. It reports
// whether there was anything to do. In Manual mode the caller calls it;
// otherwise the host's loop goroutine does.
func (h *Host) RunRaft() (busy bool) {
	if h.Err() != nil {
		return false
	}
	h.inMu.Lock()
	inputs := h.inputs
	h.inputs = nil
	h.inMu.Unlock()
	ran := 0
	defer h.stopOnPanic(func(error) {
		busy = false
		h.failInputs(inputs[min(ran+1, len(inputs)):])
	})
	for _, in := range inputs {
		in.fn()
		ran++
	}
	busy = len(inputs) > 0
	if h.storageBacklogged() {
		// The replicas keep what they have until the storage stage has
		// room: their next Readys then carry more, in fewer writes.
		return busy
	}
	dirty := h.dirty
	h.dirty = nil
	inBatch := map[uint64]bool{}
	for _, g := range dirty {
		g.dirty = false
		if g.removed || !g.rn.HasReady() {
			continue
		}
		// One Ready per replica per cycle: a storage batch holds at most
		// one update per group (wal.Save requires it). A replica with more
		// to do is taken again in the next cycle.
		n := len(h.batch)
		h.handleReady(g, g.rn.Ready())
		if len(h.batch) > n {
			inBatch[g.id] = true
		}
		if g.rn.HasReady() {
			h.markDirty(g)
		}
		busy = true
	}
	if len(h.out) > 0 {
		h.trans.Send(h.out)
		clear(h.out)
		h.out = h.out[:0]
	}
	var later []wal.Update
	for i := range h.localSnaps {
		u := h.localSnaps[i]
		g := h.groups[u.Group]
		switch {
		case g == nil || g.removed:
		case inBatch[u.Group]:
			later = append(later, u) // with the next batch
		default:
			h.batch = append(h.batch, appendWork{g: g, update: &u})
			inBatch[u.Group] = true
		}
	}
	h.localSnaps = later
	if len(h.batch) > 0 {
		h.stMu.Lock()
		h.stQueue = append(h.stQueue, h.batch)
		h.stMu.Unlock()
		h.batch = nil
		select {
		case h.stWake <- struct{}{}:
		default:
		}
		busy = true
	}
	return busy || len(h.dirty) > 0 || len(h.localSnaps) > 0
}

// failInputs fails the requests of inputs the Raft loop will not run.
func (h *Host) failInputs(inputs []input) {
	for _, in := range inputs {
		if in.r != nil {
			in.r.finish(nil, ErrStopped)
		}
	}
}

// maxPendingBatches bounds the storage batches queued behind the one being
// written.
const maxPendingBatches = 2

// storageBacklogged reports whether the storage stage already has
// maxPendingBatches batches waiting.
func (h *Host) storageBacklogged() bool {
	h.stMu.Lock()
	defer h.stMu.Unlock()
	return len(h.stQueue) >= maxPendingBatches
}

// markDirty records that g may have a Ready for the next cycle.
func (h *Host) markDirty(g *group) {
	if !g.dirty {
		g.dirty = true
		h.dirty = append(h.dirty, g)
	}
}

// Tick advances the Raft clock of every replica by one tick, and retries
// the proposals and reads that waited too long. In Manual mode the caller
// calls it; otherwise a timer does, every TickInterval.
func (h *Host) Tick() {
	if h.cfg.Manual {
		if h.Err() == nil {
			func() {
				defer h.stopOnPanic(nil)
				h.tick()
			}()
		}
		return
	}
	h.post(h.tick)
}

// stopOnPanic, deferred around work on the replicas, stops the host when
// that work panics: the core panics when its storage fails (a read of the
// log engine after the disk failed), and the host then stops, as after a
// failed write, instead of taking the process down. then, if not nil, is
// called with the error the host stopped with.
func (h *Host) stopOnPanic(then func(error)) {
	p := recover()
	if p == nil {
		return
	}
	err := fmt.Errorf("a replica failed: %v", p)
	h.fail(err)
	if then != nil {
		then(err)
	}
}

func (h *Host) tick() {
	h.ticks++
	h.sendLiveness()
	h.wakeFollowersOfSilentHosts()
	h.tickGroups()
}

// handleReady routes what a replica's Ready asks for (the replica runs with
// raft.Config.AsyncStorageWrites): storage work to the storage stage,
// committed entries to the apply stage, messages to the transport. Messages
// to peers go out at once, before this host's own write of the same Ready
// is durable (thesis §10.2.1); the acknowledgements that attest to that
// write are responses of the storage work and wait for it.
func (h *Host) handleReady(g *group, rd raft.Ready) {
	if rd.SoftState != nil {
		h.roleChanged(g, *rd.SoftState)
	}
	if !raft.IsEmptyHardState(rd.HardState) {
		g.term, g.commit = rd.HardState.Term, rd.HardState.Commit
	}
	for _, rs := range rd.ReadStates {
		h.readState(g, rs)
	}
	for _, m := range rd.Messages {
		switch {
		case m.To == raft.LocalAppendThread:
			h.batch = append(h.batch, appendWork{g: g, m: m})
		case m.To == raft.LocalApplyThread:
			h.queueApply(g, applyTask{entries: m.Entries, responses: m.Responses})
		case m.Type == pb.MsgSnap:
			h.sendSnapshot(g, m)
		default:
			h.out = append(h.out, transport.GroupMessage{Group: g.id, Message: m})
		}
	}
}

// roleChanged reacts to a change of leader or role.
func (h *Host) roleChanged(g *group, ss raft.SoftState) {
	newLeader := ss.Lead != g.lead
	g.lead, g.role = ss.Lead, ss.RaftState
	h.cfg.Observer.GroupChanged(g.id, g.status())
	if newLeader && ss.Lead != raft.None {
		// Whatever was proposed or asked of the old leader may be lost:
		// ask the new one. Proposals are applied at most once (sessions).
		h.reissueAll(g)
	}
}

// propose makes r's first proposal.
func (h *Host) propose(r *Request) {
	g := h.groups[r.group]
	if g == nil {
		r.finish(nil, ErrUnknownGroup)
		return
	}
	r.seq = h.nextSeq
	h.nextSeq++
	if g.proposals == nil {
		g.proposals = map[uint64]*Request{}
	}
	g.proposals[r.seq] = r
	h.wakeGroup(g)
	h.proposeAgain(g, r)
}

// proposeAgain proposes r's command, tagged with its sequence number. A
// proposal the replica drops (no leader yet, a transfer in progress) is
// made again later.
func (h *Host) proposeAgain(g *group, r *Request) {
	r.issuedTick = h.ticks
	data := encodeCommand(envelope{session: h.session, seq: r.seq, floor: g.floor(r.seq)}, r.data)
	_ = g.rn.Propose(data)
	h.markDirty(g)
}

// read starts r's first ReadIndex.
func (h *Host) read(r *Request) {
	g := h.groups[r.group]
	if g == nil {
		r.finish(nil, ErrUnknownGroup)
		return
	}
	h.wakeGroup(g)
	h.readAgain(g, r)
}

// readAgain asks for a read index under a fresh token: a ReadState for an
// older attempt is ignored.
func (h *Host) readAgain(g *group, r *Request) {
	delete(g.reads, r.token)
	if g.reads == nil {
		g.reads = map[uint64]*Request{}
	}
	h.nextToken++
	r.token = h.nextToken
	r.issuedTick = h.ticks
	g.reads[r.token] = r
	var ctx [8]byte
	binary.BigEndian.PutUint64(ctx[:], r.token)
	g.rn.ReadIndex(ctx[:])
	h.markDirty(g)
}

// readState binds a ReadState to its read, which completes once the state
// machine has applied up to its index.
func (h *Host) readState(g *group, rs raft.ReadState) {
	if len(rs.RequestCtx) != 8 {
		return
	}
	token := binary.BigEndian.Uint64(rs.RequestCtx)
	r := g.reads[token]
	if r == nil {
		return // an older attempt, or a read already done
	}
	delete(g.reads, token)
	r.readIndex, r.hasIndex = rs.Index, true
	if g.applied >= rs.Index {
		r.finish(nil, nil)
		return
	}
	g.waitingReads = append(g.waitingReads, r)
}

// reissueAll proposes again every waiting proposal and asks again for every
// read without a read index.
func (h *Host) reissueAll(g *group) {
	for _, seq := range sortedKeys(g.proposals) {
		h.proposeAgain(g, g.proposals[seq])
	}
	for _, token := range sortedKeys(g.reads) {
		h.readAgain(g, g.reads[token])
	}
}

// retry reissues the proposals and reads that waited ReproposeTicks.
func (h *Host) retry(g *group) {
	limit := int64(h.cfg.ReproposeTicks)
	for _, seq := range sortedKeys(g.proposals) {
		if r := g.proposals[seq]; h.ticks-r.issuedTick >= limit {
			h.proposeAgain(g, r)
		}
	}
	for _, token := range sortedKeys(g.reads) {
		if r := g.reads[token]; h.ticks-r.issuedTick >= limit {
			h.readAgain(g, r)
		}
	}
	h.checkAdmin(g)
}

// advanceApplied records that the apply stage applied g up to index, and
// completes the reads waiting for it.
func (h *Host) advanceApplied(g *group, index uint64) {
	if index <= g.applied {
		return
	}
	g.applied = index
	kept := g.waitingReads[:0]
	for _, r := range g.waitingReads {
		if r.readIndex <= index {
			r.finish(nil, nil)
			continue
		}
		kept = append(kept, r)
	}
	clear(g.waitingReads[len(kept):])
	g.waitingReads = kept
	h.cfg.Observer.Applied(g.id, g.commit, g.applied)
}

// sendSnapshot streams the snapshot of a MsgSnap: its Data is the
// SnapshotRef of a file of the host's snapshot store.
func (h *Host) sendSnapshot(g *group, m pb.Message) {
	if !slices.Contains(members(m.Snapshot.Metadata.ConfState), m.To) {
		// The latest snapshot predates the replica's joining, and the
		// replica would refuse it: take a newer one, and send that at the
		// next attempt.
		h.cfg.Logger.Infof("host %x: group %d: the snapshot at %d predates %x; taking a newer one", h.id, g.id, m.Snapshot.Metadata.Index, m.To)
		g.rn.ReportSnapshot(m.To, raft.SnapshotFailure)
		h.markDirty(g)
		h.queueApply(g, applyTask{snapshot: true})
		return
	}
	ref, err := wal.ParseSnapshotRef(m.Snapshot.Data)
	var body *wal.SnapshotReader
	if err == nil {
		body, err = h.snaps.Open(ref)
	}
	if err != nil {
		h.cfg.Logger.Warningf("host %x: group %d: cannot send snapshot to %x: %v", h.id, g.id, m.To, err)
		g.rn.ReportSnapshot(m.To, raft.SnapshotFailure)
		h.markDirty(g)
		return
	}
	h.trans.SendSnapshot(transport.OutgoingSnapshot{Group: g.id, Message: m, Body: body})
}

// removeGroup stops g and deletes what the host stores of it.
func (h *Host) removeGroup(g *group) {
	g.removed = true
	delete(h.groups, g.id)
	if i, ok := slices.BinarySearch(h.order, g.id); ok {
		h.order = slices.Delete(h.order, i, i+1)
	}
	h.idMu.Lock()
	delete(h.groupIDs, g.id)
	h.idMu.Unlock()
	h.configChanged()
	if g.quiesced {
		h.quiesced--
	}
	h.failRequests(g, ErrGroupRemoved)
	g.apMu.Lock()
	g.tasks = nil
	if g.broken == nil {
		g.broken = ErrGroupRemoved
	}
	sm := g.sm
	g.apMu.Unlock()
	if err := sm.Close(); err != nil {
		h.cfg.Logger.Warningf("host %x: group %d: closing its state machine: %v", h.id, g.id, err)
	}
	h.batch = append(h.batch, appendWork{g: g, update: &wal.Update{Group: g.id, Remove: true}})
	if err := h.setJoining(g.id, false); err != nil {
		h.fail(fmt.Errorf("removing group %d from the registry: %w", g.id, err))
	}
}

// failRequests completes every request waiting on g with err.
func (h *Host) failRequests(g *group, err error) {
	for _, seq := range sortedKeys(g.proposals) {
		g.proposals[seq].finish(nil, err)
	}
	for _, t := range sortedKeys(g.reads) {
		g.reads[t].finish(nil, err)
	}
	for _, r := range g.waitingReads {
		r.finish(nil, err)
	}
	for _, r := range g.admin {
		r.finish(nil, err)
	}
	g.proposals, g.reads, g.waitingReads, g.admin = nil, nil, nil, nil
}

// sortedKeys returns the keys of m in increasing order, so that the loop's
// work does not depend on map order (the simulation replays exactly).
func sortedKeys[V any](m map[uint64]V) []uint64 {
	keys := make([]uint64, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
