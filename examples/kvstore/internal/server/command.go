package server

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// opKind is what one operation of a command does.
type opKind byte

const (
	opPut    opKind = 1
	opDelete opKind = 2
)

// Op is one write of a command: a PUT (Value set) or a DELETE.
type Op struct {
	Kind  opKind
	Key   string
	Value string
}

// commandVersion is the first byte of every command, so the format can
// change without old entries being misread.
const commandVersion = 1

// maxOpsPerCommand bounds the operations of one command (one /txn).
const maxOpsPerCommand = 1024

// errBadCommand is wrapped by every decoding error.
var errBadCommand = errors.New("kvstore: malformed command")

// encodeCommand lays ops out as: version (1 byte), op count (uvarint), then
// per op its kind (1 byte), key length (uvarint), key and, for a PUT, value
// length (uvarint) and value. A command is one log entry, applied whole.
func encodeCommand(ops []Op) []byte {
	size := 1 + binary.MaxVarintLen64
	for _, o := range ops {
		size += 1 + 2*binary.MaxVarintLen64 + len(o.Key) + len(o.Value)
	}
	b := make([]byte, 0, size)
	b = append(b, commandVersion)
	b = binary.AppendUvarint(b, uint64(len(ops)))
	for _, o := range ops {
		b = append(b, byte(o.Kind))
		b = binary.AppendUvarint(b, uint64(len(o.Key)))
		b = append(b, o.Key...)
		if o.Kind == opPut {
			b = binary.AppendUvarint(b, uint64(len(o.Value)))
			b = append(b, o.Value...)
		}
	}
	return b
}

// decodeCommand parses what encodeCommand wrote; anything else is an error
// wrapping errBadCommand, never a panic.
func decodeCommand(b []byte) ([]Op, error) {
	if len(b) == 0 || b[0] != commandVersion {
		return nil, fmt.Errorf("%w: unknown version", errBadCommand)
	}
	rest := b[1:]
	n, w := binary.Uvarint(rest)
	if w <= 0 || n == 0 || n > maxOpsPerCommand {
		return nil, fmt.Errorf("%w: bad operation count", errBadCommand)
	}
	rest = rest[w:]
	field := func() (string, bool) {
		l, w := binary.Uvarint(rest)
		if w <= 0 || uint64(len(rest)-w) < l {
			return "", false
		}
		s := string(rest[w : w+int(l)])
		rest = rest[w+int(l):]
		return s, true
	}
	ops := make([]Op, 0, n)
	for i := uint64(0); i < n; i++ {
		if len(rest) == 0 {
			return nil, fmt.Errorf("%w: truncated", errBadCommand)
		}
		o := Op{Kind: opKind(rest[0])}
		rest = rest[1:]
		if o.Kind != opPut && o.Kind != opDelete {
			return nil, fmt.Errorf("%w: operation kind %d", errBadCommand, o.Kind)
		}
		var ok bool
		if o.Key, ok = field(); !ok || o.Key == "" {
			return nil, fmt.Errorf("%w: bad key", errBadCommand)
		}
		if o.Kind == opPut {
			if o.Value, ok = field(); !ok {
				return nil, fmt.Errorf("%w: bad value", errBadCommand)
			}
		}
		ops = append(ops, o)
	}
	if len(rest) != 0 {
		return nil, fmt.Errorf("%w: %d trailing bytes", errBadCommand, len(rest))
	}
	return ops, nil
}
