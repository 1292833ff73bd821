package host

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"io"
	"math/rand/v2"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/pontoon-raft/raft"
	"github.com/pontoon-raft/raft/transport"
	"github.com/pontoon-raft/raft/wal/faultfs"
)

// kv is the tests' state machine: commands "key=value" set a key, and the
// result is the key's previous value.
type kv struct {
	mu      sync.Mutex
	data    map[string]string
	applied []uint64 // indexes of the commands applied, in order
}

func newKV() *kv { return &kv{data: map[string]string{}} }

func (s *kv) Apply(cmds []Command) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i := range cmds {
		k, v, ok := strings.Cut(string(cmds[i].Data), "=")
		if !ok {
			return fmt.Errorf("bad command %q", cmds[i].Data)
		}
		cmds[i].Result = []byte(s.data[k])
		s.data[k] = v
		s.applied = append(s.applied, cmds[i].Index)
	}
	return nil
}

func (s *kv) PrepareSnapshot() (Snapshot, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	keys := make([]string, 0, len(s.data))
	for k := range s.data {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b []byte
	for _, k := range keys {
		b = binary.AppendUvarint(b, uint64(len(k)))
		b = append(b, k...)
		b = binary.AppendUvarint(b, uint64(len(s.data[k])))
		b = append(b, s.data[k]...)
	}
	return bytesSnapshot(b), nil
}

func (s *kv) Restore(r io.Reader) error {
	b, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	data := map[string]string{}
	next := func() (string, error) {
		n, k := binary.Uvarint(b)
		if k <= 0 || uint64(len(b)-k) < n {
			return "", fmt.Errorf("bad snapshot")
		}
		v := string(b[k : k+int(n)])
		b = b[k+int(n):]
		return v, nil
	}
	for len(b) > 0 {
		k, err := next()
		if err != nil {
			return err
		}
		v, err := next()
		if err != nil {
			return err
		}
		data[k] = v
	}
	s.mu.Lock()
	s.data = data
	s.mu.Unlock()
	return nil
}

func (s *kv) Close() error { return nil }

func (s *kv) get(k string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.data[k]
}

func (s *kv) dump() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	keys := make([]string, 0, len(s.data))
	for k := range s.data {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	for _, k := range keys {
		fmt.Fprintf(&b, "%s=%s;", k, s.data[k])
	}
	return b.String()
}

type bytesSnapshot []byte

func (b bytesSnapshot) WriteTo(w io.Writer) (int64, error) {
	n, err := io.Copy(w, bytes.NewReader(b))
	return n, err
}
func (bytesSnapshot) Close() error { return nil }

// cluster runs Manual hosts over a MemNetwork and a faultfs per host, on
// the test's goroutine.
type cluster struct {
	t     *testing.T
	net   *transport.MemNetwork
	fss   map[uint64]*faultfs.FS
	hosts map[uint64]*Host
	sms   map[uint64]map[uint64]*kv // host -> group -> state machine
	ids   []uint64
	tune  func(*Config)
}

func newCluster(t *testing.T, n int, tune func(*Config)) *cluster {
	t.Helper()
	net, err := transport.NewMemNetwork(transport.MemConfig{Seed: 1})
	require.NoError(t, err)
	c := &cluster{t: t, net: net, fss: map[uint64]*faultfs.FS{}, hosts: map[uint64]*Host{},
		sms: map[uint64]map[uint64]*kv{}, tune: tune}
	for id := uint64(1); id <= uint64(n); id++ {
		c.fss[id] = faultfs.New(faultfs.Config{Seed: id})
		c.start(id)
	}
	return c
}

// start starts host id over its file system.
func (c *cluster) start(id uint64) {
	c.t.Helper()
	c.sms[id] = map[uint64]*kv{}
	cfg := Config{
		NodeID: id, Dir: "/data", FS: c.fss[id], Manual: true,
		Rand: rand.New(rand.NewPCG(id, 7)),
		NewStateMachine: func(group uint64) (StateMachine, error) {
			sm := newKV()
			c.sms[id][group] = sm
			return sm, nil
		},
		NewTransport: func(h transport.Handler) (transport.Transport, error) { return c.net.Join(id, h, nil) },
	}
	if c.tune != nil {
		c.tune(&cfg)
	}
	h, err := New(cfg)
	require.NoError(c.t, err)
	c.hosts[id] = h
	if !containsID(c.ids, id) {
		c.ids = append(c.ids, id)
	}
}

// stop stops host id cleanly.
func (c *cluster) stop(id uint64) {
	require.NoError(c.t, c.hosts[id].Stop())
	delete(c.hosts, id)
}

// crash loses host id and whatever its file system had not synced.
func (c *cluster) crash(id uint64) {
	c.hosts[id].Crash()
	delete(c.hosts, id)
	c.fss[id].Crash()
}

// settle lets every host do its work and the network deliver, without time
// passing, until nothing is left.
func (c *cluster) settle() {
	c.t.Helper()
	for i := 0; i < 100000; i++ {
		busy := false
		for _, id := range c.ids {
			if h := c.hosts[id]; h != nil {
				for h.RunRaft() || h.RunStorage() || h.RunApply() {
					busy = true
				}
			}
		}
		for c.net.Pending() > 0 && c.net.Step() {
			busy = true
		}
		if !busy {
			return
		}
	}
	c.t.Fatal("the cluster did not settle")
}

// tick ticks every running host n times, settling after each.
func (c *cluster) tick(n int) {
	c.t.Helper()
	for i := 0; i < n; i++ {
		for _, id := range c.ids {
			if h := c.hosts[id]; h != nil {
				h.Tick()
			}
		}
		c.settle()
	}
}

// leader returns the host that leads group, ticking until one does.
func (c *cluster) leader(group uint64) uint64 {
	c.t.Helper()
	for i := 0; i < 200; i++ {
		for _, id := range c.ids {
			if h := c.hosts[id]; h != nil {
				if st, err := h.Status(group); err == nil && st.Role == raft.StateLeader {
					return id
				}
			}
		}
		c.tick(1)
	}
	c.t.Fatalf("group %d elected no leader", group)
	return 0
}

// wait ticks until r completes.
func (c *cluster) wait(r *Request) ([]byte, error) {
	c.t.Helper()
	for i := 0; i < 500; i++ {
		c.settle()
		select {
		case <-r.Done():
			return r.Result()
		default:
		}
		c.tick(1)
	}
	c.t.Fatalf("request on group %d did not complete", r.group)
	return nil, nil
}

func containsID(ids []uint64, id uint64) bool {
	for _, x := range ids {
		if x == id {
			return true
		}
	}
	return false
}
