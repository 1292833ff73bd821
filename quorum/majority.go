package quorum

import (
	"cmp"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
)

// MajorityConfig is a set of voter IDs. A decision requires the agreement of
// len/2+1 of them. The zero value (nil) is a valid, empty configuration.
type MajorityConfig map[uint64]struct{}

// smallConfigVoters is the largest configuration whose committed index is
// computed without a heap allocation. Real clusters rarely have more than
// seven voters, and CommittedIndex runs on every append acknowledgement.
const smallConfigVoters = 7

// String lists the voter IDs in ascending order, e.g. "(1 2 3)".
func (c MajorityConfig) String() string {
	var b strings.Builder
	b.WriteByte('(')
	for i, id := range c.Slice() {
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(strconv.FormatUint(id, 10))
	}
	b.WriteByte(')')
	return b.String()
}

// Slice returns the voter IDs in ascending order, or nil for an empty
// configuration. The slice is freshly allocated and owned by the caller.
func (c MajorityConfig) Slice() []uint64 {
	return sortedIDs(c)
}

// Describe renders what l reports for each voter in etcd/raft's layout:
// a header line, then one line per voter in ascending ID order with a bar,
// the index (0 when l knows nothing) and the ID. The bar shows the voter's
// rank when the voters are ordered by index (then ID): "?" when l knows
// nothing of the voter, otherwise as many "x" as the rank, then ">", except
// that a voter whose index equals that of the voter ranked just below it
// gets no "x". An empty configuration renders as "<empty majority quorum>"
// without a newline. The committed index is not shown.
func (c MajorityConfig) Describe(l AckedIndexer) string {
	return describe(sortedIDs(c), l)
}

// CommittedIndex returns the largest index that a majority of the voters have
// acknowledged according to l. A voter l knows nothing about counts as having
// acknowledged index 0. An empty configuration returns math.MaxUint64, so
// that it never holds back the other half of a JointConfig.
//
// For configurations of up to seven voters it does not allocate.
func (c MajorityConfig) CommittedIndex(l AckedIndexer) Index {
	n := len(c)
	if n == 0 {
		return math.MaxUint64
	}

	var onStack [smallConfigVoters]uint64
	var acked []uint64
	if n <= len(onStack) {
		acked = onStack[:n]
	} else {
		acked = make([]uint64, n)
	}

	i := 0
	for id := range c {
		idx, found := l.AckedIndex(id)
		if !found {
			idx = 0
		}
		acked[i] = uint64(idx)
		i++
	}

	if n <= len(onStack) {
		insertionSort(acked)
	} else {
		slices.Sort(acked)
	}

	// acked is ascending. The voters at positions n-quorum .. n-1 form a
	// quorum, and the smallest index among them is acknowledged by all of
	// them; no larger index is acknowledged by as many voters.
	quorum := n/2 + 1
	return Index(acked[n-quorum])
}

// VoteResult tallies votes (true = granted, false = rejected; a missing entry
// means no answer yet) over the voters of c. Votes from IDs outside c are
// ignored. An empty configuration wins every election, which keeps the
// result of a JointConfig with an empty half equal to that of the other half.
func (c MajorityConfig) VoteResult(votes map[uint64]bool) VoteResult {
	if len(c) == 0 {
		return VoteWon
	}
	var granted, missing int
	for id := range c {
		v, answered := votes[id]
		switch {
		case !answered:
			missing++
		case v:
			granted++
		}
	}
	quorum := len(c)/2 + 1
	switch {
	case granted >= quorum:
		return VoteWon
	case granted+missing >= quorum:
		return VotePending
	default:
		return VoteLost
	}
}

// insertionSort sorts a handful of values in place. It beats a general sort
// for the configuration sizes seen in practice and keeps its argument on the
// caller's stack.
func insertionSort(s []uint64) {
	for i := 1; i < len(s); i++ {
		v := s[i]
		j := i
		for ; j > 0 && s[j-1] > v; j-- {
			s[j] = s[j-1]
		}
		s[j] = v
	}
}

// sortedIDs returns the keys of set in ascending order, nil if there are none.
func sortedIDs(set map[uint64]struct{}) []uint64 {
	if len(set) == 0 {
		return nil
	}
	ids := make([]uint64, 0, len(set))
	for id := range set {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	return ids
}

// describe is the shared body of MajorityConfig.Describe and
// JointConfig.Describe.
func describe(ids []uint64, l AckedIndexer) string {
	n := len(ids)
	if n == 0 {
		return "<empty majority quorum>"
	}
	type voter struct {
		id    uint64
		idx   Index
		found bool
		bar   int
	}
	voters := make([]voter, n)
	for i, id := range ids {
		idx, found := l.AckedIndex(id)
		if !found {
			idx = 0
		}
		voters[i] = voter{id: id, idx: idx, found: found}
	}
	byIndex := make([]*voter, n)
	for i := range voters {
		byIndex[i] = &voters[i]
	}
	slices.SortStableFunc(byIndex, func(a, b *voter) int { return cmp.Compare(a.idx, b.idx) })
	for rank := 1; rank < n; rank++ {
		if byIndex[rank-1].idx < byIndex[rank].idx {
			byIndex[rank].bar = rank
		}
	}

	var b strings.Builder
	b.WriteString(strings.Repeat(" ", n))
	b.WriteString("    idx\n")
	for _, v := range voters {
		if v.found {
			b.WriteString(strings.Repeat("x", v.bar))
			b.WriteByte('>')
			b.WriteString(strings.Repeat(" ", n-v.bar))
		} else {
			b.WriteByte('?')
			b.WriteString(strings.Repeat(" ", n))
		}
		fmt.Fprintf(&b, " %5d    (id=%d)\n", uint64(v.idx), v.id)
	}
	return b.String()
}
