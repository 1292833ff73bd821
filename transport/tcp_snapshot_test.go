package transport

import (
	"context"
	"errors"
	"hash/crc32"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	pb "github.com/pontoon-raft/raft/raftpb"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// firstSnapshotReport waits for n's first snapshot outcome.
func firstSnapshotReport(t *testing.T, n *tcpNode) snapshotReport {
	t.Helper()
	n.r.waitFor(t, "a snapshot outcome", func() bool { return len(n.r.snapshotReports()) > 0 })
	return n.r.snapshotReports()[0]
}

func TestTCPSnapshotStreamed(t *testing.T) {
	n1, n2 := pairTCP(t, TCPConfig{SnapshotChunkBytes: 64 << 10})
	const size = 3<<20 + 12345
	b := &patternBody{size: size}
	m := snapMsg(4, 1, 2, 77)
	var storedWhenDelivered int
	n2.r.onMessages = func(_ uint64, msgs []GroupMessage) {
		if msgs[0].Message.Type == pb.MsgSnap {
			n2.r.mu.Lock()
			storedWhenDelivered = len(n2.r.stored[4])
			n2.r.mu.Unlock()
		}
	}
	n1.SendSnapshot(OutgoingSnapshot{Group: 4, Message: m, Body: b})
	r := firstSnapshotReport(t, n1)
	require.NoError(t, r.err)
	assert.Equal(t, snapshotReport{to: 2, group: 4}, r)
	assert.Equal(t, int32(1), b.closes.Load())

	got := n2.r.messages()
	require.Len(t, got, 1)
	assert.Equal(t, GroupMessage{Group: 4, Message: m}, got[0].gm)
	assert.Equal(t, size, storedWhenDelivered, "the body is stored before the MsgSnap is handed over")
	want := &patternBody{size: size}
	wantBytes := make([]byte, size)
	_, _ = want.Read(wantBytes)
	assert.Equal(t, crc32.Checksum(wantBytes, castagnoli), crc32.Checksum(n2.r.stored[4], castagnoli))
	n1.obs.read(func(o *countingObserver) { assert.Equal(t, []error{nil}, o.snapshotsFinished) })
}

func TestTCPSnapshotViaSend(t *testing.T) {
	n1, n2 := pairTCP(t, TCPConfig{})
	n1.Send([]GroupMessage{heartbeat(3, 1, 2), {Group: 3, Message: snapMsg(3, 1, 2, 9)}, heartbeat(3, 1, 2)})
	require.NoError(t, firstSnapshotReport(t, n1).err)
	n2.r.waitFor(t, "all three", func() bool { return len(n2.r.messages()) == 3 })
	assert.Empty(t, n2.r.stored[3])
}

func TestTCPSnapshotFailures(t *testing.T) {
	errDisk := errors.New("disk full")
	tests := []struct {
		name     string
		sender   TCPConfig
		receiver TCPConfig
		prepare  func(r2 *recorder)
		snap     func() OutgoingSnapshot
		want     error
		aborted  bool
	}{
		{name: "receiver refuses", prepare: func(r2 *recorder) { r2.refuseSnapshot = errDisk }, want: ErrRefused},
		{name: "sink close fails", prepare: func(r2 *recorder) { r2.failClose = errDisk }, want: ErrRefused},
		{name: "unknown group", prepare: func(r2 *recorder) { r2.maxGroup = 1 }, snap: func() OutgoingSnapshot {
			return OutgoingSnapshot{Group: 2, Message: snapMsg(2, 1, 2, 5), Body: &body{}}
		}, want: ErrRefused},
		{name: "forged sender", snap: func() OutgoingSnapshot {
			return OutgoingSnapshot{Group: 1, Message: snapMsg(1, 3, 2, 5), Body: &body{}}
		}, want: ErrRefused},
		{name: "larger than the receiver takes", receiver: TCPConfig{MaxSnapshotBytes: 100 << 10}, want: ErrSnapshotTooLarge, aborted: true},
		{name: "larger than the sender sends", sender: TCPConfig{MaxSnapshotBytes: 100 << 10}, want: ErrSnapshotTooLarge, aborted: true},
		{name: "body read fails", snap: func() OutgoingSnapshot {
			return OutgoingSnapshot{Group: 1, Message: snapMsg(1, 1, 2, 5), Body: &body{data: make([]byte, 1000), readErr: errDisk}}
		}, want: errDisk, aborted: true},
		{name: "not a MsgSnap", snap: func() OutgoingSnapshot {
			return OutgoingSnapshot{Group: 1, Message: heartbeat(1, 1, 2).Message, Body: &body{}}
		}, want: ErrInvalidSnapshot},
		{name: "unknown node", snap: func() OutgoingSnapshot {
			return OutgoingSnapshot{Group: 1, Message: snapMsg(1, 1, 9, 5), Body: &body{}}
		}, want: ErrUnknownPeer},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg2 := tt.receiver
			cfg2.NodeID = 2
			n2 := startTCP(t, cfg2)
			if tt.prepare != nil {
				tt.prepare(n2.r)
			}
			cfg1 := tt.sender
			cfg1.NodeID = 1
			cfg1.Peers = map[uint64]string{2: n2.addr}
			n1 := startTCP(t, cfg1)
			s := OutgoingSnapshot{Group: 1, Message: snapMsg(1, 1, 2, 5), Body: &patternBody{size: 1 << 20}}
			if tt.snap != nil {
				s = tt.snap()
			}
			n1.SendSnapshot(s)
			r := firstSnapshotReport(t, n1)
			assert.ErrorIs(t, r.err, tt.want)
			assert.Equal(t, s.Group, r.group)
			if tt.aborted {
				n2.r.waitFor(t, "the sink aborted", func() bool {
					n2.r.mu.Lock()
					defer n2.r.mu.Unlock()
					return len(n2.r.aborted) == 1
				})
			}
			assert.Empty(t, n2.r.messages(), "a failed snapshot is never stepped")
			switch b := s.Body.(type) {
			case *body:
				assert.Equal(t, int32(1), b.closes.Load())
			case *patternBody:
				assert.Equal(t, int32(1), b.closes.Load())
			}
		})
	}
}

// corruptingDialer flips a bit in every snapshot chunk written on the
// connections it dials (plaintext only).
func corruptingDialer(ctx context.Context, addr string) (net.Conn, error) {
	var d net.Dialer
	c, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, err
	}
	return &corruptingConn{Conn: c}, nil
}

type corruptingConn struct{ net.Conn }

func (c *corruptingConn) Write(p []byte) (int, error) {
	if len(p) > frameHeaderBytes && p[4] == kindSnapChunk {
		q := append([]byte(nil), p...)
		q[len(q)-1] ^= 1
		p = q
	}
	return c.Conn.Write(p)
}

func TestTCPSnapshotChecksumMismatch(t *testing.T) {
	n2 := startTCP(t, TCPConfig{NodeID: 2})
	n1 := startTCP(t, TCPConfig{NodeID: 1, Dial: corruptingDialer, Peers: map[uint64]string{2: n2.addr}})
	n1.SendSnapshot(OutgoingSnapshot{Group: 1, Message: snapMsg(1, 1, 2, 5), Body: &patternBody{size: 300 << 10}})
	assert.ErrorIs(t, firstSnapshotReport(t, n1).err, ErrChecksumMismatch)
	n2.r.waitFor(t, "the sink aborted", func() bool {
		n2.r.mu.Lock()
		defer n2.r.mu.Unlock()
		return len(n2.r.aborted) == 1 && errors.Is(n2.r.aborted[0], ErrChecksumMismatch)
	})
	assert.Empty(t, n2.r.messages())
}

// blockingHandler makes every sink block in Write until release is
// closed, and signals started once per sink.
type blockingHandler struct {
	*recorder
	started chan struct{}
	release chan struct{}
}

func (h *blockingHandler) ReceiveSnapshot(from, group uint64, m pb.Message) (SnapshotSink, error) {
	s, err := h.recorder.ReceiveSnapshot(from, group, m)
	if err != nil {
		return nil, err
	}
	return &blockingSink{SnapshotSink: s, h: h}, nil
}

type blockingSink struct {
	SnapshotSink
	h    *blockingHandler
	once sync.Once
}

func (s *blockingSink) Write(p []byte) (int, error) {
	s.once.Do(func() {
		s.h.started <- struct{}{}
		<-s.h.release
	})
	return s.SnapshotSink.Write(p)
}

func TestTCPSnapshotStreamsBounded(t *testing.T) {
	tests := []struct {
		name             string
		sends, receives  int
		wantBusyFromPeer bool
	}{
		{name: "sender bound", sends: 2, receives: 8},
		{name: "receiver bound", sends: 8, receives: 2, wantBusyFromPeer: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := &blockingHandler{recorder: newRecorder(), started: make(chan struct{}, 8), release: make(chan struct{})}
			n2 := startTCP(t, TCPConfig{NodeID: 2, Handler: h, MaxSnapshotReceives: tt.receives})
			n1 := startTCP(t, TCPConfig{NodeID: 1, MaxSnapshotSends: tt.sends, Peers: map[uint64]string{2: n2.addr}})
			for g := uint64(1); g <= 2; g++ {
				n1.SendSnapshot(OutgoingSnapshot{Group: g, Message: snapMsg(g, 1, 2, 5), Body: &patternBody{size: 10}})
				<-h.started
			}
			n1.SendSnapshot(OutgoingSnapshot{Group: 3, Message: snapMsg(3, 1, 2, 5), Body: &patternBody{size: 10}})
			r := firstSnapshotReport(t, n1)
			assert.Equal(t, uint64(3), r.group)
			require.ErrorIs(t, r.err, ErrBusy)
			assert.Equal(t, tt.wantBusyFromPeer, strings.Contains(r.err.Error(), "peer says"), "refused by: %v", r.err)
			close(h.release)
			n1.r.waitFor(t, "the two streams", func() bool { return len(n1.r.snapshotReports()) == 3 })
			for _, r := range n1.r.snapshotReports()[1:] {
				assert.NoError(t, r.err)
			}
		})
	}
}

func TestTCPHeartbeatsFlowDuringSnapshot(t *testing.T) {
	h := &blockingHandler{recorder: newRecorder(), started: make(chan struct{}, 1), release: make(chan struct{})}
	n2 := startTCP(t, TCPConfig{NodeID: 2, Handler: h})
	n1 := startTCP(t, TCPConfig{NodeID: 1, Peers: map[uint64]string{2: n2.addr}})
	n1.SendSnapshot(OutgoingSnapshot{Group: 1, Message: snapMsg(1, 1, 2, 5), Body: &patternBody{size: 4 << 20}})
	<-h.started // the snapshot stream is stuck in the receiver's sink
	for i := 0; i < 10; i++ {
		n1.Send([]GroupMessage{heartbeat(1, 1, 2), appendMsg(1, 1, 2, uint64(i+1), 100)})
	}
	h.waitFor(t, "heartbeats and appends", func() bool { return len(h.messages()) == 20 })
	close(h.release)
	require.NoError(t, firstSnapshotReport(t, n1).err)
}

func TestTCPSnapshotPaced(t *testing.T) {
	clock := newFakeClock()
	n2 := startTCP(t, TCPConfig{NodeID: 2})
	n1 := startTCP(t, TCPConfig{NodeID: 1, Clock: clock, SnapshotChunkBytes: 16 << 10, SnapshotBytesPerSecond: 64 << 10,
		Peers: map[uint64]string{2: n2.addr}})
	n1.SendSnapshot(OutgoingSnapshot{Group: 1, Message: snapMsg(1, 1, 2, 5), Body: &patternBody{size: 64 << 10}})
	// The first chunk goes at once (the bucket holds one chunk); each
	// further chunk waits 16 KiB / (64 KiB/s).
	for chunk := 2; chunk <= 4; chunk++ {
		waits := clock.waitTimers(t, 1)
		assert.Equal(t, []time.Duration{250 * time.Millisecond}, waits, "chunk %d", chunk)
		assert.Empty(t, n1.r.snapshotReports())
		clock.Advance(250 * time.Millisecond)
	}
	require.NoError(t, firstSnapshotReport(t, n1).err)
	assert.Len(t, n2.r.stored[1], 64<<10)
}

func TestRateLimiter(t *testing.T) {
	start := time.Unix(100, 0)
	l := newRateLimiter(1000, 500, start)
	assert.Equal(t, time.Duration(0), l.reserve(start, 500), "the burst is free")
	assert.Equal(t, 500*time.Millisecond, l.reserve(start, 500), "then 1000 B/s")
	assert.Equal(t, time.Second, l.reserve(start.Add(500*time.Millisecond), 1000), "debt is paid first")
	assert.Equal(t, time.Duration(0), l.reserve(start.Add(time.Hour), 500), "the bucket refills up to the burst only")
	assert.Equal(t, 500*time.Millisecond, l.reserve(start.Add(time.Hour), 500))
	assert.Equal(t, time.Second, l.reserve(start.Add(time.Hour-time.Second), 500), "a clock going back earns nothing")
}
