package main

import (
	"bytes"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestHostsSweepReportsTotals(t *testing.T) {
	var out, errOut bytes.Buffer
	code := run([]string{"hosts", "-seeds", "3", "-steps", "500"}, &out, &errOut)
	require.Equal(t, 0, code, "stdout:\n%s\nstderr:\n%s", out.String(), errOut.String())
	assert.Contains(t, out.String(), "seeds run: 3\n")
	assert.Contains(t, out.String(), "violations: 0\n")
	assert.Contains(t, out.String(), "faults: power-loss=")
	assert.Contains(t, errOut.String(), "progress: 3/3 seeds")
}

func TestHostsSingleSeedTrace(t *testing.T) {
	var out, errOut bytes.Buffer
	code := run([]string{"hosts", "-steps", "300", "-seed", "4", "-trace"}, &out, &errOut)
	require.Equal(t, 0, code, errOut.String())
	assert.Contains(t, out.String(), "seeds run: 1\n")
	assert.Contains(t, out.String(), "event ")
}

func TestHostsRefusesBadFlags(t *testing.T) {
	for _, args := range [][]string{
		{"hosts", "-faults", "drop"},
		{"hosts", "-readonly", "fast"},
		{"hosts", "-hosts", "10"},
		{"hosts", "-trace"},
		{"hosts", "-seeds", "5", "-seed", "3"},
		{"hosts", "-seeds", "0"},
		{"hosts", "extra"},
	} {
		var out, errOut bytes.Buffer
		assert.Equal(t, 2, run(args, &out, &errOut), "%v", args)
		assert.NotEmpty(t, errOut.String(), "%v explains the refusal", args)
	}
}
