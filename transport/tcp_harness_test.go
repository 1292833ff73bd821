package transport

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestMain fails the package if a goroutine of the transport outlives the
// tests: every one must end with Close. They may take a moment to exit, so
// it waits up to five seconds.
func TestMain(m *testing.M) {
	code := m.Run()
	if code == 0 {
		if stacks := leakedGoroutines(5 * time.Second); stacks != "" {
			fmt.Fprintf(os.Stderr, "goroutines of package transport outlived the tests:\n%s\n", stacks)
			code = 1
		}
	}
	os.Exit(code)
}

// leakedGoroutines returns the stacks of goroutines running code of this
// package (other than the test binary's own), once none are left or wait
// has passed.
func leakedGoroutines(wait time.Duration) string {
	deadline := time.Now().Add(wait)
	for {
		buf := make([]byte, 1<<22)
		buf = buf[:runtime.Stack(buf, true)]
		var leaked []string
		for _, g := range strings.Split(string(buf), "\n\n") {
			if strings.Contains(g, "pontoon-raft/raft/transport.") && !strings.Contains(g, "transport.TestMain") &&
				!strings.Contains(g, "transport.leakedGoroutines") {
				leaked = append(leaked, g)
			}
		}
		if len(leaked) == 0 || time.Now().After(deadline) {
			return strings.Join(leaked, "\n\n")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// logBuffer collects a transport's log lines, safe for concurrent use.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *logBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func (b *logBuffer) contains(s string) bool { return strings.Contains(b.String(), s) }

// tcpNode is a TCP transport serving on a loopback listener.
type tcpNode struct {
	*TCP
	r    *recorder
	obs  *countingObserver
	log  *logBuffer
	addr string
}

// startTCP starts a transport for cfg (NodeID set by the caller) on a new
// loopback listener, or on addr if given. Handler, Observer and Logger are
// filled in unless set. It is closed when the test ends.
func startTCP(t *testing.T, cfg TCPConfig, addr ...string) *tcpNode {
	t.Helper()
	listenAddr := "127.0.0.1:0"
	if len(addr) > 0 {
		listenAddr = addr[0]
	}
	ln, err := net.Listen("tcp", listenAddr)
	require.NoError(t, err)
	n := &tcpNode{r: newRecorder(), obs: newCountingObserver(), log: &logBuffer{}, addr: ln.Addr().String()}
	if cfg.Handler == nil {
		cfg.Handler = n.r
	}
	if cfg.Observer == nil {
		cfg.Observer = n.obs
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.NewTextHandler(n.log, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	n.TCP, err = NewTCP(cfg)
	require.NoError(t, err)
	served := make(chan error, 1)
	go func() { served <- n.Serve(ln) }()
	t.Cleanup(func() {
		require.NoError(t, n.Close())
		require.ErrorIs(t, <-served, ErrClosed)
		if t.Failed() {
			t.Logf("log of node %d:\n%s", cfg.NodeID, n.log.String())
		}
	})
	return n
}

// pairTCP starts nodes 1 and 2, each knowing the other, with cfg's limits.
func pairTCP(t *testing.T, cfg TCPConfig) (n1, n2 *tcpNode) {
	t.Helper()
	cfg2 := cfg
	cfg2.NodeID = 2
	n2 = startTCP(t, cfg2)
	cfg1 := cfg
	cfg1.NodeID = 1
	cfg1.Peers = map[uint64]string{2: n2.addr}
	n1 = startTCP(t, cfg1)
	require.NoError(t, n2.SetPeer(1, n1.addr))
	return n1, n2
}

// fakeClock is a Clock whose time moves only when the test advances it.
type fakeClock struct {
	mu      sync.Mutex
	now     time.Time
	timers  []fakeTimer
	changed chan struct{}
}

type fakeTimer struct {
	at time.Time
	d  time.Duration
	ch chan time.Time
}

func newFakeClock() *fakeClock {
	return &fakeClock{now: time.Unix(1_000_000, 0), changed: make(chan struct{}, 1)}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) After(d time.Duration) <-chan time.Time {
	c.mu.Lock()
	ch := make(chan time.Time, 1)
	c.timers = append(c.timers, fakeTimer{at: c.now.Add(d), d: d, ch: ch})
	c.mu.Unlock()
	select {
	case c.changed <- struct{}{}:
	default:
	}
	return ch
}

// Advance moves time forward by d and fires the timers due.
func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
	kept := c.timers[:0]
	for _, tm := range c.timers {
		if !tm.at.After(c.now) {
			tm.ch <- c.now
			continue
		}
		kept = append(kept, tm)
	}
	c.timers = kept
}

// waitTimers waits until n timers are pending and returns their durations.
func (c *fakeClock) waitTimers(t *testing.T, n int) []time.Duration {
	t.Helper()
	deadline := time.After(20 * time.Second)
	for {
		c.mu.Lock()
		if len(c.timers) >= n {
			var ds []time.Duration
			for _, tm := range c.timers {
				ds = append(ds, tm.d)
			}
			c.mu.Unlock()
			return ds
		}
		c.mu.Unlock()
		select {
		case <-c.changed:
		case <-deadline:
			t.Fatalf("timed out waiting for %d timers", n)
		}
	}
}

// ghost returns a transport for node id that serves nothing and knows no
// peers, for dialing raw connections with rawConn.
func ghost(t *testing.T, id uint64) *TCP {
	t.Helper()
	g, err := NewTCP(TCPConfig{NodeID: id, Handler: newRecorder(), Logger: discardLogger()})
	require.NoError(t, err)
	t.Cleanup(func() { g.Close() })
	return g
}

// rawConn dials node to at addr as node from would (handshake included)
// and returns the connection for the test to write frames on.
func rawConn(t *testing.T, from *TCP, to uint64, addr string, c Class) net.Conn {
	t.Helper()
	conn, err := from.dial(context.Background(), to, addr, c)
	require.NoError(t, err)
	t.Cleanup(func() { conn.Close() })
	return conn
}

// waitClosed waits until the peer closes conn, and fails if it writes.
func waitClosed(t *testing.T, conn net.Conn) {
	t.Helper()
	require.NoError(t, conn.SetReadDeadline(time.Now().Add(20*time.Second)))
	var b [1]byte
	n, err := conn.Read(b[:])
	require.Zero(t, n)
	require.Error(t, err)
	var ne net.Error
	if errors.As(err, &ne) {
		require.False(t, ne.Timeout(), "the connection should have been closed by the peer")
	}
}
