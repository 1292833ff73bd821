// Command walbench measures Pontoon's wal engine against the storage an
// application with many Raft groups would otherwise use: etcd's WAL,
// hashicorp's raft-boltdb and Pebble. Every engine makes each write durable
// (fsync or fdatasync) before acknowledging it. For each workload (writers
// × entry size) the engines run in turn, in an order that rotates from run
// to run, on the same disk, in one process; the table shows the medians.
//
// A writer owns one group and, in a loop, durably appends one entry with
// a HardState committing the previous one, as a Raft node's Ready loop
// does. Figures: entries/s and MB/s of payload over wall time, p50 and p99
// latency of one append, CPU time per entry (getrusage, user+system, whole
// process, background work included), fsyncs per entry, and bytes written
// per payload byte, both as handed to write(2) (logical, /proc/self/io
// wchar) and as reaching the block layer (device, write_bytes: whole pages
// per fsync). Then each engine is filled with about -recovery-mib of log
// by 16 writers of 4 KiB entries and timed reopening it the way a node
// restarts.
//
//	go run . -quick            # a short run (about 2 minutes)
//	go run .                   # the table of BENCHMARKS.md (about 12 minutes)
package main

import (
	"flag"
	"fmt"
	"os"
	"regexp"
	"runtime"
	"strings"
	"time"
)

type options struct {
	runs        int
	duration    time.Duration
	writers     []int
	sizes       []int
	recoveryMiB int
	engines     *regexp.Regexp
	dir         string
}

func main() {
	var opts options
	quick := flag.Bool("quick", false, "one short run per workload and 128 MiB for recovery")
	flag.IntVar(&opts.runs, "runs", 5, "runs per engine and workload")
	flag.DurationVar(&opts.duration, "duration", 3*time.Second, "measured time per run")
	flag.IntVar(&opts.recoveryMiB, "recovery-mib", 1024, "payload written before the recovery measurement (0 to skip)")
	match := flag.String("engines", "", "only engines whose name matches this regexp")
	flag.StringVar(&opts.dir, "dir", os.TempDir(), "directory for the engines' files (on the disk to measure)")
	flag.Parse()
	opts.writers, opts.sizes = []int{1, 16, 256}, []int{128, 4096}
	if *quick {
		opts.runs, opts.duration, opts.recoveryMiB = 1, 1500*time.Millisecond, 128
	}
	var err error
	if opts.engines, err = regexp.Compile(*match); err != nil {
		fmt.Fprintln(os.Stderr, "walbench:", err)
		os.Exit(2)
	}
	if err := run(opts); err != nil {
		fmt.Fprintln(os.Stderr, "walbench:", err)
		os.Exit(1)
	}
}

func run(opts options) error {
	var chosen []engine
	for _, e := range engines {
		if opts.engines.MatchString(e.name) {
			chosen = append(chosen, e)
		}
	}
	fmt.Printf("go %s, %s/%s, %d CPUs, %d runs of %v per engine and workload, files in %s\n\n",
		runtime.Version(), runtime.GOOS, runtime.GOARCH, runtime.NumCPU(), opts.runs, opts.duration, opts.dir)
	var rows []row
	for _, writers := range opts.writers {
		for _, size := range opts.sizes {
			results := map[string][]result{}
			for r := 0; r < opts.runs; r++ {
				for k := range chosen {
					e := chosen[(k+r)%len(chosen)]
					res, err := measure(e, opts.dir, writers, size, opts.duration)
					if err != nil {
						return fmt.Errorf("%s, %d writers, %d B: %w", e.name, writers, size, err)
					}
					fmt.Fprintf(os.Stderr, "%-11s %3d writers %4d B: %s\n", e.name, writers, size, res)
					results[e.name] = append(results[e.name], res)
				}
			}
			for _, e := range chosen {
				rows = append(rows, row{engine: e.name, writers: writers, size: size, r: median(results[e.name])})
			}
		}
	}
	printTable(os.Stdout, rows)
	if opts.recoveryMiB > 0 {
		fmt.Printf("\nRecovery of about %d MiB of log (16 groups, 4 KiB entries), page cache warm:\n\n", opts.recoveryMiB)
		fmt.Println("| engine | log written | reopen | rate |")
		fmt.Println("| --- | ---: | ---: | ---: |")
		for _, e := range chosen {
			written, took, err := measureRecovery(e, opts.dir, int64(opts.recoveryMiB)<<20)
			if err != nil {
				return fmt.Errorf("%s recovery: %w", e.name, err)
			}
			fmt.Printf("| %s | %d MiB | %.2f s | %.0f MiB/s |\n", e.name, written>>20, took.Seconds(), float64(written)/(1<<20)/took.Seconds())
		}
	}
	fmt.Println("\nHow each engine is used:")
	for _, e := range chosen {
		fmt.Printf("- %s: %s.\n", e.name, strings.TrimSuffix(e.how, "."))
	}
	return nil
}
