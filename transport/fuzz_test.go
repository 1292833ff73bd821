package transport

import (
	"bytes"
	"errors"
	"io"
	"net"
	"testing"
	"time"

	pb "github.com/pontoon-raft/raft/raftpb"
	"github.com/stretchr/testify/require"
)

// Fuzz targets for everything that parses bytes from a peer. Their seed
// corpora live in testdata/fuzz/<FuzzName>/ and run with plain go test;
// TestFuzzCorpusUpToDate regenerates them with -update-fuzz-corpus.

func FuzzFrameReader(f *testing.F) {
	f.Fuzz(func(t *testing.T, stream []byte) {
		const limit = 1 << 10
		fr := frameReader{r: bytes.NewReader(stream)}
		read := 0
		for {
			_, p, err := fr.next(limit)
			if err != nil {
				if !errors.Is(err, io.EOF) && !errors.Is(err, io.ErrUnexpectedEOF) && !errors.Is(err, ErrMalformed) {
					t.Fatalf("unexpected error class: %v", err)
				}
				return
			}
			if len(p) > limit {
				t.Fatalf("payload of %d bytes passed the limit of %d", len(p), limit)
			}
			read += frameHeaderBytes + len(p)
			if read > len(stream) {
				t.Fatalf("read %d bytes of a %d-byte stream", read, len(stream))
			}
		}
	})
}

func FuzzDecodeBatch(f *testing.F) {
	f.Fuzz(func(t *testing.T, payload []byte) {
		msgs, err := decodeBatch(payload, 1<<16, nil)
		if err != nil {
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("error does not wrap ErrMalformed: %v", err)
			}
			return
		}
		// What decodes must encode and decode to the same messages.
		var again []byte
		for i := range msgs {
			again = appendBatchMessage(again, msgs[i].Group, &msgs[i].Message, msgs[i].Message.Size())
		}
		back, err := decodeBatch(again, 1<<20, nil)
		require.NoError(t, err)
		require.Equal(t, msgs, back)
	})
}

func FuzzDecodeHandshake(f *testing.F) {
	f.Fuzz(func(t *testing.T, payload []byte) {
		if h, err := decodeHello(payload); err == nil && h.version == EnvelopeVersion {
			again := appendHello(nil, h)
			require.Equal(t, payload, again[frameHeaderBytes:], "a valid hello re-encodes to its bytes")
		} else if err != nil && !errors.Is(err, ErrMalformed) {
			t.Fatalf("error does not wrap ErrMalformed: %v", err)
		}
		if a, err := decodeHelloAck(payload); err == nil {
			_ = refusal(a.status, a.reason)
		} else if !errors.Is(err, ErrMalformed) {
			t.Fatalf("error does not wrap ErrMalformed: %v", err)
		}
		if s, reason, err := decodeVerdict(payload); err == nil {
			_ = refusal(s, reason)
		}
		_, _, _ = decodeSnapHeader(payload)
		_, _, _ = decodeSnapEnd(payload)
	})
}

// FuzzAcceptStream feeds arbitrary bytes to the listener's side of a
// connection: the handshake, then batches or a snapshot stream, whichever
// class the Hello asks for. Nothing may panic, and nothing the checks
// reject may reach the Handler.
func FuzzAcceptStream(f *testing.F) {
	h := &checkingHandler{self: 2}
	tr, err := NewTCP(TCPConfig{NodeID: 2, ClusterID: 9, Handler: h, Logger: discardLogger(),
		MaxMessageBytes: 1 << 12, MaxFrameBytes: 1 << 13, SnapshotChunkBytes: 1 << 10, MaxSnapshotBytes: 1 << 14})
	require.NoError(f, err)
	f.Cleanup(func() { tr.Close() })
	f.Fuzz(func(t *testing.T, stream []byte) {
		conn := &fuzzConn{r: bytes.NewReader(stream)}
		c, fr, hl, err := tr.acceptHandshake(conn)
		if err != nil {
			return
		}
		h.peer = hl.from
		if hl.class == ClassSnapshot {
			_ = tr.receiveSnapshot(c, fr, hl.from)
			tr.releaseSnapshotReceive()
			return
		}
		_ = tr.receiveBatches(fr, hl.from, hl.class, discardLogger())
	})
}

// checkingHandler fails the fuzz run if a message that should have been
// rejected is delivered; it keeps nothing.
type checkingHandler struct {
	self, peer uint64
}

func (h *checkingHandler) HandleMessages(from uint64, msgs []GroupMessage) {
	for _, gm := range msgs {
		m := gm.Message
		if from != h.peer || m.From != from || m.To != h.self || !IsNetworkType(m.Type) || gm.Group > 1000 {
			panic("a message that breaks the receive checks was delivered")
		}
		if m.Type == pb.MsgSnap && len(msgs) != 1 {
			panic("a MsgSnap arrived outside its stream")
		}
	}
}

func (h *checkingHandler) HasGroup(group uint64) bool { return group <= 1000 }

func (h *checkingHandler) ReceiveSnapshot(uint64, uint64, pb.Message) (SnapshotSink, error) {
	return &discardSink{}, nil
}

func (h *checkingHandler) ReportUnreachable(uint64, []uint64)   {}
func (h *checkingHandler) ReportSnapshot(uint64, uint64, error) {}

type discardSink struct{ n int }

func (s *discardSink) Write(p []byte) (int, error) { s.n += len(p); return len(p), nil }
func (s *discardSink) Close() error                { return nil }
func (s *discardSink) Abort(error)                 {}

// fuzzConn is a net.Conn that reads a fixed stream and discards writes.
type fuzzConn struct{ r *bytes.Reader }

func (c *fuzzConn) Read(p []byte) (int, error)       { return c.r.Read(p) }
func (c *fuzzConn) Write(p []byte) (int, error)      { return len(p), nil }
func (c *fuzzConn) Close() error                     { return nil }
func (c *fuzzConn) LocalAddr() net.Addr              { return &net.TCPAddr{} }
func (c *fuzzConn) RemoteAddr() net.Addr             { return &net.TCPAddr{} }
func (c *fuzzConn) SetDeadline(time.Time) error      { return nil }
func (c *fuzzConn) SetReadDeadline(time.Time) error  { return nil }
func (c *fuzzConn) SetWriteDeadline(time.Time) error { return nil }
