package wal

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"io"
	"sort"
	"strings"
)

// Open opens the engine in dir, creating the directory and an empty engine
// if there is none, and recovers every group's state from the segments.
//
// Recovery reads the segments the newest one's checkpoint says are needed
// and replays them in order. A torn write at the end of the newest segment
// (the one write that can have been in flight at a crash) is cut off. Any
// other damage fails Open with an error wrapping ErrCorrupt that names the
// file and offset: a record whose checksum does not match, a missing
// segment, a segment of another engine, a checkpoint that disagrees with
// the records before it. Nothing damaged is ever applied.
func Open(dir string, opts Options) (*Engine, error) {
	opts, err := opts.withDefaults()
	if err != nil {
		return nil, err
	}
	if err := opts.FS.MkdirAll(dir); err != nil {
		return nil, err
	}
	lock, err := opts.FS.Lock(join(dir, lockName))
	if err != nil {
		return nil, fmt.Errorf("wal: locking %s: %w", dir, err)
	}
	e := &Engine{fs: opts.FS, dir: dir, opts: opts, lock: lock, groups: map[uint64]*group{}}
	e.cond.L = &e.mu
	if err := e.recover(); err != nil {
		for _, s := range e.segs {
			s.file.Close()
		}
		lock.Close()
		return nil, err
	}
	e.mergeWriterStats()
	e.publishTable()
	e.pending = newBatch(batchBufs{})
	return e, nil
}

// corruptError describes damage at offset of the named file.
func corruptError(path string, offset int64, format string, args ...any) error {
	return fmt.Errorf("%w: %s at offset %d: %s", ErrCorrupt, path, offset, fmt.Sprintf(format, args...))
}

func (e *Engine) recover() error {
	names, err := e.fs.List(e.dir)
	if err != nil {
		return err
	}
	var numbers []uint64
	present := map[uint64]bool{}
	for _, name := range names {
		if strings.HasSuffix(name, tmpSuffix) {
			// A file whose creation did not finish: never used.
			if err := e.fs.Remove(join(e.dir, name)); err != nil && !isNotExist(err) {
				return err
			}
			continue
		}
		if n, ok := parseSegmentName(name); ok {
			numbers = append(numbers, n)
			present[n] = true
		}
	}
	sort.Slice(numbers, func(i, j int) bool { return numbers[i] < numbers[j] })
	id, haveID, err := e.readIdentity()
	if err != nil {
		return err
	}
	if len(numbers) == 0 {
		if haveID {
			return fmt.Errorf("%w: %s has an engine identity file but no segment files", ErrCorrupt, e.dir)
		}
		return e.create()
	}
	newest := numbers[len(numbers)-1]
	head, err := e.readHead(newest)
	if err != nil {
		return err
	}
	switch {
	case haveID && id != e.engineID:
		return corruptError(join(e.dir, segmentName(newest)), 0, "segment of engine %#x, the directory belongs to engine %#x", e.engineID, id)
	case !haveID:
		// Creation stopped between the first segment and the identity.
		if err := e.writeIdentity(); err != nil {
			return err
		}
	}
	first := head.firstNeeded
	if first == 0 || first > newest {
		return corruptError(join(e.dir, segmentName(newest)), segmentHeaderSize, "checkpoint needs segments from %d, the segment is %d", first, newest)
	}
	for n := first; n <= newest; n++ {
		if !present[n] {
			return fmt.Errorf("%w: segment file %s is missing (segments %d to %d are needed)", ErrCorrupt, join(e.dir, segmentName(n)), first, newest)
		}
	}
	var total int64
	for n := first; n <= newest; n++ {
		f, err := e.fs.Open(join(e.dir, segmentName(n)))
		if err != nil {
			return err
		}
		s := &segment{number: n, file: f, salt: segmentSalt(e.engineID, n), groups: map[uint64]struct{}{}}
		e.segs = append(e.segs, s)
		size, err := f.Size()
		if err != nil {
			return err
		}
		total += size
	}
	// Every live entry takes at least 5 bytes in some segment.
	maxEntries := uint64(total / 5)
	var window []byte // reused by every segment
	for i, s := range e.segs {
		size, err := s.file.Size()
		if err != nil {
			return err
		}
		d := &segmentBytes{f: s.file, size: size, buf: window[:0]}
		if err := e.replaySegment(s, d, i == 0, i == len(e.segs)-1, maxEntries); err != nil {
			return err
		}
		window = d.buf
		e.stats.RecoveredSegments++
		e.stats.RecoveredBytes += s.size
	}
	for id, g := range e.groups {
		for i, p := range g.pos {
			if p.seg == 0 {
				return fmt.Errorf("%w: group %d entry %d is in none of segments %d to %d", ErrCorrupt, id, g.meta.first+uint64(i), first, newest)
			}
		}
	}
	if err := e.sealUnsealed(); err != nil {
		return err
	}
	// Segments older than the newest checkpoint needs are left over from
	// removals a crash undid. Their removal must be durable before any new
	// Save is acknowledged: one of them may lack its seal, and if it came
	// back together with the loss of the newest segment, nothing would
	// tell that the newest segment had existed.
	stale := false
	for _, n := range numbers {
		if n < first {
			e.obsolete = append(e.obsolete, join(e.dir, segmentName(n)))
			stale = true
		}
	}
	if stale {
		e.removeObsolete()
		if len(e.obsolete) > 0 {
			return fmt.Errorf("wal: cannot remove old segment %s", e.obsolete[0])
		}
		if err := e.fs.SyncDir(e.dir); err != nil {
			return err
		}
	}
	return nil
}

// create starts an empty engine: segment 1 with an empty checkpoint.
func (e *Engine) create() error {
	var id [8]byte
	if _, err := io.ReadFull(e.opts.Rand, id[:]); err != nil {
		return fmt.Errorf("wal: choosing an engine id: %w", err)
	}
	e.engineID = binary.LittleEndian.Uint64(id[:]) | 1
	e.nextSeq = 1
	ckpt, err := e.checkpoint(1)
	if err != nil {
		return err
	}
	s, err := e.createSegment(1, ckpt)
	if err != nil {
		return err
	}
	e.segs = []*segment{s}
	return e.writeIdentity()
}

// readHead reads the header and checkpoint of segment number, and adopts
// its engine id.
func (e *Engine) readHead(number uint64) (checkpointHead, error) {
	path := join(e.dir, segmentName(number))
	f, err := e.fs.Open(path)
	if err != nil {
		return checkpointHead{}, err
	}
	defer f.Close()
	head := make([]byte, segmentHeaderSize+frameHeaderSize)
	if _, err := f.ReadAt(head, 0); err != nil {
		return checkpointHead{}, corruptError(path, 0, "reading the header: %v", err)
	}
	h, err := decodeSegmentHeader(head)
	if err != nil {
		return checkpointHead{}, corruptError(path, 0, "%v", err)
	}
	if h.number != number {
		return checkpointHead{}, corruptError(path, 0, "header names segment %d", h.number)
	}
	e.engineID = h.engineID
	size, err := f.Size()
	if err != nil {
		return checkpointHead{}, err
	}
	n := binary.LittleEndian.Uint32(head[segmentHeaderSize+1:])
	if int64(n) > size-segmentHeaderSize-frameOverhead {
		return checkpointHead{}, corruptError(path, segmentHeaderSize, "checkpoint length %d in a file of %d bytes", n, size)
	}
	frame := make([]byte, frameOverhead+int(n))
	if _, err := f.ReadAt(frame, segmentHeaderSize); err != nil {
		return checkpointHead{}, corruptError(path, segmentHeaderSize, "reading the checkpoint: %v", err)
	}
	kind, payload, _, st := parseFrame(frame, 0, segmentHeaderSize, segmentSalt(h.engineID, number))
	if st != frameOK || kind != kindCheckpoint {
		return checkpointHead{}, corruptError(path, segmentHeaderSize, "no valid checkpoint")
	}
	ck, err := decodeCheckpointHead(payload)
	if err != nil {
		return checkpointHead{}, corruptError(path, segmentHeaderSize, "checkpoint: %v", err)
	}
	return ck, nil
}

// replaySegment checks and applies the frames of segment s, read through
// d. The first segment's checkpoint sets every group's state; later
// checkpoints must match the state replay has reached.
func (e *Engine) replaySegment(s *segment, d *segmentBytes, isFirst, isNewest bool, maxEntries uint64) error {
	path := join(e.dir, segmentName(s.number))
	head, err := d.at(0, segmentHeaderSize)
	if err != nil {
		return err
	}
	h, err := decodeSegmentHeader(head)
	switch {
	case err != nil:
		return corruptError(path, 0, "%v", err)
	case h.number != s.number:
		return corruptError(path, 0, "header names segment %d", h.number)
	case h.engineID != e.engineID:
		return corruptError(path, 0, "segment of another engine (id %#x, this engine is %#x)", h.engineID, e.engineID)
	}
	pos := int64(segmentHeaderSize)
	kind, payload, end, st, err := d.frame(pos, s.salt)
	if err != nil {
		return err
	}
	if st != frameOK || kind != kindCheckpoint {
		return corruptError(path, pos, "no valid checkpoint")
	}
	ck, err := decodeCheckpointHead(payload)
	if err != nil {
		return corruptError(path, pos, "checkpoint: %v", err)
	}
	if isFirst {
		e.nextSeq = ck.nextSeq
		err := decodeGroupStates(ck.groups, maxEntries, func(id uint64, m groupMeta) error {
			g := e.newGroup(id)
			g.meta = m
			g.pos = make([]entryPos, m.last+1-m.first)
			e.groups[id] = g
			return nil
		})
		if err != nil {
			return corruptError(path, pos, "checkpoint: %v", err)
		}
	} else {
		if ck.nextSeq != e.nextSeq {
			return corruptError(path, pos, "checkpoint starts at batch %d, but the segments before end at batch %d", ck.nextSeq, e.nextSeq-1)
		}
		if !bytes.Equal(appendGroupStates(nil, e.groups), ck.groups) {
			return corruptError(path, pos, "checkpoint disagrees with the state the segments before it give")
		}
	}
	s.firstSeq = ck.nextSeq
	pos = end
	s.dataStart = pos
	sealed := false
	for {
		if zero, err := d.zeroFrom(pos); err != nil {
			return err
		} else if zero {
			break // the end of the data, and space allocated for more
		}
		kind, payload, end, st, err := d.frame(pos, s.salt)
		if err != nil {
			return err
		}
		if st == frameOK {
			if sealed {
				return corruptError(path, pos, "a record follows the seal")
			}
			switch kind {
			case kindBatch:
				if err := e.replayBatch(s, payload, pos+frameHeaderSize, maxEntries); err != nil {
					return corruptError(path, pos, "%v", err)
				}
			case kindSeal:
				r := reader{b: payload}
				next, nextSeq := r.uvarint(), r.uvarint()
				if r.err != nil || r.pos != len(payload) || next != s.number+1 || nextSeq != e.nextSeq {
					return corruptError(path, pos, "bad seal (next segment %d, next batch %d)", next, nextSeq)
				}
				sealed = true
			default:
				return corruptError(path, pos, "a second checkpoint")
			}
			pos = end
			continue
		}
		// A damaged or incomplete frame. It can only be the one write that
		// was in flight at a crash, and only if nothing valid follows it
		// and its damage looks like lost sectors.
		rest, err := d.at(pos, int(d.size-pos))
		if err != nil {
			return err
		}
		if off, ok := findValidFrame(rest, pos, s.salt); ok {
			return corruptError(path, pos, "damaged record (a valid record follows at offset %d)", off)
		}
		if !tornEvidence(rest, pos, int(end-pos), st) {
			return corruptError(path, pos, "damaged record (checksum mismatch, and no part of it is missing: not a torn write)")
		}
		if isNewest {
			// Cut the torn bytes off and allocate the space again, so
			// that everything after the data reads as zeros.
			if err := s.file.Truncate(pos); err != nil {
				return err
			}
			if err := s.file.Allocate(d.size); err != nil {
				return err
			}
			if err := s.file.Sync(); err != nil {
				return err
			}
			e.stats.TruncatedTailBytes += int64(lastNonZero(rest))
		}
		break
	}
	s.size = pos
	if sealed && isNewest {
		return corruptError(path, pos, "segment is sealed but its successor %s is missing", segmentName(s.number+1))
	}
	if !sealed && !isNewest {
		s.unsealed = true
	}
	return nil
}

// sealUnsealed writes the seal a crash kept from reaching a segment that
// has a successor, replacing whatever torn bytes follow its last record.
// Without the seal, losing the successor later would go unnoticed.
func (e *Engine) sealUnsealed() error {
	for i, s := range e.segs {
		if !s.unsealed {
			continue
		}
		next := e.segs[i+1]
		if err := s.file.Truncate(s.size); err != nil {
			return err
		}
		seal := newFrame(binary.AppendUvarint(binary.AppendUvarint(nil, next.number), next.firstSeq))
		sealFrame(seal, kindSeal, s.salt, s.size)
		if err := e.appendSync(s, seal); err != nil {
			return err
		}
		s.unsealed = false
	}
	return nil
}

// findValidFrame returns the file offset of the first frame after the
// start of data, which begins at file offset base, that verifies.
func findValidFrame(data []byte, base int64, salt uint64) (int64, bool) {
	for off := 1; off+frameOverhead <= len(data); off++ {
		if !validKind(data[off]) {
			continue
		}
		if _, _, _, st := parseFrame(data, off, base, salt); st == frameOK {
			return base + int64(off), true
		}
	}
	return 0, false
}

// tornSectorBytes is the granularity at which a torn write loses data: a
// sector that did not reach the disk reads as zeros.
const tornSectorBytes = 512

// tornEvidence reports whether the bad frame at the start of data (file
// offset base), which parseFrame says ends at data[end], looks like a
// write that only partly reached the disk. A write cut short leaves zeros
// after the point where it stopped, and a sector that did not reach the
// disk reads as zeros; a frame never legitimately begins or ends with
// zeros (see record.go). So the frame is torn if:
//   - a verified header claims more bytes than the file has, or the file
//     ends inside the header;
//   - the header verifies, so the frame's extent is known, and its
//     trailer is zero or a sector-aligned part of it is all zeros;
//   - the header does not verify, and a sector-aligned part of it is all
//     zeros, or nothing but zeros follows it (the write stopped inside
//     the header). Zeros further on prove nothing: the space after the
//     data is allocated and reads as zeros anyway.
//
// A frame whose bytes are all there but do not verify was damaged after it
// was written.
func tornEvidence(data []byte, base int64, end int, st frameStatus) bool {
	switch st {
	case frameTruncated:
		return true
	case frameBadHeader:
		end = frameHeaderSize
		if allZero(data[end:]) {
			return true
		}
	case frameBadPayload:
		if data[end-1] == 0 {
			return true
		}
	}
	end = min(end, len(data))
	for lo := 0; lo < end; {
		hi := min(lo+tornSectorBytes-int((base+int64(lo))%tornSectorBytes), end)
		if allZero(data[lo:hi]) {
			return true
		}
		lo = hi
	}
	return false
}

// lastNonZero returns the length of b without its trailing zeros.
func lastNonZero(b []byte) int {
	for i := len(b) - 1; i >= 0; i-- {
		if b[i] != 0 {
			return i + 1
		}
	}
	return 0
}

func allZero(b []byte) bool {
	for len(b) >= 8 {
		if binary.LittleEndian.Uint64(b) != 0 {
			return false
		}
		b = b[8:]
	}
	for _, c := range b {
		if c != 0 {
			return false
		}
	}
	return true
}
