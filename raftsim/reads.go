package raftsim

import (
	"fmt"
	"slices"
	"strconv"

	"github.com/pontoon-raft/raft"
	pb "github.com/pontoon-raft/raft/raftpb"
)

// EventRead issued a ReadIndex request on Node (Faults.ReadIndexProb).
const EventRead EventKind = "read"

// clientOp is one operation in the history of the simulated clients: a
// write proposed on a node, or a read issued on a node with ReadIndex.
type clientOp struct {
	write bool
	// node and incarnation are where the operation was issued. A read is
	// answered only by the incarnation it was issued on.
	node        uint64
	incarnation int
	// key is written or read; value is the value written, or the value a
	// completed read returned.
	key, value string
	// call and ret are positions on the history's logical clock, which
	// ticks at every invocation and every completion; ret is 0 while the
	// operation is open. callEvent and retEvent are the event numbers.
	call, ret           int64
	callEvent, retEvent int
	// readIndex is the index a ReadState gave the read, once hasIndex.
	readIndex uint64
	hasIndex  bool
	// dropped is set on a write the node refused at once: it never
	// happened, and the history leaves it out.
	dropped bool
}

// clientHistory records what the simulated clients did and saw. Operations
// that never complete stay open: a write then may or may not have taken
// effect, and a read that was never answered constrains nothing.
//
// A write was committed before any replica applied it, and one no replica
// applied has been seen by no read, so it may as well take effect after the
// whole history; the check uses both facts (see porcupineOps), which keeps
// porcupine's search small.
type clientHistory struct {
	ops   []clientOp
	clock int64
	// openWrites maps the value of each open write to its operation.
	openWrites map[string]int
	// readCtx maps a read's request context to its operation.
	readCtx map[string]int
	// firstApplied maps every value written to the clock position at
	// which a replica first applied it.
	firstApplied map[string]int64
	// waiting lists open reads in issue order, and completed the reads
	// that completed, in completion order.
	waiting   []int
	completed []int
	// served counts completed reads.
	served int
	// unknown counts checks that ran out of time, and unknownKeys their
	// keys.
	unknown     int
	unknownKeys map[string]bool
}

func newClientHistory() *clientHistory {
	return &clientHistory{
		openWrites: map[string]int{}, readCtx: map[string]int{},
		firstApplied: map[string]int64{}, unknownKeys: map[string]bool{},
	}
}

func (h *clientHistory) tick() int64 {
	h.clock++
	return h.clock
}

// proposeWrite proposes a write of a random key on n, with the proposal
// sequence number as its unique value, and records its invocation.
func (s *Sim) proposeWrite(n *simNode) {
	h := s.clients
	key := s.rng.Intn(kvKeys)
	value := strconv.Itoa(s.proposalSeq)
	i := len(h.ops)
	h.ops = append(h.ops, clientOp{
		write: true, node: n.id, incarnation: n.incarnation,
		key: fmt.Sprintf("k%d", key), value: value, call: h.tick(), callEvent: s.res.Events + 1,
	})
	if s.propose(n, kvWriteData(key, value)) {
		h.openWrites[value] = i
	} else {
		h.ops[i].dropped = true
	}
}

// readRandom issues a ReadIndex request for a random key on a random live
// node, with a request context no other read uses.
func (s *Sim) readRandom() bool {
	n := s.pick(s.liveNodes(true))
	if n == nil {
		return false
	}
	h := s.clients
	s.beginEvent(EventRead, n.id)
	s.res.Faults[FaultReadIndex]++
	i := len(h.ops)
	ctx := "read-" + strconv.Itoa(i)
	h.ops = append(h.ops, clientOp{
		node: n.id, incarnation: n.incarnation, key: fmt.Sprintf("k%d", s.rng.Intn(kvKeys)),
		call: h.tick(), callEvent: s.ev.Num,
	})
	h.readCtx[ctx] = i
	h.waiting = append(h.waiting, i)
	n.node.ReadIndex([]byte(ctx))
	s.tracef("read %s on node %d (ctx %s)", h.ops[i].key, n.id, ctx)
	return true
}

// completeClientOps runs after n applied rd's snapshot and committed
// entries: writes n proposed and now applied complete, read states bind
// reads to their read index, and reads whose index n has applied return the
// value n's map holds.
func (s *Sim) completeClientOps(n *simNode, rd raft.Ready) {
	h := s.clients
	if h == nil || n.sm == nil {
		return
	}
	kv := n.sm.(*kvMachine)
	if !raft.IsEmptySnap(rd.Snapshot) {
		var covered []int
		for value, i := range h.openWrites {
			if h.ops[i].node == n.id && kv.written[value] {
				covered = append(covered, i)
			}
		}
		slices.Sort(covered) // map order is random; the history must not be
		for _, i := range covered {
			s.completeWrite(i, h.ops[i].value)
		}
	}
	for _, e := range rd.CommittedEntries {
		if e.Type != pb.EntryNormal {
			continue
		}
		if _, value, ok := parseKVWrite(e.Data); ok {
			if _, seen := h.firstApplied[value]; !seen {
				h.firstApplied[value] = h.tick()
			}
			if i, open := h.openWrites[value]; open && h.ops[i].node == n.id {
				s.completeWrite(i, value)
			}
		}
	}
	for _, rs := range rd.ReadStates {
		i, ok := h.readCtx[string(rs.RequestCtx)]
		if !ok {
			continue
		}
		op := &h.ops[i]
		if op.node == n.id && op.incarnation == n.incarnation && !op.hasIndex && op.ret == 0 {
			op.readIndex, op.hasIndex = rs.Index, true
			s.tracef("node %d: read %s (ctx %s) has read index %d", n.id, op.key, rs.RequestCtx, rs.Index)
		}
	}
	kept := h.waiting[:0]
	for _, i := range h.waiting {
		op := &h.ops[i]
		if op.node != n.id || op.incarnation != n.incarnation || !op.hasIndex || op.readIndex > n.applied {
			kept = append(kept, i)
			continue
		}
		op.value, op.ret, op.retEvent = kv.get(op.key), h.tick(), s.ev.Num
		h.served++
		h.completed = append(h.completed, i)
		s.tracef("node %d: read %s = %q at applied index %d (read index %d)", n.id, op.key, op.value, n.applied, op.readIndex)
	}
	h.waiting = kept
}

// completeWrite marks the open write i, of value, as completed now.
func (s *Sim) completeWrite(i int, value string) {
	h := s.clients
	op := &h.ops[i]
	op.ret, op.retEvent = h.tick(), s.ev.Num
	delete(h.openWrites, value)
}
