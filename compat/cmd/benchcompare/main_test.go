package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/pontoon-raft/raft/compat/bench"
)

func TestRunWritesTableJSONAndDocument(t *testing.T) {
	dir := t.TempDir()
	doc := filepath.Join(dir, "BENCHMARKS.md")
	require.NoError(t, os.WriteFile(doc, []byte("# Benchmarks\n"+
		machineBegin+"\nstale\n"+machineEnd+"\ntext\n"+tableBegin+"\nstale\n"+tableEnd+"\n"), 0o644))
	opts := options{
		runs:          2,
		seqProposals:  50,
		pipeProposals: 200,
		match:         regexp.MustCompile(`^3/128B/(seq|pipe64)$`),
		jsonPath:      filepath.Join(dir, "results.json"),
		updatePath:    doc,
		revision:      "test-rev",
	}
	var stdout, progress bytes.Buffer
	require.NoError(t, run(opts, &stdout, &progress))

	assert.Contains(t, stdout.String(), "| 3/128B/seq | ")
	assert.Contains(t, stdout.String(), "| 3/128B/pipe64 | ")
	assert.NotContains(t, stdout.String(), "| 1/")
	assert.Equal(t, 8, bytes.Count(progress.Bytes(), []byte("\n")), "2 workloads × 2 runs × 2 libraries")

	data, err := os.ReadFile(opts.jsonPath)
	require.NoError(t, err)
	var report bench.Report
	require.NoError(t, json.Unmarshal(data, &report))
	assert.Equal(t, "test-rev", report.Revision)
	require.Len(t, report.Results, 2)
	for _, c := range report.Results {
		assert.Len(t, c.OursRuns, 2)
		assert.Len(t, c.EtcdRuns, 2)
		assert.Equal(t, bench.Ours, c.Ours.Library)
		assert.Equal(t, bench.Etcd, c.Etcd.Library)
		assert.Positive(t, c.Etcd.ProposalsPerSec)
	}
	assert.Equal(t, 200, report.Results[1].Ours.Proposals)

	updated, err := os.ReadFile(doc)
	require.NoError(t, err)
	assert.NotContains(t, string(updated), "stale")
	assert.Contains(t, string(updated), "- Revision: test-rev\n")
	assert.Contains(t, string(updated), "\ntext\n")
	assert.Contains(t, string(updated), "| 3/128B/pipe64 | ")

	// Rendering from the JSON gives the same table without measuring.
	var again bytes.Buffer
	require.NoError(t, run(options{from: opts.jsonPath}, &again, &progress))
	assert.Equal(t, stdout.String(), again.String())
}

func TestRunRejectsBadOptions(t *testing.T) {
	var out bytes.Buffer
	err := run(options{runs: 1, seqProposals: 10, pipeProposals: 10, match: regexp.MustCompile("^nothing$")}, &out, &out)
	require.ErrorContains(t, err, "no workload matches")
	err = run(options{runs: 0, seqProposals: 10, pipeProposals: 10, match: regexp.MustCompile("")}, &out, &out)
	require.Error(t, err)
	err = run(options{from: filepath.Join(t.TempDir(), "missing.json")}, &out, &out)
	require.Error(t, err)
}
