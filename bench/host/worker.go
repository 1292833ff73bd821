package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/pontoon-raft/raft"
	"github.com/pontoon-raft/raft/host"
	"github.com/pontoon-raft/raft/transport"
	"github.com/pontoon-raft/raft/transport/devcert"
)

// request is one command of the parent to a worker, one JSON line on the
// worker's standard input; the worker answers each with one response line.
type request struct {
	Op string
	// start: groups First..First+Count-1, each on every host.
	First, Count uint64
	// transfer: each [group, to] pair moves group's leadership to host to.
	Transfers [][2]uint64
	// load: closed-loop clients over Groups.
	Groups   []uint64
	Clients  int
	Payload  int
	Warmup   time.Duration
	Duration time.Duration
	// profile: the file of the CPU profile to start, or "" to stop it;
	// heap: a file to write a heap profile to, if set.
	Profile string
}

// response is a worker's answer.
type response struct {
	Err string `json:",omitempty"`
	// heap, counters: the heap (after a GC for heap) and goroutines.
	HeapBytes  uint64
	Goroutines int
	// counters and load: CPU time of the process (user+system) and the
	// host's storage writes (one wal.Save, one fsync, each) so far, or over
	// the measured window of a load.
	CPUNanos int64
	Saves    int64
	// load: the entries those writes carried and the time they took.
	SavedEntries  int64
	SaveTookNanos int64
	// state: the host's ID, the groups it leads, how many of its replicas
	// know a leader, how many are quiesced, and how many replicas it runs.
	Host       uint64
	Led        []uint64
	WithLeader int
	Quiesced   int64
	Replicas   int
	// http: the address the HTTP front listens on.
	Addr string
	// load: proposals completed in the window, errors, and the latency of
	// each proposal of the window in nanoseconds.
	Ops       int64
	Errors    int64
	LastError string
	Latencies []int64
}

// observer counts what the benchmark reads of a host.
type observer struct {
	host.NopObserver
	saves    atomic.Int64
	saveTook atomic.Int64 // nanoseconds writing and syncing
	saved    atomic.Int64 // entries written
	quiesced atomic.Int64
	mu       sync.Mutex
	leader   map[uint64]uint64
}

func (o *observer) Saved(_, entries int, _ int64, took time.Duration) {
	o.saves.Add(1)
	o.saved.Add(int64(entries))
	o.saveTook.Add(int64(took))
}
func (o *observer) Quiesced(n int) { o.quiesced.Store(int64(n)) }
func (o *observer) GroupChanged(group uint64, s host.GroupStatus) {
	o.mu.Lock()
	o.leader[group] = s.Leader
	o.mu.Unlock()
}

type worker struct {
	o    options
	h    *host.Host
	obs  *observer
	prof *os.File
}

func runWorker(o options) error {
	peers, err := parsePeers(o.peers)
	if err != nil {
		return err
	}
	caCert, err := os.ReadFile(filepath.Join(o.caDir, "ca.pem"))
	if err != nil {
		return err
	}
	caKey, err := os.ReadFile(filepath.Join(o.caDir, "ca-key.pem"))
	if err != nil {
		return err
	}
	ca, err := devcert.LoadCA(caCert, caKey)
	if err != nil {
		return err
	}
	cert, err := ca.NodeCertificate(o.id)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", peers[o.id])
	if err != nil {
		return err
	}
	w := &worker{o: o, obs: &observer{leader: map[uint64]uint64{}}}
	w.h, err = host.New(host.Config{
		NodeID: o.id, Dir: o.dir, TickInterval: o.tick,
		NewStateMachine: func(uint64) (host.StateMachine, error) { return &kv{}, nil },
		NewTransport: host.TCP(transport.TCPConfig{
			NodeID: o.id, ClusterID: 19, Peers: peers,
			TLS:    &transport.TLSConfig{RootCAs: ca.Pool(), Certificate: cert},
			Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
		}, ln),
		Observer: w.obs,
	})
	if err != nil {
		return err
	}
	defer w.h.Stop()
	in := bufio.NewScanner(os.Stdin)
	in.Buffer(make([]byte, 1<<20), 64<<20)
	out := json.NewEncoder(os.Stdout)
	for in.Scan() {
		var req request
		if err := json.Unmarshal(in.Bytes(), &req); err != nil {
			return fmt.Errorf("bad request %q: %w", in.Text(), err)
		}
		resp := w.handle(req)
		if err := out.Encode(resp); err != nil {
			return err
		}
	}
	return in.Err()
}

func (w *worker) handle(req request) response {
	var resp response
	var err error
	switch req.Op {
	case "heap":
		runtime.GC()
		runtime.GC()
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		resp.HeapBytes, resp.Goroutines = ms.HeapAlloc, runtime.NumGoroutine()
		if req.Profile != "" {
			err = writeHeapProfile(req.Profile)
		}
	case "counters":
		resp.CPUNanos, resp.Saves, resp.Quiesced = cpuSelf(), w.obs.saves.Load(), w.obs.quiesced.Load()
	case "start":
		for g := req.First; g < req.First+req.Count && err == nil; g++ {
			err = w.h.StartGroup(g, []uint64{1, 2, 3})
		}
	case "state":
		w.obs.mu.Lock()
		for g, l := range w.obs.leader {
			if l != raft.None {
				resp.WithLeader++
			}
			if l == w.o.id {
				resp.Led = append(resp.Led, g)
			}
		}
		w.obs.mu.Unlock()
		resp.Host, resp.Quiesced, resp.Replicas = w.o.id, w.obs.quiesced.Load(), len(w.h.Groups())
	case "transfer":
		for _, t := range req.Transfers {
			if terr := w.h.TransferLeadership(t[0], t[1]); terr != nil && err == nil {
				err = terr
			}
		}
	case "load":
		resp = w.load(req)
	case "http":
		resp.Addr, err = w.serveHTTP()
	case "profile":
		err = w.profile(req.Profile)
	default:
		err = fmt.Errorf("unknown op %q", req.Op)
	}
	if err != nil {
		resp.Err = err.Error()
	}
	return resp
}

// load runs req.Clients closed-loop clients, client i on group
// req.Groups[i%len], each proposing a req.Payload-byte command as soon as
// its previous one returned, for req.Warmup and then req.Duration; what
// completes in the second part is measured. With no clients it only
// measures the process over the same window.
func (w *worker) load(req request) response {
	start := time.Now()
	measureFrom, end := start.Add(req.Warmup), start.Add(req.Warmup+req.Duration)
	ctx, cancel := context.WithDeadline(context.Background(), end)
	defer cancel()
	var (
		mu   sync.Mutex
		resp response
		wg   sync.WaitGroup
	)
	for i := 0; i < req.Clients && len(req.Groups) > 0; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			group := req.Groups[i%len(req.Groups)]
			var c clientTally
			for n := 0; ; n++ {
				cmd := command(i, n, req.Payload)
				t0 := time.Now()
				_, err := w.h.Propose(ctx, group, cmd)
				t1 := time.Now()
				if ctx.Err() != nil {
					break
				}
				if !t0.Before(measureFrom) {
					c.record(t0, t1, err)
				}
			}
			mu.Lock()
			c.addTo(&resp)
			mu.Unlock()
		}(i)
	}
	time.Sleep(time.Until(measureFrom))
	cpu0, saves0, saved0, took0 := cpuSelf(), w.obs.saves.Load(), w.obs.saved.Load(), w.obs.saveTook.Load()
	time.Sleep(time.Until(end))
	resp.CPUNanos, resp.Saves = cpuSelf()-cpu0, w.obs.saves.Load()-saves0
	resp.SavedEntries, resp.SaveTookNanos = w.obs.saved.Load()-saved0, w.obs.saveTook.Load()-took0
	wg.Wait()
	return resp
}

// keysPerClient is how many keys a client writes in turn, in both the
// in-process and the HTTP workloads.
const keysPerClient = 16

// command is the n-th command of client i: "key=value", payload bytes in
// all, over keysPerClient keys per client: the state, and so every
// snapshot of it, stays small.
func command(i, n, payload int) []byte {
	cmd := fmt.Appendf(make([]byte, 0, payload), "c%05d-%02d=", i, n%keysPerClient)
	for len(cmd) < payload {
		cmd = append(cmd, 'v')
	}
	return cmd
}

// serveHTTP answers PUT /kv/{key} with host.Propose of "key=value" to group
// 1, for the comparison with examples/kvstore, which serves the same
// request: 204 once applied, 503 on error. It returns the address it
// listens on, a free loopback port.
func (w *worker) serveHTTP() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	mux := http.NewServeMux()
	mux.HandleFunc("PUT /kv/{key}", func(rw http.ResponseWriter, r *http.Request) {
		value, err := io.ReadAll(r.Body)
		if err != nil {
			http.Error(rw, err.Error(), http.StatusBadRequest)
			return
		}
		cmd := append(append([]byte(r.PathValue("key")), '='), value...)
		ctx, cancel := context.WithTimeout(r.Context(), 5*time.Second)
		defer cancel()
		if _, err := w.h.Propose(ctx, 1, cmd); err != nil {
			http.Error(rw, err.Error(), http.StatusServiceUnavailable)
			return
		}
		rw.WriteHeader(http.StatusNoContent)
	})
	go func() { _ = http.Serve(ln, mux) }()
	return ln.Addr().String(), nil
}

// profile starts a CPU profile into path, or stops the running one.
func (w *worker) profile(path string) error {
	if path == "" {
		if w.prof == nil {
			return errors.New("no profile running")
		}
		pprof.StopCPUProfile()
		err := w.prof.Close()
		w.prof = nil
		return err
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	w.prof = f
	return pprof.StartCPUProfile(f)
}

func writeHeapProfile(path string) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := pprof.WriteHeapProfile(f); err != nil {
		_ = f.Close()
		return err
	}
	return f.Close()
}

// cpuSelf is the process's user+system CPU time so far.
func cpuSelf() int64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return ru.Utime.Nano() + ru.Stime.Nano()
}

// kv is the benchmark's state machine: "key=value" commands into a map,
// made only at the first write so that an idle group's state machine costs
// next to nothing.
type kv struct {
	m map[string][]byte
}

func (s *kv) Apply(cmds []host.Command) error {
	for _, c := range cmds {
		key, value, ok := bytes.Cut(c.Data, []byte("="))
		if !ok {
			continue
		}
		if s.m == nil {
			s.m = map[string][]byte{}
		}
		s.m[string(key)] = bytes.Clone(value)
	}
	return nil
}

// PrepareSnapshot encodes the map as length-prefixed keys and values.
func (s *kv) PrepareSnapshot() (host.Snapshot, error) {
	var b []byte
	for k, v := range s.m {
		b = binary.AppendUvarint(b, uint64(len(k)))
		b = append(b, k...)
		b = binary.AppendUvarint(b, uint64(len(v)))
		b = append(b, v...)
	}
	return host.BytesSnapshot(b), nil
}

func (s *kv) Restore(r io.Reader) error {
	b, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	s.m = nil
	for len(b) > 0 {
		var kv [2][]byte
		for i := range kv {
			n, k := binary.Uvarint(b)
			if k <= 0 || uint64(len(b)-k) < n {
				return errors.New("kv: corrupt snapshot")
			}
			kv[i], b = b[k:k+int(n)], b[k+int(n):]
		}
		if s.m == nil {
			s.m = map[string][]byte{}
		}
		s.m[string(kv[0])] = bytes.Clone(kv[1])
	}
	return nil
}

func (s *kv) Close() error { return nil }

// clientTally is what one closed-loop client measured: the operations that
// succeeded with their latencies, the ones that failed and the last error.
type clientTally struct {
	lat       []int64
	ops, errs int64
	lastErr   string
}

// record counts an operation sent at t0 and answered at t1 with err.
func (c *clientTally) record(t0, t1 time.Time, err error) {
	if err != nil {
		c.errs++
		c.lastErr = err.Error()
		return
	}
	c.ops++
	c.lat = append(c.lat, int64(t1.Sub(t0)))
}

// addTo adds the client's figures to resp.
func (c *clientTally) addTo(resp *response) {
	resp.Ops += c.ops
	resp.Errors += c.errs
	resp.Latencies = append(resp.Latencies, c.lat...)
	if c.lastErr != "" {
		resp.LastError = c.lastErr
	}
}
