package host

import (
	"encoding/binary"
	"errors"
	"fmt"
	"sort"
)

// Exactly-once application. A host tags every command it proposes with its
// session (a random id per host incarnation), a sequence number and the
// lowest sequence number it still waits for (its floor). A command may be
// proposed again, with the same tag, after a leader change or a timeout;
// each replica applies the first copy and skips the others. The table of what
// each session applied is replicated state: every replica derives it from the
// log in the same way, and snapshots carry it.

// newSession derives a session ID from a random number and the host's
// incarnation (a durable count of its openings), so that two incarnations
// of a host never share a session even when their random sources are seeded
// alike. The mixing (splitmix64's finalizer) is a bijection, so distinct
// inputs collide only if the results differ in the lowest bit alone, which
// is then set: zero marks no session and is never returned.
func newSession(random, incarnation uint64) uint64 {
	x := random ^ incarnation*0x9e3779b97f4a7c15
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	x ^= x >> 31
	return x | 1
}

// envelopeMagic starts every command the host writes to the log, so that an
// entry that is not a host command (a leader's empty entry, a conf change) is
// never taken for one.
const envelopeMagic = 0x9f

// envelopeHeaderBytes is the size of the tag before the proposal's data.
const envelopeHeaderBytes = 1 + 8 + 8 + 8

// envelope is the tag of a command.
type envelope struct {
	session, seq, floor uint64
}

// encodeCommand returns data tagged with e.
func encodeCommand(e envelope, data []byte) []byte {
	b := make([]byte, envelopeHeaderBytes, envelopeHeaderBytes+len(data))
	b[0] = envelopeMagic
	binary.BigEndian.PutUint64(b[1:], e.session)
	binary.BigEndian.PutUint64(b[9:], e.seq)
	binary.BigEndian.PutUint64(b[17:], e.floor)
	return append(b, data...)
}

// errNotCommand reports an entry that is not a host command.
var errNotCommand = errors.New("host: entry is not a command")

// decodeCommand splits a log entry's data into its tag and the proposal.
func decodeCommand(b []byte) (envelope, []byte, error) {
	if len(b) < envelopeHeaderBytes || b[0] != envelopeMagic {
		return envelope{}, nil, errNotCommand
	}
	e := envelope{
		session: binary.BigEndian.Uint64(b[1:]),
		seq:     binary.BigEndian.Uint64(b[9:]),
		floor:   binary.BigEndian.Uint64(b[17:]),
	}
	if e.session == 0 || e.seq == 0 || e.seq < e.floor {
		return envelope{}, nil, fmt.Errorf("host: malformed command tag (session %x, seq %d, floor %d)", e.session, e.seq, e.floor)
	}
	return e, b[envelopeHeaderBytes:], nil
}

// maxSessions bounds the sessions (incarnations of proposing hosts) a group
// remembers. It is part of the replicated state machine — every replica
// must evict the same session at the same index — so it is a constant, not
// a setting that hosts could disagree on. A group's proposals come from the
// hosts of its replicas, a few incarnations each; the least recently used
// session, evicted when a new one starts, is one of a host long restarted.
const maxSessions = 4096

// sessionState is what one session has applied: every sequence number at or
// above its floor that was applied; everything below the floor is done.
type sessionState struct {
	floor   uint64
	applied map[uint64]struct{}
	// lastIndex is the log index of the session's latest command, for
	// evicting the least recently used session.
	lastIndex uint64
}

// sessions is a group's table. It is replicated state: only log order decides
// what it holds, so every replica holds the same.
type sessions struct {
	max   int
	table map[uint64]*sessionState
}

func newSessions(max int) *sessions {
	return &sessions{max: max, table: map[uint64]*sessionState{}}
}

// admit records that the command tagged e, at index, is being applied, and
// reports whether it is new (false: a copy of one already applied).
func (s *sessions) admit(e envelope, index uint64) bool {
	st := s.table[e.session]
	if st == nil {
		s.evictIfFull()
		st = &sessionState{applied: map[uint64]struct{}{}}
		s.table[e.session] = st
	}
	st.lastIndex = index
	if e.floor > st.floor {
		st.floor = e.floor
		for seq := range st.applied {
			if seq < st.floor {
				delete(st.applied, seq)
			}
		}
	}
	if e.seq < st.floor {
		return false
	}
	if _, done := st.applied[e.seq]; done {
		return false
	}
	st.applied[e.seq] = struct{}{}
	return true
}

// evictIfFull drops the least recently used session (ties: the lowest id)
// when the table is full. A session evicted while its host still re-proposes
// a command could see it applied twice; max is large enough that only
// sessions of hosts long gone are evicted.
func (s *sessions) evictIfFull() {
	if len(s.table) < s.max {
		return
	}
	var victim uint64
	var oldest uint64
	first := true
	for id, st := range s.table {
		if first || st.lastIndex < oldest || (st.lastIndex == oldest && id < victim) {
			victim, oldest, first = id, st.lastIndex, false
		}
	}
	delete(s.table, victim)
}

// marshal encodes the table deterministically: sessions by id, sequence
// numbers in order.
func (s *sessions) marshal() []byte {
	ids := make([]uint64, 0, len(s.table))
	for id := range s.table {
		ids = append(ids, id)
	}
	sort.Slice(ids, func(i, j int) bool { return ids[i] < ids[j] })
	b := binary.AppendUvarint(nil, uint64(len(ids)))
	for _, id := range ids {
		st := s.table[id]
		b = binary.BigEndian.AppendUint64(b, id)
		b = binary.AppendUvarint(b, st.floor)
		b = binary.AppendUvarint(b, st.lastIndex)
		seqs := make([]uint64, 0, len(st.applied))
		for seq := range st.applied {
			seqs = append(seqs, seq)
		}
		sort.Slice(seqs, func(i, j int) bool { return seqs[i] < seqs[j] })
		b = binary.AppendUvarint(b, uint64(len(seqs)))
		for _, seq := range seqs {
			b = binary.AppendUvarint(b, seq-st.floor)
		}
	}
	return b
}

// errBadSessions reports a session table that does not decode.
var errBadSessions = errors.New("host: corrupt session table in snapshot")

// unmarshalSessions decodes what marshal wrote.
func unmarshalSessions(b []byte, max int) (*sessions, error) {
	s := newSessions(max)
	n, k := binary.Uvarint(b)
	if k <= 0 || n > uint64(len(b)) {
		return nil, errBadSessions
	}
	b = b[k:]
	uvarint := func() (uint64, bool) {
		v, k := binary.Uvarint(b)
		if k <= 0 {
			return 0, false
		}
		b = b[k:]
		return v, true
	}
	for i := uint64(0); i < n; i++ {
		if len(b) < 8 {
			return nil, errBadSessions
		}
		id := binary.BigEndian.Uint64(b)
		b = b[8:]
		floor, ok1 := uvarint()
		last, ok2 := uvarint()
		count, ok3 := uvarint()
		if !ok1 || !ok2 || !ok3 || count > uint64(len(b)) {
			return nil, errBadSessions
		}
		st := &sessionState{floor: floor, lastIndex: last, applied: make(map[uint64]struct{}, count)}
		for j := uint64(0); j < count; j++ {
			d, ok := uvarint()
			if !ok {
				return nil, errBadSessions
			}
			st.applied[floor+d] = struct{}{}
		}
		s.table[id] = st
	}
	if len(b) != 0 {
		return nil, errBadSessions
	}
	return s, nil
}
