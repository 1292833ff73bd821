package transport

import (
	"encoding/binary"
	"errors"
	"fmt"
	"unicode/utf8"

	pb "github.com/pontoon-raft/raft/raftpb"
)

// EnvelopeVersion is the version of the framing, handshake and snapshot
// stream this package speaks, stated in every handshake. A peer that
// states another version is refused with ErrVersionMismatch.
const EnvelopeVersion uint16 = 1

// helloMagic opens every Hello, so a peer that is not a Pontoon transport
// (an HTTP client, a port scanner) is told apart from a version mismatch.
var helloMagic = [4]byte{'P', 'N', 'T', 'N'}

const (
	helloPayloadBytes = 4 + 2 + 1 + 8 + 8 + 8 // magic, version, class, cluster, from, to
	ackFixedBytes     = 2 + 1 + 8 + 8         // version, status, cluster, node
	// maxReasonBytes bounds the human-readable reason in refusals.
	maxReasonBytes = 256
	// maxHandshakePayload bounds the frames read before a peer is
	// authenticated, so garbage lengths never allocate much.
	maxHandshakePayload = ackFixedBytes + maxReasonBytes
	snapEndPayloadBytes = 8 + 4 // body length, CRC-32C
)

// hello is the first frame on every connection, from the dialer.
type hello struct {
	version   uint16
	class     Class
	clusterID uint64
	from, to  uint64
}

func appendHello(buf []byte, h hello) []byte {
	buf, start := beginFrame(buf, kindHello)
	buf = append(buf, helloMagic[:]...)
	buf = binary.BigEndian.AppendUint16(buf, h.version)
	buf = append(buf, byte(h.class))
	buf = binary.BigEndian.AppendUint64(buf, h.clusterID)
	buf = binary.BigEndian.AppendUint64(buf, h.from)
	buf = binary.BigEndian.AppendUint64(buf, h.to)
	endFrame(buf, start)
	return buf
}

// decodeHello parses a Hello payload. It checks the layout only; whether
// the values are acceptable is the listener's decision. A Hello of another
// envelope version decodes to its version alone, without error, so the
// listener can refuse it with ErrVersionMismatch whatever its layout.
func decodeHello(p []byte) (hello, error) {
	if len(p) < 6 || [4]byte(p[:4]) != helloMagic {
		return hello{}, malformed("hello does not start with %q and a version (not a Pontoon transport?)", helloMagic[:])
	}
	version := binary.BigEndian.Uint16(p[4:])
	if version != EnvelopeVersion {
		return hello{version: version}, nil
	}
	if len(p) != helloPayloadBytes {
		return hello{}, malformed("hello of %d bytes, want %d", len(p), helloPayloadBytes)
	}
	return hello{
		version:   version,
		class:     Class(p[6]),
		clusterID: binary.BigEndian.Uint64(p[7:]),
		from:      binary.BigEndian.Uint64(p[15:]),
		to:        binary.BigEndian.Uint64(p[23:]),
	}, nil
}

// status is the verdict in a HelloAck, SnapAccept or SnapOutcome.
type status uint8

const (
	statusOK status = iota
	statusVersion
	statusCluster
	statusWrongNode
	statusIdentity
	statusBusy
	statusRefused
	statusChecksum
	statusTooLarge
)

// Errors a handshake or a snapshot stream can end with. Refusals by the
// remote side wrap the same sentinels as refusals by this side, so
// errors.Is works for both.
var (
	// ErrVersionMismatch: the peers speak different envelope versions.
	ErrVersionMismatch = errors.New("transport: envelope version mismatch")
	// ErrClusterMismatch: the peers belong to different clusters.
	ErrClusterMismatch = errors.New("transport: cluster id mismatch")
	// ErrWrongNode: the node that answered is not the one dialed, or a
	// Hello names a sender or destination this node does not accept.
	ErrWrongNode = errors.New("transport: wrong node")
	// ErrIdentityMismatch: the certificate a peer presented does not bind
	// the node id it claims (see NodeURI), or binds none.
	ErrIdentityMismatch = errors.New("transport: certificate does not match the node id")
	// ErrBusy: the receiver already runs its maximum of snapshot streams.
	ErrBusy = errors.New("transport: too many snapshot streams")
	// ErrRefused: the peer refused, for the reason given in the message.
	ErrRefused = errors.New("transport: refused by peer")
)

func (s status) err() error {
	switch s {
	case statusOK:
		return nil
	case statusVersion:
		return ErrVersionMismatch
	case statusCluster:
		return ErrClusterMismatch
	case statusWrongNode:
		return ErrWrongNode
	case statusIdentity:
		return ErrIdentityMismatch
	case statusBusy:
		return ErrBusy
	case statusChecksum:
		return ErrChecksumMismatch
	case statusTooLarge:
		return ErrSnapshotTooLarge
	}
	return ErrRefused
}

// statusOf maps an error produced on this side to the status sent to the
// peer.
func statusOf(err error) status {
	switch {
	case err == nil:
		return statusOK
	case errors.Is(err, ErrVersionMismatch):
		return statusVersion
	case errors.Is(err, ErrClusterMismatch):
		return statusCluster
	case errors.Is(err, ErrWrongNode):
		return statusWrongNode
	case errors.Is(err, ErrIdentityMismatch):
		return statusIdentity
	case errors.Is(err, ErrBusy):
		return statusBusy
	case errors.Is(err, ErrChecksumMismatch):
		return statusChecksum
	case errors.Is(err, ErrSnapshotTooLarge):
		return statusTooLarge
	}
	return statusRefused
}

// helloAck answers a Hello: the listener's own version, cluster and node,
// and its verdict.
type helloAck struct {
	version   uint16
	status    status
	clusterID uint64
	node      uint64
	reason    string
}

func appendHelloAck(buf []byte, a helloAck) []byte {
	buf, start := beginFrame(buf, kindHelloAck)
	buf = binary.BigEndian.AppendUint16(buf, a.version)
	buf = append(buf, byte(a.status))
	buf = binary.BigEndian.AppendUint64(buf, a.clusterID)
	buf = binary.BigEndian.AppendUint64(buf, a.node)
	buf = append(buf, clipReason(a.reason)...)
	endFrame(buf, start)
	return buf
}

func decodeHelloAck(p []byte) (helloAck, error) {
	if len(p) < ackFixedBytes || len(p) > ackFixedBytes+maxReasonBytes {
		return helloAck{}, malformed("hello ack of %d bytes", len(p))
	}
	return helloAck{
		version:   binary.BigEndian.Uint16(p),
		status:    status(p[2]),
		clusterID: binary.BigEndian.Uint64(p[3:]),
		node:      binary.BigEndian.Uint64(p[11:]),
		reason:    string(p[ackFixedBytes:]),
	}, nil
}

// clipReason bounds a reason to maxReasonBytes without splitting a rune.
func clipReason(s string) string {
	if len(s) <= maxReasonBytes {
		return s
	}
	s = s[:maxReasonBytes]
	for len(s) > 0 && !utf8.ValidString(s) {
		s = s[:len(s)-1]
	}
	return s
}

// appendBatchMessage appends one message of group to a Batch payload:
// the group and the message length as uvarints, then the raftpb bytes.
// size must be m.Size().
func appendBatchMessage(buf []byte, group uint64, m *pb.Message, size int) []byte {
	buf = binary.AppendUvarint(buf, group)
	buf = binary.AppendUvarint(buf, uint64(size))
	n := len(buf)
	buf = growLen(buf, size)
	if written, err := m.MarshalToSizedBuffer(buf[n:]); err != nil || written != size {
		panic(fmt.Sprintf("transport: encoding a message of Size %d wrote %d bytes (err %v); was it modified after Send?", size, written, err))
	}
	return buf
}

// batchMessageOverhead bounds the bytes appendBatchMessage adds besides the
// message itself.
const batchMessageOverhead = 2 * binary.MaxVarintLen64

// decodeBatch appends the messages of a Batch payload to out. Each message
// may be at most maxMessageBytes long. Decoding copies every byte field, so
// p may be reused afterwards.
func decodeBatch(p []byte, maxMessageBytes int, out []GroupMessage) ([]GroupMessage, error) {
	if len(p) == 0 {
		return out, malformed("empty batch")
	}
	for len(p) > 0 {
		group, n := binary.Uvarint(p)
		if n <= 0 {
			return out, malformed("batch message group: bad uvarint")
		}
		p = p[n:]
		size, n := binary.Uvarint(p)
		if n <= 0 {
			return out, malformed("batch message length: bad uvarint")
		}
		p = p[n:]
		if size > uint64(maxMessageBytes) {
			return out, malformed("message of %d bytes exceeds the limit of %d", size, maxMessageBytes)
		}
		if size > uint64(len(p)) {
			return out, malformed("message of %d bytes, only %d left in the frame", size, len(p))
		}
		out = append(out, GroupMessage{Group: group})
		if err := out[len(out)-1].Message.Unmarshal(p[:size]); err != nil {
			return out[:len(out)-1], malformed("message of group %d: %v", group, err)
		}
		p = p[size:]
	}
	return out, nil
}

// appendSnapHeader appends the frame that opens a snapshot stream: the
// group and the MsgSnap, whose Snapshot.Data is the application's small
// descriptor.
func appendSnapHeader(buf []byte, group uint64, m *pb.Message, size int) []byte {
	buf, start := beginFrame(buf, kindSnapHeader)
	buf = binary.AppendUvarint(buf, group)
	n := len(buf)
	buf = growLen(buf, size)
	if written, err := m.MarshalToSizedBuffer(buf[n:]); err != nil || written != size {
		panic(fmt.Sprintf("transport: encoding a MsgSnap of Size %d wrote %d bytes (err %v); was it modified after SendSnapshot?", size, written, err))
	}
	endFrame(buf, start)
	return buf
}

func decodeSnapHeader(p []byte) (uint64, pb.Message, error) {
	group, n := binary.Uvarint(p)
	if n <= 0 {
		return 0, pb.Message{}, malformed("snapshot header group: bad uvarint")
	}
	var m pb.Message
	if err := m.Unmarshal(p[n:]); err != nil {
		return 0, pb.Message{}, malformed("snapshot header message: %v", err)
	}
	return group, m, nil
}

// appendVerdict appends a SnapAccept or SnapOutcome frame.
func appendVerdict(buf []byte, kind byte, s status, reason string) []byte {
	buf, start := beginFrame(buf, kind)
	buf = append(buf, byte(s))
	buf = append(buf, clipReason(reason)...)
	endFrame(buf, start)
	return buf
}

// decodeVerdict parses a SnapAccept or SnapOutcome payload.
func decodeVerdict(p []byte) (s status, reason string, err error) {
	if len(p) < 1 || len(p) > 1+maxReasonBytes {
		return 0, "", malformed("verdict of %d bytes", len(p))
	}
	return status(p[0]), string(p[1:]), nil
}

// refusal returns the error a peer's refusal with status s stands for (nil
// for statusOK).
func refusal(s status, reason string) error {
	if s == statusOK {
		return nil
	}
	return fmt.Errorf("%w: peer says %q", s.err(), reason)
}

func appendSnapEnd(buf []byte, total uint64, crc uint32) []byte {
	buf, start := beginFrame(buf, kindSnapEnd)
	buf = binary.BigEndian.AppendUint64(buf, total)
	buf = binary.BigEndian.AppendUint32(buf, crc)
	endFrame(buf, start)
	return buf
}

func decodeSnapEnd(p []byte) (total uint64, crc uint32, err error) {
	if len(p) != snapEndPayloadBytes {
		return 0, 0, malformed("snapshot end of %d bytes, want %d", len(p), snapEndPayloadBytes)
	}
	return binary.BigEndian.Uint64(p), binary.BigEndian.Uint32(p[8:]), nil
}

// growLen extends buf by n bytes, reallocating at most once.
func growLen(buf []byte, n int) []byte {
	if cap(buf)-len(buf) < n {
		grown := make([]byte, len(buf), 2*cap(buf)+n)
		copy(grown, buf)
		buf = grown
	}
	return buf[:len(buf)+n]
}
