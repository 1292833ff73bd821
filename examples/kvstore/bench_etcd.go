package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// etcdCluster runs 3 etcd servers (examples/kvstore/etcdnode: etcd v3.6
// through its embed package, default settings, fsync on) as child
// processes on loopback, for the benchmark. Clients use etcd's JSON gateway
// (/v3/kv/put, /v3/kv/range) over plain HTTP and send to the leader.
type etcdCluster struct {
	clients []string
	procs   []*exec.Cmd
	leader  string
	httpc   *http.Client
}

// startEtcd builds etcdnode (run from examples/kvstore) and starts 3
// members under dir.
func startEtcd(ctx context.Context, dir string) (*etcdCluster, error) {
	bin := filepath.Join(dir, "etcdnode")
	build := exec.Command("go", "build", "-o", bin, ".")
	build.Dir = "etcdnode"
	if out, err := build.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("building etcdnode (run the benchmark from examples/kvstore): %v: %s", err, out)
	}
	e := &etcdCluster{httpc: &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 256}}}
	var peers, names []string
	for i := 1; i <= 3; i++ {
		c, err := freeAddr()
		if err != nil {
			return nil, err
		}
		p, err := freeAddr()
		if err != nil {
			return nil, err
		}
		e.clients = append(e.clients, c)
		names = append(names, fmt.Sprintf("n%d", i))
		peers = append(peers, p)
	}
	var cluster []string
	for i := range names {
		cluster = append(cluster, names[i]+"=http://"+peers[i])
	}
	for i := range names {
		logf, err := os.Create(filepath.Join(dir, names[i]+".log"))
		if err != nil {
			return nil, err
		}
		cmd := exec.Command(bin, "--name", names[i], "--dir", filepath.Join(dir, names[i]), "--client", e.clients[i],
			"--peer", peers[i], "--cluster", strings.Join(cluster, ","))
		cmd.Stdout, cmd.Stderr = logf, logf
		if err := cmd.Start(); err != nil {
			return nil, err
		}
		e.procs = append(e.procs, cmd)
	}
	err := poll(ctx, 50*time.Millisecond, func() error {
		for _, c := range e.clients {
			var st struct {
				Header struct {
					MemberID string `json:"member_id"`
				} `json:"header"`
				Leader string `json:"leader"`
			}
			if err := e.post(ctx, c, "/v3/maintenance/status", map[string]string{}, &st); err != nil {
				return err
			}
			if st.Leader != "" && st.Leader == st.Header.MemberID {
				e.leader = c
				return nil
			}
		}
		return errors.New("no etcd leader yet")
	})
	if err != nil {
		e.stop()
		return nil, err
	}
	return e, nil
}

func (e *etcdCluster) post(ctx context.Context, addr, path string, body, out any) error {
	b, err := json.Marshal(body)
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, "http://"+addr+path, bytes.NewReader(b))
	if err != nil {
		return err
	}
	resp, err := e.httpc.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	rb, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s: HTTP %d: %s", path, resp.StatusCode, rb)
	}
	if out != nil {
		return json.Unmarshal(rb, out)
	}
	return nil
}

func b64(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }

func (e *etcdCluster) put(ctx context.Context, key, value string) error {
	return e.post(ctx, e.leader, "/v3/kv/put", map[string]string{"key": b64(key), "value": b64(value)}, nil)
}

func (e *etcdCluster) get(ctx context.Context, key string) error {
	return e.post(ctx, e.leader, "/v3/kv/range", map[string]string{"key": b64(key)}, nil)
}

func (e *etcdCluster) cpuTime() time.Duration {
	var pids []int
	for _, p := range e.procs {
		pids = append(pids, p.Process.Pid)
	}
	return processesCPU(pids)
}

// stop kills the members: a leader stopped cleanly while the others stop
// tries to hand its leadership over for a long time, and the data is thrown
// away anyway.
func (e *etcdCluster) stop() {
	for _, p := range e.procs {
		_ = p.Process.Signal(syscall.SIGKILL)
	}
	for _, p := range e.procs {
		_ = p.Wait()
	}
}

// processesCPU returns the user+sys time of processes pids.
func processesCPU(pids []int) time.Duration {
	var total time.Duration
	for _, pid := range pids {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
		if err != nil {
			continue
		}
		// Fields after the command name (which ends with ')'): utime and
		// stime are the 12th and 13th, in clock ticks of 1/100 s.
		f := strings.Fields(string(b[bytes.LastIndexByte(b, ')')+1:]))
		if len(f) > 12 {
			u, _ := strconv.ParseInt(f[11], 10, 64)
			s, _ := strconv.ParseInt(f[12], 10, 64)
			total += time.Duration(u+s) * 10 * time.Millisecond
		}
	}
	return total
}
