package confchange

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	pb "github.com/pontoon-raft/raft/raftpb"
	"github.com/pontoon-raft/raft/tracker"
)

// ccs parses the token form used by Describe ("v1 l2 r3 u4").
func ccs(t testing.TB, s string) []pb.ConfChangeSingle {
	t.Helper()
	var out []pb.ConfChangeSingle
	for _, tok := range strings.Fields(s) {
		types := map[byte]pb.ConfChangeType{
			'v': pb.ConfChangeAddNode,
			'l': pb.ConfChangeAddLearnerNode,
			'r': pb.ConfChangeRemoveNode,
			'u': pb.ConfChangeUpdateNode,
		}
		typ, ok := types[tok[0]]
		require.True(t, ok, "bad token %q", tok)
		id, err := strconv.ParseUint(tok[1:], 10, 64)
		require.NoError(t, err, "bad token %q", tok)
		out = append(out, pb.ConfChangeSingle{Type: typ, NodeID: id})
	}
	return out
}

// members renders a ProgressMap as sorted IDs, learners prefixed by "l":
// "1 2 l3".
func members(prs tracker.ProgressMap) string {
	ids := make([]uint64, 0, len(prs))
	for id := range prs {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	parts := make([]string, len(ids))
	for i, id := range ids {
		parts[i] = strconv.FormatUint(id, 10)
		if prs[id].IsLearner {
			parts[i] = "l" + parts[i]
		}
	}
	return strings.Join(parts, " ")
}

// step is one operation of a scenario and what it must produce.
type step struct {
	op      string // "simple", "enter", "enter-auto" or "leave"
	changes string // tokens, see ccs
	config  string // expected Config.String(), if no error
	members string // expected members(), if no error
	err     error  // expected error
}

// run applies steps in order, each on top of the result of the previous
// successful one, starting from an empty tracker.
func run(t *testing.T, steps []step) {
	t.Helper()
	c := Changer{Tracker: tracker.MakeProgressTracker(10, 0), LastIndex: 10}
	for i, s := range steps {
		var cfg tracker.Config
		var prs tracker.ProgressMap
		var err error
		switch s.op {
		case "simple":
			cfg, prs, err = c.Simple(ccs(t, s.changes)...)
		case "enter":
			cfg, prs, err = c.EnterJoint(false, ccs(t, s.changes)...)
		case "enter-auto":
			cfg, prs, err = c.EnterJoint(true, ccs(t, s.changes)...)
		case "leave":
			require.Empty(t, s.changes)
			cfg, prs, err = c.LeaveJoint()
		default:
			t.Fatalf("step %d: unknown op %q", i, s.op)
		}
		desc := fmt.Sprintf("step %d: %s %s on %s", i, s.op, s.changes, c.Tracker.Config)
		if s.err != nil {
			require.ErrorIs(t, err, s.err, desc)
			assert.Equal(t, tracker.Config{}, cfg, desc)
			assert.Nil(t, prs, desc)
			continue
		}
		require.NoError(t, err, desc)
		assert.Equal(t, s.config, cfg.String(), desc)
		assert.Equal(t, s.members, members(prs), desc)
		c.Tracker.Config, c.Tracker.Progress = cfg, prs
	}
}

func TestSimple(t *testing.T) {
	tests := []struct {
		name  string
		steps []step
	}{
		{"add voters one by one", []step{
			{op: "simple", changes: "v1", config: "voters=(1)", members: "1"},
			{op: "simple", changes: "v2", config: "voters=(1 2)", members: "1 2"},
			{op: "simple", changes: "v2", config: "voters=(1 2)", members: "1 2"},
			{op: "simple", changes: "v3", config: "voters=(1 2 3)", members: "1 2 3"},
		}},
		{"two voters at once is refused", []step{
			{op: "simple", changes: "v1", config: "voters=(1)", members: "1"},
			{op: "simple", changes: "v2 v3", err: errManyVoterChanges},
			{op: "simple", changes: "v2 r1", err: errManyVoterChanges},
		}},
		{"adding then removing the same voter is one change of nothing", []step{
			{op: "simple", changes: "v1", config: "voters=(1)", members: "1"},
			{op: "simple", changes: "v2 r2 v3", config: "voters=(1 3)", members: "1 3"},
		}},
		{"learners are unlimited", []step{
			{op: "simple", changes: "v1", config: "voters=(1)", members: "1"},
			{op: "simple", changes: "l2 l3 l4 v5", config: "voters=(1 5) learners=(2 3 4)", members: "1 l2 l3 l4 5"},
		}},
		{"promote a learner", []step{
			{op: "simple", changes: "v1 l2", config: "voters=(1) learners=(2)", members: "1 l2"},
			{op: "simple", changes: "v2", config: "voters=(1 2)", members: "1 2"},
		}},
		{"demote a voter outside joint goes straight to learners", []step{
			{op: "simple", changes: "v1", config: "voters=(1)", members: "1"},
			{op: "simple", changes: "v2", config: "voters=(1 2)", members: "1 2"},
			{op: "simple", changes: "l2", config: "voters=(1) learners=(2)", members: "1 l2"},
			{op: "simple", changes: "l2", config: "voters=(1) learners=(2)", members: "1 l2"},
		}},
		{"remove", []step{
			{op: "simple", changes: "v1", config: "voters=(1)", members: "1"},
			{op: "simple", changes: "v2 l3", config: "voters=(1 2) learners=(3)", members: "1 2 l3"},
			{op: "simple", changes: "r3", config: "voters=(1 2)", members: "1 2"},
			{op: "simple", changes: "r2", config: "voters=(1)", members: "1"},
			{op: "simple", changes: "r9", config: "voters=(1)", members: "1"},
		}},
		{"removing the last voter is refused", []step{
			{op: "simple", changes: "v1 l2", config: "voters=(1) learners=(2)", members: "1 l2"},
			{op: "simple", changes: "r1", err: errRemovedAllVoters},
			{op: "simple", changes: "l1", err: errRemovedAllVoters},
		}},
		{"learners without voters are refused", []step{
			{op: "simple", changes: "l1", err: errRemovedAllVoters},
			{op: "simple", changes: "u1", err: errRemovedAllVoters},
		}},
		{"update and node 0 change nothing", []step{
			{op: "simple", changes: "v1", config: "voters=(1)", members: "1"},
			{op: "simple", changes: "u1 u7 v0 l0 r0 r1 v1", config: "voters=(1)", members: "1"},
		}},
		{"simple in joint is refused", []step{
			{op: "simple", changes: "v1", config: "voters=(1)", members: "1"},
			{op: "enter", changes: "v2", config: "voters=(1 2)&&(1)", members: "1 2"},
			{op: "simple", changes: "l3", err: errSimpleInJoint},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { run(t, tt.steps) })
	}
}

func TestJoint(t *testing.T) {
	tests := []struct {
		name  string
		steps []step
	}{
		{"replace all voters", []step{
			{op: "simple", changes: "v1", config: "voters=(1)", members: "1"},
			{op: "simple", changes: "v2", config: "voters=(1 2)", members: "1 2"},
			{op: "simple", changes: "v3", config: "voters=(1 2 3)", members: "1 2 3"},
			{op: "enter-auto", changes: "r1 r2 r3 v4 v5 v6",
				config: "voters=(4 5 6)&&(1 2 3) autoleave", members: "1 2 3 4 5 6"},
			{op: "leave", config: "voters=(4 5 6)", members: "4 5 6"},
		}},
		{"enter without changes", []step{
			{op: "simple", changes: "v1", config: "voters=(1)", members: "1"},
			{op: "enter", config: "voters=(1)&&(1)", members: "1"},
			{op: "leave", config: "voters=(1)", members: "1"},
		}},
		{"entering twice is refused", []step{
			{op: "simple", changes: "v1", config: "voters=(1)", members: "1"},
			{op: "enter", changes: "v2", config: "voters=(1 2)&&(1)", members: "1 2"},
			{op: "enter", changes: "v3", err: errAlreadyJoint},
			{op: "enter-auto", err: errAlreadyJoint},
		}},
		{"entering with no voters is refused", []step{
			{op: "enter", changes: "v1", err: errZeroVoterJoint},
		}},
		{"entering may not remove every incoming voter", []step{
			{op: "simple", changes: "v1", config: "voters=(1)", members: "1"},
			{op: "enter", changes: "r1", err: errRemovedAllVoters},
			{op: "enter", changes: "l1", err: errRemovedAllVoters},
		}},
		{"leaving when not joint is refused", []step{
			{op: "leave", err: errNotJoint},
			{op: "simple", changes: "v1", config: "voters=(1)", members: "1"},
			{op: "leave", err: errNotJoint},
		}},
		{"demoting a voter while joint goes to LearnersNext", []step{
			{op: "simple", changes: "v1", config: "voters=(1)", members: "1"},
			{op: "simple", changes: "v2", config: "voters=(1 2)", members: "1 2"},
			{op: "simple", changes: "v3", config: "voters=(1 2 3)", members: "1 2 3"},
			{op: "enter", changes: "l3 v4",
				config: "voters=(1 2 4)&&(1 2 3) learners_next=(3)", members: "1 2 3 4"},
			{op: "leave", config: "voters=(1 2 4) learners=(3)", members: "1 2 l3 4"},
		}},
		{"learners added while joint join right away", []step{
			{op: "simple", changes: "v1", config: "voters=(1)", members: "1"},
			{op: "enter-auto", changes: "l5 v2",
				config: "voters=(1 2)&&(1) learners=(5) autoleave", members: "1 2 l5"},
			{op: "leave", config: "voters=(1 2) learners=(5)", members: "1 2 l5"},
		}},
		{"re-promoting a node in LearnersNext", []step{
			{op: "simple", changes: "v1", config: "voters=(1)", members: "1"},
			{op: "simple", changes: "v2", config: "voters=(1 2)", members: "1 2"},
			{op: "enter", changes: "l2 l2 v2", config: "voters=(1 2)&&(1 2)", members: "1 2"},
			{op: "leave", config: "voters=(1 2)", members: "1 2"},
		}},
		{"removing a node in LearnersNext", []step{
			{op: "simple", changes: "v1", config: "voters=(1)", members: "1"},
			{op: "simple", changes: "v2", config: "voters=(1 2)", members: "1 2"},
			{op: "enter", changes: "l2 r2", config: "voters=(1)&&(1 2)", members: "1 2"},
			{op: "leave", config: "voters=(1)", members: "1"},
		}},
		{"a removed outgoing voter keeps its Progress until leave", []step{
			{op: "simple", changes: "v1", config: "voters=(1)", members: "1"},
			{op: "simple", changes: "v2", config: "voters=(1 2)", members: "1 2"},
			{op: "enter", changes: "r2", config: "voters=(1)&&(1 2)", members: "1 2"},
			{op: "leave", config: "voters=(1)", members: "1"},
		}},
		{"an outgoing voter may be added back as a learner after leaving", []step{
			{op: "simple", changes: "v1", config: "voters=(1)", members: "1"},
			{op: "simple", changes: "v2", config: "voters=(1 2)", members: "1 2"},
			{op: "enter", changes: "r2", config: "voters=(1)&&(1 2)", members: "1 2"},
			{op: "leave", config: "voters=(1)", members: "1"},
			{op: "simple", changes: "l2", config: "voters=(1) learners=(2)", members: "1 l2"},
		}},
		{"demoting a learner-only node is a no-op and learner removal works while joint", []step{
			{op: "simple", changes: "v1 l3", config: "voters=(1) learners=(3)", members: "1 l3"},
			{op: "enter", changes: "l3 v2", config: "voters=(1 2)&&(1) learners=(3)", members: "1 2 l3"},
			{op: "leave", config: "voters=(1 2) learners=(3)", members: "1 2 l3"},
			{op: "enter", changes: "r3 v3", config: "voters=(1 2 3)&&(1 2)", members: "1 2 3"},
			{op: "leave", config: "voters=(1 2 3)", members: "1 2 3"},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { run(t, tt.steps) })
	}
}

func TestUnknownChangeType(t *testing.T) {
	c := Changer{Tracker: tracker.MakeProgressTracker(10, 0), LastIndex: 1}
	_, _, err := c.Simple(pb.ConfChangeSingle{Type: pb.ConfChangeType(42), NodeID: 1})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "unknown change type 42")
}

func TestNewProgress(t *testing.T) {
	for _, lastIndex := range []uint64{0, 1, 10} {
		trk := tracker.MakeProgressTracker(7, 512)
		c := Changer{Tracker: trk, LastIndex: lastIndex}
		_, prs, err := c.Simple(ccs(t, "v1 l2")...)
		require.NoError(t, err)
		for id, learner := range map[uint64]bool{1: false, 2: true} {
			pr := prs[id]
			require.NotNil(t, pr)
			assert.Zero(t, pr.Match)
			assert.Equal(t, max(lastIndex, 1), pr.Next, "Next starts at the last index and above Match")
			assert.Equal(t, tracker.StateProbe, pr.State)
			assert.True(t, pr.RecentActive)
			assert.Equal(t, learner, pr.IsLearner)
			require.NotNil(t, pr.Inflights)
			for i := uint64(1); i <= 6; i++ {
				pr.Inflights.Add(i, 1)
			}
			assert.False(t, pr.Inflights.Full())
			pr.Inflights.Add(7, 1)
			assert.True(t, pr.Inflights.Full(), "window sized by MaxInflight")
		}
		assert.NotSame(t, prs[1].Inflights, prs[2].Inflights)
	}

	trk := tracker.MakeProgressTracker(100, 10)
	_, prs, err := Changer{Tracker: trk, LastIndex: 5}.Simple(ccs(t, "v1")...)
	require.NoError(t, err)
	prs[1].Inflights.Add(1, 10)
	assert.True(t, prs[1].Inflights.Full(), "window sized by MaxInflightBytes")
}

// snapshot captures everything observable about a tracker, to prove that a
// Changer leaves its input alone.
func snapshot(trk tracker.ProgressTracker) string {
	return trk.Config.String() + "\n" + trk.Progress.String() + members(trk.Progress)
}

func TestInputIsNotModified(t *testing.T) {
	build := func() Changer {
		c := Changer{Tracker: tracker.MakeProgressTracker(10, 0), LastIndex: 5}
		for _, s := range []string{"v1", "v2", "v3", "l4 l5"} {
			cfg, prs, err := c.Simple(ccs(t, s)...)
			require.NoError(t, err)
			c.Tracker.Config, c.Tracker.Progress = cfg, prs
		}
		for id, pr := range c.Tracker.Progress {
			pr.Match = id
			pr.Next = id + 1
		}
		return c
	}

	ops := map[string]func(c Changer) (tracker.Config, tracker.ProgressMap, error){
		"simple promote": func(c Changer) (tracker.Config, tracker.ProgressMap, error) {
			return c.Simple(ccs(t, "v4 r5 l6")...)
		},
		"simple demote": func(c Changer) (tracker.Config, tracker.ProgressMap, error) {
			return c.Simple(ccs(t, "l3")...)
		},
		"enter": func(c Changer) (tracker.Config, tracker.ProgressMap, error) {
			return c.EnterJoint(true, ccs(t, "l1 r2 v4 v7 r5")...)
		},
		"failing": func(c Changer) (tracker.Config, tracker.ProgressMap, error) {
			return c.Simple(ccs(t, "v4 v5")...)
		},
	}
	for name, op := range ops {
		t.Run(name, func(t *testing.T) {
			c := build()
			before := snapshot(c.Tracker)
			origPtrs := map[uint64]*tracker.Progress{}
			for id, pr := range c.Tracker.Progress {
				origPtrs[id] = pr
			}
			_, prs, _ := op(c)
			assert.Equal(t, before, snapshot(c.Tracker))
			for id, pr := range prs {
				if orig := origPtrs[id]; orig == pr {
					assert.Equal(t, orig.IsLearner, pr.IsLearner, "shared Progress of %d must be unchanged", id)
				}
			}
		})
	}

	// The same through a joint configuration and LeaveJoint.
	c := build()
	cfg, prs, err := c.EnterJoint(false, ccs(t, "l1 r2 v4")...)
	require.NoError(t, err)
	c.Tracker.Config, c.Tracker.Progress = cfg, prs
	before := snapshot(c.Tracker)
	cfg, prs, err = c.LeaveJoint()
	require.NoError(t, err)
	assert.Equal(t, before, snapshot(c.Tracker))
	assert.Equal(t, "voters=(3 4) learners=(1 5)", cfg.String())
	assert.True(t, prs[1].IsLearner)
	assert.False(t, c.Tracker.Progress[1].IsLearner, "the input's Progress of 1 was copied, not flipped")
	assert.Equal(t, uint64(1), prs[1].Match, "the copy keeps the replication state")
	assert.Same(t, c.Tracker.Progress[3], prs[3], "unchanged Progress is shared")
}

func TestInvalidInputIsRejected(t *testing.T) {
	valid := func() Changer {
		c := Changer{Tracker: tracker.MakeProgressTracker(10, 0), LastIndex: 5}
		cfg, prs, err := c.Simple(ccs(t, "v1 l2")...)
		require.NoError(t, err)
		c.Tracker.Config, c.Tracker.Progress = cfg, prs
		return c
	}
	tests := []struct {
		name    string
		corrupt func(c *Changer)
		want    string
	}{
		{"voter without progress", func(c *Changer) { delete(c.Tracker.Progress, 1) }, "voter 1 (half 0) has no Progress"},
		{"voter marked learner", func(c *Changer) { c.Tracker.Progress[1] = &tracker.Progress{IsLearner: true} },
			"voter 1 (half 0) has a Progress marked IsLearner"},
		{"learner without progress", func(c *Changer) { delete(c.Tracker.Progress, 2) }, "learner 2 has no Progress"},
		{"learner not marked", func(c *Changer) { c.Tracker.Progress[2] = &tracker.Progress{} },
			"learner 2 has a Progress not marked IsLearner"},
		{"learner and voter", func(c *Changer) { c.Tracker.Voters[0][2] = struct{}{} },
			"node 2 is both a learner and an incoming voter"},
		{"learner and outgoing voter", func(c *Changer) {
			c.Tracker.Voters[1] = map[uint64]struct{}{2: {}}
		}, "node 2 is both a learner and an outgoing voter"},
		{"outgoing voter marked learner", func(c *Changer) {
			c.Tracker.Voters[1] = map[uint64]struct{}{3: {}}
			c.Tracker.Progress[3] = &tracker.Progress{IsLearner: true}
		}, "voter 3 (half 1) has a Progress marked IsLearner"},
		{"learners next outside joint", func(c *Changer) { c.Tracker.LearnersNext = map[uint64]struct{}{1: {}} },
			"node 1 is in LearnersNext but is not an outgoing voter"},
		{"learners next and incoming voter", func(c *Changer) {
			c.Tracker.Voters[1] = map[uint64]struct{}{1: {}}
			c.Tracker.LearnersNext = map[uint64]struct{}{1: {}}
		}, "node 1 is in LearnersNext and is an incoming voter"},
		{"auto leave outside joint", func(c *Changer) { c.Tracker.AutoLeave = true },
			"AutoLeave is set but the configuration is not joint"},
		{"stray progress", func(c *Changer) { c.Tracker.Progress[9] = &tracker.Progress{} },
			"node 9 has a Progress but is neither a voter nor a learner"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := valid()
			tt.corrupt(&c)
			for _, op := range []func() (tracker.Config, tracker.ProgressMap, error){
				func() (tracker.Config, tracker.ProgressMap, error) { return c.Simple(ccs(t, "u1")...) },
				func() (tracker.Config, tracker.ProgressMap, error) { return c.EnterJoint(false) },
				c.LeaveJoint,
			} {
				_, _, err := op()
				require.Error(t, err)
				assert.Contains(t, err.Error(), "the current configuration is invalid")
				assert.Contains(t, err.Error(), tt.want)
			}
		})
	}

}

// TestResultIsValidated corrupts a draft the way a bug in one of the change
// rules would, and checks that finish refuses to return it.
func TestResultIsValidated(t *testing.T) {
	d, err := Changer{Tracker: tracker.MakeProgressTracker(10, 0)}.draft()
	require.NoError(t, err)
	d.cfg.Voters[0][1] = struct{}{} // a voter without Progress
	cfg, prs, err := d.finish()
	require.Error(t, err)
	assert.Contains(t, err.Error(), "the resulting configuration is invalid: voter 1 (half 0) has no Progress")
	assert.Equal(t, tracker.Config{}, cfg)
	assert.Nil(t, prs)
}

func TestEmptySetsAreNil(t *testing.T) {
	c := Changer{Tracker: tracker.MakeProgressTracker(10, 0), LastIndex: 5}
	cfg, prs, err := c.Simple(ccs(t, "v1 l2")...)
	require.NoError(t, err)
	c.Tracker.Config, c.Tracker.Progress = cfg, prs
	cfg, _, err = c.Simple(ccs(t, "r2")...)
	require.NoError(t, err)
	assert.Nil(t, cfg.Learners)
	assert.Nil(t, cfg.LearnersNext)
	assert.Nil(t, cfg.Voters[1])
	assert.NotNil(t, cfg.Voters[0])

	// Empty but non-nil sets in the input are accepted and normalised.
	c.Tracker.Learners = map[uint64]struct{}{}
	c.Tracker.Voters[1] = map[uint64]struct{}{}
	c.Tracker.LearnersNext = map[uint64]struct{}{}
	c.Tracker.Progress = tracker.ProgressMap{1: c.Tracker.Progress[1]}
	cfg, _, err = c.Simple()
	require.NoError(t, err)
	assert.Nil(t, cfg.Learners)
	assert.Nil(t, cfg.LearnersNext)
	assert.Nil(t, cfg.Voters[1])

	// A zero-value tracker works too.
	cfg, prs, err = Changer{}.Simple(ccs(t, "v3")...)
	require.NoError(t, err)
	assert.Equal(t, "voters=(3)", cfg.String())
	assert.Equal(t, "3", members(prs))
}

func TestDescribe(t *testing.T) {
	assert.Equal(t, "", Describe())
	assert.Equal(t, "v1 l2 r3 u4", Describe(ccs(t, "v1 l2 r3 u4")...))
	assert.Equal(t, "v1 unknown7", Describe(
		pb.ConfChangeSingle{Type: pb.ConfChangeAddNode, NodeID: 1},
		pb.ConfChangeSingle{Type: pb.ConfChangeType(9), NodeID: 7}))
}
