package transport

import "errors"

var (
	// ErrInvalidConfig is wrapped by every configuration error, so callers
	// can test for it with errors.Is.
	ErrInvalidConfig = errors.New("transport: invalid config")
	// ErrClosed: the transport was closed.
	ErrClosed = errors.New("transport: closed")
	// ErrUnknownPeer: no address is known for the destination node.
	ErrUnknownPeer = errors.New("transport: unknown peer")
	// ErrUnreachable: the peer could not be reached, or the connection
	// broke before the transfer finished.
	ErrUnreachable = errors.New("transport: peer unreachable")
	// ErrInvalidSnapshot: SendSnapshot was given something that is not a
	// MsgSnap with snapshot metadata, or the receiver was sent one.
	ErrInvalidSnapshot = errors.New("transport: not a valid MsgSnap")
	// ErrMessageTooLarge: a message exceeds MaxMessageBytes.
	ErrMessageTooLarge = errors.New("transport: message too large")
	// ErrSnapshotTooLarge: a snapshot body exceeds MaxSnapshotBytes.
	ErrSnapshotTooLarge = errors.New("transport: snapshot body too large")
	// ErrChecksumMismatch: a snapshot body arrived with another length or
	// CRC-32C than its sender computed.
	ErrChecksumMismatch = errors.New("transport: snapshot checksum mismatch")
	// ErrInjectedFault: a MemNetwork broke a snapshot stream on purpose
	// (Faults.SnapshotFailRate).
	ErrInjectedFault = errors.New("transport: injected fault")
)
