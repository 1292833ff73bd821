package transport

import (
	"encoding/binary"
	"fmt"
	"io"

	pb "github.com/pontoon-raft/raft/raftpb"
)

// maxFrameBytes bounds one length-prefixed message on a stream; a larger
// length means the stream is garbage (snapshots never travel on it).
const maxFrameBytes = 64 << 20

// writeFrame writes m as a 4-byte big-endian length and its protobuf bytes.
func writeFrame(w io.Writer, m *pb.Message) error {
	size := m.Size()
	buf := make([]byte, 4+size)
	binary.BigEndian.PutUint32(buf, uint32(size))
	if _, err := m.MarshalTo(buf[4:]); err != nil {
		return err
	}
	_, err := w.Write(buf)
	return err
}

// readFrame reads one message written by writeFrame.
func readFrame(r io.Reader) (pb.Message, error) {
	var hdr [4]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		return pb.Message{}, err
	}
	size := binary.BigEndian.Uint32(hdr[:])
	if size > maxFrameBytes {
		return pb.Message{}, fmt.Errorf("transport: frame of %d bytes exceeds %d", size, maxFrameBytes)
	}
	buf := make([]byte, size)
	if _, err := io.ReadFull(r, buf); err != nil {
		return pb.Message{}, err
	}
	var m pb.Message
	if err := m.Unmarshal(buf); err != nil {
		return pb.Message{}, fmt.Errorf("transport: decoding message: %w", err)
	}
	return m, nil
}
