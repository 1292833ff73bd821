package transport

import (
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"slices"

	pb "github.com/pontoon-raft/raft/raftpb"
)

// process handles one due event.
func (n *MemNetwork) process(ev *memEvent) {
	switch ev.kind {
	case eventBatch:
		n.deliverBatch(ev)
	case eventSnapshot:
		n.deliverSnapshot(ev)
	case eventUnreachable:
		if s := n.live(ev.from, ev.fromIncarnation); s != nil {
			s.h.ReportUnreachable(ev.to, ev.groups)
		}
	case eventSnapshotOutcome:
		if s := n.live(ev.from, ev.fromIncarnation); s != nil {
			s.h.ReportSnapshot(ev.to, ev.group, ev.err)
		}
	default:
		panic(fmt.Sprintf("transport: MemNetwork event of unknown kind %d", ev.kind))
	}
}

// lostOnTheWay returns a non-zero count kind when a message from ev.from to
// ev.to cannot arrive now: a cut link or a node down or gone.
func (n *MemNetwork) lostOnTheWay(ev *memEvent) (lost *int) {
	switch {
	case n.live(ev.to, ev.toIncarnation) == nil || n.down[ev.to]:
		return &n.stats.Down
	case n.isCut(ev.from, ev.to):
		return &n.stats.Cut
	}
	return nil
}

func (n *MemNetwork) deliverBatch(ev *memEvent) {
	load := n.load(linkKey{ev.from, ev.to})
	load.messages -= ev.messages
	load.bytes -= len(ev.payload)
	if s := n.nodes[ev.from]; s != nil && s.incarnation == ev.fromIncarnation {
		s.obs.QueueDepth(ev.to, ev.class, load.messages, load.bytes)
	}
	msgs, err := decodeBatch(ev.payload, n.cfg.MaxMessageBytes, nil)
	if err != nil || len(msgs) != ev.messages {
		panic(fmt.Sprintf("transport: MemNetwork cannot decode its own batch of %d messages: %d decoded, %v", ev.messages, len(msgs), err))
	}
	if lost := n.lostOnTheWay(ev); lost != nil {
		*lost += len(msgs)
		if s := n.live(ev.from, ev.fromIncarnation); s != nil {
			s.obs.MessagesDropped(ev.to, DropFault, len(msgs))
			groups := make([]uint64, len(msgs))
			for i := range msgs {
				groups[i] = msgs[i].Group
			}
			slices.Sort(groups)
			s.h.ReportUnreachable(ev.to, slices.Compact(groups))
		}
		return
	}
	r := n.nodes[ev.to]
	r.obs.MessagesReceived(ev.from, ev.class, len(msgs), len(ev.payload))
	var rejected [rejectReasons]int
	kept := filterReceived(r.id, ev.from, r.h, msgs, &rejected)
	for reason, count := range rejected {
		if count > 0 {
			n.stats.Rejected += count
			r.obs.MessagesRejected(ev.from, RejectReason(reason), count)
		}
	}
	if len(kept) > 0 {
		n.stats.Delivered += len(kept)
		r.h.HandleMessages(ev.from, kept)
	}
}

// deliverSnapshot streams a due snapshot from the sender's body to the
// receiver's sink, synchronously, and reports the outcome to both.
func (n *MemNetwork) deliverSnapshot(ev *memEvent) {
	s := n.nodes[ev.from]
	if s.incarnation == ev.fromIncarnation {
		s.snapshots--
	}
	var bytes int64
	var err error
	finish := func() {
		closeBody(ev.snap.Body)
		if err != nil {
			n.stats.SnapshotsFailed++
		} else {
			n.stats.SnapshotsDelivered++
		}
		if s := n.live(ev.from, ev.fromIncarnation); s != nil {
			s.obs.SnapshotFinished(ev.to, Outgoing, bytes, err)
			s.h.ReportSnapshot(ev.to, ev.group, err)
		}
	}
	defer finish()

	if n.lostOnTheWay(ev) != nil || n.down[ev.from] {
		err = fmt.Errorf("%w: node %d", ErrUnreachable, ev.to)
		return
	}
	var m pb.Message
	if uerr := m.Unmarshal(ev.payload); uerr != nil {
		panic(fmt.Sprintf("transport: MemNetwork cannot decode its own MsgSnap: %v", uerr))
	}
	r := n.nodes[ev.to]
	reason := checkSnapshotHeader(r.id, ev.from, &m)
	if reason == 0 && !r.h.HasGroup(ev.group) {
		reason = RejectUnknownGroup
	}
	if reason != 0 {
		n.stats.Rejected++
		r.obs.MessagesRejected(ev.from, reason, 1)
		err = fmt.Errorf("%w: %s", ErrRefused, reason)
		return
	}
	sink, rerr := r.h.ReceiveSnapshot(ev.from, ev.group, m)
	if rerr != nil {
		err = fmt.Errorf("%w: %v", ErrRefused, rerr)
		return
	}
	r.obs.SnapshotStarted(ev.from, Incoming)
	bytes, err = n.copyBody(sink, ev.snap.Body)
	if err == nil {
		if cerr := sink.Close(); cerr != nil {
			err = fmt.Errorf("%w: storing the body: %v", ErrRefused, cerr)
		}
	} else {
		sink.Abort(err)
	}
	r.obs.SnapshotFinished(ev.from, Incoming, bytes, err)
	if err == nil {
		n.stats.Delivered++
		r.h.HandleMessages(ev.from, []GroupMessage{{Group: ev.group, Message: m}})
	}
}

// copyBody copies body into sink in chunks, within MaxSnapshotBytes. When
// SnapshotFailRate strikes it breaks off after a random number (0 to 3) of
// chunks, unless the body ends first.
func (n *MemNetwork) copyBody(sink SnapshotSink, body io.Reader) (int64, error) {
	if body == nil {
		return 0, nil
	}
	breakAfter := -1
	if n.chance(n.faults.SnapshotFailRate) {
		breakAfter = n.rand.IntN(4)
	}
	buf := make([]byte, n.cfg.SnapshotChunkBytes)
	var total int64
	for chunks := 0; ; chunks++ {
		if chunks == breakAfter {
			n.stats.SnapshotFaults++
			return total, fmt.Errorf("%w: stream broken after %d bytes", ErrInjectedFault, total)
		}
		k, rerr := io.ReadFull(body, buf)
		if k > 0 {
			if total+int64(k) > n.cfg.MaxSnapshotBytes {
				return total, fmt.Errorf("%w: more than %d bytes", ErrSnapshotTooLarge, n.cfg.MaxSnapshotBytes)
			}
			if _, werr := sink.Write(buf[:k]); werr != nil {
				return total, fmt.Errorf("transport: storing snapshot body: %w", werr)
			}
			total += int64(k)
		}
		switch {
		case rerr == nil:
		case errors.Is(rerr, io.EOF) || errors.Is(rerr, io.ErrUnexpectedEOF):
			return total, nil
		default:
			return total, fmt.Errorf("transport: reading snapshot body: %w", rerr)
		}
	}
}

var castagnoli = crc32.MakeTable(crc32.Castagnoli)
