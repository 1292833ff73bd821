package wal

import (
	"encoding/binary"
	"fmt"
	"strconv"
	"strings"
)

// Segment files are named by their number in 16 hex digits, so that
// names sort like numbers. A segment being created carries a ".tmp" suffix
// until it is complete and durable.
const (
	segmentSuffix = ".wal"
	tmpSuffix     = ".tmp"
	lockName      = "LOCK"
)

func segmentName(number uint64) string { return fmt.Sprintf("%016x%s", number, segmentSuffix) }

// parseSegmentName returns the number of a segment file name.
func parseSegmentName(name string) (uint64, bool) {
	hex, ok := strings.CutSuffix(name, segmentSuffix)
	if !ok || len(hex) != 16 {
		return 0, false
	}
	n, err := strconv.ParseUint(hex, 16, 64)
	return n, err == nil && n > 0
}

func (e *Engine) active() *segment { return e.segs[len(e.segs)-1] }

// writeBatch writes b as one frame and fsyncs it, starting a new segment
// first if the current one is full. The caller holds the writer role and
// not e.mu.
func (e *Engine) writeBatch(b *batch) error {
	frameLen := int64(len(b.buf) + 1 - b.startFor(e.nextSeq))
	act := e.active()
	if act.size+frameLen > e.opts.SegmentBytes && act.size > act.dataStart {
		if err := e.rotate(); err != nil {
			return err
		}
		act = e.active()
	}
	frame := b.frame(e.nextSeq)
	off := act.size
	sealFrame(frame, kindBatch, act.salt, off)
	if err := e.appendSync(act, frame); err != nil {
		return err
	}
	b.seg = uint32(act.number)
	b.fileOff = off - int64(b.start)
	e.nextSeq++
	return nil
}

// startFor is where frame(seq) will put the frame in b.buf.
func (b *batch) startFor(seq uint64) int {
	var tmp [binary.MaxVarintLen64]byte
	return frameReserve - frameHeaderSize - binary.PutUvarint(tmp[:], seq)
}

// appendSync writes one frame at the end of s's data and makes it durable.
// Every frame gets its own fsync: recovery relies on at most one frame
// being unsynced at any time (see replaySegment).
func (e *Engine) appendSync(s *segment, frame []byte) error {
	n, err := s.file.WriteAt(frame, s.size)
	e.wstats.BytesWritten += uint64(n)
	if err != nil {
		return fmt.Errorf("writing %s at offset %d: %w", segmentName(s.number), s.size, err)
	}
	e.wstats.Syncs++
	if err := s.file.Sync(); err != nil {
		return fmt.Errorf("syncing %s: %w", segmentName(s.number), err)
	}
	e.wstats.Writes++
	s.size += int64(len(frame))
	return nil
}

// firstNeeded returns the oldest segment holding an entry some group still
// references, or the number the next segment will get if there is none.
func (e *Engine) firstNeeded() uint64 {
	for _, s := range e.segs {
		if s.liveEntries > 0 {
			return s.number
		}
	}
	return e.active().number + 1
}

// rotate starts the next segment: it writes the new file (header and a
// checkpoint of every group's metadata) under a temporary name, syncs it,
// renames it into place and syncs the directory, then seals the old
// segment. Segments older than any live entry are deleted, and the live
// entries of old, mostly dead segments are copied forward so that the next
// rotation can delete those too.
func (e *Engine) rotate() error {
	old := e.active()
	number := old.number + 1
	first := e.firstNeeded()
	ckpt, err := e.checkpoint(first)
	if err != nil {
		return err
	}
	s, err := e.createSegment(number, ckpt)
	if err != nil {
		return err
	}
	seal := newFrame(binary.AppendUvarint(binary.AppendUvarint(nil, number), e.nextSeq))
	sealFrame(seal, kindSeal, old.salt, old.size)
	if err := e.appendSync(old, seal); err != nil {
		s.file.Close()
		return err
	}
	e.segs = append(e.segs, s)
	e.wstats.Rotations++
	e.dropSegmentsBefore(first)
	e.publishTable()
	return e.rewriteOldSegments()
}

// createSegment creates segment number with the given checkpoint payload
// and makes it durable under its final name.
func (e *Engine) createSegment(number uint64, ckpt []byte) (*segment, error) {
	name := join(e.dir, segmentName(number))
	tmp := name + tmpSuffix
	f, err := e.fs.Create(tmp)
	if err != nil {
		return nil, err
	}
	salt := segmentSalt(e.engineID, number)
	buf := append(segmentHeader{engineID: e.engineID, number: number}.encode(), newFrame(ckpt)...)
	sealFrame(buf[segmentHeaderSize:], kindCheckpoint, salt, segmentHeaderSize)
	fail := func(err error) (*segment, error) {
		f.Close()
		_ = e.fs.Remove(tmp)
		return nil, err
	}
	n, err := f.WriteAt(buf, 0)
	e.wstats.BytesWritten += uint64(n)
	if err != nil {
		return fail(fmt.Errorf("writing %s: %w", tmp, err))
	}
	if err := f.Allocate(e.opts.SegmentBytes); err != nil {
		return fail(fmt.Errorf("allocating %s: %w", tmp, err))
	}
	e.wstats.Syncs += 2
	if err := f.Sync(); err != nil {
		return fail(fmt.Errorf("syncing %s: %w", tmp, err))
	}
	if err := e.fs.Rename(tmp, name); err != nil {
		return fail(err)
	}
	if err := e.fs.SyncDir(e.dir); err != nil {
		f.Close()
		return nil, fmt.Errorf("syncing directory %s: %w", e.dir, err)
	}
	size := int64(len(buf))
	return &segment{number: number, file: f, salt: salt, size: size, dataStart: size, firstSeq: e.nextSeq, groups: map[uint64]struct{}{}}, nil
}

// dropSegmentsBefore closes and deletes the segments older than first. Their
// removal need not be durable: recovery deletes leftovers below the first
// segment the newest checkpoint needs.
func (e *Engine) dropSegmentsBefore(first uint64) {
	n := 0
	for n < len(e.segs)-1 && e.segs[n].number < first {
		n++
	}
	if n == 0 {
		return
	}
	gone := e.segs[:n]
	e.segs = append([]*segment(nil), e.segs[n:]...)
	e.publishTable()
	for _, s := range gone {
		s.file.Close()
		e.obsolete = append(e.obsolete, join(e.dir, segmentName(s.number)))
		e.wstats.SegmentsRemoved++
	}
	e.removeObsolete()
}

// removeObsolete deletes the files of dropped segments. A file whose
// removal fails is tried again at the next rotation; recovery would delete
// it as well.
func (e *Engine) removeObsolete() {
	var failed []string
	for _, name := range e.obsolete {
		if err := e.fs.Remove(name); err != nil && !isNotExist(err) {
			failed = append(failed, name)
		}
	}
	e.obsolete = failed
}
