package store

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
)

// ErrCorrupt is wrapped by every error that reports a value on disk whose
// checksum, framing or contents do not match what was written. Such a value
// is never handed to raft or to the state machine.
var ErrCorrupt = errors.New("kvstore: corrupt data on disk")

// castagnoli is the CRC-32C table; CRC-32C has hardware support on amd64 and
// arm64, so checking every value on read costs little.
var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// frameHeaderBytes is the size of the checksum that prefixes every value.
const frameHeaderBytes = 4

// frame returns payload prefixed with its CRC-32C (little endian).
func frame(payload []byte) []byte {
	out := make([]byte, frameHeaderBytes+len(payload))
	binary.LittleEndian.PutUint32(out, crc32.Checksum(payload, castagnoli))
	copy(out[frameHeaderBytes:], payload)
	return out
}

// unframe checks the checksum of a value written by frame and returns its
// payload, which aliases v. what names the value in the error.
func unframe(v []byte, what string) ([]byte, error) {
	if len(v) < frameHeaderBytes {
		return nil, fmt.Errorf("%w: %s: value of %d bytes is shorter than its checksum", ErrCorrupt, what, len(v))
	}
	payload := v[frameHeaderBytes:]
	want := binary.LittleEndian.Uint32(v)
	if got := crc32.Checksum(payload, castagnoli); got != want {
		return nil, fmt.Errorf("%w: %s: checksum %08x, stored %08x", ErrCorrupt, what, got, want)
	}
	return payload, nil
}
