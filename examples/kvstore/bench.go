package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"math/rand"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/pontoon-raft/raft/examples/kvstore/internal/server"
)

// bench measures the service on a cluster of child processes on loopback,
// fsync on: throughput, latency and server CPU per operation at several
// client counts (PUT only, and half linearizable GETs), the write
// unavailability after SIGKILLs of a node leading shards, and the
// throughput before and after the cluster grows from 3 to 5 nodes. Every
// request goes to the leader of its key's shard (closed loop).
func bench(args []string) error {
	fs := flag.NewFlagSet("bench", flag.ExitOnError)
	duration := fs.Duration("duration", 5*time.Second, "measured time per row")
	clientsFlag := fs.String("clients", "1,16,128", "comma-separated client counts")
	valueBytes := fs.Int("value-bytes", 128, "size of each value")
	shards := fs.Int("shards", 64, "number of shards")
	kills := fs.Int("kills", 20, "SIGKILLs for the unavailability measure (0: skip)")
	grow := fs.Bool("grow", true, "measure PUTs on 3 nodes, then on 5")
	growClients := fs.String("grow-clients", "128,256", "comma-separated client counts of the 3 -> 5 node rows")
	withEtcd := fs.Bool("etcd", true, "compare with etcd v3.6 (builds etcdnode; run from examples/kvstore)")
	rounds := fs.Int("rounds", 1, "measurements of each row (alternating with etcd); the median is shown")
	profile := fs.String("profile", "", "directory to write each node's CPU profile of each kvstore row into")
	nodeCPU := fs.Float64("node-cpu", 0, "cap each kvstore node at this many cores with a cgroup (root; 0: no cap), standing for a machine per node")
	plain := fs.Bool("plain", false, "run kvstore as etcd runs by default: plaintext between nodes and to clients, no token")
	if err := fs.Parse(args); err != nil {
		return err
	}
	counts, err := parseCounts(*clientsFlag)
	if err != nil {
		return err
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
	c.plain, c.nodeCPU = *plain, *nodeCPU
	defer c.stopAll()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	for _, id := range c.nodes() {
		if err := c.start(ctx, id); err != nil {
			return err
		}
	}
	lead, err := c.waitBalanced(ctx)
	if err != nil {
		return err
	}
	value := strings.Repeat("v", *valueBytes)
	var etcd *etcdCluster
	if *withEtcd {
		if etcd, err = startEtcd(ctx, dir); err != nil {
			return err
		}
		defer etcd.stop()
	}
	security := "mutual TLS between nodes, HTTPS + token for clients"
	if *plain {
		security = "plaintext between nodes and to clients (--plain)"
	}
	if *nodeCPU > 0 {
		security += fmt.Sprintf(", each node capped at %.2f cores (--node-cpu)", *nodeCPU)
	}
	fmt.Printf("3 nodes on loopback, %d shards, fsync on, %s,\n", *shards, security)
	fmt.Printf("%d-byte values, each request sent to its shard's leader, %v per row", *valueBytes, *duration)
	if etcd != nil {
		fmt.Printf("; etcd v3.6 (embed, defaults, fsync on), 3 members,\nplain HTTP through its JSON gateway to the leader; the two alternate, %d rounds, medians", *rounds)
	}
	fmt.Println()
	fmt.Println()
	fmt.Println("| system | workload | clients | ops/s | p50 | p99 | p99.9 | server CPU µs/op | errors |")
	fmt.Println("| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
	for _, getPercent := range []int{0, 50} {
		workload := fmt.Sprintf("%d%% GET", getPercent)
		for _, n := range counts {
			var ours, theirs []benchResult
			for r := 0; r < *rounds; r++ {
				var done func() error
				if *profile != "" {
					name := fmt.Sprintf("get%d-clients%d-round%d", getPercent, n, r)
					done = c.profile(*profile, name, *duration)
				}
				ours = append(ours, runBench(kvTarget{c, lead}, n, *duration, value, getPercent))
				if done != nil {
					if err := done(); err != nil {
						return err
					}
				}
				if etcd != nil {
					theirs = append(theirs, runBench(etcd, n, *duration, value, getPercent))
				}
			}
			median(ours).print("kvstore | "+workload, n, *duration)
			if etcd != nil {
				median(theirs).print("etcd | "+workload, n, *duration)
			}
		}
	}
	if *kills > 0 {
		if err := measureKills(c, *kills, value); err != nil {
			return err
		}
	}
	if *grow {
		gc, err := parseCounts(*growClients)
		if err != nil {
			return err
		}
		return measureGrowth(c, *duration, value, gc, *profile)
	}
	return nil
}

type benchResult struct {
	latencies []time.Duration
	errors    int
	lastError string
	cpu       time.Duration // user+sys of the server processes
}

func (r benchResult) percentile(p float64) time.Duration {
	if len(r.latencies) == 0 {
		return 0
	}
	i := int(p * float64(len(r.latencies)-1))
	return r.latencies[i].Round(10 * time.Microsecond)
}

// median returns the result of rs with the median throughput.
func median(rs []benchResult) benchResult {
	rs = slices.Clone(rs)
	slices.SortFunc(rs, func(a, b benchResult) int { return len(a.latencies) - len(b.latencies) })
	return rs[len(rs)/2]
}

func (r benchResult) print(workload string, clients int, d time.Duration) {
	ops := len(r.latencies)
	cpu := 0.0
	if ops > 0 {
		cpu = float64(r.cpu.Microseconds()) / float64(ops)
	}
	fmt.Printf("| %s | %d | %.0f | %v | %v | %v | %.0f | %d |\n", workload, clients, float64(ops)/d.Seconds(),
		r.percentile(0.50), r.percentile(0.99), r.percentile(0.999), cpu, r.errors)
	if r.errors > 0 {
		fmt.Fprintf(os.Stderr, "%s, %d clients: last error: %s\n", workload, clients, r.lastError)
	}
}

// cpuTime returns the user+sys time of the cluster's processes.
func (c *cluster) cpuTime() time.Duration {
	var pids []int
	for _, id := range c.live() {
		c.mu.Lock()
		if p := c.procs[id]; p != nil {
			pids = append(pids, p.cmd.Process.Pid)
		}
		c.mu.Unlock()
	}
	return processesCPU(pids)
}

// benchTarget is a system under test.
type benchTarget interface {
	put(ctx context.Context, key, value string) error
	get(ctx context.Context, key string) error
	cpuTime() time.Duration
}

// kvTarget sends each request to the leader of its key's shard.
type kvTarget struct {
	c    *cluster
	lead map[int]uint64
}

func (t kvTarget) put(ctx context.Context, key, value string) error {
	code, err := t.c.put(ctx, t.lead[server.ShardOf(key, t.c.shards)], key, value)
	if err == nil && code != http.StatusNoContent {
		err = fmt.Errorf("PUT: HTTP %d", code)
	}
	return err
}

func (t kvTarget) get(ctx context.Context, key string) error {
	_, code, err := t.c.get(ctx, t.lead[server.ShardOf(key, t.c.shards)], key, false)
	if err == nil && code != http.StatusOK && code != http.StatusNotFound {
		err = fmt.Errorf("GET: HTTP %d", code)
	}
	return err
}

func (t kvTarget) cpuTime() time.Duration { return t.c.cpuTime() }

// warmUp is how long each row's clients run before the measured time, so
// that connections (and TLS sessions) are open when it starts.
const warmUp = time.Second

func runBench(t benchTarget, clients int, d time.Duration, value string, getPercent int) benchResult {
	ctx, cancel := context.WithTimeout(context.Background(), warmUp+d)
	defer cancel()
	var mu sync.Mutex
	var res benchResult
	var wg sync.WaitGroup
	measureFrom := time.Now().Add(warmUp)
	for i := 0; i < clients; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			rng := rand.New(rand.NewSource(int64(i)))
			var lat []time.Duration
			errs, lastErr := 0, ""
			for n := 0; ctx.Err() == nil; n++ {
				key := fmt.Sprintf("bench-%d-%d", i, n)
				get := n > 0 && rng.Intn(100) < getPercent
				if get {
					key = fmt.Sprintf("bench-%d-%d", i, rng.Intn(n))
				}
				t0 := time.Now()
				var err error
				if get {
					err = t.get(context.Background(), key)
				} else {
					err = t.put(context.Background(), key, value)
				}
				if t0.Before(measureFrom) {
					continue
				}
				if err != nil {
					errs++
					lastErr = err.Error()
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
	time.Sleep(time.Until(measureFrom))
	cpu0 := t.cpuTime()
	wg.Wait()
	res.cpu = t.cpuTime() - cpu0
	slices.Sort(res.latencies)
	return res
}

// measureKills SIGKILLs, kills times, a node leading shards, and times a
// write to one of its shards sent to another node right after the kill: it
// completes once a new leader is elected and the host proposes it again.
// The node is restarted and leaderships balanced before the next kill.
func measureKills(c *cluster, kills int, value string) error {
	keyOf := shardKeys(c.shards)
	var took []time.Duration
	for k := 0; k < kills; k++ {
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		lead, err := c.waitBalanced(ctx)
		if err != nil {
			cancel()
			return err
		}
		ids := c.nodes()
		victim := ids[k%len(ids)]
		shard := -1
		for s := 0; s < c.shards; s++ {
			if lead[s] == victim {
				shard = s
				break
			}
		}
		via := ids[(k+1)%len(ids)]
		c.kill(victim)
		t0 := time.Now()
		code, err := c.put(ctx, via, keyOf[shard], value)
		if err != nil || code != http.StatusNoContent {
			cancel()
			return fmt.Errorf("write after kill %d: HTTP %d, %v", k, code, err)
		}
		took = append(took, time.Since(t0))
		if err := c.start(ctx, victim); err != nil {
			cancel()
			return err
		}
		if err := c.waitCaughtUp(ctx); err != nil {
			cancel()
			return err
		}
		cancel()
	}
	slices.Sort(took)
	fmt.Printf("\nwrite unavailability after SIGKILL of a shard's leader (write sent through another node at the kill), %d kills:\n", kills)
	fmt.Printf("p50 %v, p99 %v, max %v\n", took[len(took)/2].Round(time.Millisecond),
		took[(len(took)-1)*99/100].Round(time.Millisecond), took[len(took)-1].Round(time.Millisecond))
	return nil
}

// parseCounts parses a comma-separated list of client counts.
func parseCounts(list string) ([]int, error) {
	var counts []int
	for _, s := range strings.Split(list, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil || n <= 0 {
			return nil, fmt.Errorf("bad client count %q", s)
		}
		counts = append(counts, n)
	}
	return counts, nil
}

// measureGrowth measures clients of PUTs on the cluster, adds nodes
// until there are 5, waits for balanced replicas and leaderships, and
// measures again.
func measureGrowth(c *cluster, d time.Duration, value string, clients []int, profile string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	fmt.Println("\n| nodes | clients | PUT/s | p50 | p99 | p99.9 | server CPU µs/op | errors |")
	fmt.Println("| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
	row := func() error {
		lead, err := c.waitBalanced(ctx)
		if err != nil {
			return err
		}
		for _, n := range clients {
			var done func() error
			if profile != "" {
				done = c.profile(profile, fmt.Sprintf("grow-nodes%d-clients%d", len(c.live()), n), d)
			}
			runBench(kvTarget{c, lead}, n, d, value, 0).print(strconv.Itoa(len(c.live())), n, d)
			if done != nil {
				if err := done(); err != nil {
					return err
				}
			}
		}
		return nil
	}
	if err := row(); err != nil {
		return err
	}
	for len(c.nodes()) < 5 {
		if _, err := c.addNode(ctx, 1); err != nil {
			return err
		}
	}
	want := c.shards * 3 / 5
	if err := poll(ctx, 200*time.Millisecond, func() error {
		r, err := c.replicas(ctx)
		if err != nil {
			return err
		}
		count := map[uint64]int{}
		for _, nodes := range r {
			for _, id := range nodes {
				count[id]++
			}
		}
		for _, id := range c.nodes() {
			if count[id] < want {
				return fmt.Errorf("node %d holds %d replicas", id, count[id])
			}
		}
		return nil
	}); err != nil {
		return err
	}
	// The mover then evens out preferred leaderships: wait until the map
	// has not changed for 3 s.
	version, since := -1, time.Now()
	if err := poll(ctx, 200*time.Millisecond, func() error {
		body, _, err := c.do(ctx, http.MethodGet, c.url(1, "/members"), nil)
		if err != nil {
			return err
		}
		var m struct{ Version int }
		if err := json.Unmarshal(body, &m); err != nil {
			return err
		}
		if m.Version != version {
			version, since = m.Version, time.Now()
		}
		if time.Since(since) < 3*time.Second {
			return errors.New("the cluster map is still changing")
		}
		return nil
	}); err != nil {
		return err
	}
	return row()
}

// profile starts a CPU profile of every live node lasting about d and
// returns a function that waits for them and writes them to
// dir/name-node<id>.pprof.
func (c *cluster) profile(dir, name string, d time.Duration) func() error {
	secs := max(1, int(d.Seconds()))
	var wg sync.WaitGroup
	ids := c.live()
	errs := make(chan error, len(ids))
	for _, id := range ids {
		wg.Add(1)
		go func() {
			defer wg.Done()
			body, code, err := c.do(context.Background(), http.MethodGet,
				c.url(id, fmt.Sprintf("/debug/pprof/profile?seconds=%d", secs)), nil)
			if err == nil && code != http.StatusOK {
				err = fmt.Errorf("profile of node %d: HTTP %d: %s", id, code, body)
			}
			if err == nil {
				err = os.WriteFile(filepath.Join(dir, fmt.Sprintf("%s-node%d.pprof", name, id)), body, 0o644)
			}
			if err != nil {
				errs <- err
			}
		}()
	}
	return func() error {
		wg.Wait()
		close(errs)
		return <-errs
	}
}
