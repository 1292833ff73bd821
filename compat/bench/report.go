package bench

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"runtime"
	"slices"
	"strings"
	"time"
)

// Machine describes where a report was measured.
type Machine struct {
	CPUModel   string `json:"cpu_model"`
	NumCPU     int    `json:"num_cpu"`
	GOMAXPROCS int    `json:"gomaxprocs"`
	GoVersion  string `json:"go_version"`
	GOOS       string `json:"goos"`
	GOARCH     string `json:"goarch"`
}

// CurrentMachine describes the machine the process runs on. The CPU model
// comes from /proc/cpuinfo and is "unknown" where that file is missing.
func CurrentMachine() Machine {
	return Machine{
		CPUModel:   cpuModel("/proc/cpuinfo"),
		NumCPU:     runtime.NumCPU(),
		GOMAXPROCS: runtime.GOMAXPROCS(0),
		GoVersion:  runtime.Version(),
		GOOS:       runtime.GOOS,
		GOARCH:     runtime.GOARCH,
	}
}

func cpuModel(path string) string {
	f, err := os.Open(path)
	if err != nil {
		return "unknown"
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		key, value, ok := strings.Cut(sc.Text(), ":")
		if ok && strings.TrimSpace(key) == "model name" {
			return strings.TrimSpace(value)
		}
	}
	return "unknown"
}

// Comparison is one workload measured on both libraries: every run, in the
// order made, and the per-metric medians.
type Comparison struct {
	Workload Workload `json:"workload"`
	Ours     Result   `json:"ours_median"`
	Etcd     Result   `json:"etcd_median"`
	OursRuns []Result `json:"ours_runs"`
	EtcdRuns []Result `json:"etcd_runs"`
}

// Report is what cmd/benchcompare writes as JSON and cmd/benchchart reads.
type Report struct {
	Generated time.Time    `json:"generated"`
	Machine   Machine      `json:"machine"`
	Revision  string       `json:"revision"`
	Runs      int          `json:"runs"`
	Results   []Comparison `json:"results"`
}

// Find returns the comparison of workload w.
func (r *Report) Find(w Workload) (Comparison, bool) {
	for _, c := range r.Results {
		if c.Workload == w {
			return c, true
		}
	}
	return Comparison{}, false
}

// Median returns a Result whose every figure is the median of that figure
// over runs (the mean of the middle two for an even count). Library,
// Workload and Proposals are taken from the first run.
func Median(runs []Result) Result {
	if len(runs) == 0 {
		return Result{}
	}
	pick := func(f func(Result) float64) float64 {
		vs := make([]float64, len(runs))
		for i, r := range runs {
			vs[i] = f(r)
		}
		slices.Sort(vs)
		mid := len(vs) / 2
		if len(vs)%2 == 1 {
			return vs[mid]
		}
		return (vs[mid-1] + vs[mid]) / 2
	}
	dur := func(f func(Result) time.Duration) time.Duration {
		return time.Duration(pick(func(r Result) float64 { return float64(f(r)) }))
	}
	return Result{
		Library:         runs[0].Library,
		Workload:        runs[0].Workload,
		Proposals:       runs[0].Proposals,
		ProposalsPerSec: pick(func(r Result) float64 { return r.ProposalsPerSec }),
		P50Latency:      dur(func(r Result) time.Duration { return r.P50Latency }),
		P99Latency:      dur(func(r Result) time.Duration { return r.P99Latency }),
		AllocsPerOp:     pick(func(r Result) float64 { return r.AllocsPerOp }),
		BytesPerOp:      pick(func(r Result) float64 { return r.BytesPerOp }),
		MessagesPerOp:   pick(func(r Result) float64 { return r.MessagesPerOp }),
		CPUPerOp:        dur(func(r Result) time.Duration { return r.CPUPerOp }),
	}
}

// ratio is ours/etcd, or 0 when etcd's figure is zero.
func ratio(ours, etcd float64) float64 {
	if etcd == 0 {
		return 0
	}
	return ours / etcd
}

// cell renders "ours / etcd = ratio×", with a dash for an undefined ratio.
func cell(ours, etcd float64, format func(float64) string) string {
	if etcd == 0 {
		return fmt.Sprintf("%s / %s = –", format(ours), format(etcd))
	}
	return fmt.Sprintf("%s / %s = %.2f×", format(ours), format(etcd), ratio(ours, etcd))
}

// sig formats v with three significant digits and no exponent.
func sig(v float64) string {
	switch {
	case v >= 99.95:
		return fmt.Sprintf("%.0f", v)
	case v >= 9.995:
		return fmt.Sprintf("%.1f", v)
	case v >= 0.9995:
		return fmt.Sprintf("%.2f", v)
	case v == 0:
		return "0"
	}
	return fmt.Sprintf("%.3f", v)
}

// si formats v with three significant digits and a k or M suffix.
func si(v float64) string {
	switch {
	case v >= 999.5e3:
		return sig(v/1e6) + "M"
	case v >= 999.5:
		return sig(v/1e3) + "k"
	}
	return sig(v)
}

// duration formats nanoseconds ns in ns, µs or ms.
func duration(ns float64) string {
	switch {
	case ns >= 999.5e3:
		return sig(ns/1e6) + "ms"
	case ns >= 999.5:
		return sig(ns/1e3) + "µs"
	}
	return sig(ns) + "ns"
}

// WriteMarkdown writes the comparison table: one row per workload, each
// cell "ours / etcd = ours÷etcd" over the medians, then the verdict on the
// issue's goal.
func (r *Report) WriteMarkdown(w io.Writer) error {
	var b strings.Builder
	b.WriteString("| workload | proposals/s | p50 commit latency | p99 commit latency | allocs/op | B/op | msgs/op | CPU/op |\n")
	b.WriteString("| --- | --- | --- | --- | --- | --- | --- | --- |\n")
	for _, c := range r.Results {
		o, e := c.Ours, c.Etcd
		fmt.Fprintf(&b, "| %s | %s | %s | %s | %s | %s | %s | %s |\n",
			c.Workload.Name(),
			cell(o.ProposalsPerSec, e.ProposalsPerSec, si),
			cell(float64(o.P50Latency), float64(e.P50Latency), duration),
			cell(float64(o.P99Latency), float64(e.P99Latency), duration),
			cell(o.AllocsPerOp, e.AllocsPerOp, si),
			cell(o.BytesPerOp, e.BytesPerOp, si),
			cell(o.MessagesPerOp, e.MessagesPerOp, si),
			cell(float64(o.CPUPerOp), float64(e.CPUPerOp), duration))
	}
	b.WriteString("\n")
	for _, line := range r.Verdict() {
		b.WriteString("- " + line + "\n")
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// Verdict states, from the medians, where the report stands against the
// issue's goal: at least 2× etcd's proposals/s and at most half its
// allocations per proposal when pipelining on 3 nodes with 128 B, and no
// workload slower than etcd, judged both by proposals per second and by CPU
// time per proposal.
func (r *Report) Verdict() []string {
	var lines []string
	for _, c := range r.Results {
		w := c.Workload
		if w.Nodes != 3 || w.PayloadBytes != 128 || w.InFlight <= 1 {
			continue
		}
		if w.InFlight != 64 && w.InFlight != 1024 {
			continue
		}
		tput := ratio(c.Ours.ProposalsPerSec, c.Etcd.ProposalsPerSec)
		allocs := ratio(c.Ours.AllocsPerOp, c.Etcd.AllocsPerOp)
		lines = append(lines, fmt.Sprintf("%s: throughput %.2f× etcd (goal ≥ 2: %s), allocations %.2f× etcd (goal ≤ 0.5: %s).",
			w.Name(), tput, metOrNot(tput >= 2), allocs, metOrNot(allocs <= 0.5)))
	}
	var slower []string
	for _, c := range r.Results {
		if ratio(c.Ours.ProposalsPerSec, c.Etcd.ProposalsPerSec) < 1 {
			slower = append(slower, c.Workload.Name())
		}
	}
	if len(slower) == 0 {
		lines = append(lines, "No workload has a lower median throughput than etcd/raft.")
	} else {
		lines = append(lines, fmt.Sprintf("Lower median throughput than etcd/raft in: %s.", strings.Join(slower, ", ")))
	}
	var costlier []string
	for _, c := range r.Results {
		if ratio(float64(c.Ours.CPUPerOp), float64(c.Etcd.CPUPerOp)) > 1 {
			costlier = append(costlier, c.Workload.Name())
		}
	}
	if len(costlier) == 0 {
		lines = append(lines, "No workload takes more median CPU time per proposal than etcd/raft.")
	} else {
		lines = append(lines, fmt.Sprintf("More median CPU time per proposal than etcd/raft in: %s.", strings.Join(costlier, ", ")))
	}
	return lines
}

func metOrNot(ok bool) string {
	if ok {
		return "met"
	}
	return "not met"
}

// WriteMachine writes the machine description as a Markdown list.
func (r *Report) WriteMachine(w io.Writer) error {
	m := r.Machine
	_, err := fmt.Fprintf(w, "- CPU: %s, %d logical CPUs (GOMAXPROCS %d)\n- Go: %s %s/%s\n- Revision: %s\n- Runs per library and workload: %d, alternating, medians reported\n- Generated: %s\n",
		m.CPUModel, m.NumCPU, m.GOMAXPROCS, m.GoVersion, m.GOOS, m.GOARCH, r.Revision, r.Runs,
		r.Generated.UTC().Format(time.RFC3339))
	return err
}

// ReplaceBetween returns doc with the text between the lines beginMarker
// and endMarker replaced by content. Both markers must be present, in order.
func ReplaceBetween(doc, beginMarker, endMarker, content string) (string, error) {
	i := strings.Index(doc, beginMarker)
	if i < 0 {
		return "", fmt.Errorf("bench: marker %q not found", beginMarker)
	}
	start := i + len(beginMarker)
	j := strings.Index(doc[start:], endMarker)
	if j < 0 {
		return "", fmt.Errorf("bench: marker %q not found after %q", endMarker, beginMarker)
	}
	end := start + j
	if !strings.HasSuffix(content, "\n") {
		content += "\n"
	}
	return doc[:start] + "\n" + content + doc[end:], nil
}
