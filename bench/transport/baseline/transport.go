// Package transport carries raft messages between kvstore nodes over HTTP.
//
// Each node keeps one long-lived POST per peer whose body is an HTTP/1.1
// chunked stream of length-prefixed raftpb.Message frames. The standard
// library's net/http gives us that with no extra dependency, works through
// any HTTP tooling, and a streaming body costs one TCP connection and no
// per-message request overhead. Snapshots go on separate requests (see
// sendSnapshot) so they never delay heartbeats.
//
// Sending never blocks the caller: each peer has a bounded queue, and a
// message that does not fit is dropped and reported to raft as
// unreachable, which makes the leader probe that follower again. Raft
// retransmits whatever was lost.
package transport

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pontoon-raft/raft"
	pb "github.com/pontoon-raft/raft/raftpb"
)

const (
	streamPath   = "/raft/stream"
	snapshotPath = "/raft/snapshot"
	fromHeader   = "X-Raft-From"

	minBackoff = 50 * time.Millisecond
	maxBackoff = 2 * time.Second
	// healthyStream is how long a stream must live before a reconnect
	// starts again from minBackoff.
	healthyStream = time.Second
	// writeBufferBytes is the buffer in front of each stream.
	writeBufferBytes = 64 << 10
)

// Config wires a Transport to its node.
type Config struct {
	// ID is this node's raft id, sent to peers for logging.
	ID uint64
	// QueueSize bounds the messages waiting for each peer.
	QueueSize int
	// Deliver hands a received message to the local raft node. It may
	// block (applying backpressure to the sender's stream) until ctx ends.
	Deliver func(ctx context.Context, m pb.Message) error
	// ReportUnreachable and ReportSnapshot forward to the raft node. They
	// must not block.
	ReportUnreachable func(id uint64)
	ReportSnapshot    func(id uint64, status raft.SnapshotStatus)
	// Dropped, if set, is called for each message dropped because the
	// peer's queue was full.
	Dropped func(peer uint64)
	// Logf logs transport events.
	Logf func(format string, args ...interface{})
}

// Transport sends messages to peers and serves the receiving side.
type Transport struct {
	cfg    Config
	client *http.Client

	mu    sync.Mutex
	peers map[uint64]*peer

	pausedUntil atomic.Int64 // unix nanoseconds
}

// New returns a Transport with no peers.
func New(cfg Config) *Transport {
	if cfg.QueueSize <= 0 {
		cfg.QueueSize = 4096
	}
	return &Transport{
		cfg: cfg,
		client: &http.Client{Transport: &http.Transport{
			MaxIdleConnsPerHost: 4,
			DisableCompression:  true,
			IdleConnTimeout:     30 * time.Second,
		}},
		peers: map[uint64]*peer{},
	}
}

// peer is the sending side towards one node.
type peer struct {
	t        *Transport
	id       uint64
	url      string
	queue    chan pb.Message
	snapBusy atomic.Bool
	ctx      context.Context
	cancel   context.CancelFunc
	done     chan struct{}
}

// AddPeer starts sending to id at url (e.g. "http://127.0.0.1:7002"). If
// id is known with another url, the old connection is replaced.
func (t *Transport) AddPeer(id uint64, url string) {
	if id == t.cfg.ID {
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if p, ok := t.peers[id]; ok {
		if p.url == url {
			return
		}
		p.stop()
	}
	ctx, cancel := context.WithCancel(context.Background())
	p := &peer{t: t, id: id, url: url, queue: make(chan pb.Message, t.cfg.QueueSize),
		ctx: ctx, cancel: cancel, done: make(chan struct{})}
	t.peers[id] = p
	go p.run()
}

// RemovePeer stops sending to id.
func (t *Transport) RemovePeer(id uint64) {
	t.mu.Lock()
	p := t.peers[id]
	delete(t.peers, id)
	t.mu.Unlock()
	if p != nil {
		p.stop()
	}
}

// Stop closes every stream.
func (t *Transport) Stop() {
	t.mu.Lock()
	peers := t.peers
	t.peers = map[uint64]*peer{}
	t.mu.Unlock()
	for _, p := range peers {
		p.stop()
	}
}

// Pause makes the transport drop everything it would send or receive for
// d, which looks to the cluster like a network partition around this node.
func (t *Transport) Pause(d time.Duration) {
	t.pausedUntil.Store(time.Now().Add(d).UnixNano())
}

// Paused reports whether a Pause is in effect.
func (t *Transport) Paused() bool {
	return time.Now().UnixNano() < t.pausedUntil.Load()
}

// Send queues msgs for their destinations without blocking. A MsgSnap
// starts a snapshot transfer unless one to that peer is already running,
// in which case it fails at once.
func (t *Transport) Send(msgs []pb.Message) {
	if len(msgs) == 0 {
		return
	}
	paused := t.Paused()
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, m := range msgs {
		p := t.peers[m.To]
		if p == nil || paused {
			continue
		}
		if m.Type == pb.MsgSnap {
			if p.snapBusy.CompareAndSwap(false, true) {
				go p.sendSnapshot(m)
			} else {
				t.cfg.ReportSnapshot(m.To, raft.SnapshotFailure)
			}
			continue
		}
		select {
		case p.queue <- m:
		default:
			if t.cfg.Dropped != nil {
				t.cfg.Dropped(m.To)
			}
			t.cfg.ReportUnreachable(m.To)
		}
	}
}

// Handler serves the receiving side: the message streams and snapshots.
func (t *Transport) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST "+streamPath, t.serveStream)
	mux.HandleFunc("POST "+snapshotPath, t.serveSnapshot)
	return mux
}

// Paths lists the URL paths Handler serves, for mounting it in a mux.
func Paths() []string { return []string{streamPath, snapshotPath} }

func (t *Transport) serveStream(w http.ResponseWriter, r *http.Request) {
	br := bufio.NewReaderSize(r.Body, writeBufferBytes)
	for {
		m, err := readFrame(br)
		if err != nil {
			if err != io.EOF && r.Context().Err() == nil {
				t.cfg.Logf("stream from %s ended: %v", r.Header.Get(fromHeader), err)
			}
			return
		}
		if t.Paused() {
			continue
		}
		if err := t.cfg.Deliver(r.Context(), m); err != nil {
			return
		}
	}
}

func (p *peer) stop() {
	p.cancel()
	<-p.done
}

// run keeps a stream open to the peer, reconnecting with exponential
// backoff, until the peer is stopped.
func (p *peer) run() {
	defer close(p.done)
	backoff := minBackoff
	for {
		start := time.Now()
		err := p.stream()
		if p.ctx.Err() != nil {
			return
		}
		if time.Since(start) > healthyStream {
			backoff = minBackoff
		}
		p.t.cfg.ReportUnreachable(p.id)
		p.t.cfg.Logf("stream to %d (%s) broken: %v; retrying in %v", p.id, p.url, err, backoff)
		select {
		case <-time.After(backoff):
		case <-p.ctx.Done():
			return
		}
		backoff = min(2*backoff, maxBackoff)
	}
}

// stream runs one streaming request and returns when it breaks.
func (p *peer) stream() error {
	ctx, cancel := context.WithCancel(p.ctx)
	defer cancel()
	pr, pw := io.Pipe()
	defer pw.Close()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, p.url+streamPath, pr)
	if err != nil {
		return err
	}
	req.Header.Set(fromHeader, strconv.FormatUint(p.t.cfg.ID, 10))
	req.Header.Set("Content-Type", "application/octet-stream")
	ended := make(chan error, 1)
	go func() {
		resp, err := p.t.client.Do(req)
		if err == nil {
			resp.Body.Close()
			err = fmt.Errorf("peer answered %s", resp.Status)
		}
		pr.CloseWithError(err)
		ended <- err
	}()
	bw := bufio.NewWriterSize(pw, writeBufferBytes)
	for {
		select {
		case m := <-p.queue:
			if err := p.write(bw, m); err != nil {
				return err
			}
		case err := <-ended:
			return err
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// write writes m and whatever else is queued, then flushes.
func (p *peer) write(bw *bufio.Writer, m pb.Message) error {
	for {
		if !p.t.Paused() {
			if err := writeFrame(bw, &m); err != nil {
				return err
			}
		}
		select {
		case m = <-p.queue:
			continue
		default:
		}
		return bw.Flush()
	}
}
