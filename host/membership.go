package host

import (
	"context"
	"fmt"
	"slices"

	"github.com/pontoon-raft/raft"
	pb "github.com/pontoon-raft/raft/raftpb"
	"github.com/pontoon-raft/raft/tracker"
)

// adminOp is a membership change in progress on the leader: adding a
// replica goes through a learner, promoted once it has caught up; removing
// one is a single change.
type adminOp struct {
	node   uint64
	add    bool
	phase  adminPhase
	issued int64
}

type adminPhase uint8

const (
	phaseAddLearner adminPhase = iota // propose the learner, wait until applied
	phaseCatchUp                      // wait until the learner holds the commit index
	phasePromote                      // propose the promotion, wait until applied
	phaseRemove                       // propose the removal, wait until applied
)

// SubmitAddReplica adds node to group, on the host whose replica leads it:
// first as a learner, which the leader catches up (with a snapshot if its
// log no longer reaches back far enough) without changing the quorum, then
// as a voter once it holds the commit index. The new replica must be
// started on node first (StartGroup without peers). The Request fails with
// a NotLeaderError if this replica does not lead, or stops leading before
// the change is done.
func (h *Host) SubmitAddReplica(group, node uint64) *Request {
	return h.submitAdmin(group, &adminOp{node: node, add: true, phase: phaseAddLearner})
}

// SubmitRemoveReplica removes node from group, on the host whose replica
// leads it. Stop the removed replica afterwards with RemoveGroup on its
// host.
func (h *Host) SubmitRemoveReplica(group, node uint64) *Request {
	return h.submitAdmin(group, &adminOp{node: node, phase: phaseRemove})
}

// AddReplica adds node to group and waits (see SubmitAddReplica). If ctx
// ends first, the change is withdrawn: a replica already added as a learner
// stays one (it does not count in the quorum), and is never promoted by this
// call.
func (h *Host) AddReplica(ctx context.Context, group, node uint64) error {
	if h.cfg.Manual {
		return ErrManual
	}
	return h.waitAdmin(ctx, h.SubmitAddReplica(group, node))
}

// RemoveReplica removes node from group and waits (see
// SubmitRemoveReplica). If ctx ends first, the change is withdrawn (a
// removal already proposed may still be applied).
func (h *Host) RemoveReplica(ctx context.Context, group, node uint64) error {
	if h.cfg.Manual {
		return ErrManual
	}
	return h.waitAdmin(ctx, h.SubmitRemoveReplica(group, node))
}

// waitAdmin waits for a membership change; if ctx ends first it withdraws
// the change, so that no abandoned change stays pending on the leader,
// proposed again and again.
func (h *Host) waitAdmin(ctx context.Context, r *Request) error {
	_, err := r.wait(ctx)
	if err == nil || ctx.Err() == nil {
		return err
	}
	_ = h.call(func() {
		g := h.groups[r.group]
		if g == nil {
			return
		}
		if i := slices.Index(g.admin, r); i >= 0 {
			g.admin = slices.Delete(g.admin, i, i+1)
			r.finish(nil, ctx.Err())
		}
	})
	return err
}

func (h *Host) submitAdmin(group uint64, op *adminOp) *Request {
	r := newRequest(kindAdmin, group)
	r.admin = op
	if err := h.call(func() {
		g := h.groups[group]
		switch {
		case g == nil:
			r.finish(nil, ErrUnknownGroup)
		case g.role != raft.StateLeader:
			r.finish(nil, &NotLeaderError{Group: group, Leader: g.lead})
		case op.node == 0 || raft.IsLocalMsgTarget(op.node):
			r.finish(nil, fmt.Errorf("host: %d is not a valid node ID", op.node))
		default:
			h.wakeGroup(g)
			g.admin = append(g.admin, r)
			h.proposeAdmin(g, op)
		}
	}); err != nil {
		r.finish(nil, err)
	}
	return r
}

// proposeAdmin proposes the conf change of op's phase.
func (h *Host) proposeAdmin(g *group, op *adminOp) {
	op.issued = h.ticks
	var t pb.ConfChangeType
	switch op.phase {
	case phaseAddLearner:
		t = pb.ConfChangeAddLearnerNode
	case phasePromote:
		t = pb.ConfChangeAddNode
	case phaseRemove:
		t = pb.ConfChangeRemoveNode
	default:
		return
	}
	// A refusal (another change pending) becomes an empty entry; the
	// change is proposed again after ReproposeTicks.
	_ = g.rn.ProposeConfChange(pb.ConfChange{Type: t, NodeID: op.node})
	h.markDirty(g)
}

// checkAdmin moves g's membership changes on, after each tick and each
// applied batch.
func (h *Host) checkAdmin(g *group) {
	if len(g.admin) == 0 {
		return
	}
	kept := g.admin[:0]
	for _, r := range g.admin {
		if h.advanceAdmin(g, r.admin) {
			r.finish(nil, nil)
			continue
		}
		if g.role != raft.StateLeader {
			r.finish(nil, &NotLeaderError{Group: g.id, Leader: g.lead})
			continue
		}
		if op := r.admin; op.phase != phaseCatchUp && h.ticks-op.issued >= int64(h.cfg.ReproposeTicks) {
			h.proposeAdmin(g, op)
		}
		kept = append(kept, r)
	}
	clear(g.admin[len(kept):])
	g.admin = kept
}

// advanceAdmin moves op through its phases as far as the configuration
// allows, and reports whether it is done.
func (h *Host) advanceAdmin(g *group, op *adminOp) bool {
	voter := slices.Contains(g.confState.Voters, op.node)
	learner := slices.Contains(g.confState.Learners, op.node)
	for {
		switch op.phase {
		case phaseRemove:
			return !voter && !learner && !slices.Contains(g.confState.VotersOutgoing, op.node)
		case phaseAddLearner:
			if voter {
				return true
			}
			if !learner {
				return false
			}
			op.phase = phaseCatchUp
		case phaseCatchUp:
			if g.role != raft.StateLeader || !h.caughtUp(g, op.node) {
				return false
			}
			op.phase = phasePromote
			h.proposeAdmin(g, op)
		case phasePromote:
			return voter
		}
	}
}

// caughtUp reports whether node holds g's commit index, as its leader knows.
func (h *Host) caughtUp(g *group, node uint64) bool {
	commit := g.rn.BasicStatus().Commit
	ok := false
	g.rn.WithProgress(func(id uint64, _ raft.ProgressType, pr tracker.Progress) {
		if id == node && pr.Match >= commit {
			ok = true
		}
	})
	return ok
}
