package raftsim

import (
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/anishathalye/porcupine"

	"github.com/pontoon-raft/raft"
	"github.com/pontoon-raft/raft/host"
)

// hostKV is every replica's state machine in RunHosts: the simulator's
// key-value store (or the user's state machine, wrapped), reporting every
// command it applies to the checker.
type hostKV struct {
	c           *hostChecker
	host, group uint64
	inner       host.StateMachine
	values      map[string]string
	// applied is the index of the last command applied.
	applied uint64
}

func newHostKV(c *hostChecker, hostID, group uint64, inner host.StateMachine) *hostKV {
	return &hostKV{c: c, host: hostID, group: group, inner: inner, values: map[string]string{}}
}

func (kv *hostKV) Apply(cmds []host.Command) error {
	for i := range cmds {
		kv.c.applied(kv, cmds[i].Index, cmds[i].Data)
		k, v, ok := strings.Cut(string(cmds[i].Data), "=")
		if !ok {
			return fmt.Errorf("raftsim: bad command %q", cmds[i].Data)
		}
		cmds[i].Result = []byte(kv.values[k])
		kv.values[k] = v
		kv.applied = cmds[i].Index
	}
	if kv.inner != nil {
		return kv.inner.Apply(cmds)
	}
	return nil
}

// PrepareSnapshot encodes the store (then the inner state machine's).
func (kv *hostKV) PrepareSnapshot() (host.Snapshot, error) {
	var b []byte
	b = appendUvarint(b, kv.applied)
	keys := sortedKeys(kv.values)
	b = appendUvarint(b, uint64(len(keys)))
	for _, k := range keys {
		b = appendBytes(b, []byte(k))
		b = appendBytes(b, []byte(kv.values[k]))
	}
	snap := &kvSnapshot{data: b}
	if kv.inner != nil {
		inner, err := kv.inner.PrepareSnapshot()
		if err != nil {
			return nil, err
		}
		snap.inner = inner
	}
	return snap, nil
}

func (kv *hostKV) Restore(r io.Reader) error {
	br := &streamReader{r: r}
	applied := br.uvarint()
	n := br.uvarint()
	values := map[string]string{}
	for i := uint64(0); i < n && br.err == nil; i++ {
		k := br.bytes()
		values[string(k)] = string(br.bytes())
	}
	if br.err != nil {
		return fmt.Errorf("raftsim: restoring the key-value store: %w", br.err)
	}
	kv.values, kv.applied = values, applied
	kv.c.restored(kv)
	if kv.inner != nil {
		return kv.inner.Restore(r)
	}
	return nil
}

func (kv *hostKV) Close() error {
	if kv.inner != nil {
		return kv.inner.Close()
	}
	return nil
}

// kvSnapshot is the store's encoding, then the inner state machine's.
type kvSnapshot struct {
	data  []byte
	inner host.Snapshot
}

func (s *kvSnapshot) WriteTo(w io.Writer) (int64, error) {
	n, err := w.Write(s.data)
	if err != nil || s.inner == nil {
		return int64(n), err
	}
	m, err := s.inner.WriteTo(w)
	return int64(n) + m, err
}

func (s *kvSnapshot) Close() error {
	if s.inner != nil {
		return s.inner.Close()
	}
	return nil
}

// streamReader decodes uvarints and length-prefixed bytes from a stream,
// reading exactly what they take.
type streamReader struct {
	r   io.Reader
	err error
}

func (s *streamReader) uvarint() uint64 {
	var v uint64
	var shift uint
	for s.err == nil {
		var b [1]byte
		if _, s.err = io.ReadFull(s.r, b[:]); s.err != nil {
			return 0
		}
		v |= uint64(b[0]&0x7f) << shift
		if b[0] < 0x80 {
			return v
		}
		if shift += 7; shift > 63 {
			s.err = fmt.Errorf("uvarint overflows")
		}
	}
	return 0
}

func (s *streamReader) bytes() []byte {
	n := s.uvarint()
	if s.err != nil {
		return nil
	}
	if n > 1<<20 {
		s.err = fmt.Errorf("a field of %d bytes", n)
		return nil
	}
	b := make([]byte, n)
	_, s.err = io.ReadFull(s.r, b)
	return b
}

func appendUvarint(b []byte, v uint64) []byte {
	for v >= 0x80 {
		b = append(b, byte(v)|0x80)
		v >>= 7
	}
	return append(b, byte(v))
}

// hostOp is a client operation of RunHosts.
type hostOp struct {
	write       bool
	host        uint64
	group       uint64
	key, value  string
	call, ret   int64
	write_      *clientWrite
	read        *host.Request
	readHost    *hostNode
	incarnation int
}

// hostChecker holds what the invariants of RunHosts need.
type hostChecker struct {
	s *hostSim
	// leaders[group][term] is the host that led group in term.
	leaders map[uint64]map[uint64]uint64
	// log[group][index] is the command first applied at index.
	log map[uint64]map[uint64]string
	// firstApplied[value] is the clock at which a write was first applied.
	firstApplied map[string]int64
	ops          []*hostOp
	clock        int64
	// open holds the operations not completed yet.
	open    []*hostOp
	unknown map[string]bool
}

func newHostChecker(s *hostSim) *hostChecker {
	return &hostChecker{s: s, leaders: map[uint64]map[uint64]uint64{}, log: map[uint64]map[uint64]string{},
		firstApplied: map[string]int64{}, unknown: map[string]bool{}}
}

func (c *hostChecker) tick() int64 { c.clock++; return c.clock }

// applied checks state-machine safety as each replica applies a command:
// at each index every replica applies the same command.
func (c *hostChecker) applied(kv *hostKV, index uint64, data []byte) {
	log := c.log[kv.group]
	if log == nil {
		log = map[uint64]string{}
		c.log[kv.group] = log
	}
	if prev, ok := log[index]; ok && prev != string(data) {
		c.s.violation(InvStateMachineSafety, fmt.Errorf("group %d: host %d applied %q at index %d, another replica %q",
			kv.group, kv.host, data, index, prev))
	}
	log[index] = string(data)
	if _, v, ok := strings.Cut(string(data), "="); ok {
		if _, seen := c.firstApplied[v]; !seen {
			c.firstApplied[v] = c.tick()
		}
	}
}

// restored checks a restored store against the log: every key's value is
// the last write to it at or below the snapshot's index.
func (c *hostChecker) restored(kv *hostKV) {
	want := map[string]string{}
	log := c.log[kv.group]
	for i := uint64(1); i <= kv.applied; i++ {
		if cmd, ok := log[i]; ok {
			k, v, _ := strings.Cut(cmd, "=")
			want[k] = v
		}
	}
	for k, v := range kv.values {
		if want[k] != v {
			c.s.violation(InvStateMachineSafety, fmt.Errorf("group %d: host %d restored %s=%s from a snapshot at %d, the log says %q",
				kv.group, kv.host, k, v, kv.applied, want[k]))
		}
	}
}

func (c *hostChecker) invokeWrite(n *hostNode, group uint64, key, value string, w *clientWrite) int {
	op := &hostOp{write: true, host: n.id, group: group, key: key, value: value, call: c.tick(), write_: w, incarnation: n.incarnation}
	c.ops = append(c.ops, op)
	c.open = append(c.open, op)
	return len(c.ops) - 1
}

func (c *hostChecker) invokeRead(n *hostNode, group uint64, key string, r *host.Request) {
	op := &hostOp{host: n.id, group: group, key: key, call: c.tick(), read: r, readHost: n, incarnation: n.incarnation}
	c.ops = append(c.ops, op)
	c.open = append(c.open, op)
}

// observe completes the operations whose requests completed, and checks
// election safety.
func (c *hostChecker) observe() {
	kept := c.open[:0]
	for _, op := range c.open {
		req := op.read
		if op.write {
			req = op.write_.req
		}
		select {
		case <-req.Done():
		default:
			kept = append(kept, op)
			continue
		}
		_, err := req.Result()
		if op.write {
			op.write_.done, op.write_.err = true, err
			if err == nil {
				op.ret = c.tick()
				c.s.res.WritesAcked++
			}
			continue
		}
		n := op.readHost
		if err != nil || n.h == nil || n.incarnation != op.incarnation {
			continue
		}
		op.value, op.ret = n.sms[op.group].values[op.key], c.tick()
		c.s.res.ReadsServed++
		c.checkKey(op.group, op.key)
	}
	clear(c.open[len(kept):])
	c.open = kept
	for _, n := range c.s.liveNodes() {
		for _, g := range n.h.Groups() {
			st, err := n.h.Status(g)
			if err != nil || st.Role != raft.StateLeader {
				continue
			}
			terms := c.leaders[g]
			if terms == nil {
				terms = map[uint64]uint64{}
				c.leaders[g] = terms
			}
			if prev, ok := terms[st.Term]; ok && prev != n.id {
				c.s.violation(InvElectionSafety, fmt.Errorf("group %d: term %d has two leaders, hosts %d and %d", g, st.Term, prev, n.id))
			}
			terms[st.Term] = n.id
		}
	}
}

// checkKey checks that the history of one key of a group is linearizable.
func (c *hostChecker) checkKey(group uint64, key string) {
	name := fmt.Sprintf("%d/%s", group, key)
	if c.unknown[name] {
		return
	}
	var ops []porcupine.Operation
	var lines []string
	for _, op := range c.ops {
		if op.group != group || op.key != key || (!op.write && op.ret == 0) {
			continue
		}
		ret := op.ret
		if op.write {
			applied, ok := c.firstApplied[op.value]
			if !ok {
				continue // never applied anywhere: no read can have seen it
			}
			if ret == 0 || applied < ret {
				ret = applied
			}
		}
		var out interface{} = op.value
		if op.write {
			out = nil
		}
		ops = append(ops, porcupine.Operation{ClientId: int(op.host), Input: kvInput{write: op.write, key: op.key, value: op.value},
			Call: op.call, Output: out, Return: ret})
		if len(lines) < maxDescribedOps {
			kind := "get"
			if op.write {
				kind = "put"
			}
			lines = append(lines, fmt.Sprintf("  %s(%s)=%q on host %d [%d, %d]", kind, op.key, op.value, op.host, op.call, ret))
		}
	}
	switch porcupine.CheckOperationsTimeout(kvModel, ops, DefaultLinearizabilityTimeout) {
	case porcupine.Illegal:
		c.s.violation(InvLinearizableReads, fmt.Errorf("group %d: the %d operations on key %s are not linearizable:\n%s",
			group, len(ops), key, strings.Join(lines, "\n")))
	case porcupine.Unknown:
		c.unknown[name] = true
		c.s.res.LinearizabilityUnknown++
	}
}

// allApplied reports whether every probe write is done and applied by
// every running replica in its group's configuration.
func (c *hostChecker) allApplied(probes map[uint64]*clientWrite) bool {
	for g := uint64(1); g <= uint64(c.s.o.Groups); g++ {
		w := probes[g]
		if w == nil || !w.done || w.err != nil {
			return false
		}
		l := c.s.leaderOf(g)
		if l == nil {
			return false
		}
		st, _ := l.h.Status(g)
		// A new leader may not know the commit index yet: wait for every
		// replica to reach what any replica ever applied, too.
		want := max(st.Commit, c.highestApplied(g))
		for _, id := range configMembers(st.Config) {
			n := c.s.node(id)
			if n.h == nil || n.sms[g] == nil || n.sms[g].values[c.ops[w.op].key] == "" {
				return false
			}
			if hs, err := n.h.Status(g); err != nil || hs.Applied < want {
				return false
			}
		}
	}
	return true
}

// highestApplied returns the highest index at which any replica of group
// applied a command.
func (c *hostChecker) highestApplied(group uint64) uint64 {
	var top uint64
	for index := range c.log[group] {
		top = max(top, index)
	}
	return top
}

// finish checks that every acknowledged write is held by every replica in
// its group's configuration (run once the cluster recovered).
func (c *hostChecker) finish() {
	if c.s.o.SkipLiveness {
		return
	}
	for _, op := range c.ops {
		if !op.write || op.ret == 0 {
			continue
		}
		var index uint64
		for i, cmd := range c.log[op.group] {
			if cmd == op.key+"="+op.value {
				index = i
			}
		}
		if index == 0 {
			c.s.violation(InvNothingLost, fmt.Errorf("%w: group %d: %s=%s was acknowledged on host %d and applied nowhere",
				errWriteLost, op.group, op.key, op.value, op.host))
		}
		l := c.s.leaderOf(op.group)
		if l == nil {
			continue
		}
		st, _ := l.h.Status(op.group)
		for _, id := range configMembers(st.Config) {
			n := c.s.node(id)
			if n.h == nil {
				continue
			}
			if hs, err := n.h.Status(op.group); err == nil && hs.Applied < index {
				c.s.violation(InvNothingLost, fmt.Errorf("%w: group %d: host %d applied up to %d, below the acknowledged write %s=%s at %d",
					errWriteLost, op.group, id, hs.Applied, op.key, op.value, index))
			}
		}
	}
}

// groupState describes a group for a liveness failure.
func (c *hostChecker) groupState(g uint64) string {
	var parts []string
	for _, n := range c.s.nodes {
		if n.h == nil {
			continue
		}
		if st, err := n.h.Status(g); err == nil {
			part := fmt.Sprintf("host %d %s term %d lead %d commit %d applied %d config %v", n.id, st.Role, st.Term, st.Leader, st.Commit, st.Applied, configMembers(st.Config))
			if st.Quiesced {
				part += " quiesced"
			}
			for _, id := range sortedUint64Keys(st.Progress) {
				pr := st.Progress[id]
				part += fmt.Sprintf(" [%d: %s]", id, pr.String())
			}
			parts = append(parts, part)
		}
	}
	return strings.Join(parts, ", ")
}

// InvNothingLost names the check that every write acknowledged to a client
// is held by every replica once the cluster recovered.
const InvNothingLost = "nothing-lost"

// sortedUint64Keys returns the keys of m in increasing order.
func sortedUint64Keys[V any](m map[uint64]V) []uint64 {
	keys := make([]uint64, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
