package main

import (
	"context"
	"fmt"
	"math/rand"
	"sort"
	"sync"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"
)

// workload is what the clients send.
type workload struct {
	name        string
	readPercent int // linearizable GETs; the rest are PUTs
}

var (
	putOnly = workload{name: "put", readPercent: 0}
	mixed   = workload{name: "mixed", readPercent: 50}
)

const (
	valueBytes = 128
	keySpace   = 100000
	// clientsPerConn is how many clients share one gRPC connection.
	clientsPerConn = 8
)

// loadResult is what one measured run of a workload produced.
type loadResult struct {
	ops       int
	errors    int
	elapsed   time.Duration
	latencies []time.Duration // sorted
	server    counters
}

// opsPerSecond is the throughput of the run.
func (r loadResult) opsPerSecond() float64 { return float64(r.ops) / r.elapsed.Seconds() }

// perOp divides a server total by the operations of the run.
func (r loadResult) perOp(total float64) float64 { return total / float64(r.ops) }

// runLoad runs clients closed-loop clients of w against the leader for
// warmup (not measured), then for duration, and samples the servers'
// counters around the measured part. If profile is not empty, it also
// writes a CPU profile of the leader over the measured part there.
func runLoad(c *cluster, leader *member, w workload, clients int, warmup, duration time.Duration, profile string) (loadResult, error) {
	conns := (clients + clientsPerConn - 1) / clientsPerConn
	clis := make([]*clientv3.Client, conns)
	for i := range clis {
		cli, err := clientv3.New(clientv3.Config{Endpoints: []string{leader.clientURL}, DialTimeout: 5 * time.Second, Logger: zap.NewNop()})
		if err != nil {
			return loadResult{}, err
		}
		defer cli.Close()
		clis[i] = cli
	}
	value := string(make([]byte, valueBytes))
	var (
		mu        sync.Mutex
		measuring bool
		stopped   bool
		res       loadResult
		wg        sync.WaitGroup
	)
	for i := 0; i < clients; i++ {
		wg.Add(1)
		go func(cli *clientv3.Client, seed int64) {
			defer wg.Done()
			rng := rand.New(rand.NewSource(seed))
			var lat []time.Duration
			errs := 0
			for {
				mu.Lock()
				done, counting := stopped, measuring
				mu.Unlock()
				if done {
					break
				}
				key := fmt.Sprintf("key-%06d", rng.Intn(keySpace))
				ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				start := time.Now()
				var err error
				if rng.Intn(100) < w.readPercent {
					_, err = cli.Get(ctx, key)
				} else {
					_, err = cli.Put(ctx, key, value)
				}
				d := time.Since(start)
				cancel()
				if !counting {
					continue
				}
				if err != nil {
					errs++
					continue
				}
				lat = append(lat, d)
			}
			mu.Lock()
			res.latencies = append(res.latencies, lat...)
			res.errors += errs
			mu.Unlock()
		}(clis[i%conns], int64(i+1))
	}
	time.Sleep(warmup)
	before, err := c.sample()
	if err != nil {
		mu.Lock()
		stopped = true
		mu.Unlock()
		wg.Wait()
		return loadResult{}, err
	}
	mu.Lock()
	measuring = true
	mu.Unlock()
	start := time.Now()
	profiled := make(chan error, 1)
	if profile != "" {
		go func() { profiled <- profileCPU(leader, duration, profile) }()
	} else {
		profiled <- nil
	}
	time.Sleep(duration)
	mu.Lock()
	measuring = false
	mu.Unlock()
	res.elapsed = time.Since(start)
	after, err := c.sample()
	mu.Lock()
	stopped = true
	mu.Unlock()
	wg.Wait()
	if err != nil {
		return loadResult{}, err
	}
	if err := <-profiled; err != nil {
		return loadResult{}, err
	}
	res.server = after.sub(before)
	res.ops = len(res.latencies)
	sort.Slice(res.latencies, func(i, j int) bool { return res.latencies[i] < res.latencies[j] })
	if res.ops == 0 {
		return res, fmt.Errorf("%s %s x%d: no operation succeeded (%d errors)", c.variant, w.name, clients, res.errors)
	}
	return res, nil
}

// percentile returns the q-quantile (0 < q <= 1) of sorted latencies: the
// smallest value at least q of them do not exceed.
func percentile(sorted []time.Duration, q float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := int(float64(len(sorted))*q+0.999999999) - 1
	if i < 0 {
		i = 0
	}
	if i >= len(sorted) {
		i = len(sorted) - 1
	}
	return sorted[i]
}
