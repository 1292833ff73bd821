package host

import (
	"fmt"
	"time"

	"github.com/pontoon-raft/raft"
	pb "github.com/pontoon-raft/raft/raftpb"
	"github.com/pontoon-raft/raft/transport"
	"github.com/pontoon-raft/raft/wal"
)

// RunStorage writes the oldest batch of storage work: every replica's
// MsgStorageAppend of one Raft cycle (and the host's own records) in one
// wal.Save, one write and one fsync. Then it delivers the responses each
// write promised: the replicas' own acknowledgements back to the Raft loop,
// the peers' to the transport. A replica installing a snapshot first has its
// state machine restored by the apply stage; its responses, and those of its
// later writes, wait behind that. It reports whether there was a batch. In
// Manual mode the caller calls it; otherwise the storage goroutine does.
func (h *Host) RunStorage() bool {
	if h.Err() != nil {
		return false
	}
	h.stMu.Lock()
	if len(h.stQueue) == 0 {
		h.stMu.Unlock()
		return false
	}
	batch := h.stQueue[0]
	h.stQueue[0] = nil
	h.stQueue = h.stQueue[1:]
	h.stMu.Unlock()
	// The Raft loop may have held back Readys for the room just made.
	h.wakeLoop()

	updates, entries, dataBytes := h.storageUpdates(batch)
	if updates == nil {
		// Only commit indexes moved: they wait for the next write.
		h.deliverSaved(batch)
		return true
	}
	start := time.Now()
	if err := h.engine.Save(updates); err != nil {
		h.fail(fmt.Errorf("writing %d updates: %w", len(updates), err))
		return false
	}
	h.cfg.Observer.Saved(len(updates), entries, dataBytes, time.Since(start))
	h.deliverSaved(batch)
	return true
}

// storageUpdates turns a batch into the updates of one wal.Save, with the
// entry count and data bytes it writes. It returns nil updates when the
// batch only moves commit indexes: Raft needs the term, the vote and the
// log durable before it acts on them, but not the commit index, which a
// restarted replica learns again from its leader (etcd's server does not
// sync it either). Such a HardState is kept in its group's lazyHS and
// written with the next write, unless a newer one replaces it. This halves
// the fsyncs of a lightly loaded host: every entry is otherwise followed by
// a write that only commits it, on the leader and on each follower.
func (h *Host) storageUpdates(batch []appendWork) (updates []wal.Update, entries int, dataBytes int64) {
	updates = make([]wal.Update, 0, len(batch)+len(h.lazy))
	durable := false
	for i, w := range batch {
		g := w.g
		if w.update != nil {
			if !h.fitLocalSnapshot(g, w.update) {
				batch[i].update = &wal.Update{Group: g.id} // recorded as nothing
				continue
			}
			switch {
			case w.update.Remove || !raft.IsEmptyHardState(w.update.HardState):
				g.lazyHS = pb.HardState{}
			default:
				w.update.HardState, g.lazyHS = g.lazyHS, pb.HardState{}
			}
			updates = append(updates, *w.update)
			durable = true
			continue
		}
		u := wal.Update{Group: g.id, Entries: w.m.Entries}
		if hs := (pb.HardState{Term: w.m.Term, Vote: w.m.Vote, Commit: w.m.Commit}); !raft.IsEmptyHardState(hs) {
			u.HardState = hs
		}
		if w.m.Snapshot != nil {
			u.Snapshot = *w.m.Snapshot
		}
		if raft.IsEmptyHardState(u.HardState) && w.m.Snapshot == nil {
			u.HardState = g.lazyHS
		}
		g.lazyHS = pb.HardState{} // in u, or replaced by it
		if len(u.Entries) > 0 || w.m.Snapshot != nil || !h.commitOnly(g, u.HardState) {
			durable = true
		}
		entries += len(u.Entries)
		for i := range u.Entries {
			dataBytes += int64(len(u.Entries[i].Data))
		}
		updates = append(updates, u)
	}
	if !durable {
		// updates are then the batch's replica writes, in order.
		j := 0
		for _, w := range batch {
			if w.update != nil {
				continue
			}
			hs := updates[j].HardState
			j++
			if !raft.IsEmptyHardState(hs) {
				w.g.lazyHS = hs
				if !w.g.lazyListed {
					w.g.lazyListed = true
					h.lazy = append(h.lazy, w.g)
				}
			}
		}
		return nil, 0, 0
	}
	for _, g := range h.lazy {
		if !raft.IsEmptyHardState(g.lazyHS) {
			updates = append(updates, wal.Update{Group: g.id, HardState: g.lazyHS})
			g.lazyHS = pb.HardState{}
		}
		g.lazyListed = false
	}
	clear(h.lazy)
	h.lazy = h.lazy[:0]
	return updates, entries, dataBytes
}

// commitOnly reports whether hs differs from g's durable HardState in the
// commit index alone.
func (h *Host) commitOnly(g *group, hs pb.HardState) bool {
	if raft.IsEmptyHardState(hs) {
		return true
	}
	durable, _, err := g.storage.InitialState()
	return err == nil && hs.Term == durable.Term && hs.Vote == durable.Vote
}

// deliverSaved delivers the responses of a batch whose write is done.
func (h *Host) deliverSaved(batch []appendWork) {
	var out []transport.GroupMessage
	for _, w := range batch {
		if w.update != nil {
			h.savedRecord(w)
			continue
		}
		g := w.g
		g.apMu.Lock()
		switch {
		case w.m.Snapshot != nil && !raft.IsEmptySnap(*w.m.Snapshot):
			g.holding = true
			h.queueApplyLocked(g, applyTask{restore: w.m.Snapshot, responses: w.m.Responses})
		case g.holding:
			h.queueApplyLocked(g, applyTask{responses: w.m.Responses})
		default:
			out = h.deliver(g, w.m.Responses, out)
		}
		g.apMu.Unlock()
	}
	if len(out) > 0 {
		h.trans.Send(out)
	}
}

// fitLocalSnapshot adjusts a snapshot record of g to the log as the batches
// before it left it, and reports whether anything is left to record. The
// record was made on the Raft loop, perhaps before a snapshot received from
// the leader was installed: that snapshot compacted the log up to its own
// index, possibly beyond the record's CompactIndex (which lags its snapshot
// by CompactLagEntries), and may be newer than the record's snapshot. The
// log engine refuses both, and a refused write stops the host. Only the
// storage stage writes, so what it reads here is exact.
func (h *Host) fitLocalSnapshot(g *group, u *wal.Update) bool {
	if raft.IsEmptySnap(u.LocalSnapshot) {
		return true
	}
	if snap, err := g.storage.Snapshot(); err == nil && snap.Metadata.Index >= u.LocalSnapshot.Metadata.Index {
		return false
	}
	if first, err := g.storage.FirstIndex(); err == nil && u.CompactIndex < first {
		u.CompactIndex = 0
	}
	return true
}

// deliver sends the responses of finished work: those for the replica
// itself are stepped on the Raft loop, those for peers added to out.
func (h *Host) deliver(g *group, resps []pb.Message, out []transport.GroupMessage) []transport.GroupMessage {
	var local []pb.Message
	for _, m := range resps {
		if m.To == h.id {
			local = append(local, m)
		} else {
			out = append(out, transport.GroupMessage{Group: g.id, Message: m})
		}
	}
	if len(local) > 0 {
		h.post(func() { h.stepLocal(g, local) })
	}
	return out
}

// stepLocal steps the replica's own responses into it.
func (h *Host) stepLocal(g *group, msgs []pb.Message) {
	if g.removed {
		return
	}
	for _, m := range msgs {
		if err := g.rn.Step(m); err != nil {
			h.cfg.Logger.Warningf("host %x: group %d: stepping its own %s: %v", h.id, g.id, m.Type, err)
		}
	}
	h.markDirty(g)
}

// savedRecord finishes a record of the host's own once it is durable.
func (h *Host) savedRecord(w appendWork) {
	switch {
	case w.update.Remove:
		if err := h.snaps.RemoveGroup(w.update.Group); err != nil {
			h.cfg.Logger.Warningf("host %x: group %d: removing its snapshots: %v", h.id, w.update.Group, err)
		}
	case !raft.IsEmptySnap(w.update.LocalSnapshot):
		index := w.update.LocalSnapshot.Metadata.Index
		if err := h.snaps.Prune(w.update.Group, h.cfg.KeepSnapshots, index); err != nil {
			h.cfg.Logger.Warningf("host %x: group %d: pruning its snapshots: %v", h.id, w.update.Group, err)
		}
	}
}
