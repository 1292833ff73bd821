package tracker

import (
	"math"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/pontoon-raft/raft/quorum"
	pb "github.com/pontoon-raft/raft/raftpb"
)

func set(ids ...uint64) map[uint64]struct{} {
	s := map[uint64]struct{}{}
	for _, id := range ids {
		s[id] = struct{}{}
	}
	return s
}

// newTracker builds a tracker with the given membership and a Progress for
// every member; voters are in Voters[0] and, if outgoing is non-empty,
// Voters[1].
func newTracker(incoming, outgoing, learners, learnersNext []uint64) ProgressTracker {
	p := MakeProgressTracker(10, 0)
	for _, id := range incoming {
		p.Voters[0][id] = struct{}{}
	}
	if len(outgoing) > 0 {
		p.Voters[1] = quorum.MajorityConfig(set(outgoing...))
	}
	if len(learners) > 0 {
		p.Learners = set(learners...)
	}
	if len(learnersNext) > 0 {
		p.LearnersNext = set(learnersNext...)
	}
	for id := range p.Voters.IDs() {
		p.Progress[id] = &Progress{Next: 1, Inflights: NewInflights(10, 0)}
	}
	for _, id := range learners {
		p.Progress[id] = &Progress{Next: 1, IsLearner: true, Inflights: NewInflights(10, 0)}
	}
	return p
}

func TestMakeProgressTracker(t *testing.T) {
	p := MakeProgressTracker(7, 1024)
	assert.Equal(t, 7, p.MaxInflight)
	assert.Equal(t, uint64(1024), p.MaxInflightBytes)
	assert.NotNil(t, p.Voters[0])
	assert.Nil(t, p.Voters[1])
	assert.Nil(t, p.Learners)
	assert.Nil(t, p.LearnersNext)
	assert.NotNil(t, p.Progress)
	assert.NotNil(t, p.Votes)
	assert.Equal(t, pb.ConfState{}, p.ConfState())
	assert.Equal(t, "voters=()", p.Config.String())
	assert.Equal(t, uint64(math.MaxUint64), p.Committed(), "no voters: nothing holds the commit index back")
}

func TestConfigString(t *testing.T) {
	tests := []struct {
		cfg  Config
		want string
	}{
		{Config{}, "voters=()"},
		{Config{Voters: quorum.JointConfig{set(1, 2, 3)}}, "voters=(1 2 3)"},
		{Config{Voters: quorum.JointConfig{set(1, 2, 3)}, Learners: set()}, "voters=(1 2 3)"},
		{Config{Voters: quorum.JointConfig{set(1, 2, 3)}, Learners: set(5, 4)}, "voters=(1 2 3) learners=(4 5)"},
		{
			Config{
				Voters:       quorum.JointConfig{set(1, 2, 3), set(1, 2, 5)},
				AutoLeave:    true,
				Learners:     set(4),
				LearnersNext: set(5),
			},
			"voters=(1 2 3)&&(1 2 5) learners=(4) learners_next=(5) autoleave",
		},
	}
	for _, tt := range tests {
		assert.Equal(t, tt.want, tt.cfg.String())
	}
}

func TestConfigClone(t *testing.T) {
	orig := Config{
		Voters:       quorum.JointConfig{set(1, 2, 3), set(1, 2, 5)},
		AutoLeave:    true,
		Learners:     set(4),
		LearnersNext: set(5),
	}
	c := orig.Clone()
	require.Equal(t, orig, c)

	c.Voters[0][9] = struct{}{}
	c.Voters[1][9] = struct{}{}
	c.Learners[9] = struct{}{}
	c.LearnersNext[9] = struct{}{}
	assert.Equal(t, "voters=(1 2 3)&&(1 2 5) learners=(4) learners_next=(5) autoleave", orig.String())

	sparse := Config{Voters: quorum.JointConfig{quorum.MajorityConfig{}}}
	c = sparse.Clone()
	assert.NotNil(t, c.Voters[0], "empty non-nil stays non-nil")
	assert.Nil(t, c.Voters[1])
	assert.Nil(t, c.Learners)
	assert.Nil(t, c.LearnersNext)
	assert.Equal(t, sparse, c)
}

func TestConfStateAndNodeLists(t *testing.T) {
	tests := []struct {
		name     string
		p        ProgressTracker
		cs       pb.ConfState
		voters   []uint64
		learners []uint64
	}{
		{"empty", MakeProgressTracker(1, 0), pb.ConfState{}, nil, nil},
		{
			"simple",
			newTracker([]uint64{3, 1, 2}, nil, []uint64{5, 4}, nil),
			pb.ConfState{Voters: []uint64{1, 2, 3}, Learners: []uint64{4, 5}},
			[]uint64{1, 2, 3}, []uint64{4, 5},
		},
		{
			"joint",
			func() ProgressTracker {
				p := newTracker([]uint64{1, 2, 4}, []uint64{1, 2, 3}, []uint64{5}, []uint64{3})
				p.AutoLeave = true
				return p
			}(),
			pb.ConfState{
				Voters: []uint64{1, 2, 4}, VotersOutgoing: []uint64{1, 2, 3},
				Learners: []uint64{5}, LearnersNext: []uint64{3}, AutoLeave: true,
			},
			[]uint64{1, 2, 3, 4}, []uint64{5},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.cs, tt.p.ConfState())
			assert.Equal(t, tt.voters, tt.p.VoterNodes())
			assert.Equal(t, tt.learners, tt.p.LearnerNodes())
		})
	}
}

func TestIsSingleton(t *testing.T) {
	tests := []struct {
		name                         string
		incoming, outgoing, learners []uint64
		want                         bool
	}{
		{"no voters", nil, nil, nil, false},
		{"one voter", []uint64{1}, nil, nil, true},
		{"learners do not count", []uint64{1}, nil, []uint64{2}, true},
		{"two voters", []uint64{1, 2}, nil, nil, false},
		{"joint is never singleton", []uint64{1}, []uint64{1}, nil, false},
		{"joint with other outgoing", []uint64{1}, []uint64{2}, nil, false},
	}
	for _, tt := range tests {
		p := newTracker(tt.incoming, tt.outgoing, tt.learners, nil)
		assert.Equal(t, tt.want, p.IsSingleton(), tt.name)
	}
}

func TestCommitted(t *testing.T) {
	tests := []struct {
		name     string
		incoming []uint64
		outgoing []uint64
		learners []uint64
		match    map[uint64]uint64
		want     uint64
	}{
		{"single", []uint64{1}, nil, nil, map[uint64]uint64{1: 7}, 7},
		{"majority", []uint64{1, 2, 3}, nil, nil, map[uint64]uint64{1: 7, 2: 5, 3: 1}, 5},
		{"learners ignored", []uint64{1, 2, 3}, nil, []uint64{4, 5}, map[uint64]uint64{1: 7, 2: 5, 3: 1, 4: 9, 5: 9}, 5},
		{"joint, outgoing lags", []uint64{1, 2, 3}, []uint64{3, 4, 5}, nil,
			map[uint64]uint64{1: 9, 2: 9, 3: 9, 4: 2, 5: 1}, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := newTracker(tt.incoming, tt.outgoing, tt.learners, nil)
			for id, m := range tt.match {
				p.Progress[id].Match = m
			}
			assert.Equal(t, tt.want, p.Committed())
		})
	}

	// A voter without Progress counts as having nothing.
	p := newTracker([]uint64{1, 2, 3}, nil, nil, nil)
	p.Progress[1].Match, p.Progress[2].Match = 4, 4
	delete(p.Progress, 2)
	assert.Zero(t, p.Committed())
}

func TestVisitOrder(t *testing.T) {
	for _, n := range []int{0, 1, 5, visitOnStack, visitOnStack + 1, 100} {
		p := MakeProgressTracker(1, 0)
		// Insert in a scrambled order.
		for i := 0; i < n; i++ {
			id := uint64((i*37)%n + 1)
			p.Progress[id] = &Progress{Match: id}
		}
		var seen []uint64
		p.Visit(func(id uint64, pr *Progress) {
			assert.Equal(t, id, pr.Match)
			seen = append(seen, id)
		})
		require.Len(t, seen, n)
		for i, id := range seen {
			assert.Equal(t, uint64(i+1), id)
		}
	}

	p := newTracker([]uint64{1, 2}, nil, []uint64{3}, nil)
	p.Visit(func(_ uint64, pr *Progress) { pr.RecentActive = true })
	for id, pr := range p.Progress {
		assert.True(t, pr.RecentActive, "Visit hands out the tracked Progress of %d", id)
	}
}

func TestQuorumActive(t *testing.T) {
	tests := []struct {
		name     string
		incoming []uint64
		outgoing []uint64
		learners []uint64
		active   []uint64
		want     bool
	}{
		{"no voters", nil, nil, nil, nil, true},
		{"single active", []uint64{1}, nil, nil, []uint64{1}, true},
		{"single inactive", []uint64{1}, nil, nil, nil, false},
		{"majority active", []uint64{1, 2, 3}, nil, nil, []uint64{1, 3}, true},
		{"minority active", []uint64{1, 2, 3}, nil, nil, []uint64{1}, false},
		{"active learners do not help", []uint64{1, 2, 3}, nil, []uint64{4, 5}, []uint64{1, 4, 5}, false},
		{"joint needs both halves", []uint64{1, 2, 3}, []uint64{4, 5, 6}, nil, []uint64{1, 2, 4}, false},
		{"joint both halves active", []uint64{1, 2, 3}, []uint64{4, 5, 6}, nil, []uint64{1, 2, 4, 5}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := newTracker(tt.incoming, tt.outgoing, tt.learners, nil)
			for _, id := range tt.active {
				p.Progress[id].RecentActive = true
			}
			assert.Equal(t, tt.want, p.QuorumActive())
		})
	}
}

func TestVotes(t *testing.T) {
	p := newTracker([]uint64{1, 2, 3}, nil, []uint64{4}, nil)
	granted, rejected, res := p.TallyVotes()
	assert.Equal(t, []any{0, 0, quorum.VotePending}, []any{granted, rejected, res})

	p.RecordVote(1, true)
	p.RecordVote(1, false) // the first answer sticks
	p.RecordVote(4, true)  // a learner's vote is not counted
	p.RecordVote(9, true)  // nor is a stranger's
	granted, rejected, res = p.TallyVotes()
	assert.Equal(t, []any{1, 0, quorum.VotePending}, []any{granted, rejected, res})

	p.RecordVote(2, false)
	p.RecordVote(3, false)
	granted, rejected, res = p.TallyVotes()
	assert.Equal(t, []any{1, 2, quorum.VoteLost}, []any{granted, rejected, res})

	p.ResetVotes()
	assert.Empty(t, p.Votes)
	p.RecordVote(2, true)
	p.RecordVote(3, true)
	granted, rejected, res = p.TallyVotes()
	assert.Equal(t, []any{2, 0, quorum.VoteWon}, []any{granted, rejected, res})
}

func TestTallyVotesJoint(t *testing.T) {
	p := newTracker([]uint64{1, 2, 3}, []uint64{3, 4, 5}, nil, nil)
	for id, v := range map[uint64]bool{1: true, 2: true, 3: true, 4: false, 5: false} {
		p.RecordVote(id, v)
	}
	granted, rejected, res := p.TallyVotes()
	assert.Equal(t, 3, granted, "voter 3 sits in both halves but is counted once")
	assert.Equal(t, 2, rejected)
	assert.Equal(t, quorum.VoteLost, res, "the outgoing half rejected")

	p.ResetVotes()
	for _, id := range []uint64{2, 3, 4} {
		p.RecordVote(id, true)
	}
	granted, rejected, res = p.TallyVotes()
	assert.Equal(t, []any{3, 0, quorum.VoteWon}, []any{granted, rejected, res})
}

func fiveVoters() ProgressTracker {
	p := newTracker([]uint64{1, 2, 3, 4, 5}, nil, nil, nil)
	for id, pr := range p.Progress {
		pr.Match = 100 + id
	}
	return p
}

func TestCommittedAndVisitDoNotAllocate(t *testing.T) {
	p := fiveVoters()
	assert.Zero(t, testing.AllocsPerRun(100, func() { _ = p.Committed() }))
	var sum uint64
	assert.Zero(t, testing.AllocsPerRun(100, func() {
		p.Visit(func(_ uint64, pr *Progress) { sum += pr.Match })
	}))
	assert.NotZero(t, sum)

	big := MakeProgressTracker(1, 0)
	for id := uint64(1); id <= visitOnStack; id++ {
		big.Progress[id] = &Progress{}
	}
	assert.Zero(t, testing.AllocsPerRun(100, func() { big.Visit(func(uint64, *Progress) {}) }))
}

func BenchmarkProgressTracker_Committed(b *testing.B) {
	p := fiveVoters()
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		_ = p.Committed()
	}
}

func BenchmarkProgressTracker_Visit(b *testing.B) {
	p := fiveVoters()
	var sum uint64
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		p.Visit(func(_ uint64, pr *Progress) { sum += pr.Match })
	}
	_ = sum
}
