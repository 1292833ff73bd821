package wal

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
)

// castagnoli is the CRC-32C table used for every checksum the package writes.
var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// ErrCorrupt is wrapped by every error that reports damaged or inconsistent
// data on disk: a checksum mismatch, a malformed record, a missing or foreign
// segment, a snapshot file that does not match its reference. Such data is
// never applied or returned.
var ErrCorrupt = errors.New("wal: corrupt data")

// Segment files start with a fixed header:
//
//	[0:8)   magic "PONTWAL\x00"
//	[8:10)  format version, little-endian (segmentVersion)
//	[10:12) reserved, zero
//	[12:20) engine id, little-endian: every segment of one engine carries the same
//	[20:28) segment number, little-endian: the number in the file's name
//	[28:32) CRC-32C of bytes [0:28)
const (
	segmentHeaderSize = 32
	segmentVersion    = 1
)

var segmentMagic = [8]byte{'P', 'O', 'N', 'T', 'W', 'A', 'L', 0}

// segmentHeader is the decoded header of a segment file.
type segmentHeader struct {
	engineID uint64
	number   uint64
}

func (h segmentHeader) encode() []byte {
	b := make([]byte, segmentHeaderSize)
	copy(b, segmentMagic[:])
	binary.LittleEndian.PutUint16(b[8:], segmentVersion)
	binary.LittleEndian.PutUint64(b[12:], h.engineID)
	binary.LittleEndian.PutUint64(b[20:], h.number)
	binary.LittleEndian.PutUint32(b[28:], crc32.Checksum(b[:28], castagnoli))
	return b
}

func decodeSegmentHeader(b []byte) (segmentHeader, error) {
	if len(b) < segmentHeaderSize {
		return segmentHeader{}, fmt.Errorf("%w: segment header is %d bytes, want %d", ErrCorrupt, len(b), segmentHeaderSize)
	}
	if got, want := binary.LittleEndian.Uint32(b[28:]), crc32.Checksum(b[:28], castagnoli); got != want {
		return segmentHeader{}, fmt.Errorf("%w: segment header checksum %#x, want %#x", ErrCorrupt, got, want)
	}
	if [8]byte(b[:8]) != segmentMagic {
		return segmentHeader{}, fmt.Errorf("%w: bad segment magic %q", ErrCorrupt, b[:8])
	}
	if v := binary.LittleEndian.Uint16(b[8:]); v != segmentVersion {
		return segmentHeader{}, fmt.Errorf("%w: segment format version %d, this build reads %d", ErrCorrupt, v, segmentVersion)
	}
	if r := binary.LittleEndian.Uint16(b[10:]); r != 0 {
		return segmentHeader{}, fmt.Errorf("%w: reserved header bytes are %#x", ErrCorrupt, r)
	}
	return segmentHeader{
		engineID: binary.LittleEndian.Uint64(b[12:]),
		number:   binary.LittleEndian.Uint64(b[20:]),
	}, nil
}

// After the header a segment is a sequence of frames:
//
//	[0]     kind
//	[1:5)   length of the payload, little-endian
//	[5:9)   header checksum: CRC-32C of the frame's salt and file offset
//	        (frameSeed) followed by bytes [0:5)
//	[9:13)  payload checksum: CRC-32C of the payload, continuing from the
//	        header checksum
//	[13:13+length)  payload
//	[13+length]     trailer byte frameTrailer
//
// Seeding the checksums with the segment's salt and the frame's own offset
// means a frame copied from another segment, another engine or another
// place in the file (for instance inside an entry's data) never verifies.
// The header checksum makes the length trustworthy on its own, so a frame
// that claims to run past the end of the file is known to be incomplete
// rather than damaged. The kind byte and the trailer are never zero, so a
// frame never begins or ends with a run of zeros, which is what a sector
// lost in a crash looks like (see tornEvidence).
const (
	frameHeaderSize = 13
	frameTrailer    = 0xa5
	frameOverhead   = frameHeaderSize + 1
	// maxFramePayload bounds one frame, and so one write: a Save whose
	// encoding is larger is refused.
	maxFramePayload = 256 << 20
)

// Frame kinds. Each has several bits set, so one flipped bit never turns
// it into zero.
const (
	kindCheckpoint byte = 'C' // first frame of every segment: every group's metadata
	kindBatch      byte = 'B' // the updates of one write
	kindSeal       byte = 'S' // last frame of a segment that has a successor
)

func validKind(k byte) bool { return k == kindCheckpoint || k == kindBatch || k == kindSeal }

// segmentSalt mixes the engine id and the segment number.
func segmentSalt(engineID, number uint64) uint64 {
	return engineID ^ (number * 0x9e3779b97f4a7c15)
}

// frameSeed returns the checksum state a frame at offset starts from.
func frameSeed(salt uint64, offset int64) uint32 { return crcUint64s(salt, uint64(offset)) }

// sealFrame fills in the header and trailer of a frame whose payload is
// already in frame[frameHeaderSize:len(frame)-1], for a frame that will be
// written at offset.
func sealFrame(frame []byte, kind byte, salt uint64, offset int64) {
	frame[0] = kind
	binary.LittleEndian.PutUint32(frame[1:], uint32(len(frame)-frameOverhead))
	h := crc32.Update(frameSeed(salt, offset), castagnoli, frame[:5])
	binary.LittleEndian.PutUint32(frame[5:], h)
	binary.LittleEndian.PutUint32(frame[9:], crc32.Update(h, castagnoli, frame[frameHeaderSize:len(frame)-1]))
	frame[len(frame)-1] = frameTrailer
}

// newFrame returns a frame buffer around payload, to be sealed.
func newFrame(payload []byte) []byte {
	f := make([]byte, frameHeaderSize, frameOverhead+len(payload))
	f = append(f, payload...)
	return append(f, 0)
}

// frameStatus is the outcome of parsing one frame.
type frameStatus int

const (
	frameOK         frameStatus = iota
	frameEOF                    // no bytes left
	frameTruncated              // the header verifies, or is cut short, and the frame runs past the end of the data
	frameBadHeader              // the header does not verify
	frameBadPayload             // the header verifies, the frame is complete, but its payload or trailer does not
)

// parseFrame parses the frame at buf[pos:], which sits at file offset
// base+pos. With frameBadPayload or frameTruncated and a verified header,
// end is where the frame ends (or would end).
func parseFrame(buf []byte, pos int, base int64, salt uint64) (kind byte, payload []byte, end int, status frameStatus) {
	rest := buf[pos:]
	switch {
	case len(rest) == 0:
		return 0, nil, pos, frameEOF
	case len(rest) < frameHeaderSize:
		return 0, nil, len(buf), frameTruncated
	}
	kind = rest[0]
	n := binary.LittleEndian.Uint32(rest[1:])
	h := crc32.Update(frameSeed(salt, base+int64(pos)), castagnoli, rest[:5])
	if !validKind(kind) || n > maxFramePayload || binary.LittleEndian.Uint32(rest[5:]) != h {
		return 0, nil, len(buf), frameBadHeader
	}
	size := frameOverhead + int(n)
	if len(rest) < size {
		return kind, nil, pos + size, frameTruncated
	}
	payload = rest[frameHeaderSize : size-1]
	if rest[size-1] != frameTrailer || binary.LittleEndian.Uint32(rest[9:]) != crc32.Update(h, castagnoli, payload) {
		return kind, nil, pos + size, frameBadPayload
	}
	return kind, payload, pos + size, frameOK
}
