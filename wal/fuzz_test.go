package wal

import (
	"bytes"
	"testing"

	pb "github.com/pontoon-raft/raft/raftpb"
)

// The fuzz targets below cover every decoder of disk input: entries, frame
// headers, segment headers, the ops of a batch (past the checksums that
// keep a fuzzer's mutations from reaching them), and recovery from a whole
// segment file of arbitrary bytes (FuzzRecovery, in fuzz_recovery_test.go).
// Their seed corpora are in
// testdata/fuzz/<name>/, made from files a real engine wrote.

// FuzzDecodeEntry: decoding never panics, and what decodes re-encodes to
// the same bytes.
func FuzzDecodeEntry(f *testing.F) {
	f.Fuzz(func(t *testing.T, b []byte, group, index, runTerm uint64) {
		e, err := decodeEntry(b, group, index, runTerm)
		if err != nil {
			return
		}
		again := appendEntry(nil, group, index, &e, false)
		if !bytes.Equal(again, b) {
			again = appendEntry(nil, group, index, &e, true)
		}
		if !bytes.Equal(again, b) {
			t.Fatalf("entry %+v decoded from %x re-encodes to %x", e, b, again)
		}
	})
}

// FuzzParseFrame: parsing never panics or reads out of bounds, and a frame
// that verifies is re-sealed to the same bytes.
func FuzzParseFrame(f *testing.F) {
	f.Fuzz(func(t *testing.T, b []byte, base int64, salt uint64) {
		kind, payload, end, st := parseFrame(b, 0, base, salt)
		if st != frameOK {
			return
		}
		frame := newFrame(payload)
		sealFrame(frame, kind, salt, base)
		if !bytes.Equal(frame, b[:end]) {
			t.Fatalf("frame %x re-seals to %x", b[:end], frame)
		}
	})
}

// FuzzSegmentHeader: decoding never panics; a valid header round-trips.
func FuzzSegmentHeader(f *testing.F) {
	f.Fuzz(func(t *testing.T, b []byte) {
		h, err := decodeSegmentHeader(b)
		if err != nil {
			return
		}
		if !bytes.Equal(h.encode(), b[:segmentHeaderSize]) {
			t.Fatalf("header %x re-encodes to %x", b[:segmentHeaderSize], h.encode())
		}
	})
}

// FuzzReplayBatch replays arbitrary batch payloads (as if their checksums
// had verified) on an engine holding two groups, and checks that replay
// either fails or leaves consistent state: every group's positions cover
// exactly its log, commits within it, and the segment's live byte count
// equal to what the groups reference.
func FuzzReplayBatch(f *testing.F) {
	f.Fuzz(func(t *testing.T, payload []byte) {
		e := &Engine{groups: map[uint64]*group{}, opts: Options{TailCacheEntries: 4, TailCacheBytes: 64}}
		s := &segment{number: 1, groups: map[uint64]struct{}{}}
		e.segs = []*segment{s}
		e.nextSeq = 1
		g := e.newGroup(5)
		g.meta = groupMeta{first: 3, firstTerm: 2, last: 4, hs: pb.HardState{Term: 2, Commit: 4}}
		g.pos = []entryPos{{term: 2, seg: 1, off: 100, size: 10, pbSize: 12}, {term: 2, seg: 1, off: 110, size: 10, pbSize: 12}}
		s.liveBytes, s.liveEntries = 20, 2
		e.groups[5] = g
		if err := e.replayBatch(s, payload, 200, 1<<20); err != nil {
			return
		}
		var live int64
		for id, g := range e.groups {
			m := g.meta
			if m.first == 0 || m.last+1 < m.first || uint64(len(g.pos)) != m.last+1-m.first {
				t.Fatalf("group %d: first %d last %d with %d positions", id, m.first, m.last, len(g.pos))
			}
			if m.hs.Commit > m.last {
				t.Fatalf("group %d: commit %d beyond last %d", id, m.hs.Commit, m.last)
			}
			for _, p := range g.pos {
				live += int64(p.size)
			}
		}
		if live != s.liveBytes {
			t.Fatalf("groups reference %d bytes, the segment counts %d", live, s.liveBytes)
		}
	})
}
