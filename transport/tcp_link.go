package transport

import (
	"context"
	"fmt"
	"net"
	"sync"
	"time"
)

// link is the queue and the outgoing connection towards one peer for one
// message class. Send appends to its queue; its goroutine dials, writes
// what is queued in batch frames, and dials again with backoff when the
// connection fails.
type link struct {
	t     *TCP
	ctx   context.Context
	peer  uint64
	addr  string
	class Class
	wake  chan struct{} // capacity 1: something was queued

	mu          sync.Mutex
	queue       []queuedMessage
	queuedBytes int
	// down is set after a failure until the next dial attempt: Send drops
	// at once rather than queueing for a peer that is not there.
	down bool
}

// queuedMessage is a message waiting in a link's queue with its encoded
// size, measured once by Send.
type queuedMessage struct {
	GroupMessage
	size int
}

func newLink(t *TCP, ctx context.Context, peer uint64, addr string, c Class) *link {
	return &link{t: t, ctx: ctx, peer: peer, addr: addr, class: c, wake: make(chan struct{}, 1)}
}

// enqueueLocked queues gm, whose encoded size is size, if the link accepts
// it. It returns why not otherwise. l.mu is held.
func (l *link) enqueueLocked(gm *GroupMessage, size int) DropReason {
	switch {
	case l.down:
		return DropPeerDown
	case len(l.queue) >= l.t.cfg.QueueMessages || l.queuedBytes+size > l.t.cfg.QueueBytes:
		return DropQueueFull
	}
	l.queue = append(l.queue, queuedMessage{*gm, size})
	l.queuedBytes += size
	return 0
}

// unlockAndWake releases l.mu, taken by Send, and wakes the writer.
func (l *link) unlockAndWake() {
	messages, bytes := len(l.queue), l.queuedBytes
	l.mu.Unlock()
	l.t.obs.QueueDepth(l.peer, l.class, messages, bytes)
	select {
	case l.wake <- struct{}{}:
	default:
	}
}

// run keeps a connection to the peer until the peer is removed or the
// transport closed.
func (l *link) run() {
	t := l.t
	defer t.wg.Done()
	log := t.log.With("peer", l.peer, "class", l.class, "addr", l.addr)
	failures := 0
	for {
		conn, err := t.dial(l.ctx, l.peer, l.addr, l.class)
		if l.ctx.Err() != nil {
			if conn != nil {
				conn.Close()
			}
			l.discard()
			return
		}
		if err == nil {
			t.obs.ConnectionUp(l.peer, l.class, Outgoing)
			if failures > 0 {
				log.Info("transport: connected", "after_failures", failures)
			}
			up := t.cfg.Clock.Now()
			err = l.serve(conn)
			conn.Close()
			if l.ctx.Err() != nil {
				t.obs.ConnectionDown(l.peer, l.class, Outgoing, nil)
				l.discard()
				return
			}
			t.obs.ConnectionDown(l.peer, l.class, Outgoing, err)
			log.Warn("transport: connection lost", "err", err)
			if t.cfg.Clock.Now().Sub(up) >= t.cfg.MaxBackoff {
				failures = 0
			}
			// Whatever was in flight may be lost, in any group.
			l.fail(DropConnectionLost, true)
		} else {
			if failures == 0 {
				log.Warn("transport: cannot connect", "err", err)
			} else {
				log.Debug("transport: cannot connect", "err", err, "failures", failures+1)
			}
			l.fail(DropPeerDown, false)
		}
		delay := backoffDelay(failures, t.cfg.MinBackoff, t.cfg.MaxBackoff, t.jitter.float64())
		failures++
		select {
		case <-t.cfg.Clock.After(delay):
		case <-l.ctx.Done():
			l.discard()
			return
		}
		l.mu.Lock()
		l.down = false
		l.mu.Unlock()
	}
}

// fail marks the link down and drops its queue, reporting the dropped
// messages' groups, or every group when all is set.
func (l *link) fail(reason DropReason, all bool) {
	l.mu.Lock()
	l.down = true
	queued := l.queue
	l.queue, l.queuedBytes = nil, 0
	l.mu.Unlock()
	l.t.obs.QueueDepth(l.peer, l.class, 0, 0)
	if len(queued) > 0 {
		l.t.obs.MessagesDropped(l.peer, reason, len(queued))
	}
	if all {
		l.t.reports.addUnreachable([]drop{{to: l.peer}}, true)
		return
	}
	drops := make([]drop, len(queued))
	for i := range queued {
		drops[i] = drop{l.peer, queued[i].Group}
	}
	l.t.reports.addUnreachable(drops, false)
}

// discard drops the queue of a link that stops for good.
func (l *link) discard() {
	l.mu.Lock()
	l.down = true
	l.queue, l.queuedBytes = nil, 0
	l.mu.Unlock()
}

// serve writes queued messages to conn until it fails or the link stops.
// The peer never writes on a message connection after the handshake, so a
// read returning means the peer closed it; a goroutine watches for that,
// which notices a restarted peer before the next write is lost into a dead
// socket.
func (l *link) serve(conn net.Conn) error {
	t := l.t
	closed := make(chan error, 1)
	t.wg.Add(1)
	go func() {
		defer t.wg.Done()
		var b [1]byte
		_, err := conn.Read(b[:])
		if err == nil {
			err = malformed("peer wrote on a one-way connection")
		}
		closed <- err
	}()
	stop := context.AfterFunc(l.ctx, func() { conn.Close() })
	defer stop()

	var batch []queuedMessage
	w := batchWriter{conn: conn, maxFrameBytes: t.cfg.MaxFrameBytes, timeout: t.cfg.WriteTimeout}
	for {
		select {
		case <-l.wake:
		case err := <-closed:
			return err
		case <-l.ctx.Done():
			return nil
		}
		for {
			l.mu.Lock()
			batch, l.queue = l.queue, batch[:0]
			l.queuedBytes = 0
			l.mu.Unlock()
			if len(batch) == 0 {
				break
			}
			t.obs.QueueDepth(l.peer, l.class, 0, 0)
			bytes, err := w.write(batch)
			n := len(batch)
			clear(batch) // the messages' entries belong to Raft; do not pin them
			if err != nil {
				return fmt.Errorf("writing %d messages: %w", n, err)
			}
			t.obs.MessagesSent(l.peer, l.class, n, bytes)
		}
	}
}

// batchWriter encodes messages into Batch frames and writes them.
type batchWriter struct {
	conn          net.Conn
	maxFrameBytes int
	timeout       time.Duration
	buf           []byte
}

// write encodes msgs into frames of up to targetFrameBytes (a single larger
// message gets a frame of its own, within maxFrameBytes) and writes them,
// about targetFrameBytes at a time. It returns the bytes written.
func (w *batchWriter) write(msgs []queuedMessage) (int, error) {
	buf, start := beginFrame(w.buf[:0], kindBatch)
	written := 0
	for i := range msgs {
		size := msgs[i].size
		if len(buf)-start > frameHeaderBytes &&
			(len(buf)-start >= targetFrameBytes || len(buf)-start+batchMessageOverhead+size > w.maxFrameBytes) {
			endFrame(buf, start)
			if len(buf) >= targetFrameBytes {
				if err := w.flush(buf); err != nil {
					return written, err
				}
				written += len(buf)
				buf = buf[:0]
			}
			buf, start = beginFrame(buf, kindBatch)
		}
		buf = appendBatchMessage(buf, msgs[i].Group, &msgs[i].Message, size)
	}
	endFrame(buf, start)
	err := w.flush(buf)
	if err == nil {
		written += len(buf)
	}
	if cap(buf) > frameBufferShrinkBytes {
		buf = nil // a large append does not pin its buffer
	}
	w.buf = buf
	return written, err
}

func (w *batchWriter) flush(buf []byte) error {
	if err := w.conn.SetWriteDeadline(time.Now().Add(w.timeout)); err != nil {
		return err
	}
	_, err := w.conn.Write(buf)
	return err
}
