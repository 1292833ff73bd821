package quorum

// JointConfig is the configuration used during joint consensus: element 0 is
// the incoming voter set and element 1 the outgoing one. Decisions need a
// majority in each half. Outside a membership change the outgoing half is
// empty and the JointConfig behaves exactly like its incoming half.
type JointConfig [2]MajorityConfig

// String renders the incoming half, followed by "&&" and the outgoing half
// when the latter is non-empty: "(1 2 3)&&(1 2)" or "(1 2 3)".
func (c JointConfig) String() string {
	if len(c[1]) > 0 {
		return c[0].String() + "&&" + c[1].String()
	}
	return c[0].String()
}

// IDs returns a new set holding every voter of either half.
func (c JointConfig) IDs() map[uint64]struct{} {
	ids := make(map[uint64]struct{}, len(c[0])+len(c[1]))
	for _, half := range c {
		for id := range half {
			ids[id] = struct{}{}
		}
	}
	return ids
}

// Describe is MajorityConfig.Describe over the voters of both halves
// together.
func (c JointConfig) Describe(l AckedIndexer) string {
	return describe(sortedIDs(c.IDs()), l)
}

// CommittedIndex returns the largest index acknowledged by a majority of both
// halves, that is the smaller of the two halves' committed indexes. It does
// not allocate for halves of up to seven voters.
func (c JointConfig) CommittedIndex(l AckedIndexer) Index {
	return min(c[0].CommittedIndex(l), c[1].CommittedIndex(l))
}

// VoteResult combines the results of both halves: the election is won once
// both halves are won, lost as soon as either half is lost, and pending
// otherwise.
func (c JointConfig) VoteResult(votes map[uint64]bool) VoteResult {
	incoming := c[0].VoteResult(votes)
	outgoing := c[1].VoteResult(votes)
	switch {
	case incoming == VoteLost || outgoing == VoteLost:
		return VoteLost
	case incoming == VoteWon && outgoing == VoteWon:
		return VoteWon
	default:
		return VotePending
	}
}
