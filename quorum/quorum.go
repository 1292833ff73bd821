package quorum

import (
	"math"
	"strconv"
)

// Index is a log index as seen by quorum computations. The value
// math.MaxUint64 stands for "no constraint": it is what an empty
// configuration reports as its committed index.
type Index uint64

// String formats the index in decimal, or as "∞" for math.MaxUint64.
func (i Index) String() string {
	if i == math.MaxUint64 {
		return "∞"
	}
	return strconv.FormatUint(uint64(i), 10)
}

// AckedIndexer reports, for a voter, the highest log index that voter is
// known to have durably appended. found is false when nothing is known about
// the voter; quorum computations then treat its index as zero.
type AckedIndexer interface {
	AckedIndex(voterID uint64) (idx Index, found bool)
}

// VoteResult is the state of an election as far as the votes collected so far
// can tell.
type VoteResult uint8

const (
	// VotePending means neither outcome is certain yet: enough voters have
	// not answered that the result can still go either way.
	VotePending VoteResult = 1 + iota
	// VoteLost means a quorum can no longer be reached, whatever the
	// missing voters answer.
	VoteLost
	// VoteWon means a quorum has granted its vote.
	VoteWon
)

// String returns the constant's name, e.g. "VoteWon".
func (v VoteResult) String() string {
	switch v {
	case VotePending:
		return "VotePending"
	case VoteLost:
		return "VoteLost"
	case VoteWon:
		return "VoteWon"
	}
	return "VoteResult(" + strconv.FormatUint(uint64(v), 10) + ")"
}
