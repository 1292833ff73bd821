package raftpb

import (
	"fmt"
	"slices"
)

// Equivalent returns nil if cs and cs2 describe the same configuration: each
// of the four ID lists holds the same IDs the same number of times, in any
// order, and AutoLeave is equal. A nil list and an empty one are equivalent.
// Otherwise the error shows both states with their lists sorted.
func (cs ConfState) Equivalent(cs2 ConfState) error {
	a, b := cs.sorted(), cs2.sorted()
	if slices.Equal(a.Voters, b.Voters) &&
		slices.Equal(a.Learners, b.Learners) &&
		slices.Equal(a.VotersOutgoing, b.VotersOutgoing) &&
		slices.Equal(a.LearnersNext, b.LearnersNext) &&
		a.AutoLeave == b.AutoLeave {
		return nil
	}
	return fmt.Errorf("raftpb: ConfStates are not equivalent (IDs sorted):\n  %s\n  %s",
		a.describe(), b.describe())
}

// sorted returns a copy of cs whose ID lists are sorted copies, leaving cs's
// backing arrays untouched.
func (cs ConfState) sorted() ConfState {
	sortedCopy := func(ids []uint64) []uint64 {
		out := slices.Clone(ids)
		slices.Sort(out)
		return out
	}
	return ConfState{
		Voters:         sortedCopy(cs.Voters),
		Learners:       sortedCopy(cs.Learners),
		VotersOutgoing: sortedCopy(cs.VotersOutgoing),
		LearnersNext:   sortedCopy(cs.LearnersNext),
		AutoLeave:      cs.AutoLeave,
	}
}

// describe formats cs on one line for error messages.
func (cs ConfState) describe() string {
	return fmt.Sprintf("voters=%v learners=%v voters_outgoing=%v learners_next=%v auto_leave=%t",
		cs.Voters, cs.Learners, cs.VotersOutgoing, cs.LearnersNext, cs.AutoLeave)
}
