package main

import (
	"fmt"
	"slices"
	"strings"
	"time"
)

type latencyQuantiles struct{ p50, p99, max time.Duration }

func quantiles(samples []time.Duration) latencyQuantiles {
	if len(samples) == 0 {
		return latencyQuantiles{}
	}
	s := slices.Clone(samples)
	slices.Sort(s)
	at := func(q float64) time.Duration { return s[min(len(s)-1, int(q*float64(len(s))))] }
	return latencyQuantiles{p50: at(0.50), p99: at(0.99), max: s[len(s)-1]}
}

func median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

func minMax(xs []float64) (float64, float64) { return slices.Min(xs), slices.Max(xs) }

// render formats the runs as Markdown tables: medians over the rounds, the
// spread (lowest..highest), and ratios to the baseline computed per round
// (each transport against the baseline run of the same round) and then
// taken as the median.
func render(o options, runs []run) string {
	var b strings.Builder
	pick := func(impl, mode string) []run {
		var out []run
		for _, r := range runs {
			if r.impl == impl && r.mode == mode {
				out = append(out, r)
			}
		}
		return out
	}
	perRound := func(impl, mode string, f func(run) float64) map[int]float64 {
		m := map[int]float64{}
		for _, r := range pick(impl, mode) {
			m[r.round] = f(r)
		}
		return m
	}
	ratio := func(impl, ref, mode string, f func(run) float64) float64 {
		a, base := perRound(impl, mode, f), perRound(ref, mode, f)
		var rs []float64
		for round, v := range a {
			if bv, ok := base[round]; ok && bv > 0 {
				rs = append(rs, v/bv)
			}
		}
		return median(rs)
	}
	values := func(rs []run, f func(run) float64) []float64 {
		var out []float64
		for _, r := range rs {
			out = append(out, f(r))
		}
		return out
	}
	msgs := func(r run) float64 { return r.msgsPerSec() }
	cpu := func(r run) float64 { return r.cpuPerMsg() / 1e3 }

	if slices.Contains(o.modes, modeThroughput) {
		fmt.Fprintf(&b, "Throughput: %d MsgApps of one %d B entry per run, batches of 1..%d messages over %d groups, at most %d unanswered, each answered by a MsgAppResp; %d rounds, transports alternating.\n\n",
			o.messages, o.payloadBytes, o.maxBatch, o.groups, o.window, o.rounds)
		b.WriteString("| transport | MsgApps/s (median) | range | CPU µs/MsgApp, both processes (median) | range | MsgApps/s vs baseline | CPU/MsgApp vs baseline |\n")
		b.WriteString("| --- | ---: | ---: | ---: | ---: | ---: | ---: |\n")
		for _, impl := range o.impls {
			rs := pick(impl, modeThroughput)
			if len(rs) == 0 {
				continue
			}
			lo, hi := minMax(values(rs, msgs))
			clo, chi := minMax(values(rs, cpu))
			fmt.Fprintf(&b, "| %s | %.0f | %.0f..%.0f | %.2f | %.2f..%.2f | %.2f× | %.2f× |\n", impl,
				median(values(rs, msgs)), lo, hi, median(values(rs, cpu)), clo, chi,
				ratio(impl, implBaseline, modeThroughput, msgs), ratio(impl, implBaseline, modeThroughput, cpu))
		}
		if len(pick(implTLS, modeThroughput)) > 0 && len(pick(implTCP, modeThroughput)) > 0 {
			fmt.Fprintf(&b, "\nTLS CPU per MsgApp ÷ plaintext CPU per MsgApp (median of per-round ratios): %.2f×\n",
				ratio(implTLS, implTCP, modeThroughput, cpu))
		}
		b.WriteString("\n")
	}
	var latencyModes []string
	for _, m := range []string{modeIdle, modeSnapshot, modeUnbounded} {
		if slices.Contains(o.modes, m) {
			latencyModes = append(latencyModes, m)
		}
	}
	if len(latencyModes) > 0 {
		rate := "its default SnapshotBytesPerSecond (256 MiB/s)"
		if o.snapshotRate != 0 {
			rate = fmt.Sprintf("SnapshotBytesPerSecond = %d", o.snapshotRate)
		}
		fmt.Fprintf(&b, "Heartbeat delivery latency, one heartbeat per ms for %v per run. In latency-snapshot, %d MiB snapshots stream back to back meanwhile, package transport's paced by %s (the baseline has no bound); latency-snapshot-unbounded lifts the bound. Quantiles over the samples of all %d rounds.\n\n",
			o.latencyDuration, o.snapshotBytes>>20, rate, o.rounds)
		b.WriteString("| transport | workload | p50 | p99 | max | p99 per round (lowest..highest) | snapshot MB/s (median) |\n")
		b.WriteString("| --- | --- | ---: | ---: | ---: | ---: | ---: |\n")
		for _, impl := range o.impls {
			for _, mode := range latencyModes {
				rs := pick(impl, mode)
				if len(rs) == 0 {
					continue
				}
				var all []time.Duration
				var p99s, mbs []float64
				for _, r := range rs {
					all = append(all, r.latencies...)
					p99s = append(p99s, float64(quantiles(r.latencies).p99))
					mbs = append(mbs, float64(r.snapBytes)/1e6/r.wall.Seconds())
				}
				q := quantiles(all)
				lo, hi := minMax(p99s)
				snap := "–"
				if mode != modeIdle {
					snap = fmt.Sprintf("%.0f", median(mbs))
				}
				fmt.Fprintf(&b, "| %s | %s | %v | %v | %v | %v..%v | %s |\n", impl, mode,
					round(q.p50), round(q.p99), round(q.max), round(time.Duration(lo)), round(time.Duration(hi)), snap)
			}
		}
	}
	return b.String()
}

func round(d time.Duration) time.Duration {
	if d > time.Millisecond {
		return d.Round(10 * time.Microsecond)
	}
	return d.Round(time.Microsecond)
}
