package confchange

import (
	"fmt"

	"github.com/pontoon-raft/raft/tracker"
)

// validate checks the invariants listed in the Changer documentation, except
// the nil-ness of empty sets, which finish establishes and which inputs are
// not required to follow.
func validate(cfg tracker.Config, prs tracker.ProgressMap) error {
	incoming, outgoing := cfg.Voters[0], cfg.Voters[1]

	// Roles first: who is what.
	for id := range cfg.Learners {
		if _, ok := incoming[id]; ok {
			return fmt.Errorf("node %d is both a learner and an incoming voter", id)
		}
		if _, ok := outgoing[id]; ok {
			return fmt.Errorf("node %d is both a learner and an outgoing voter", id)
		}
	}
	// LearnersNext exists only for voters demoted while they still vote in
	// the outgoing half, so it is empty unless the configuration is joint.
	for id := range cfg.LearnersNext {
		if _, ok := outgoing[id]; !ok {
			return fmt.Errorf("node %d is in LearnersNext but is not an outgoing voter", id)
		}
		if _, ok := incoming[id]; ok {
			return fmt.Errorf("node %d is in LearnersNext and is an incoming voter", id)
		}
	}
	if len(outgoing) == 0 && cfg.AutoLeave {
		return fmt.Errorf("AutoLeave is set but the configuration is not joint")
	}

	// Then the Progress that goes with each role. Nodes in LearnersNext are
	// outgoing voters and keep a voter's Progress until LeaveJoint.
	for i, half := range cfg.Voters {
		for id := range half {
			pr := prs[id]
			switch {
			case pr == nil:
				return fmt.Errorf("voter %d (half %d) has no Progress", id, i)
			case pr.IsLearner:
				return fmt.Errorf("voter %d (half %d) has a Progress marked IsLearner", id, i)
			}
		}
	}
	for id := range cfg.Learners {
		pr := prs[id]
		switch {
		case pr == nil:
			return fmt.Errorf("learner %d has no Progress", id)
		case !pr.IsLearner:
			return fmt.Errorf("learner %d has a Progress not marked IsLearner", id)
		}
	}
	for id := range prs {
		_, in := incoming[id]
		_, out := outgoing[id]
		_, learner := cfg.Learners[id]
		if !in && !out && !learner {
			return fmt.Errorf("node %d has a Progress but is neither a voter nor a learner", id)
		}
	}
	return nil
}
