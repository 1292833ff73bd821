package transport

import (
	"fmt"
	"slices"
	"time"

	pb "github.com/pontoon-raft/raft/raftpb"
)

// MemTransport is one node's Transport on a MemNetwork. It is not safe
// for concurrent use (see MemNetwork).
type MemTransport struct {
	net         *MemNetwork
	id          uint64
	incarnation uint64
	h           Handler
	obs         Observer
	closed      bool
	// snapshots counts this incarnation's snapshots in flight.
	snapshots int
}

var _ Transport = (*MemTransport)(nil)

// ID returns the node id the transport joined with.
func (t *MemTransport) ID() uint64 { return t.id }

// Close detaches the node from the network. What is in flight to it is
// lost when due; reports for it are discarded. Close is idempotent.
func (t *MemTransport) Close() error {
	t.closed = true
	return nil
}

// memBatch collects the messages of one Send call to one node and class.
type memBatch struct {
	to    uint64
	class Class
	msgs  []*GroupMessage
	dups  []*GroupMessage
}

// memDrops collects, per destination, the groups to report unreachable.
type memDrops struct {
	order  []uint64
	groups map[uint64][]uint64
}

func (d *memDrops) add(to, group uint64) {
	if d.groups == nil {
		d.groups = map[uint64][]uint64{}
	}
	if _, ok := d.groups[to]; !ok {
		d.order = append(d.order, to)
	}
	d.groups[to] = append(d.groups[to], group)
}

// Send implements Transport. Messages to one node and class in one call
// form one batch; faults are drawn here, cuts and downed nodes are checked
// when the batch is due.
func (t *MemTransport) Send(msgs []GroupMessage) {
	if t.closed {
		return
	}
	n := t.net
	var batches []*memBatch
	var drops memDrops
	for i := range msgs {
		gm := &msgs[i]
		m := &gm.Message
		if m.Type == pb.MsgSnap {
			t.SendSnapshot(OutgoingSnapshot{Group: gm.Group, Message: *m})
			continue
		}
		reason := t.sendCheck(m)
		if reason == 0 && n.chance(n.faults.DropRate) {
			n.stats.Dropped++
			t.obs.MessagesDropped(m.To, DropFault, 1)
			continue
		}
		if reason != 0 {
			t.obs.MessagesDropped(m.To, reason, 1)
			if reason == DropQueueFull {
				n.stats.QueueFull++
			}
			if reason != DropLocalType {
				drops.add(m.To, gm.Group)
			}
			continue
		}
		class := ClassOf(m.Type)
		b := findBatch(&batches, m.To, class)
		b.msgs = append(b.msgs, gm)
		load := n.load(linkKey{t.id, m.To})
		load.messages++
		n.stats.Sent++
		if n.chance(n.faults.DuplicateRate) {
			b.dups = append(b.dups, gm)
			load.messages++
			n.stats.Duplicated++
		}
	}
	for _, b := range batches {
		t.scheduleBatch(b)
	}
	for _, to := range drops.order {
		groups := drops.groups[to]
		slices.Sort(groups)
		t.net.schedule(&memEvent{
			kind: eventUnreachable, from: t.id, fromIncarnation: t.incarnation,
			to: to, groups: slices.Compact(groups),
		}, n.now)
	}
}

// sendCheck returns why m cannot be sent now, or 0.
func (t *MemTransport) sendCheck(m *pb.Message) DropReason {
	n := t.net
	dest := n.nodes[m.To]
	switch {
	case !IsNetworkType(m.Type):
		return DropLocalType
	case m.Size() > n.cfg.MaxMessageBytes:
		return DropTooLarge
	case dest == nil || m.To == t.id:
		return DropUnknownPeer
	case dest.closed || n.down[t.id]:
		return DropPeerDown
	case n.load(linkKey{t.id, m.To}).messages >= n.cfg.QueueMessages:
		return DropQueueFull
	}
	return 0
}

func findBatch(batches *[]*memBatch, to uint64, class Class) *memBatch {
	for _, b := range *batches {
		if b.to == to && b.class == class {
			return b
		}
	}
	b := &memBatch{to: to, class: class}
	*batches = append(*batches, b)
	return b
}

// scheduleBatch draws latency, delay and reordering for b and queues it,
// and its duplicates as a later batch of their own.
func (t *MemTransport) scheduleBatch(b *memBatch) {
	n := t.net
	f := n.faults
	if len(b.msgs) > 1 && n.chance(f.ReorderRate) {
		n.rand.Shuffle(len(b.msgs), func(i, j int) { b.msgs[i], b.msgs[j] = b.msgs[j], b.msgs[i] })
		n.stats.Reordered++
	}
	at := n.now + n.between(f.MinLatency, f.MaxLatency)
	key := fifoKey{linkKey{t.id, b.to}, b.class}
	if n.chance(f.DelayRate) {
		at += n.between(1, max(f.MaxDelay, 1))
		n.stats.Delayed++
	} else {
		at = max(at, n.fifo[key])
		n.fifo[key] = at
	}
	t.queueBatch(b.to, b.class, b.msgs, at)
	if len(b.dups) > 0 {
		t.queueBatch(b.to, b.class, b.dups, at+n.between(max(f.MinLatency, 1), max(f.MaxLatency, 1)))
	}
}

// queueBatch encodes msgs as a Batch payload and queues it for time at.
func (t *MemTransport) queueBatch(to uint64, class Class, msgs []*GroupMessage, at time.Duration) {
	var payload []byte
	for _, gm := range msgs {
		payload = appendBatchMessage(payload, gm.Group, &gm.Message, gm.Message.Size())
	}
	load := t.net.load(linkKey{t.id, to})
	load.bytes += len(payload)
	t.obs.MessagesSent(to, class, len(msgs), len(payload))
	t.obs.QueueDepth(to, class, load.messages, load.bytes)
	dest := t.net.nodes[to]
	t.net.schedule(&memEvent{
		kind: eventBatch, from: t.id, fromIncarnation: t.incarnation,
		to: to, toIncarnation: dest.incarnation,
		class: class, payload: payload, messages: len(msgs),
	}, at)
}

// SendSnapshot implements Transport. The body is read when the snapshot is
// due, in the driver's Step or Advance.
func (t *MemTransport) SendSnapshot(s OutgoingSnapshot) {
	if t.closed {
		closeBody(s.Body)
		return
	}
	n := t.net
	to := s.Message.To
	var err error
	dest := n.nodes[to]
	switch {
	case s.Message.Type != pb.MsgSnap || s.Message.Snapshot == nil:
		err = fmt.Errorf("%w: got %v", ErrInvalidSnapshot, s.Message.Type)
	case s.Message.Size() > n.cfg.MaxMessageBytes:
		err = fmt.Errorf("%w: MsgSnap of %d bytes, limit %d", ErrMessageTooLarge, s.Message.Size(), n.cfg.MaxMessageBytes)
	case dest == nil || to == t.id:
		err = fmt.Errorf("%w: node %d", ErrUnknownPeer, to)
	case dest.closed || n.down[t.id]:
		err = fmt.Errorf("%w: node %d", ErrUnreachable, to)
	case t.snapshots >= n.cfg.MaxSnapshotStreams:
		err = fmt.Errorf("%w: %d outgoing already", ErrBusy, t.snapshots)
	}
	if err != nil {
		closeBody(s.Body)
		t.obs.SnapshotFinished(to, Outgoing, 0, err)
		n.stats.SnapshotsFailed++
		n.schedule(&memEvent{
			kind: eventSnapshotOutcome, from: t.id, fromIncarnation: t.incarnation,
			to: to, group: s.Group, err: err,
		}, n.now)
		return
	}
	payload, merr := s.Message.Marshal()
	if merr != nil {
		panic(fmt.Sprintf("transport: encoding a valid MsgSnap failed: %v", merr))
	}
	t.snapshots++
	t.obs.SnapshotStarted(to, Outgoing)
	n.schedule(&memEvent{
		kind: eventSnapshot, from: t.id, fromIncarnation: t.incarnation,
		to: to, toIncarnation: dest.incarnation,
		class: ClassSnapshot, group: s.Group, payload: payload, snap: s,
	}, n.now+n.between(n.faults.MinLatency, n.faults.MaxLatency))
}

// closeBody closes a snapshot body if there is one.
func closeBody(b interface{ Close() error }) {
	if b != nil {
		_ = b.Close()
	}
}
