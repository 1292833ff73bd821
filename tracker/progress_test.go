package tracker

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestStateTypeString(t *testing.T) {
	assert.Equal(t, "StateProbe", StateProbe.String())
	assert.Equal(t, "StateReplicate", StateReplicate.String())
	assert.Equal(t, "StateSnapshot", StateSnapshot.String())
	assert.Equal(t, "StateType(7)", StateType(7).String())
}

// withInflights returns pr with a fresh window of 256 appends.
func withInflights(pr Progress) *Progress {
	pr.Inflights = NewInflights(256, 0)
	return &pr
}

func TestProgressResetState(t *testing.T) {
	for _, to := range []StateType{StateProbe, StateReplicate, StateSnapshot} {
		pr := withInflights(Progress{State: StateSnapshot, Match: 3, Next: 9, PendingSnapshot: 8,
			MsgAppFlowPaused: true, RecentActive: true, sentCommit: 4})
		pr.Inflights.Add(5, 1)
		pr.ResetState(to)
		assert.Equal(t, to, pr.State)
		assert.False(t, pr.MsgAppFlowPaused)
		assert.Zero(t, pr.PendingSnapshot)
		assert.Zero(t, pr.Inflights.Count())
		// Untouched:
		assert.Equal(t, uint64(3), pr.Match)
		assert.Equal(t, uint64(9), pr.Next)
		assert.Equal(t, uint64(4), pr.sentCommit)
		assert.True(t, pr.RecentActive)
	}
}

func TestProgressBecomeProbe(t *testing.T) {
	tests := []struct {
		name       string
		pr         Progress
		wantNext   uint64
		wantCommit uint64
	}{
		{"from replicate", Progress{State: StateReplicate, Match: 1, Next: 5, sentCommit: 3}, 2, 1},
		{"from probe", Progress{State: StateProbe, Match: 1, Next: 5, MsgAppFlowPaused: true, sentCommit: 1}, 2, 1},
		{"from snapshot behind match", Progress{State: StateSnapshot, Match: 1, Next: 11, PendingSnapshot: 10, sentCommit: 10}, 11, 10},
		{"from snapshot, match beyond snapshot", Progress{State: StateSnapshot, Match: 15, Next: 16, PendingSnapshot: 10, sentCommit: 10}, 16, 10},
		{"from snapshot, nothing acked", Progress{State: StateSnapshot, Match: 0, Next: 6, PendingSnapshot: 5, sentCommit: 5}, 6, 5},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pr := withInflights(tt.pr)
			pr.BecomeProbe()
			assert.Equal(t, StateProbe, pr.State)
			assert.Equal(t, tt.pr.Match, pr.Match)
			assert.Equal(t, tt.wantNext, pr.Next)
			assert.Equal(t, tt.wantCommit, pr.sentCommit)
			assert.Zero(t, pr.PendingSnapshot)
			assert.False(t, pr.MsgAppFlowPaused)
		})
	}
}

func TestProgressBecomeReplicate(t *testing.T) {
	pr := withInflights(Progress{State: StateProbe, Match: 1, Next: 5, MsgAppFlowPaused: true, sentCommit: 1})
	pr.BecomeReplicate()
	assert.Equal(t, StateReplicate, pr.State)
	assert.Equal(t, uint64(1), pr.Match)
	assert.Equal(t, uint64(2), pr.Next)
	assert.False(t, pr.MsgAppFlowPaused)
	assert.Equal(t, uint64(1), pr.sentCommit)
}

func TestProgressBecomeSnapshot(t *testing.T) {
	pr := withInflights(Progress{State: StateReplicate, Match: 1, Next: 5, sentCommit: 2})
	pr.Inflights.Add(4, 10)
	pr.BecomeSnapshot(10)
	assert.Equal(t, StateSnapshot, pr.State)
	assert.Equal(t, uint64(1), pr.Match)
	assert.Equal(t, uint64(11), pr.Next)
	assert.Equal(t, uint64(10), pr.PendingSnapshot)
	assert.Equal(t, uint64(10), pr.sentCommit)
	assert.Zero(t, pr.Inflights.Count())
	assert.True(t, pr.IsPaused())
}

func TestProgressSentEntries(t *testing.T) {
	tests := []struct {
		name          string
		pr            Progress
		size          int
		entries       int
		bytes         uint64
		wantNext      uint64
		wantPaused    bool
		wantInflights int
	}{
		{"replicate advances next", Progress{State: StateReplicate, Match: 4, Next: 5}, 10, 3, 30, 8, false, 1},
		{"replicate empty append", Progress{State: StateReplicate, Match: 4, Next: 5}, 10, 0, 0, 5, false, 0},
		{"replicate fills window", Progress{State: StateReplicate, Match: 4, Next: 5}, 1, 2, 20, 7, true, 1},
		{"probe pauses", Progress{State: StateProbe, Match: 4, Next: 5}, 10, 1, 10, 5, true, 0},
		{"probe empty append does not pause", Progress{State: StateProbe, Match: 4, Next: 5}, 10, 0, 0, 5, false, 0},
		{"probe keeps an existing pause", Progress{State: StateProbe, Match: 4, Next: 5, MsgAppFlowPaused: true}, 10, 0, 0, 5, true, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pr := tt.pr
			pr.Inflights = NewInflights(tt.size, 0)
			pr.SentEntries(tt.entries, tt.bytes)
			assert.Equal(t, tt.wantNext, pr.Next)
			assert.Equal(t, tt.wantPaused, pr.MsgAppFlowPaused)
			assert.Equal(t, tt.wantPaused, pr.IsPaused())
			assert.Equal(t, tt.wantInflights, pr.Inflights.Count())
			if tt.wantInflights > 0 {
				assert.Equal(t, []inflight{{index: tt.wantNext - 1, bytes: tt.bytes}}, pr.Inflights.contents())
			}
		})
	}

	pr := withInflights(Progress{State: StateSnapshot, Next: 5, PendingSnapshot: 4})
	assert.Panics(t, func() { pr.SentEntries(1, 1) })
}

func TestProgressSentEntriesByteBound(t *testing.T) {
	pr := &Progress{State: StateReplicate, Next: 1, Inflights: NewInflights(100, 50)}
	pr.SentEntries(1, 30)
	assert.False(t, pr.IsPaused())
	pr.SentEntries(1, 30)
	assert.True(t, pr.IsPaused(), "60 bytes in flight reach the 50-byte budget")
	assert.True(t, pr.MaybeUpdate(1))
	pr.Inflights.FreeLE(1)
	pr.SentEntries(0, 0) // an empty append re-evaluates the window
	assert.False(t, pr.IsPaused())
}

func TestProgressCommitTracking(t *testing.T) {
	tests := []struct {
		name       string
		next       uint64
		sentCommit uint64
		index      uint64
		want       bool
	}{
		{"new commit below next", 10, 3, 5, true},
		{"already told", 10, 5, 5, false},
		{"older commit", 10, 5, 4, false},
		{"peer told everything it may have", 10, 9, 12, false},
		{"peer told beyond next-1", 10, 12, 15, false},
		{"fresh peer", 1, 0, 1, false},
		{"fresh peer with one entry", 2, 0, 1, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pr := &Progress{Next: tt.next, sentCommit: tt.sentCommit}
			assert.Equal(t, tt.want, pr.CanBumpCommit(tt.index))
		})
	}

	pr := &Progress{Next: 10}
	pr.SentCommit(7)
	assert.Equal(t, uint64(7), pr.sentCommit)
	assert.False(t, pr.CanBumpCommit(7))
	assert.True(t, pr.CanBumpCommit(8))
}

func TestProgressMaybeUpdate(t *testing.T) {
	tests := []struct {
		name        string
		match, next uint64
		paused      bool
		n           uint64
		wantUpdated bool
		wantMatch   uint64
		wantNext    uint64
		wantPaused  bool
	}{
		{"stale", 5, 10, true, 3, false, 5, 10, true},
		{"duplicate", 5, 10, true, 5, false, 5, 10, true},
		{"advances match below next", 5, 10, true, 7, true, 7, 10, false},
		{"advances match to next-1", 5, 10, true, 9, true, 9, 10, false},
		{"advances match and next", 5, 10, true, 12, true, 12, 13, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pr := withInflights(Progress{State: StateProbe, Match: tt.match, Next: tt.next, MsgAppFlowPaused: tt.paused})
			assert.Equal(t, tt.wantUpdated, pr.MaybeUpdate(tt.n))
			assert.Equal(t, tt.wantMatch, pr.Match)
			assert.Equal(t, tt.wantNext, pr.Next)
			assert.Equal(t, tt.wantPaused, pr.MsgAppFlowPaused)
		})
	}
}

func TestProgressMaybeDecrTo(t *testing.T) {
	tests := []struct {
		name        string
		pr          Progress
		rejected    uint64
		matchHint   uint64
		want        bool
		wantNext    uint64
		wantCommit  uint64
		wantPaused  bool
		wantUnmoved bool
	}{
		{
			name:     "replicate: rejection at or below match is stale",
			pr:       Progress{State: StateReplicate, Match: 5, Next: 10, sentCommit: 5},
			rejected: 5, matchHint: 5,
			want: false, wantNext: 10, wantCommit: 5,
		},
		{
			name:     "replicate: falls back to match+1",
			pr:       Progress{State: StateReplicate, Match: 5, Next: 10, sentCommit: 8},
			rejected: 9, matchHint: 9,
			want: true, wantNext: 6, wantCommit: 5,
		},
		{
			name:     "replicate: hint is not used",
			pr:       Progress{State: StateReplicate, Match: 5, Next: 10, sentCommit: 3},
			rejected: 7, matchHint: 2,
			want: true, wantNext: 6, wantCommit: 3,
		},
		{
			name:     "replicate: pause flag is left alone",
			pr:       Progress{State: StateReplicate, Match: 5, Next: 10, MsgAppFlowPaused: true},
			rejected: 7, matchHint: 6,
			want: true, wantNext: 6, wantPaused: true,
		},
		{
			name:     "probe: rejection of an older probe is stale",
			pr:       Progress{State: StateProbe, Match: 0, Next: 10, MsgAppFlowPaused: true},
			rejected: 5, matchHint: 5,
			want: false, wantNext: 10, wantPaused: true,
		},
		{
			name:     "probe: rejection above the probe is stale",
			pr:       Progress{State: StateProbe, Match: 0, Next: 10, MsgAppFlowPaused: true},
			rejected: 10, matchHint: 5,
			want: false, wantNext: 10, wantPaused: true,
		},
		{
			name:     "probe: follows the hint and resumes",
			pr:       Progress{State: StateProbe, Match: 0, Next: 10, MsgAppFlowPaused: true, sentCommit: 9},
			rejected: 9, matchHint: 4,
			want: true, wantNext: 5, wantCommit: 4,
		},
		{
			name:     "probe: hint above rejected is capped",
			pr:       Progress{State: StateProbe, Match: 0, Next: 10, MsgAppFlowPaused: true},
			rejected: 9, matchHint: 20,
			want: true, wantNext: 9,
		},
		{
			name:     "probe: never at or below match",
			pr:       Progress{State: StateProbe, Match: 3, Next: 10},
			rejected: 9, matchHint: 1,
			want: true, wantNext: 4,
		},
		{
			name:     "probe: hint zero",
			pr:       Progress{State: StateProbe, Match: 0, Next: 2, sentCommit: 1},
			rejected: 1, matchHint: 0,
			want: true, wantNext: 1, wantCommit: 0,
		},
		{
			name:     "snapshot: only a rejection of next-1 counts",
			pr:       Progress{State: StateSnapshot, Match: 0, Next: 11, PendingSnapshot: 10, sentCommit: 10},
			rejected: 10, matchHint: 3,
			want: true, wantNext: 4, wantCommit: 3,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pr := withInflights(tt.pr)
			assert.Equal(t, tt.want, pr.MaybeDecrTo(tt.rejected, tt.matchHint))
			assert.Equal(t, tt.wantNext, pr.Next)
			assert.Equal(t, tt.wantCommit, pr.sentCommit)
			assert.Equal(t, tt.wantPaused, pr.MsgAppFlowPaused)
			assert.Equal(t, tt.pr.Match, pr.Match, "Match never changes")
			assert.Equal(t, tt.pr.State, pr.State, "the caller changes state")
		})
	}
}

func TestProgressIsPaused(t *testing.T) {
	tests := []struct {
		state  StateType
		paused bool
		want   bool
	}{
		{StateProbe, false, false},
		{StateProbe, true, true},
		{StateReplicate, false, false},
		{StateReplicate, true, true},
		{StateSnapshot, false, true},
		{StateSnapshot, true, true},
	}
	for _, tt := range tests {
		pr := &Progress{State: tt.state, MsgAppFlowPaused: tt.paused}
		assert.Equal(t, tt.want, pr.IsPaused(), "%s paused=%v", tt.state, tt.paused)
	}
}

// TestProgressReplicationCycle walks a peer through the usual life: probe,
// replicate with a full window, a rejection, a snapshot, and back.
func TestProgressReplicationCycle(t *testing.T) {
	pr := &Progress{Next: 11, RecentActive: true, Inflights: NewInflights(2, 0)}
	pr.BecomeProbe()
	assert.Equal(t, uint64(1), pr.Next)
	pr.Next = 11 // a fresh leader probes at its last index

	pr.SentEntries(1, 10)
	assert.True(t, pr.IsPaused())
	assert.True(t, pr.MaybeDecrTo(10, 6))
	assert.Equal(t, uint64(7), pr.Next)
	assert.False(t, pr.IsPaused())

	assert.True(t, pr.MaybeUpdate(6))
	pr.BecomeReplicate()
	assert.Equal(t, uint64(7), pr.Next)
	pr.SentEntries(2, 20)
	pr.SentEntries(2, 20)
	assert.True(t, pr.IsPaused(), "window of 2 appends is full")
	assert.Equal(t, uint64(11), pr.Next)

	assert.True(t, pr.MaybeUpdate(8))
	pr.Inflights.FreeLE(8)
	assert.False(t, pr.IsPaused())
	assert.Equal(t, 1, pr.Inflights.Count())

	pr.BecomeSnapshot(20)
	assert.True(t, pr.IsPaused())
	assert.True(t, pr.MaybeUpdate(20))
	pr.BecomeProbe()
	assert.Equal(t, uint64(21), pr.Next)
	pr.BecomeReplicate()
	assert.Equal(t, uint64(21), pr.Next)
}

func TestProgressString(t *testing.T) {
	full := NewInflights(2, 0)
	full.Add(5, 1)
	full.Add(6, 1)
	partial := NewInflights(4, 0)
	partial.Add(5, 1)

	tests := []struct {
		pr   Progress
		want string
	}{
		{Progress{State: StateProbe, Match: 0, Next: 1, RecentActive: true}, "StateProbe match=0 next=1"},
		{Progress{State: StateProbe, Match: 0, Next: 1}, "StateProbe match=0 next=1 inactive"},
		{Progress{State: StateReplicate, Match: 5, Next: 7, RecentActive: true, IsLearner: true, Inflights: partial},
			"StateReplicate match=5 next=7 learner inflight=1"},
		{Progress{State: StateReplicate, Match: 5, Next: 6, IsLearner: true, MsgAppFlowPaused: true,
			PendingSnapshot: 3, Inflights: full},
			"StateReplicate match=5 next=6 learner paused pendingSnap=3 inactive inflight=2[full]"},
		{Progress{State: StateSnapshot, Match: 2, Next: 11, PendingSnapshot: 10, RecentActive: true},
			"StateSnapshot match=2 next=11 paused pendingSnap=10"},
	}
	for _, tt := range tests {
		assert.Equal(t, tt.want, tt.pr.String())
	}
}

func TestProgressMapString(t *testing.T) {
	m := ProgressMap{
		3: {State: StateProbe, Match: 0, Next: 1, RecentActive: true},
		1: {State: StateReplicate, Match: 5, Next: 6, RecentActive: true},
		2: {State: StateSnapshot, Match: 0, Next: 4, PendingSnapshot: 3, RecentActive: true, IsLearner: true},
	}
	assert.Equal(t,
		"1: StateReplicate match=5 next=6\n"+
			"2: StateSnapshot match=0 next=4 learner paused pendingSnap=3\n"+
			"3: StateProbe match=0 next=1\n",
		m.String())
	assert.Equal(t, "", ProgressMap{}.String())
}
