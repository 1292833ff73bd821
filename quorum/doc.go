// Package quorum holds the arithmetic of Raft majorities and nothing else.
//
// Given the set of voters of a configuration and what each of them has
// acknowledged, it answers two questions: which log index is durable on a
// quorum (and may therefore be committed), and whether an election has been
// won, lost, or is still undecided.
//
// Two shapes of configuration exist. A MajorityConfig is a plain set of
// voters; a decision needs more than half of them. A JointConfig pairs the
// incoming and the outgoing voter sets used during a membership change
// (joint consensus, Raft thesis §4.3); a decision needs a majority of each
// half independently. An empty half places no constraint, which lets a
// non-joint configuration be represented as a JointConfig whose second half
// is empty.
//
// The package knows nothing about logs, messages or progress tracking: the
// caller supplies acknowledged indexes through the AckedIndexer interface and
// votes as a map. Everything here is a pure function of its inputs.
package quorum
