package main

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"github.com/pontoon-raft/raft/raftsim"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestSweepReportsTotals(t *testing.T) {
	var out, errOut bytes.Buffer
	code := run([]string{"-nodes", "3", "-seeds", "5", "-steps", "300"}, &out, &errOut)
	require.Equal(t, 0, code, "stdout:\n%s\nstderr:\n%s", out.String(), errOut.String())
	assert.Contains(t, out.String(), "seeds run: 5\n")
	assert.Contains(t, out.String(), "violations: 0\n")
	assert.Contains(t, out.String(), "faults: drop=")
	assert.Contains(t, errOut.String(), "progress: 5/5 seeds")
}

func TestSuppressAndShrinkFlags(t *testing.T) {
	var plain, suppressed, errOut bytes.Buffer
	args := []string{"-nodes", "3", "-steps", "300", "-seed", "4", "-faults", "all", "-shrink"}
	require.Equal(t, 0, run(args, &plain, &errOut), errOut.String())
	require.Equal(t, 0, run(append(args, "-suppress", "2,5,8,13,21,34,55,89"), &suppressed, &errOut), errOut.String())
	assert.NotEqual(t, plain.String(), suppressed.String(), "suppressing events changes the run")
	assert.NotContains(t, plain.String(), "shrunk:", "a passing run is not shrunk")
}

func TestReplayCommandCarriesSuppressedEvents(t *testing.T) {
	c := config{nodes: 3, faults: "all", electionTick: 10, heartbeatTick: 1}
	o := raftsim.Options{Seed: 9, Steps: 120, SuppressEvents: []int{4, 17}, Faults: raftsim.AllFaults()}
	cmd := replayCommand(c, o, true, false)
	assert.Contains(t, cmd, "cd raftsim && go run ./cmd/raftsim -nodes 3 -steps 120 -faults all -prevote on -checkquorum off -readonly safe ")
	assert.True(t, strings.HasSuffix(cmd, " -suppress 4,17 -seed 9"), cmd)
}

func TestSingleSeedTrace(t *testing.T) {
	var out, errOut bytes.Buffer
	code := run([]string{"-nodes", "3", "-steps", "100", "-seed", "0", "-trace", "-faults", "drop,crash"}, &out, &errOut)
	require.Equal(t, 0, code, errOut.String())
	assert.Contains(t, out.String(), "event 1 tick 0: start: 3 nodes, seed 0")
	assert.Contains(t, out.String(), "seeds run: 1\n")
	assert.Empty(t, errOut.String(), "no progress lines for a single seed")
}

// TestReplayCommandIsAccepted: the replay command printed for a failing
// run parses and replays, with or without reads and leases.
func TestReplayCommandIsAccepted(t *testing.T) {
	for _, faults := range []string{"crash,partition", "all"} {
		for _, readOnly := range []string{"safe", "lease"} {
			c := config{nodes: 3, faults: faults, electionTick: 10, heartbeatTick: 1, readOnly: readOnly}
			f, err := raftsim.ParseFaults(faults)
			require.NoError(t, err)
			o := c.options(5, f)
			o.Steps = 50
			cmd := replayCommand(c, o, false, true)
			args := strings.Fields(strings.TrimPrefix(cmd, "cd raftsim && go run ./cmd/raftsim "))
			var out, errOut bytes.Buffer
			assert.Equal(t, 0, run(args, &out, &errOut), "%s: %s", cmd, errOut.String())
		}
	}
}

func TestBadFlags(t *testing.T) {
	tests := [][]string{
		{"-faults", "meteor"},
		{"-prevote", "maybe"},
		{"-nodes", "12", "-seeds", "1"},
		{"-no-such-flag"},
		{"-readonly", "maybe"},
		{"-suppress", "3,x"},
		{"-nodes", "0"},
		{"-seeds", "0"},
		{"-steps", "-1"},
		{"-trace"},
		{"-suppress", "3,4"},
		{"-seeds", "10", "-seed", "3"},
		{"-faults", "crash,partition", "-readonly", "lease"},
		{"-readonly", "safe", "-lease-drift", "2"},
		{"-readonly", "lease", "-checkquorum", "off"},
	}
	for _, args := range tests {
		t.Run(strings.Join(args, " "), func(t *testing.T) {
			var out, errOut bytes.Buffer
			assert.Equal(t, 2, run(args, &out, &errOut))
			assert.NotEmpty(t, errOut.String())
		})
	}
}

func TestReportNamesFirstFailureAndReplay(t *testing.T) {
	var out bytes.Buffer
	c := config{nodes: 5, steps: 5000, faults: "all", electionTick: 10, heartbeatTick: 1, readOnly: "random", stdout: &out}
	tot := totals{seeds: 3, violations: 1, faults: map[raftsim.FaultKind]int{raftsim.FaultDrop: 4},
		firstFailure: &raftsim.Violation{Invariant: "election-safety", Seed: 17, Nodes: 5, Event: 99,
			Err: errors.New("term 3 has two leaders"), Trace: []string{"event 99 tick 9: VIOLATION"}},
		firstPreVote: true, firstOptions: raftsim.Options{Seed: 17, Steps: 5000, Faults: raftsim.AllFaults()}}
	report(c, tot)
	s := out.String()
	assert.Contains(t, s, "violations: 1\n")
	assert.Contains(t, s, "drop=4 dup=0")
	assert.Contains(t, s, "first failing seed: 17 (election-safety)")
	assert.Contains(t, s, "event 99 tick 9: VIOLATION")
	assert.Contains(t, s, "replay: cd raftsim && go run ./cmd/raftsim -nodes 5 -steps 5000 -faults all -prevote on -checkquorum off -readonly safe -election-tick 10 -heartbeat-tick 1 -async none -stepdown off -seed 17 -trace")
}

func TestStorageFlag(t *testing.T) {
	var out, errOut bytes.Buffer
	code := run([]string{"-nodes", "3", "-seeds", "3", "-steps", "300", "-storage", "wal"}, &out, &errOut)
	require.Equal(t, 0, code, "stdout:\n%s\nstderr:\n%s", out.String(), errOut.String())
	assert.Contains(t, out.String(), ", storage wal\n")
	assert.Contains(t, out.String(), " torn-write=")
	assert.Contains(t, out.String(), "violations: 0\n")

	out.Reset()
	require.Equal(t, 0, run([]string{"-nodes", "3", "-seeds", "3", "-steps", "300"}, &out, &errOut))
	assert.NotContains(t, out.String(), "torn-write=", "memory runs inject no disk fault")

	errOut.Reset()
	assert.Equal(t, 2, run([]string{"-faults", "crash,bit-flip"}, &out, &errOut))
	assert.Contains(t, errOut.String(), "need -storage wal")
	errOut.Reset()
	assert.Equal(t, 2, run([]string{"-storage", "disk"}, &out, &errOut))
	assert.Contains(t, errOut.String(), "want memory or wal")

	c := config{nodes: 3, faults: "storage", electionTick: 10, heartbeatTick: 1, storage: raftsim.StorageWAL}
	f, err := raftsim.ParseFaults("storage")
	require.NoError(t, err)
	cmd := replayCommand(c, c.options(7, f), false, false)
	assert.Contains(t, cmd, " -storage wal -seed 7")
}
