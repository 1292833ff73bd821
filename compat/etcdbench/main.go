// Command etcdbench measures etcd end to end on Pontoon against etcd on its
// own raft: etcd server v3.6.16 is built twice from the module cache (on
// etcd/raft v3.6.0, and on Pontoon through a module replace, as
// compat/cmd/etcdonpontoon does), and each binary runs as three processes
// on loopback with fsync on.
//
// Throughput: closed-loop clients of go.etcd.io/etcd/client/v3 send to the
// leader, PUT-only with 128-byte values and then half linearizable GETs,
// for each client count; the two builds alternate run by run. It reports
// throughput, latency percentiles, the server CPU per operation (user+sys of
// the three processes from /proc/<pid>/stat), and WAL fsyncs and bytes sent
// to peers per operation (from etcd's /metrics).
//
// Failover: with writers running, the leader is killed with SIGKILL again
// and again (alternating between the two clusters), measuring the time to a
// new leader as seen by polling the survivors' Status, and the time from the
// kill until a write issued after it is acknowledged; the killed member is
// restarted each time. At the end every acknowledged write must be there.
//
//	go run . [-runs 3] [-duration 8s] [-clients 1,16,128] [-kills 20]
//	go run . -runs 0 -kills 20                             # failover only
//	go run . -runs 1 -clients 128 -kills 0 -profiles DIR   # leader CPU profiles (--enable-pprof)
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/pontoon-raft/raft/compat/internal/etcdbuild"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"
)

type options struct {
	work             string
	runs, kills      int
	clients          []int
	warmup, duration time.Duration
	jsonOut          string
	// profiles, if not empty, is where the leader's CPU profiles go.
	profiles string
}

func main() {
	var o options
	var clients string
	flag.StringVar(&o.work, "work", "", "work directory (default: a new temporary directory, removed at the end)")
	flag.IntVar(&o.runs, "runs", 3, "measured runs of each configuration and build")
	flag.DurationVar(&o.duration, "duration", 8*time.Second, "measured length of each run")
	flag.DurationVar(&o.warmup, "warmup", time.Second, "unmeasured load before each run")
	flag.StringVar(&clients, "clients", "1,16,128", "comma-separated client counts")
	flag.IntVar(&o.kills, "kills", 20, "leader kills per build (0: no failover test)")
	flag.StringVar(&o.jsonOut, "json", "", "also write every run's figures to this file")
	flag.StringVar(&o.profiles, "profiles", "", "run etcd with --enable-pprof and write the leader's CPU profile of every measured run to this directory")
	flag.Parse()
	var err error
	if o.clients, err = parseClients(clients); err != nil {
		fail(err)
	}
	if o.runs < 0 || o.kills < 0 || o.duration <= 0 || o.warmup < 0 {
		fail(fmt.Errorf("-runs and -kills must not be negative, -duration must be positive"))
	}
	if err := run(o); err != nil {
		fail(err)
	}
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "etcdbench:", err)
	os.Exit(2)
}

// parseClients reads a comma-separated list of positive client counts.
func parseClients(s string) ([]int, error) {
	var res []int
	for _, f := range strings.Split(s, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n <= 0 {
			return nil, fmt.Errorf("-clients: %q is not a positive number", f)
		}
		res = append(res, n)
	}
	return res, nil
}

// basePort is where each build's cluster listens (see newCluster).
var basePort = map[etcdbuild.Variant]int{etcdbuild.EtcdRaft: 32380, etcdbuild.Pontoon: 32390}

func run(o options) error {
	repo, err := etcdbuild.RepoRoot()
	if err != nil {
		return err
	}
	if o.work == "" {
		dir, err := os.MkdirTemp("", "etcdbench-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(dir)
		o.work = dir
	}
	logf("work directory %s", o.work)
	w := etcdbuild.Workspace{Dir: o.work, Repo: repo}
	binaries := map[etcdbuild.Variant]string{}
	for _, v := range etcdbuild.Variants {
		start := time.Now()
		bin, err := build(w, v)
		if err != nil {
			return fmt.Errorf("building %s: %w", v, err)
		}
		binaries[v] = bin
		logf("%s: etcd built in %s", v, time.Since(start).Round(time.Second))
	}
	var all []runRecord
	for r := 0; r < o.runs; r++ {
		for _, n := range o.clients {
			order := etcdbuild.Variants
			if r%2 == 1 {
				order = []etcdbuild.Variant{etcdbuild.Pontoon, etcdbuild.EtcdRaft}
			}
			for _, v := range order {
				recs, err := loadRun(o, v, binaries[v], n, r)
				if err != nil {
					return err
				}
				all = append(all, recs...)
			}
		}
	}
	var kills map[etcdbuild.Variant][]killResult
	var checked map[etcdbuild.Variant]int
	if o.kills > 0 {
		if kills, checked, err = failover(o, binaries); err != nil {
			return err
		}
	}
	report(os.Stdout, o, all, kills, checked)
	if o.jsonOut != "" {
		b, err := json.MarshalIndent(struct {
			Runs  []runRecord
			Kills map[etcdbuild.Variant][]killResult
		}{all, kills}, "", "  ")
		if err != nil {
			return err
		}
		return os.WriteFile(o.jsonOut, b, 0o644)
	}
	return nil
}

// build compiles etcd's main package in v's driver module.
func build(w etcdbuild.Workspace, v etcdbuild.Variant) (string, error) {
	if err := w.Setup(v, []string{"go.etcd.io/etcd/server/v3"}, []string{"go.etcd.io/etcd/server/v3/etcdmain"}); err != nil {
		return "", err
	}
	bin := filepath.Join(w.Dir, "bin", string(v), "etcd")
	_, err := w.GoCmd(v, "build", "-o", bin, "go.etcd.io/etcd/server/v3")
	return bin, err
}

// loadRun starts a fresh cluster of v, runs each workload with n clients
// against its leader, and stops it.
func loadRun(o options, v etcdbuild.Variant, binary string, n, runIndex int) ([]runRecord, error) {
	c := newCluster(string(v), binary, filepath.Join(o.work, "data", string(v)), basePort[v])
	c.pprof = o.profiles != ""
	if err := c.start(); err != nil {
		return nil, err
	}
	defer c.stop()
	cli, err := clientv3.New(clientv3.Config{Endpoints: c.endpoints(), DialTimeout: 5 * time.Second, Logger: zap.NewNop()})
	if err != nil {
		return nil, err
	}
	defer cli.Close()
	leader, err := c.waitReady(cli, 30*time.Second)
	if err != nil {
		return nil, err
	}
	var recs []runRecord
	for _, w := range []workload{putOnly, mixed} {
		profile := ""
		if o.profiles != "" {
			if err := os.MkdirAll(o.profiles, 0o755); err != nil {
				return nil, err
			}
			profile = filepath.Join(o.profiles, fmt.Sprintf("%s-%s-%d-run%d.pprof", v, w.name, n, runIndex+1))
		}
		res, err := runLoad(c, leader, w, n, o.warmup, o.duration, profile)
		if err != nil {
			return nil, err
		}
		rec := newRunRecord(v, w, n, runIndex, res)
		logf("%s %s x%d run %d: %.0f ops/s, p50 %s p99 %s, %.0f us CPU/op, %d errors",
			v, w.name, n, runIndex+1, rec.OpsPerSecond, rec.P50, rec.P99, rec.CPUPerOpMicros, res.errors)
		recs = append(recs, rec)
	}
	return recs, nil
}

// failover runs o.kills leader kills on each build, alternating, each
// cluster under its own writers, and checks the acknowledged writes.
func failover(o options, binaries map[etcdbuild.Variant]string) (map[etcdbuild.Variant][]killResult, map[etcdbuild.Variant]int, error) {
	rigs := map[etcdbuild.Variant]*failoverRig{}
	for _, v := range etcdbuild.Variants {
		c := newCluster(string(v), binaries[v], filepath.Join(o.work, "failover", string(v)), basePort[v])
		if err := c.start(); err != nil {
			return nil, nil, err
		}
		defer c.stop()
		cli, err := clientv3.New(clientv3.Config{Endpoints: c.endpoints(), DialTimeout: 5 * time.Second, Logger: zap.NewNop()})
		if err != nil {
			return nil, nil, err
		}
		defer cli.Close()
		rigs[v] = &failoverRig{c: c, cli: cli}
	}
	kills := map[etcdbuild.Variant][]killResult{}
	for i := 0; i < o.kills; i++ {
		for _, v := range etcdbuild.Variants {
			res, err := rigs[v].killLeader()
			if err != nil {
				return nil, nil, fmt.Errorf("kill %d: %w", i+1, err)
			}
			logf("%s kill %d: new leader after %s (%d terms later, the restarted member: %t), writes back after %s", v, i+1,
				res.NewLeader.Round(time.Millisecond), res.TermsTaken, res.RestartedWon, res.Unavailable.Round(time.Millisecond))
			kills[v] = append(kills[v], res)
		}
	}
	checked := map[etcdbuild.Variant]int{}
	for _, v := range etcdbuild.Variants {
		n, err := rigs[v].verify()
		if err != nil {
			return nil, nil, err
		}
		checked[v] = n
		logf("%s: all %d acknowledged writes present", v, n)
	}
	return kills, checked, nil
}

func logf(format string, args ...interface{}) {
	fmt.Fprintf(os.Stderr, "[%s] %s\n", time.Now().Format("15:04:05"), fmt.Sprintf(format, args...))
}
