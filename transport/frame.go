package transport

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

// A frame is a 4-byte big-endian length L, then L bytes: one kind byte and
// L-1 bytes of payload. See the package documentation for the kinds.
const frameHeaderBytes = 5

// Frame kinds of envelope version 1.
const (
	kindHello       byte = 0x01 // dialer -> listener: who I am and want to reach
	kindHelloAck    byte = 0x02 // listener -> dialer: accepted or refused, and why
	kindBatch       byte = 0x10 // messages of any groups
	kindSnapHeader  byte = 0x20 // group and MsgSnap that open a snapshot stream
	kindSnapAccept  byte = 0x21 // receiver -> sender: the body may come (or not)
	kindSnapChunk   byte = 0x22 // a piece of the body
	kindSnapEnd     byte = 0x23 // body length and CRC-32C
	kindSnapOutcome byte = 0x24 // receiver -> sender: stored and accepted, or not
)

// ErrMalformed is wrapped by every error about bytes a peer sent that do not
// follow the envelope: a bad length, an unknown frame kind, a truncated
// field. The connection that carried them is closed.
var ErrMalformed = errors.New("transport: malformed frame")

// malformed returns an error wrapping ErrMalformed.
func malformed(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrMalformed, fmt.Sprintf(format, args...))
}

// beginFrame appends a frame header of the given kind with a placeholder
// length to buf. It returns the extended buffer and the frame's start, for
// endFrame.
func beginFrame(buf []byte, kind byte) ([]byte, int) {
	start := len(buf)
	return append(buf, 0, 0, 0, 0, kind), start
}

// endFrame fills in the length of the frame begun at start.
func endFrame(buf []byte, start int) {
	binary.BigEndian.PutUint32(buf[start:], uint32(len(buf)-start-4))
}

// frameReader reads frames from a stream into one reused buffer.
type frameReader struct {
	r      io.Reader
	length [4]byte
	buf    []byte
}

// frameBufferShrinkBytes: a buffer grown beyond this by a large frame is
// released at the next small frame, so one large append does not pin its
// memory for the life of the connection.
const frameBufferShrinkBytes = 1 << 20

// next reads the next frame. It returns the frame's kind and payload; the
// payload is valid until the next call. A payload longer than maxPayload is
// an ErrMalformed error and nothing of it is read. io.EOF means the stream
// ended cleanly between frames; a stream that ends inside a frame gives
// io.ErrUnexpectedEOF.
func (fr *frameReader) next(maxPayload int) (kind byte, payload []byte, err error) {
	if _, err := io.ReadFull(fr.r, fr.length[:]); err != nil {
		return 0, nil, err // io.EOF only if no byte of the length was read
	}
	length := binary.BigEndian.Uint32(fr.length[:])
	if length == 0 {
		return 0, nil, malformed("frame of length 0 has no kind")
	}
	if uint64(length)-1 > uint64(maxPayload) {
		return 0, nil, malformed("frame payload of %d bytes exceeds the limit of %d", length-1, maxPayload)
	}
	n := int(length)
	if cap(fr.buf) < n || (cap(fr.buf) > frameBufferShrinkBytes && n <= frameBufferShrinkBytes) {
		fr.buf = make([]byte, n, max(n, 4<<10))
	}
	fr.buf = fr.buf[:n]
	if _, err := io.ReadFull(fr.r, fr.buf); err != nil {
		if err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		return 0, nil, err
	}
	return fr.buf[0], fr.buf[1:], nil
}
