/*
Package transport carries the messages of many Raft groups between the
nodes (hosts) of a Pontoon cluster: batched and multiplexed over a few
long-lived connections per peer, with snapshot bodies streamed, bounded
queues, reconnects, and optional mutual TLS that binds node ids to
certificates. It is the network layer of STYLE.md's layering: it imports
raftpb and nothing else of Pontoon, and the Raft core never imports it.

# Model

A node hosts replicas of any number of Raft groups, each group named by a
uint64. The replica of a group on node N has Raft id N in that group, so a
raftpb.Message's From and To are node ids and a GroupMessage (group plus
message) says everything the transport needs. A host collects the messages
of its Readys, sends them with one Transport.Send, and steps what its
Handler receives into the RawNode of each message's group.

The API has three parts:

  - Transport: Send (never blocks, never calls back), SendSnapshot, Close.
    The host depends on this interface only; MemTransport and TCP
    implement it, and an application may replace it.
  - Handler, implemented by the host: HandleMessages (received batches),
    HasGroup (is this group hosted here?), ReceiveSnapshot (where to store
    an incoming snapshot body), ReportUnreachable (messages to a node were
    dropped; groups listed, nil for all) and ReportSnapshot (outcome of a
    snapshot sent). The last two map to RawNode.ReportUnreachable and
    RawNode.ReportSnapshot of each group (err == nil is SnapshotFinish).
  - Observer: counters and gauges for metrics, with a no-op NopObserver.

# Snapshots

A MsgSnap's Snapshot.Data is the application's small descriptor of its
state (which checkpoint, which files); the state itself is a stream. The
sender's host asks the application for a reader of that state and calls
SendSnapshot; the transport reads it in chunks (SnapshotChunkBytes) and
never holds it whole. On the receiving node the transport asks
Handler.ReceiveSnapshot for a SnapshotSink, writes the chunks into it,
checks the length and CRC-32C (Castagnoli) the sender computed, calls
SnapshotSink.Close, and only then delivers the MsgSnap through
HandleMessages, so the body is stored before Raft steps the message. Any
failure (checksum, size limit, broken connection, the sink's own errors)
aborts the sink and the MsgSnap is never delivered. Either way the sender
hears the outcome through exactly one ReportSnapshot. A MsgSnap given to
Send travels as a snapshot with an empty body.

Snapshots never share a connection with messages: each stream has its own
TCP connection, and TCP's flow control paces it (the sender's writes block
while the receiver's sink is slow, up to SnapshotIdleTimeout). At most
MaxSnapshotSends streams leave a node and MaxSnapshotReceives arrive at
once; more are refused with ErrBusy and Raft retries later. The bodies a
node sends are also paced to SnapshotBytesPerSecond (256 MiB/s by default,
all streams together): separate connections keep heartbeats out of the
snapshot's queues, but a stream at full speed takes a CPU core on each
side, and on a small machine that alone delayed heartbeats by tens of
milliseconds in our benchmark.

# Classes: why heartbeats do not wait

Each message travels in a class (ClassOf): ClassBulk for MsgApp and MsgProp,
ClassControl for everything else (heartbeats, votes, responses). The TCP
transport keeps one queue and one connection per peer and class, so a
heartbeat never queues behind a multi-megabyte append, neither in the
sender's queue nor in the kernel's socket buffers. Interleaving chunks of
large frames with small ones on a single connection was the alternative; it
bounds the wait by the chunk size at best, and not at all once the large
data sits in the socket's send buffer (megabytes on loopback), so separate
connections are both simpler and better. The rule is by type rather than
size so that every append of a group to a peer stays in one ordered stream
and a follower never sees appends overtake each other. Between classes
there is no order, which Raft tolerates.

# The TCP transport

NewTCP returns a transport that dials its peers (SetPeer, RemovePeer) and
Serve accepts theirs. Connections are one-way: the sender dials, the
receiver only reads. Send sorts messages into per-peer, per-class queues
bounded by QueueMessages and QueueBytes; a message that does not fit is
dropped and reported (ReportUnreachable, from a goroutine of the
transport's, never from inside Send). A writer goroutine per queue drains
it whole, encodes everything into frames of about 256 KiB and writes them;
one Send of 64 heartbeats is one frame, one write, and one HandleMessages
call on the receiver. When a connection breaks, what was queued is dropped
and every group with that peer is reported (nil groups), and the link
dials again after a jittered exponential backoff between MinBackoff and
MaxBackoff; while it waits, Send drops at once. A newer connection from a
peer for a class replaces (closes) the older one.

# Wire format (envelope version 1)

Everything on a connection is a frame: a 4-byte big-endian length L, then L
bytes: a kind byte and L-1 bytes of payload. Integers are big-endian unless
marked uvarint (encoding/binary's unsigned varint). Frame kinds:

	0x01 Hello        "PNTN", version u16, class u8, cluster id u64, from u64, to u64
	0x02 HelloAck     version u16, status u8, cluster id u64, node u64, reason (UTF-8, <= 256 bytes)
	0x10 Batch        repeated { group uvarint, length uvarint, raftpb.Message bytes }
	0x20 SnapHeader   group uvarint, raftpb.Message bytes (the MsgSnap)
	0x21 SnapAccept   status u8, reason
	0x22 SnapChunk    body bytes (at least one)
	0x23 SnapEnd      body length u64, CRC-32C of the body u32
	0x24 SnapOutcome  status u8, reason

Statuses: 0 ok, 1 version mismatch, 2 cluster mismatch, 3 wrong node,
4 identity mismatch, 5 busy, 6 refused (reason says why), 7 checksum
mismatch, 8 snapshot too large. Each maps to the error of the same name,
so a refusal by the peer can be tested with errors.Is.

The dialer writes a Hello stating its version, the connection's class, the
cluster id, its own node id and the node it means to reach. The listener
answers with a HelloAck stating its own version, cluster and node id and
its verdict, and refuses (with a reason, then closes) a different version
or cluster, a Hello for another node, a sender id of 0 or its own, and,
with TLS, a sender id its certificate does not bind. The dialer checks the
answer the same way. A Hello of another version is refused whatever its
layout after the version field, so later versions can change it. After the
handshake a control or bulk connection carries Batch frames from dialer to
listener only. A snapshot connection carries SnapHeader, then (after the
listener's SnapAccept) SnapChunks and a SnapEnd, and the listener answers
with a SnapOutcome, early if it gives up.

# Security model

Without TLSConfig, connections are plaintext and unauthenticated: a peer is
whoever it claims to be, so use this only inside a trusted network or for
tests. With TLSConfig, both sides present certificates and verify the
other's against RootCAs (TLS 1.3 only). A certificate proves node id N when
it verifies and carries exactly one URI SAN NodeURI(N), pontoon://node/N;
host names and addresses are not checked, so a node keeps its identity when
it moves. The listener refuses a Hello whose sender id is not the one its
certificate binds; the dialer refuses a listener whose certificate does
not bind the node it dialed. Use one CA per cluster: the cluster id in the
Hello guards against misconfiguration, not against an attacker holding a
certificate of the same CA. Package devcert makes a CA and node
certificates for tests and demos.

Every received message must pass, whatever the transport: a type that
travels between nodes (IsNetworkType), not MsgSnap outside a snapshot
stream, From equal to the authenticated (or, without TLS, claimed) peer, To
equal to this node, and a group the Handler knows (HasGroup). Others are
dropped and counted by RejectReason through Observer.MessagesRejected (and
logged once per connection and reason); the connection stays up. Bytes that
do not follow the envelope (a bad length, an unknown kind, a frame or
message over its limit, a message raftpb cannot decode) close the
connection with the reason logged; they never panic, and the fuzz targets
of this package check that.

# Limits

	MaxMessageBytes      16 MiB  one encoded raftpb.Message, sent or received
	MaxFrameBytes        16 MiB + 64 KiB  one frame, header included
	QueueMessages        4096    messages queued per peer and class
	QueueBytes           64 MiB  encoded bytes queued per peer and class
	MaxSnapshotBytes     16 GiB  one snapshot body
	SnapshotChunkBytes   256 KiB one chunk of a body
	SnapshotBytesPerSecond 256 MiB/s  snapshot bodies sent, all streams together
	MaxSnapshotSends     4       concurrent outgoing snapshot streams
	MaxSnapshotReceives  4       concurrent incoming snapshot streams
	MaxConnections       1024    accepted connections open at once

The nodes of a cluster should use the same limits: a receiver refuses what
exceeds its own. Every queue and buffer of the package is bounded: besides
the above, the read buffer of a connection (64 KiB, plus one frame), the
reports waiting for the Handler (merged per peer; see reporter.go), and the
MemNetwork's QueueMessages per link.

# The in-memory network

MemNetwork runs nodes in one process without goroutines, for tests and the
deterministic simulation of whole hosts: nothing moves until the driver
calls Step or Advance on the network's virtual clock, and every fault
(Faults: latency, drop, duplicate, delay, reorder, broken snapshot
streams; Cut for one-way cuts, Partition, SetDown for a node) is drawn from
one seeded source, so a seed replays a run exactly. Messages travel encoded
in the Batch format above and pass the same receive checks; snapshot bodies
are copied into the receiver's sink synchronously when due.
*/
package transport
