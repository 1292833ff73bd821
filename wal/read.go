package wal

import (
	"fmt"

	pb "github.com/pontoon-raft/raft/raftpb"
)

// readEntries reads from the segments the entries of group whose positions
// are pos (indexes first, first+1, ...), checking each one's checksum, and
// appends them to out. Entries that lie next to each other in a file are
// read with one call; their Data share one buffer. The caller holds the
// group's lock (for reading at least), which keeps the segments alive.
func (e *Engine) readEntries(group, first uint64, pos []entryPos, out []pb.Entry) ([]pb.Entry, error) {
	total := 0
	for _, p := range pos {
		total += int(p.size)
	}
	buf := make([]byte, total)
	t := e.table.Load()
	for i := 0; i < len(pos); {
		j := i + 1
		for j < len(pos) && pos[j].seg == pos[i].seg && pos[j].off == pos[j-1].off+pos[j-1].size {
			j++
		}
		n := int(pos[j-1].off + pos[j-1].size - pos[i].off)
		chunk := buf[:n:n]
		buf = buf[n:]
		f, ok := t.file(pos[i].seg)
		if !ok {
			if t == nil {
				return out, ErrClosed
			}
			panic(fmt.Sprintf("wal: group %d entry %d refers to segment %d, which is not open", group, first+uint64(i), pos[i].seg))
		}
		if _, err := f.ReadAt(chunk, int64(pos[i].off)); err != nil {
			return out, fmt.Errorf("wal: reading group %d entries [%d, %d] from %s at offset %d: %w",
				group, first+uint64(i), first+uint64(j-1), segmentName(uint64(pos[i].seg)), pos[i].off, err)
		}
		for k := i; k < j; k++ {
			p := pos[k]
			b := chunk[p.off-pos[i].off : p.off-pos[i].off+p.size]
			ent, err := decodeEntry(b, group, first+uint64(k), p.term)
			if err != nil {
				return out, fmt.Errorf("%w: group %d in %s at offset %d: %v", ErrCorrupt, group, segmentName(uint64(p.seg)), p.off, err)
			}
			out = append(out, ent)
		}
		i = j
	}
	return out, nil
}
