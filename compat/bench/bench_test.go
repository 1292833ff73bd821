package bench

import (
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestRunCommitsEverything runs every standard workload briefly on both
// libraries: every proposal must commit on the leader and be applied on
// every node (Run checks the latter), and the figures must be sane.
func TestRunCommitsEverything(t *testing.T) {
	for _, w := range StandardWorkloads() {
		for _, lib := range Libraries {
			t.Run(string(lib)+"/"+w.Name(), func(t *testing.T) {
				res, err := Run(lib, w, 300)
				require.NoError(t, err)
				assert.Equal(t, 300, res.Proposals)
				assert.Positive(t, res.ProposalsPerSec)
				assert.Positive(t, res.P50Latency)
				assert.LessOrEqual(t, res.P50Latency, res.P99Latency)
				assert.Positive(t, res.AllocsPerOp)
				if w.Nodes == 1 {
					assert.Zero(t, res.MessagesPerOp, "a single node sends no messages")
				} else {
					assert.Positive(t, res.MessagesPerOp)
				}
			})
		}
	}
}

// TestRunIsDeterministic: two runs of the same workload send exactly the
// same number of messages, since nothing but timing varies between runs.
func TestRunIsDeterministic(t *testing.T) {
	w := Workload{Nodes: 3, PayloadBytes: 128, InFlight: 64}
	for _, lib := range Libraries {
		first, err := Run(lib, w, 2000)
		require.NoError(t, err)
		second, err := Run(lib, w, 2000)
		require.NoError(t, err)
		assert.Equal(t, first.MessagesPerOp, second.MessagesPerOp, string(lib))
	}
}

func TestRunRejectsInvalidInput(t *testing.T) {
	_, err := Run(Ours, Workload{Nodes: 3, PayloadBytes: 128, InFlight: 1}, 0)
	require.Error(t, err)
	_, err = Run("raft-of-theseus", Workload{Nodes: 3, PayloadBytes: 128, InFlight: 1}, 10)
	require.Error(t, err)
}

// stalledCluster never commits anything.
type stalledCluster struct{}

func (stalledCluster) Propose([]byte) error { return nil }
func (stalledCluster) Round() (bool, error) { return false, nil }
func (stalledCluster) MessagesSent() uint64 { return 0 }
func (stalledCluster) Applied() []int       { return nil }

func TestRunReportsStall(t *testing.T) {
	newC := func(int, func(int)) (Cluster, error) { return stalledCluster{}, nil }
	_, err := run(newC, Ours, Workload{Nodes: 1, PayloadBytes: 8, InFlight: 4}, 10)
	require.ErrorIs(t, err, errStalled)
}

func TestPercentile(t *testing.T) {
	tests := []struct {
		values []int64
		p      int
		want   int64
	}{
		{nil, 50, 0},
		{[]int64{7}, 50, 7},
		{[]int64{7}, 99, 7},
		{[]int64{1, 2, 3, 4}, 50, 2},
		{[]int64{1, 2, 3, 4}, 99, 4},
		{[]int64{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}, 90, 9},
	}
	for _, tt := range tests {
		assert.Equal(t, tt.want, percentile(tt.values, tt.p), "p%d of %v", tt.p, tt.values)
	}
}

func TestWorkloadName(t *testing.T) {
	assert.Equal(t, "3/128B/seq", Workload{Nodes: 3, PayloadBytes: 128, InFlight: 1}.Name())
	assert.Equal(t, "5/1KiB/pipe1024", Workload{Nodes: 5, PayloadBytes: 1024, InFlight: 1024}.Name())
	assert.Len(t, StandardWorkloads(), 18)
}

// BenchmarkCompare runs every standard workload, and the extra in-flight
// counts of the chart, on both libraries; one op is one committed proposal.
// Names are BenchmarkCompare/<lib>/<nodes>/<payload>/<mode>.
func BenchmarkCompare(b *testing.B) {
	for _, lib := range Libraries {
		for _, w := range AllWorkloads() {
			b.Run(fmt.Sprintf("%s/%s", lib, w.Name()), func(b *testing.B) {
				b.ReportAllocs()
				res, err := Run(lib, w, b.N)
				if err != nil {
					b.Fatal(err)
				}
				// testing's own allocs/op and B/op are whole numbers and
				// include building the cluster; these are exact and
				// measure the proposals only.
				b.ReportMetric(res.AllocsPerOp, "mallocs/op")
				b.ReportMetric(res.BytesPerOp, "heap-B/op")
				b.ReportMetric(res.MessagesPerOp, "msgs/op")
				b.ReportMetric(float64(res.CPUPerOp.Nanoseconds()), "cpu-ns/op")
				b.ReportMetric(float64(res.P50Latency.Nanoseconds()), "p50-ns")
				b.ReportMetric(float64(res.P99Latency.Nanoseconds()), "p99-ns")
				b.ReportMetric(res.ProposalsPerSec, "props/s")
			})
		}
	}
}

func TestAllWorkloadsCoverChart(t *testing.T) {
	ws := AllWorkloads()
	assert.Len(t, ws, 20)
	for _, inFlight := range ChartInFlight {
		assert.Contains(t, ws, Workload{Nodes: 3, PayloadBytes: 128, InFlight: inFlight})
	}
}
