package raft

import (
	"github.com/pontoon-raft/raft/confchange"
	pb "github.com/pontoon-raft/raft/raftpb"
	"github.com/pontoon-raft/raft/tracker"
)

// freshTracker returns an empty tracker with the flow-control limits of old.
func freshTracker(old tracker.ProgressTracker) tracker.ProgressTracker {
	return tracker.MakeProgressTracker(old.MaxInflight, old.MaxInflightBytes)
}

// applyConfChange moves to the configuration cc produces from the current
// one. Configuration changes take effect when applied (paper §6, thesis §4.1).
//
// A change the Changer rejects leaves the configuration unchanged and is
// logged as an error. Every node applies the same entries from the same
// configuration, so every node rejects it alike; etcd/raft panics here.
func (r *raft) applyConfChange(cc pb.ConfChangeV2) pb.ConfState {
	changer := confchange.Changer{Tracker: r.trk, LastIndex: r.raftLog.lastIndex()}
	var (
		cfg      tracker.Config
		progress tracker.ProgressMap
		err      error
	)
	if cc.LeaveJoint() {
		cfg, progress, err = changer.LeaveJoint()
	} else if autoLeave, ok := cc.EnterJoint(); ok {
		cfg, progress, err = changer.EnterJoint(autoLeave, cc.Changes...)
	} else {
		cfg, progress, err = changer.Simple(cc.Changes...)
	}
	if err != nil {
		r.logger.Errorf("%x refusing to apply conf change %s at config %s: %v",
			r.id, pb.ConfChangesToString(cc.Changes), r.trk.Config, err)
		return r.trk.ConfState()
	}
	return r.switchToConfig(cfg, progress)
}

// switchToConfig installs a configuration computed by the confchange
// package and reacts to it: a removed or demoted leader may step down, new
// peers are probed, and the commit index may move because the quorum
// changed. It returns the new ConfState.
func (r *raft) switchToConfig(cfg tracker.Config, progress tracker.ProgressMap) pb.ConfState {
	r.trk.Config = cfg
	r.trk.Progress = progress
	r.logger.Infof("%x switched to configuration %s", r.id, r.trk.Config)
	cs := r.trk.ConfState()
	pr, ok := r.trk.Progress[r.id]
	r.isLearner = ok && pr.IsLearner

	if (!ok || r.isLearner) && (r.state == StateCandidate || r.state == StatePreCandidate) {
		// Only voters campaign (see promotable). Votes counted under the new
		// configuration must not make a node that no longer votes its
		// leader, so the campaign ends here.
		r.becomeFollower(r.Term, None)
		return cs
	}
	if (!ok || r.isLearner) && r.state == StateLeader {
		// We no longer vote. Without StepDownOnRemoval we keep leading until
		// the next election; we cannot commit new entries either way.
		if r.stepDownOnRemoval {
			r.becomeFollower(r.Term, None)
		}
		return cs
	}
	if r.state != StateLeader || len(cs.Voters) == 0 {
		return cs
	}
	if r.maybeCommit() {
		// The new quorum commits more: tell everyone.
		r.bcastAppend()
	} else {
		// Probe new peers; existing ones are unaffected.
		r.trk.Visit(func(id uint64, _ *tracker.Progress) {
			if id != r.id {
				r.maybeSendAppend(id, false)
			}
		})
	}
	if _, ok := r.trk.Voters.IDs()[r.leadTransferee]; !ok && r.leadTransferee != None {
		// The transferee is gone from the voters; abandon the transfer.
		r.abortLeaderTransfer()
	}
	return cs
}
