// Command benchchart draws, from the JSON that cmd/benchcompare writes, the
// committed proposals per second of both libraries against the number of
// proposals in flight (3 nodes, 128 B payloads) as an SVG line chart: the
// median of the runs as a line, the range of the runs as a bar.
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
	flag.Parse()
	if err := run(*in, *out); err != nil {
		fmt.Fprintln(os.Stderr, "benchchart:", err)
		os.Exit(1)
	}
}

func run(in, out string) error {
	data, err := os.ReadFile(in)
	if err != nil {
		return err
	}
	var report bench.Report
	if err := json.Unmarshal(data, &report); err != nil {
		return fmt.Errorf("%s: %w", in, err)
	}
	series, err := throughputSeries(&report)
	if err != nil {
		return err
	}
	title := "Committed proposals/s vs proposals in flight (3 nodes, 128 B)"
	return os.WriteFile(out, []byte(renderSVG(title, series)), 0o644)
}

// point is one in-flight count of one library: the median throughput and
// the lowest and highest of the runs.
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

// throughputSeries extracts the chart's points; every in-flight count of
// bench.ChartInFlight must be in the report.
func throughputSeries(r *bench.Report) ([]series, error) {
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
		out[0].points = append(out[0].points, newPoint(inFlight, c.Ours, c.OursRuns))
		out[1].points = append(out[1].points, newPoint(inFlight, c.Etcd, c.EtcdRuns))
	}
	return out, nil
}

func newPoint(inFlight int, median bench.Result, runs []bench.Result) point {
	p := point{inFlight: inFlight, median: median.ProposalsPerSec, lowest: median.ProposalsPerSec, highest: median.ProposalsPerSec}
	for _, r := range runs {
		p.lowest = min(p.lowest, r.ProposalsPerSec)
		p.highest = max(p.highest, r.ProposalsPerSec)
	}
	return p
}
