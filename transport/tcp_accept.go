package transport

import (
	"bufio"
	"errors"
	"io"
	"log/slog"
	"net"
)

// readBufferBytes is the read buffer of an accepted connection.
const readBufferBytes = 64 << 10

func newReader(r io.Reader) *bufio.Reader { return bufio.NewReaderSize(r, readBufferBytes) }

// serveConn runs an accepted connection: the handshakes, then receiving
// batches or one snapshot stream until the connection ends.
func (t *TCP) serveConn(raw net.Conn) {
	defer t.wg.Done()
	var key streamKey
	defer func() {
		raw.Close()
		t.untrack(raw, key)
	}()
	remote := raw.RemoteAddr().String()
	conn, fr, h, err := t.acceptHandshake(raw)
	if err != nil {
		if t.ctx.Err() == nil {
			t.obs.HandshakeFailed(h.from, Incoming, err)
			t.log.Warn("transport: refused a connection", "remote", remote, "claimed_peer", h.from, "err", err)
		}
		return
	}
	log := t.log.With("peer", h.from, "class", h.class, "remote", remote)
	t.obs.ConnectionUp(h.from, h.class, Incoming)
	if h.class == ClassSnapshot {
		err = t.receiveSnapshot(conn, fr, h.from)
		t.releaseSnapshotReceive()
	} else {
		key = streamKey{h.from, h.class}
		t.replaceStream(key, raw)
		err = t.receiveBatches(fr, h.from, h.class, log)
	}
	switch {
	case t.ctx.Err() != nil:
		err = nil
	case errors.Is(err, ErrMalformed):
		log.Warn("transport: closing connection", "err", err)
	case err != nil:
		log.Info("transport: connection ended", "err", err)
	}
	t.obs.ConnectionDown(h.from, h.class, Incoming, err)
}

// receiveBatches reads Batch frames from peer and hands the messages that
// pass the receive checks to the Handler. It returns nil when the peer
// closes the connection between frames.
func (t *TCP) receiveBatches(fr *frameReader, peer uint64, c Class, log *slog.Logger) error {
	var msgs []GroupMessage
	var rejected [rejectReasons]int
	var logged [rejectReasons]bool
	maxPayload := t.cfg.MaxFrameBytes - frameHeaderBytes
	for {
		kind, p, err := fr.next(maxPayload)
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		if kind != kindBatch {
			return malformed("frame kind 0x%02x on a %s connection", kind, c)
		}
		msgs, err = decodeBatch(p, t.cfg.MaxMessageBytes, msgs[:0])
		if err != nil {
			return err
		}
		t.obs.MessagesReceived(peer, c, len(msgs), frameHeaderBytes+len(p))
		kept := filterReceived(t.cfg.NodeID, peer, t.cfg.Handler, msgs, &rejected)
		for r, n := range rejected {
			if n == 0 {
				continue
			}
			t.obs.MessagesRejected(peer, RejectReason(r), n)
			if !logged[r] { // once per connection and reason; the Observer counts the rest
				log.Warn("transport: rejected messages", "reason", RejectReason(r), "count", n)
				logged[r] = true
			}
			rejected[r] = 0
		}
		if len(kept) > 0 {
			t.cfg.Handler.HandleMessages(peer, kept)
		}
		clear(kept)
	}
}
