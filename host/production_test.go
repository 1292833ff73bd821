package host

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/pontoon-raft/raft"
	"github.com/pontoon-raft/raft/transport"
	"github.com/pontoon-raft/raft/transport/devcert"
)

// tcpCluster runs hosts as a user would: their own goroutines and clock,
// the operating system's file system, TCP on loopback with mutual TLS.
type tcpCluster struct {
	t     *testing.T
	ca    *devcert.CA
	addrs map[uint64]string
	dirs  map[uint64]string
	hosts map[uint64]*Host
	sms   map[uint64]map[uint64]*kv
}

func newTCPCluster(t *testing.T, n int) *tcpCluster {
	ca, err := devcert.NewCA("host test")
	require.NoError(t, err)
	c := &tcpCluster{t: t, ca: ca, addrs: map[uint64]string{}, dirs: map[uint64]string{},
		hosts: map[uint64]*Host{}, sms: map[uint64]map[uint64]*kv{}}
	for id := uint64(1); id <= uint64(n); id++ {
		// Reserve a port; the host listens on it again at every start.
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		require.NoError(t, err)
		c.addrs[id] = ln.Addr().String()
		require.NoError(t, ln.Close())
		c.dirs[id] = t.TempDir()
	}
	for id := range c.addrs {
		c.start(id)
	}
	t.Cleanup(func() {
		for _, h := range c.hosts {
			_ = h.Stop()
		}
	})
	return c
}

func (c *tcpCluster) start(id uint64) {
	cert, err := c.ca.NodeCertificate(id)
	require.NoError(c.t, err)
	peers := map[uint64]string{}
	for p, a := range c.addrs {
		if p != id {
			peers[p] = a
		}
	}
	c.sms[id] = map[uint64]*kv{}
	h, err := New(Config{
		NodeID: id, Dir: c.dirs[id], TickInterval: 10 * time.Millisecond,
		SnapshotEntries: 20, CompactLagEntries: 5,
		NewStateMachine: func(group uint64) (StateMachine, error) {
			sm := newKV()
			c.sms[id][group] = sm
			return sm, nil
		},
		NewTransport: func(hd transport.Handler) (transport.Transport, error) {
			tr, err := transport.NewTCP(transport.TCPConfig{
				NodeID: id, ClusterID: 7, Handler: hd, Peers: peers,
				TLS:    &transport.TLSConfig{RootCAs: c.ca.Pool(), Certificate: cert},
				Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
			})
			if err != nil {
				return nil, err
			}
			ln, err := net.Listen("tcp", c.addrs[id])
			if err != nil {
				_ = tr.Close()
				return nil, err
			}
			go func() { _ = tr.Serve(ln) }()
			return tr, nil
		},
	})
	require.NoError(c.t, err)
	c.hosts[id] = h
}

func (c *tcpCluster) stop(id uint64) {
	require.ErrorIs(c.t, c.hosts[id].Stop(), nil)
	delete(c.hosts, id)
}

func (c *tcpCluster) leader(group uint64) uint64 {
	for id, h := range c.hosts {
		if st, err := h.Status(group); err == nil && st.Role == raft.StateLeader {
			return id
		}
	}
	return 0
}

func TestHostsOverTCPWithMutualTLS(t *testing.T) {
	if testing.Short() {
		t.Skip("runs real hosts with a 10 ms clock")
	}
	c := newTCPCluster(t, 3)
	const groups = 8
	for g := uint64(1); g <= groups; g++ {
		for id := uint64(1); id <= 3; id++ {
			require.NoError(t, c.hosts[id].StartGroup(g, []uint64{1, 2, 3}))
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()

	// Every host proposes to every group; followers forward to the leader.
	for i := 0; i < 30; i++ {
		for g := uint64(1); g <= groups; g++ {
			id := uint64(i%3 + 1)
			_, err := c.hosts[id].Propose(ctx, g, []byte(fmt.Sprintf("k%d=%d", i%4, i)))
			require.NoError(t, err, "group %d via host %d", g, id)
		}
	}
	for id := uint64(1); id <= 3; id++ {
		require.NoError(t, c.hosts[id].Read(ctx, 1))
		assert.Equal(t, "29", c.sms[id][1].get("k1"), "host %d reads the last write", id)
	}

	// The leader of group 1 stops; the others elect a new one and go on.
	old := c.leader(1)
	require.NotZero(t, old)
	c.stop(old)
	other := old%3 + 1
	_, err := c.hosts[other].Propose(ctx, 1, []byte("k1=after-stop"))
	require.NoError(t, err)

	// It restarts from its disk (snapshot and log) and catches up.
	c.start(old)
	require.NoError(t, c.hosts[old].Read(ctx, 1))
	assert.Equal(t, "after-stop", c.sms[old][1].get("k1"))
	assert.Equal(t, []uint64{1, 2, 3, 4, 5, 6, 7, 8}, c.hosts[old].Groups())
}

func TestBlockingCallsHonourTheContext(t *testing.T) {
	c := newTCPCluster(t, 1)
	// Group 1 needs hosts 1 and 2; with host 2 absent it never elects.
	require.NoError(t, c.hosts[1].StartGroup(1, []uint64{1, 2}))
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	_, err := c.hosts[1].Propose(ctx, 1, []byte("x=1"))
	assert.ErrorIs(t, err, context.DeadlineExceeded)
	assert.ErrorIs(t, c.hosts[1].Read(ctx, 1), context.DeadlineExceeded)
}

// A membership change abandoned by its caller is withdrawn: it does not stay
// pending on the leader, where it would promote the learner whenever it
// caught up, long after the caller gave up.
func TestAbandonedMembershipChangeIsWithdrawn(t *testing.T) {
	c := newTCPCluster(t, 1)
	require.NoError(t, c.hosts[1].StartGroup(1, []uint64{1}))
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, err := c.hosts[1].Propose(ctx, 1, []byte("x=1"))
	require.NoError(t, err)

	// Node 2 does not exist: it never catches up.
	short, cancelShort := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancelShort()
	assert.ErrorIs(t, c.hosts[1].AddReplica(short, 1, 2), context.DeadlineExceeded)
	pending := -1
	require.NoError(t, c.hosts[1].call(func() { pending = len(c.hosts[1].groups[1].admin) }))
	assert.Zero(t, pending, "the abandoned change is still pending")
	st, err := c.hosts[1].Status(1)
	require.NoError(t, err)
	assert.Equal(t, []uint64{1}, st.Config.Voters, "the dead node is no voter")
}

// Requests submitted just before Stop complete, applied or failed with
// ErrStopped: none is left waiting, whether the Raft loop took it or not.
func TestStopCompletesEverySubmittedRequest(t *testing.T) {
	c := newTCPCluster(t, 1)
	h := c.hosts[1]
	require.NoError(t, h.StartGroup(1, []uint64{1}))
	var reqs []*Request
	for i := 0; i < 200; i++ {
		reqs = append(reqs, h.SubmitPropose(1, []byte(fmt.Sprintf("k%d=%d", i, i))), h.SubmitRead(1))
	}
	c.stop(1)
	for i, r := range reqs {
		select {
		case <-r.Done():
		default:
			t.Fatalf("request %d still waits after Stop", i)
		}
		if _, err := r.Result(); err != nil {
			assert.ErrorIs(t, err, ErrStopped, "request %d", i)
		}
	}
	_, err := h.SubmitPropose(1, []byte("late=1")).Result()
	assert.ErrorIs(t, err, ErrStopped, "a request after Stop")
}
