package transport

import (
	"io"

	pb "github.com/pontoon-raft/raft/raftpb"
)

// GroupMessage is one Raft message of one Raft group. Message.To and
// Message.From are node ids: the replica of a group that lives on node N has
// Raft id N in that group.
type GroupMessage struct {
	// Group identifies the Raft group the message belongs to.
	Group uint64
	// Message is the Raft message, as RawNode.Ready produced it or as
	// RawNode.Step will take it.
	Message pb.Message
}

// OutgoingSnapshot is a MsgSnap whose state-machine body the transport
// streams to Message.To.
type OutgoingSnapshot struct {
	// Group is the Raft group of the snapshot.
	Group uint64
	// Message is the MsgSnap from Ready. Its Snapshot.Data travels as it
	// is, so it should be a small descriptor of the body (the transport
	// limits the whole message to MaxMessageBytes).
	Message pb.Message
	// Body is the state-machine data the receiver stores before it steps
	// Message. It is read once, front to back, in chunks, and never held
	// whole in memory. The transport closes it exactly once, whatever the
	// outcome. Nil means an empty body: everything is in Snapshot.Data.
	Body io.ReadCloser
}

// Transport carries the messages of many Raft groups between nodes (hosts).
// It is what a host of Raft groups depends on; MemTransport and TCP
// implement it, and an application may bring its own.
//
// A Transport is lossy and may reorder messages of different classes (see
// ClassOf), as Raft allows; it never duplicates a message on its own, but
// the MemNetwork can be asked to. Whatever it drops because of its own
// limits or a broken connection, it reports to the Handler through
// ReportUnreachable; losses it cannot see (a peer crashing with messages in
// its socket buffer) go unreported, and Raft's retries cover them.
type Transport interface {
	// Send queues msgs for their destination nodes (Message.To) and returns
	// without blocking and without calling the Handler. The transport keeps
	// references to the messages' entries and snapshot until they are
	// encoded, so the caller must not modify those afterwards (Raft never
	// does); the msgs slice itself may be reused as soon as Send returns.
	// A MsgSnap is sent as SendSnapshot with an empty Body.
	Send(msgs []GroupMessage)

	// SendSnapshot streams s to s.Message.To and returns without blocking.
	// Every call, including one refused at once (too many streams, unknown
	// peer, not a MsgSnap), ends in exactly one Handler.ReportSnapshot for
	// (s.Message.To, s.Group), unless the transport is closed first.
	SendSnapshot(s OutgoingSnapshot)

	// Close stops the transport: it drops everything queued, closes every
	// connection and body, and returns when no goroutine of the transport
	// runs any more. After Close returns the Handler is not called again.
	// Send and SendSnapshot after Close drop silently.
	Close() error
}

// Handler is what a transport delivers to: received messages and snapshots,
// and the outcomes of sending. A host of Raft groups implements it.
//
// The TCP transport calls it from several goroutines at once (one per
// connection, plus reporting); the MemNetwork calls it only from within its
// driver methods, on the driver's goroutine. Handler methods may call Send
// and SendSnapshot, but never Close.
type Handler interface {
	// HandleMessages delivers messages that node from sent, in the order it
	// sent them within one class (a reconnect may reorder the last messages
	// of the old connection with the first of the new). Every message has passed the checks
	// described in the package documentation (authenticated sender, this
	// node as destination, a known group, a network message type). The
	// msgs slice is only valid during the call; the messages themselves
	// share no memory with the transport and may be kept. It may block for a
	// while to push back on the sender (its connection stops being read);
	// it must return eventually, because Close waits for it.
	HandleMessages(from uint64, msgs []GroupMessage)

	// HasGroup reports whether this node hosts group (or will create it on
	// demand). Messages and snapshots of other groups are rejected.
	HasGroup(group uint64) bool

	// ReceiveSnapshot is called when node from starts streaming the body of
	// snapshot m (a MsgSnap) of group. It returns where to store the body,
	// or an error to refuse the snapshot (the sender is told it failed).
	// Once the body is complete and its checksum matches, the transport
	// calls SnapshotSink.Close and, if that succeeds, delivers m through
	// HandleMessages, so the body is stored before Raft steps m.
	ReceiveSnapshot(from, group uint64, m pb.Message) (SnapshotSink, error)

	// ReportUnreachable tells that messages to node to were dropped. groups
	// lists the groups whose messages were dropped, without repeats, in
	// increasing order; nil means every group with a replica on that node
	// (for example, a connection broke with messages in flight). The host
	// calls RawNode.ReportUnreachable(to) for each group. It must not block.
	ReportUnreachable(to uint64, groups []uint64)

	// ReportSnapshot tells the outcome of a snapshot sent with SendSnapshot
	// (or Send): err is nil when the receiver stored the body and accepted
	// the message. The host calls RawNode.ReportSnapshot(to, status) for
	// group. It must not block.
	ReportSnapshot(to, group uint64, err error)
}

// SnapshotSink receives the body of one incoming snapshot. The transport
// calls Write with the body's chunks in order, and then exactly one of Close
// (the whole body arrived and its checksum matches) or Abort (it did not).
// Calls on one sink never overlap.
type SnapshotSink interface {
	// Write stores the next chunk of the body. An error aborts the
	// transfer: the transport calls Abort next.
	io.Writer
	// Close finishes the body. If it returns nil the transport delivers
	// the MsgSnap to HandleMessages and tells the sender it succeeded;
	// otherwise the sender is told the snapshot failed.
	Close() error
	// Abort discards what was written; err says why the transfer failed.
	Abort(err error)
}
