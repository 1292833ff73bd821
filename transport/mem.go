package transport

import (
	"container/heap"
	"fmt"
	"math/rand/v2"
	"time"
)

// MemConfig configures a MemNetwork. The zero value, apart from Seed, is
// usable: limits default as in the TCP transport.
type MemConfig struct {
	// Seed seeds the random source every fault is drawn from.
	Seed uint64
	// Faults are the random faults from the start (see SetFaults).
	Faults Faults
	// MaxMessageBytes bounds one encoded message (DefaultMaxMessageBytes).
	MaxMessageBytes int
	// MaxSnapshotBytes bounds a snapshot body (DefaultMaxSnapshotBytes).
	MaxSnapshotBytes int64
	// SnapshotChunkBytes is the size of the pieces a body is copied in
	// (DefaultSnapshotChunkBytes).
	SnapshotChunkBytes int
	// QueueMessages bounds the messages in flight on one link, from one
	// node to another (DefaultQueueMessages).
	QueueMessages int
	// MaxSnapshotStreams bounds the snapshots a node has in flight
	// (DefaultMaxSnapshotStreams).
	MaxSnapshotStreams int
}

func (c *MemConfig) setDefaults() error {
	if err := c.Faults.validate(); err != nil {
		return err
	}
	for _, f := range []struct {
		name string
		v    *int
		def  int
	}{
		{"MaxMessageBytes", &c.MaxMessageBytes, DefaultMaxMessageBytes},
		{"SnapshotChunkBytes", &c.SnapshotChunkBytes, DefaultSnapshotChunkBytes},
		{"QueueMessages", &c.QueueMessages, DefaultQueueMessages},
		{"MaxSnapshotStreams", &c.MaxSnapshotStreams, DefaultMaxSnapshotStreams},
	} {
		if *f.v < 0 {
			return fmt.Errorf("%w: MemConfig.%s = %d is negative", ErrInvalidConfig, f.name, *f.v)
		}
		if *f.v == 0 {
			*f.v = f.def
		}
	}
	if c.MaxSnapshotBytes < 0 {
		return fmt.Errorf("%w: MemConfig.MaxSnapshotBytes = %d is negative", ErrInvalidConfig, c.MaxSnapshotBytes)
	}
	if c.MaxSnapshotBytes == 0 {
		c.MaxSnapshotBytes = DefaultMaxSnapshotBytes
	}
	return nil
}

// MemNetwork is an in-memory network of nodes for tests and simulation.
// It starts no goroutine and delivers nothing on its own: messages,
// snapshots and reports wait in a queue ordered by virtual delivery time
// until the driver calls Step or Advance, which call the Handlers on the
// driver's goroutine. Every random decision comes from one source seeded
// with MemConfig.Seed, so the same seed and the same calls give the same
// run, delivery for delivery.
//
// Messages travel encoded, as over TCP, so a receiver never shares memory
// with the sender, and the same receive checks apply. Snapshot bodies are
// copied from the sender's reader to the receiver's sink synchronously when
// the snapshot is due.
//
// A MemNetwork and its transports are not safe for concurrent use: one
// goroutine drives everything, including Send from Handlers. Handlers may
// call Send, SendSnapshot and the fault methods, but not Step or Advance.
type MemNetwork struct {
	cfg    MemConfig
	faults Faults
	rand   *rand.Rand
	now    time.Duration

	events memEvents
	seq    uint64
	nodes  map[uint64]*MemTransport
	// inFlight counts what is queued per link, for QueueMessages.
	inFlight map[linkKey]*linkLoad
	// fifo is the last delivery time per link and class: batches that are
	// not held back by DelayRate never overtake each other.
	fifo map[fifoKey]time.Duration

	cuts       map[linkKey]bool
	partitions []map[uint64]bool
	down       map[uint64]bool
	stats      MemStats
}

type fifoKey struct {
	link  linkKey
	class Class
}

// NewMemNetwork returns an empty network at virtual time 0.
func NewMemNetwork(cfg MemConfig) (*MemNetwork, error) {
	if err := cfg.setDefaults(); err != nil {
		return nil, err
	}
	return &MemNetwork{
		cfg:      cfg,
		faults:   cfg.Faults,
		rand:     rand.New(rand.NewPCG(cfg.Seed, cfg.Seed^0x9e3779b97f4a7c15)),
		nodes:    map[uint64]*MemTransport{},
		inFlight: map[linkKey]*linkLoad{},
		fifo:     map[fifoKey]time.Duration{},
		cuts:     map[linkKey]bool{},
		down:     map[uint64]bool{},
	}, nil
}

// Join attaches node id, delivering to h and reporting to o (nil for none).
// The MemNetwork reports Observer.QueueDepth per link, counting what is in
// flight to a peer whatever its class.
// A node that closed its transport may join again: the new transport is a
// new incarnation, and nothing in flight to or from the old one (messages,
// snapshot outcomes, reports) reaches it.
func (n *MemNetwork) Join(id uint64, h Handler, o Observer) (*MemTransport, error) {
	switch {
	case id == 0:
		return nil, fmt.Errorf("%w: node id 0 is reserved", ErrInvalidConfig)
	case h == nil:
		return nil, fmt.Errorf("%w: node %d has no Handler", ErrInvalidConfig, id)
	}
	var incarnation uint64 = 1
	if old, ok := n.nodes[id]; ok {
		if !old.closed {
			return nil, fmt.Errorf("%w: node %d already joined", ErrInvalidConfig, id)
		}
		incarnation = old.incarnation + 1
	}
	if o == nil {
		o = NopObserver{}
	}
	t := &MemTransport{net: n, id: id, incarnation: incarnation, h: h, obs: o}
	n.nodes[id] = t
	return t, nil
}

// Now returns the virtual time: the sum of the Advance steps, or the time
// of the last event Step processed if that was later.
func (n *MemNetwork) Now() time.Duration { return n.now }

// Pending returns the number of queued events (batches, snapshots,
// reports).
func (n *MemNetwork) Pending() int { return len(n.events) }

// NextAt returns the delivery time of the next event, and false if none is
// queued.
func (n *MemNetwork) NextAt() (time.Duration, bool) {
	if len(n.events) == 0 {
		return 0, false
	}
	return n.events[0].at, true
}

// Step processes the next event, moving the virtual time forward to its
// delivery time if that lies ahead. It returns false if nothing was queued.
func (n *MemNetwork) Step() bool {
	if len(n.events) == 0 {
		return false
	}
	ev := heap.Pop(&n.events).(*memEvent)
	n.now = max(n.now, ev.at)
	n.process(ev)
	return true
}

// Advance moves the virtual time forward by d, processing in order every
// event due by then, including those the Handlers cause along the way. It
// returns the number of events processed.
func (n *MemNetwork) Advance(d time.Duration) int {
	if d < 0 {
		panic(fmt.Sprintf("transport: MemNetwork.Advance(%v): time cannot go back", d))
	}
	target := n.now + d
	processed := 0
	for len(n.events) > 0 && n.events[0].at <= target {
		n.Step()
		processed++
	}
	n.now = target
	return processed
}

// schedule queues ev for delivery at time at.
func (n *MemNetwork) schedule(ev *memEvent, at time.Duration) {
	ev.at, ev.seq = at, n.seq
	n.seq++
	heap.Push(&n.events, ev)
}

// live returns the transport of node id if it is joined, open and of the
// given incarnation.
func (n *MemNetwork) live(id, incarnation uint64) *MemTransport {
	t := n.nodes[id]
	if t == nil || t.closed || t.incarnation != incarnation {
		return nil
	}
	return t
}

// linkLoad is what is in flight on one link.
type linkLoad struct{ messages, bytes int }

// load returns the load of link k, creating it empty.
func (n *MemNetwork) load(k linkKey) *linkLoad {
	l := n.inFlight[k]
	if l == nil {
		l = &linkLoad{}
		n.inFlight[k] = l
	}
	return l
}

// eventKind is what a memEvent carries.
type eventKind uint8

const (
	eventBatch eventKind = iota + 1
	eventSnapshot
	eventUnreachable
	eventSnapshotOutcome
)

// memEvent is one queued delivery.
type memEvent struct {
	at   time.Duration
	seq  uint64
	kind eventKind

	from, to                       uint64
	fromIncarnation, toIncarnation uint64

	// eventBatch: the encoded Batch payload and its message count.
	class    Class
	payload  []byte
	messages int
	// eventSnapshot: the snapshot, with its MsgSnap encoded in payload.
	group uint64
	snap  OutgoingSnapshot
	// eventUnreachable: the groups to report for node to.
	groups []uint64
	// eventSnapshotOutcome: the outcome for (to, group).
	err error
}

// memEvents is a min-heap by delivery time, then by scheduling order.
type memEvents []*memEvent

func (e memEvents) Len() int { return len(e) }
func (e memEvents) Less(i, j int) bool {
	if e[i].at != e[j].at {
		return e[i].at < e[j].at
	}
	return e[i].seq < e[j].seq
}
func (e memEvents) Swap(i, j int) { e[i], e[j] = e[j], e[i] }
func (e *memEvents) Push(x any)   { *e = append(*e, x.(*memEvent)) }
func (e *memEvents) Pop() any {
	old := *e
	ev := old[len(old)-1]
	old[len(old)-1] = nil
	*e = old[:len(old)-1]
	return ev
}
