// Command benchcompare measures Pontoon's RawNode against etcd/raft's on the
// workloads of package bench, alternating runs of the two libraries in one
// process, and prints a Markdown table of the medians with the ours/etcd
// ratio of every figure. It can also write every run as JSON (the input of
// cmd/benchchart) and refresh the generated parts of BENCHMARKS.md.
package main

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"regexp"
	"time"

	"github.com/pontoon-raft/raft/compat/bench"
)

// Markers delimiting the generated parts of the document given to -update.
const (
	machineBegin = "<!-- bench-compare:machine:begin -->"
	machineEnd   = "<!-- bench-compare:machine:end -->"
	tableBegin   = "<!-- bench-compare:table:begin -->"
	tableEnd     = "<!-- bench-compare:table:end -->"
)

type options struct {
	runs          int
	seqProposals  int
	pipeProposals int
	match         *regexp.Regexp
	jsonPath      string
	updatePath    string
	revision      string
	// from, when set, is a JSON report to render instead of measuring.
	from string
}

func main() {
	var opts options
	var match string
	flag.IntVar(&opts.runs, "runs", 5, "measured runs per library and workload, alternating ours and etcd")
	flag.IntVar(&opts.seqProposals, "seq-proposals", 20000, "proposals per run with one in flight")
	flag.IntVar(&opts.pipeProposals, "pipe-proposals", 100000, "proposals per pipelined run")
	flag.StringVar(&match, "match", "", "only workloads whose name (e.g. 3/128B/pipe64) matches this regexp")
	flag.StringVar(&opts.jsonPath, "json", "", "write every run and the medians as JSON to this file")
	flag.StringVar(&opts.updatePath, "update", "", "refresh the generated parts of this Markdown file (BENCHMARKS.md)")
	flag.StringVar(&opts.revision, "revision", "unknown", "source revision to record in the report")
	flag.StringVar(&opts.from, "from", "", "render this JSON report (from -json) instead of measuring")
	flag.Parse()
	var err error
	if opts.match, err = regexp.Compile(match); err != nil {
		fmt.Fprintln(os.Stderr, "benchcompare:", err)
		os.Exit(2)
	}
	if err := run(opts, os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "benchcompare:", err)
		os.Exit(1)
	}
}

func run(opts options, stdout, progress io.Writer) error {
	if opts.from != "" {
		report, err := load(opts.from)
		if err != nil {
			return err
		}
		return output(report, opts, stdout)
	}
	report, err := measure(opts, progress)
	if err != nil {
		return err
	}
	return output(report, opts, stdout)
}

func load(path string) (*bench.Report, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var report bench.Report
	if err := json.Unmarshal(data, &report); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return &report, nil
}

func measure(opts options, progress io.Writer) (*bench.Report, error) {
	if opts.runs <= 0 || opts.seqProposals <= 0 || opts.pipeProposals <= 0 {
		return nil, fmt.Errorf("runs and proposal counts must be positive")
	}
	report := &bench.Report{
		Generated: time.Now(),
		Machine:   bench.CurrentMachine(),
		Revision:  opts.revision,
		Runs:      opts.runs,
	}
	for _, w := range bench.AllWorkloads() {
		if !opts.match.MatchString(w.Name()) {
			continue
		}
		c, err := compare(w, opts, progress)
		if err != nil {
			return nil, err
		}
		report.Results = append(report.Results, c)
	}
	if len(report.Results) == 0 {
		return nil, fmt.Errorf("no workload matches %q", opts.match)
	}
	return report, nil
}

// output prints the table and writes the JSON and the document as asked.
func output(report *bench.Report, opts options, stdout io.Writer) error {
	if err := report.WriteMarkdown(stdout); err != nil {
		return err
	}
	if opts.jsonPath != "" {
		data, err := json.MarshalIndent(report, "", "  ")
		if err != nil {
			return err
		}
		if err := os.WriteFile(opts.jsonPath, append(data, '\n'), 0o644); err != nil {
			return err
		}
	}
	if opts.updatePath != "" {
		return update(opts.updatePath, report)
	}
	return nil
}

// compare measures w on both libraries: one short warm-up run each, then
// opts.runs runs each, alternating ours, etcd, ours, etcd, and so on.
func compare(w bench.Workload, opts options, progress io.Writer) (bench.Comparison, error) {
	proposals := opts.pipeProposals
	if w.InFlight <= 1 {
		proposals = opts.seqProposals
	}
	for _, lib := range bench.Libraries {
		if _, err := bench.Run(lib, w, max(proposals/10, 1)); err != nil {
			return bench.Comparison{}, fmt.Errorf("%s %s warm-up: %w", lib, w.Name(), err)
		}
	}
	c := bench.Comparison{Workload: w}
	for i := 0; i < opts.runs; i++ {
		for _, lib := range bench.Libraries {
			res, err := bench.Run(lib, w, proposals)
			if err != nil {
				return bench.Comparison{}, fmt.Errorf("%s %s run %d: %w", lib, w.Name(), i+1, err)
			}
			fmt.Fprintf(progress, "%-4s %-16s run %d: %10.0f proposals/s %8.1f allocs/op %6v CPU/op\n",
				lib, w.Name(), i+1, res.ProposalsPerSec, res.AllocsPerOp, res.CPUPerOp)
			if lib == bench.Ours {
				c.OursRuns = append(c.OursRuns, res)
			} else {
				c.EtcdRuns = append(c.EtcdRuns, res)
			}
		}
	}
	c.Ours = bench.Median(c.OursRuns)
	c.Etcd = bench.Median(c.EtcdRuns)
	return c, nil
}

// update rewrites the machine and table sections of the document at path.
func update(path string, report *bench.Report) error {
	doc, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	var machine, table bytes.Buffer
	if err := report.WriteMachine(&machine); err != nil {
		return err
	}
	if err := report.WriteMarkdown(&table); err != nil {
		return err
	}
	out, err := bench.ReplaceBetween(string(doc), machineBegin, machineEnd, machine.String())
	if err != nil {
		return err
	}
	if out, err = bench.ReplaceBetween(out, tableBegin, tableEnd, table.String()); err != nil {
		return err
	}
	return os.WriteFile(path, []byte(out), 0o644)
}
