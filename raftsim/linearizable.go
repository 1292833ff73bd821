package raftsim

import (
	"fmt"
	"strings"
	"time"

	"github.com/anishathalye/porcupine"
)

// InvLinearizableReads: the history of the simulated clients' writes and
// ReadIndex reads is linearizable against a key-value register per key
// (thesis §6.4), in runs with Faults.ReadIndexProb > 0. It is checked with
// porcupine whenever a read completes, on the history of its key so far.
const InvLinearizableReads = "linearizable-reads"

// DefaultLinearizabilityTimeout bounds each check of a key's history when
// Options.LinearizabilityTimeout is zero.
const DefaultLinearizabilityTimeout = time.Second

// maxDescribedOps bounds the operations a violation lists.
const maxDescribedOps = 40

// linearizableReads checks the history of a key each time a read of it
// completes. A prefix of a linearizable history is linearizable too, when
// its open writes may still take effect and its unanswered reads are left
// out, so a violation is reported at the event of the first read that
// cannot be explained. Conversely, once the last read's prefix passes, the
// whole history does: what follows it are writes, which no read observes
// and which can take effect after everything else, so there is no check at
// the end.
type linearizableReads struct {
	// checked counts the completed reads already checked.
	checked int
}

func (*linearizableReads) Name() string { return InvLinearizableReads }

func (l *linearizableReads) Check(v *View) error {
	h := v.s.clients
	if h == nil {
		return nil
	}
	timeout := v.s.opts.LinearizabilityTimeout
	for ; l.checked < len(h.completed); l.checked++ {
		read := h.ops[h.completed[l.checked]]
		if err := h.checkKey(read.key, timeout); err != nil {
			return fmt.Errorf("%s: %w", read, err)
		}
	}
	return nil
}

// checkKey runs porcupine on the operations on key (a key's operations do
// not constrain another's) within timeout. A check that runs out of time
// counts in unknown and passes, and the key is not checked again: its later
// histories contain this one.
func (h *clientHistory) checkKey(key string, timeout time.Duration) error {
	if h.unknownKeys[key] {
		return nil
	}
	ops := h.porcupineOps(key)
	switch porcupine.CheckOperationsTimeout(kvModel, ops, timeout) {
	case porcupine.Illegal:
		return fmt.Errorf("the %d operations on key %s are not linearizable:\n%s", len(ops), key, h.describe(key))
	case porcupine.Unknown:
		h.unknown++
		h.unknownKeys[key] = true
	}
	return nil
}

// porcupineOps converts key's operations. A read keeps its interval; an
// open read constrains nothing and is left out. A write took effect when it
// was committed, before the first apply on any replica, which therefore
// serves as its return: no later than its proposer's apply, and often much
// earlier, which keeps the intervals short and porcupine's search small. A
// write no replica applied was seen by no read and is left out, as if it
// took effect after everything else, as is a write the node refused.
func (h *clientHistory) porcupineOps(key string) []porcupine.Operation {
	var ops []porcupine.Operation
	for _, op := range h.ops {
		if op.key != key || op.dropped || (!op.write && op.ret == 0) {
			continue
		}
		ret := op.ret
		if op.write {
			applied, ok := h.firstApplied[op.value]
			if !ok {
				continue
			}
			ret = applied
		}
		var out interface{} = op.value
		if op.write {
			out = nil
		}
		ops = append(ops, porcupine.Operation{
			ClientId: int(op.node), Input: kvInput{write: op.write, key: op.key, value: op.value},
			Call: op.call, Output: out, Return: ret,
		})
	}
	return ops
}

// describe lists the operations on key that the check saw, in call order,
// one per line, with the events that invoked and completed them.
func (h *clientHistory) describe(key string) string {
	var lines []string
	for _, op := range h.ops {
		if op.key != key || op.dropped || (!op.write && op.ret == 0) {
			continue
		}
		if len(lines) == maxDescribedOps {
			lines = append(lines, "  ...")
			break
		}
		lines = append(lines, "  "+op.String())
	}
	return strings.Join(lines, "\n")
}

// String renders the operation for a violation report.
func (op clientOp) String() string {
	done := "never completed"
	if op.ret != 0 {
		done = fmt.Sprintf("completed at event %d", op.retEvent)
	}
	if op.write {
		return fmt.Sprintf("put(%s, %s) on node %d: invoked at event %d, %s", op.key, op.value, op.node, op.callEvent, done)
	}
	return fmt.Sprintf("get(%s) -> %q on node %d (read index %d): invoked at event %d, %s",
		op.key, op.value, op.node, op.readIndex, op.callEvent, done)
}
