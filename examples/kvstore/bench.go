package main

import (
	"context"
	"flag"
	"fmt"
	"net/http"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/pontoon-raft/raft/examples/kvstore/internal/server"
)

// bench measures PUT throughput and latency on a 3-node cluster of child
// processes on loopback, with fsync on, at several client counts. Clients
// send to the leader, each waiting for its previous write (closed loop).
func bench(args []string) error {
	fs := flag.NewFlagSet("bench", flag.ExitOnError)
	duration := fs.Duration("duration", 5*time.Second, "measured time per client count")
	clientsFlag := fs.String("clients", "1,16,128", "comma-separated client counts")
	valueBytes := fs.Int("value-bytes", 128, "size of each value")
	shards := fs.Int("shards", 64, "number of shards")
	if err := fs.Parse(args); err != nil {
		return err
	}
	var counts []int
	for _, s := range strings.Split(*clientsFlag, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil || n <= 0 {
			return fmt.Errorf("bad client count %q", s)
		}
		counts = append(counts, n)
	}
	bin, err := os.Executable()
	if err != nil {
		return err
	}
	dir, err := os.MkdirTemp("", "kvstore-bench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	c, err := newCluster(bin, dir, 3, *shards)
	if err != nil {
		return err
	}
	defer c.stopAll()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for _, id := range c.ids {
		if err := c.start(ctx, id); err != nil {
			return err
		}
	}
	lead, err := c.waitBalanced(ctx)
	if err != nil {
		return err
	}
	fmt.Printf("3 nodes on loopback, %d shards, fsync on, %d-byte values, each PUT sent to its shard's leader, %v per run\n\n",
		*shards, *valueBytes, *duration)
	fmt.Println("| clients | PUT/s | p50 | p99 | errors |")
	fmt.Println("| ---: | ---: | ---: | ---: | ---: |")
	value := strings.Repeat("v", *valueBytes)
	for _, n := range counts {
		r := runBench(c, lead, n, *duration, value)
		fmt.Printf("| %d | %.0f | %v | %v | %d |\n", n, float64(len(r.latencies))/duration.Seconds(),
			r.percentile(0.50), r.percentile(0.99), r.errors)
		if r.errors > 0 {
			defer fmt.Printf("\n%d clients: last error: %s\n", n, r.lastError)
		}
	}
	return nil
}

type benchResult struct {
	latencies []time.Duration
	errors    int
	lastError string
}

func (r benchResult) percentile(p float64) time.Duration {
	if len(r.latencies) == 0 {
		return 0
	}
	i := int(p * float64(len(r.latencies)-1))
	return r.latencies[i].Round(10 * time.Microsecond)
}

func runBench(c *cluster, lead map[int]uint64, clients int, d time.Duration, value string) benchResult {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	var mu sync.Mutex
	var res benchResult
	var wg sync.WaitGroup
	for i := 0; i < clients; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			var lat []time.Duration
			errs, lastErr := 0, ""
			for n := 0; ctx.Err() == nil; n++ {
				t0 := time.Now()
				key := fmt.Sprintf("bench-%d-%d", i, n)
				code, err := c.put(context.Background(), lead[server.ShardOf(key, c.shards)], key, value)
				if err != nil || code != http.StatusNoContent {
					errs++
					lastErr = fmt.Sprintf("HTTP %d, %v", code, err)
					continue
				}
				lat = append(lat, time.Since(t0))
			}
			mu.Lock()
			res.latencies = append(res.latencies, lat...)
			res.errors += errs
			if lastErr != "" {
				res.lastError = lastErr
			}
			mu.Unlock()
		}(i)
	}
	wg.Wait()
	sort.Slice(res.latencies, func(a, b int) bool { return res.latencies[a] < res.latencies[b] })
	return res
}
