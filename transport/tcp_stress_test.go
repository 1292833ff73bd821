package transport

import (
	"context"
	"math/rand/v2"
	"net"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// flakyDialer returns connections that break after a random number of
// written bytes (between 1 KiB and 64 KiB), drawn from a seeded source.
func flakyDialer(seed uint64) func(ctx context.Context, addr string) (net.Conn, error) {
	var mu sync.Mutex
	r := rand.New(rand.NewPCG(seed, seed))
	return func(ctx context.Context, addr string) (net.Conn, error) {
		var d net.Dialer
		c, err := d.DialContext(ctx, "tcp", addr)
		if err != nil {
			return nil, err
		}
		mu.Lock()
		budget := 1<<10 + r.IntN(63<<10)
		mu.Unlock()
		return &flakyConn{Conn: c, budget: budget}, nil
	}
}

type flakyConn struct {
	net.Conn
	mu     sync.Mutex
	budget int
}

func (c *flakyConn) Write(p []byte) (int, error) {
	c.mu.Lock()
	c.budget -= len(p)
	broken := c.budget < 0
	c.mu.Unlock()
	if broken {
		c.Conn.Close()
		return 0, net.ErrClosed
	}
	return c.Conn.Write(p)
}

// TestTCPConcurrentSendersOverBreakingConnections runs three nodes whose
// connections keep breaking, with several goroutines per node sending
// batches, heartbeats and snapshots at once: everything delivered must pass
// the receive checks, messages must keep flowing, every snapshot must be
// reported once, and Close must stop everything (TestMain checks).
func TestTCPConcurrentSendersOverBreakingConnections(t *testing.T) {
	const nodes, senders, rounds = 3, 3, 150
	var ns []*tcpNode
	for id := uint64(1); id <= nodes; id++ {
		ns = append(ns, startTCP(t, TCPConfig{NodeID: id, Dial: flakyDialer(id), MinBackoff: time.Millisecond,
			MaxBackoff: 5 * time.Millisecond, SnapshotChunkBytes: 4 << 10}))
	}
	for _, a := range ns {
		for _, b := range ns {
			if a != b {
				require.NoError(t, a.SetPeer(b.NodeID(), b.addr))
			}
		}
	}
	var snapshotsSent atomic.Int64
	var wg sync.WaitGroup
	for i, n := range ns {
		for s := 0; s < senders; s++ {
			wg.Add(1)
			go func(n *tcpNode, seed uint64) {
				defer wg.Done()
				r := rand.New(rand.NewPCG(seed, 1))
				from := n.NodeID()
				for round := 0; round < rounds; round++ {
					to := 1 + (from+uint64(r.IntN(nodes-1)))%nodes
					if r.IntN(20) == 0 {
						snapshotsSent.Add(1)
						n.SendSnapshot(OutgoingSnapshot{Group: uint64(r.IntN(5)), Message: snapMsg(1, from, to, 5),
							Body: &patternBody{size: int64(r.IntN(20 << 10))}})
						continue
					}
					var batch []GroupMessage
					for k := 0; k < 1+r.IntN(16); k++ {
						if r.IntN(2) == 0 {
							batch = append(batch, heartbeat(uint64(r.IntN(5)), from, to))
						} else {
							batch = append(batch, appendMsg(uint64(r.IntN(5)), from, to, uint64(round+1), r.IntN(2000)))
						}
					}
					n.Send(batch)
					if round%10 == 0 {
						runtime.Gosched() // let connections break and come back in between
					}
				}
			}(n, uint64(i*senders+s))
		}
	}
	wg.Wait()
	// Delivery is asynchronous: wait until messages have flowed.
	delivered := func() int {
		total := 0
		for _, n := range ns {
			total += len(n.r.messages())
		}
		return total
	}
	ns[0].r.waitFor(t, "messages flow despite the broken connections", func() bool { return delivered() > 100 })
	for _, n := range ns {
		for _, d := range n.r.messages() {
			assert.Equal(t, d.from, d.gm.Message.From)
			assert.Equal(t, n.NodeID(), d.gm.Message.To)
		}
	}
	var reported int64
	for _, n := range ns {
		n.r.waitFor(t, "every snapshot reported", func() bool {
			got := int64(0)
			for _, m := range ns {
				got += int64(len(m.r.snapshotReports()))
			}
			reported = got
			return got == snapshotsSent.Load()
		})
	}
	assert.Equal(t, snapshotsSent.Load(), reported)
}
