package main

import (
	"fmt"
	"io"
	"sort"
	"time"

	"github.com/pontoon-raft/raft/compat/internal/etcdbuild"
)

// runRecord is one measured run, as written to the JSON file.
type runRecord struct {
	Variant        etcdbuild.Variant
	Workload       string
	Clients        int
	Run            int
	Ops            int
	Errors         int
	OpsPerSecond   float64
	P50, P99, P999 time.Duration
	CPUPerOpMicros float64
	FsyncsPerOp    float64
	PeerBytesPerOp float64
}

func newRunRecord(v etcdbuild.Variant, w workload, clients, run int, r loadResult) runRecord {
	return runRecord{
		Variant: v, Workload: w.name, Clients: clients, Run: run + 1,
		Ops: r.ops, Errors: r.errors, OpsPerSecond: r.opsPerSecond(),
		P50: percentile(r.latencies, 0.5), P99: percentile(r.latencies, 0.99), P999: percentile(r.latencies, 0.999),
		CPUPerOpMicros: r.perOp(float64(r.server.cpu.Microseconds())),
		FsyncsPerOp:    r.perOp(r.server.fsyncs),
		PeerBytesPerOp: r.perOp(r.server.peerBytes),
	}
}

// median of xs (the mean of the middle two for an even count).
func median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := append([]float64(nil), xs...)
	sort.Float64s(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// medians are the per-configuration medians of one build.
type medians struct {
	opsPerSecond, p50, p99, p999, cpuPerOp, fsyncsPerOp, peerBytesPerOp float64
	runs, errors                                                        int
}

// summarize takes the medians, over runs, of the records of v, w and n.
func summarize(recs []runRecord, v etcdbuild.Variant, w string, n int) medians {
	var ops, p50, p99, p999, cpu, fsyncs, peer []float64
	m := medians{}
	for _, r := range recs {
		if r.Variant != v || r.Workload != w || r.Clients != n {
			continue
		}
		m.runs++
		m.errors += r.Errors
		ops = append(ops, r.OpsPerSecond)
		p50 = append(p50, float64(r.P50))
		p99 = append(p99, float64(r.P99))
		p999 = append(p999, float64(r.P999))
		cpu = append(cpu, r.CPUPerOpMicros)
		fsyncs = append(fsyncs, r.FsyncsPerOp)
		peer = append(peer, r.PeerBytesPerOp)
	}
	m.opsPerSecond, m.p50, m.p99, m.p999 = median(ops), median(p50), median(p99), median(p999)
	m.cpuPerOp, m.fsyncsPerOp, m.peerBytesPerOp = median(cpu), median(fsyncs), median(peer)
	return m
}

// ratio is ours/theirs, or 0 when theirs is 0.
func ratio(ours, theirs float64) float64 {
	if theirs == 0 {
		return 0
	}
	return ours / theirs
}

// ms formats nanoseconds as milliseconds.
func ms(ns float64) string { return fmt.Sprintf("%.2f", ns/1e6) }

// report writes the markdown tables: one per workload, a row per client
// count, each figure as "etcd/raft → Pontoon (ratio Pontoon/etcd)",
// medians over runs.
func report(out io.Writer, o options, recs []runRecord, kills map[etcdbuild.Variant][]killResult, checked map[etcdbuild.Variant]int) {
	if o.runs == 0 {
		printFailover(out, o, kills, checked)
		return
	}
	for _, w := range []workload{putOnly, mixed} {
		title := "PUT only, 128-byte values"
		if w.readPercent > 0 {
			title = fmt.Sprintf("%d%% linearizable GETs, %d%% PUTs of 128 bytes", w.readPercent, 100-w.readPercent)
		}
		fmt.Fprintf(out, "\n%s (medians of %d runs of %s each; etcd/raft → Pontoon (Pontoon/etcd)):\n\n", title, o.runs, o.duration)
		fmt.Fprintln(out, "| clients | ops/s | p50 ms | p99 ms | p99.9 ms | server CPU µs/op | WAL fsyncs/op | peer bytes/op |")
		fmt.Fprintln(out, "| ---: | --- | --- | --- | --- | --- | --- | --- |")
		for _, n := range o.clients {
			e := summarize(recs, etcdbuild.EtcdRaft, w.name, n)
			p := summarize(recs, etcdbuild.Pontoon, w.name, n)
			cell := func(theirs, ours float64, f func(float64) string) string {
				return fmt.Sprintf("%s → %s (%.2f)", f(theirs), f(ours), ratio(ours, theirs))
			}
			num := func(format string) func(float64) string {
				return func(x float64) string { return fmt.Sprintf(format, x) }
			}
			fmt.Fprintf(out, "| %d | %s | %s | %s | %s | %s | %s | %s |\n", n,
				cell(e.opsPerSecond, p.opsPerSecond, num("%.0f")),
				cell(e.p50, p.p50, ms), cell(e.p99, p.p99, ms), cell(e.p999, p.p999, ms),
				cell(e.cpuPerOp, p.cpuPerOp, num("%.0f")),
				cell(e.fsyncsPerOp, p.fsyncsPerOp, num("%.3f")),
				cell(e.peerBytesPerOp, p.peerBytesPerOp, num("%.0f")))
			if e.errors+p.errors > 0 {
				fmt.Fprintf(out, "<!-- %d clients: %d failed operations on etcd/raft, %d on Pontoon -->\n", n, e.errors, p.errors)
			}
		}
	}
	if len(kills) == 0 {
		return
	}
	printFailover(out, o, kills, checked)
}

// printFailover writes the failover table.
func printFailover(out io.Writer, o options, kills map[etcdbuild.Variant][]killResult, checked map[etcdbuild.Variant]int) {
	fmt.Fprintf(out, "\nFailover, %d leader SIGKILLs per build (ms):\n\n", o.kills)
	fmt.Fprintln(out, "| build | new leader p50 | p99 | max | writes back p50 | p99 | max | won by the restarted member | more than one term | acknowledged writes checked, lost |")
	fmt.Fprintln(out, "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |")
	for _, v := range etcdbuild.Variants {
		var lead, unavail []time.Duration
		restartedWon, extraTerms := 0, 0
		for _, k := range kills[v] {
			lead = append(lead, k.NewLeader)
			unavail = append(unavail, k.Unavailable)
			if k.RestartedWon {
				restartedWon++
			}
			if k.TermsTaken > 1 {
				extraTerms++
			}
		}
		sortDurations(lead)
		sortDurations(unavail)
		fmt.Fprintf(out, "| %s | %s | %s | %s | %s | %s | %s | %d of %d | %d | %d, 0 |\n", v,
			ms(float64(percentile(lead, 0.5))), ms(float64(percentile(lead, 0.99))), ms(float64(lead[len(lead)-1])),
			ms(float64(percentile(unavail, 0.5))), ms(float64(percentile(unavail, 0.99))), ms(float64(unavail[len(unavail)-1])),
			restartedWon, len(kills[v])-1, extraTerms, checked[v])
	}
}

func sortDurations(ds []time.Duration) {
	sort.Slice(ds, func(i, j int) bool { return ds[i] < ds[j] })
}
