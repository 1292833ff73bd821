// Command benchchart draws, from the JSON that cmd/benchcompare writes, the
// committed proposals per second of both libraries against the number of
// proposals in flight (3 nodes, 128 B payloads) as an SVG line chart: the
// median of the runs as a line, the range of the runs as a bar. With
// -metric wall the rate is per second of wall time; with -metric cpu it is
// per second of the process's CPU time, which a busy machine disturbs less.
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"

	"github.com/pontoon-raft/raft/compat/bench"
)

func main() {
	in := flag.String("in", "bench-results.json", "JSON written by benchcompare -json")
	out := flag.String("out", "bench-throughput.svg", "SVG file to write")
	metric := flag.String("metric", "wall", "wall: proposals per wall-clock second; cpu: proposals per CPU second")
	flag.Parse()
	if err := run(*in, *out, *metric); err != nil {
		fmt.Fprintln(os.Stderr, "benchchart:", err)
		os.Exit(1)
	}
}

// metrics maps a -metric name to the chart's title and the figure drawn.
var metrics = map[string]struct {
	title, yLabel string
	value         func(bench.Result) float64
}{
	"wall": {
		title:  "Committed proposals per second (wall clock), 3 nodes, 128 B",
		yLabel: "committed proposals/s",
		value:  func(r bench.Result) float64 { return r.ProposalsPerSec },
	},
	"cpu": {
		title:  "Committed proposals per CPU second, 3 nodes, 128 B",
		yLabel: "committed proposals per CPU second",
		value: func(r bench.Result) float64 {
			if r.CPUPerOp <= 0 {
				return 0
			}
			return 1e9 / float64(r.CPUPerOp)
		},
	},
}

func run(in, out, metric string) error {
	m, ok := metrics[metric]
	if !ok {
		return fmt.Errorf("unknown metric %q (want wall or cpu)", metric)
	}
	data, err := os.ReadFile(in)
	if err != nil {
		return err
	}
	var report bench.Report
	if err := json.Unmarshal(data, &report); err != nil {
		return fmt.Errorf("%s: %w", in, err)
	}
	series, err := throughputSeries(&report, m.value)
	if err != nil {
		return err
	}
	return os.WriteFile(out, []byte(renderSVG(m.title, m.yLabel, series)), 0o644)
}

// point is one in-flight count of one library: the figure of the median
// result and the lowest and highest figure of the runs.
type point struct {
	inFlight        int
	median          float64
	lowest, highest float64
}

// series is one library's line.
type series struct {
	label  string
	color  string
	points []point
}

// throughputSeries extracts the chart's points, value giving the figure of
// a result; every in-flight count of bench.ChartInFlight must be in the
// report.
func throughputSeries(r *bench.Report, value func(bench.Result) float64) ([]series, error) {
	out := []series{
		{label: "Pontoon", color: "#1f6fb4"},
		{label: "etcd/raft v3.6", color: "#d9730d"},
	}
	for _, inFlight := range bench.ChartInFlight {
		w := bench.Workload{Nodes: 3, PayloadBytes: 128, InFlight: inFlight}
		c, ok := r.Find(w)
		if !ok {
			return nil, fmt.Errorf("the report has no %s workload; run benchcompare on every workload", w.Name())
		}
		out[0].points = append(out[0].points, newPoint(inFlight, value, c.Ours, c.OursRuns))
		out[1].points = append(out[1].points, newPoint(inFlight, value, c.Etcd, c.EtcdRuns))
	}
	return out, nil
}

func newPoint(inFlight int, value func(bench.Result) float64, median bench.Result, runs []bench.Result) point {
	v := value(median)
	p := point{inFlight: inFlight, median: v, lowest: v, highest: v}
	for _, r := range runs {
		p.lowest = min(p.lowest, value(r))
		p.highest = max(p.highest, value(r))
	}
	return p
}
