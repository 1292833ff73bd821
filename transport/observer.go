package transport

// Observer receives the transport's events for metrics. Methods are called
// synchronously on the transport's hot paths, possibly from several
// goroutines at once, so they must be cheap and safe for concurrent use
// (atomic counters, or a metrics library's counters). peer is always the
// other node's id; for a handshake that failed before the peer proved who it
// is, it is the id the peer claimed (0 if none).
//
// Embed NopObserver in an implementation so that it keeps compiling when
// methods are added.
type Observer interface {
	// MessagesSent: messages (and their encoded bytes, frame headers
	// included) were written towards peer in class c.
	MessagesSent(peer uint64, c Class, messages, bytes int)
	// MessagesReceived: messages (and bytes) arrived from peer in class c,
	// counted before the receive checks.
	MessagesReceived(peer uint64, c Class, messages, bytes int)
	// QueueDepth: the queue towards peer for class c now holds messages
	// encoded in about bytes. Reported after every change.
	QueueDepth(peer uint64, c Class, messages, bytes int)
	// MessagesDropped: messages to peer were not sent, for reason r.
	MessagesDropped(peer uint64, r DropReason, messages int)
	// MessagesRejected: messages from peer were rejected, for reason r.
	MessagesRejected(peer uint64, r RejectReason, messages int)
	// ConnectionUp: a connection of class c with peer passed its handshake.
	// For outgoing connections, every call after the first for the same
	// peer and class is a reconnect.
	ConnectionUp(peer uint64, c Class, d Direction)
	// ConnectionDown: a connection of class c with peer ended; err says why
	// (nil when this node closed it on purpose).
	ConnectionDown(peer uint64, c Class, d Direction, err error)
	// HandshakeFailed: a connection with peer was refused in its handshake
	// (wrong cluster, version or node, certificate problems), by either
	// side; err says why.
	HandshakeFailed(peer uint64, d Direction, err error)
	// SnapshotStarted: a snapshot stream with peer began.
	SnapshotStarted(peer uint64, d Direction)
	// SnapshotFinished: a snapshot stream with peer ended after bytes of
	// body; err is nil on success.
	SnapshotFinished(peer uint64, d Direction, bytes int64, err error)
}

// NopObserver is an Observer that ignores every event. Its zero value is
// ready to use, and embedding it keeps an Observer implementation compiling
// when the interface grows.
type NopObserver struct{}

// MessagesSent does nothing.
func (NopObserver) MessagesSent(uint64, Class, int, int) {}

// MessagesReceived does nothing.
func (NopObserver) MessagesReceived(uint64, Class, int, int) {}

// QueueDepth does nothing.
func (NopObserver) QueueDepth(uint64, Class, int, int) {}

// MessagesDropped does nothing.
func (NopObserver) MessagesDropped(uint64, DropReason, int) {}

// MessagesRejected does nothing.
func (NopObserver) MessagesRejected(uint64, RejectReason, int) {}

// ConnectionUp does nothing.
func (NopObserver) ConnectionUp(uint64, Class, Direction) {}

// ConnectionDown does nothing.
func (NopObserver) ConnectionDown(uint64, Class, Direction, error) {}

// HandshakeFailed does nothing.
func (NopObserver) HandshakeFailed(uint64, Direction, error) {}

// SnapshotStarted does nothing.
func (NopObserver) SnapshotStarted(uint64, Direction) {}

// SnapshotFinished does nothing.
func (NopObserver) SnapshotFinished(uint64, Direction, int64, error) {}

var _ Observer = NopObserver{}
