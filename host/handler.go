package host

import (
	"fmt"

	"github.com/pontoon-raft/raft"
	pb "github.com/pontoon-raft/raft/raftpb"
	"github.com/pontoon-raft/raft/transport"
)

// The host is its transport's Handler.
var _ transport.Handler = (*Host)(nil)

// HandleMessages implements transport.Handler: the messages are stepped into
// their replicas on the Raft loop.
func (h *Host) HandleMessages(from uint64, msgs []transport.GroupMessage) {
	batch := make([]transport.GroupMessage, len(msgs))
	copy(batch, msgs)
	h.post(func() {
		for i := range batch {
			gm := &batch[i]
			if gm.Group == livenessGroup {
				h.hostHeard(from)
				continue
			}
			g := h.groups[gm.Group]
			if g == nil {
				continue
			}
			m := gm.Message
			if m.Type == pb.MsgSnap && !h.takeIncoming(g.id, &m) {
				h.cfg.Logger.Warningf("host %x: group %d: MsgSnap from %x without its body", h.id, g.id, from)
				continue
			}
			if h.quiesceMessage(g, m) {
				continue
			}
			if wakes(g, m) {
				h.wakeGroup(g)
			}
			if err := g.rn.Step(m); err != nil {
				h.cfg.Logger.Debugf("host %x: group %d: stepping %s from %x: %v", h.id, g.id, m.Type, from, err)
			}
			h.markDirty(g)
		}
		h.hostHeard(from)
	})
}

// HasGroup implements transport.Handler.
func (h *Host) HasGroup(group uint64) bool {
	if group == livenessGroup {
		return true
	}
	h.idMu.RLock()
	defer h.idMu.RUnlock()
	return h.groupIDs[group]
}

// ReceiveSnapshot implements transport.Handler: the body goes to the
// host's snapshot store.
func (h *Host) ReceiveSnapshot(from, group uint64, m pb.Message) (transport.SnapshotSink, error) {
	if m.Snapshot == nil {
		return nil, errBadSnapshot
	}
	meta := m.Snapshot.Metadata
	w, err := h.snaps.Create(group, meta.Term, meta.Index)
	if err != nil {
		h.fail(fmt.Errorf("group %d: storing the snapshot at %d from %x: %w", group, meta.Index, from, err))
		return nil, err
	}
	return &snapshotSink{h: h, key: snapKey{group: group, term: meta.Term, index: meta.Index}, w: w}, nil
}

// ReportUnreachable implements transport.Handler.
func (h *Host) ReportUnreachable(to uint64, groups []uint64) {
	h.post(func() {
		if groups == nil {
			groups = h.order
		}
		for _, id := range groups {
			if g := h.groups[id]; g != nil {
				g.rn.ReportUnreachable(to)
				h.markDirty(g)
			}
		}
	})
}

// ReportSnapshot implements transport.Handler.
func (h *Host) ReportSnapshot(to, group uint64, err error) {
	h.post(func() {
		g := h.groups[group]
		if g == nil {
			return
		}
		status := raft.SnapshotFinish
		if err != nil {
			status = raft.SnapshotFailure
		}
		g.rn.ReportSnapshot(to, status)
		h.markDirty(g)
	})
}

// wakes reports whether m wakes a quiesced replica: anything but the
// answers a quiesced leader may still get to its last heartbeats and
// appends, which report nothing new.
func wakes(g *group, m pb.Message) bool {
	if !g.quiesced || g.role != raft.StateLeader || m.Term != g.term {
		return true
	}
	return !(m.Type == pb.MsgHeartbeatResp || (m.Type == pb.MsgAppResp && !m.Reject))
}
