package host

import (
	"fmt"

	pb "github.com/pontoon-raft/raft/raftpb"
	"github.com/pontoon-raft/raft/transport"
	"github.com/pontoon-raft/raft/wal"
)

// queueApply adds a task to g's apply queue.
func (h *Host) queueApply(g *group, t applyTask) {
	g.apMu.Lock()
	h.queueApplyLocked(g, t)
	g.apMu.Unlock()
}

// queueApplyLocked is queueApply with g.apMu held.
func (h *Host) queueApplyLocked(g *group, t applyTask) {
	if g.broken != nil {
		return
	}
	g.tasks = append(g.tasks, t)
	if g.queued {
		return
	}
	g.queued = true
	h.apMu.Lock()
	h.apQueue = append(h.apQueue, g)
	h.apMu.Unlock()
	select {
	case h.apWake <- struct{}{}:
	default:
	}
}

// RunApply does, in Manual mode, the oldest background job (such as
// writing a snapshot) if one waits, and otherwise the oldest task of the
// first group in the apply stage's queue (groups take turns, and one
// group's tasks run one at a time, in order). It reports whether there was anything to do. In Manual
// mode the caller calls it; otherwise the apply workers do.
func (h *Host) RunApply() bool {
	if h.Err() != nil {
		return false
	}
	h.apMu.Lock()
	if len(h.bgJobs) > 0 {
		// Before the queue: a stream of apply tasks must not starve the
		// snapshot a lagging follower waits for.
		job := h.bgJobs[0]
		h.bgJobs[0] = nil
		h.bgJobs = h.bgJobs[1:]
		h.apMu.Unlock()
		job()
		return true
	}
	if len(h.apQueue) == 0 {
		h.apMu.Unlock()
		return false
	}
	g := h.apQueue[0]
	h.apQueue[0] = nil
	h.apQueue = h.apQueue[1:]
	h.apMu.Unlock()

	g.apMu.Lock()
	if len(g.tasks) == 0 || g.broken != nil {
		g.queued = false
		g.apMu.Unlock()
		return true
	}
	t := g.tasks[0]
	g.tasks[0] = applyTask{}
	g.tasks = g.tasks[1:]
	g.apMu.Unlock()

	var err error
	switch {
	case t.restore != nil:
		err = h.restore(g, *t.restore)
	case t.entries != nil:
		err = h.applyEntries(g, t.entries)
	case t.snapshot:
		if g.smApplied > g.lastSnapIndex && !g.snapInFlight {
			err = h.startSnapshot(g)
		}
	}

	g.apMu.Lock()
	defer g.apMu.Unlock()
	if err != nil {
		g.broken = err
		g.tasks = nil
		g.queued = false
		h.cfg.Logger.Errorf("host %x: group %d: the state machine failed and the replica stopped: %v", h.id, g.id, err)
		h.post(func() { h.failRequests(g, fmt.Errorf("host: group %d: %w", g.id, err)) })
		return true
	}
	var out []transport.GroupMessage
	out = h.deliver(g, t.responses, out)
	if len(out) > 0 {
		h.trans.Send(out)
	}
	if g.holding && !holdsResponses(g.tasks) {
		g.holding = false
	}
	if len(g.tasks) == 0 {
		g.queued = false
		return true
	}
	h.apMu.Lock()
	h.apQueue = append(h.apQueue, g)
	h.apMu.Unlock()
	select {
	case h.apWake <- struct{}{}:
	default:
	}
	return true
}

// holdsResponses reports whether tasks still hold append responses behind a
// snapshot restore.
func holdsResponses(tasks []applyTask) bool {
	for _, t := range tasks {
		if t.entries == nil && !t.snapshot {
			return true
		}
	}
	return false
}

// applyEntries applies committed entries to g's state machine, then hands
// the Raft loop the configuration changes among them and the results of
// the host's own proposals. It may start a snapshot.
func (h *Host) applyEntries(g *group, ents []pb.Entry) error {
	var cmds []Command
	var tags []envelope
	var confChanges []pb.Entry
	last, lastTerm := uint64(0), uint64(0)
	for _, e := range ents {
		if e.Index <= g.smApplied {
			continue // covered by the snapshot the state machine restored
		}
		last, lastTerm = e.Index, e.Term
		switch e.Type {
		case pb.EntryConfChange, pb.EntryConfChangeV2:
			confChanges = append(confChanges, e)
		case pb.EntryNormal:
			tag, data, err := decodeCommand(e.Data)
			if err != nil {
				continue // a new leader's empty entry, or not a host command
			}
			if g.sessions.admit(tag, e.Index) {
				cmds = append(cmds, Command{Index: e.Index, Data: data})
				tags = append(tags, tag)
			}
		}
	}
	if last == 0 {
		return nil
	}
	if len(cmds) > 0 {
		if err := g.sm.Apply(cmds); err != nil {
			return err
		}
	}
	g.smApplied, g.smAppliedTerm = last, lastTerm
	var results map[uint64][]byte
	for i, tag := range tags {
		if tag.session == h.session {
			if results == nil {
				results = map[uint64][]byte{}
			}
			results[tag.seq] = cmds[i].Result
		}
	}
	h.post(func() { h.applied(g, last, confChanges, results) })
	if g.smApplied-g.lastSnapIndex >= h.cfg.SnapshotEntries && !g.snapInFlight {
		return h.startSnapshot(g)
	}
	return nil
}

// applied runs on the Raft loop after a batch of g was applied.
func (h *Host) applied(g *group, index uint64, confChanges []pb.Entry, results map[uint64][]byte) {
	if g.removed {
		return
	}
	for _, e := range confChanges {
		var cc pb.ConfChangeI
		if e.Type == pb.EntryConfChange {
			var v1 pb.ConfChange
			if err := v1.Unmarshal(e.Data); err != nil {
				h.cfg.Logger.Errorf("host %x: group %d: entry %d: %v", h.id, g.id, e.Index, err)
				continue
			}
			cc = v1
		} else {
			var v2 pb.ConfChangeV2
			if err := v2.Unmarshal(e.Data); err != nil {
				h.cfg.Logger.Errorf("host %x: group %d: entry %d: %v", h.id, g.id, e.Index, err)
				continue
			}
			cc = v2
		}
		g.confState = *g.rn.ApplyConfChange(cc)
		h.configChanged()
	}
	for _, seq := range sortedKeys(results) {
		if r := g.proposals[seq]; r != nil {
			delete(g.proposals, seq)
			h.cfg.Observer.ProposalDone(g.id, sinceStart(r), nil)
			r.finish(results[seq], nil)
		}
	}
	h.advanceApplied(g, index)
	h.checkAdmin(g)
	h.markDirty(g)
}

// startSnapshot captures g's state machine at what it applied and writes it
// out off the apply stage; the Raft loop then records it in the log engine,
// with the compaction it allows. Runs with g's apply task in progress.
func (h *Host) startSnapshot(g *group) error {
	src, err := g.sm.PrepareSnapshot()
	if err != nil {
		return fmt.Errorf("preparing a snapshot: %w", err)
	}
	index, term := g.smApplied, g.smAppliedTerm
	sessions := g.sessions.marshal()
	g.apMu.Lock()
	g.snapInFlight = true
	g.apMu.Unlock()
	// The loop runs this after the results of every batch up to index, so
	// its configuration is the one as of index.
	h.post(func() {
		if g.snapConf == nil {
			g.snapConf = map[uint64]pb.ConfState{}
		}
		g.snapConf[index] = g.confState
	})
	h.background(func() {
		ref, err := h.writeSnapshot(g.id, term, index, sessions, src)
		if err != nil {
			h.cfg.Logger.Warningf("host %x: group %d: writing the snapshot at %d: %v", h.id, g.id, index, err)
		}
		h.post(func() { h.snapshotWritten(g, term, index, ref, err) })
	})
	return nil
}

// snapshotWritten records a snapshot in the next storage batch.
func (h *Host) snapshotWritten(g *group, term, index uint64, ref wal.SnapshotRef, err error) {
	cs := g.snapConf[index]
	delete(g.snapConf, index)
	g.apMu.Lock()
	g.snapInFlight = false
	if err == nil {
		g.lastSnapIndex = index
	}
	g.apMu.Unlock()
	if err != nil || g.removed {
		return
	}
	var compact uint64
	if index > h.cfg.CompactLagEntries {
		compact = index - h.cfg.CompactLagEntries
	}
	h.localSnaps = append(h.localSnaps, wal.Update{
		Group: g.id,
		LocalSnapshot: pb.Snapshot{Data: ref.Marshal(), Metadata: pb.SnapshotMetadata{
			Index: index, Term: term, ConfState: cs,
		}},
		CompactIndex: compact,
	})
}

// restore replaces g's state machine (and session table) by the snapshot
// whose SnapshotRef is in snap.Data.
func (h *Host) restore(g *group, snap pb.Snapshot) error {
	if snap.Metadata.Index <= g.smApplied {
		return nil
	}
	ref, err := wal.ParseSnapshotRef(snap.Data)
	if err != nil {
		return fmt.Errorf("restoring the snapshot at %d: %w", snap.Metadata.Index, err)
	}
	r, err := h.snaps.Open(ref)
	if err != nil {
		return fmt.Errorf("restoring the snapshot at %d: %w", snap.Metadata.Index, err)
	}
	defer r.Close()
	sessions, err := readSnapshotHeader(r, maxSessions)
	if err != nil {
		return fmt.Errorf("restoring the snapshot at %d: %w", snap.Metadata.Index, err)
	}
	if err := g.sm.Restore(r); err != nil {
		return fmt.Errorf("restoring the snapshot at %d: %w", snap.Metadata.Index, err)
	}
	g.sessions = sessions
	g.smApplied, g.smAppliedTerm = snap.Metadata.Index, snap.Metadata.Term
	g.lastSnapIndex = snap.Metadata.Index
	index := snap.Metadata.Index
	h.post(func() {
		if !g.removed {
			g.confState = snap.Metadata.ConfState
			h.configChanged()
			h.advanceApplied(g, index)
		}
	})
	if err := h.snaps.Prune(g.id, h.cfg.KeepSnapshots, index); err != nil {
		h.cfg.Logger.Warningf("host %x: group %d: pruning its snapshots: %v", h.id, g.id, err)
	}
	return nil
}

// background runs job off the Raft loop and the apply stage: on its own
// goroutine, or in Manual mode from RunApply.
func (h *Host) background(job func()) {
	if h.cfg.Manual {
		h.apMu.Lock()
		h.bgJobs = append(h.bgJobs, job)
		h.apMu.Unlock()
		return
	}
	h.wg.Add(1)
	go func() {
		defer h.wg.Done()
		job()
	}()
}
