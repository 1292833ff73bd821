package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/pontoon-raft/raft/examples/kvstore/internal/server"
	"github.com/pontoon-raft/raft/transport/devcert"
)

// cluster runs kvstore nodes as child processes on loopback, with mutual
// TLS between them, HTTPS and a bearer token for clients; certificates are
// generated into the base directory at creation. The demo, the benchmark
// and the end-to-end test use it.
type cluster struct {
	bin     string
	baseDir string
	shards  int
	extra   []string
	ids     []uint64
	members map[uint64]server.Member
	joining map[uint64]bool // started with --join
	ca      *devcert.CA
	token   string
	client  *http.Client
	// plain: the nodes talk to each other and to clients in plaintext,
	// without a token (the benchmark's like-for-like rows against etcd's
	// defaults); set before the first start.
	plain bool
	// nodeCPU, if not zero, caps each node at this many cores (cpuLimit).
	nodeCPU float64

	mu    sync.Mutex
	procs map[uint64]*process
}

type process struct {
	cmd  *exec.Cmd
	done chan struct{}
}

// freeAddr reserves a loopback port and returns it, free again.
func freeAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

// newCluster picks two free loopback ports (API and Raft) for each of size
// nodes and writes their certificates; nothing runs until start. extra is
// passed to every `serve`.
func newCluster(bin, baseDir string, size, shards int, extra ...string) (*cluster, error) {
	c := &cluster{bin: bin, baseDir: baseDir, shards: shards, extra: extra,
		members: map[uint64]server.Member{}, joining: map[uint64]bool{}, procs: map[uint64]*process{}}
	for i := 1; i <= size; i++ {
		h, err := freeAddr()
		if err != nil {
			return nil, err
		}
		r, err := freeAddr()
		if err != nil {
			return nil, err
		}
		c.members[uint64(i)] = server.Member{HTTP: h, Raft: r}
		c.ids = append(c.ids, uint64(i))
	}
	ca, err := devcert.NewCA("kvstore cluster CA")
	if err != nil {
		return nil, err
	}
	if err := writeCerts(ca, c.certDir(), c.ids); err != nil {
		return nil, err
	}
	c.ca = ca
	var tok [16]byte
	_, _ = rand.Read(tok[:])
	c.token = hex.EncodeToString(tok[:])
	c.client = &http.Client{Transport: &http.Transport{
		MaxIdleConnsPerHost: 256,
		TLSClientConfig:     &tls.Config{RootCAs: ca.Pool(), MinVersion: tls.VersionTLS12},
	}}
	return c, nil
}

func (c *cluster) certDir() string { return filepath.Join(c.baseDir, "certs") }

// nodes returns the IDs of the cluster's nodes, running or not.
func (c *cluster) nodes() []uint64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.ids)
}

// member returns the addresses of node id.
func (c *cluster) member(id uint64) server.Member {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.members[id]
}

func (c *cluster) addrsFlag(raft bool) string {
	c.mu.Lock()
	defer c.mu.Unlock()
	parts := make([]string, 0, len(c.ids))
	for _, id := range c.ids {
		a := c.members[id].HTTP
		if raft {
			a = c.members[id].Raft
		}
		parts = append(parts, fmt.Sprintf("%d=%s", id, a))
	}
	return strings.Join(parts, ",")
}

// start launches node id (its data directory survives restarts) and waits
// until it answers /status.
func (c *cluster) start(ctx context.Context, id uint64) error {
	dir := filepath.Join(c.baseDir, fmt.Sprintf("node%d", id))
	logf, err := os.OpenFile(filepath.Join(c.baseDir, fmt.Sprintf("node%d.log", id)), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		return err
	}
	certs := c.certDir()
	args := []string{"serve", "--id", strconv.FormatUint(id, 10), "--data", dir,
		"--peers", c.addrsFlag(false), "--raft-peers", c.addrsFlag(true), "--shards", strconv.Itoa(c.shards)}
	if c.plain {
		args = append(args, "--insecure-transport")
	} else {
		args = append(args, "--ca", filepath.Join(certs, "ca.pem"),
			"--cert", filepath.Join(certs, fmt.Sprintf("node-%d.pem", id)),
			"--key", filepath.Join(certs, fmt.Sprintf("node-%d-key.pem", id)),
			"--client-tls", "--token", c.token)
	}
	args = append(args, c.extra...)
	if c.joining[id] {
		args = append(args, "--join")
	}
	cmd := exec.Command(c.bin, args...)
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		logf.Close()
		return err
	}
	p := &process{cmd: cmd, done: make(chan struct{})}
	removeCgroup := func() {}
	if c.nodeCPU > 0 {
		if removeCgroup, err = cpuLimit(cmd.Process.Pid, c.nodeCPU); err != nil {
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
			logf.Close()
			return fmt.Errorf("node %d: %w", id, err)
		}
	}
	go func() {
		_ = cmd.Wait()
		logf.Close()
		removeCgroup()
		close(p.done)
	}()
	c.mu.Lock()
	c.procs[id] = p
	c.mu.Unlock()
	return poll(ctx, 20*time.Millisecond, func() error {
		select {
		case <-p.done:
			return errStop{fmt.Errorf("node %d exited: see %s", id, logf.Name())}
		default:
		}
		_, err := c.status(ctx, id)
		return err
	})
}

// addNode starts a new node with --join and asks node via to add it to
// the cluster (POST /members/{id}); the cluster then moves replicas onto it.
func (c *cluster) addNode(ctx context.Context, via uint64) (uint64, error) {
	id, err := c.startJoining(ctx)
	if err != nil {
		return 0, err
	}
	body, _ := json.Marshal(c.member(id))
	b, code, err := c.do(ctx, http.MethodPost, c.url(via, fmt.Sprintf("/members/%d", id)), bytes.NewReader(body))
	if err == nil && code != http.StatusNoContent {
		err = fmt.Errorf("POST /members/%d: HTTP %d: %s", id, code, b)
	}
	return id, err
}

// startJoining starts a new node with --join, not yet a member of the
// cluster, and returns its ID.
func (c *cluster) startJoining(ctx context.Context) (uint64, error) {
	ids := c.nodes()
	id := ids[len(ids)-1] + 1
	h, err := freeAddr()
	if err != nil {
		return 0, err
	}
	r, err := freeAddr()
	if err != nil {
		return 0, err
	}
	if err := writeCerts(c.ca, c.certDir(), []uint64{id}); err != nil {
		return 0, err
	}
	c.mu.Lock()
	c.members[id] = server.Member{HTTP: h, Raft: r}
	c.ids = append(c.ids, id)
	c.joining[id] = true
	c.mu.Unlock()
	return id, c.start(ctx, id)
}

// forget stops node id for good: it is killed and no longer one of nodes.
func (c *cluster) forget(id uint64) {
	c.kill(id)
	c.mu.Lock()
	defer c.mu.Unlock()
	c.ids = slices.DeleteFunc(c.ids, func(x uint64) bool { return x == id })
}

// replicas returns, for each shard, the live nodes with a replica of it.
func (c *cluster) replicas(ctx context.Context) (map[int][]uint64, error) {
	sts, err := c.statuses(ctx)
	if err != nil {
		return nil, err
	}
	out := map[int][]uint64{}
	for _, id := range c.live() {
		for _, g := range sts[id].Groups {
			out[g.Shard] = append(out[g.Shard], id)
		}
	}
	return out, nil
}

// kill sends SIGKILL to node id and waits for it to die.
func (c *cluster) kill(id uint64) { c.signal(id, syscall.SIGKILL) }

// stop asks node id to shut down cleanly.
func (c *cluster) stop(id uint64) { c.signal(id, syscall.SIGTERM) }

func (c *cluster) signal(id uint64, sig syscall.Signal) {
	c.mu.Lock()
	p := c.procs[id]
	delete(c.procs, id)
	c.mu.Unlock()
	if p == nil {
		return
	}
	_ = p.cmd.Process.Signal(sig)
	<-p.done
}

func (c *cluster) alive(id uint64) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.procs[id] != nil
}

// live returns the nodes running.
func (c *cluster) live() []uint64 {
	var out []uint64
	for _, id := range c.nodes() {
		if c.alive(id) {
			out = append(out, id)
		}
	}
	return out
}

// stopAll shuts every node down.
func (c *cluster) stopAll() {
	for _, id := range c.nodes() {
		c.stop(id)
	}
}

func (c *cluster) url(id uint64, path string) string {
	if c.plain {
		return "http://" + c.member(id).HTTP + path
	}
	return "https://" + c.member(id).HTTP + path
}

func (c *cluster) status(ctx context.Context, id uint64) (server.Status, error) {
	var st server.Status
	body, code, err := c.do(ctx, http.MethodGet, c.url(id, "/status"), nil)
	if err != nil {
		return st, err
	}
	if code != http.StatusOK {
		return st, fmt.Errorf("status of node %d: HTTP %d: %s", id, code, body)
	}
	err = json.Unmarshal(body, &st)
	return st, err
}

// statuses returns the status of every live node.
func (c *cluster) statuses(ctx context.Context) (map[uint64]server.Status, error) {
	out := map[uint64]server.Status{}
	for _, id := range c.live() {
		st, err := c.status(ctx, id)
		if err != nil {
			return nil, err
		}
		out[id] = st
	}
	return out, nil
}

// leaders returns the leader of every shard, once every live replica of
// every shard agrees on one that is itself live and leading.
func (c *cluster) leaders(ctx context.Context) (map[int]uint64, error) {
	sts, err := c.statuses(ctx)
	if err != nil {
		return nil, err
	}
	lead := map[int]uint64{}
	confirmed := map[int]bool{}
	for id, st := range sts {
		for _, g := range st.Groups {
			if g.Leader == 0 || (lead[g.Shard] != 0 && lead[g.Shard] != g.Leader) {
				return nil, fmt.Errorf("shard %d: no agreed leader yet", g.Shard)
			}
			lead[g.Shard] = g.Leader
			if g.Leader == id && g.Role == "StateLeader" {
				confirmed[g.Shard] = true
			}
		}
	}
	for s := 0; s < c.shards; s++ {
		if !confirmed[s] {
			return nil, fmt.Errorf("shard %d: leader not confirmed by itself yet", s)
		}
	}
	return lead, nil
}

// waitLeaders polls until every shard has a leader (see leaders).
func (c *cluster) waitLeaders(ctx context.Context) (lead map[int]uint64, err error) {
	err = poll(ctx, 20*time.Millisecond, func() error {
		lead, err = c.leaders(ctx)
		return err
	})
	return lead, err
}

// waitBalanced polls until every live node leads at least shards/live
// shards (the nodes hand leaderships to the shards' preferred leaders).
func (c *cluster) waitBalanced(ctx context.Context) (lead map[int]uint64, err error) {
	err = poll(ctx, 50*time.Millisecond, func() error {
		if lead, err = c.leaders(ctx); err != nil {
			return err
		}
		count := map[uint64]int{}
		for _, l := range lead {
			count[l]++
		}
		live := c.live()
		for _, id := range live {
			if count[id] < c.shards/len(live) {
				return fmt.Errorf("node %d leads %d shards", id, count[id])
			}
		}
		return nil
	})
	return lead, err
}

// waitCaughtUp polls until every live replica of every shard has applied
// its leader's commit index.
func (c *cluster) waitCaughtUp(ctx context.Context) error {
	return poll(ctx, 20*time.Millisecond, func() error {
		sts, err := c.statuses(ctx)
		if err != nil {
			return err
		}
		commit := map[int]uint64{}
		for id, st := range sts {
			for _, g := range st.Groups {
				if g.Leader == id {
					commit[g.Shard] = g.Commit
				}
			}
		}
		for id, st := range sts {
			for _, g := range st.Groups {
				if g.Applied < commit[g.Shard] || (commit[g.Shard] == 0) {
					return fmt.Errorf("node %d applied %d of shard %d, whose leader committed %d", id, g.Applied, g.Shard, commit[g.Shard])
				}
			}
		}
		return nil
	})
}

// put writes key=value through node id and returns the HTTP status.
func (c *cluster) put(ctx context.Context, id uint64, key, value string) (int, error) {
	_, code, err := c.do(ctx, http.MethodPut, c.url(id, "/kv/"+key), strings.NewReader(value))
	return code, err
}

// get reads key through node id.
func (c *cluster) get(ctx context.Context, id uint64, key string, stale bool) (value string, code int, err error) {
	path := "/kv/" + key
	if stale {
		path += "?stale=1"
	}
	body, code, err := c.do(ctx, http.MethodGet, c.url(id, path), nil)
	return string(body), code, err
}

// txn sends ops (put: key and value; delete: key and "") to node id.
func (c *cluster) txn(ctx context.Context, id uint64, ops [][2]string) ([]byte, int, error) {
	type op struct {
		Op    string  `json:"op"`
		Key   string  `json:"key"`
		Value *string `json:"value,omitempty"`
	}
	var body struct {
		Ops []op `json:"ops"`
	}
	for _, o := range ops {
		if o[1] == "" {
			body.Ops = append(body.Ops, op{Op: "delete", Key: o[0]})
		} else {
			body.Ops = append(body.Ops, op{Op: "put", Key: o[0], Value: &o[1]})
		}
	}
	b, _ := json.Marshal(body)
	return c.do(ctx, http.MethodPost, c.url(id, "/txn"), bytes.NewReader(b))
}

func (c *cluster) do(ctx context.Context, method, url string, body io.Reader) ([]byte, int, error) {
	if c.plain {
		return c.doToken(ctx, method, url, body, "")
	}
	return c.doToken(ctx, method, url, body, c.token)
}

// doToken sends a request with token ("" for none).
func (c *cluster) doToken(ctx context.Context, method, url string, body io.Reader, token string) ([]byte, int, error) {
	req, err := http.NewRequestWithContext(ctx, method, url, body)
	if err != nil {
		return nil, 0, err
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := c.client.Do(req)
	if err != nil {
		return nil, 0, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return b, resp.StatusCode, err
}

// errStop makes poll give up at once.
type errStop struct{ error }

// poll calls f every interval until it returns nil, returns an errStop, or
// ctx ends; it is how the tools wait for a condition instead of sleeping.
func poll(ctx context.Context, interval time.Duration, f func() error) error {
	for {
		err := f()
		if err == nil {
			return nil
		}
		var stop errStop
		if errors.As(err, &stop) {
			return stop.error
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%w (last: %v)", ctx.Err(), err)
		case <-time.After(interval):
		}
	}
}
