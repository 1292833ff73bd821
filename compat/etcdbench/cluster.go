package main

import (
	"bufio"
	"context"
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

	clientv3 "go.etcd.io/etcd/client/v3"
)

// clusterSize is the number of etcd processes in a cluster.
const clusterSize = 3

// member is one etcd process of a cluster.
type member struct {
	name               string
	dataDir            string
	clientURL, peerURL string
	cmd                *exec.Cmd
	exited             chan struct{}
	id                 uint64 // etcd's member ID, known once it answered
}

// cluster is three etcd processes of one binary on loopback, each with its
// own data directory (fsync on, etcd's default).
type cluster struct {
	variant string
	binary  string
	// pprof starts etcd with --enable-pprof.
	pprof   bool
	dir     string
	members []*member
}

// newCluster lays out a cluster whose ports start at basePort: member i
// listens for clients on basePort+2i and for peers on basePort+2i+1.
func newCluster(variant, binary, dir string, basePort int) *cluster {
	c := &cluster{variant: variant, binary: binary, dir: dir}
	for i := 0; i < clusterSize; i++ {
		c.members = append(c.members, &member{
			name:      fmt.Sprintf("m%d", i),
			dataDir:   filepath.Join(dir, fmt.Sprintf("m%d", i)),
			clientURL: fmt.Sprintf("http://127.0.0.1:%d", basePort+2*i),
			peerURL:   fmt.Sprintf("http://127.0.0.1:%d", basePort+2*i+1),
		})
	}
	return c
}

// endpoints are the client URLs of every member.
func (c *cluster) endpoints() []string {
	var eps []string
	for _, m := range c.members {
		eps = append(eps, m.clientURL)
	}
	return eps
}

// start starts every member on empty data directories.
func (c *cluster) start() error {
	if err := os.RemoveAll(c.dir); err != nil {
		return err
	}
	for _, m := range c.members {
		if err := c.startMember(m); err != nil {
			c.stop()
			return err
		}
	}
	return nil
}

// startMember starts m's process; its data directory may hold the state
// of an earlier run, which etcd then restarts from.
func (c *cluster) startMember(m *member) error {
	var initial []string
	for _, o := range c.members {
		initial = append(initial, o.name+"="+o.peerURL)
	}
	if err := os.MkdirAll(c.dir, 0o755); err != nil {
		return err
	}
	logFile, err := os.OpenFile(filepath.Join(c.dir, m.name+".log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	args := []string{
		"--name", m.name,
		"--data-dir", m.dataDir,
		"--listen-client-urls", m.clientURL,
		"--advertise-client-urls", m.clientURL,
		"--listen-peer-urls", m.peerURL,
		"--initial-advertise-peer-urls", m.peerURL,
		"--initial-cluster", strings.Join(initial, ","),
		"--initial-cluster-state", "new",
		"--initial-cluster-token", "etcdbench",
		"--log-level", "warn",
	}
	if c.pprof {
		args = append(args, "--enable-pprof")
	}
	m.cmd = exec.Command(c.binary, args...)
	m.cmd.Stdout, m.cmd.Stderr = logFile, logFile
	if err := m.cmd.Start(); err != nil {
		logFile.Close()
		return fmt.Errorf("starting %s %s: %w", c.variant, m.name, err)
	}
	m.exited = make(chan struct{})
	go func(cmd *exec.Cmd, exited chan struct{}) {
		cmd.Wait()
		logFile.Close()
		close(exited)
	}(m.cmd, m.exited)
	return nil
}

// kill sends SIGKILL to m and waits for the process to be gone.
func (m *member) kill() {
	if m.cmd == nil {
		return
	}
	m.cmd.Process.Signal(syscall.SIGKILL)
	<-m.exited
	m.cmd = nil
}

// running reports whether m's process was started and has not exited.
func (m *member) running() bool {
	if m.cmd == nil {
		return false
	}
	select {
	case <-m.exited:
		return false
	default:
		return true
	}
}

// stop kills every member.
func (c *cluster) stop() {
	for _, m := range c.members {
		m.kill()
	}
}

// status asks m for its status with the given timeout.
func status(cli *clientv3.Client, m *member, timeout time.Duration) (*clientv3.StatusResponse, error) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	return cli.Status(ctx, m.clientURL)
}

// waitReady waits until every running member answers and all agree on a
// leader, and returns the leader. It learns the members' IDs on the way.
func (c *cluster) waitReady(cli *clientv3.Client, timeout time.Duration) (*member, error) {
	deadline := time.Now().Add(timeout)
	for {
		leader, err := c.leader(cli)
		if err == nil {
			return leader, nil
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("%s cluster not ready after %s: %w", c.variant, timeout, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// leader returns the member every running member names as leader.
func (c *cluster) leader(cli *clientv3.Client) (*member, error) {
	var leaderID uint64
	for _, m := range c.members {
		if !m.running() {
			return nil, fmt.Errorf("%s is not running", m.name)
		}
		st, err := status(cli, m, time.Second)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", m.name, err)
		}
		m.id = st.Header.MemberId
		if st.Leader == 0 || (leaderID != 0 && st.Leader != leaderID) {
			return nil, fmt.Errorf("%s names leader %x", m.name, st.Leader)
		}
		leaderID = st.Leader
	}
	for _, m := range c.members {
		if m.id == leaderID {
			return m, nil
		}
	}
	return nil, fmt.Errorf("leader %x is not a member", leaderID)
}

// cpuTicks returns the user+sys time of pid so far, in clock ticks.
func cpuTicks(pid int) (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	return parseStatCPU(string(b))
}

// parseStatCPU reads utime+stime (fields 14 and 15) from the text of
// /proc/<pid>/stat. The command name (field 2) may contain spaces, so the
// fields are counted after its closing parenthesis.
func parseStatCPU(stat string) (int64, error) {
	i := strings.LastIndexByte(stat, ')')
	if i < 0 {
		return 0, fmt.Errorf("malformed /proc stat: %q", stat)
	}
	fields := strings.Fields(stat[i+1:])
	// fields[0] is field 3 (state), so field n is fields[n-3].
	if len(fields) < 13 {
		return 0, fmt.Errorf("malformed /proc stat: %d fields after the command", len(fields))
	}
	utime, err := strconv.ParseInt(fields[11], 10, 64)
	if err != nil {
		return 0, fmt.Errorf("malformed utime: %w", err)
	}
	stime, err := strconv.ParseInt(fields[12], 10, 64)
	if err != nil {
		return 0, fmt.Errorf("malformed stime: %w", err)
	}
	return utime + stime, nil
}

// clockTicksPerSecond is USER_HZ, 100 on every Linux platform Go runs on.
const clockTicksPerSecond = 100

// counters are the server-side totals sampled before and after a run.
type counters struct {
	cpu       time.Duration // user+sys of the three processes
	fsyncs    float64       // WAL fsyncs
	peerBytes float64       // bytes sent to peers
}

// sample reads the counters of every member.
func (c *cluster) sample() (counters, error) {
	var s counters
	for _, m := range c.members {
		if !m.running() {
			return s, fmt.Errorf("%s is not running", m.name)
		}
		ticks, err := cpuTicks(m.cmd.Process.Pid)
		if err != nil {
			return s, err
		}
		s.cpu += time.Duration(ticks) * time.Second / clockTicksPerSecond
		metrics, err := scrape(m.clientURL + "/metrics")
		if err != nil {
			return s, err
		}
		s.fsyncs += metrics["etcd_disk_wal_fsync_duration_seconds_count"]
		s.peerBytes += metrics["etcd_network_peer_sent_bytes_total"]
	}
	return s, nil
}

// sub is s-t.
func (s counters) sub(t counters) counters {
	return counters{cpu: s.cpu - t.cpu, fsyncs: s.fsyncs - t.fsyncs, peerBytes: s.peerBytes - t.peerBytes}
}

// profileCPU writes a CPU profile of m over d to path (etcd must run with
// --enable-pprof).
func profileCPU(m *member, d time.Duration, path string) error {
	client := http.Client{Timeout: d + 10*time.Second}
	resp, err := client.Get(fmt.Sprintf("%s/debug/pprof/profile?seconds=%d", m.clientURL, int(d.Seconds())))
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("profiling %s: %s", m.name, resp.Status)
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if _, err := io.Copy(f, resp.Body); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// scrape reads a Prometheus text endpoint.
func scrape(url string) (map[string]float64, error) {
	client := http.Client{Timeout: 5 * time.Second}
	resp, err := client.Get(url)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("%s: %s", url, resp.Status)
	}
	return parseMetrics(resp.Body)
}

// parseMetrics sums the samples of each metric name in Prometheus's text
// format over their labels.
func parseMetrics(r io.Reader) (map[string]float64, error) {
	res := map[string]float64{}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || line[0] == '#' {
			continue
		}
		sp := strings.LastIndexByte(line, ' ')
		if sp < 0 {
			return nil, fmt.Errorf("malformed metric line %q", line)
		}
		name := line[:sp]
		if i := strings.IndexByte(name, '{'); i >= 0 {
			name = name[:i]
		}
		v, err := strconv.ParseFloat(line[sp+1:], 64)
		if err != nil {
			return nil, fmt.Errorf("malformed metric line %q: %w", line, err)
		}
		res[name] += v
	}
	return res, sc.Err()
}
