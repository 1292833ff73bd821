package wal

import (
	"encoding/binary"
	"fmt"
	"math"
	"sort"
)

// A checkpoint frame opens every segment. Its payload is
//
//	uvarint nextSeq      sequence number of the segment's first batch
//	uvarint firstNeeded  oldest segment holding an entry a group references
//	uvarint count, then per group, by increasing id:
//	  uvarint id, HardState term, vote, commit, first, firstTerm,
//	  last-(first-1), snapshot (appendSnapshot)
//
// Recovery starts from the checkpoint of the segment firstNeeded of the
// newest segment names, and checks every later checkpoint against the state
// it has rebuilt by then.

// checkpoint encodes the payload of a new segment's checkpoint. The caller
// holds the writer role, so the groups' metadata is the durable state.
func (e *Engine) checkpoint(firstNeeded uint64) ([]byte, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	buf := binary.AppendUvarint(nil, e.nextSeq)
	buf = binary.AppendUvarint(buf, firstNeeded)
	buf = appendGroupStates(buf, e.groups)
	if len(buf) > maxFramePayload {
		return nil, fmt.Errorf("the checkpoint of %d groups takes %d bytes, more than %d", len(e.groups), len(buf), maxFramePayload)
	}
	return buf, nil
}

// appendGroupStates appends the count and the metadata of the groups that
// are not empty, by increasing id.
func appendGroupStates(buf []byte, groups map[uint64]*group) []byte {
	ids := make([]uint64, 0, len(groups))
	for id, g := range groups {
		if !g.meta.isEmpty() {
			ids = append(ids, id)
		}
	}
	sort.Slice(ids, func(i, j int) bool { return ids[i] < ids[j] })
	buf = binary.AppendUvarint(buf, uint64(len(ids)))
	for _, id := range ids {
		m := &groups[id].meta
		buf = binary.AppendUvarint(buf, id)
		buf = binary.AppendUvarint(buf, m.hs.Term)
		buf = binary.AppendUvarint(buf, m.hs.Vote)
		buf = binary.AppendUvarint(buf, m.hs.Commit)
		buf = binary.AppendUvarint(buf, m.first)
		buf = binary.AppendUvarint(buf, m.firstTerm)
		buf = binary.AppendUvarint(buf, m.last-(m.first-1))
		buf = appendSnapshot(buf, &m.snap)
	}
	return buf
}

// checkpointHead is the start of a decoded checkpoint; groups holds the
// encoded group states that follow.
type checkpointHead struct {
	nextSeq     uint64
	firstNeeded uint64
	groups      []byte
}

func decodeCheckpointHead(payload []byte) (checkpointHead, error) {
	r := reader{b: payload}
	h := checkpointHead{nextSeq: r.uvarint(), firstNeeded: r.uvarint()}
	if r.err != nil {
		return h, r.err
	}
	h.groups = payload[r.pos:]
	return h, nil
}

// decodeGroupStates decodes what appendGroupStates wrote. maxEntries bounds
// the entries a group may claim (a checkpoint cannot describe more live
// entries than the segments could hold).
func decodeGroupStates(b []byte, maxEntries uint64, visit func(id uint64, m groupMeta) error) error {
	r := reader{b: b}
	n := r.uvarint()
	if r.err == nil && n > uint64(len(b)) {
		return fmt.Errorf("checkpoint claims %d groups in %d bytes", n, len(b))
	}
	prev := uint64(0)
	for i := uint64(0); i < n && r.err == nil; i++ {
		id := r.uvarint()
		var m groupMeta
		m.hs.Term, m.hs.Vote, m.hs.Commit = r.uvarint(), r.uvarint(), r.uvarint()
		m.first, m.firstTerm = r.uvarint(), r.uvarint()
		count := r.uvarint()
		m.snap = r.snapshot()
		if r.err != nil {
			break
		}
		switch {
		case i > 0 && id <= prev:
			return fmt.Errorf("checkpoint lists group %d after group %d", id, prev)
		case m.first == 0:
			return fmt.Errorf("group %d: first index 0", id)
		case count > maxEntries || m.first-1 > math.MaxUint64-count:
			return fmt.Errorf("group %d claims %d entries from %d, more than the segments can hold", id, count, m.first)
		case m.hs.Commit > m.first-1+count:
			return fmt.Errorf("group %d: commit %d is beyond the last index %d", id, m.hs.Commit, m.first-1+count)
		}
		m.last = m.first - 1 + count
		if m.isEmpty() {
			return fmt.Errorf("checkpoint lists group %d with no state", id)
		}
		if err := visit(id, m); err != nil {
			return err
		}
		prev = id
	}
	if r.err != nil {
		return r.err
	}
	if r.pos != len(b) {
		return fmt.Errorf("%d bytes after the last group", len(b)-r.pos)
	}
	return nil
}
