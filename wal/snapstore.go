package wal

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"sort"
	"strings"
)

// SnapshotStore keeps the application's snapshot data in files, one per
// snapshot, in a directory of its own. Data streams in and out in chunks of
// at most 64 KiB, each with its own checksum: a whole snapshot is never
// held in memory, and no byte is handed out before its chunk verified.
//
// A snapshot is written to a temporary file, synced, renamed into place and
// the directory synced (SnapshotWriter.Commit); its SnapshotRef, marshaled
// into pb.Snapshot.Data, is what the engine records (Update.LocalSnapshot
// for one the application took, Update.Snapshot for one a follower
// installs), atomically with the compaction it allows. Prune then removes
// the files no longer needed. A SnapshotStore is safe for concurrent use.
type SnapshotStore struct {
	fs  FS
	dir string
}

// A snapshot file is
//
//	header: magic "PONTSNAP", uint16 version, uint16 zero, group, term,
//	        index (uint64s), CRC-32C of the preceding 36 bytes
//	chunks: uint32 length (1..snapChunkBytes), CRC-32C of the data, data
//	end:    uint32 zero, CRC-32C of the next 12 bytes, uint64 data size,
//	        CRC-32C of all the data
//
// all little-endian.
const (
	snapSuffix      = ".snap"
	snapHeaderSize  = 40
	snapEndSize     = 20
	snapChunkBytes  = 64 << 10
	snapFileVersion = 1
)

var snapMagic = [8]byte{'P', 'O', 'N', 'T', 'S', 'N', 'A', 'P'}

// SnapshotRef identifies a snapshot file and the data it must hold. It is
// small and meant to be stored as pb.Snapshot.Data (see Marshal).
type SnapshotRef struct {
	Group, Term, Index uint64 // the group, and the term and index the snapshot is at
	SizeBytes          int64  // size of the data
	CRC                uint32 // CRC-32C of the data
}

const snapRefSize = 1 + 8*4 + 4

// Marshal encodes r in 37 bytes.
func (r SnapshotRef) Marshal() []byte {
	b := make([]byte, 0, snapRefSize)
	b = append(b, 1) // version
	b = binary.LittleEndian.AppendUint64(b, r.Group)
	b = binary.LittleEndian.AppendUint64(b, r.Term)
	b = binary.LittleEndian.AppendUint64(b, r.Index)
	b = binary.LittleEndian.AppendUint64(b, uint64(r.SizeBytes))
	return binary.LittleEndian.AppendUint32(b, r.CRC)
}

// ParseSnapshotRef decodes what Marshal wrote.
func ParseSnapshotRef(b []byte) (SnapshotRef, error) {
	if len(b) != snapRefSize || b[0] != 1 {
		return SnapshotRef{}, fmt.Errorf("%w: a snapshot reference of %d bytes", ErrCorrupt, len(b))
	}
	r := SnapshotRef{
		Group:     binary.LittleEndian.Uint64(b[1:]),
		Term:      binary.LittleEndian.Uint64(b[9:]),
		Index:     binary.LittleEndian.Uint64(b[17:]),
		SizeBytes: int64(binary.LittleEndian.Uint64(b[25:])),
		CRC:       binary.LittleEndian.Uint32(b[33:]),
	}
	if r.SizeBytes < 0 {
		return SnapshotRef{}, fmt.Errorf("%w: a snapshot reference with size %d", ErrCorrupt, r.SizeBytes)
	}
	return r, nil
}

func snapName(group, term, index uint64) string {
	return fmt.Sprintf("%016x-%016x-%016x%s", group, term, index, snapSuffix)
}

func parseSnapName(name string) (group, term, index uint64, ok bool) {
	base, found := strings.CutSuffix(name, snapSuffix)
	if !found || len(base) != 50 {
		return 0, 0, 0, false
	}
	n, err := fmt.Sscanf(base, "%016x-%016x-%016x", &group, &term, &index)
	return group, term, index, err == nil && n == 3
}

// OpenSnapshotStore opens the store in dir, creating the directory if
// needed and removing files whose writing never finished.
func OpenSnapshotStore(fs FS, dir string) (*SnapshotStore, error) {
	if fs == nil {
		fs = OSFS{}
	}
	if err := fs.MkdirAll(dir); err != nil {
		return nil, err
	}
	names, err := fs.List(dir)
	if err != nil {
		return nil, err
	}
	for _, n := range names {
		if strings.HasSuffix(n, snapSuffix+tmpSuffix) {
			if err := fs.Remove(join(dir, n)); err != nil && !isNotExist(err) {
				return nil, err
			}
		}
	}
	return &SnapshotStore{fs: fs, dir: dir}, nil
}

// SnapshotWriter streams a snapshot into the store. Call Commit when all
// data is written, or Abort to give up.
type SnapshotWriter struct {
	s     *SnapshotStore
	f     File
	off   int64 // where the next chunk goes
	tmp   string
	ref   SnapshotRef
	buf   []byte // the chunk being filled, at most snapChunkBytes
	err   error  // first write error, sticky
	ended bool
}

// Create starts writing the snapshot of group at (term, index).
func (s *SnapshotStore) Create(group, term, index uint64) (*SnapshotWriter, error) {
	tmp := join(s.dir, snapName(group, term, index)) + tmpSuffix
	f, err := s.fs.Create(tmp)
	if err != nil {
		return nil, err
	}
	h := make([]byte, 0, snapHeaderSize)
	h = append(h, snapMagic[:]...)
	h = binary.LittleEndian.AppendUint16(h, snapFileVersion)
	h = binary.LittleEndian.AppendUint16(h, 0)
	h = binary.LittleEndian.AppendUint64(h, group)
	h = binary.LittleEndian.AppendUint64(h, term)
	h = binary.LittleEndian.AppendUint64(h, index)
	h = binary.LittleEndian.AppendUint32(h, crc32.Checksum(h, castagnoli))
	w := &SnapshotWriter{s: s, f: f, tmp: tmp, ref: SnapshotRef{Group: group, Term: term, Index: index},
		buf: make([]byte, 8, 8+snapChunkBytes)}
	if _, err := f.WriteAt(h, 0); err != nil {
		w.Abort()
		return nil, err
	}
	w.off = int64(len(h))
	return w, nil
}

// Write adds p to the snapshot.
func (w *SnapshotWriter) Write(p []byte) (int, error) {
	if w.ended {
		return 0, errors.New("wal: write to a committed or aborted snapshot")
	}
	n := 0
	for len(p) > 0 && w.err == nil {
		k := min(len(p), 8+snapChunkBytes-len(w.buf))
		w.buf = append(w.buf, p[:k]...)
		w.ref.CRC = crc32.Update(w.ref.CRC, castagnoli, p[:k])
		w.ref.SizeBytes += int64(k)
		p, n = p[k:], n+k
		if len(w.buf) == 8+snapChunkBytes {
			w.flush()
		}
	}
	return n, w.err
}

// flush writes the buffered chunk.
func (w *SnapshotWriter) flush() {
	data := w.buf[8:]
	if len(data) == 0 || w.err != nil {
		return
	}
	binary.LittleEndian.PutUint32(w.buf[0:], uint32(len(data)))
	binary.LittleEndian.PutUint32(w.buf[4:], crc32.Checksum(data, castagnoli))
	_, w.err = w.f.WriteAt(w.buf, w.off)
	w.off += int64(len(w.buf))
	w.buf = w.buf[:8]
}

// Commit makes the snapshot durable under its final name and returns its
// reference.
func (w *SnapshotWriter) Commit() (SnapshotRef, error) {
	if w.ended {
		return SnapshotRef{}, errors.New("wal: snapshot already committed or aborted")
	}
	w.flush()
	if w.err != nil {
		w.Abort()
		return SnapshotRef{}, w.err
	}
	end := make([]byte, snapEndSize)
	binary.LittleEndian.PutUint64(end[8:], uint64(w.ref.SizeBytes))
	binary.LittleEndian.PutUint32(end[16:], w.ref.CRC)
	binary.LittleEndian.PutUint32(end[4:], crc32.Checksum(end[8:], castagnoli))
	final := join(w.s.dir, snapName(w.ref.Group, w.ref.Term, w.ref.Index))
	_, err := w.f.WriteAt(end, w.off)
	if err == nil {
		err = w.f.Sync()
	}
	if err == nil {
		err = w.f.Close()
		w.f = nil
	}
	if err == nil {
		err = w.s.fs.Rename(w.tmp, final)
	}
	if err == nil {
		err = w.s.fs.SyncDir(w.s.dir)
	}
	if err != nil {
		w.Abort()
		return SnapshotRef{}, err
	}
	w.ended = true
	return w.ref, nil
}

// Abort discards the snapshot being written.
func (w *SnapshotWriter) Abort() {
	if w.ended {
		return
	}
	w.ended = true
	if w.f != nil {
		w.f.Close()
	}
	_ = w.s.fs.Remove(w.tmp)
}

// SnapshotReader streams the data of a snapshot, checking each chunk before
// returning any of it, and at the end that the data is exactly what the
// reference describes. A mismatch is an error wrapping ErrCorrupt; the
// receiver must then discard what it read.
type SnapshotReader struct {
	f      File
	path   string
	ref    SnapshotRef
	off    int64  // file offset of the next chunk
	chunk  []byte // verified data not yet returned
	buf    []byte
	size   int64
	crc    uint32
	atEnd  bool
	closed bool
}

// Open opens the snapshot ref names for reading.
func (s *SnapshotStore) Open(ref SnapshotRef) (*SnapshotReader, error) {
	path := join(s.dir, snapName(ref.Group, ref.Term, ref.Index))
	f, err := s.fs.Open(path)
	if err != nil {
		return nil, err
	}
	h := make([]byte, snapHeaderSize)
	if _, err := f.ReadAt(h, 0); err != nil {
		f.Close()
		return nil, fmt.Errorf("%w: %s: reading the header: %v", ErrCorrupt, path, err)
	}
	if [8]byte(h[:8]) != snapMagic || binary.LittleEndian.Uint16(h[8:]) != snapFileVersion ||
		binary.LittleEndian.Uint32(h[36:]) != crc32.Checksum(h[:36], castagnoli) ||
		binary.LittleEndian.Uint64(h[12:]) != ref.Group || binary.LittleEndian.Uint64(h[20:]) != ref.Term ||
		binary.LittleEndian.Uint64(h[28:]) != ref.Index {
		f.Close()
		return nil, fmt.Errorf("%w: %s: the header does not match snapshot %d/%d of group %d", ErrCorrupt, path, ref.Term, ref.Index, ref.Group)
	}
	return &SnapshotReader{f: f, path: path, ref: ref, off: snapHeaderSize, buf: make([]byte, 8+snapChunkBytes)}, nil
}

// Read implements io.Reader.
func (r *SnapshotReader) Read(p []byte) (int, error) {
	if r.closed {
		return 0, errors.New("wal: read from a closed snapshot")
	}
	for len(r.chunk) == 0 {
		if r.atEnd {
			return 0, io.EOF
		}
		if err := r.next(); err != nil {
			return 0, err
		}
	}
	n := copy(p, r.chunk)
	r.chunk = r.chunk[n:]
	return n, nil
}

// next reads and verifies the next chunk, or the end.
func (r *SnapshotReader) next() error {
	corrupt := func(format string, args ...any) error {
		return fmt.Errorf("%w: %s at offset %d: %s", ErrCorrupt, r.path, r.off, fmt.Sprintf(format, args...))
	}
	head := r.buf[:8]
	if _, err := r.f.ReadAt(head, r.off); err != nil {
		return corrupt("reading a chunk header: %v", err)
	}
	n := binary.LittleEndian.Uint32(head)
	if n == 0 {
		end := r.buf[:snapEndSize]
		if _, err := r.f.ReadAt(end, r.off); err != nil {
			return corrupt("reading the end: %v", err)
		}
		size, sum := binary.LittleEndian.Uint64(end[8:]), binary.LittleEndian.Uint32(end[16:])
		switch {
		case binary.LittleEndian.Uint32(end[4:]) != crc32.Checksum(end[8:], castagnoli):
			return corrupt("the end record does not verify")
		case int64(size) != r.size || sum != r.crc:
			return corrupt("the end record says %d bytes with checksum %#x, the chunks hold %d with %#x", size, sum, r.size, r.crc)
		case r.size != r.ref.SizeBytes || r.crc != r.ref.CRC:
			return corrupt("the data is %d bytes with checksum %#x, the reference says %d with %#x", r.size, r.crc, r.ref.SizeBytes, r.ref.CRC)
		}
		r.atEnd = true
		return nil
	}
	if n > snapChunkBytes {
		return corrupt("a chunk of %d bytes", n)
	}
	data := r.buf[8 : 8+n]
	if _, err := r.f.ReadAt(data, r.off+8); err != nil {
		return corrupt("reading a chunk: %v", err)
	}
	if crc32.Checksum(data, castagnoli) != binary.LittleEndian.Uint32(head[4:]) {
		return corrupt("chunk checksum mismatch")
	}
	r.off += 8 + int64(n)
	r.size += int64(n)
	r.crc = crc32.Update(r.crc, castagnoli, data)
	r.chunk = data
	return nil
}

// Close closes the file.
func (r *SnapshotReader) Close() error {
	if r.closed {
		return nil
	}
	r.closed = true
	return r.f.Close()
}

// List returns the snapshots of group in the store, by increasing index.
// Their SizeBytes and CRC are not filled in (they are known from the
// references the engine holds, and checked when read).
func (s *SnapshotStore) List(group uint64) ([]SnapshotRef, error) {
	names, err := s.fs.List(s.dir)
	if err != nil {
		return nil, err
	}
	var refs []SnapshotRef
	for _, n := range names {
		if g, term, index, ok := parseSnapName(n); ok && g == group {
			refs = append(refs, SnapshotRef{Group: g, Term: term, Index: index})
		}
	}
	sort.Slice(refs, func(i, j int) bool { return refs[i].Index < refs[j].Index })
	return refs, nil
}

// Prune removes snapshots of group that are no longer needed. inUse is the
// index of the snapshot the engine records for the group: every snapshot
// at or above it is kept (a newer one may be about to be recorded), and of
// the older ones the newest keep-1 are kept, so keep counts the snapshots
// kept up to inUse.
func (s *SnapshotStore) Prune(group uint64, keep int, inUse uint64) error {
	if keep < 1 {
		return fmt.Errorf("wal: Prune keeps %d snapshots, at least 1 is needed", keep)
	}
	refs, err := s.List(group)
	if err != nil {
		return err
	}
	var older []SnapshotRef
	for _, r := range refs {
		if r.Index < inUse {
			older = append(older, r)
		}
	}
	if len(older) <= keep-1 {
		return nil
	}
	for _, r := range older[:len(older)-(keep-1)] {
		if err := s.fs.Remove(join(s.dir, snapName(r.Group, r.Term, r.Index))); err != nil && !isNotExist(err) {
			return err
		}
	}
	return nil
}

// RemoveGroup removes every snapshot of group.
func (s *SnapshotStore) RemoveGroup(group uint64) error {
	refs, err := s.List(group)
	if err != nil {
		return err
	}
	for _, r := range refs {
		if err := s.fs.Remove(join(s.dir, snapName(r.Group, r.Term, r.Index))); err != nil && !isNotExist(err) {
			return err
		}
	}
	return nil
}
