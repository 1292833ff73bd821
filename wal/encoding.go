package wal

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"math/bits"

	pb "github.com/pontoon-raft/raft/raftpb"
)

// A batch frame's payload is the batch's sequence number (uvarint) followed
// by ops until the end of the payload. An op is
//
//	uvarint group, uvarint flags, then, in this order, the parts its flags name:
//	opSnapshot:      snapshot (see appendSnapshot)
//	opEntries:       varint first-(last+1)  unless hintAppend
//	                 uvarint count          unless hintOneEntry
//	                 uvarint run term       unless hintRunTerm
//	                 entries
//	opHardState:     uvarint term, vote     unless hintCommitOnly
//	                 uvarint last-commit
//	opLocalSnapshot: snapshot
//	opCompact:       uvarint index, uvarint term
//	opRewrite:       uvarint first, uvarint count, entries (each with its term)
//
// where last is the group's last index at that point of the op: values
// relative to it stay one or two bytes long however long the log grows. A
// run term of zero means every entry carries its own term. The hints leave
// out what the group's state before the op implies, which recovery knows as
// it replays in order: hintAppend, entries start right after the last one;
// hintOneEntry, there is one; hintRunTerm, all have the term of the
// group's HardState before the op; hintCommitOnly, the HardState keeps its
// term and vote. A Raft node's usual Ready (one entry of the current term
// and a commit index) thus costs 3 bytes of op plus its group id and the
// entry.
//
// An entry is
//
//	uvarint head = dataField<<2 | type, dataField = 0 for nil Data, len(Data)+1 otherwise
//	uvarint term (only when the run term is zero)
//	Data
//	4 bytes CRC-32C, little-endian, of the group, index and term (entryCRCSeed)
//	  followed by the bytes above
//
// Entries are checked by their own checksum whenever they are read back, so
// damage that happens after recovery is reported too.
const (
	opEntries       = 1 << 0
	opHardState     = 1 << 1
	hintAppend      = 1 << 2
	hintRunTerm     = 1 << 3
	hintCommitOnly  = 1 << 4
	hintOneEntry    = 1 << 5
	opSnapshot      = 1 << 6
	opLocalSnapshot = 1 << 7
	opCompact       = 1 << 8
	opRemove        = 1 << 9
	opRewrite       = 1 << 10

	opAll   = opEntries | opHardState | opSnapshot | opLocalSnapshot | opCompact | opRemove | opRewrite
	hintAll = hintAppend | hintRunTerm | hintCommitOnly | hintOneEntry
)

const entryCRCBytes = 4

// entryPos says where an entry lives and what the engine knows of it
// without reading it.
type entryPos struct {
	term   uint64
	seg    uint32 // segment number; 0 while recovery has not seen the entry yet
	off    uint32 // file offset of the encoded entry
	size   uint32 // encoded size
	pbSize uint32 // pb.Entry.Size of the entry
}

// entryPBSize is pb.Entry.Size for an entry with these fields.
func entryPBSize(term, index uint64, typ pb.EntryType, dataLen int, hasData bool) uint32 {
	n := 3 + sov(term) + sov(index) + sov(uint64(typ))
	if hasData {
		n += 1 + sov(uint64(dataLen)) + dataLen
	}
	return uint32(n)
}

func sov(x uint64) int { return (bits.Len64(x|1) + 6) / 7 }

func entryCRCSeed(group, index, term uint64) uint32 {
	return crcUint64s(group, index, term)
}

// crcUint64s returns the CRC-32C of the little-endian bytes of vs, as
// crc32.Checksum would, without a byte slice: one passed to crc32 escapes
// to the heap, and this runs for every entry written and read.
func crcUint64s(vs ...uint64) uint32 {
	crc := ^uint32(0)
	for _, v := range vs {
		for i := 0; i < 8; i++ {
			crc = castagnoli[byte(crc)^byte(v)] ^ crc>>8
			v >>= 8
		}
	}
	return ^crc
}

// appendEntry appends the encoding of e (index index of group) to buf. With
// withTerm the term is written; otherwise it is implied by the run.
func appendEntry(buf []byte, group, index uint64, e *pb.Entry, withTerm bool) []byte {
	start := len(buf)
	field := uint64(0)
	if e.Data != nil {
		field = uint64(len(e.Data)) + 1
	}
	buf = binary.AppendUvarint(buf, field<<2|uint64(e.Type))
	if withTerm {
		buf = binary.AppendUvarint(buf, e.Term)
	}
	buf = append(buf, e.Data...)
	sum := crc32.Update(entryCRCSeed(group, index, e.Term), castagnoli, buf[start:])
	return binary.LittleEndian.AppendUint32(buf, sum)
}

// decodeEntry decodes one entry from b, which holds exactly its encoding.
// The term comes from the index (runTerm) unless the encoding carries one;
// with a carried term, runTerm must be zero or equal to it. The returned
// Data aliases b.
func decodeEntry(b []byte, group, index, runTerm uint64) (pb.Entry, error) {
	if len(b) < 1+entryCRCBytes {
		return pb.Entry{}, fmt.Errorf("entry %d is %d bytes", index, len(b))
	}
	body := b[:len(b)-entryCRCBytes]
	head, n := binary.Uvarint(body)
	if n <= 0 {
		return pb.Entry{}, fmt.Errorf("entry %d: bad head", index)
	}
	e := pb.Entry{Index: index, Term: runTerm, Type: pb.EntryType(head & 3)}
	rest := body[n:]
	field := head >> 2
	var dataLen uint64
	if field > 0 {
		dataLen = field - 1
	}
	if uint64(len(rest)) < dataLen {
		return pb.Entry{}, fmt.Errorf("entry %d: data of %d bytes overruns the record", index, dataLen)
	}
	if uint64(len(rest)) > dataLen {
		t, m := binary.Uvarint(rest)
		if m <= 0 || uint64(len(rest)-m) != dataLen {
			return pb.Entry{}, fmt.Errorf("entry %d: bad term or length", index)
		}
		if runTerm != 0 && t != runTerm {
			return pb.Entry{}, fmt.Errorf("entry %d: term %d, the index says %d", index, t, runTerm)
		}
		e.Term = t
		rest = rest[m:]
	}
	if field > 0 {
		e.Data = rest[:dataLen:dataLen]
	}
	want := binary.LittleEndian.Uint32(b[len(b)-entryCRCBytes:])
	if crc32.Update(entryCRCSeed(group, index, e.Term), castagnoli, body) != want {
		return pb.Entry{}, fmt.Errorf("entry %d: checksum mismatch", index)
	}
	return e, nil
}

// appendSnapshot appends a snapshot: uvarint length and the marshaled
// metadata, then uvarint dataField and Data as for entries.
func appendSnapshot(buf []byte, s *pb.Snapshot) []byte {
	buf = binary.AppendUvarint(buf, uint64(s.Metadata.Size()))
	n := len(buf)
	buf = append(buf, make([]byte, s.Metadata.Size())...)
	if _, err := s.Metadata.MarshalTo(buf[n:]); err != nil {
		panic(fmt.Sprintf("wal: marshaling snapshot metadata into a buffer of its own size: %v", err))
	}
	if s.Data == nil {
		return append(buf, 0)
	}
	buf = binary.AppendUvarint(buf, uint64(len(s.Data))+1)
	return append(buf, s.Data...)
}

// reader decodes the little formats above from a byte slice. The first
// error sticks; later reads return zero values.
type reader struct {
	b   []byte
	pos int
	err error
}

var errShort = errors.New("record ends early")

func (r *reader) fail(err error) {
	if r.err == nil {
		r.err = err
	}
}

func (r *reader) done() bool { return r.err != nil || r.pos >= len(r.b) }

func (r *reader) uvarint() uint64 {
	if r.err != nil {
		return 0
	}
	v, n := binary.Uvarint(r.b[r.pos:])
	if n <= 0 {
		r.fail(fmt.Errorf("bad varint at byte %d", r.pos))
		return 0
	}
	r.pos += n
	return v
}

func (r *reader) varint() int64 {
	if r.err != nil {
		return 0
	}
	v, n := binary.Varint(r.b[r.pos:])
	if n <= 0 {
		r.fail(fmt.Errorf("bad varint at byte %d", r.pos))
		return 0
	}
	r.pos += n
	return v
}

func (r *reader) bytes(n uint64) []byte {
	if r.err != nil {
		return nil
	}
	if n > uint64(len(r.b)-r.pos) {
		r.fail(errShort)
		return nil
	}
	b := r.b[r.pos : r.pos+int(n)]
	r.pos += int(n)
	return b
}

// snapshot reads what appendSnapshot wrote. Data is copied.
func (r *reader) snapshot() pb.Snapshot {
	var s pb.Snapshot
	meta := r.bytes(r.uvarint())
	if r.err == nil {
		if err := s.Metadata.Unmarshal(meta); err != nil {
			r.fail(fmt.Errorf("snapshot metadata: %v", err))
		}
	}
	if field := r.uvarint(); field > 0 {
		s.Data = append([]byte{}, r.bytes(field-1)...)
	}
	return s
}

// skipEntry moves past one encoded entry (with or without its own term)
// and returns its bounds, type, data length and carried term.
func (r *reader) skipEntry(withTerm bool) (start, end int, typ pb.EntryType, dataLen int, hasData bool, term uint64) {
	start = r.pos
	head := r.uvarint()
	if withTerm {
		term = r.uvarint()
	}
	field := head >> 2
	if field > 0 {
		hasData = true
		dataLen64 := field - 1
		if dataLen64 > uint64(len(r.b)) {
			r.fail(errShort)
			return
		}
		dataLen = int(dataLen64)
	}
	r.bytes(uint64(dataLen) + entryCRCBytes)
	return start, r.pos, pb.EntryType(head & 3), dataLen, hasData, term
}
