package transport

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net"
	"sync"
	"sync/atomic"

	pb "github.com/pontoon-raft/raft/raftpb"
)

// TCP is the Transport over TCP connections, optionally with mutual TLS.
// Towards each peer it keeps one long-lived connection per message class
// (control and bulk, see ClassOf), dialed by the sending side and used in
// that direction only, plus one short-lived connection per snapshot stream.
// Create it with NewTCP, accept peers' connections with Serve, and stop it
// with Close. All methods are safe for concurrent use.
type TCP struct {
	cfg       TCPConfig
	log       *slog.Logger
	obs       Observer
	serverTLS *tls.Config
	jitter    *jitter
	reports   *reporter
	// snapshotRate paces outgoing snapshot bodies (nil: no bound).
	snapshotRate *rateLimiter

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
	closed atomic.Bool

	// peers is replaced as a whole under mu, so Send reads it without a
	// lock.
	peers atomic.Pointer[map[uint64]*peer]

	mu        sync.Mutex
	listeners map[net.Listener]struct{}
	inbound   map[net.Conn]struct{}
	// streams is the current inbound message connection per peer and
	// class; a newer one from the same peer replaces (closes) it.
	streams      map[streamKey]net.Conn
	snapSends    int
	snapReceives int
}

type streamKey struct {
	peer  uint64
	class Class
}

var _ Transport = (*TCP)(nil)

// NewTCP validates cfg and returns a transport that starts dialing the
// configured peers at once. It accepts no connections until Serve.
func NewTCP(cfg TCPConfig) (*TCP, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	t := &TCP{
		cfg:       cfg,
		log:       cfg.Logger.With("node", cfg.NodeID),
		obs:       cfg.Observer,
		jitter:    newJitter(cfg.Rand),
		ctx:       ctx,
		cancel:    cancel,
		listeners: map[net.Listener]struct{}{},
		inbound:   map[net.Conn]struct{}{},
		streams:   map[streamKey]net.Conn{},
	}
	t.reports = newReporter(cfg.Handler, t.log)
	if cfg.SnapshotBytesPerSecond > 0 {
		t.snapshotRate = newRateLimiter(cfg.SnapshotBytesPerSecond, cfg.SnapshotChunkBytes, cfg.Clock.Now())
	}
	if cfg.TLS != nil {
		t.serverTLS = cfg.TLS.serverConfig()
	}
	empty := map[uint64]*peer{}
	t.peers.Store(&empty)
	t.wg.Add(1)
	go func() {
		defer t.wg.Done()
		t.reports.run(ctx.Done())
	}()
	for id, addr := range cfg.Peers {
		if err := t.SetPeer(id, addr); err != nil {
			t.Close()
			return nil, err
		}
	}
	return t, nil
}

// NodeID returns this node's id.
func (t *TCP) NodeID() uint64 { return t.cfg.NodeID }

// peer is the sending side towards one node: a link per message class.
type peer struct {
	id     uint64
	addr   string
	cancel context.CancelFunc
	links  [2]*link // ClassControl, ClassBulk
}

func (p *peer) link(c Class) *link { return p.links[c-ClassControl] }

// SetPeer sets the address of node id ("host:port") and starts dialing it.
// Setting the address a peer already has does nothing; a new address
// replaces the old connections, dropping what was queued for them.
func (t *TCP) SetPeer(id uint64, addr string) error {
	if id == 0 || id == t.cfg.NodeID || addr == "" {
		return fmt.Errorf("%w: peer %d at %q (ids must be non-zero and not this node's; addresses non-empty)", ErrInvalidConfig, id, addr)
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closed.Load() {
		return ErrClosed
	}
	old := *t.peers.Load()
	if p := old[id]; p != nil {
		if p.addr == addr {
			return nil
		}
		p.cancel()
	}
	ctx, cancel := context.WithCancel(t.ctx)
	p := &peer{id: id, addr: addr, cancel: cancel}
	for i, c := range []Class{ClassControl, ClassBulk} {
		p.links[i] = newLink(t, ctx, id, addr, c)
	}
	next := maps.Clone(old)
	next[id] = p
	t.peers.Store(&next)
	for _, l := range p.links {
		t.wg.Add(1)
		go l.run()
	}
	return nil
}

// RemovePeer stops sending to node id and drops what was queued for it.
// Connections the peer dialed to this node stay up until it closes them.
func (t *TCP) RemovePeer(id uint64) {
	t.mu.Lock()
	defer t.mu.Unlock()
	old := *t.peers.Load()
	p := old[id]
	if p == nil {
		return
	}
	p.cancel()
	next := maps.Clone(old)
	delete(next, id)
	t.peers.Store(&next)
}

// Send implements Transport. It sorts msgs into the per-peer, per-class
// queues, taking each queue's lock once per run of messages to it.
func (t *TCP) Send(msgs []GroupMessage) {
	if t.closed.Load() {
		return
	}
	peers := *t.peers.Load()
	var drops []drop
	var cur *link
	for i := range msgs {
		gm := &msgs[i]
		m := &gm.Message
		if m.Type == pb.MsgSnap {
			if cur != nil {
				cur.unlockAndWake()
				cur = nil
			}
			t.SendSnapshot(OutgoingSnapshot{Group: gm.Group, Message: *m})
			continue
		}
		var reason DropReason
		var l *link
		size := 0
		switch p := peers[m.To]; {
		case !IsNetworkType(m.Type):
			reason = DropLocalType
		case p == nil:
			reason = DropUnknownPeer
		default:
			size = m.Size()
			if size > t.cfg.MaxMessageBytes {
				reason = DropTooLarge
				break
			}
			l = p.link(ClassOf(m.Type))
			if l != cur {
				if cur != nil {
					cur.unlockAndWake()
				}
				l.mu.Lock()
				cur = l
			}
			reason = l.enqueueLocked(gm, size)
		}
		if reason != 0 {
			t.obs.MessagesDropped(m.To, reason, 1)
			if reason != DropLocalType {
				drops = append(drops, drop{m.To, gm.Group})
			}
		}
	}
	if cur != nil {
		cur.unlockAndWake()
	}
	t.reports.addUnreachable(drops, false)
}

// Serve accepts peers' connections on ln until Close, which closes ln. It
// returns ErrClosed after Close, or the error that made ln fail. Serve may
// be called with several listeners, each in its own goroutine.
func (t *TCP) Serve(ln net.Listener) error {
	t.mu.Lock()
	if t.closed.Load() {
		t.mu.Unlock()
		ln.Close()
		return ErrClosed
	}
	t.listeners[ln] = struct{}{}
	t.mu.Unlock()
	defer func() {
		t.mu.Lock()
		delete(t.listeners, ln)
		t.mu.Unlock()
	}()
	failures := 0
	for {
		conn, err := ln.Accept()
		if err != nil {
			if t.closed.Load() {
				return ErrClosed
			}
			if errors.Is(err, net.ErrClosed) {
				return err
			}
			// Out of file descriptors and the like: wait, as for a peer.
			delay := backoffDelay(failures, t.cfg.MinBackoff, t.cfg.MaxBackoff, t.jitter.float64())
			failures++
			t.log.Warn("transport: accepting a connection failed; retrying", "err", err, "in", delay)
			select {
			case <-t.cfg.Clock.After(delay):
			case <-t.ctx.Done():
				return ErrClosed
			}
			continue
		}
		failures = 0
		t.mu.Lock()
		if t.closed.Load() {
			t.mu.Unlock()
			conn.Close()
			return ErrClosed
		}
		if len(t.inbound) >= t.cfg.MaxConnections {
			t.mu.Unlock()
			conn.Close()
			err := fmt.Errorf("%w: %d connections accepted already", ErrBusy, t.cfg.MaxConnections)
			t.obs.HandshakeFailed(0, Incoming, err)
			t.log.Warn("transport: refused a connection", "remote", conn.RemoteAddr().String(), "err", err)
			continue
		}
		t.inbound[conn] = struct{}{}
		t.wg.Add(1)
		t.mu.Unlock()
		go t.serveConn(conn)
	}
}

// Close implements Transport. It closes the listeners given to Serve.
func (t *TCP) Close() error {
	t.mu.Lock()
	if t.closed.Swap(true) {
		t.mu.Unlock()
		t.wg.Wait()
		return nil
	}
	t.cancel()
	for ln := range t.listeners {
		ln.Close()
	}
	for c := range t.inbound {
		c.Close()
	}
	t.mu.Unlock()
	t.wg.Wait()
	return nil
}

// untrack forgets an inbound connection that ended.
func (t *TCP) untrack(conn net.Conn, key streamKey) {
	t.mu.Lock()
	delete(t.inbound, conn)
	if t.streams[key] == conn {
		delete(t.streams, key)
	}
	t.mu.Unlock()
}

// replaceStream records conn as the current inbound connection of key and
// closes the one it replaces: a peer that reconnects has given up on it.
func (t *TCP) replaceStream(key streamKey, conn net.Conn) {
	t.mu.Lock()
	old := t.streams[key]
	t.streams[key] = conn
	t.mu.Unlock()
	if old != nil {
		old.Close()
	}
}
