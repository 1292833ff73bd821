package wal_test

import (
	"bytes"
	"fmt"
	"math/rand/v2"

	"github.com/pontoon-raft/raft"
	pb "github.com/pontoon-raft/raft/raftpb"
	"github.com/pontoon-raft/raft/wal"
)

// groupModel is what a group's storage should show. Values are never
// modified in place, so copying a model (and a map of them) is cheap and
// safe.
type groupModel struct {
	hs        pb.HardState
	snap      pb.Snapshot
	first     uint64 // first retained index
	firstTerm uint64 // term at first-1
	ents      []pb.Entry
}

func emptyModel() groupModel { return groupModel{first: 1} }

func (m groupModel) last() uint64 { return m.first + uint64(len(m.ents)) - 1 }

func (m groupModel) term(i uint64) uint64 {
	if i == m.first-1 {
		return m.firstTerm
	}
	return m.ents[i-m.first].Term
}

// apply returns the model after u, which must be valid.
func (m groupModel) apply(u wal.Update) groupModel {
	if u.Remove {
		return emptyModel()
	}
	if !raft.IsEmptySnap(u.Snapshot) {
		m.snap = u.Snapshot
		m.first, m.firstTerm, m.ents = u.Snapshot.Metadata.Index+1, u.Snapshot.Metadata.Term, nil
	}
	if es := u.Entries; len(es) > 0 && es[len(es)-1].Index >= m.first {
		if es[0].Index < m.first {
			es = es[m.first-es[0].Index:]
		}
		kept := m.ents[:es[0].Index-m.first]
		m.ents = append(append(make([]pb.Entry, 0, len(kept)+len(es)), kept...), es...)
	}
	if !raft.IsEmptyHardState(u.HardState) {
		m.hs = u.HardState
	}
	if !raft.IsEmptySnap(u.LocalSnapshot) {
		m.snap = u.LocalSnapshot
	}
	if ci := u.CompactIndex; ci != 0 {
		m.firstTerm = m.term(ci)
		m.ents = append([]pb.Entry(nil), m.ents[ci+1-m.first:]...)
		m.first = ci + 1
	}
	return m
}

// diff compares s with m: every method, every term, the whole log and a
// few ranges under size limits.
func (m groupModel) diff(s raft.Storage, r *rand.Rand) error {
	hs, cs, err := s.InitialState()
	if err != nil {
		return fmt.Errorf("InitialState: %w", err)
	}
	if hs != m.hs || cs.Equivalent(m.snap.Metadata.ConfState) != nil {
		return fmt.Errorf("InitialState = %+v %+v, want %+v %+v", hs, cs, m.hs, m.snap.Metadata.ConfState)
	}
	snap, err := s.Snapshot()
	if err != nil {
		return fmt.Errorf("Snapshot: %w", err)
	}
	if snap.Metadata.Index != m.snap.Metadata.Index || snap.Metadata.Term != m.snap.Metadata.Term ||
		snap.Metadata.ConfState.Equivalent(m.snap.Metadata.ConfState) != nil || !bytes.Equal(snap.Data, m.snap.Data) {
		return fmt.Errorf("Snapshot = %+v, want %+v", snap.Metadata, m.snap.Metadata)
	}
	first, err1 := s.FirstIndex()
	last, err2 := s.LastIndex()
	if err1 != nil || err2 != nil || first != m.first || last != m.last() {
		return fmt.Errorf("first, last = %d, %d (%v, %v), want %d, %d", first, last, err1, err2, m.first, m.last())
	}
	for i := m.first - 1; i <= m.last(); i++ {
		if t, err := s.Term(i); err != nil || t != m.term(i) {
			return fmt.Errorf("Term(%d) = %d, %v; want %d", i, t, err, m.term(i))
		}
	}
	if len(m.ents) == 0 {
		return nil
	}
	check := func(lo, hi, maxSize uint64) error {
		got, err := s.Entries(lo, hi, maxSize)
		if err != nil {
			return fmt.Errorf("Entries(%d, %d, %d): %w", lo, hi, maxSize, err)
		}
		want := limitSize(m.ents[lo-m.first:hi-m.first], maxSize)
		if len(got) != len(want) {
			return fmt.Errorf("Entries(%d, %d, %d) gave %d entries, want %d", lo, hi, maxSize, len(got), len(want))
		}
		for j := range want {
			g, w := got[j], want[j]
			if g.Index != w.Index || g.Term != w.Term || g.Type != w.Type || !bytes.Equal(g.Data, w.Data) || (g.Data == nil) != (w.Data == nil) {
				return fmt.Errorf("Entries(%d, %d, %d)[%d] = %d/%d/%v %q, want %d/%d/%v %q", lo, hi, maxSize, j,
					g.Index, g.Term, g.Type, g.Data, w.Index, w.Term, w.Type, w.Data)
			}
		}
		return nil
	}
	if err := check(m.first, m.last()+1, 1<<62); err != nil {
		return err
	}
	for k := 0; k < 3; k++ {
		lo := m.first + uint64(r.IntN(len(m.ents)))
		hi := lo + uint64(r.IntN(int(m.last()-lo+2)))
		if err := check(lo, hi, uint64(r.IntN(600))); err != nil {
			return err
		}
	}
	return nil
}

func limitSize(ents []pb.Entry, maxSize uint64) []pb.Entry {
	if len(ents) == 0 {
		return ents
	}
	size := uint64(ents[0].Size())
	n := 1
	for ; n < len(ents); n++ {
		if size += uint64(ents[n].Size()); size > maxSize {
			break
		}
	}
	return ents[:n]
}

// genUpdate returns a random valid update for group id whose model is m.
// Most updates append entries (sometimes replacing a suffix) with a
// HardState; some install a snapshot, record one and compact, compact, or
// remove the group.
func genUpdate(r *rand.Rand, id uint64, m groupModel) wal.Update {
	u := wal.Update{Group: id}
	last := m.last()
	lastTerm := m.term(last)
	switch k := r.IntN(100); {
	case k < 3: // install a snapshot
		idx := m.snap.Metadata.Index + 1 + uint64(r.IntN(int(max(int64(last)+20-int64(m.snap.Metadata.Index), 1))))
		term := max(lastTerm, m.hs.Term) + uint64(r.IntN(2))
		u.Snapshot = pb.Snapshot{
			Metadata: pb.SnapshotMetadata{Index: idx, Term: max(term, 1), ConfState: pb.ConfState{Voters: []uint64{1, 2, uint64(3 + r.IntN(3))}}},
			Data:     randData(r, 40),
		}
		u.HardState = pb.HardState{Term: max(term, 1, m.hs.Term), Vote: m.hs.Vote, Commit: idx}
		return u
	case k < 11 && last >= m.first && last > m.snap.Metadata.Index: // record a snapshot, maybe compact
		lo := max(m.snap.Metadata.Index+1, m.first)
		idx := lo + uint64(r.IntN(int(last-lo+1)))
		u.LocalSnapshot = pb.Snapshot{
			Metadata: pb.SnapshotMetadata{Index: idx, Term: m.term(idx), ConfState: pb.ConfState{Voters: []uint64{1, 2, 3}, Learners: []uint64{uint64(4 + r.IntN(3))}}},
			Data:     randData(r, 40),
		}
		if r.IntN(10) < 7 && idx >= m.first {
			u.CompactIndex = m.first + uint64(r.IntN(int(idx-m.first+1)))
		}
		return u
	case k < 14 && m.snap.Metadata.Index >= m.first && last >= m.first: // compact only
		u.CompactIndex = m.first + uint64(r.IntN(int(min(m.snap.Metadata.Index, last)-m.first+1)))
		return u
	case k < 15:
		u.Remove = true
		return u
	}
	// Append, replacing a suffix now and then with a newer term.
	start, term := last+1, max(lastTerm, 1)
	if len(m.ents) > 0 && r.IntN(8) == 0 {
		start = m.first + uint64(r.IntN(len(m.ents)))
		term++
	}
	if r.IntN(20) == 0 && start > 2 {
		start -= uint64(r.IntN(int(min(start-1, 4)))) // reach below the compaction point at times
	}
	n := 1 + r.IntN(6)
	for i := 0; i < n; i++ {
		if r.IntN(10) == 0 {
			term++
		}
		e := pb.Entry{Index: start + uint64(i), Term: term, Type: pb.EntryType(r.IntN(3)), Data: randData(r, 300)}
		if start+uint64(i) < m.first {
			e.Term = m.firstTerm // entries raft would already have compacted
		}
		u.Entries = append(u.Entries, e)
	}
	newLast := start + uint64(n) - 1
	if newLast < m.first {
		newLast = last
	}
	hsTerm := max(m.hs.Term, term)
	u.HardState = pb.HardState{Term: hsTerm, Vote: uint64(r.IntN(4)), Commit: min(m.hs.Commit, newLast) + uint64(r.IntN(3))}
	u.HardState.Commit = min(u.HardState.Commit, newLast)
	return u
}

// randData returns nil, empty or random data of up to maxLen bytes.
func randData(r *rand.Rand, maxLen int) []byte {
	switch r.IntN(12) {
	case 0:
		return nil
	case 1:
		return []byte{}
	}
	b := make([]byte, 1+r.IntN(maxLen))
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}
