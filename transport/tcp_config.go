package transport

import (
	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"time"
)

// TCPConfig configures a TCP transport. Zero values of the limits and
// timeouts take the defaults named in their comments.
type TCPConfig struct {
	// NodeID is this node's id (not 0). Peers dial it under this id, and
	// every message this node sends must carry it in Message.From.
	NodeID uint64
	// ClusterID names the cluster. Nodes of different clusters refuse
	// each other in the handshake (ErrClusterMismatch).
	ClusterID uint64
	// Handler receives messages and reports. Required.
	Handler Handler
	// Peers are the addresses ("host:port") of the nodes to send to at
	// the start; SetPeer and RemovePeer change them later.
	Peers map[uint64]string
	// TLS, if set, turns on mutual TLS with node identities bound to
	// certificates. Without it connections are plaintext and a peer's
	// node id is whatever it claims.
	TLS *TLSConfig
	// Observer receives events for metrics (NopObserver).
	Observer Observer
	// Logger logs connection events and refusals (slog.Default()).
	Logger *slog.Logger

	// MaxMessageBytes bounds one encoded message, sent or received
	// (DefaultMaxMessageBytes).
	MaxMessageBytes int
	// MaxFrameBytes bounds one frame, its 5-byte header included
	// (DefaultMaxFrameBytes). It must exceed MaxMessageBytes and
	// SnapshotChunkBytes by the envelope's overhead (25 bytes).
	MaxFrameBytes int
	// QueueMessages and QueueBytes bound the messages queued per peer and
	// class (DefaultQueueMessages, DefaultQueueBytes). A message that does
	// not fit is dropped and reported.
	QueueMessages int
	QueueBytes    int
	// MaxSnapshotBytes bounds a snapshot body, sent or received
	// (DefaultMaxSnapshotBytes).
	MaxSnapshotBytes int64
	// SnapshotChunkBytes is the size of the chunks a body is sent in
	// (DefaultSnapshotChunkBytes).
	SnapshotChunkBytes int
	// SnapshotBytesPerSecond bounds the rate at which this node sends
	// snapshot bodies, all streams together
	// (DefaultSnapshotBytesPerSecond); a negative value means no bound.
	// Snapshots have connections of their own, but a stream at full speed
	// takes a CPU core on each side (more with TLS), which on a small
	// machine delays heartbeats by many milliseconds (see BENCHMARKS.md);
	// the bound leaves room for them.
	SnapshotBytesPerSecond int64
	// MaxSnapshotSends and MaxSnapshotReceives bound the concurrent
	// snapshot streams of this node (DefaultMaxSnapshotStreams each).
	MaxSnapshotSends    int
	MaxSnapshotReceives int
	// MaxConnections bounds the connections this node has accepted and
	// not yet closed, handshakes included (DefaultMaxConnections); more are
	// closed at once.
	MaxConnections int

	// MinBackoff and MaxBackoff bound the jittered exponential wait before
	// dialing a peer again (DefaultMinBackoff, DefaultMaxBackoff).
	MinBackoff, MaxBackoff time.Duration
	// DialTimeout bounds connecting and both handshakes, in each direction
	// (DefaultDialTimeout).
	DialTimeout time.Duration
	// WriteTimeout bounds one write to a peer (DefaultWriteTimeout).
	WriteTimeout time.Duration
	// SnapshotIdleTimeout bounds the time a snapshot stream may make no
	// progress (DefaultSnapshotIdleTimeout).
	SnapshotIdleTimeout time.Duration

	// Dial opens a connection to addr (a net.Dialer with keep-alives).
	Dial func(ctx context.Context, addr string) (net.Conn, error)
	// Clock times the reconnect backoff (the real clock).
	Clock Clock
	// Rand draws the backoff jitter (the runtime's random source).
	Rand rand.Source
}

// frameOverheadBytes is what a frame adds around one message or chunk at
// most: the frame header and a Batch's two uvarints.
const frameOverheadBytes = frameHeaderBytes + batchMessageOverhead

// withDefaults validates c and fills in its defaults.
func (c TCPConfig) withDefaults() (TCPConfig, error) {
	switch {
	case c.NodeID == 0:
		return c, fmt.Errorf("%w: NodeID 0 is reserved", ErrInvalidConfig)
	case c.Handler == nil:
		return c, fmt.Errorf("%w: Handler is required", ErrInvalidConfig)
	}
	ints := []struct {
		name string
		v    *int
		def  int
	}{
		{"MaxMessageBytes", &c.MaxMessageBytes, DefaultMaxMessageBytes},
		{"MaxFrameBytes", &c.MaxFrameBytes, DefaultMaxFrameBytes},
		{"QueueMessages", &c.QueueMessages, DefaultQueueMessages},
		{"QueueBytes", &c.QueueBytes, DefaultQueueBytes},
		{"SnapshotChunkBytes", &c.SnapshotChunkBytes, DefaultSnapshotChunkBytes},
		{"MaxSnapshotSends", &c.MaxSnapshotSends, DefaultMaxSnapshotStreams},
		{"MaxSnapshotReceives", &c.MaxSnapshotReceives, DefaultMaxSnapshotStreams},
		{"MaxConnections", &c.MaxConnections, DefaultMaxConnections},
	}
	for _, f := range ints {
		if *f.v < 0 {
			return c, fmt.Errorf("%w: %s = %d is negative", ErrInvalidConfig, f.name, *f.v)
		}
		if *f.v == 0 {
			*f.v = f.def
		}
	}
	durations := []struct {
		name string
		v    *time.Duration
		def  time.Duration
	}{
		{"MinBackoff", &c.MinBackoff, DefaultMinBackoff},
		{"MaxBackoff", &c.MaxBackoff, DefaultMaxBackoff},
		{"DialTimeout", &c.DialTimeout, DefaultDialTimeout},
		{"WriteTimeout", &c.WriteTimeout, DefaultWriteTimeout},
		{"SnapshotIdleTimeout", &c.SnapshotIdleTimeout, DefaultSnapshotIdleTimeout},
	}
	for _, f := range durations {
		if *f.v < 0 {
			return c, fmt.Errorf("%w: %s = %v is negative", ErrInvalidConfig, f.name, *f.v)
		}
		if *f.v == 0 {
			*f.v = f.def
		}
	}
	if c.SnapshotBytesPerSecond == 0 {
		c.SnapshotBytesPerSecond = DefaultSnapshotBytesPerSecond
	}
	if c.MaxSnapshotBytes < 0 {
		return c, fmt.Errorf("%w: MaxSnapshotBytes = %d is negative", ErrInvalidConfig, c.MaxSnapshotBytes)
	}
	if c.MaxSnapshotBytes == 0 {
		c.MaxSnapshotBytes = DefaultMaxSnapshotBytes
	}
	switch {
	case c.MaxBackoff < c.MinBackoff:
		return c, fmt.Errorf("%w: MaxBackoff = %v is below MinBackoff = %v", ErrInvalidConfig, c.MaxBackoff, c.MinBackoff)
	case c.MaxFrameBytes < c.MaxMessageBytes+frameOverheadBytes:
		return c, fmt.Errorf("%w: MaxFrameBytes = %d cannot hold a message of MaxMessageBytes = %d (%d bytes of envelope)",
			ErrInvalidConfig, c.MaxFrameBytes, c.MaxMessageBytes, frameOverheadBytes)
	case c.MaxFrameBytes < c.SnapshotChunkBytes+frameOverheadBytes:
		return c, fmt.Errorf("%w: MaxFrameBytes = %d cannot hold a chunk of SnapshotChunkBytes = %d",
			ErrInvalidConfig, c.MaxFrameBytes, c.SnapshotChunkBytes)
	case c.QueueBytes < c.MaxMessageBytes:
		return c, fmt.Errorf("%w: QueueBytes = %d cannot hold a message of MaxMessageBytes = %d",
			ErrInvalidConfig, c.QueueBytes, c.MaxMessageBytes)
	case c.MaxFrameBytes > 1<<31:
		return c, fmt.Errorf("%w: MaxFrameBytes = %d exceeds 2 GiB", ErrInvalidConfig, c.MaxFrameBytes)
	}
	for id, addr := range c.Peers {
		if id == 0 || id == c.NodeID || addr == "" {
			return c, fmt.Errorf("%w: peer %d at %q (ids must be non-zero and not NodeID; addresses non-empty)", ErrInvalidConfig, id, addr)
		}
	}
	if c.TLS != nil {
		if err := c.TLS.validate(c.NodeID); err != nil {
			return c, err
		}
	}
	if c.Observer == nil {
		c.Observer = NopObserver{}
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.Dial == nil {
		d := &net.Dialer{KeepAlive: 15 * time.Second}
		c.Dial = func(ctx context.Context, addr string) (net.Conn, error) { return d.DialContext(ctx, "tcp", addr) }
	}
	if c.Clock == nil {
		c.Clock = systemClock{}
	}
	return c, nil
}
