package main

import (
	"fmt"
	"os"
	"runtime"
	"slices"
	"strings"
	"time"
)

func runParent(o options) error {
	var report strings.Builder
	fmt.Fprintf(&report, "Machine: %d logical CPUs (GOMAXPROCS %d), %s %s/%s; %d runs per figure, medians (lowest..highest); hosts tick every %v.\n\n",
		runtime.NumCPU(), runtime.GOMAXPROCS(0), runtime.Version(), runtime.GOOS, runtime.GOARCH, o.runs, o.tick)
	for _, s := range o.scenarios {
		var err error
		switch s {
		case "idle":
			err = idleScenario(o, &report)
		case "active":
			err = activeScenario(o, &report)
		case "single":
			err = singleScenario(o, &report)
		default:
			err = fmt.Errorf("unknown scenario %q", s)
		}
		if err != nil {
			fmt.Print(report.String()) // what the earlier scenarios measured
			return fmt.Errorf("%s: %w", s, err)
		}
	}
	fmt.Print(report.String())
	if o.markdown != "" {
		return os.WriteFile(o.markdown, []byte(report.String()), 0o644)
	}
	return nil
}

// idleRun is what one idle run measured on each host.
type idleRun struct {
	setup        time.Duration
	cpuPercent   [3]float64
	heapPerGroup [3]float64
	savesPerSec  [3]float64
}

func idleScenario(o options, report *strings.Builder) error {
	var runs []idleRun
	for r := 0; r < o.runs; r++ {
		run, err := idleOnce(o, r)
		if err != nil {
			return err
		}
		logf("idle run %d: setup %v, CPU %% %.2f, heap/group %.0f B, storage writes/s %.2f", r, run.setup.Round(time.Second),
			run.cpuPercent, run.heapPerGroup, run.savesPerSec)
		runs = append(runs, run)
	}
	fmt.Fprintf(report, "Idle: %d groups, each on all 3 hosts, elected and quiesced; measured over %v per run.\n\n", o.idleGroups, o.idleWindow)
	fmt.Fprintln(report, "| host | CPU, % of one core | heap per idle group | storage writes/s |")
	fmt.Fprintln(report, "| --- | ---: | ---: | ---: |")
	for h := 0; h < 3; h++ {
		var cpu, heap, saves []float64
		for _, run := range runs {
			cpu, heap, saves = append(cpu, run.cpuPercent[h]), append(heap, run.heapPerGroup[h]), append(saves, run.savesPerSec[h])
		}
		fmt.Fprintf(report, "| %d | %s | %s | %s |\n", h+1, spread(cpu, "%.2f%%"), spread(heap, "%.0f B"), spread(saves, "%.2f"))
	}
	var setup []float64
	for _, run := range runs {
		setup = append(setup, run.setup.Seconds())
	}
	fmt.Fprintf(report, "\nSetup (create, elect, quiesce): %s s per run.\n\n", spread(setup, "%.0f"))
	return nil
}

func idleOnce(o options, r int) (idleRun, error) {
	var run idleRun
	c, err := startCluster(o, "idle")
	if err != nil {
		return run, err
	}
	defer c.stop()
	empty, err := c.all(request{Op: "heap"})
	if err != nil {
		return run, err
	}
	t0 := time.Now()
	if err := c.startGroups(o.idleGroups); err != nil {
		return run, err
	}
	if err := c.waitQuiesced(o.idleGroups, 5*time.Minute); err != nil {
		return run, err
	}
	run.setup = time.Since(t0)
	// Let the elections' and quiescing's garbage and timers settle.
	time.Sleep(2 * time.Second)
	if o.cpuProfile != "" {
		if _, err := c.each(func(i int) request {
			return request{Op: "profile", Profile: fmt.Sprintf("%s.idle.%d.%d", o.cpuProfile, i+1, r)}
		}); err != nil {
			return run, err
		}
	}
	before, err := c.all(request{Op: "counters"})
	if err != nil {
		return run, err
	}
	start := time.Now()
	time.Sleep(o.idleWindow)
	after, err := c.all(request{Op: "counters"})
	if err != nil {
		return run, err
	}
	window := time.Since(start)
	if o.cpuProfile != "" {
		if _, err := c.all(request{Op: "profile"}); err != nil {
			return run, err
		}
	}
	heap, err := c.each(func(i int) request {
		req := request{Op: "heap"}
		if o.cpuProfile != "" {
			req.Profile = fmt.Sprintf("%s.heap.%d.%d", o.cpuProfile, i+1, r)
		}
		return req
	})
	if err != nil {
		return run, err
	}
	for h := range after {
		if after[h].Quiesced != int64(o.idleGroups) {
			logf("idle run %d: host %d has %d of %d replicas quiesced at the end", r, h+1, after[h].Quiesced, o.idleGroups)
		}
		run.cpuPercent[h] = 100 * float64(after[h].CPUNanos-before[h].CPUNanos) / float64(window)
		run.savesPerSec[h] = float64(after[h].Saves-before[h].Saves) / window.Seconds()
		run.heapPerGroup[h] = (float64(heap[h].HeapBytes) - float64(empty[h].HeapBytes)) / float64(o.idleGroups)
	}
	return run, nil
}

// loadRun is one throughput run: proposals per second, latency quantiles,
// CPU per proposal, storage writes per second per host.
type loadRun struct {
	opsPerSec      float64
	cpuPerOp       float64 // nanoseconds
	p50, p99, p999 float64 // nanoseconds
	savesPerSec    []float64
	// entriesPerSave and saveTook: entries per storage write and its mean
	// duration (write and fsync), over all hosts.
	entriesPerSave float64
	saveTook       float64
	errors         int64
	lastError      string
}

func combine(resps []response, duration time.Duration) loadRun {
	var run loadRun
	var lat []int64
	var ops, cpu, saves, saved, took int64
	for _, r := range resps {
		saves, saved, took = saves+r.Saves, saved+r.SavedEntries, took+r.SaveTookNanos
		ops += r.Ops
		cpu += r.CPUNanos
		lat = append(lat, r.Latencies...)
		run.savesPerSec = append(run.savesPerSec, float64(r.Saves)/duration.Seconds())
		run.errors += r.Errors
		if r.LastError != "" {
			run.lastError = r.LastError
		}
	}
	run.opsPerSec = float64(ops) / duration.Seconds()
	if saves > 0 {
		run.entriesPerSave, run.saveTook = float64(saved)/float64(saves), float64(took)/float64(saves)
	}
	if ops > 0 {
		run.cpuPerOp = float64(cpu) / float64(ops)
	}
	slices.Sort(lat)
	run.p50, run.p99, run.p999 = quantile(lat, 0.5), quantile(lat, 0.99), quantile(lat, 0.999)
	return run
}

func quantile(sorted []int64, q float64) float64 {
	if len(sorted) == 0 {
		return 0
	}
	return float64(sorted[int(q*float64(len(sorted)-1))])
}

func (r loadRun) String() string {
	s := fmt.Sprintf("%.0f/s, CPU %.1f µs/op, p50 %v p99 %v p99.9 %v, storage writes/s %.0f (%.1f entries, %v each)",
		r.opsPerSec, r.cpuPerOp/1e3, dur(r.p50), dur(r.p99), dur(r.p999), r.savesPerSec, r.entriesPerSave, dur(r.saveTook))
	if r.errors > 0 {
		s += fmt.Sprintf(", %d errors (last: %s)", r.errors, r.lastError)
	}
	return s
}

func activeScenario(o options, report *strings.Builder) error {
	maxGroups := slices.Max(o.activeGroups)
	results := map[int][]loadRun{}
	for r := 0; r < o.runs; r++ {
		if err := activeOnce(o, r, maxGroups, results); err != nil {
			return err
		}
	}
	fmt.Fprintf(report, "Active: groups 1..N of %d on 3 hosts (the others quiesced), leaders spread round-robin over the hosts; closed-loop clients in the leaders' processes calling host.Propose with %d-byte commands, %v measured after %v of warm-up.\n\n",
		maxGroups, o.payload, o.duration, o.warmup)
	fmt.Fprintln(report, "| groups | clients | committed proposals/s | storage writes/s per host (each one fsync) | entries per write | write+fsync | CPU µs/proposal, 3 hosts | p50 | p99 | errors |")
	fmt.Fprintln(report, "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
	for _, n := range o.activeGroups {
		runs := results[n]
		var ops, saves, cpu, p50, p99, perSave, took []float64
		var errs int64
		for _, run := range runs {
			ops, cpu, p50, p99 = append(ops, run.opsPerSec), append(cpu, run.cpuPerOp/1e3), append(p50, run.p50), append(p99, run.p99)
			saves = append(saves, run.savesPerSec...)
			perSave, took = append(perSave, run.entriesPerSave), append(took, run.saveTook)
			errs += run.errors
		}
		fmt.Fprintf(report, "| %d | %d | %s | %s | %.1f | %v | %s | %v | %v | %d |\n", n, activeClients(o, n)*n, spread(ops, "%.0f"),
			spread(saves, "%.0f"), median(perSave), dur(median(took)), spread(cpu, "%.1f"), dur(median(p50)), dur(median(p99)), errs)
	}
	fmt.Fprintln(report)
	return nil
}

// activeClients is how many clients each of n groups gets.
func activeClients(o options, n int) int { return max(1, o.activeClients/n) }

func activeOnce(o options, r, maxGroups int, results map[int][]loadRun) error {
	c, err := startCluster(o, "active")
	if err != nil {
		return err
	}
	defer c.stop()
	if err := c.startGroups(maxGroups); err != nil {
		return err
	}
	if err := c.spreadLeaders(maxGroups); err != nil {
		return err
	}
	for _, n := range o.activeGroups {
		if err := c.waitQuiesced(maxGroups, 2*time.Minute); err != nil {
			logf("active run %d, %d groups: %v; measuring anyway", r, n, err)
		}
		led, err := c.leaders(n)
		if err != nil {
			return err
		}
		perGroup := activeClients(o, n)
		if o.cpuProfile != "" {
			if _, err := c.each(func(i int) request {
				return request{Op: "profile", Profile: fmt.Sprintf("%s.active%d.%d.%d", o.cpuProfile, n, i+1, r)}
			}); err != nil {
				return err
			}
		}
		resps, err := c.each(func(i int) request {
			return request{Op: "load", Groups: led[i], Clients: perGroup * len(led[i]), Payload: o.payload,
				Warmup: o.warmup, Duration: o.duration}
		})
		if err != nil {
			return err
		}
		if o.cpuProfile != "" {
			if _, err := c.all(request{Op: "profile"}); err != nil {
				return err
			}
		}
		run := combine(resps, o.duration)
		logf("active run %d, %d groups, %d clients: %v", r, n, perGroup*n, run)
		results[n] = append(results[n], run)
	}
	return nil
}

// singleSystems are the two sides of the single scenario.
var singleSystems = []string{"host", "kvstore"}

func singleScenario(o options, report *strings.Builder) error {
	if o.kvstoreBin == "" {
		return fmt.Errorf("needs -kvstore-bin (build examples/kvstore of the revision to compare with)")
	}
	results := map[string]map[int][]loadRun{"host": {}, "kvstore": {}}
	for r := 0; r < o.runs; r++ {
		for i := range singleSystems {
			sys := singleSystems[(i+r)%len(singleSystems)] // alternate the order
			if err := singleOnce(o, r, sys, results[sys]); err != nil {
				return fmt.Errorf("%s: %w", sys, err)
			}
		}
	}
	fmt.Fprintf(report, "Single group, 3 hosts on loopback, fsync on: closed-loop HTTP PUTs of %d-byte values to the leader, from this process; %v measured after %v of warm-up; host and kvstore alternating run by run. CPU/op is the three server processes' CPU time per PUT (the client's excluded).\n\n",
		o.payload, o.duration, o.warmup)
	fmt.Fprintln(report, "| system | clients | PUT/s | p50 | p99 | p99.9 | CPU µs/op | errors |")
	fmt.Fprintln(report, "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
	for _, n := range o.singleClients {
		for _, sys := range singleSystems {
			runs := results[sys][n]
			var ops, p50, p99, p999, cpu []float64
			var errs int64
			for _, run := range runs {
				ops, cpu = append(ops, run.opsPerSec), append(cpu, run.cpuPerOp/1e3)
				p50, p99, p999 = append(p50, run.p50), append(p99, run.p99), append(p999, run.p999)
				errs += run.errors
			}
			fmt.Fprintf(report, "| %s | %d | %s | %v | %v | %v | %s | %d |\n", sys, n, spread(ops, "%.0f"),
				dur(median(p50)), dur(median(p99)), dur(median(p999)), spread(cpu, "%.0f"), errs)
		}
	}
	fmt.Fprintln(report)
	for _, n := range o.singleClients {
		h, k := results["host"][n], results["kvstore"][n]
		var ratio []float64
		for i := range min(len(h), len(k)) {
			ratio = append(ratio, h[i].opsPerSec/k[i].opsPerSec)
		}
		fmt.Fprintf(report, "- %d clients: host ÷ kvstore throughput %s (per run pair); host p99.9 %v against kvstore p99 %v.\n",
			n, spread(ratio, "%.2f×"), dur(median(pick(h, func(r loadRun) float64 { return r.p999 }))),
			dur(median(pick(k, func(r loadRun) float64 { return r.p99 }))))
	}
	fmt.Fprintln(report)
	return nil
}

func pick(runs []loadRun, f func(loadRun) float64) []float64 {
	var out []float64
	for _, r := range runs {
		out = append(out, f(r))
	}
	return out
}

func singleOnce(o options, r int, sys string, results map[int][]loadRun) error {
	var url string
	var pids []int
	if sys == "host" {
		c, err := startCluster(o, "single")
		if err != nil {
			return err
		}
		defer c.stop()
		if err := c.startGroups(1); err != nil {
			return err
		}
		fronts, err := c.all(request{Op: "http"})
		if err != nil {
			return err
		}
		led, err := c.leaders(1)
		if err != nil {
			return err
		}
		for i := range led {
			if len(led[i]) == 1 {
				url = "http://" + fronts[i].Addr
			}
		}
		pids = c.pids()
	} else {
		k, err := startKVStore(o.kvstoreBin)
		if err != nil {
			return err
		}
		defer k.stop()
		addr, err := k.leader(30 * time.Second)
		if err != nil {
			return err
		}
		url, pids = "http://"+addr, k.pids()
	}
	if url == "" {
		return fmt.Errorf("no leader")
	}
	for _, n := range o.singleClients {
		resp, err := httpLoad(url, pids, n, o.payload, o.warmup, o.duration)
		if err != nil {
			return err
		}
		run := combine([]response{resp}, o.duration)
		logf("single run %d, %s, %d clients: %v", r, sys, n, run)
		results[n] = append(results[n], run)
	}
	return nil
}

func median(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	s := slices.Clone(v)
	slices.Sort(s)
	return s[len(s)/2]
}

// spread formats the median of v and its range.
func spread(v []float64, format string) string {
	if len(v) == 0 {
		return "–"
	}
	return fmt.Sprintf(format+" ("+format+".."+format+")", median(v), slices.Min(v), slices.Max(v))
}

// dur formats nanoseconds as a duration of 3 significant digits.
func dur(ns float64) time.Duration {
	d := time.Duration(ns)
	switch {
	case d >= time.Second:
		return d.Round(10 * time.Millisecond)
	case d >= time.Millisecond:
		return d.Round(10 * time.Microsecond)
	default:
		return d.Round(time.Microsecond)
	}
}
