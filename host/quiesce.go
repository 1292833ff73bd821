package host

import (
	"bytes"
	"slices"

	"github.com/pontoon-raft/raft"
	pb "github.com/pontoon-raft/raft/raftpb"
	"github.com/pontoon-raft/raft/tracker"
	"github.com/pontoon-raft/raft/transport"
)

// Quiescence. A group whose leader had nothing to do for QuiesceTicks, with
// every follower holding its whole log and knowing it committed, stops: the
// leader sends its followers one quiesce heartbeat (a heartbeat of its term
// and commit index, with quiesceContext as context, so it renews no lease
// and confirms no read) until each has answered, and then neither ticks nor
// sends anything. A follower that receives it, holding the leader's commit
// index, stops ticking. Any message for the group, a proposal or a read
// wakes a replica; a woken leader heartbeats again, which wakes its
// followers.
//
// Once a quiesced replica has nothing left to do at a tick, the clock stops
// visiting it: an idle group costs no work per tick. A quiesced leader still
// counts its ticks with TickQuiesced, so its lease runs out like its
// followers' promises and it serves no read from an old lease: the ticks
// the clock skipped are counted when it wakes, before anything it does. A
// quiesced follower cannot notice its leader's death by itself, so hosts
// heartbeat each other (livenessGroup); a follower wakes, and forgets its
// leader, once the leader's host has not been heard from for an election
// timeout.

// quiesceContext marks the quiesce heartbeat and its answers. Its length
// differs from the 8 bytes of a read token, so Raft ignores it.
var quiesceContext = []byte("pontoon-q")

// livenessGroup carries the heartbeats hosts send each other; no Raft group
// has this ID.
const livenessGroup = 0

// tickGroup ticks g, or for a quiesced replica that is still visited by the
// clock (see needsTicks) only counts the leader's lease clock, and may
// quiesce a leader that had nothing to do.
func (h *Host) tickGroup(g *group) {
	if g.quiesced {
		if g.role == raft.StateLeader {
			g.rn.TickQuiesced()
			h.resendQuiesce(g)
		}
		return
	}
	h.markDirty(g)
	if h.cfg.QuiesceTicks >= 0 && g.role == raft.StateLeader {
		if !h.idle(g) {
			g.idleTicks = 0
		} else if g.idleTicks++; g.idleTicks >= h.cfg.QuiesceTicks {
			// Quiesce instead of ticking: a tick could send a heartbeat
			// after the quiesce heartbeat, which would wake the followers.
			h.quiesce(g)
			g.rn.TickQuiesced()
			return
		}
	}
	g.rn.Tick()
}

// needsTicks reports whether the clock must still visit g: it is awake, or
// quiesced with something left to do at a tick (a leader whose followers
// have not all answered its quiesce heartbeat, requests to retry). The
// others cost nothing per tick, whatever their number.
func (h *Host) needsTicks(g *group) bool {
	if !g.quiesced || len(g.proposals)+len(g.reads)+len(g.waitingReads)+len(g.admin) > 0 {
		return true
	}
	if g.role != raft.StateLeader {
		return false
	}
	for _, id := range members(g.confState) {
		if id != h.id && !slices.Contains(g.quiesceAcked, id) {
			return true
		}
	}
	return false
}

// startTicking makes the clock visit g from the next tick on. A quiesced
// leader the clock stopped visiting first catches up on the ticks its lease
// clocks missed: past an election timeout they change nothing more (its
// lease is gone, CheckQuorum is due), so at most that many.
func (h *Host) startTicking(g *group) {
	if g.ticking {
		return
	}
	if g.quiesced && g.role == raft.StateLeader {
		missed := min(h.ticks-g.clockStoppedTick, int64(h.cfg.ElectionTicks)+1)
		for range missed {
			g.rn.TickQuiesced()
		}
	}
	g.ticking = true
	h.ticking = append(h.ticking, g.id)
}

// tickGroups ticks every replica the clock visits, in increasing group
// order, and stops visiting those that no longer need it.
func (h *Host) tickGroups() {
	// A group removed and started again before this tick is listed twice.
	slices.Sort(h.ticking)
	h.ticking = slices.Compact(h.ticking)
	// Replicas woken meanwhile join h.ticking for the next tick.
	ids := h.ticking
	h.ticking = make([]uint64, 0, len(ids))
	for _, id := range ids {
		g := h.groups[id]
		if g == nil || g.removed {
			continue
		}
		h.tickGroup(g)
		h.retry(g)
		if h.needsTicks(g) {
			h.ticking = append(h.ticking, id)
		} else {
			g.ticking = false
			g.clockStoppedTick = h.ticks
		}
	}
}

// wakeFollowersOfSilentHosts wakes, and makes forget their leader, the
// quiesced followers whose leader's host has just gone silent for an
// election timeout, so that they elect another. A host going silent is
// rare: the work is per host per tick, and per group only then.
func (h *Host) wakeFollowersOfSilentHosts() {
	var silent []uint64
	for _, p := range sortedKeys(h.lastHeard) {
		s := h.ticks-h.lastHeard[p] > int64(h.cfg.ElectionTicks)
		if s && !h.silent[p] {
			silent = append(silent, p)
		}
		h.silent[p] = s
	}
	if len(silent) == 0 {
		return
	}
	for _, id := range h.order {
		g := h.groups[id]
		if g.quiesced && g.role != raft.StateLeader && slices.Contains(silent, g.lead) {
			h.wakeGroup(g)
			_ = g.rn.ForgetLeader()
			h.markDirty(g)
		}
	}
}

// idle reports whether g's leader has nothing to do: no request waits, no
// transfer runs, every follower holds its whole log, and everything is
// committed and applied.
func (h *Host) idle(g *group) bool {
	if len(g.proposals)+len(g.reads)+len(g.waitingReads)+len(g.admin) > 0 {
		return false
	}
	st := g.rn.BasicStatus()
	if st.LeadTransferee != raft.None || st.Applied != st.Commit || g.applied != st.Commit {
		return false
	}
	caughtUp := true
	g.rn.WithProgress(func(id uint64, _ raft.ProgressType, pr tracker.Progress) {
		if pr.Match != st.Commit {
			caughtUp = false
		}
	})
	return caughtUp
}

// quiesce stops g's leader and tells its followers to stop.
func (h *Host) quiesce(g *group) {
	g.quiesced = true
	releaseRequestMaps(g)
	g.quiesceAcked = g.quiesceAcked[:0]
	h.quiesced++
	h.cfg.Observer.Quiesced(h.quiesced)
	h.cfg.Observer.GroupChanged(g.id, g.status())
	h.resendQuiesce(g)
}

// resendQuiesce sends the quiesce heartbeat to the followers that have not
// answered it, every HeartbeatTicks.
func (h *Host) resendQuiesce(g *group) {
	if h.ticks%int64(h.cfg.HeartbeatTicks) != 0 {
		return
	}
	st := g.rn.BasicStatus()
	for _, id := range members(g.confState) {
		if id == h.id || slices.Contains(g.quiesceAcked, id) {
			continue
		}
		h.out = append(h.out, transport.GroupMessage{Group: g.id, Message: pb.Message{
			Type: pb.MsgHeartbeat, From: h.id, To: id, Term: st.Term, Commit: st.Commit, Context: quiesceContext,
		}})
	}
}

// releaseRequestMaps drops g's empty request maps when it quiesces, so an
// idle replica holds none; an awake one keeps them, and its proposals and
// reads allocate no map each.
func releaseRequestMaps(g *group) {
	if len(g.proposals) == 0 {
		g.proposals = nil
	}
	if len(g.reads) == 0 {
		g.reads = nil
	}
	if len(g.snapConf) == 0 {
		g.snapConf = nil
	}
}

// wakeGroup makes a quiesced replica tick again.
func (h *Host) wakeGroup(g *group) {
	if !g.quiesced {
		return
	}
	h.startTicking(g)
	g.quiesced = false
	g.idleTicks = 0
	h.quiesced--
	h.cfg.Observer.Quiesced(h.quiesced)
	h.cfg.Observer.GroupChanged(g.id, g.status())
}

// quiesceMessage handles the quiesce heartbeat and its answer, and reports
// whether m was one of them.
func (h *Host) quiesceMessage(g *group, m pb.Message) bool {
	if !bytes.Equal(m.Context, quiesceContext) {
		return false
	}
	switch m.Type {
	case pb.MsgHeartbeat:
		// Step it like any heartbeat (it commits up to the leader's
		// commit index and is answered), then stop if caught up.
		_ = g.rn.Step(m)
		h.markDirty(g)
		st := g.rn.BasicStatus()
		if !g.quiesced && st.Term == m.Term && st.Lead == m.From && st.Commit >= m.Commit && st.RaftState == raft.StateFollower {
			g.quiesced = true
			releaseRequestMaps(g)
			h.quiesced++
			h.cfg.Observer.Quiesced(h.quiesced)
		}
		return true
	case pb.MsgHeartbeatResp:
		_ = g.rn.Step(m)
		if g.quiesced && g.role == raft.StateLeader && !slices.Contains(g.quiesceAcked, m.From) {
			g.quiesceAcked = append(g.quiesceAcked, m.From)
		}
		return true
	}
	return false
}

// sendLiveness sends this host's heartbeat to every host it shares a group
// with, every HeartbeatTicks.
func (h *Host) sendLiveness() {
	if h.ticks%int64(h.cfg.HeartbeatTicks) != 0 {
		return
	}
	if !h.peerHostsKnown {
		peers := map[uint64]bool{}
		for _, id := range h.order {
			for _, p := range members(h.groups[id].confState) {
				if p != h.id {
					peers[p] = true
				}
			}
		}
		h.peerHosts, h.peerHostsKnown = sortedKeys(peers), true
	}
	for _, p := range h.peerHosts {
		h.out = append(h.out, transport.GroupMessage{Group: livenessGroup, Message: pb.Message{
			Type: pb.MsgHeartbeat, From: h.id, To: p, Term: 1,
		}})
	}
}

// configChanged records that a replica's configuration changed, or a
// replica came or went: the hosts to heartbeat are listed again.
func (h *Host) configChanged() { h.peerHostsKnown = false }

// hostHeard records that host from was heard from now.
func (h *Host) hostHeard(from uint64) { h.lastHeard[from] = h.ticks }

// members lists every node of a configuration, each once, in increasing
// order.
func members(cs pb.ConfState) []uint64 {
	set := map[uint64]bool{}
	for _, ids := range [][]uint64{cs.Voters, cs.Learners, cs.VotersOutgoing, cs.LearnersNext} {
		for _, id := range ids {
			set[id] = true
		}
	}
	return sortedKeys(set)
}
