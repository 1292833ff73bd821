package raftpb

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestConfStateEquivalent(t *testing.T) {
	tests := []struct {
		name   string
		cs     ConfState
		cs2    ConfState
		wantEq bool
	}{
		{name: "both empty", wantEq: true},
		{name: "nil and empty lists", cs: ConfState{Voters: []uint64{}}, cs2: ConfState{}, wantEq: true},
		{
			name:   "same order",
			cs:     ConfState{Voters: []uint64{1, 2, 3}, Learners: []uint64{4}},
			cs2:    ConfState{Voters: []uint64{1, 2, 3}, Learners: []uint64{4}},
			wantEq: true,
		},
		{
			name: "every list reordered",
			cs: ConfState{
				Voters: []uint64{3, 1, 2}, Learners: []uint64{5, 4},
				VotersOutgoing: []uint64{2, 1}, LearnersNext: []uint64{7, 6}, AutoLeave: true,
			},
			cs2: ConfState{
				Voters: []uint64{1, 2, 3}, Learners: []uint64{4, 5},
				VotersOutgoing: []uint64{1, 2}, LearnersNext: []uint64{6, 7}, AutoLeave: true,
			},
			wantEq: true,
		},
		{name: "voter missing", cs: ConfState{Voters: []uint64{1, 2}}, cs2: ConfState{Voters: []uint64{1}}},
		{name: "voter differs", cs: ConfState{Voters: []uint64{1, 2}}, cs2: ConfState{Voters: []uint64{1, 3}}},
		{name: "duplicate counts", cs: ConfState{Voters: []uint64{1, 1, 2}}, cs2: ConfState{Voters: []uint64{1, 2, 2}}},
		{name: "duplicate vs single", cs: ConfState{Voters: []uint64{1, 1}}, cs2: ConfState{Voters: []uint64{1}}},
		{name: "id in a different list", cs: ConfState{Voters: []uint64{1}}, cs2: ConfState{Learners: []uint64{1}}},
		{name: "learners differ", cs: ConfState{Learners: []uint64{4}}, cs2: ConfState{Learners: []uint64{5}}},
		{name: "voters_outgoing differ", cs: ConfState{VotersOutgoing: []uint64{1}}, cs2: ConfState{}},
		{name: "learners_next differ", cs: ConfState{}, cs2: ConfState{LearnersNext: []uint64{1}}},
		{name: "auto_leave differs", cs: ConfState{AutoLeave: true}, cs2: ConfState{}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			// Equivalent sorts copies: the inputs keep their order.
			before, before2 := cloneConfState(tc.cs), cloneConfState(tc.cs2)

			err := tc.cs.Equivalent(tc.cs2)
			err2 := tc.cs2.Equivalent(tc.cs)
			if tc.wantEq {
				assert.NoError(t, err)
				assert.NoError(t, err2)
			} else {
				require.Error(t, err)
				assert.Error(t, err2, "Equivalent must be symmetric")
			}
			assert.Equal(t, before, tc.cs)
			assert.Equal(t, before2, tc.cs2)
		})
	}
}

func TestConfStateEquivalentErrorShowsBothStates(t *testing.T) {
	cs := ConfState{Voters: []uint64{3, 1}, Learners: []uint64{9}}
	cs2 := ConfState{Voters: []uint64{1, 2}, AutoLeave: true}
	err := cs.Equivalent(cs2)
	require.Error(t, err)
	msg := err.Error()
	assert.Contains(t, msg, "voters=[1 3] learners=[9] voters_outgoing=[] learners_next=[] auto_leave=false")
	assert.Contains(t, msg, "voters=[1 2] learners=[] voters_outgoing=[] learners_next=[] auto_leave=true")
}

func cloneConfState(cs ConfState) ConfState {
	clone := func(ids []uint64) []uint64 {
		if ids == nil {
			return nil
		}
		return append([]uint64{}, ids...)
	}
	return ConfState{
		Voters: clone(cs.Voters), Learners: clone(cs.Learners),
		VotersOutgoing: clone(cs.VotersOutgoing), LearnersNext: clone(cs.LearnersNext),
		AutoLeave: cs.AutoLeave,
	}
}
