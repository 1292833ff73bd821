package transport

import (
	"bytes"
	"context"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/pontoon-raft/raft"
	pb "github.com/pontoon-raft/raft/raftpb"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// recorder collects what a Transport delivers and reports.
type recorder struct {
	mu          sync.Mutex
	got         []pb.Message
	unreachable []uint64
	snapStatus  []raft.SnapshotStatus
	dropped     int
}

func (r *recorder) config(id uint64) Config {
	return Config{
		ID:        id,
		QueueSize: 8,
		Deliver: func(_ context.Context, m pb.Message) error {
			r.mu.Lock()
			defer r.mu.Unlock()
			r.got = append(r.got, m)
			return nil
		},
		ReportUnreachable: func(id uint64) {
			r.mu.Lock()
			defer r.mu.Unlock()
			r.unreachable = append(r.unreachable, id)
		},
		ReportSnapshot: func(_ uint64, s raft.SnapshotStatus) {
			r.mu.Lock()
			defer r.mu.Unlock()
			r.snapStatus = append(r.snapStatus, s)
		},
		Dropped: func(uint64) {
			r.mu.Lock()
			defer r.mu.Unlock()
			r.dropped++
		},
		Logf: func(string, ...interface{}) {},
	}
}

func (r *recorder) received() []pb.Message {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]pb.Message(nil), r.got...)
}

// pair starts a receiver (node 2) behind an HTTP server and a sender
// (node 1) that knows it.
func pair(t *testing.T) (sender *Transport, sent, got *recorder, receiver *Transport) {
	sent, got = &recorder{}, &recorder{}
	receiver = New(got.config(2))
	srv := httptest.NewServer(receiver.Handler())
	t.Cleanup(srv.Close)
	sender = New(sent.config(1))
	sender.AddPeer(2, srv.URL)
	t.Cleanup(sender.Stop)
	return sender, sent, got, receiver
}

func TestStreamDeliversInOrder(t *testing.T) {
	sender, _, got, _ := pair(t)
	var want []pb.Message
	for i := uint64(1); i <= 5; i++ {
		m := pb.Message{Type: pb.MsgApp, From: 1, To: 2, Term: 1, Index: i,
			Entries: []pb.Entry{{Term: 1, Index: i + 1, Data: []byte("x")}}}
		want = append(want, m)
		sender.Send([]pb.Message{m})
	}
	require.Eventually(t, func() bool { return len(got.received()) == 5 }, 5*time.Second, 5*time.Millisecond)
	assert.Equal(t, want, got.received())
}

func TestSnapshotIsSentInChunksAndReported(t *testing.T) {
	sender, sent, got, _ := pair(t)
	data := bytes.Repeat([]byte("0123456789"), snapChunkBytes/4) // 2.5 chunks
	m := pb.Message{Type: pb.MsgSnap, From: 1, To: 2, Term: 3, Snapshot: &pb.Snapshot{
		Data: data, Metadata: pb.SnapshotMetadata{Index: 10, Term: 3, ConfState: pb.ConfState{Voters: []uint64{1, 2}}}}}
	sender.Send([]pb.Message{m})
	require.Eventually(t, func() bool {
		sent.mu.Lock()
		defer sent.mu.Unlock()
		return len(sent.snapStatus) == 1
	}, 5*time.Second, 5*time.Millisecond)
	assert.Equal(t, []raft.SnapshotStatus{raft.SnapshotFinish}, sent.snapStatus)
	require.Len(t, got.received(), 1)
	assert.Equal(t, m, got.received()[0])
}

func TestSnapshotBodyRejectsCorruption(t *testing.T) {
	var buf bytes.Buffer
	m := pb.Message{Type: pb.MsgSnap, To: 2, Snapshot: &pb.Snapshot{Data: []byte("state"), Metadata: pb.SnapshotMetadata{Index: 1}}}
	require.NoError(t, writeSnapshotBody(&buf, m))
	raw := buf.Bytes()
	raw[len(raw)-9] ^= 1 // the last data byte, before the end chunk and the checksum
	_, err := readSnapshotBody(bytes.NewReader(raw))
	assert.ErrorContains(t, err, "checksum")
}

func TestUnreachablePeerReportsAndDropsWhenQueueFull(t *testing.T) {
	rec := &recorder{}
	tr := New(rec.config(1))
	defer tr.Stop()
	srv := httptest.NewServer(nil)
	url := srv.URL
	srv.Close() // nothing listens there any more
	tr.AddPeer(2, url)
	for i := 0; i < 100; i++ {
		tr.Send([]pb.Message{{Type: pb.MsgHeartbeat, From: 1, To: 2}})
	}
	rec.mu.Lock()
	defer rec.mu.Unlock()
	assert.Positive(t, rec.dropped, "a bounded queue of 8 cannot hold 100 messages")
	assert.Contains(t, rec.unreachable, uint64(2))
}

func TestPauseDropsBothWays(t *testing.T) {
	sender, _, got, receiver := pair(t)
	receiver.Pause(time.Hour)
	sender.Send([]pb.Message{{Type: pb.MsgHeartbeat, From: 1, To: 2, Commit: 1}})
	sender.Pause(time.Hour)
	sender.Send([]pb.Message{{Type: pb.MsgHeartbeat, From: 1, To: 2, Commit: 2}})
	receiver.Pause(0)
	sender.Pause(0)
	sender.Send([]pb.Message{{Type: pb.MsgHeartbeat, From: 1, To: 2, Commit: 3}})
	require.Eventually(t, func() bool { return len(got.received()) >= 1 }, 5*time.Second, 5*time.Millisecond)
	for _, m := range got.received() {
		assert.NotEqual(t, uint64(2), m.Commit, "sent while the sender was paused")
	}
}
