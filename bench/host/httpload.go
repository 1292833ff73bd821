package main

import (
	"context"
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
	"sync"
	"time"
)

// httpClient is the client of both systems in the single scenario, as
// examples/kvstore's own benchmark builds it.
var httpClient = &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 256}}

// httpLoad runs clients closed-loop PUTs of payload-byte values to
// baseURL/kv/{key} for warmup and then duration, and measures the second
// part: the PUTs completed, their latencies, and the CPU time of the server
// processes pids.
func httpLoad(baseURL string, pids []int, clients, payload int, warmup, duration time.Duration) (response, error) {
	start := time.Now()
	measureFrom, end := start.Add(warmup), start.Add(warmup+duration)
	value := strings.Repeat("v", payload)
	var (
		mu   sync.Mutex
		resp response
		wg   sync.WaitGroup
	)
	for i := 0; i < clients; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var c clientTally
			for n := 0; ; n++ {
				t0 := time.Now()
				if !t0.Before(end) {
					break
				}
				err := put(fmt.Sprintf("%s/kv/bench-%d-%d", baseURL, i, n%keysPerClient), value)
				t1 := time.Now()
				if !t0.Before(measureFrom) && !t1.After(end) {
					c.record(t0, t1, err)
				}
			}
			mu.Lock()
			c.addTo(&resp)
			mu.Unlock()
		}()
	}
	time.Sleep(time.Until(measureFrom))
	cpu0, err := procsCPU(pids)
	if err != nil {
		return resp, err
	}
	time.Sleep(time.Until(end))
	cpu1, err := procsCPU(pids)
	if err != nil {
		return resp, err
	}
	wg.Wait()
	resp.CPUNanos = cpu1 - cpu0
	return resp, nil
}

func put(url, value string) error {
	req, err := http.NewRequest(http.MethodPut, url, strings.NewReader(value))
	if err != nil {
		return err
	}
	r, err := httpClient.Do(req)
	if err != nil {
		return err
	}
	_, _ = io.Copy(io.Discard, r.Body)
	_ = r.Body.Close()
	if r.StatusCode != http.StatusNoContent {
		return fmt.Errorf("HTTP %d", r.StatusCode)
	}
	return nil
}

// procsCPU is the user+system CPU time of the processes so far, from
// /proc/<pid>/stat (in clock ticks of 10 ms).
func procsCPU(pids []int) (int64, error) {
	var total int64
	for _, pid := range pids {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
		if err != nil {
			return 0, err
		}
		// The fields after the command name, which is in parentheses:
		// state is field 3, utime 14 and stime 15.
		i := strings.LastIndexByte(string(b), ')')
		f := strings.Fields(string(b[i+1:]))
		if len(f) < 13 {
			return 0, fmt.Errorf("/proc/%d/stat: %d fields", pid, len(f))
		}
		for _, s := range f[11:13] {
			ticks, err := strconv.ParseInt(s, 10, 64)
			if err != nil {
				return 0, err
			}
			total += ticks * int64(10*time.Millisecond)
		}
	}
	return total, nil
}

// kvstoreCluster is three examples/kvstore nodes, each its own process.
type kvstoreCluster struct {
	dir   string
	addrs []string
	cmds  []*exec.Cmd
}

func startKVStore(bin string) (*kvstoreCluster, error) {
	dir, err := os.MkdirTemp("", "host-bench-kvstore-")
	if err != nil {
		return nil, err
	}
	k := &kvstoreCluster{dir: dir}
	if k.addrs, err = reservePorts(3); err != nil {
		k.stop()
		return nil, err
	}
	var peers []string
	for i, a := range k.addrs {
		peers = append(peers, fmt.Sprintf("%d=%s", i+1, a))
	}
	for i, a := range k.addrs {
		logf, err := os.Create(filepath.Join(dir, fmt.Sprintf("node%d.log", i+1)))
		if err != nil {
			k.stop()
			return nil, err
		}
		cmd := exec.Command(bin, "serve", "--id", strconv.Itoa(i+1), "--listen", a,
			"--peers", strings.Join(peers, ","), "--data", filepath.Join(dir, fmt.Sprintf("node%d", i+1)))
		cmd.Stdout, cmd.Stderr = logf, logf
		if err := cmd.Start(); err != nil {
			k.stop()
			return nil, err
		}
		k.cmds = append(k.cmds, cmd)
	}
	return k, nil
}

// leader polls GET /status until every node names the same leader, and
// returns that leader's address.
func (k *kvstoreCluster) leader(timeout time.Duration) (string, error) {
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		lead := ""
		agreed := true
		for _, a := range k.addrs {
			var st struct {
				Lead string `json:"lead"`
			}
			if err := getJSON("http://"+a+"/status", &st); err != nil || st.Lead == "" || st.Lead == "0" ||
				(lead != "" && st.Lead != lead) {
				agreed = false
				break
			}
			lead = st.Lead
		}
		if agreed {
			id, err := strconv.ParseUint(lead, 16, 64)
			if err != nil || id == 0 || id > 3 {
				return "", fmt.Errorf("kvstore: leader %q", lead)
			}
			return k.addrs[id-1], nil
		}
		time.Sleep(100 * time.Millisecond)
	}
	return "", errors.New("kvstore: no leader agreed on")
}

func getJSON(url string, v any) error {
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	r, err := httpClient.Do(req)
	if err != nil {
		return err
	}
	defer r.Body.Close()
	if r.StatusCode != http.StatusOK {
		return fmt.Errorf("HTTP %d", r.StatusCode)
	}
	return json.NewDecoder(r.Body).Decode(v)
}

func (k *kvstoreCluster) pids() []int {
	var out []int
	for _, c := range k.cmds {
		out = append(out, c.Process.Pid)
	}
	return out
}

// stop ends the nodes (SIGTERM, as kvstore expects) and removes the
// directory.
func (k *kvstoreCluster) stop() {
	for _, c := range k.cmds {
		_ = c.Process.Signal(os.Interrupt)
	}
	for _, c := range k.cmds {
		done := make(chan struct{})
		go func() { _ = c.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			_ = c.Process.Kill()
			<-done
		}
	}
	_ = os.RemoveAll(k.dir)
}
