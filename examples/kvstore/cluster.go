package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// cluster runs kvstore nodes as child processes on loopback. The demo, the
// benchmark and the end-to-end test use it.
type cluster struct {
	bin     string
	baseDir string
	extra   []string
	ids     []uint64
	addrs   map[uint64]string
	client  *http.Client

	mu    sync.Mutex
	procs map[uint64]*process
}

type process struct {
	cmd  *exec.Cmd
	done chan struct{}
}

// newCluster picks a free loopback port for each of size nodes; nothing
// runs until start. extra is passed to every `serve`.
func newCluster(bin, baseDir string, size int, extra ...string) (*cluster, error) {
	c := &cluster{bin: bin, baseDir: baseDir, extra: extra, addrs: map[uint64]string{},
		procs:  map[uint64]*process{},
		client: &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 256, MaxConnsPerHost: 0}}}
	for i := 1; i <= size; i++ {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		c.addrs[uint64(i)] = ln.Addr().String()
		ln.Close()
		c.ids = append(c.ids, uint64(i))
	}
	return c, nil
}

func (c *cluster) peersFlag() string {
	parts := make([]string, 0, len(c.ids))
	for _, id := range c.ids {
		parts = append(parts, fmt.Sprintf("%d=%s", id, c.addrs[id]))
	}
	return strings.Join(parts, ",")
}

// start launches node id (its data directory survives restarts) and waits
// until it answers /status.
func (c *cluster) start(ctx context.Context, id uint64) error {
	dir := filepath.Join(c.baseDir, fmt.Sprintf("node%d", id))
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	logf, err := os.OpenFile(filepath.Join(c.baseDir, fmt.Sprintf("node%d.log", id)), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		return err
	}
	args := append([]string{"serve", "--id", strconv.FormatUint(id, 10), "--listen", c.addrs[id],
		"--peers", c.peersFlag(), "--data", dir}, c.extra...)
	cmd := exec.Command(c.bin, args...)
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		logf.Close()
		return err
	}
	p := &process{cmd: cmd, done: make(chan struct{})}
	go func() {
		_ = cmd.Wait()
		logf.Close()
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

// kill sends SIGKILL to node id and waits for it to die.
func (c *cluster) kill(id uint64) {
	c.signal(id, syscall.SIGKILL)
}

// stop asks node id to shut down cleanly.
func (c *cluster) stop(id uint64) {
	c.signal(id, syscall.SIGTERM)
}

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

// stopAll shuts every node down.
func (c *cluster) stopAll() {
	for _, id := range c.ids {
		c.stop(id)
	}
}

func (c *cluster) url(id uint64, path string) string {
	return "http://" + c.addrs[id] + path
}

// nodeStatus is the part of GET /status the tools read.
type nodeStatus struct {
	ID        uint64
	Lead      uint64
	RaftState string
	Term      uint64
	Commit    uint64
	Applied   uint64
}

func (c *cluster) status(ctx context.Context, id uint64) (nodeStatus, error) {
	body, code, err := c.do(ctx, http.MethodGet, c.url(id, "/status"), nil)
	if err != nil {
		return nodeStatus{}, err
	}
	if code != http.StatusOK {
		return nodeStatus{}, fmt.Errorf("status of node %d: HTTP %d", id, code)
	}
	var raw struct {
		ID        string `json:"id"`
		Lead      string `json:"lead"`
		RaftState string `json:"raftState"`
		Term      uint64 `json:"term"`
		Commit    uint64 `json:"commit"`
		Applied   uint64 `json:"applied"`
	}
	if err := json.Unmarshal(body, &raw); err != nil {
		return nodeStatus{}, err
	}
	s := nodeStatus{RaftState: raw.RaftState, Term: raw.Term, Commit: raw.Commit, Applied: raw.Applied}
	s.ID, _ = strconv.ParseUint(raw.ID, 16, 64)
	s.Lead, _ = strconv.ParseUint(raw.Lead, 16, 64)
	return s, nil
}

// waitLeader polls the live nodes until one is leader and every live node
// follows it, and returns it with its term.
func (c *cluster) waitLeader(ctx context.Context) (lead, term uint64, err error) {
	err = poll(ctx, 20*time.Millisecond, func() error {
		lead, term = 0, 0
		for _, id := range c.ids {
			if !c.alive(id) {
				continue
			}
			s, err := c.status(ctx, id)
			if err != nil {
				return err
			}
			if s.Lead == 0 || (lead != 0 && s.Lead != lead) {
				return errors.New("no agreed leader yet")
			}
			lead = s.Lead
			if s.RaftState == "StateLeader" {
				term = s.Term
			}
		}
		if term == 0 {
			return errors.New("leader not confirmed by itself yet")
		}
		return nil
	})
	return lead, term, err
}

// waitCaughtUp polls node id until it applied at least index.
func (c *cluster) waitCaughtUp(ctx context.Context, id, index uint64) error {
	return poll(ctx, 20*time.Millisecond, func() error {
		s, err := c.status(ctx, id)
		if err != nil {
			return err
		}
		if s.Applied < index {
			return fmt.Errorf("node %d applied %d of %d", id, s.Applied, index)
		}
		return nil
	})
}

// put writes key=value through node id and returns the HTTP status.
func (c *cluster) put(ctx context.Context, id uint64, key, value string) (int, error) {
	_, code, err := c.do(ctx, http.MethodPut, c.url(id, "/kv/"+key), strings.NewReader(value))
	return code, err
}

// get reads key through node id; found is false on 404.
func (c *cluster) get(ctx context.Context, id uint64, key string, stale bool) (value string, code int, err error) {
	path := "/kv/" + key
	if stale {
		path += "?stale=1"
	}
	body, code, err := c.do(ctx, http.MethodGet, c.url(id, path), nil)
	return string(body), code, err
}

func (c *cluster) do(ctx context.Context, method, url string, body io.Reader) ([]byte, int, error) {
	req, err := http.NewRequestWithContext(ctx, method, url, body)
	if err != nil {
		return nil, 0, err
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
