package main

import (
	"bufio"
	"crypto/rand"
	"fmt"
	"io"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// result is one run of one engine on one workload.
type result struct {
	entriesPerSec float64
	mbPerSec      float64
	p50, p99      time.Duration
	cpuPerEntry   time.Duration
	fsyncsPer     float64
	ampLogical    float64 // bytes handed to write(2) per payload byte
	ampDevice     float64 // bytes reaching the block layer per payload byte
}

func (r result) String() string {
	return fmt.Sprintf("%9.0f entries/s %7.1f MB/s p50 %8v p99 %8v cpu %6v/entry %.3f fsyncs/entry amp %.2f (device %.1f)",
		r.entriesPerSec, r.mbPerSec, r.p50, r.p99, r.cpuPerEntry, r.fsyncsPer, r.ampLogical, r.ampDevice)
}

// maxSamples bounds the latencies kept per writer and run.
const maxSamples = 1 << 20

// measure runs writers goroutines on a fresh store of engine e for d after
// a short warm-up.
func measure(e engine, base string, writers, size int, d time.Duration) (result, error) {
	dir, err := os.MkdirTemp(base, "walbench-")
	if err != nil {
		return result{}, err
	}
	defer os.RemoveAll(dir)
	st, err := e.open(dir, writers)
	if err != nil {
		return result{}, err
	}
	data := make([]byte, size)
	if _, err := rand.Read(data); err != nil {
		return result{}, err
	}
	var (
		phase    atomic.Int32 // 0 warm-up, 1 measuring, 2 stop
		counts   = make([]int64, writers)
		samples  = make([][]time.Duration, writers)
		firstErr error
		errOnce  sync.Once
		wg       sync.WaitGroup
	)
	for w := 0; w < writers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			lat := make([]time.Duration, 0, 4096)
			for index := uint64(1); phase.Load() < 2; index++ {
				t0 := time.Now()
				if err := st.save(w, index, 1, data); err != nil {
					errOnce.Do(func() { firstErr = err })
					phase.Store(2)
					return
				}
				if phase.Load() == 1 {
					counts[w]++
					if len(lat) < maxSamples {
						lat = append(lat, time.Since(t0))
					}
				}
			}
			samples[w] = lat
		}(w)
	}
	time.Sleep(d / 5)
	before := snapshotCounters(st)
	start := time.Now()
	phase.Store(1)
	time.Sleep(d)
	phase.Store(2)
	elapsed := time.Since(start)
	after := snapshotCounters(st)
	wg.Wait()
	if err := st.close(); err != nil && firstErr == nil {
		firstErr = err
	}
	if firstErr != nil {
		return result{}, firstErr
	}
	var n int64
	var all []time.Duration
	for w := range counts {
		n += counts[w]
		all = append(all, samples[w]...)
	}
	if n == 0 {
		return result{}, fmt.Errorf("no entry written in %v", d)
	}
	sort.Slice(all, func(i, j int) bool { return all[i] < all[j] })
	payload := float64(n) * float64(size)
	return result{
		entriesPerSec: float64(n) / elapsed.Seconds(),
		mbPerSec:      payload / 1e6 / elapsed.Seconds(),
		p50:           all[len(all)/2],
		p99:           all[len(all)*99/100],
		cpuPerEntry:   (after.cpu - before.cpu) / time.Duration(n),
		fsyncsPer:     float64(after.fsyncs-before.fsyncs) / float64(n),
		ampLogical:    float64(after.wchar-before.wchar) / payload,
		ampDevice:     float64(after.writeBytes-before.writeBytes) / payload,
	}, nil
}

type counters struct {
	cpu               time.Duration
	fsyncs            uint64
	wchar, writeBytes int64
}

func snapshotCounters(st store) counters {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	c := counters{
		cpu:    time.Duration(ru.Utime.Nano() + ru.Stime.Nano()),
		fsyncs: st.fsyncs(),
	}
	c.wchar, c.writeBytes = procIO()
	return c
}

// procIO reads the bytes this process handed to write(2) and the bytes it
// caused to reach the block layer.
func procIO() (wchar, writeBytes int64) {
	f, err := os.Open("/proc/self/io")
	if err != nil {
		return 0, 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ": ")
		if !ok {
			continue
		}
		n, _ := strconv.ParseInt(v, 10, 64)
		switch k {
		case "wchar":
			wchar = n
		case "write_bytes":
			writeBytes = n
		}
	}
	return wchar, writeBytes
}

// median takes the median of each figure separately.
func median(rs []result) result {
	pick := func(f func(result) float64) float64 {
		v := make([]float64, len(rs))
		for i, r := range rs {
			v[i] = f(r)
		}
		sort.Float64s(v)
		return v[len(v)/2]
	}
	return result{
		entriesPerSec: pick(func(r result) float64 { return r.entriesPerSec }),
		mbPerSec:      pick(func(r result) float64 { return r.mbPerSec }),
		p50:           time.Duration(pick(func(r result) float64 { return float64(r.p50) })),
		p99:           time.Duration(pick(func(r result) float64 { return float64(r.p99) })),
		cpuPerEntry:   time.Duration(pick(func(r result) float64 { return float64(r.cpuPerEntry) })),
		fsyncsPer:     pick(func(r result) float64 { return r.fsyncsPer }),
		ampLogical:    pick(func(r result) float64 { return r.ampLogical }),
		ampDevice:     pick(func(r result) float64 { return r.ampDevice }),
	}
}

type row struct {
	engine        string
	writers, size int
	r             result
}

// printTable prints the rows as Markdown, with wal's entries/s over the
// best other engine's on the wal row of each workload.
func printTable(w io.Writer, rows []row) {
	fmt.Fprintln(w, "| writers | entry | engine | entries/s | MB/s | p50 | p99 | CPU/entry | fsyncs/entry | write amp. | device bytes/payload byte | wal ÷ best other |")
	fmt.Fprintln(w, "| ---: | ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
	for i, rw := range rows {
		ratio := ""
		if rw.engine == "wal" {
			best := 0.0
			for _, o := range rows {
				if o.writers == rw.writers && o.size == rw.size && o.engine != "wal" && o.r.entriesPerSec > best {
					best = o.r.entriesPerSec
				}
			}
			if best > 0 {
				ratio = fmt.Sprintf("%.2f×", rw.r.entriesPerSec/best)
			}
		}
		r := rw.r
		fmt.Fprintf(w, "| %d | %s | %s | %.0f | %.1f | %s | %s | %s | %.3f | %.3f | %.1f | %s |\n",
			rw.writers, sizeName(rw.size), rw.engine, r.entriesPerSec, r.mbPerSec, round(r.p50), round(r.p99),
			round(r.cpuPerEntry), r.fsyncsPer, r.ampLogical, r.ampDevice, ratio)
		_ = i
	}
}

func sizeName(size int) string {
	if size%1024 == 0 {
		return fmt.Sprintf("%d KiB", size/1024)
	}
	return fmt.Sprintf("%d B", size)
}

func round(d time.Duration) time.Duration {
	switch {
	case d >= time.Millisecond:
		return d.Round(10 * time.Microsecond)
	case d >= time.Microsecond:
		return d.Round(100 * time.Nanosecond)
	}
	return d
}

// measureRecovery fills a fresh store with about target bytes of payload
// from 16 writers of 4 KiB entries (64 entries per call, to fill it fast),
// closes it and times its reopening.
func measureRecovery(e engine, base string, target int64) (int64, time.Duration, error) {
	dir, err := os.MkdirTemp(base, "walbench-recovery-")
	if err != nil {
		return 0, 0, err
	}
	defer os.RemoveAll(dir)
	const groups, size = 16, 4096
	st, err := e.open(dir, groups)
	if err != nil {
		return 0, 0, err
	}
	data := make([]byte, size)
	if _, err := rand.Read(data); err != nil {
		return 0, 0, err
	}
	const perCall = 64
	perGroup := uint64(target/groups/size) / perCall * perCall
	var wg sync.WaitGroup
	errs := make(chan error, groups)
	for g := 0; g < groups; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			for index := uint64(1); index <= perGroup; index += perCall {
				if err := st.save(g, index, perCall, data); err != nil {
					errs <- err
					return
				}
			}
		}(g)
	}
	wg.Wait()
	close(errs)
	if err := <-errs; err != nil {
		return 0, 0, err
	}
	if err := st.close(); err != nil {
		return 0, 0, err
	}
	start := time.Now()
	if err := e.recover(dir, groups); err != nil {
		return 0, 0, err
	}
	return int64(perGroup) * groups * size, time.Since(start), nil
}
