package host

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"time"

	pb "github.com/pontoon-raft/raft/raftpb"
	"github.com/pontoon-raft/raft/transport"
	"github.com/pontoon-raft/raft/wal"
)

// A snapshot file of the host holds a header, then the state machine's
// data: the magic "PNTH", a format version byte, the length of the session
// table (uvarint) and the table (session.go). The table is replicated state,
// so it travels with the state machine's.
var snapshotMagic = [4]byte{'P', 'N', 'T', 'H'}

const snapshotFormat = 1

// maxSessionTableBytes bounds the session table a snapshot may carry.
const maxSessionTableBytes = 64 << 20

// writeSnapshot writes the snapshot of group at (term, index) to the
// snapshot store and closes src.
func (h *Host) writeSnapshot(group, term, index uint64, sessions []byte, src Snapshot) (wal.SnapshotRef, error) {
	defer src.Close()
	w, err := h.snaps.Create(group, term, index)
	if err != nil {
		return wal.SnapshotRef{}, err
	}
	bw := bufio.NewWriterSize(w, 256<<10)
	hdr := append(snapshotMagic[:len(snapshotMagic):len(snapshotMagic)], snapshotFormat)
	hdr = binary.AppendUvarint(hdr, uint64(len(sessions)))
	if _, err := bw.Write(append(hdr, sessions...)); err != nil {
		w.Abort()
		return wal.SnapshotRef{}, err
	}
	if _, err := src.WriteTo(bw); err != nil {
		w.Abort()
		return wal.SnapshotRef{}, fmt.Errorf("the state machine's snapshot: %w", err)
	}
	if err := bw.Flush(); err != nil {
		w.Abort()
		return wal.SnapshotRef{}, err
	}
	return w.Commit()
}

// errBadSnapshot reports a snapshot file whose header is not the host's.
var errBadSnapshot = errors.New("host: not a snapshot written by a host")

// readSnapshotHeader reads the header of a snapshot file, leaving r at the
// state machine's data.
func readSnapshotHeader(r io.Reader, maxSessions int) (*sessions, error) {
	var hdr [5]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		return nil, fmt.Errorf("%w: %v", errBadSnapshot, err)
	}
	if [4]byte(hdr[:4]) != snapshotMagic || hdr[4] != snapshotFormat {
		return nil, errBadSnapshot
	}
	n, err := binary.ReadUvarint(byteReader{r})
	if err != nil || n > maxSessionTableBytes {
		return nil, fmt.Errorf("%w: bad session table length", errBadSnapshot)
	}
	b := make([]byte, n)
	if _, err := io.ReadFull(r, b); err != nil {
		return nil, fmt.Errorf("%w: %v", errBadSnapshot, err)
	}
	return unmarshalSessions(b, maxSessions)
}

// byteReader reads one byte at a time from r (for ReadUvarint, without
// reading ahead into the state machine's data).
type byteReader struct{ r io.Reader }

func (b byteReader) ReadByte() (byte, error) {
	var one [1]byte
	_, err := io.ReadFull(b.r, one[:])
	return one[0], err
}

// snapshotSink stores an incoming snapshot body in the host's snapshot
// store; its reference is kept until the MsgSnap is stepped.
type snapshotSink struct {
	h   *Host
	key snapKey
	w   *wal.SnapshotWriter
}

// Write and Close fail only when the local disk does (the store's writer
// reports nothing else), and a failed write stops the host, as one of the
// log engine does: what the disk holds is then unknown, and a host that
// kept running could never take a snapshot again while it looks healthy.
func (s *snapshotSink) Write(p []byte) (int, error) {
	n, err := s.w.Write(p)
	if err != nil {
		s.h.fail(fmt.Errorf("group %d: storing the snapshot at %d: %w", s.key.group, s.key.index, err))
	}
	return n, err
}

func (s *snapshotSink) Close() error {
	ref, err := s.w.Commit()
	if err != nil {
		s.h.fail(fmt.Errorf("group %d: storing the snapshot at %d: %w", s.key.group, s.key.index, err))
		return err
	}
	s.h.inSnapMu.Lock()
	s.h.incoming[s.key] = ref
	s.h.inSnapMu.Unlock()
	return nil
}

func (s *snapshotSink) Abort(err error) {
	s.h.cfg.Logger.Warningf("host %x: group %d: receiving the snapshot at %d failed: %v", s.h.id, s.key.group, s.key.index, err)
	s.w.Abort()
}

// takeIncoming rewrites a received MsgSnap to refer to the local copy of its
// body, or reports that there is none.
func (h *Host) takeIncoming(group uint64, m *pb.Message) bool {
	key := snapKey{group: group, term: m.Snapshot.Metadata.Term, index: m.Snapshot.Metadata.Index}
	h.inSnapMu.Lock()
	ref, ok := h.incoming[key]
	delete(h.incoming, key)
	h.inSnapMu.Unlock()
	if !ok {
		return false
	}
	snap := *m.Snapshot
	snap.Data = ref.Marshal()
	m.Snapshot = &snap
	return true
}

var _ transport.SnapshotSink = (*snapshotSink)(nil)

// sinceStart is a request's age, for the Observer.
func sinceStart(r *Request) time.Duration { return time.Since(r.start) }
