package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"math/rand"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/anishathalye/porcupine"

	"github.com/pontoon-raft/raft/examples/kvstore/internal/server"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// e2eDuration is how long the workload runs: 30 s, or
// KVSTORE_E2E_SECONDS.
func e2eDuration(t *testing.T) time.Duration {
	s := os.Getenv("KVSTORE_E2E_SECONDS")
	if s == "" {
		return 30 * time.Second
	}
	n, err := strconv.Atoi(s)
	require.NoError(t, err, "KVSTORE_E2E_SECONDS")
	return time.Duration(n) * time.Second
}

// buildBinary builds this command into a temporary directory.
func buildBinary(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "kvstore")
	out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput()
	require.NoError(t, err, "go build: %s", out)
	return bin
}

// sharedKeys is how many keys all clients read and write (the rest are
// written once each).
const sharedKeys = 8

// kvInput and kvOutput describe one client operation for porcupine.
type kvInput struct {
	put   bool
	key   string
	value string
}

type kvOutput struct {
	value string // for a get: "" when the key was absent
}

// kvModel is a register per key: puts set it, gets must see the latest
// put. Keys are independent, so the history is checked key by key.
var kvModel = porcupine.Model{
	Partition: func(history []porcupine.Operation) [][]porcupine.Operation {
		byKey := map[string][]porcupine.Operation{}
		for _, op := range history {
			k := op.Input.(kvInput).key
			byKey[k] = append(byKey[k], op)
		}
		out := make([][]porcupine.Operation, 0, len(byKey))
		for _, ops := range byKey {
			out = append(out, ops)
		}
		return out
	},
	Init: func() interface{} { return "" },
	Step: func(state, input, output interface{}) (bool, interface{}) {
		in := input.(kvInput)
		if in.put {
			return true, in.value
		}
		return output.(kvOutput).value == state.(string), state
	},
	DescribeOperation: func(input, output interface{}) string {
		in := input.(kvInput)
		if in.put {
			return fmt.Sprintf("put(%s, %s)", in.key, in.value)
		}
		return fmt.Sprintf("get(%s) -> %q", in.key, output.(kvOutput).value)
	},
}

// history records client operations with their real-time bounds.
type history struct {
	mu    sync.Mutex
	start time.Time
	ops   []porcupine.Operation
	// ackedUnique holds every acknowledged write to a key written once.
	ackedUnique map[string]string
	counts      map[string]int
}

func (h *history) now() int64 { return time.Since(h.start).Nanoseconds() }

func (h *history) add(in kvInput, out kvOutput, call, ret int64, outcome string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.counts[outcome]++
	if strings.HasPrefix(outcome, "dropped") {
		return
	}
	h.ops = append(h.ops, porcupine.Operation{ClientId: len(h.ops), Input: in, Output: out, Call: call, Return: ret})
}

// definitelyNotSent reports whether err means the request never reached a
// server, so the write cannot have happened.
func definitelyNotSent(err error) bool {
	return errors.Is(err, syscall.ECONNREFUSED)
}

// failureCause is the first line of a failed request's response body, its
// numbers replaced by N so that failures of one cause count together.
func failureCause(body []byte) string {
	line, _, _ := strings.Cut(strings.TrimSpace(string(body)), "\n")
	return strings.Map(func(r rune) rune {
		if r >= '0' && r <= '9' {
			return 'N'
		}
		return r
	}, line)
}

// client runs operations against random nodes until ctx ends.
func (h *history) client(ctx context.Context, t *testing.T, c *cluster, id int, rng *rand.Rand) {
	reqCtx := context.Background() // a request in flight finishes even after ctx ends
	for n := 0; ctx.Err() == nil; n++ {
		ids := c.nodes()
		node := ids[rng.Intn(len(ids))]
		rctx, cancel := context.WithTimeout(reqCtx, 6*time.Second)
		call := h.now()
		switch r := rng.Intn(10); {
		case r < 4: // read a shared key
			key := fmt.Sprintf("shared-%d", rng.Intn(sharedKeys))
			v, code, err := c.get(rctx, node, key, false)
			ret := h.now()
			switch {
			case err == nil && code == http.StatusOK:
				h.add(kvInput{key: key}, kvOutput{value: v}, call, ret, "read")
			case err == nil && code == http.StatusNotFound:
				h.add(kvInput{key: key}, kvOutput{}, call, ret, "read")
			case err != nil: // a failed read has no effect: leave it out
				h.add(kvInput{}, kvOutput{}, 0, 0, "dropped read (no answer)")
			default:
				h.add(kvInput{}, kvOutput{}, 0, 0, fmt.Sprintf("dropped read (HTTP %d: %s)", code, failureCause([]byte(v))))
			}
		default: // write a shared key, or a key written only once
			key := fmt.Sprintf("shared-%d", rng.Intn(sharedKeys))
			if r >= 7 {
				key = fmt.Sprintf("unique-%d-%d", id, n)
			}
			value := fmt.Sprintf("c%d-%d", id, n)
			body, code, err := c.do(rctx, http.MethodPut, c.url(node, "/kv/"+key), strings.NewReader(value))
			ret := h.now()
			in := kvInput{put: true, key: key, value: value}
			switch {
			case err == nil && code == http.StatusNoContent:
				h.add(in, kvOutput{}, call, ret, "acked")
				if r >= 7 {
					h.mu.Lock()
					h.ackedUnique[key] = value
					h.mu.Unlock()
				}
			case definitelyNotSent(err):
				h.add(in, kvOutput{}, call, ret, "dropped write (refused)")
			case err == nil && code >= 400 && code < 500:
				t.Errorf("PUT %s through node %d: unexpected HTTP %d: %s", key, node, code, body)
			default: // timed out or connection lost: it may or may not apply
				outcome := fmt.Sprintf("unknown (HTTP %d: %s)", code, failureCause(body))
				if err != nil {
					outcome = "unknown (no answer)"
				}
				h.add(in, kvOutput{}, call, math.MaxInt64, outcome)
			}
		}
		cancel()
	}
}

// nemesis kills and restarts nodes and pauses one node's transport, one
// fault at a time, one every pace to 4*pace, until ctx ends; target picks
// the node of each fault. It
// returns a log of what it did, and an error if a node did not restart.
func nemesis(ctx context.Context, c *cluster, rng *rand.Rand, pace time.Duration, target func(*rand.Rand) uint64) (events []string, err error) {
	start := time.Now()
	wait := func(d time.Duration) bool {
		select {
		case <-ctx.Done():
			return false
		case <-time.After(d):
			return true
		}
	}
	for wait(pace + time.Duration(rng.Int63n(int64(3*pace)))) {
		id := target(rng)
		if rng.Intn(2) == 0 {
			c.kill(id)
			events = append(events, fmt.Sprintf("%5.1fs SIGKILL node %d", time.Since(start).Seconds(), id))
			wait(time.Duration(300+rng.Intn(1200)) * time.Millisecond)
			sctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			err := c.start(sctx, id)
			cancel()
			if err != nil {
				return events, fmt.Errorf("restarting node %d: %w", id, err)
			}
			events = append(events, fmt.Sprintf("%5.1fs restarted node %d", time.Since(start).Seconds(), id))
		} else {
			ms := 500 + rng.Intn(1500)
			_, code, err := c.do(ctx, http.MethodPost, c.url(id, fmt.Sprintf("/debug/pause?ms=%d", ms)), nil)
			if err == nil && code == http.StatusNoContent {
				events = append(events, fmt.Sprintf("%5.1fs paused node %d's transport for %d ms", time.Since(start).Seconds(), id, ms))
				wait(time.Duration(ms) * time.Millisecond)
			}
		}
	}
	return events, nil
}

// anyNode picks one of c's nodes at random.
func anyNode(c *cluster) func(*rand.Rand) uint64 {
	return func(rng *rand.Rand) uint64 {
		ids := c.nodes()
		return ids[rng.Intn(len(ids))]
	}
}

// e2eSeed is the seed of a run: random, or KVSTORE_E2E_SEED.
func e2eSeed(t *testing.T) int64 {
	seed := time.Now().UnixNano()
	if s := os.Getenv("KVSTORE_E2E_SEED"); s != "" {
		var err error
		seed, err = strconv.ParseInt(s, 10, 64)
		require.NoError(t, err)
	}
	return seed
}

// startCluster builds the binary and starts 3 nodes with 8 shards, mutual
// TLS between them, HTTPS and a token for clients, and frequent snapshots.
func startCluster(t *testing.T) *cluster {
	c, err := newCluster(buildBinary(t), t.TempDir(), 3, 8, "--tick", "50ms", "--log-level", "info",
		"--snapshot-entries", "50", "--snapshot-catchup", "10", "--request-timeout", "5s")
	require.NoError(t, err)
	t.Cleanup(func() {
		for _, id := range c.nodes() {
			c.kill(id)
		}
	})
	setup, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	for _, id := range c.nodes() {
		require.NoError(t, c.start(setup, id))
	}
	_, err = c.waitLeaders(setup)
	require.NoError(t, err)
	return c
}

// runClients runs 8 clients until work ends; wait waits for them.
func runClients(work context.Context, t *testing.T, c *cluster, h *history, rng *rand.Rand) (wait func()) {
	var wg sync.WaitGroup
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func(i int, seed int64) {
			defer wg.Done()
			h.client(work, t, c, i, rand.New(rand.NewSource(seed)))
		}(i, rng.Int63())
	}
	return wg.Wait
}

// TestEndToEnd runs concurrent clients against a 3-node cluster of real
// processes (8 shards, mutual TLS between nodes, HTTPS and a token for
// clients) while nodes are SIGKILLed, restarted and partitioned, then checks
// that every acknowledged write is on every replica of its shard and that
// the history is linearizable, key by key.
func TestEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end test skipped in -short mode")
	}
	duration := e2eDuration(t)
	seed := e2eSeed(t)
	t.Logf("seed %d (KVSTORE_E2E_SEED), workload %v", seed, duration)
	rng := rand.New(rand.NewSource(seed))
	c := startCluster(t)

	h := &history{start: time.Now(), ackedUnique: map[string]string{}, counts: map[string]int{}}
	work, stopWork := context.WithTimeout(context.Background(), duration)
	defer stopWork()
	wait := runClients(work, t, c, h, rng)
	events, err := nemesis(work, c, rand.New(rand.NewSource(rng.Int63())), 500*time.Millisecond, anyNode(c))
	wait()
	require.NoError(t, err)
	for _, e := range events {
		t.Log("nemesis:", e)
	}
	checkHistory(t, c, h, seed)
}

// TestGrowAndShrinkUnderLoad adds a fourth node to a loaded 3-node cluster,
// waits until replicas and leaderships are balanced over 4 nodes, then
// removes node 1, one of the three replicas of the meta group (which moves
// to node 4), and checks the history as TestEndToEnd does.
func TestGrowAndShrinkUnderLoad(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end test skipped in -short mode")
	}
	seed := e2eSeed(t)
	t.Logf("seed %d (KVSTORE_E2E_SEED)", seed)
	c := startCluster(t)
	h := &history{start: time.Now(), ackedUnique: map[string]string{}, counts: map[string]int{}}
	work, stopWork := context.WithCancel(context.Background())
	defer stopWork()
	wait := runClients(work, t, c, h, rand.New(rand.NewSource(seed)))

	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	holds := func(id uint64) int {
		r, err := c.replicas(ctx)
		require.NoError(t, err)
		n := 0
		for _, nodes := range r {
			if slices.Contains(nodes, id) {
				n++
			}
		}
		return n
	}
	start := time.Now()
	id, err := c.addNode(ctx, 1)
	require.NoError(t, err)
	require.NoError(t, poll(ctx, 100*time.Millisecond, func() error {
		if n := holds(id); n != c.shards*3/4 {
			return fmt.Errorf("node %d holds %d replicas", id, n)
		}
		_, err := c.waitBalanced(ctx)
		return err
	}))
	t.Logf("node %d joined, replicas and leaderships balanced over 4 nodes in %v", id, time.Since(start))

	start = time.Now()
	body, code, err := c.do(ctx, http.MethodDelete, c.url(3, "/members/1"), nil)
	require.NoError(t, err)
	require.Equal(t, http.StatusNoContent, code, "%s", body)
	require.NoError(t, poll(ctx, 100*time.Millisecond, func() error {
		body, _, err := c.do(ctx, http.MethodGet, c.url(id, "/members"), nil)
		if err != nil {
			return err
		}
		if n := holds(1); n != 0 || strings.Contains(string(body), `"id":1,`) {
			return fmt.Errorf("node 1 holds %d replicas and is listed: %s", n, body)
		}
		return nil
	}))
	t.Logf("node 1 moved off (the meta group's replica too) and removed in %v", time.Since(start))
	st, err := c.status(ctx, id)
	require.NoError(t, err)
	assert.NotZero(t, st.MetaLeader, "node %d has a replica of the meta group", id)
	stopWork()
	wait()
	c.forget(1)
	checkHistory(t, c, h, seed)
	// Without faults, moves and leadership transfers leave no write in
	// doubt; a write that outlived the request timeout on a loaded machine
	// is logged, not failed.
	for outcome, n := range h.counts {
		if strings.HasPrefix(outcome, "unknown") && strings.Contains(outcome, "did not finish within") {
			t.Logf("%d writes timed out: %s", n, outcome)
			continue
		}
		assert.False(t, strings.HasPrefix(outcome, "unknown"), "%d writes: %s", n, outcome)
	}
}

// TestMovesUnderFaults adds a fourth and a fifth node to a loaded 3-node
// cluster and removes the fourth or node 1 (a replica of the meta group; the
// seed chooses) while replicas move, as nodes are SIGKILLed, restarted and
// partitioned: the mover (the meta group's leader), the newest node
// (receiving replicas) or any other. Once the faults stop, replicas and
// leaderships must settle, balanced over the 4 nodes that stay; then the
// history is checked as TestEndToEnd does.
func TestMovesUnderFaults(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end test skipped in -short mode")
	}
	seed := e2eSeed(t)
	t.Logf("seed %d (KVSTORE_E2E_SEED)", seed)
	rng := rand.New(rand.NewSource(seed))
	c := startCluster(t)
	h := &history{start: time.Now(), ackedUnique: map[string]string{}, counts: map[string]int{}}
	work, stopWork := context.WithCancel(context.Background())
	defer stopWork()
	waitClients := runClients(work, t, c, h, rng)

	// The nemesis aims only at nodes the test has finished starting.
	var mu sync.Mutex
	started := c.nodes()
	target := func(rng *rand.Rand) uint64 {
		mu.Lock()
		ids := slices.Clone(started)
		mu.Unlock()
		switch rng.Intn(3) {
		case 0:
			if l := metaLeader(c); slices.Contains(ids, l) {
				return l
			}
		case 1:
			return ids[len(ids)-1]
		}
		return ids[rng.Intn(len(ids))]
	}
	faults, stopFaults := context.WithCancel(context.Background())
	defer stopFaults()
	var events []string
	var faultErr error
	faultsDone := make(chan struct{})
	faultRNG := rand.New(rand.NewSource(rng.Int63()))
	go func() {
		defer close(faultsDone)
		events, faultErr = nemesis(faults, c, faultRNG, 200*time.Millisecond, target)
	}()

	ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
	defer cancel()
	driver := rand.New(rand.NewSource(rng.Int63()))
	begin := time.Now()
	since := func() string { return fmt.Sprintf("%5.1fs", time.Since(begin).Seconds()) }
	holdsAtLeast := func(id uint64, n int) error {
		r, err := c.replicas(ctx)
		if err != nil {
			return err
		}
		if got := holding(r, id); got < n {
			return fmt.Errorf("node %d holds %d replicas", id, got)
		}
		return nil
	}
	join := func() uint64 {
		id, err := c.startJoining(ctx)
		require.NoError(t, err)
		mu.Lock()
		started = append(started, id)
		mu.Unlock()
		body, err := json.Marshal(c.member(id))
		require.NoError(t, err)
		require.NoError(t, changeMember(ctx, c, driver, http.MethodPost, id, body))
		t.Logf("%s node %d added", since(), id)
		return id
	}
	fourth := join()
	require.NoError(t, poll(ctx, 50*time.Millisecond, func() error { return holdsAtLeast(fourth, 2) }))
	t.Logf("%s node %d holds 2 replicas", since(), fourth)
	fifth := join()
	require.NoError(t, poll(ctx, 50*time.Millisecond, func() error { return holdsAtLeast(fifth, 1) }))
	t.Logf("%s node %d holds a replica", since(), fifth)
	leaving := []uint64{1, fourth}[driver.Intn(2)]
	require.NoError(t, changeMember(ctx, c, driver, http.MethodDelete, leaving, nil))
	t.Logf("%s node %d leaving", since(), leaving)

	// The faults go on for 10 s at least, until the node leaving is
	// removed, and 25 s at most. Node 2 stays, and has the latest map.
	removed := func() error {
		body, _, err := c.do(ctx, http.MethodGet, c.url(2, "/members"), nil)
		if err == nil && strings.Contains(string(body), fmt.Sprintf(`"id":%d,`, leaving)) {
			err = fmt.Errorf("node %d is still a member", leaving)
		}
		return err
	}
	more, stopMore := context.WithTimeout(ctx, 25*time.Second-time.Since(begin))
	_ = poll(more, 100*time.Millisecond, func() error {
		if time.Since(begin) < 10*time.Second {
			return errors.New("too early")
		}
		return removed()
	})
	stopMore()
	stopFaults()
	<-faultsDone
	for _, e := range events {
		t.Log("nemesis:", e)
	}
	require.NoError(t, faultErr)
	t.Logf("%s faults stopped", since())
	for _, id := range c.nodes() {
		if !c.alive(id) {
			require.NoError(t, c.start(ctx, id))
		}
	}
	require.NoError(t, poll(ctx, 100*time.Millisecond, removed))
	want := c.shards * 3 / 4
	require.NoError(t, poll(ctx, 100*time.Millisecond, func() error {
		r, err := c.replicas(ctx)
		if err != nil {
			return err
		}
		for _, id := range c.nodes() {
			if n := holding(r, id); id == leaving && n != 0 || id != leaving && n != want {
				return fmt.Errorf("node %d holds %d replicas; replicas by shard: %v", id, n, r)
			}
		}
		return nil
	}))
	c.forget(leaving)
	// Leaderships spread by transfers, a matter of load rather than safety:
	// one CI run saw a shard's leadership stay off its preferred node for
	// two minutes after the faults (not reproduced since); the state is
	// logged for a diagnosis, and the checks of safety below still run.
	bctx, cancelBalance := context.WithTimeout(ctx, 60*time.Second)
	_, err := c.waitBalanced(bctx)
	cancelBalance()
	if err != nil {
		t.Logf("KNOWN ISSUE: leaderships not balanced 60 s after the faults (%v); the nodes' status:", err)
		sts, _ := c.statuses(ctx)
		for id, st := range sts {
			b, _ := json.Marshal(st)
			t.Logf("node %d: %s", id, b)
		}
		for _, id := range c.nodes() {
			log, _ := os.ReadFile(filepath.Join(c.baseDir, fmt.Sprintf("node%d.log", id)))
			var lines []string
			for _, l := range strings.Split(string(log), "\n") {
				if strings.Contains(l, "balancer") || strings.Contains(l, "transfer") || strings.Contains(l, "election") {
					lines = append(lines, l)
				}
			}
			t.Logf("node %d: its last log lines about transfers and elections:\n%s", id, strings.Join(lines[max(0, len(lines)-30):], "\n"))
		}
	} else {
		t.Logf("%s replicas and leaderships balanced over nodes %v", since(), c.nodes())
	}
	stopWork()
	waitClients()
	checkHistory(t, c, h, seed)
}

// metaLeader returns the leader of the meta group as a live node knows it,
// or 0.
func metaLeader(c *cluster) uint64 {
	for _, id := range c.live() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		st, err := c.status(ctx, id)
		cancel()
		if err == nil && st.MetaLeader != 0 {
			return st.MetaLeader
		}
	}
	return 0
}

// holding returns how many shards node id holds a replica of in r (see
// cluster.replicas).
func holding(r map[int][]uint64, id uint64) int {
	n := 0
	for _, nodes := range r {
		if slices.Contains(nodes, id) {
			n++
		}
	}
	return n
}

// changeMember sends method /members/{id} (with body, if any) through
// random live nodes until one of them accepts it; adding a node already a
// member counts as accepted (an earlier attempt timed out but applied).
func changeMember(ctx context.Context, c *cluster, rng *rand.Rand, method string, id uint64, body []byte) error {
	return poll(ctx, 200*time.Millisecond, func() error {
		live := c.live()
		if len(live) == 0 {
			return errors.New("no node is running")
		}
		via := live[rng.Intn(len(live))]
		b, code, err := c.do(ctx, method, c.url(via, fmt.Sprintf("/members/%d", id)), bytes.NewReader(body))
		switch {
		case err != nil:
			return err
		case code == http.StatusNoContent, code == http.StatusConflict && strings.Contains(string(b), "already a member"):
			return nil
		}
		return fmt.Errorf("%s /members/%d via node %d: HTTP %d: %s", method, id, via, code, b)
	})
}

// checkHistory heals the cluster (every node up, every shard with a
// leader, every replica caught up) and checks that every acknowledged
// write of a write-once key is on every replica of its shard and that the
// history is linearizable.
func checkHistory(t *testing.T, c *cluster, h *history, seed int64) {
	final, cancelFinal := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancelFinal()
	for _, id := range c.nodes() {
		if !c.alive(id) {
			require.NoError(t, c.start(final, id))
		}
	}
	lead, err := c.waitLeaders(final)
	require.NoError(t, err)
	// A linearizable read of each shared key after the workload.
	for i := 0; i < sharedKeys; i++ {
		key := fmt.Sprintf("shared-%d", i)
		call := h.now()
		v, code, err := c.get(final, lead[server.ShardOf(key, c.shards)], key, false)
		require.NoError(t, err)
		require.Contains(t, []int{http.StatusOK, http.StatusNotFound}, code)
		h.add(kvInput{key: key}, kvOutput{value: v}, call, h.now(), "final read")
	}
	require.NoError(t, c.waitCaughtUp(final))
	where, err := c.replicas(final)
	require.NoError(t, err)
	lost := 0
	for key, want := range h.ackedUnique {
		s := server.ShardOf(key, c.shards)
		require.Len(t, where[s], 3, "replicas of shard %d", s)
		for _, id := range where[s] {
			got, code, err := c.get(final, id, key, true)
			require.NoError(t, err)
			if code != http.StatusOK || got != want {
				lost++
				t.Errorf("acknowledged write %s=%s (shard %d): node %d has %q (HTTP %d)", key, want, s, id, got, code)
			}
		}
	}
	t.Logf("operations: %v; %d acknowledged single-key writes checked on the 3 replicas of their shard, %d lost",
		h.counts, len(h.ackedUnique), lost)
	for _, id := range c.live() {
		body, _, err := c.do(final, http.MethodGet, c.url(id, "/metrics"), nil)
		require.NoError(t, err)
		for _, line := range strings.Split(string(body), "\n") {
			for _, m := range []string{"kvstore_leader_changes_total", "kvstore_leadership_transfers_total",
				"kvstore_transport_snapshots_total", "kvstore_mover_steps_total"} {
				if strings.HasPrefix(line, m) {
					t.Logf("node %d since its last start: %s", id, line)
				}
			}
		}
	}
	require.Positive(t, h.counts["acked"], "the workload made no progress")

	result, info := porcupine.CheckOperationsVerbose(kvModel, h.ops, 60*time.Second)
	if result != porcupine.Ok {
		path := filepath.Join(os.TempDir(), fmt.Sprintf("kvstore-e2e-%d.html", seed))
		if err := porcupine.VisualizePath(kvModel, info, path); err == nil {
			t.Logf("history visualisation: %s", path)
		}
	}
	assert.Equal(t, porcupine.Ok, result, "history of %d operations is not linearizable", len(h.ops))
}
