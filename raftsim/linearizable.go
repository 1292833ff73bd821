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
// porcupine whenever a read completes, on the history of its key so far,
// and at EventFinish on the whole history.
const InvLinearizableReads = "linearizable-reads"

// DefaultLinearizabilityTimeout bounds the check of one run's history when
// Options.LinearizabilityTimeout is zero.
const DefaultLinearizabilityTimeout = 10 * time.Second

// maxDescribedOps bounds the operations a violation lists.
const maxDescribedOps = 40

// linearizableReads checks the history of a key each time a read of it
// completes. A prefix of a linearizable history is linearizable too, when
// its open writes may still take effect and its unanswered reads are left
// out, so a violation is reported at the event of the first read that
// cannot be explained.
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
	if v.Event().Kind == EventFinish {
		return h.check(timeout)
	}
	for ; l.checked < len(h.completed); l.checked++ {
		read := h.ops[h.completed[l.checked]]
		if err := h.checkKey(read.key, timeout); err != nil {
			return fmt.Errorf("%s: %w", read, err)
		}
	}
	return nil
}

// check runs porcupine on the whole history, one key at a time (a key's
// operations do not constrain another's).
func (h *clientHistory) check(timeout time.Duration) error {
	for _, key := range h.keys() {
		if err := h.checkKey(key, timeout); err != nil {
			return err
		}
	}
	return nil
}

// checkKey runs porcupine on the operations on key within timeout. A check
// that times out counts in unknown and is not reported.
func (h *clientHistory) checkKey(key string, timeout time.Duration) error {
	ops := h.porcupineOps(key)
	switch porcupine.CheckOperationsTimeout(kvModel, ops, timeout) {
	case porcupine.Illegal:
		return fmt.Errorf("the %d operations on key %s are not linearizable:\n%s", len(ops), key, h.describe(key))
	case porcupine.Unknown:
		h.unknown++
	}
	return nil
}

// keys returns the keys the history touches, in order.
func (h *clientHistory) keys() []string {
	seen := map[string]bool{}
	for _, op := range h.ops {
		seen[op.key] = true
	}
	return sortedKeys(seen)
}

// porcupineOps converts key's operations. Completed operations keep their
// interval. An open write that a replica applied took effect before the
// first such apply, which serves as its return; an open write no replica
// applied was seen by no read and is left out, as if it took effect after
// everything else. An open read constrains nothing and is left out, as is a
// write the node refused.
func (h *clientHistory) porcupineOps(key string) []porcupine.Operation {
	var ops []porcupine.Operation
	for _, op := range h.ops {
		if op.key != key || op.dropped || (!op.write && op.ret == 0) {
			continue
		}
		ret := op.ret
		if ret == 0 {
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
