package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/pontoon-raft/raft/transport/devcert"
)

// proc is a worker process: one host.
type proc struct {
	id  uint64
	cmd *exec.Cmd
	in  io.WriteCloser
	out *json.Decoder
}

// do sends req and waits for the answer.
func (p *proc) do(req request) (response, error) {
	b, err := json.Marshal(req)
	if err != nil {
		return response{}, err
	}
	if _, err := p.in.Write(append(b, '\n')); err != nil {
		return response{}, fmt.Errorf("host %d: %w", p.id, err)
	}
	var resp response
	if err := p.out.Decode(&resp); err != nil {
		return response{}, fmt.Errorf("host %d: %w", p.id, err)
	}
	if resp.Err != "" {
		return resp, fmt.Errorf("host %d: %s: %s", p.id, req.Op, resp.Err)
	}
	return resp, nil
}

// cluster is three hosts, each a worker process with its own directory.
type cluster struct {
	dir   string
	procs []*proc
}

// reservePorts picks n free loopback addresses.
func reservePorts(n int) ([]string, error) {
	var addrs []string
	for i := 0; i < n; i++ {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		addrs = append(addrs, ln.Addr().String())
		if err := ln.Close(); err != nil {
			return nil, err
		}
	}
	return addrs, nil
}

// startCluster starts three workers in a fresh directory under /tmp (the
// same disk as the repository), with a fresh CA.
func startCluster(o options, name string) (*cluster, error) {
	dir, err := os.MkdirTemp("", "host-bench-"+name+"-")
	if err != nil {
		return nil, err
	}
	c := &cluster{dir: dir}
	if err := writeCA(dir); err != nil {
		c.stop()
		return nil, err
	}
	addrs, err := reservePorts(3)
	if err != nil {
		c.stop()
		return nil, err
	}
	var peers []string
	for i, a := range addrs {
		peers = append(peers, fmt.Sprintf("%d=%s", i+1, a))
	}
	self, err := os.Executable()
	if err != nil {
		c.stop()
		return nil, err
	}
	for id := uint64(1); id <= 3; id++ {
		data := filepath.Join(dir, fmt.Sprintf("host%d", id))
		cmd := exec.Command(self, "-role", "worker", "-id", strconv.FormatUint(id, 10), "-dir", data,
			"-ca-dir", dir, "-peers", strings.Join(peers, ","), "-tick", o.tick.String())
		cmd.Stderr = os.Stderr
		in, err := cmd.StdinPipe()
		if err != nil {
			c.stop()
			return nil, err
		}
		out, err := cmd.StdoutPipe()
		if err != nil {
			c.stop()
			return nil, err
		}
		if err := cmd.Start(); err != nil {
			c.stop()
			return nil, err
		}
		c.procs = append(c.procs, &proc{id: id, cmd: cmd, in: in, out: json.NewDecoder(bufio.NewReader(out))})
	}
	return c, nil
}

// writeCA creates the benchmark's CA in dir, for the workers.
func writeCA(dir string) error {
	ca, err := devcert.NewCA("host benchmark")
	if err != nil {
		return err
	}
	key, err := ca.KeyPEM()
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, "ca.pem"), ca.CertPEM(), 0o600); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, "ca-key.pem"), key, 0o600)
}

func parsePeers(s string) (map[uint64]string, error) {
	peers := map[uint64]string{}
	for _, part := range strings.Split(s, ",") {
		idStr, addr, ok := strings.Cut(part, "=")
		id, err := strconv.ParseUint(idStr, 10, 64)
		if !ok || err != nil || id == 0 {
			return nil, fmt.Errorf("bad peer %q, want id=host:port", part)
		}
		peers[id] = addr
	}
	return peers, nil
}

// stop ends the workers (closing their input makes them stop their host)
// and removes the directory.
func (c *cluster) stop() {
	for _, p := range c.procs {
		_ = p.in.Close()
	}
	for _, p := range c.procs {
		done := make(chan struct{})
		go func() { _ = p.cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(20 * time.Second):
			_ = p.cmd.Process.Kill()
			<-done
		}
	}
	_ = os.RemoveAll(c.dir)
}

// each sends every worker its request (req(i) for the i-th) at once and
// waits for all answers.
func (c *cluster) each(req func(i int) request) ([]response, error) {
	resps := make([]response, len(c.procs))
	errs := make([]error, len(c.procs))
	var wg sync.WaitGroup
	for i, p := range c.procs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			resps[i], errs[i] = p.do(req(i))
		}()
	}
	wg.Wait()
	return resps, errors.Join(errs...)
}

// all sends the same request to every worker.
func (c *cluster) all(req request) ([]response, error) {
	return c.each(func(int) request { return req })
}

// waitFor polls the workers' state every half second until ok holds for
// every one of them, or timeout passes.
func (c *cluster) waitFor(what string, timeout time.Duration, ok func(r response) bool) error {
	deadline := time.Now().Add(timeout)
	for {
		resps, err := c.all(request{Op: "state"})
		if err != nil {
			return err
		}
		done := true
		for _, r := range resps {
			done = done && ok(r)
		}
		if done {
			return nil
		}
		if time.Now().After(deadline) {
			var st []string
			for i, r := range resps {
				st = append(st, fmt.Sprintf("host %d: %d replicas, %d with a leader, %d led, %d quiesced",
					i+1, r.Replicas, r.WithLeader, len(r.Led), r.Quiesced))
			}
			return fmt.Errorf("%s: not after %v (%s)", what, timeout, strings.Join(st, "; "))
		}
		time.Sleep(500 * time.Millisecond)
	}
}

// startGroups starts groups 1..n on every host and waits until every
// replica knows a leader.
func (c *cluster) startGroups(n int) error {
	if _, err := c.all(request{Op: "start", First: 1, Count: uint64(n)}); err != nil {
		return err
	}
	return c.waitFor("every replica knows a leader", 5*time.Minute, func(r response) bool { return r.WithLeader == n })
}

// waitQuiesced waits until every replica of the n groups is quiesced.
func (c *cluster) waitQuiesced(n int, timeout time.Duration) error {
	return c.waitFor("every replica quiesced", timeout, func(r response) bool { return r.Quiesced == int64(n) })
}

// wantLeader is the host meant to lead group g: the leaders are spread
// round-robin over the hosts.
func wantLeader(g uint64) uint64 { return (g-1)%3 + 1 }

// spreadLeaders moves the leadership of each of the n groups to
// wantLeader, and waits until done.
func (c *cluster) spreadLeaders(n int) error {
	resps, err := c.all(request{Op: "state"})
	if err != nil {
		return err
	}
	_, err = c.each(func(i int) request {
		req := request{Op: "transfer"}
		for _, g := range resps[i].Led {
			if to := wantLeader(g); to != uint64(i+1) {
				req.Transfers = append(req.Transfers, [2]uint64{g, to})
			}
		}
		return req
	})
	if err != nil {
		return err
	}
	return c.waitFor("the leaders spread over the hosts", 2*time.Minute, func(r response) bool {
		for _, g := range r.Led {
			if wantLeader(g) != r.Host {
				return false
			}
		}
		return len(r.Led) == ledShare(n, r.Host)
	})
}

// ledShare is how many of groups 1..n host leads once spread.
func ledShare(n int, host uint64) int {
	count := 0
	for g := uint64(1); g <= uint64(n); g++ {
		if wantLeader(g) == host {
			count++
		}
	}
	return count
}

// leaders returns, per host, the groups among 1..n it leads, sorted.
func (c *cluster) leaders(n int) ([][]uint64, error) {
	resps, err := c.all(request{Op: "state"})
	if err != nil {
		return nil, err
	}
	out := make([][]uint64, len(resps))
	for i, r := range resps {
		for _, g := range r.Led {
			if g <= uint64(n) {
				out[i] = append(out[i], g)
			}
		}
		sort.Slice(out[i], func(a, b int) bool { return out[i][a] < out[i][b] })
	}
	return out, nil
}

// pids returns the workers' process IDs.
func (c *cluster) pids() []int {
	var out []int
	for _, p := range c.procs {
		out = append(out, p.cmd.Process.Pid)
	}
	return out
}
