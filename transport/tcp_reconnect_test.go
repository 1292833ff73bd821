package transport

import (
	"math/rand/v2"
	"net"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestBackoffDelay(t *testing.T) {
	const lo, hi = 100 * time.Millisecond, time.Second
	tests := []struct {
		attempt int
		u       float64
		want    time.Duration
	}{
		{0, 0, 50 * time.Millisecond},
		{0, 0.999, 99950 * time.Microsecond},
		{1, 0, 100 * time.Millisecond},
		{2, 0.5, 300 * time.Millisecond},
		{3, 0, 400 * time.Millisecond},
		{4, 0, 500 * time.Millisecond}, // capped at hi
		{4, 0.5, 750 * time.Millisecond},
		{1000, 0.999, 999500 * time.Microsecond}, // no overflow
	}
	for _, tt := range tests {
		assert.Equal(t, tt.want, backoffDelay(tt.attempt, lo, hi, tt.u), "attempt %d, u %v", tt.attempt, tt.u)
	}
}

// unusedAddr returns a loopback address nothing listens on (until a test
// listens there).
func unusedAddr(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	require.NoError(t, ln.Close())
	return addr
}

func TestTCPReconnectsWithJitteredBackoff(t *testing.T) {
	clock := newFakeClock()
	addr := unusedAddr(t)
	const lo, hi = 100 * time.Millisecond, 400 * time.Millisecond
	n1 := startTCP(t, TCPConfig{NodeID: 1, Clock: clock, Rand: rand.NewPCG(1, 2), MinBackoff: lo, MaxBackoff: hi,
		Peers: map[uint64]string{2: addr}})

	// Both links (control, bulk) fail to dial and wait; each round their
	// waits double, with jitter, up to the cap.
	for round, base := range []time.Duration{lo, 2 * lo, 4 * lo, hi, hi} {
		waits := clock.waitTimers(t, 2)
		require.Len(t, waits, 2, "round %d", round)
		for _, d := range waits {
			assert.GreaterOrEqual(t, d, base/2, "round %d", round)
			assert.Less(t, d, base, "round %d", round)
		}
		if round == 1 {
			// While the links wait, Send drops at once and reports.
			n1.Send([]GroupMessage{heartbeat(3, 1, 2), appendMsg(4, 1, 2, 1, 8)})
			n1.r.waitFor(t, "reports", func() bool { return len(n1.r.unreachables()) > 0 })
			n1.obs.read(func(o *countingObserver) { assert.Equal(t, 2, o.dropped[DropPeerDown]) })
		}
		clock.Advance(hi)
	}
	assert.Equal(t, []unreachableReport{{2, []uint64{3, 4}}}, n1.r.unreachables()[:1])

	// The peer comes up at the address while both links wait: the next
	// attempt connects.
	clock.waitTimers(t, 2)
	n2 := startTCP(t, TCPConfig{NodeID: 2}, addr)
	clock.Advance(hi)
	n1.r.waitFor(t, "both links up", func() bool {
		up := 0
		n1.obs.read(func(o *countingObserver) { up = o.up[ClassControl] + o.up[ClassBulk] })
		return up == 2
	})
	n1.Send([]GroupMessage{heartbeat(1, 1, 2)})
	n2.r.waitFor(t, "the heartbeat", func() bool { return len(n2.r.messages()) == 1 })
}

func TestTCPReconnectsAfterPeerRestart(t *testing.T) {
	cfg := TCPConfig{MinBackoff: time.Millisecond, MaxBackoff: 10 * time.Millisecond}
	cfg2 := cfg
	cfg2.NodeID = 2
	n2 := startTCP(t, cfg2)
	addr := n2.addr
	cfg1 := cfg
	cfg1.NodeID = 1
	cfg1.Peers = map[uint64]string{2: addr}
	n1 := startTCP(t, cfg1)
	n1.Send([]GroupMessage{heartbeat(1, 1, 2)})
	n2.r.waitFor(t, "the first heartbeat", func() bool { return len(n2.r.messages()) == 1 })

	require.NoError(t, n2.Close())
	n1.r.waitFor(t, "the loss reported", func() bool {
		for _, u := range n1.r.unreachables() {
			if u.to == 2 && u.groups == nil {
				return true // every group: the connection broke
			}
		}
		return false
	})

	restarted := startTCP(t, cfg2, addr)
	restarted.r.waitFor(t, "a heartbeat after the restart", func() bool {
		n1.Send([]GroupMessage{heartbeat(1, 1, 2)})
		return len(restarted.r.messages()) > 0
	})
	n1.obs.read(func(o *countingObserver) {
		assert.GreaterOrEqual(t, o.up[ClassControl], 2, "the control link reconnected")
	})
}

func TestTCPPeerAddressChangeAndRemoval(t *testing.T) {
	n2a := startTCP(t, TCPConfig{NodeID: 2})
	n2b := startTCP(t, TCPConfig{NodeID: 2})
	n1 := startTCP(t, TCPConfig{NodeID: 1, Peers: map[uint64]string{2: n2a.addr}})
	n1.Send([]GroupMessage{heartbeat(1, 1, 2)})
	n2a.r.waitFor(t, "a heartbeat at the first address", func() bool { return len(n2a.r.messages()) == 1 })

	require.NoError(t, n1.SetPeer(2, n2a.addr), "setting the same address again is a no-op")
	require.NoError(t, n1.SetPeer(2, n2b.addr))
	n2b.r.waitFor(t, "a heartbeat at the new address", func() bool {
		n1.Send([]GroupMessage{heartbeat(1, 1, 2)})
		return len(n2b.r.messages()) > 0
	})

	n1.RemovePeer(2)
	n1.Send([]GroupMessage{heartbeat(9, 1, 2)})
	n1.r.waitFor(t, "the drop reported", func() bool {
		for _, u := range n1.r.unreachables() {
			if len(u.groups) == 1 && u.groups[0] == 9 {
				return true
			}
		}
		return false
	})
	n1.obs.read(func(o *countingObserver) { assert.Equal(t, 1, o.dropped[DropUnknownPeer]) })
}

func TestTCPCloseStopsEverything(t *testing.T) {
	n1, n2 := pairTCP(t, TCPConfig{})
	n1.Send([]GroupMessage{heartbeat(1, 1, 2)})
	n2.r.waitFor(t, "a heartbeat", func() bool { return len(n2.r.messages()) == 1 })
	require.NoError(t, n1.Close())
	require.NoError(t, n1.Close(), "Close is idempotent")

	before := len(n1.r.messages()) + len(n1.r.unreachables()) + len(n1.r.snapshotReports())
	n1.Send([]GroupMessage{heartbeat(1, 1, 2), heartbeat(1, 1, 9)})
	b := &body{data: []byte("x")}
	n1.SendSnapshot(OutgoingSnapshot{Group: 1, Message: snapMsg(1, 1, 2, 3), Body: b})
	assert.Equal(t, int32(1), b.closes.Load(), "the body is closed")
	assert.ErrorIs(t, n1.SetPeer(3, "127.0.0.1:1"), ErrClosed)
	n2.Send([]GroupMessage{heartbeat(1, 2, 1)})
	after := len(n1.r.messages()) + len(n1.r.unreachables()) + len(n1.r.snapshotReports())
	assert.Equal(t, before, after, "a closed transport calls its Handler no more")
	// TestMain checks that no goroutine outlives the tests.
}
