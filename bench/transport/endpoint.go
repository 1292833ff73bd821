package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sync/atomic"

	"github.com/pontoon-raft/raft"
	baseline "github.com/pontoon-raft/raft/bench/transport/baseline"
	pb "github.com/pontoon-raft/raft/raftpb"
	"github.com/pontoon-raft/raft/transport"
	"github.com/pontoon-raft/raft/transport/devcert"
)

// The transports under test.
const (
	implBaseline = "http-baseline" // examples/kvstore's HTTP stream transport (verbatim copy)
	implTCP      = "tcp"           // package transport, plaintext
	implTLS      = "tcp+tls"       // package transport, mutual TLS
)

// events is what an endpoint tells the workload.
type events struct {
	// messages receives every delivered message; for the baseline, which
	// has no groups, Group is 0. It is called from the transport's
	// goroutines.
	messages func(msgs []transport.GroupMessage)
	// snapshotDone receives the outcome of each snapshot sent.
	snapshotDone func(err error)
	// snapshotBytes, if set, counts snapshot body bytes received.
	snapshotBytes func(n int)
	// dropped counts messages the transport dropped.
	dropped atomic.Int64
}

// endpoint is one node of the benchmark on one transport.
type endpoint interface {
	send(msgs []transport.GroupMessage)
	// sendSnapshot sends a snapshot whose body has size bytes; body
	// produces them.
	sendSnapshot(group uint64, m pb.Message, size int64, body io.ReadCloser)
	addr() string
	close()
}

// newEndpoint starts node id of impl listening on loopback, sending to
// node peer at peerAddr (if known yet). tlsDir holds the CA for tcp+tls.
func newEndpoint(impl string, id, peer uint64, peerAddr, tlsDir string, snapshotRate int64, ev *events) (endpoint, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	switch impl {
	case implBaseline:
		return newBaselineEndpoint(ln, id, peer, peerAddr, ev), nil
	case implTCP, implTLS:
		return newTCPEndpoint(ln, impl == implTLS, id, peer, peerAddr, tlsDir, snapshotRate, ev)
	}
	ln.Close()
	return nil, fmt.Errorf("unknown transport %q", impl)
}

// ours is package transport's TCP.
type ours struct {
	t  *transport.TCP
	ln net.Listener
	ev *events
}

func newTCPEndpoint(ln net.Listener, withTLS bool, id, peer uint64, peerAddr, tlsDir string, snapshotRate int64, ev *events) (*ours, error) {
	cfg := transport.TCPConfig{
		NodeID: id, ClusterID: 1, Handler: &handler{ev: ev}, SnapshotBytesPerSecond: snapshotRate,
		// Each run ends with the peer process exiting, which the parent's
		// links log as lost connections: only errors are of interest here.
		Logger:   slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelError})),
		Observer: &dropCounter{ev: ev},
	}
	if peerAddr != "" {
		cfg.Peers = map[uint64]string{peer: peerAddr}
	}
	if withTLS {
		tlsCfg, err := loadTLS(tlsDir, id)
		if err != nil {
			ln.Close()
			return nil, err
		}
		cfg.TLS = tlsCfg
	}
	t, err := transport.NewTCP(cfg)
	if err != nil {
		ln.Close()
		return nil, err
	}
	go t.Serve(ln)
	return &ours{t: t, ln: ln, ev: ev}, nil
}

func (o *ours) send(msgs []transport.GroupMessage) { o.t.Send(msgs) }
func (o *ours) sendSnapshot(group uint64, m pb.Message, _ int64, body io.ReadCloser) {
	o.t.SendSnapshot(transport.OutgoingSnapshot{Group: group, Message: m, Body: body})
}
func (o *ours) addr() string { return o.ln.Addr().String() }
func (o *ours) close()       { o.t.Close() }
func (o *ours) setPeer(id uint64, addr string) error {
	return o.t.SetPeer(id, addr)
}

type handler struct{ ev *events }

func (h *handler) HandleMessages(_ uint64, msgs []transport.GroupMessage) { h.ev.messages(msgs) }
func (h *handler) HasGroup(uint64) bool                                   { return true }
func (h *handler) ReceiveSnapshot(uint64, uint64, pb.Message) (transport.SnapshotSink, error) {
	return discard{count: h.ev.snapshotBytes}, nil
}
func (h *handler) ReportUnreachable(uint64, []uint64) {}
func (h *handler) ReportSnapshot(_, _ uint64, err error) {
	if h.ev.snapshotDone != nil {
		h.ev.snapshotDone(err)
	}
}

// discard is a sink that keeps nothing and counts what it gets.
type discard struct{ count func(int) }

func (d discard) Write(p []byte) (int, error) {
	if d.count != nil {
		d.count(len(p))
	}
	return len(p), nil
}
func (discard) Close() error { return nil }
func (discard) Abort(error)  {}

type dropCounter struct {
	transport.NopObserver
	ev *events
}

func (d *dropCounter) MessagesDropped(_ uint64, _ transport.DropReason, n int) {
	d.ev.dropped.Add(int64(n))
}

// loadTLS issues node id a certificate from the CA in dir.
func loadTLS(dir string, id uint64) (*transport.TLSConfig, error) {
	certPEM, err := os.ReadFile(filepath.Join(dir, "ca.pem"))
	if err != nil {
		return nil, err
	}
	keyPEM, err := os.ReadFile(filepath.Join(dir, "ca-key.pem"))
	if err != nil {
		return nil, err
	}
	ca, err := devcert.LoadCA(certPEM, keyPEM)
	if err != nil {
		return nil, err
	}
	cert, err := ca.NodeCertificate(id)
	if err != nil {
		return nil, err
	}
	return &transport.TLSConfig{RootCAs: ca.Pool(), Certificate: cert}, nil
}

// writeCA creates a CA in dir for both processes.
func writeCA(dir string) error {
	ca, err := devcert.NewCA("transport benchmark")
	if err != nil {
		return err
	}
	key, err := ca.KeyPEM()
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, "ca.pem"), ca.CertPEM(), 0o600); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, "ca-key.pem"), key, 0o600)
}

// base is the baseline HTTP stream transport, one group per process.
type base struct {
	t   *baseline.Transport
	srv *http.Server
	ln  net.Listener
	ev  *events
	// snapData is the in-memory snapshot body the baseline needs (it
	// sends MsgSnap.Snapshot.Data whole), reused across snapshots.
	snapData []byte
}

func newBaselineEndpoint(ln net.Listener, id, peer uint64, peerAddr string, ev *events) *base {
	b := &base{ln: ln, ev: ev}
	b.t = baseline.New(baseline.Config{
		ID:        id,
		QueueSize: 4096,
		Deliver: func(_ context.Context, m pb.Message) error {
			ev.messages([]transport.GroupMessage{{Message: m}})
			return nil
		},
		ReportUnreachable: func(uint64) {},
		ReportSnapshot: func(_ uint64, s raft.SnapshotStatus) {
			if ev.snapshotDone != nil {
				var err error
				if s != raft.SnapshotFinish {
					err = errors.New("snapshot failed")
				}
				ev.snapshotDone(err)
			}
		},
		Dropped: func(uint64) { ev.dropped.Add(1) },
		Logf:    func(string, ...interface{}) {},
	})
	b.srv = &http.Server{Handler: b.t.Handler()}
	go b.srv.Serve(ln)
	if peerAddr != "" {
		b.t.AddPeer(peer, "http://"+peerAddr)
	}
	return b
}

func (b *base) send(msgs []transport.GroupMessage) {
	ms := make([]pb.Message, len(msgs))
	for i := range msgs {
		ms[i] = msgs[i].Message
	}
	b.t.Send(ms)
}

func (b *base) sendSnapshot(_ uint64, m pb.Message, size int64, body io.ReadCloser) {
	defer body.Close()
	if int64(len(b.snapData)) != size {
		b.snapData = make([]byte, size)
		_, _ = io.ReadFull(body, b.snapData)
	}
	snap := *m.Snapshot
	snap.Data = b.snapData
	m.Snapshot = &snap
	b.t.Send([]pb.Message{m})
}

func (b *base) addr() string { return b.ln.Addr().String() }
func (b *base) close() {
	b.t.Stop()
	b.srv.Close()
}
func (b *base) setPeer(id uint64, addr string) error {
	b.t.AddPeer(id, "http://"+addr)
	return nil
}
