package transport

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"net/http"
	"time"

	"github.com/pontoon-raft/raft"
	pb "github.com/pontoon-raft/raft/raftpb"
)

const (
	// snapChunkBytes is the size of one chunk of snapshot data.
	snapChunkBytes = 256 << 10
	// maxSnapBytes bounds the snapshot data a receiver accepts.
	maxSnapBytes = 1 << 30
	// snapTimeout bounds one snapshot transfer.
	snapTimeout = 30 * time.Second
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// sendSnapshot sends a MsgSnap on its own request, so a large transfer
// never holds up the message stream, and reports the outcome to raft. The
// body is: the message without its data as one frame, the data length
// (8 bytes), the data as length-prefixed chunks ending with an empty one,
// and the CRC-32C of the data.
func (p *peer) sendSnapshot(m pb.Message) {
	defer p.snapBusy.Store(false)
	status := raft.SnapshotFailure
	defer func() { p.t.cfg.ReportSnapshot(m.To, status) }()
	if p.t.Paused() {
		return
	}
	ctx, cancel := context.WithTimeout(p.ctx, snapTimeout)
	defer cancel()
	pr, pw := io.Pipe()
	go func() { pw.CloseWithError(writeSnapshotBody(pw, m)) }()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, p.url+snapshotPath, pr)
	if err != nil {
		return
	}
	resp, err := p.t.client.Do(req)
	pr.Close()
	if err != nil {
		p.t.cfg.Logf("snapshot to %d failed: %v", m.To, err)
		return
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	if resp.StatusCode != http.StatusNoContent {
		p.t.cfg.Logf("snapshot to %d refused: %s", m.To, resp.Status)
		return
	}
	status = raft.SnapshotFinish
}

func writeSnapshotBody(w io.Writer, m pb.Message) error {
	var data []byte
	head := m
	if m.Snapshot != nil {
		data = m.Snapshot.Data
		head.Snapshot = &pb.Snapshot{Metadata: m.Snapshot.Metadata}
	}
	if err := writeFrame(w, &head); err != nil {
		return err
	}
	var n [8]byte
	binary.BigEndian.PutUint64(n[:], uint64(len(data)))
	if _, err := w.Write(n[:]); err != nil {
		return err
	}
	for rest := data; ; {
		chunk := rest
		if len(chunk) > snapChunkBytes {
			chunk = chunk[:snapChunkBytes]
		}
		var l [4]byte
		binary.BigEndian.PutUint32(l[:], uint32(len(chunk)))
		if _, err := w.Write(l[:]); err != nil {
			return err
		}
		if len(chunk) == 0 {
			break
		}
		if _, err := w.Write(chunk); err != nil {
			return err
		}
		rest = rest[len(chunk):]
	}
	var sum [4]byte
	binary.BigEndian.PutUint32(sum[:], crc32.Checksum(data, castagnoli))
	_, err := w.Write(sum[:])
	return err
}

// readSnapshotBody reassembles a MsgSnap written by writeSnapshotBody and
// checks its length and checksum.
func readSnapshotBody(r io.Reader) (pb.Message, error) {
	m, err := readFrame(r)
	if err != nil {
		return pb.Message{}, err
	}
	if m.Type != pb.MsgSnap || m.Snapshot == nil {
		return pb.Message{}, fmt.Errorf("transport: snapshot request carries %s", m.Type)
	}
	var n [8]byte
	if _, err := io.ReadFull(r, n[:]); err != nil {
		return pb.Message{}, err
	}
	total := binary.BigEndian.Uint64(n[:])
	if total > maxSnapBytes {
		return pb.Message{}, fmt.Errorf("transport: snapshot of %d bytes exceeds %d", total, maxSnapBytes)
	}
	data := make([]byte, 0, total)
	for {
		var l [4]byte
		if _, err := io.ReadFull(r, l[:]); err != nil {
			return pb.Message{}, err
		}
		size := binary.BigEndian.Uint32(l[:])
		if size == 0 {
			break
		}
		if uint64(len(data))+uint64(size) > total {
			return pb.Message{}, errors.New("transport: snapshot chunks exceed the announced length")
		}
		start := len(data)
		data = data[:start+int(size)]
		if _, err := io.ReadFull(r, data[start:]); err != nil {
			return pb.Message{}, err
		}
	}
	var sum [4]byte
	if _, err := io.ReadFull(r, sum[:]); err != nil {
		return pb.Message{}, err
	}
	if uint64(len(data)) != total {
		return pb.Message{}, fmt.Errorf("transport: snapshot has %d of %d bytes", len(data), total)
	}
	if got := crc32.Checksum(data, castagnoli); got != binary.BigEndian.Uint32(sum[:]) {
		return pb.Message{}, errors.New("transport: snapshot checksum mismatch")
	}
	if total > 0 {
		m.Snapshot.Data = data
	}
	return m, nil
}

func (t *Transport) serveSnapshot(w http.ResponseWriter, r *http.Request) {
	m, err := readSnapshotBody(r.Body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	if t.Paused() {
		http.Error(w, "transport paused", http.StatusServiceUnavailable)
		return
	}
	if err := t.cfg.Deliver(r.Context(), m); err != nil {
		http.Error(w, err.Error(), http.StatusServiceUnavailable)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}
