package transport

import (
	"context"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"net"
	"time"

	pb "github.com/pontoon-raft/raft/raftpb"
)

// SendSnapshot implements Transport. Each snapshot gets a connection of its
// own, so neither the body nor the receiver's storage of it holds up
// messages. At most MaxSnapshotSends run at once; more are refused
// (reported as failed, with ErrBusy) and Raft retries them later.
func (t *TCP) SendSnapshot(s OutgoingSnapshot) {
	to := s.Message.To
	var err error
	switch {
	case s.Message.Type != pb.MsgSnap || s.Message.Snapshot == nil:
		err = fmt.Errorf("%w: got %v", ErrInvalidSnapshot, s.Message.Type)
	case s.Message.Size() > t.cfg.MaxMessageBytes:
		err = fmt.Errorf("%w: MsgSnap of %d bytes, limit %d", ErrMessageTooLarge, s.Message.Size(), t.cfg.MaxMessageBytes)
	}
	t.mu.Lock()
	if t.closed.Load() {
		t.mu.Unlock()
		closeBody(s.Body)
		return
	}
	p := (*t.peers.Load())[to]
	switch {
	case err != nil:
	case p == nil:
		err = fmt.Errorf("%w: node %d", ErrUnknownPeer, to)
	case t.snapSends >= t.cfg.MaxSnapshotSends:
		err = fmt.Errorf("%w: %d outgoing already", ErrBusy, t.snapSends)
	default:
		t.snapSends++
		t.wg.Add(1)
	}
	t.mu.Unlock()
	if err != nil {
		closeBody(s.Body)
		t.obs.SnapshotFinished(to, Outgoing, 0, err)
		t.log.Warn("transport: snapshot not sent", "peer", to, "group", s.Group, "err", err)
		t.reports.addSnapshot(to, s.Group, err)
		return
	}
	go t.sendSnapshot(p.addr, s)
}

// sendSnapshot runs one outgoing snapshot stream and reports its outcome.
// The body is closed and the stream's slot freed before the report, so a
// Handler may send the next snapshot from ReportSnapshot.
func (t *TCP) sendSnapshot(addr string, s OutgoingSnapshot) {
	defer t.wg.Done()
	to := s.Message.To
	t.obs.SnapshotStarted(to, Outgoing)
	n, err := t.streamSnapshot(addr, s)
	closeBody(s.Body)
	t.mu.Lock()
	t.snapSends--
	t.mu.Unlock()
	if t.ctx.Err() != nil {
		t.obs.SnapshotFinished(to, Outgoing, n, ErrClosed)
		return
	}
	t.obs.SnapshotFinished(to, Outgoing, n, err)
	if err != nil {
		t.log.Warn("transport: snapshot failed", "peer", to, "group", s.Group, "sent_bytes", n, "err", err)
	}
	t.cfg.Handler.ReportSnapshot(to, s.Group, err)
}

// streamSnapshot sends the header, waits for the receiver to accept, sends
// the body in chunks and the end frame, and waits for the outcome. It
// returns the body bytes sent. TCP's flow control paces the body: a write
// blocks while the receiver's sink is slow, up to SnapshotIdleTimeout.
func (t *TCP) streamSnapshot(addr string, s OutgoingSnapshot) (int64, error) {
	to := s.Message.To
	conn, err := t.dial(t.ctx, to, addr, ClassSnapshot)
	if err != nil {
		return 0, err
	}
	defer conn.Close()
	stop := context.AfterFunc(t.ctx, func() { conn.Close() })
	defer stop()
	idle := t.cfg.SnapshotIdleTimeout

	header := appendSnapHeader(nil, s.Group, &s.Message, s.Message.Size())
	if err := writeWithin(conn, header, idle); err != nil {
		return 0, fmt.Errorf("%w: sending snapshot header: %v", ErrUnreachable, err)
	}
	fr := frameReader{r: conn}
	if err := conn.SetReadDeadline(time.Now().Add(idle)); err != nil {
		return 0, err
	}
	if v := readVerdict(&fr, kindSnapAccept); v.err != nil {
		return 0, v.err
	}
	if err := conn.SetReadDeadline(time.Time{}); err != nil {
		return 0, err
	}
	// The receiver may give up before the end (size limit, its disk); it
	// says why at once, and a reader of its own hears it while the body is
	// still being written.
	outcome := make(chan verdict, 1)
	t.wg.Add(1)
	go func() {
		defer t.wg.Done()
		outcome <- readVerdict(&fr, kindSnapOutcome)
	}()
	failed := func(total int64, writeErr error) (int64, error) {
		_ = conn.SetReadDeadline(time.Now().Add(idle))
		if v := <-outcome; v.fromPeer {
			return total, v.err
		}
		return total, fmt.Errorf("%w: sending the snapshot: %v", ErrUnreachable, writeErr)
	}

	buf := make([]byte, frameHeaderBytes+t.cfg.SnapshotChunkBytes)
	var total int64
	var crc uint32
	for body := s.Body; body != nil; {
		select {
		case v := <-outcome:
			if v.err == nil {
				return total, malformed("snapshot outcome before the end of the body")
			}
			return total, v.err
		default:
		}
		k, rerr := io.ReadFull(body, buf[frameHeaderBytes:])
		if k > 0 {
			if total+int64(k) > t.cfg.MaxSnapshotBytes {
				return total, fmt.Errorf("%w: the body exceeds %d bytes", ErrSnapshotTooLarge, t.cfg.MaxSnapshotBytes)
			}
			if err := t.paceSnapshot(k); err != nil {
				return total, err
			}
			crc = crc32.Update(crc, castagnoli, buf[frameHeaderBytes:frameHeaderBytes+k])
			frame, start := beginFrame(buf[:0], kindSnapChunk)
			frame = frame[:frameHeaderBytes+k]
			endFrame(frame, start)
			if err := writeWithin(conn, frame, idle); err != nil {
				return failed(total, err)
			}
			total += int64(k)
		}
		if errors.Is(rerr, io.EOF) || errors.Is(rerr, io.ErrUnexpectedEOF) {
			break
		}
		if rerr != nil {
			return total, fmt.Errorf("transport: reading snapshot body: %w", rerr)
		}
	}
	if err := writeWithin(conn, appendSnapEnd(nil, uint64(total), crc), idle); err != nil {
		return failed(total, err)
	}
	if err := conn.SetReadDeadline(time.Now().Add(idle)); err != nil {
		return total, err
	}
	return total, (<-outcome).err
}

// paceSnapshot waits until n more body bytes may be sent under
// SnapshotBytesPerSecond.
func (t *TCP) paceSnapshot(n int) error {
	if t.snapshotRate == nil {
		return nil
	}
	d := t.snapshotRate.reserve(t.cfg.Clock.Now(), n)
	if d <= 0 {
		return nil
	}
	select {
	case <-t.cfg.Clock.After(d):
		return nil
	case <-t.ctx.Done():
		return ErrClosed
	}
}

// writeWithin writes b with a deadline of timeout from now.
func writeWithin(conn net.Conn, b []byte, timeout time.Duration) error {
	if err := conn.SetWriteDeadline(time.Now().Add(timeout)); err != nil {
		return err
	}
	_, err := conn.Write(b)
	return err
}

// verdict is what readVerdict found: the receiver's answer (fromPeer),
// or why there was none.
type verdict struct {
	err      error
	fromPeer bool
}

// readVerdict reads a SnapAccept or SnapOutcome frame (kind); err is the
// receiver's refusal, or nil if it said yes.
func readVerdict(fr *frameReader, kind byte) verdict {
	k, p, err := fr.next(1 + maxReasonBytes)
	if err != nil {
		return verdict{err: fmt.Errorf("%w: waiting for the receiver: %v", ErrUnreachable, err)}
	}
	if k != kind {
		return verdict{err: malformed("frame kind 0x%02x where 0x%02x belongs", k, kind)}
	}
	s, reason, err := decodeVerdict(p)
	if err != nil {
		return verdict{err: err}
	}
	return verdict{err: refusal(s, reason), fromPeer: true}
}

func (t *TCP) acquireSnapshotReceive() bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.snapReceives >= t.cfg.MaxSnapshotReceives {
		return false
	}
	t.snapReceives++
	return true
}

func (t *TCP) releaseSnapshotReceive() {
	t.mu.Lock()
	t.snapReceives--
	t.mu.Unlock()
}

// receiveSnapshot runs an incoming snapshot stream from peer: it checks the
// header, asks the Handler for a sink, copies the body into it chunk by
// chunk, verifies length and CRC-32C, closes the sink, delivers the MsgSnap
// and tells the sender the outcome.
func (t *TCP) receiveSnapshot(conn net.Conn, fr *frameReader, peer uint64) error {
	idle := t.cfg.SnapshotIdleTimeout
	maxPayload := t.cfg.MaxFrameBytes - frameHeaderBytes
	answer := func(kind byte, verdict error) error {
		reason := ""
		if verdict != nil {
			reason = verdict.Error()
		}
		return writeWithin(conn, appendVerdict(nil, kind, statusOf(verdict), reason), idle)
	}

	if err := conn.SetReadDeadline(time.Now().Add(idle)); err != nil {
		return err
	}
	kind, p, err := fr.next(maxPayload)
	if err != nil {
		return err
	}
	if kind != kindSnapHeader {
		return malformed("frame kind 0x%02x where a snapshot header belongs", kind)
	}
	group, m, err := decodeSnapHeader(p)
	if err != nil {
		return err
	}
	reason := checkSnapshotHeader(t.cfg.NodeID, peer, &m)
	if reason == 0 && !t.cfg.Handler.HasGroup(group) {
		reason = RejectUnknownGroup
	}
	if reason != 0 {
		t.obs.MessagesRejected(peer, reason, 1)
		verdict := fmt.Errorf("%w: snapshot of group %d rejected: %s", ErrRefused, group, reason)
		_ = answer(kindSnapAccept, verdict)
		return verdict
	}
	sink, err := t.cfg.Handler.ReceiveSnapshot(peer, group, m)
	if err != nil {
		verdict := fmt.Errorf("%w: %v", ErrRefused, err)
		_ = answer(kindSnapAccept, verdict)
		return verdict
	}
	t.obs.SnapshotStarted(peer, Incoming)
	total, err := t.receiveBody(fr, conn, sink, maxPayload)
	if err == nil {
		if cerr := sink.Close(); cerr != nil {
			err = fmt.Errorf("%w: storing the snapshot: %v", ErrRefused, cerr)
		}
	} else {
		sink.Abort(err)
	}
	t.obs.SnapshotFinished(peer, Incoming, total, err)
	if err == nil {
		t.cfg.Handler.HandleMessages(peer, []GroupMessage{{Group: group, Message: m}})
	}
	aerr := answer(kindSnapOutcome, err)
	if err == nil && aerr != nil {
		// The snapshot is stored and stepped; the sender will not hear so
		// and reports a failure, after which Raft probes and moves on.
		return fmt.Errorf("sending snapshot outcome: %w", aerr)
	}
	if err != nil && aerr == nil {
		linger(conn, fr)
	}
	return err
}

// snapshotLingerTimeout bounds how long a receiver that gave up on a
// snapshot keeps reading what the sender still had in flight.
const snapshotLingerTimeout = 5 * time.Second

// linger half-closes conn and reads it empty until the sender closes it,
// so the refusal just written reaches the sender instead of being lost to
// the reset that closing a socket with unread data would send.
func linger(conn net.Conn, fr *frameReader) {
	if cw, ok := conn.(interface{ CloseWrite() error }); ok {
		_ = cw.CloseWrite()
	}
	if conn.SetReadDeadline(time.Now().Add(snapshotLingerTimeout)) == nil {
		_, _ = io.Copy(io.Discard, fr.r)
	}
}

// receiveBody copies chunks into sink until the end frame, and checks the
// length and checksum it states. It returns the body bytes received.
func (t *TCP) receiveBody(fr *frameReader, conn net.Conn, sink SnapshotSink, maxPayload int) (int64, error) {
	if err := writeWithin(conn, appendVerdict(nil, kindSnapAccept, statusOK, ""), t.cfg.SnapshotIdleTimeout); err != nil {
		return 0, fmt.Errorf("%w: accepting the snapshot: %v", ErrUnreachable, err)
	}
	var total int64
	var crc uint32
	for {
		if err := conn.SetReadDeadline(time.Now().Add(t.cfg.SnapshotIdleTimeout)); err != nil {
			return total, err
		}
		kind, p, err := fr.next(maxPayload)
		if err != nil {
			if err == io.EOF {
				err = io.ErrUnexpectedEOF
			}
			return total, fmt.Errorf("%w: snapshot stream broken: %v", ErrUnreachable, err)
		}
		switch kind {
		case kindSnapChunk:
			if len(p) == 0 {
				return total, malformed("empty snapshot chunk")
			}
			if total+int64(len(p)) > t.cfg.MaxSnapshotBytes {
				return total, fmt.Errorf("%w: more than %d bytes", ErrSnapshotTooLarge, t.cfg.MaxSnapshotBytes)
			}
			crc = crc32.Update(crc, castagnoli, p)
			if _, err := sink.Write(p); err != nil {
				return total, fmt.Errorf("%w: storing the snapshot: %v", ErrRefused, err)
			}
			total += int64(len(p))
		case kindSnapEnd:
			wantTotal, wantCRC, err := decodeSnapEnd(p)
			if err != nil {
				return total, err
			}
			if wantTotal != uint64(total) || wantCRC != crc {
				return total, fmt.Errorf("%w: received %d bytes with CRC-32C %08x, sender sent %d bytes with %08x",
					ErrChecksumMismatch, total, crc, wantTotal, wantCRC)
			}
			return total, nil
		default:
			return total, malformed("frame kind 0x%02x in a snapshot stream", kind)
		}
	}
}
