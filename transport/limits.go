package transport

import "time"

// Defaults of the limits shared by TCPConfig and MemConfig. A cluster's
// nodes should use the same limits: a receiver refuses what exceeds its own.
const (
	// DefaultMaxMessageBytes bounds one encoded raftpb.Message. It must
	// exceed the largest append Raft builds (Config.MaxSizePerMsg, or one
	// entry when a single entry is larger).
	DefaultMaxMessageBytes = 16 << 20
	// DefaultMaxFrameBytes bounds one frame of the TCP envelope.
	DefaultMaxFrameBytes = DefaultMaxMessageBytes + 64<<10
	// DefaultQueueMessages bounds the messages queued per peer and class.
	DefaultQueueMessages = 4096
	// DefaultQueueBytes bounds the encoded bytes queued per peer and class.
	DefaultQueueBytes = 64 << 20
	// DefaultMaxSnapshotBytes bounds a snapshot body.
	DefaultMaxSnapshotBytes int64 = 16 << 30
	// DefaultSnapshotChunkBytes is the size of a snapshot body chunk.
	DefaultSnapshotChunkBytes = 256 << 10
	// DefaultSnapshotBytesPerSecond bounds the rate of the snapshot bodies
	// a TCP transport sends: 256 MiB/s, about 2 Gbit/s.
	DefaultSnapshotBytesPerSecond int64 = 256 << 20
	// DefaultMaxConnections bounds the connections a TCP transport has
	// accepted at once: two per peer for messages, its snapshot streams,
	// and handshakes in progress.
	DefaultMaxConnections = 1024
	// DefaultMaxSnapshotStreams bounds the concurrent snapshot streams per
	// node, separately for sending and receiving.
	DefaultMaxSnapshotStreams = 4
)

// Defaults of the TCP transport's timing.
const (
	// DefaultMinBackoff and DefaultMaxBackoff bound the wait before
	// dialing a peer again after a failure.
	DefaultMinBackoff = 50 * time.Millisecond
	DefaultMaxBackoff = 2 * time.Second
	// DefaultDialTimeout bounds dialing, including the TLS handshake and
	// the transport's own handshake.
	DefaultDialTimeout = 5 * time.Second
	// DefaultWriteTimeout bounds one write of queued messages; a peer that
	// stops reading for longer loses its connection.
	DefaultWriteTimeout = 10 * time.Second
	// DefaultSnapshotIdleTimeout bounds how long a snapshot stream may make
	// no progress (including the receiver's SnapshotSink.Close).
	DefaultSnapshotIdleTimeout = 30 * time.Second
)

// targetFrameBytes is where a sender closes a batch frame and starts the
// next one, so the receiver can hand over messages while more arrive, and a
// sender's buffer stays small. Only a single message larger than this makes
// a larger frame.
const targetFrameBytes = 256 << 10
