package transport

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	pb "github.com/pontoon-raft/raft/raftpb"
)

// recorder is a Handler that records everything, safe for concurrent use.
// Groups up to maxGroup exist (0 means every group exists).
type recorder struct {
	maxGroup uint64

	mu          sync.Mutex
	got         []delivered
	unreachable []unreachableReport
	snapshots   []snapshotReport
	stored      map[uint64][]byte // group -> snapshot body stored by Close
	aborted     []error
	// refuseSnapshot, if set, is returned by ReceiveSnapshot.
	refuseSnapshot error
	// failClose, if set, is returned by sink Close.
	failClose error
	// onMessages, if set, runs (outside the lock) for each delivery.
	onMessages func(from uint64, msgs []GroupMessage)
	changed    chan struct{} // capacity 1: something was recorded
	batches    int
}

type delivered struct {
	from uint64
	gm   GroupMessage
	// batch numbers HandleMessages calls, so tests can see batching.
	batch int
}

type unreachableReport struct {
	to     uint64
	groups []uint64
}

type snapshotReport struct {
	to, group uint64
	err       error
}

func newRecorder() *recorder {
	return &recorder{stored: map[uint64][]byte{}, changed: make(chan struct{}, 1)}
}

func (r *recorder) notify() {
	select {
	case r.changed <- struct{}{}:
	default:
	}
}

func (r *recorder) HandleMessages(from uint64, msgs []GroupMessage) {
	r.mu.Lock()
	r.batches++
	for _, gm := range msgs {
		r.got = append(r.got, delivered{from: from, gm: gm, batch: r.batches})
	}
	hook := r.onMessages
	r.mu.Unlock()
	if hook != nil {
		hook(from, msgs)
	}
	r.notify()
}

func (r *recorder) HasGroup(group uint64) bool { return r.maxGroup == 0 || group <= r.maxGroup }

func (r *recorder) ReceiveSnapshot(from, group uint64, m pb.Message) (SnapshotSink, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.refuseSnapshot != nil {
		return nil, r.refuseSnapshot
	}
	return &recordingSink{r: r, group: group}, nil
}

func (r *recorder) ReportUnreachable(to uint64, groups []uint64) {
	r.mu.Lock()
	r.unreachable = append(r.unreachable, unreachableReport{to, groups})
	r.mu.Unlock()
	r.notify()
}

func (r *recorder) ReportSnapshot(to, group uint64, err error) {
	r.mu.Lock()
	r.snapshots = append(r.snapshots, snapshotReport{to, group, err})
	r.mu.Unlock()
	r.notify()
}

// recordingSink buffers a body and stores it in the recorder on Close.
type recordingSink struct {
	r     *recorder
	group uint64
	buf   bytes.Buffer
	done  bool
}

func (s *recordingSink) Write(p []byte) (int, error) {
	if s.done {
		return 0, errors.New("write after Close or Abort")
	}
	return s.buf.Write(p)
}

func (s *recordingSink) Close() error {
	if s.done {
		panic("sink closed twice")
	}
	s.done = true
	s.r.mu.Lock()
	defer s.r.mu.Unlock()
	if s.r.failClose != nil {
		return s.r.failClose
	}
	s.r.stored[s.group] = s.buf.Bytes()
	return nil
}

func (s *recordingSink) Abort(err error) {
	if s.done {
		panic("sink aborted after Close or Abort")
	}
	s.done = true
	s.r.mu.Lock()
	s.r.aborted = append(s.r.aborted, err)
	s.r.mu.Unlock()
}

func (r *recorder) messages() []delivered {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]delivered(nil), r.got...)
}

func (r *recorder) unreachables() []unreachableReport {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]unreachableReport(nil), r.unreachable...)
}

func (r *recorder) snapshotReports() []snapshotReport {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]snapshotReport(nil), r.snapshots...)
}

// waitFor polls cond after every recorded event until it holds or the
// deadline passes; it never sleeps a fixed time.
func (r *recorder) waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.NewTimer(20 * time.Second)
	defer deadline.Stop()
	poll := time.NewTicker(20 * time.Millisecond) // events outside the recorder (e.g. observer) have no signal
	defer poll.Stop()
	for !cond() {
		select {
		case <-r.changed:
		case <-poll.C:
		case <-deadline.C:
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}

// heartbeat returns a heartbeat of group from node from to node to.
func heartbeat(group, from, to uint64) GroupMessage {
	return GroupMessage{Group: group, Message: pb.Message{Type: pb.MsgHeartbeat, From: from, To: to, Term: 1}}
}

// appendMsg returns a MsgApp of group carrying entry index with a payload
// of size bytes.
func appendMsg(group, from, to, index uint64, size int) GroupMessage {
	data := bytes.Repeat([]byte{byte(index)}, size)
	return GroupMessage{Group: group, Message: pb.Message{
		Type: pb.MsgApp, From: from, To: to, Term: 1, Index: index - 1, LogTerm: 1, Commit: index - 1,
		Entries: []pb.Entry{{Term: 1, Index: index, Data: data}},
	}}
}

// snapMsg returns a MsgSnap of group at index with descriptor data.
func snapMsg(group, from, to, index uint64) pb.Message {
	return pb.Message{Type: pb.MsgSnap, From: from, To: to, Term: 2, Snapshot: &pb.Snapshot{
		Data:     []byte(fmt.Sprintf("descriptor of group %d at %d", group, index)),
		Metadata: pb.SnapshotMetadata{Index: index, Term: 2, ConfState: pb.ConfState{Voters: []uint64{1, 2, 3}}},
	}}
}

// countingObserver counts events, safe for concurrent use.
type countingObserver struct {
	NopObserver
	mu                 sync.Mutex
	sent, received     int
	dropped            map[DropReason]int
	rejected           map[RejectReason]int
	up                 map[Class]int
	handshakeFailures  []error
	snapshotsFinished  []error
	maxQueueDepth      int
	connectionsDownErr []error
}

func newCountingObserver() *countingObserver {
	return &countingObserver{dropped: map[DropReason]int{}, rejected: map[RejectReason]int{}, up: map[Class]int{}}
}

func (o *countingObserver) MessagesSent(_ uint64, _ Class, n, _ int) {
	o.mu.Lock()
	o.sent += n
	o.mu.Unlock()
}

func (o *countingObserver) MessagesReceived(_ uint64, _ Class, n, _ int) {
	o.mu.Lock()
	o.received += n
	o.mu.Unlock()
}

func (o *countingObserver) QueueDepth(_ uint64, _ Class, n, _ int) {
	o.mu.Lock()
	o.maxQueueDepth = max(o.maxQueueDepth, n)
	o.mu.Unlock()
}

func (o *countingObserver) MessagesDropped(_ uint64, r DropReason, n int) {
	o.mu.Lock()
	o.dropped[r] += n
	o.mu.Unlock()
}

func (o *countingObserver) MessagesRejected(_ uint64, r RejectReason, n int) {
	o.mu.Lock()
	o.rejected[r] += n
	o.mu.Unlock()
}

func (o *countingObserver) ConnectionUp(_ uint64, c Class, d Direction) {
	o.mu.Lock()
	if d == Outgoing {
		o.up[c]++
	}
	o.mu.Unlock()
}

func (o *countingObserver) ConnectionDown(_ uint64, _ Class, _ Direction, err error) {
	o.mu.Lock()
	o.connectionsDownErr = append(o.connectionsDownErr, err)
	o.mu.Unlock()
}

func (o *countingObserver) HandshakeFailed(_ uint64, _ Direction, err error) {
	o.mu.Lock()
	o.handshakeFailures = append(o.handshakeFailures, err)
	o.mu.Unlock()
}

func (o *countingObserver) SnapshotFinished(_ uint64, _ Direction, _ int64, err error) {
	o.mu.Lock()
	o.snapshotsFinished = append(o.snapshotsFinished, err)
	o.mu.Unlock()
}

// read runs f under the observer's lock.
func (o *countingObserver) read(f func(o *countingObserver)) {
	o.mu.Lock()
	defer o.mu.Unlock()
	f(o)
}

// body is a snapshot body of given bytes that counts its Close calls.
type body struct {
	data    []byte
	off     int
	readErr error // returned once data is exhausted, instead of io.EOF
	closes  atomic.Int32
}

func (b *body) Read(p []byte) (int, error) {
	if b.off == len(b.data) {
		if b.readErr != nil {
			return 0, b.readErr
		}
		return 0, io.EOF
	}
	n := copy(p, b.data[b.off:])
	b.off += n
	return n, nil
}

func (b *body) Close() error {
	b.closes.Add(1)
	return nil
}

// patternBody is a body of size bytes generated on the fly, so a large
// snapshot is never held in memory by the test either.
type patternBody struct {
	size, off int64
	closes    atomic.Int32
}

func (b *patternBody) Read(p []byte) (int, error) {
	if b.off == b.size {
		return 0, io.EOF
	}
	n := int(min(int64(len(p)), b.size-b.off))
	for i := range p[:n] {
		p[i] = byte((b.off + int64(i)) % 251)
	}
	b.off += int64(n)
	return n, nil
}

func (b *patternBody) Close() error {
	b.closes.Add(1)
	return nil
}
