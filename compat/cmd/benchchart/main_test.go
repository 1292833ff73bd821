package main

import (
	"encoding/json"
	"encoding/xml"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/pontoon-raft/raft/compat/bench"
)

// chartReport has every chart workload, ours at 2× etcd, with two runs each.
func chartReport() *bench.Report {
	r := &bench.Report{Runs: 2}
	for _, inFlight := range bench.ChartInFlight {
		w := bench.Workload{Nodes: 3, PayloadBytes: 128, InFlight: inFlight}
		tput := float64(1000 * inFlight)
		res := func(lib bench.Library, v float64) bench.Result {
			return bench.Result{Library: lib, Workload: w, ProposalsPerSec: v}
		}
		r.Results = append(r.Results, bench.Comparison{
			Workload: w,
			Ours:     res(bench.Ours, 2*tput),
			Etcd:     res(bench.Etcd, tput),
			OursRuns: []bench.Result{res(bench.Ours, 1.5*tput), res(bench.Ours, 2.5*tput)},
			EtcdRuns: []bench.Result{res(bench.Etcd, tput), res(bench.Etcd, tput)},
		})
	}
	return r
}

func TestThroughputSeries(t *testing.T) {
	all, err := throughputSeries(chartReport(), metrics["wall"].value)
	require.NoError(t, err)
	require.Len(t, all, 2)
	require.Len(t, all[0].points, len(bench.ChartInFlight))
	assert.Equal(t, point{inFlight: 64, median: 128000, lowest: 96000, highest: 160000}, all[0].points[2])
	assert.Equal(t, point{inFlight: 64, median: 64000, lowest: 64000, highest: 64000}, all[1].points[2])

	partial := chartReport()
	partial.Results = partial.Results[1:]
	_, err = throughputSeries(partial, metrics["wall"].value)
	require.ErrorContains(t, err, "3/128B/seq")
}

func TestRenderSVGIsWellFormed(t *testing.T) {
	all, err := throughputSeries(chartReport(), metrics["wall"].value)
	require.NoError(t, err)
	svg := renderSVG("a <title> & more", "per <s>", all)
	dec := xml.NewDecoder(strings.NewReader(svg))
	for {
		_, err := dec.Token()
		if err == io.EOF {
			break
		}
		require.NoError(t, err)
	}
	assert.Equal(t, 2, strings.Count(svg, "<polyline"))
	assert.Equal(t, 2*len(bench.ChartInFlight), strings.Count(svg, "<circle"))
	assert.Contains(t, svg, "a &lt;title&gt; &amp; more")
	assert.Contains(t, svg, ">per &lt;s&gt;<")
	assert.Contains(t, svg, ">Pontoon<")
	assert.Contains(t, svg, ">1024<")
}

func TestNiceStepAndLabels(t *testing.T) {
	tests := []struct {
		span float64
		want float64
	}{
		{1e6, 200000},
		{1.3e6, 500000},
		{450, 100},
		{0, 1},
	}
	for _, tt := range tests {
		assert.Equal(t, tt.want, niceStep(tt.span, yTickCount), "span %v", tt.span)
	}
	assert.Equal(t, "0", axisLabel(0))
	assert.Equal(t, "250k", axisLabel(250000))
	assert.Equal(t, "1.5M", axisLabel(1500000))
	assert.Equal(t, "1M", axisLabel(1000000))
}

func TestRunWritesSVG(t *testing.T) {
	dir := t.TempDir()
	in := filepath.Join(dir, "results.json")
	data, err := json.Marshal(chartReport())
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(in, data, 0o644))
	out := filepath.Join(dir, "chart.svg")
	for name, m := range metrics {
		require.NoError(t, run(in, out, name))
		svg, err := os.ReadFile(out)
		require.NoError(t, err)
		assert.True(t, strings.HasPrefix(string(svg), "<svg "))
		assert.Contains(t, string(svg), escape(m.title))
		assert.Contains(t, string(svg), escape(m.yLabel))
	}

	require.Error(t, run(in, out, "joules"))
	require.Error(t, run(filepath.Join(dir, "missing.json"), out, "wall"))
	require.NoError(t, os.WriteFile(in, []byte("{"), 0o644))
	require.Error(t, run(in, out, "wall"))
}

func TestCPUMetric(t *testing.T) {
	cpu := metrics["cpu"].value
	assert.Equal(t, 1e6, cpu(bench.Result{CPUPerOp: time.Microsecond}))
	assert.Zero(t, cpu(bench.Result{}))
}
