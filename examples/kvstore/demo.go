package main

import (
	"context"
	"flag"
	"fmt"
	"net/http"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/pontoon-raft/raft/examples/kvstore/internal/server"
)

// demo starts 3 nodes as child processes on loopback (mutual TLS between
// them, HTTPS and a token for clients), shows the shards and their leaders,
// writes, SIGKILLs a node that leads shards while writing to them, shows
// the new leaders, restarts the node, and checks that every acknowledged
// write is on every replica.
func demo(args []string) error {
	fs := flag.NewFlagSet("demo", flag.ExitOnError)
	keep := fs.Bool("keep", false, "keep the data directories and logs")
	shards := fs.Int("shards", 12, "number of shards")
	if err := fs.Parse(args); err != nil {
		return err
	}
	bin, err := os.Executable()
	if err != nil {
		return err
	}
	dir, err := os.MkdirTemp("", "kvstore-demo-")
	if err != nil {
		return err
	}
	if *keep {
		defer fmt.Printf("data and logs kept in %s\n", dir)
	} else {
		defer os.RemoveAll(dir)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()

	start := time.Now()
	say := func(format string, args ...interface{}) {
		fmt.Printf("[%6.2fs] %s\n", time.Since(start).Seconds(), fmt.Sprintf(format, args...))
	}
	c, err := newCluster(bin, dir, 3, *shards, "--tick", "50ms", "--snapshot-entries", "10", "--snapshot-catchup", "2")
	if err != nil {
		return err
	}
	defer c.stopAll()
	say("CA and node certificates written to %s (mutual TLS between nodes; HTTPS + bearer token for clients)", c.certDir())
	for _, id := range c.ids {
		if err := c.start(ctx, id); err != nil {
			return err
		}
		say("node %d started: API https://%s, Raft %s (data in %s/node%d)", id, c.member(id).HTTP, c.member(id).Raft, dir, id)
	}
	lead, err := c.waitBalanced(ctx)
	if err != nil {
		return err
	}
	say("%d shards, each a Raft group on 3 nodes; leaderships spread by transfers:", *shards)
	printLeaders(lead, c.ids)

	_, code, err := c.doToken(ctx, http.MethodGet, c.url(1, "/kv/key-000"), nil, "")
	if err != nil {
		return err
	}
	say("GET without the bearer token: HTTP %d", code)

	acked := map[string]string{}
	var mu sync.Mutex
	write := func(through uint64, keys []string, round string) (time.Duration, error) {
		t0 := time.Now()
		for _, key := range keys {
			value := round + "-" + key
			code, err := c.put(ctx, through, key, value)
			if err != nil || code != http.StatusNoContent {
				return 0, fmt.Errorf("PUT %s via node %d: HTTP %d, %v", key, through, code, err)
			}
			mu.Lock()
			acked[key] = value
			mu.Unlock()
		}
		return time.Since(t0), nil
	}
	var keys []string
	for i := 0; i < 120; i++ {
		keys = append(keys, fmt.Sprintf("key-%03d", i))
	}
	for i, id := range c.ids {
		part := keys[i*40 : (i+1)*40]
		took, err := write(id, part, "first")
		if err != nil {
			return err
		}
		say("wrote %d keys through node %d in %v (%.1f ms per write, fsync on; each key goes to its shard's leader)",
			len(part), id, took.Round(time.Millisecond), float64(took.Microseconds())/1000/float64(len(part)))
	}
	keyOf := shardKeys(*shards)
	a, b := sameShardKeys(*shards)
	elsewhere := keyOf[(server.ShardOf(a, *shards)+1)%*shards]
	if body, code, err := c.txn(ctx, 2, [][2]string{{a, "txn-a"}, {elsewhere, ""}}); err != nil || code != http.StatusBadRequest {
		return fmt.Errorf("a transaction across shards: HTTP %d, %v: %s", code, err, body)
	}
	say("POST /txn across shards: HTTP 400 (a transaction stays within one shard)")
	if body, code, err := c.txn(ctx, 2, [][2]string{{a, "txn-a"}, {b, "txn-b"}}); err != nil || code != http.StatusNoContent {
		return fmt.Errorf("a transaction: HTTP %d, %v: %s", code, err, body)
	}
	acked[a], acked[b] = "txn-a", "txn-b"
	say("POST /txn {%s, %s} (both in shard %d): applied atomically", a, b, server.ShardOf(a, *shards))

	// SIGKILL node 1 while writing to every shard it leads.
	victim := uint64(1)
	if lead, err = c.waitBalanced(ctx); err != nil {
		return err
	}
	var led []int
	for s, l := range lead {
		if l == victim {
			led = append(led, s)
		}
	}
	slices.Sort(led)
	c.kill(victim)
	killed := time.Now()
	say("SIGKILL node %d, leader of shards %v; writing to each of them through node 2", victim, led)
	var wg sync.WaitGroup
	lat := make([]time.Duration, len(led))
	errs := make([]error, len(led))
	for i, s := range led {
		wg.Add(1)
		go func(i, s int) {
			defer wg.Done()
			_, errs[i] = write(2, []string{keyOf[s]}, "during-kill")
			lat[i] = time.Since(killed)
		}(i, s)
	}
	wg.Wait()
	for i, s := range led {
		if errs[i] != nil {
			return errs[i]
		}
		say("  shard %2d: write acknowledged %v after the kill (re-proposed to the new leader)", s, lat[i].Round(time.Millisecond))
	}
	lead, err = c.waitLeaders(ctx)
	if err != nil {
		return err
	}
	say("new leaders, %v after the crash:", time.Since(killed).Round(time.Millisecond))
	printLeaders(lead, c.live())
	took, err := write(3, keys[:60], "second")
	if err != nil {
		return err
	}
	say("rewrote 60 keys through node 3 in %v with node %d down", took.Round(time.Millisecond), victim)

	restarted := time.Now()
	if err := c.start(ctx, victim); err != nil {
		return err
	}
	if err := c.waitCaughtUp(ctx); err != nil {
		return err
	}
	say("node %d restarted from its disk (wal + Pebble) and caught up every shard in %v", victim, time.Since(restarted).Round(time.Millisecond))
	if lead, err = c.waitBalanced(ctx); err != nil {
		return err
	}
	say("leaderships balanced again, %v after the restart:", time.Since(restarted).Round(time.Millisecond))
	printLeaders(lead, c.ids)

	// A fourth node joins; the mover on the leader of the cluster map moves
	// replicas onto it one at a time, then evens out the leaderships.
	joined := time.Now()
	id, err := c.addNode(ctx, 2)
	if err != nil {
		return err
	}
	say("node %d started with --join and added with POST /members/%d; replicas move onto it one at a time", id, id)
	say("  (a learner is added, caught up by a snapshot streamed from Pebble, promoted; the old replica is removed):")
	want := *shards * 3 / len(c.nodes())
	last := -1
	if err := poll(ctx, 100*time.Millisecond, func() error {
		r, err := c.replicas(ctx)
		if err != nil {
			return err
		}
		held := 0
		for _, nodes := range r {
			if slices.Contains(nodes, id) {
				held++
			}
		}
		if held != last {
			say("  node %d holds %d of its %d replicas", id, held, want)
			last = held
		}
		if held < want {
			return fmt.Errorf("node %d holds %d replicas", id, held)
		}
		return nil
	}); err != nil {
		return err
	}
	if lead, err = c.waitBalanced(ctx); err != nil {
		return err
	}
	body, _, err := c.do(ctx, http.MethodGet, c.url(id, "/metrics"), nil)
	if err != nil {
		return err
	}
	for _, line := range strings.Split(string(body), "\n") {
		if strings.HasPrefix(line, "kvstore_transport_snapshot") && strings.Contains(line, "incoming") {
			say("  node %d: %s", id, line)
		}
	}
	say("replicas and leaderships balanced over 4 nodes, %v after the join:", time.Since(joined).Round(time.Millisecond))
	printLeaders(lead, c.nodes())
	took, err = write(id, keys[60:], "third")
	if err != nil {
		return err
	}
	say("rewrote 60 keys through node %d in %v", id, took.Round(time.Millisecond))

	t0 := time.Now()
	if err := c.waitCaughtUp(ctx); err != nil {
		return err
	}
	where, err := c.replicas(ctx)
	if err != nil {
		return err
	}
	for key, want := range acked {
		s := server.ShardOf(key, *shards)
		if len(where[s]) != 3 {
			return fmt.Errorf("shard %d has replicas on %v", s, where[s])
		}
		for _, id := range where[s] {
			got, code, err := c.get(ctx, id, key, true)
			if err != nil || code != http.StatusOK || got != want {
				return fmt.Errorf("LOST: %s=%q acknowledged, node %d has %q (HTTP %d, %v)", key, want, id, got, code, err)
			}
		}
	}
	say("read all %d acknowledged keys back from each of the 3 replicas of their shard (%v)", len(acked), time.Since(t0).Round(time.Millisecond))
	say("demo finished: no acknowledged write was lost")
	return nil
}

// printLeaders prints which shards each node leads.
func printLeaders(lead map[int]uint64, nodes []uint64) {
	for _, id := range nodes {
		var s []string
		for shard := 0; shard < len(lead); shard++ {
			if lead[shard] == id {
				s = append(s, fmt.Sprint(shard))
			}
		}
		fmt.Printf("           node %d leads %2d shards: %s\n", id, len(s), strings.Join(s, " "))
	}
}

// shardKeys returns a key of each shard.
func shardKeys(shards int) map[int]string {
	out := map[int]string{}
	for i := 0; len(out) < shards; i++ {
		k := fmt.Sprintf("shard-key-%d", i)
		if _, ok := out[server.ShardOf(k, shards)]; !ok {
			out[server.ShardOf(k, shards)] = k
		}
	}
	return out
}

// sameShardKeys returns two keys of one shard.
func sameShardKeys(shards int) (string, string) {
	seen := map[int]string{}
	for i := 0; ; i++ {
		k := fmt.Sprintf("txn-%d", i)
		s := server.ShardOf(k, shards)
		if other, ok := seen[s]; ok {
			return other, k
		}
		seen[s] = k
	}
}
