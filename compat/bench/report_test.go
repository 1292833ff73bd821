package bench

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestMedian(t *testing.T) {
	w := Workload{Nodes: 3, PayloadBytes: 128, InFlight: 64}
	runs := []Result{
		{Library: Ours, Workload: w, Proposals: 10, ProposalsPerSec: 300, P50Latency: 3, AllocsPerOp: 9},
		{Library: Ours, Workload: w, Proposals: 10, ProposalsPerSec: 100, P50Latency: 1, AllocsPerOp: 7},
		{Library: Ours, Workload: w, Proposals: 10, ProposalsPerSec: 200, P50Latency: 2, AllocsPerOp: 8},
	}
	m := Median(runs)
	assert.Equal(t, Ours, m.Library)
	assert.Equal(t, w, m.Workload)
	assert.Equal(t, 200.0, m.ProposalsPerSec)
	assert.Equal(t, time.Duration(2), m.P50Latency)
	assert.Equal(t, 8.0, m.AllocsPerOp)

	even := Median(runs[:2])
	assert.Equal(t, 200.0, even.ProposalsPerSec, "the mean of the middle two")
	assert.Equal(t, Result{}, Median(nil))
}

func TestFormatting(t *testing.T) {
	tests := []struct {
		got, want string
	}{
		{si(0), "0"},
		{si(0.0078), "0.008"},
		{si(1.54), "1.54"},
		{si(23), "23.0"},
		{si(999.7), "1.00k"},
		{si(5420), "5.42k"},
		{si(1234567), "1.23M"},
		{duration(950), "950ns"},
		{duration(2790), "2.79µs"},
		{duration(348000), "348µs"},
		{duration(2740000), "2.74ms"},
		{cell(10, 5, si), "10.0 / 5.00 = 2.00×"},
		{cell(1, 0, si), "1.00 / 0 = –"},
	}
	for _, tt := range tests {
		assert.Equal(t, tt.want, tt.got)
	}
}

func sampleReport() *Report {
	row := func(w Workload, oursPS, etcdPS, oursAllocs, etcdAllocs float64) Comparison {
		return Comparison{
			Workload: w,
			Ours: Result{Library: Ours, Workload: w, ProposalsPerSec: oursPS, AllocsPerOp: oursAllocs,
				CPUPerOp: time.Duration(1e9 / oursPS)},
			Etcd: Result{Library: Etcd, Workload: w, ProposalsPerSec: etcdPS, AllocsPerOp: etcdAllocs,
				CPUPerOp: time.Duration(1e9 / etcdPS)},
		}
	}
	return &Report{
		Generated: time.Date(2026, 12, 1, 23, 0, 0, 0, time.UTC),
		Machine:   Machine{CPUModel: "Test CPU", NumCPU: 2, GOMAXPROCS: 2, GoVersion: "go1.99", GOOS: "linux", GOARCH: "amd64"},
		Revision:  "abc123",
		Runs:      5,
		Results: []Comparison{
			row(Workload{Nodes: 3, PayloadBytes: 128, InFlight: 1}, 90, 100, 20, 17),
			row(Workload{Nodes: 3, PayloadBytes: 128, InFlight: 64}, 500, 100, 1, 4),
			row(Workload{Nodes: 3, PayloadBytes: 128, InFlight: 1024}, 150, 100, 3, 4),
		},
	}
}

func TestVerdict(t *testing.T) {
	assert.Equal(t, []string{
		"3/128B/pipe64: throughput 5.00× etcd (goal ≥ 2: met), allocations 0.25× etcd (goal ≤ 0.5: met).",
		"3/128B/pipe1024: throughput 1.50× etcd (goal ≥ 2: not met), allocations 0.75× etcd (goal ≤ 0.5: not met).",
		"Lower median throughput than etcd/raft in: 3/128B/seq.",
		"More median CPU time per proposal than etcd/raft in: 3/128B/seq.",
	}, sampleReport().Verdict())

	r := sampleReport()
	r.Results = r.Results[1:]
	assert.Equal(t, []string{
		"3/128B/pipe64: throughput 5.00× etcd (goal ≥ 2: met), allocations 0.25× etcd (goal ≤ 0.5: met).",
		"3/128B/pipe1024: throughput 1.50× etcd (goal ≥ 2: not met), allocations 0.75× etcd (goal ≤ 0.5: not met).",
		"No workload has a lower median throughput than etcd/raft.",
		"No workload takes more median CPU time per proposal than etcd/raft.",
	}, r.Verdict())
}

func TestWriteMarkdown(t *testing.T) {
	var buf bytes.Buffer
	require.NoError(t, sampleReport().WriteMarkdown(&buf))
	out := buf.String()
	assert.Contains(t, out, "| workload | proposals/s |")
	assert.Contains(t, out, "| 3/128B/pipe64 | 500 / 100 = 5.00× |")
	assert.Contains(t, out, "- Lower median throughput than etcd/raft in: 3/128B/seq.\n")

	buf.Reset()
	require.NoError(t, sampleReport().WriteMachine(&buf))
	assert.Contains(t, buf.String(), "- CPU: Test CPU, 2 logical CPUs (GOMAXPROCS 2)\n")
	assert.Contains(t, buf.String(), "- Revision: abc123\n")
}

func TestFind(t *testing.T) {
	r := sampleReport()
	c, ok := r.Find(Workload{Nodes: 3, PayloadBytes: 128, InFlight: 64})
	require.True(t, ok)
	assert.Equal(t, 500.0, c.Ours.ProposalsPerSec)
	_, ok = r.Find(Workload{Nodes: 7, PayloadBytes: 128, InFlight: 64})
	assert.False(t, ok)
}

func TestReplaceBetween(t *testing.T) {
	doc := "intro\n<!-- b -->\nold\n<!-- e -->\noutro\n"
	out, err := ReplaceBetween(doc, "<!-- b -->", "<!-- e -->", "new")
	require.NoError(t, err)
	assert.Equal(t, "intro\n<!-- b -->\nnew\n<!-- e -->\noutro\n", out)

	again, err := ReplaceBetween(out, "<!-- b -->", "<!-- e -->", "new\n")
	require.NoError(t, err)
	assert.Equal(t, out, again, "replacing is idempotent")

	_, err = ReplaceBetween(doc, "<!-- x -->", "<!-- e -->", "new")
	require.Error(t, err)
	_, err = ReplaceBetween("<!-- e --> <!-- b -->", "<!-- b -->", "<!-- e -->", "new")
	require.Error(t, err)
}

func TestCPUModel(t *testing.T) {
	path := filepath.Join(t.TempDir(), "cpuinfo")
	require.NoError(t, os.WriteFile(path, []byte("processor\t: 0\nmodel name\t: Example CPU @ 2.0GHz\nflags\t: fpu\n"), 0o644))
	assert.Equal(t, "Example CPU @ 2.0GHz", cpuModel(path))
	assert.Equal(t, "unknown", cpuModel(filepath.Join(t.TempDir(), "missing")))
}
