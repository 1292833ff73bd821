package wal

import (
	"fmt"

	pb "github.com/pontoon-raft/raft/raftpb"
)

// replayBatch decodes, checks and applies the ops of one batch frame whose
// payload starts at file offset payloadOff.
func (e *Engine) replayBatch(s *segment, payload []byte, payloadOff int64, maxEntries uint64) error {
	r := reader{b: payload}
	if seq := r.uvarint(); r.err == nil && seq != e.nextSeq {
		return fmt.Errorf("batch %d where batch %d was expected", seq, e.nextSeq)
	}
	var arena []entryPos
	for !r.done() {
		arena = arena[:0]
		o, ents, err := e.decodeOp(&r, uint32(s.number), payloadOff, arena)
		if err != nil {
			return err
		}
		arena = ents
		meta, pos := emptyMeta(), []entryPos(nil)
		if g := e.groups[o.group]; g != nil {
			meta, pos = g.meta, g.pos
		}
		if err := check(meta, pos, &o, ents, errInconsistent); err != nil {
			return fmt.Errorf("group %d: %v", o.group, err)
		}
		if o.flags&(opEntries|opRewrite) != 0 && uint64(len(pos))+uint64(len(ents)) > maxEntries {
			return fmt.Errorf("group %d holds more entries than the segments can", o.group)
		}
		e.applyOp(&o, ents, uint32(s.number))
	}
	if r.err != nil {
		return r.err
	}
	e.nextSeq++
	return nil
}

// decodeOp decodes one op (see encoding.go), appending its entries'
// positions to arena.
func (e *Engine) decodeOp(r *reader, seg uint32, payloadOff int64, arena []entryPos) (op, []entryPos, error) {
	o := op{group: r.uvarint()}
	flags := r.uvarint()
	if flags&^(opAll|hintAll) != 0 {
		r.fail(fmt.Errorf("op flags %#x", flags))
	}
	o.flags = uint16(flags & opAll)
	prev := emptyMeta()
	if g := e.groups[o.group]; g != nil {
		prev = g.meta
	}
	last := prev.last
	readEntries := func(first, count, runTerm uint64) {
		if r.err != nil {
			return
		}
		if count > uint64(len(r.b)-r.pos)/5 {
			r.fail(fmt.Errorf("%d entries cannot fit in %d bytes", count, len(r.b)-r.pos))
			return
		}
		o.first, o.entStart, o.entCount = first, len(arena), int(count)
		for k := uint64(0); k < count && r.err == nil; k++ {
			start, end, typ, dataLen, hasData, term := r.skipEntry(runTerm == 0)
			if runTerm != 0 {
				term = runTerm
			}
			if typ > pb.EntryConfChangeV2 {
				r.fail(fmt.Errorf("entry %d has type %d", first+k, typ))
			}
			arena = append(arena, entryPos{
				term: term, seg: seg, off: uint32(payloadOff) + uint32(start), size: uint32(end - start),
				pbSize: entryPBSize(term, first+k, typ, dataLen, hasData),
			})
		}
	}
	if o.flags&opSnapshot != 0 {
		o.snap = r.snapshot()
		last = o.snap.Metadata.Index
	}
	if o.flags&opEntries != 0 {
		first, count, runTerm := last+1, uint64(1), prev.hs.Term
		if flags&hintAppend == 0 {
			first += uint64(r.varint())
		}
		if flags&hintOneEntry == 0 {
			count = r.uvarint()
		}
		if flags&hintRunTerm == 0 {
			runTerm = r.uvarint()
		}
		readEntries(first, count, runTerm)
		last = first + count - 1
	}
	if o.flags&opHardState != 0 {
		o.hs.Term, o.hs.Vote = prev.hs.Term, prev.hs.Vote
		if flags&hintCommitOnly == 0 {
			o.hs.Term, o.hs.Vote = r.uvarint(), r.uvarint()
		}
		back := r.uvarint()
		if back > last {
			r.fail(fmt.Errorf("hard state commit is %d below last index %d", back, last))
		}
		o.hs.Commit = last - back
	}
	if o.flags&opLocalSnapshot != 0 {
		o.local = r.snapshot()
	}
	if o.flags&opCompact != 0 {
		o.compactIndex, o.compactTerm = r.uvarint(), r.uvarint()
	}
	if o.flags&opRewrite != 0 {
		first, count := r.uvarint(), r.uvarint()
		readEntries(first, count, 0)
	}
	if r.err != nil {
		return op{}, nil, r.err
	}
	return o, arena[o.entStart : o.entStart+o.entCount], nil
}
