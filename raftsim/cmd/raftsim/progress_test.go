package main

import (
	"bytes"
	"os"
	"testing"

	"github.com/pontoon-raft/raft/raftsim"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestDrawProgress(t *testing.T) {
	var b bytes.Buffer
	drawProgress(&b, 5, 20, 1)
	assert.Equal(t, "\r[##########..............................] 5/20 seeds, 1 violations", b.String())
	b.Reset()
	drawProgress(&b, 20, 20, 0)
	assert.Contains(t, b.String(), "[########################################] 20/20")
}

func TestIsTerminal(t *testing.T) {
	assert.False(t, isTerminal(&bytes.Buffer{}))
	f, err := os.CreateTemp(t.TempDir(), "out")
	require.NoError(t, err)
	defer f.Close()
	assert.False(t, isTerminal(f), "a regular file is no terminal")
}

func TestMembershipAndAsyncFlags(t *testing.T) {
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"-async", "mixed", "-faults", "membership,transfer-leader"}, "-async mixed"},
		{[]string{"-async", "all", "-stepdown", "on"}, "-async all -stepdown on"},
		{[]string{"-async", "random"}, "-async "},
	}
	for _, tt := range tests {
		var out, errOut bytes.Buffer
		args := append([]string{"-nodes", "3", "-seeds", "4", "-steps", "400"}, tt.args...)
		code := run(args, &out, &errOut)
		require.Equal(t, 0, code, "%v\nstdout:\n%s\nstderr:\n%s", tt.args, out.String(), errOut.String())
		assert.Contains(t, out.String(), "configurations applied: ")
		assert.Contains(t, out.String(), "transfer-leader=")
		assert.NotContains(t, errOut.String(), "\r", "no progress bar unless stderr is a terminal")
	}
	for _, bad := range [][]string{{"-async", "sometimes"}, {"-stepdown", "maybe"}} {
		var out, errOut bytes.Buffer
		assert.Equal(t, 2, run(bad, &out, &errOut), "%v", bad)
		assert.NotEmpty(t, errOut.String())
	}
}

func TestReplayCommandCarriesAsyncAndStepDown(t *testing.T) {
	var out bytes.Buffer
	c := config{nodes: 3, steps: 300, faults: "all", electionTick: 10, heartbeatTick: 1, async: "mixed", stepDown: "on",
		readOnly: "safe", stdout: &out}
	o := c.options(5, raftsimAllFaults(t))
	cmd := replayCommand(c, o, o.PreVote, o.CheckQuorum)
	assert.Contains(t, cmd, "-async mixed -stepdown on -seed 5")
}

func raftsimAllFaults(t *testing.T) raftsim.Faults {
	t.Helper()
	f, err := raftsim.ParseFaults("all")
	require.NoError(t, err)
	return f
}
