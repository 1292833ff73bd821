package quorum

import (
	"math"
	"math/rand"
	"strconv"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// mapAckIndexer serves acknowledged indexes from a map; IDs missing from the
// map are reported as not found.
type mapAckIndexer map[uint64]Index

func (m mapAckIndexer) AckedIndex(id uint64) (Index, bool) {
	idx, ok := m[id]
	return idx, ok
}

func majority(ids ...uint64) MajorityConfig {
	c := MajorityConfig{}
	for _, id := range ids {
		c[id] = struct{}{}
	}
	return c
}

func TestIndexString(t *testing.T) {
	assert.Equal(t, "0", Index(0).String())
	assert.Equal(t, "12345", Index(12345).String())
	assert.Equal(t, "∞", Index(math.MaxUint64).String())
	assert.Equal(t, "18446744073709551614", Index(math.MaxUint64-1).String())
}

func TestVoteResultString(t *testing.T) {
	assert.Equal(t, "VotePending", VotePending.String())
	assert.Equal(t, "VoteLost", VoteLost.String())
	assert.Equal(t, "VoteWon", VoteWon.String())
	assert.Equal(t, "VoteResult(0)", VoteResult(0).String())
	assert.Equal(t, "VoteResult(9)", VoteResult(9).String())
}

func TestMajorityConfigStringAndSlice(t *testing.T) {
	tests := []struct {
		cfg   MajorityConfig
		str   string
		slice []uint64
	}{
		{nil, "()", nil},
		{majority(), "()", nil},
		{majority(7), "(7)", []uint64{7}},
		{majority(3, 1, 2), "(1 2 3)", []uint64{1, 2, 3}},
		{majority(100, 20, 3), "(3 20 100)", []uint64{3, 20, 100}},
	}
	for _, tt := range tests {
		assert.Equal(t, tt.str, tt.cfg.String())
		assert.Equal(t, tt.slice, tt.cfg.Slice())
	}
}

func TestJointConfigStringAndIDs(t *testing.T) {
	tests := []struct {
		cfg JointConfig
		str string
		ids map[uint64]struct{}
	}{
		{JointConfig{}, "()", map[uint64]struct{}{}},
		{JointConfig{majority(1, 2, 3)}, "(1 2 3)", majority(1, 2, 3)},
		{JointConfig{majority(1, 2, 3), majority()}, "(1 2 3)", majority(1, 2, 3)},
		{JointConfig{majority(1, 2, 3), majority(1, 2)}, "(1 2 3)&&(1 2)", majority(1, 2, 3)},
		{JointConfig{majority(4, 5), majority(1, 2, 3)}, "(4 5)&&(1 2 3)", majority(1, 2, 3, 4, 5)},
		{JointConfig{nil, majority(1)}, "()&&(1)", majority(1)},
	}
	for _, tt := range tests {
		assert.Equal(t, tt.str, tt.cfg.String())
		assert.Equal(t, tt.ids, tt.cfg.IDs())
	}
}

func TestMajorityConfigCommittedIndex(t *testing.T) {
	tests := []struct {
		name  string
		cfg   MajorityConfig
		acked mapAckIndexer
		want  Index
	}{
		{"empty config", majority(), mapAckIndexer{1: 5}, math.MaxUint64},
		{"single voter", majority(1), mapAckIndexer{1: 5}, 5},
		{"single voter unknown", majority(1), mapAckIndexer{}, 0},
		{"two voters need both", majority(1, 2), mapAckIndexer{1: 10, 2: 5}, 5},
		{"two voters one unknown", majority(1, 2), mapAckIndexer{1: 10}, 0},
		{"three voters median", majority(1, 2, 3), mapAckIndexer{1: 10, 2: 5, 3: 7}, 7},
		{"three voters one unknown", majority(1, 2, 3), mapAckIndexer{1: 10, 3: 7}, 7},
		{"three voters two unknown", majority(1, 2, 3), mapAckIndexer{1: 10}, 0},
		{"non-voters ignored", majority(1, 2, 3), mapAckIndexer{1: 1, 2: 1, 3: 1, 4: 100, 5: 100}, 1},
		{"four voters need three", majority(1, 2, 3, 4), mapAckIndexer{1: 9, 2: 8, 3: 7, 4: 6}, 7},
		{"five voters need three", majority(1, 2, 3, 4, 5), mapAckIndexer{1: 1, 2: 2, 3: 3, 4: 4, 5: 5}, 3},
		{"seven voters", majority(1, 2, 3, 4, 5, 6, 7), mapAckIndexer{1: 70, 2: 60, 3: 50, 4: 40, 5: 30, 6: 20, 7: 10}, 40},
		{"nine voters (heap path)", majority(1, 2, 3, 4, 5, 6, 7, 8, 9),
			mapAckIndexer{1: 9, 2: 8, 3: 7, 4: 6, 5: 5, 6: 4, 7: 3, 8: 2, 9: 1}, 5},
		{"ties", majority(1, 2, 3, 4, 5), mapAckIndexer{1: 4, 2: 4, 3: 4, 4: 1, 5: 1}, 4},
		{"max index acked by all", majority(1, 2, 3),
			mapAckIndexer{1: math.MaxUint64, 2: math.MaxUint64, 3: math.MaxUint64}, math.MaxUint64},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, tt.cfg.CommittedIndex(tt.acked))
		})
	}
}

func TestJointConfigCommittedIndex(t *testing.T) {
	tests := []struct {
		name  string
		cfg   JointConfig
		acked mapAckIndexer
		want  Index
	}{
		{"both empty", JointConfig{}, mapAckIndexer{}, math.MaxUint64},
		{"outgoing empty", JointConfig{majority(1, 2, 3)}, mapAckIndexer{1: 5, 2: 6, 3: 7}, 6},
		{"incoming empty", JointConfig{nil, majority(1, 2, 3)}, mapAckIndexer{1: 5, 2: 6, 3: 7}, 6},
		{"same voters", JointConfig{majority(1, 2, 3), majority(1, 2, 3)}, mapAckIndexer{1: 5, 2: 6, 3: 7}, 6},
		{"outgoing lags", JointConfig{majority(1, 2, 3), majority(4, 5, 6)},
			mapAckIndexer{1: 10, 2: 10, 3: 10, 4: 1, 5: 2, 6: 3}, 2},
		{"incoming lags", JointConfig{majority(1, 2, 3), majority(4, 5, 6)},
			mapAckIndexer{1: 1, 2: 2, 3: 3, 4: 10, 5: 10, 6: 10}, 2},
		{"overlap", JointConfig{majority(1, 2, 3), majority(3, 4, 5)},
			mapAckIndexer{1: 9, 2: 2, 3: 8, 4: 1, 5: 1}, 1},
		{"unknown outgoing voter", JointConfig{majority(1), majority(2)}, mapAckIndexer{1: 9}, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, tt.cfg.CommittedIndex(tt.acked))
		})
	}
}

func TestMajorityConfigVoteResult(t *testing.T) {
	const y, n = true, false
	tests := []struct {
		name  string
		cfg   MajorityConfig
		votes map[uint64]bool
		want  VoteResult
	}{
		{"empty config wins", majority(), nil, VoteWon},
		{"empty config ignores rejections", majority(), map[uint64]bool{1: n}, VoteWon},
		{"single voter no answer", majority(1), nil, VotePending},
		{"single voter yes", majority(1), map[uint64]bool{1: y}, VoteWon},
		{"single voter no", majority(1), map[uint64]bool{1: n}, VoteLost},
		{"two voters one yes", majority(1, 2), map[uint64]bool{1: y}, VotePending},
		{"two voters one no", majority(1, 2), map[uint64]bool{1: n}, VoteLost},
		{"two voters both yes", majority(1, 2), map[uint64]bool{1: y, 2: y}, VoteWon},
		{"three voters one yes", majority(1, 2, 3), map[uint64]bool{1: y}, VotePending},
		{"three voters one yes one no", majority(1, 2, 3), map[uint64]bool{1: y, 2: n}, VotePending},
		{"three voters two yes", majority(1, 2, 3), map[uint64]bool{1: y, 3: y}, VoteWon},
		{"three voters two no", majority(1, 2, 3), map[uint64]bool{1: n, 3: n}, VoteLost},
		{"non-voter votes ignored", majority(1, 2, 3), map[uint64]bool{1: y, 4: y, 5: y}, VotePending},
		{"four voters two yes two missing", majority(1, 2, 3, 4), map[uint64]bool{1: y, 2: y}, VotePending},
		{"four voters two yes two no", majority(1, 2, 3, 4), map[uint64]bool{1: y, 2: y, 3: n, 4: n}, VoteLost},
		{"five voters three yes", majority(1, 2, 3, 4, 5), map[uint64]bool{1: y, 2: y, 3: y, 4: n, 5: n}, VoteWon},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, tt.cfg.VoteResult(tt.votes))
		})
	}
}

func TestJointConfigVoteResult(t *testing.T) {
	const y, n = true, false
	tests := []struct {
		name  string
		cfg   JointConfig
		votes map[uint64]bool
		want  VoteResult
	}{
		{"empty joint wins", JointConfig{}, nil, VoteWon},
		{"non-joint behaves like incoming", JointConfig{majority(1, 2, 3)}, map[uint64]bool{1: y, 2: y}, VoteWon},
		{"incoming won outgoing pending", JointConfig{majority(1, 2, 3), majority(4, 5, 6)},
			map[uint64]bool{1: y, 2: y, 4: y}, VotePending},
		{"both won", JointConfig{majority(1, 2, 3), majority(4, 5, 6)},
			map[uint64]bool{1: y, 2: y, 4: y, 5: y}, VoteWon},
		{"incoming won outgoing lost", JointConfig{majority(1, 2, 3), majority(4, 5, 6)},
			map[uint64]bool{1: y, 2: y, 4: n, 5: n}, VoteLost},
		{"incoming lost outgoing pending", JointConfig{majority(1, 2, 3), majority(4, 5, 6)},
			map[uint64]bool{1: n, 2: n}, VoteLost},
		{"overlap decides both", JointConfig{majority(1, 2, 3), majority(2, 3, 4)},
			map[uint64]bool{2: y, 3: y}, VoteWon},
		{"overlap rejection loses both", JointConfig{majority(1, 2, 3), majority(2, 3, 4)},
			map[uint64]bool{2: n, 3: n}, VoteLost},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, tt.cfg.VoteResult(tt.votes))
		})
	}
}

// TestDescribe pins the layout of etcd/raft's Describe, which its quorum
// scripts print: a header, then per voter in ID order a bar ("x"s and ">"
// whose length grows with the voter's rank by index, "?" for a voter
// without an index), the index and the ID. etcd's
// quorum/testdata/*_commit.txt scripts showed our earlier, different layout.
func TestDescribe(t *testing.T) {
	for _, tc := range []struct {
		name  string
		cfg   interface{ Describe(AckedIndexer) string }
		acked mapAckIndexer
		want  string
	}{
		{"empty", majority(), mapAckIndexer{1: 5}, "<empty majority quorum>"},
		{"one voter, unknown", majority(1), nil, "" +
			"     idx\n" +
			"?      0    (id=1)\n"},
		{"distinct indexes", majority(1, 2, 3), mapAckIndexer{1: 100, 2: 101, 3: 99}, "" +
			"       idx\n" +
			"x>     100    (id=1)\n" +
			"xx>    101    (id=2)\n" +
			">       99    (id=3)\n"},
		// A voter whose index equals the one ranked just below it gets
		// the shortest bar, as in etcd.
		{"ties", majority(1, 2, 3, 4), mapAckIndexer{1: 7, 2: 5, 3: 7, 4: 9}, "" +
			"        idx\n" +
			"x>        7    (id=1)\n" +
			">         5    (id=2)\n" +
			">         7    (id=3)\n" +
			"xxx>      9    (id=4)\n"},
		{"unknown voters rank as index 0", majority(1, 2, 3), mapAckIndexer{2: 4}, "" +
			"       idx\n" +
			"?        0    (id=1)\n" +
			"xx>      4    (id=2)\n" +
			"?        0    (id=3)\n"},
		{"joint: the voters of both halves", JointConfig{majority(1, 2), majority(2, 3)}, mapAckIndexer{1: 5, 2: 7, 3: 6}, "" +
			"       idx\n" +
			">        5    (id=1)\n" +
			"xx>      7    (id=2)\n" +
			"x>       6    (id=3)\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			assert.Equal(t, tc.want, tc.cfg.Describe(tc.acked))
		})
	}
}

// naiveCommitted is an obviously correct, slow reference for CommittedIndex:
// the largest candidate index that at least a quorum of voters acknowledged.
func naiveCommitted(c MajorityConfig, l AckedIndexer) Index {
	if len(c) == 0 {
		return math.MaxUint64
	}
	acked := map[uint64]Index{}
	candidates := []Index{0}
	for id := range c {
		idx, _ := l.AckedIndex(id) // not found reports 0
		acked[id] = idx
		candidates = append(candidates, idx)
	}
	var best Index
	for _, cand := range candidates {
		count := 0
		for _, idx := range acked {
			if idx >= cand {
				count++
			}
		}
		if count >= len(c)/2+1 && cand > best {
			best = cand
		}
	}
	return best
}

// naiveJointCommitted is the largest candidate index acknowledged by a quorum
// of every non-empty half.
func naiveJointCommitted(c JointConfig, l AckedIndexer) Index {
	best := Index(0)
	candidates := []Index{0, math.MaxUint64}
	for id := range c.IDs() {
		idx, _ := l.AckedIndex(id)
		candidates = append(candidates, idx)
	}
	for _, cand := range candidates {
		ok := true
		for _, half := range c {
			if len(half) == 0 {
				continue
			}
			count := 0
			for id := range half {
				if idx, _ := l.AckedIndex(id); idx >= cand {
					count++
				}
			}
			ok = ok && count >= len(half)/2+1
		}
		if ok && cand > best {
			best = cand
		}
	}
	return best
}

// naiveVoteResult decides an election by trying every way the voters that
// have not answered yet could still vote: won if every completion wins, lost
// if none does, pending otherwise.
func naiveVoteResult(c JointConfig, votes map[uint64]bool) VoteResult {
	var missing []uint64
	for id := range c.IDs() {
		if _, ok := votes[id]; !ok {
			missing = append(missing, id)
		}
	}
	wins, losses := 0, 0
	for mask := 0; mask < 1<<len(missing); mask++ {
		complete := map[uint64]bool{}
		for id, v := range votes {
			complete[id] = v
		}
		for i, id := range missing {
			complete[id] = mask&(1<<i) != 0
		}
		won := true
		for _, half := range c {
			if len(half) == 0 {
				continue
			}
			yes := 0
			for id := range half {
				if complete[id] {
					yes++
				}
			}
			won = won && 2*yes > len(half)
		}
		if won {
			wins++
		} else {
			losses++
		}
	}
	switch {
	case losses == 0:
		return VoteWon
	case wins == 0:
		return VoteLost
	default:
		return VotePending
	}
}

// randomMajority draws a config of 0..maxVoters voters with IDs from a small
// range, so that the two halves of a joint config often overlap.
func randomMajority(rng *rand.Rand, maxVoters int) MajorityConfig {
	c := MajorityConfig{}
	n := rng.Intn(maxVoters + 1)
	for len(c) < n {
		c[uint64(1+rng.Intn(2*maxVoters))] = struct{}{}
	}
	return c
}

func randomAcks(rng *rand.Rand, ids map[uint64]struct{}) mapAckIndexer {
	acked := mapAckIndexer{}
	for id := range ids {
		if rng.Intn(8) == 0 {
			continue // unknown voter
		}
		// A narrow range makes ties frequent.
		acked[id] = Index(rng.Intn(12))
	}
	return acked
}

func randomVotes(rng *rand.Rand, ids map[uint64]struct{}) map[uint64]bool {
	votes := map[uint64]bool{}
	for id := range ids {
		switch rng.Intn(3) {
		case 0:
			votes[id] = true
		case 1:
			votes[id] = false
		}
	}
	// A stray vote from a non-member must not matter.
	if rng.Intn(4) == 0 {
		votes[1000] = rng.Intn(2) == 0
	}
	return votes
}

func TestCommittedIndexMatchesReference(t *testing.T) {
	rng := rand.New(rand.NewSource(1))
	for i := 0; i < 5000; i++ {
		c := randomMajority(rng, 11)
		acked := randomAcks(rng, c)
		require.Equal(t, naiveCommitted(c, acked), c.CommittedIndex(acked),
			"iteration %d: config %s\n%s", i, c, c.Describe(acked))
	}
}

func TestJointCommittedIndexMatchesReference(t *testing.T) {
	rng := rand.New(rand.NewSource(2))
	for i := 0; i < 5000; i++ {
		c := JointConfig{randomMajority(rng, 9), randomMajority(rng, 9)}
		acked := randomAcks(rng, c.IDs())
		require.Equal(t, naiveJointCommitted(c, acked), c.CommittedIndex(acked),
			"iteration %d: config %s\n%s", i, c, c.Describe(acked))
	}
}

func TestVoteResultMatchesReference(t *testing.T) {
	rng := rand.New(rand.NewSource(3))
	for i := 0; i < 5000; i++ {
		c := randomMajority(rng, 9)
		votes := randomVotes(rng, c)
		require.Equal(t, naiveVoteResult(JointConfig{c}, votes), c.VoteResult(votes),
			"iteration %d: config %s votes %v", i, c, votes)
	}
}

func TestJointVoteResultMatchesReference(t *testing.T) {
	rng := rand.New(rand.NewSource(4))
	for i := 0; i < 5000; i++ {
		c := JointConfig{randomMajority(rng, 6), randomMajority(rng, 6)}
		votes := randomVotes(rng, c.IDs())
		require.Equal(t, naiveVoteResult(c, votes), c.VoteResult(votes),
			"iteration %d: config %s votes %v", i, c, votes)
	}
}

func TestCommittedIndexDoesNotAllocate(t *testing.T) {
	acked := mapAckIndexer{}
	for n := 1; n <= smallConfigVoters; n++ {
		c := MajorityConfig{}
		for id := uint64(1); id <= uint64(n); id++ {
			c[id] = struct{}{}
			acked[id] = Index(100 - id)
		}
		allocs := testing.AllocsPerRun(100, func() { _ = c.CommittedIndex(acked) })
		assert.Zero(t, allocs, "%d voters", n)
		joint := JointConfig{c, c}
		allocs = testing.AllocsPerRun(100, func() { _ = joint.CommittedIndex(acked) })
		assert.Zero(t, allocs, "joint of %d voters", n)
	}
}

func BenchmarkMajorityConfig_CommittedIndex(b *testing.B) {
	for _, n := range []int{1, 3, 5, 7, 9} {
		c := MajorityConfig{}
		acked := mapAckIndexer{}
		for id := uint64(1); id <= uint64(n); id++ {
			c[id] = struct{}{}
			acked[id] = Index(1000 + 7*id%uint64(n))
		}
		b.Run("voters="+strconv.Itoa(n), func(b *testing.B) {
			b.ReportAllocs()
			for i := 0; i < b.N; i++ {
				_ = c.CommittedIndex(acked)
			}
		})
	}
}
