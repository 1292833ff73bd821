package server

import (
	"errors"
	"sync/atomic"
	"time"

	pb "github.com/pontoon-raft/raft/raftpb"
	"github.com/pontoon-raft/raft/transport"
)

// pauser cuts a node off the others for a while (POST /debug/pause), a
// partition for the end-to-end test: while paused, the node's transport
// drops everything it would send or deliver.
type pauser struct {
	until atomic.Int64 // Unix nanoseconds
}

var errPaused = errors.New("kvstore: transport paused")

func (p *pauser) pauseFor(d time.Duration) { p.until.Store(time.Now().Add(d).UnixNano()) }

func (p *pauser) paused() bool { return time.Now().UnixNano() < p.until.Load() }

// handler wraps the host's transport.Handler to drop what arrives while
// paused.
func (p *pauser) handler(h transport.Handler) transport.Handler {
	return &pausedHandler{Handler: h, p: p}
}

type pausedHandler struct {
	transport.Handler
	p *pauser
}

func (h *pausedHandler) HandleMessages(from uint64, msgs []transport.GroupMessage) {
	if !h.p.paused() {
		h.Handler.HandleMessages(from, msgs)
	}
}

func (h *pausedHandler) ReceiveSnapshot(from, group uint64, m pb.Message) (transport.SnapshotSink, error) {
	if h.p.paused() {
		return nil, errPaused
	}
	return h.Handler.ReceiveSnapshot(from, group, m)
}

// transport wraps t to drop what is sent while paused; a snapshot dropped
// is reported failed to h, as transports must.
func (p *pauser) transport(t transport.Transport, h transport.Handler) transport.Transport {
	return &pausedTransport{Transport: t, p: p, h: h}
}

type pausedTransport struct {
	transport.Transport
	p *pauser
	h transport.Handler
}

func (t *pausedTransport) Send(msgs []transport.GroupMessage) {
	if !t.p.paused() {
		t.Transport.Send(msgs)
	}
}

func (t *pausedTransport) SendSnapshot(s transport.OutgoingSnapshot) {
	if !t.p.paused() {
		t.Transport.SendSnapshot(s)
		return
	}
	if s.Body != nil {
		_ = s.Body.Close()
	}
	// Not from within SendSnapshot: the host calls it from its Raft loop.
	go t.h.ReportSnapshot(s.Message.To, s.Group, errPaused)
}
