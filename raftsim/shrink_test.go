package raftsim

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/pontoon-raft/raft"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestShrinkFindsASmallerFailingRun shrinks the first run in which the
// read-acking mutant is caught, and replays the result.
func TestShrinkFindsASmallerFailingRun(t *testing.T) {
	factory := func(cfg *raft.Config) (Node, error) {
		rn, err := raft.NewRawNode(cfg)
		return &readAcker{RawNode: rn}, err
	}
	var failing Options
	var original *Violation
	for seed := int64(1); seed <= 200 && original == nil; seed++ {
		failing = mutantOptions(seed)
		failing.NodeFactory = factory
		_, err := Run(failing)
		errors.As(err, &original)
	}
	require.NotNil(t, original, "the mutant was not caught")

	res, err := Shrink(failing, 60)
	require.NoError(t, err)
	t.Logf("seed %d: %s", failing.Seed, res)
	assert.Equal(t, original.Invariant, res.Violation.Invariant)
	assert.Equal(t, original.Event, res.Original.Event)
	assert.True(t, res.Shrunk.less(res.Original), "shrunk %+v, original %+v", res.Shrunk, res.Original)
	assert.Less(t, res.Options.Steps, failing.Steps)
	assert.LessOrEqual(t, res.Runs, 60)

	// The shrunk options replay the smaller violation exactly.
	_, err = Run(res.Options)
	var replay *Violation
	require.ErrorAs(t, err, &replay)
	assert.Equal(t, res.Violation.Invariant, replay.Invariant)
	assert.Equal(t, res.Violation.Event, replay.Event)
	assert.Equal(t, res.Violation.Trace, replay.Trace)
}

func TestShrinkPassingRun(t *testing.T) {
	_, err := Shrink(Options{Nodes: 3, Seed: 1, Steps: 200}, 0)
	assert.ErrorIs(t, err, ErrNoViolation)
}

// TestSuppressedEventReplaysThePrefix suppresses the first action of a run:
// the trace before it is unchanged, and that event does ordinary work.
func TestSuppressedEventReplaysThePrefix(t *testing.T) {
	run := func(suppress []int) ([]string, []int) {
		var trace strings.Builder
		rec := &actionRecorder{}
		opts := Options{Nodes: 3, Seed: 5, Steps: 1500, Faults: AllFaults(),
			Invariants: []Invariant{rec}, TraceWriter: &trace, SuppressEvents: suppress}
		_, err := Run(opts)
		require.NoError(t, err)
		return strings.Split(trace.String(), "\n"), rec.events
	}
	trace, actions := run(nil)
	require.NotEmpty(t, actions)
	first := actions[0]
	trace2, actions2 := run([]int{first})
	assert.NotContains(t, actions2, first)
	prefix := fmt.Sprintf("event %d ", first)
	n := slices.IndexFunc(trace, func(l string) bool { return strings.HasPrefix(l, prefix) })
	require.Positive(t, n)
	assert.Equal(t, trace[:n], trace2[:n])
	assert.NotEqual(t, trace[n], trace2[n])
}
