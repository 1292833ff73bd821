package wal

import (
	"encoding/binary"
	"sort"
)

// Segments are deleted oldest first, once no group references an entry in
// them. A lagging group (one that has not compacted for a long time) would
// pin every segment since its oldest entry, although those segments are
// otherwise dead. After each rotation the engine therefore looks at the
// oldest segments in order and copies their live entries forward into the
// new segment, as long as
//
//   - the segment's live entries take at most 1/8 of SegmentBytes: copying
//     them is cheap compared with the space freed, and
//   - the entries copied in this rotation stay within 1/4 of SegmentBytes,
//     which bounds the extra writing per rotation.
//
// It stops at the first segment that does not qualify, since a segment is
// only deleted once every older one is. The copied segments are deleted at
// the next rotation. So the rewriting costs at most 1/4 of a segment per
// segment written, and the space held by a few live entries stays bounded.
const (
	rewriteSegmentShare = 8 // a segment qualifies if its live bytes ≤ SegmentBytes/8
	rewriteBudgetShare  = 4 // at most SegmentBytes/4 copied per rotation
)

// rewriteOldSegments copies the live entries of the qualifying old segments
// into the active one, with one frame and one fsync, and applies the new
// positions. The caller holds the writer role and not e.mu.
func (e *Engine) rewriteOldSegments() error {
	budget := e.opts.SegmentBytes / rewriteBudgetShare
	chosen := map[uint32]bool{}
	var groupIDs map[uint64]struct{}
	for _, s := range e.segs[:len(e.segs)-1] {
		if s.liveEntries == 0 {
			continue
		}
		if s.liveBytes > e.opts.SegmentBytes/rewriteSegmentShare || s.liveBytes > budget {
			break
		}
		budget -= s.liveBytes
		chosen[uint32(s.number)] = true
		if groupIDs == nil {
			groupIDs = map[uint64]struct{}{}
		}
		for id := range s.groups {
			groupIDs[id] = struct{}{}
		}
	}
	if len(chosen) == 0 {
		return nil
	}
	ids := make([]uint64, 0, len(groupIDs))
	for id := range groupIDs {
		ids = append(ids, id)
	}
	sort.Slice(ids, func(i, j int) bool { return ids[i] < ids[j] })
	e.mu.Lock()
	groups := make([]*group, 0, len(ids))
	for _, id := range ids {
		if g := e.groups[id]; g != nil {
			groups = append(groups, g)
		}
	}
	e.mu.Unlock()

	b := newBatch(batchBufs{})
	for _, g := range groups {
		// Only the writer changes positions, and we hold that role; the
		// read lock orders us after any reader.
		g.mu.RLock()
		err := e.encodeRewrites(b, g, chosen)
		g.mu.RUnlock()
		if err != nil {
			// An entry that cannot be read stays where it is; the reader
			// that asks for it gets the error. The segment stays.
			return nil
		}
	}
	if len(b.ops) == 0 {
		return nil
	}
	act := e.active()
	frame := b.frame(e.nextSeq)
	off := act.size
	sealFrame(frame, kindBatch, act.salt, off)
	if err := e.appendSync(act, frame); err != nil {
		return err
	}
	b.seg, b.fileOff = uint32(act.number), off-int64(b.start)
	e.nextSeq++
	e.mu.Lock()
	e.applyBatch(b)
	e.mu.Unlock()
	for _, o := range b.ops {
		e.wstats.RewrittenEntries += uint64(o.entCount)
	}
	for _, p := range b.ents {
		e.wstats.RewrittenBytes += uint64(p.size)
	}
	return nil
}

// encodeRewrites appends to b one rewrite op per run of consecutive entries
// of g that lie in the chosen segments.
func (e *Engine) encodeRewrites(b *batch, g *group, chosen map[uint32]bool) error {
	first := g.meta.first
	for i := 0; i < len(g.pos); {
		if !chosen[g.pos[i].seg] {
			i++
			continue
		}
		j := i + 1
		for j < len(g.pos) && chosen[g.pos[j].seg] {
			j++
		}
		runFirst := first + uint64(i)
		ents, err := e.readEntries(g.id, runFirst, g.pos[i:j], nil)
		if err != nil {
			return err
		}
		o := op{group: g.id, flags: opRewrite, first: runFirst, entStart: len(b.ents), entCount: len(ents)}
		b.buf = binary.AppendUvarint(b.buf, g.id)
		b.buf = binary.AppendUvarint(b.buf, opRewrite)
		b.buf = binary.AppendUvarint(b.buf, runFirst)
		b.buf = binary.AppendUvarint(b.buf, uint64(len(ents)))
		for k := range ents {
			start := len(b.buf)
			b.buf = appendEntry(b.buf, g.id, ents[k].Index, &ents[k], true)
			b.ents = append(b.ents, entryPos{
				term: ents[k].Term, off: uint32(start), size: uint32(len(b.buf) - start), pbSize: g.pos[i+k].pbSize,
			})
		}
		b.ops = append(b.ops, o)
		i = j
	}
	return nil
}
