package confchange

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	pb "github.com/pontoon-raft/raft/raftpb"
	"github.com/pontoon-raft/raft/tracker"
)

// Restore builds the configuration described by cs, as a sequence of changes
// applied to an empty tracker (only chg.Tracker.MaxInflight and
// MaxInflightBytes, and chg.LastIndex, are used). An empty ConfState yields
// an empty configuration.
//
// A non-joint ConfState is replayed as one Simple change per voter and then
// per learner. A joint one first builds the outgoing voters the same way,
// then enters the joint configuration with changes that replace those voters
// by the incoming ones and add the learners, including LearnersNext, which
// end up in LearnersNext again because they are outgoing voters.
//
// Restore fails if cs does not describe a valid configuration, for instance
// learners without voters, a node listed as both learner and voter, node ID
// 0, or LearnersNext or AutoLeave without outgoing voters. IDs listed twice
// in the same list are accepted and count once.
func Restore(chg Changer, cs pb.ConfState) (tracker.Config, tracker.ProgressMap, error) {
	chg.Tracker = tracker.MakeProgressTracker(chg.Tracker.MaxInflight, chg.Tracker.MaxInflightBytes)

	failRestore := func(err error) (tracker.Config, tracker.ProgressMap, error) {
		return tracker.Config{}, nil, fmt.Errorf("confchange: restoring %s: %w", describeConfState(cs), err)
	}
	step := func(cfg tracker.Config, prs tracker.ProgressMap, err error) error {
		if err == nil {
			chg.Tracker.Config, chg.Tracker.Progress = cfg, prs
		}
		return err
	}
	simpleAdds := func(typ pb.ConfChangeType, ids []uint64) error {
		for _, id := range ids {
			if err := step(chg.Simple(pb.ConfChangeSingle{Type: typ, NodeID: id})); err != nil {
				return err
			}
		}
		return nil
	}

	if err := checkConfState(cs); err != nil {
		return failRestore(err)
	}
	if len(cs.VotersOutgoing) == 0 {
		if err := simpleAdds(pb.ConfChangeAddNode, cs.Voters); err != nil {
			return failRestore(err)
		}
		if err := simpleAdds(pb.ConfChangeAddLearnerNode, cs.Learners); err != nil {
			return failRestore(err)
		}
		return chg.Tracker.Config, chg.Tracker.Progress, nil
	}

	// Joint: make the outgoing voters the (temporary) incoming ones, then
	// enter the joint configuration, which moves them to the outgoing half
	// while the changes below rebuild the incoming half from scratch.
	if err := simpleAdds(pb.ConfChangeAddNode, cs.VotersOutgoing); err != nil {
		return failRestore(err)
	}
	ccs := make([]pb.ConfChangeSingle, 0,
		len(cs.VotersOutgoing)+len(cs.Voters)+len(cs.Learners)+len(cs.LearnersNext))
	for _, id := range cs.VotersOutgoing {
		ccs = append(ccs, pb.ConfChangeSingle{Type: pb.ConfChangeRemoveNode, NodeID: id})
	}
	for _, id := range cs.Voters {
		ccs = append(ccs, pb.ConfChangeSingle{Type: pb.ConfChangeAddNode, NodeID: id})
	}
	for _, id := range cs.Learners {
		ccs = append(ccs, pb.ConfChangeSingle{Type: pb.ConfChangeAddLearnerNode, NodeID: id})
	}
	for _, id := range cs.LearnersNext {
		ccs = append(ccs, pb.ConfChangeSingle{Type: pb.ConfChangeAddLearnerNode, NodeID: id})
	}
	if err := step(chg.EnterJoint(cs.AutoLeave, ccs...)); err != nil {
		return failRestore(err)
	}
	return chg.Tracker.Config, chg.Tracker.Progress, nil
}

// Describe renders changes in the compact token form of raftpb's
// ConfChangesToString: "v<id>" adds a voter, "l<id>" a learner, "r<id>"
// removes a node and "u<id>" updates one, separated by spaces, for example
// "v1 l2 r3 u4". A change of unknown type is rendered as "unknown<id>".
func Describe(ccs ...pb.ConfChangeSingle) string {
	var b strings.Builder
	for i, cc := range ccs {
		if i > 0 {
			b.WriteByte(' ')
		}
		switch cc.Type {
		case pb.ConfChangeAddNode:
			b.WriteByte('v')
		case pb.ConfChangeAddLearnerNode:
			b.WriteByte('l')
		case pb.ConfChangeRemoveNode:
			b.WriteByte('r')
		case pb.ConfChangeUpdateNode:
			b.WriteByte('u')
		default:
			b.WriteString("unknown")
		}
		b.WriteString(strconv.FormatUint(cc.NodeID, 10))
	}
	return b.String()
}

// checkConfState rejects ConfStates that the replay in Restore would not
// reproduce faithfully. The remaining rules (at least one incoming voter) are
// enforced by the replay itself.
func checkConfState(cs pb.ConfState) error {
	voters := map[uint64]bool{}
	outgoing := map[uint64]bool{}
	for _, list := range [][]uint64{cs.Voters, cs.VotersOutgoing, cs.Learners, cs.LearnersNext} {
		if slices.Contains(list, 0) {
			return fmt.Errorf("node ID 0 is not a valid member")
		}
	}
	for _, id := range cs.Voters {
		voters[id] = true
	}
	for _, id := range cs.VotersOutgoing {
		outgoing[id] = true
	}
	for _, id := range cs.Learners {
		if voters[id] || outgoing[id] {
			return fmt.Errorf("node %d is listed both as a learner and as a voter", id)
		}
	}
	for _, id := range cs.LearnersNext {
		if !outgoing[id] {
			return fmt.Errorf("node %d is in LearnersNext but is not an outgoing voter", id)
		}
		if voters[id] {
			return fmt.Errorf("node %d is in LearnersNext and is an incoming voter", id)
		}
	}
	if len(cs.VotersOutgoing) == 0 && cs.AutoLeave {
		return fmt.Errorf("AutoLeave is set but there are no outgoing voters")
	}
	return nil
}

// describeConfState is a short rendering of cs for error messages.
func describeConfState(cs pb.ConfState) string {
	return fmt.Sprintf("ConfState(voters=%v outgoing=%v learners=%v learners_next=%v autoleave=%t)",
		cs.Voters, cs.VotersOutgoing, cs.Learners, cs.LearnersNext, cs.AutoLeave)
}
