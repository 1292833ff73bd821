package confchange

import (
	"fmt"
	"math/rand"
	"slices"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	pb "github.com/pontoon-raft/raft/raftpb"
	"github.com/pontoon-raft/raft/tracker"
)

// equivalentConfStates reports how a and b differ, ignoring the order of
// each list and treating nil and empty lists alike; "" if they do not.
func equivalentConfStates(a, b pb.ConfState) string {
	sorted := func(ids []uint64) []uint64 {
		out := slices.Clone(ids)
		slices.Sort(out)
		return out
	}
	var diffs []string
	for _, f := range []struct {
		name string
		a, b []uint64
	}{
		{"Voters", a.Voters, b.Voters},
		{"VotersOutgoing", a.VotersOutgoing, b.VotersOutgoing},
		{"Learners", a.Learners, b.Learners},
		{"LearnersNext", a.LearnersNext, b.LearnersNext},
	} {
		if sa, sb := sorted(f.a), sorted(f.b); !slices.Equal(sa, sb) {
			diffs = append(diffs, fmt.Sprintf("%s %v != %v", f.name, sa, sb))
		}
	}
	if a.AutoLeave != b.AutoLeave {
		diffs = append(diffs, fmt.Sprintf("AutoLeave %t != %t", a.AutoLeave, b.AutoLeave))
	}
	return fmt.Sprint(diffs)[1 : len(fmt.Sprint(diffs))-1]
}

func TestEquivalentConfStatesHelper(t *testing.T) {
	assert.Empty(t, equivalentConfStates(pb.ConfState{Voters: []uint64{2, 1}}, pb.ConfState{Voters: []uint64{1, 2}, Learners: []uint64{}}))
	assert.NotEmpty(t, equivalentConfStates(pb.ConfState{Voters: []uint64{1}}, pb.ConfState{Voters: []uint64{1, 2}}))
	assert.NotEmpty(t, equivalentConfStates(pb.ConfState{AutoLeave: true}, pb.ConfState{}))
	assert.NotEmpty(t, equivalentConfStates(pb.ConfState{LearnersNext: []uint64{3}}, pb.ConfState{Learners: []uint64{3}}))
}

// restored runs Restore and returns the result as a tracker.
func restored(t *testing.T, cs pb.ConfState) tracker.ProgressTracker {
	t.Helper()
	chg := Changer{Tracker: tracker.MakeProgressTracker(20, 0), LastIndex: 10}
	cfg, prs, err := Restore(chg, cs)
	require.NoError(t, err, "%+v", cs)
	trk := tracker.MakeProgressTracker(20, 0)
	trk.Config, trk.Progress = cfg, prs
	return trk
}

func TestRestore(t *testing.T) {
	tests := []struct {
		name    string
		cs      pb.ConfState
		config  string
		members string
	}{
		{"empty", pb.ConfState{}, "voters=()", ""},
		{"single voter", pb.ConfState{Voters: []uint64{1}}, "voters=(1)", "1"},
		{"voters and learners", pb.ConfState{Voters: []uint64{3, 1, 2}, Learners: []uint64{5, 4}},
			"voters=(1 2 3) learners=(4 5)", "1 2 3 l4 l5"},
		{"joint, disjoint halves", pb.ConfState{Voters: []uint64{4, 5, 6}, VotersOutgoing: []uint64{1, 2, 3}},
			"voters=(4 5 6)&&(1 2 3)", "1 2 3 4 5 6"},
		{"joint, everything", pb.ConfState{
			Voters: []uint64{1, 2, 4}, VotersOutgoing: []uint64{1, 2, 3, 6},
			Learners: []uint64{5}, LearnersNext: []uint64{3}, AutoLeave: true,
		}, "voters=(1 2 4)&&(1 2 3 6) learners=(5) learners_next=(3) autoleave", "1 2 3 4 l5 6"},
		{"joint, identical halves", pb.ConfState{Voters: []uint64{1, 2}, VotersOutgoing: []uint64{2, 1}},
			"voters=(1 2)&&(1 2)", "1 2"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			trk := restored(t, tt.cs)
			assert.Equal(t, tt.config, trk.Config.String())
			assert.Equal(t, tt.members, members(trk.Progress))
			assert.Empty(t, equivalentConfStates(tt.cs, trk.ConfState()))
			for id, pr := range trk.Progress {
				assert.Equal(t, uint64(10), pr.Next, "node %d", id)
				assert.True(t, pr.RecentActive, "node %d", id)
			}
		})
	}
}

func TestRestoreCollapsesDuplicates(t *testing.T) {
	trk := restored(t, pb.ConfState{
		Voters: []uint64{1, 1, 2}, VotersOutgoing: []uint64{3, 3}, Learners: []uint64{4, 4}, LearnersNext: []uint64{3, 3},
	})
	assert.Equal(t, pb.ConfState{
		Voters: []uint64{1, 2}, VotersOutgoing: []uint64{3}, Learners: []uint64{4}, LearnersNext: []uint64{3},
	}, trk.ConfState())
}

func TestRestoreErrors(t *testing.T) {
	tests := []struct {
		name string
		cs   pb.ConfState
		want string
	}{
		{"learners without voters", pb.ConfState{Learners: []uint64{1}}, "removed all voters"},
		{"joint without incoming voters", pb.ConfState{VotersOutgoing: []uint64{1}}, "removed all voters"},
		{"learners next without joint", pb.ConfState{Voters: []uint64{1}, LearnersNext: []uint64{2}},
			"node 2 is in LearnersNext but is not an outgoing voter"},
		{"learners next that is an incoming voter", pb.ConfState{Voters: []uint64{1}, VotersOutgoing: []uint64{1}, LearnersNext: []uint64{1}},
			"node 1 is in LearnersNext and is an incoming voter"},
		{"auto leave without joint", pb.ConfState{Voters: []uint64{1}, AutoLeave: true}, "AutoLeave is set"},
		{"learner that is also a voter", pb.ConfState{Voters: []uint64{1, 2}, Learners: []uint64{2}},
			"node 2 is listed both as a learner and as a voter"},
		{"learner that is also an outgoing voter", pb.ConfState{Voters: []uint64{1}, VotersOutgoing: []uint64{1, 2}, Learners: []uint64{2}},
			"node 2 is listed both as a learner and as a voter"},
		{"node zero", pb.ConfState{Voters: []uint64{1, 0}}, "node ID 0"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, prs, err := Restore(Changer{Tracker: tracker.MakeProgressTracker(20, 0), LastIndex: 10}, tt.cs)
			require.Error(t, err)
			assert.Contains(t, err.Error(), "confchange: restoring ConfState(")
			assert.Contains(t, err.Error(), tt.want)
			assert.Equal(t, tracker.Config{}, cfg)
			assert.Nil(t, prs)
		})
	}
}

// TestRestoreStartsFromScratch checks that members of the Changer's tracker
// do not leak into the restored configuration, and that the tracker is not
// modified.
func TestRestoreStartsFromScratch(t *testing.T) {
	chg := Changer{Tracker: tracker.MakeProgressTracker(20, 0), LastIndex: 10}
	cfg, prs, err := chg.Simple(ccs(t, "v7 l8")...)
	require.NoError(t, err)
	chg.Tracker.Config, chg.Tracker.Progress = cfg, prs

	cfg, prs, err = Restore(chg, pb.ConfState{Voters: []uint64{1}})
	require.NoError(t, err)
	assert.Equal(t, "voters=(1)", cfg.String())
	assert.Equal(t, "1", members(prs))
	assert.Equal(t, "voters=(7) learners=(8)", chg.Tracker.Config.String())
}

// randomConfState draws a valid ConfState: learners never vote, LearnersNext
// holds only outgoing voters that are not incoming voters, and the joint
// fields are set only for joint configurations. Lists come in random order.
func randomConfState(rng *rand.Rand) pb.ConfState {
	if rng.Intn(20) == 0 {
		return pb.ConfState{}
	}
	const maxID = 12
	pick := func(n int, from []uint64) []uint64 {
		from = slices.Clone(from)
		rng.Shuffle(len(from), func(i, j int) { from[i], from[j] = from[j], from[i] })
		return from[:min(n, len(from))]
	}
	all := make([]uint64, maxID)
	for i := range all {
		all[i] = uint64(i + 1)
	}

	var cs pb.ConfState
	cs.Voters = pick(1+rng.Intn(5), all)
	if rng.Intn(2) == 0 {
		cs.VotersOutgoing = pick(1+rng.Intn(5), all)
		var demotable []uint64
		for _, id := range cs.VotersOutgoing {
			if !slices.Contains(cs.Voters, id) {
				demotable = append(demotable, id)
			}
		}
		cs.LearnersNext = pick(rng.Intn(len(demotable)+1), demotable)
		cs.AutoLeave = rng.Intn(2) == 0
	}
	var free []uint64
	for _, id := range all {
		if !slices.Contains(cs.Voters, id) && !slices.Contains(cs.VotersOutgoing, id) {
			free = append(free, id)
		}
	}
	cs.Learners = pick(rng.Intn(4), free)
	return cs
}

func TestRestoreRoundTrip(t *testing.T) {
	rng := rand.New(rand.NewSource(42))
	joint := 0
	for i := 0; i < 2000; i++ {
		cs := randomConfState(rng)
		if len(cs.VotersOutgoing) > 0 {
			joint++
		}
		trk := restored(t, cs)
		require.Empty(t, equivalentConfStates(cs, trk.ConfState()), "iteration %d: %+v", i, cs)
		require.NoError(t, validate(trk.Config, trk.Progress), "iteration %d", i)

		// A restored configuration can be left (if joint) and changed further.
		chg := Changer{Tracker: trk, LastIndex: 10}
		if len(cs.VotersOutgoing) > 0 {
			_, _, err := chg.LeaveJoint()
			require.NoError(t, err, "iteration %d", i)
		} else if len(cs.Voters) > 0 {
			_, _, err := chg.EnterJoint(false, ccs(t, "v99")...)
			require.NoError(t, err, "iteration %d", i)
		}
	}
	assert.Greater(t, joint, 500, "the generator covers joint configurations")
}
