package server

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"

	"github.com/cockroachdb/pebble/v2"

	"github.com/pontoon-raft/raft/host"
)

// The node's Pebble holds every shard it replicates, each under prefixes of
// its own:
//
//	'd' shard(4 bytes, big endian) key  -> value   the shard's data
//	'm' shard(4 bytes, big endian)      -> index   the last command applied
//
// The applied index is written in the same batch as the commands it
// covers, so after a crash Pebble holds the state as of some applied index
// (its WAL recovers whole batches, in order), and a restore removes it in
// the batch that starts deleting the data (see Restore). A shard's data with
// no applied index is a half-done restore and is cleared when the shard
// opens.
const (
	dataPrefix    = 'd'
	appliedPrefix = 'm'
)

func dataKey(shard uint32, key string) []byte {
	b := make([]byte, 0, 5+len(key))
	b = append(b, dataPrefix)
	b = binary.BigEndian.AppendUint32(b, shard)
	return append(b, key...)
}

// dataRange returns the bounds [start, end) of shard's data.
func dataRange(shard uint32) (start, end []byte) {
	start = binary.BigEndian.AppendUint32([]byte{dataPrefix}, shard)
	end = binary.BigEndian.AppendUint32([]byte{dataPrefix}, shard+1)
	if shard == ^uint32(0) {
		end = []byte{dataPrefix + 1}
	}
	return start, end
}

func appliedKey(shard uint32) []byte {
	return binary.BigEndian.AppendUint32([]byte{appliedPrefix}, shard)
}

// readApplied returns the applied index stored for shard, and whether one is.
func readApplied(r pebble.Reader, shard uint32) (uint64, bool, error) {
	v, closer, err := r.Get(appliedKey(shard))
	if errors.Is(err, pebble.ErrNotFound) {
		return 0, false, nil
	}
	if err != nil {
		return 0, false, err
	}
	defer closer.Close()
	if len(v) != 8 {
		return 0, false, fmt.Errorf("kvstore: shard %d: applied index of %d bytes", shard, len(v))
	}
	return binary.BigEndian.Uint64(v), true, nil
}

// shardStateMachine is the host.StateMachine of one shard: its data lives
// in the node's Pebble under the shard's prefixes.
type shardStateMachine struct {
	db    *pebble.DB
	shard uint32
	// applied is the index of the last command in Pebble, read at open and
	// kept by Apply and Restore (one goroutine at a time, per host).
	applied uint64
}

// Result bytes of an applied command.
var (
	resultOK         = []byte{}
	resultBadCommand = []byte("bad command")
)

// openShard opens the state machine of shard over db. Data without an
// applied index (a restore cut short by a crash) is cleared.
func openShard(db *pebble.DB, shard uint32) (*shardStateMachine, error) {
	applied, ok, err := readApplied(db, shard)
	if err != nil {
		return nil, err
	}
	if !ok {
		start, end := dataRange(shard)
		if err := db.DeleteRange(start, end, pebble.Sync); err != nil {
			return nil, fmt.Errorf("kvstore: clearing shard %d: %w", shard, err)
		}
	}
	return &shardStateMachine{db: db, shard: shard, applied: applied}, nil
}

// Apply writes the commands with one Pebble batch, the applied index
// included. Commands at or below the applied index are already in Pebble
// (the host applies the log again after a restart) and are skipped. A
// malformed command changes nothing, on every replica, and its result says
// so.
func (m *shardStateMachine) Apply(cmds []host.Command) error {
	b := m.db.NewBatch()
	defer b.Close()
	last := m.applied
	for i := range cmds {
		c := &cmds[i]
		c.Result = resultOK
		if c.Index <= m.applied {
			continue
		}
		last = c.Index
		ops, err := decodeCommand(c.Data)
		if err != nil {
			c.Result = resultBadCommand
			continue
		}
		for _, o := range ops {
			k := dataKey(m.shard, o.Key)
			if o.Kind == opPut {
				err = b.Set(k, []byte(o.Value), nil)
			} else {
				err = b.Delete(k, nil)
			}
			if err != nil {
				return err
			}
		}
	}
	if last == m.applied {
		return nil
	}
	if err := b.Set(appliedKey(m.shard), binary.BigEndian.AppendUint64(nil, last), nil); err != nil {
		return err
	}
	// No fsync: the host's log is durable, and after a crash the host
	// applies again whatever Pebble lost.
	if err := b.Commit(pebble.NoSync); err != nil {
		return fmt.Errorf("kvstore: shard %d: %w", m.shard, err)
	}
	m.applied = last
	return nil
}

// get reads key of the shard from Pebble.
func get(db *pebble.DB, shard uint32, key string) (string, bool, error) {
	v, closer, err := db.Get(dataKey(shard, key))
	if errors.Is(err, pebble.ErrNotFound) {
		return "", false, nil
	}
	if err != nil {
		return "", false, err
	}
	defer closer.Close()
	return string(v), true, nil
}

// A shard snapshot is: the magic "KVS1", the shard (uvarint), the applied
// index (uvarint), then one record per key (key length, key, value length,
// value; uvarints for the lengths), then a zero key length (keys are never
// empty) and the number of records (uvarint), so a cut stream is noticed.
var snapshotMagic = []byte("KVS1")

// maxRestoreBatchBytes is how much a restore writes per Pebble batch.
const maxRestoreBatchBytes = 4 << 20

// pebbleSnapshot streams a shard from a Pebble snapshot.
type pebbleSnapshot struct {
	snap    *pebble.Snapshot
	shard   uint32
	applied uint64
}

// PrepareSnapshot takes a Pebble snapshot (a point-in-time view, cheap);
// the host streams it with WriteTo while applying goes on.
func (m *shardStateMachine) PrepareSnapshot() (host.Snapshot, error) {
	return &pebbleSnapshot{snap: m.db.NewSnapshot(), shard: m.shard, applied: m.applied}, nil
}

// WriteTo writes the shard's records in key order, one at a time.
func (s *pebbleSnapshot) WriteTo(w io.Writer) (int64, error) {
	cw := &countingWriter{w: bufio.NewWriterSize(w, 64<<10)}
	hdr := append([]byte(nil), snapshotMagic...)
	hdr = binary.AppendUvarint(hdr, uint64(s.shard))
	hdr = binary.AppendUvarint(hdr, s.applied)
	if _, err := cw.Write(hdr); err != nil {
		return cw.n, err
	}
	start, end := dataRange(s.shard)
	it, err := s.snap.NewIter(&pebble.IterOptions{LowerBound: start, UpperBound: end})
	if err != nil {
		return cw.n, err
	}
	defer it.Close()
	var records uint64
	var lens []byte
	for it.First(); it.Valid(); it.Next() {
		v, err := it.ValueAndErr()
		if err != nil {
			return cw.n, err
		}
		k := it.Key()[len(start):]
		lens = binary.AppendUvarint(lens[:0], uint64(len(k)))
		if _, err := cw.Write(lens); err != nil {
			return cw.n, err
		}
		if _, err := cw.Write(k); err != nil {
			return cw.n, err
		}
		lens = binary.AppendUvarint(lens[:0], uint64(len(v)))
		if _, err := cw.Write(lens); err != nil {
			return cw.n, err
		}
		if _, err := cw.Write(v); err != nil {
			return cw.n, err
		}
		records++
	}
	if err := it.Error(); err != nil {
		return cw.n, err
	}
	trailer := binary.AppendUvarint([]byte{0}, records)
	if _, err := cw.Write(trailer); err != nil {
		return cw.n, err
	}
	return cw.n, cw.w.(*bufio.Writer).Flush()
}

// Close releases the Pebble snapshot.
func (s *pebbleSnapshot) Close() error { return s.snap.Close() }

// countingWriter counts the bytes written through it.
type countingWriter struct {
	w io.Writer
	n int64
}

func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

// errBadSnapshot is wrapped by every error about a malformed snapshot.
var errBadSnapshot = errors.New("kvstore: malformed shard snapshot")

// maxSnapshotFieldBytes bounds a key or value read from a snapshot.
const maxSnapshotFieldBytes = 64 << 20

// Restore replaces the shard by a snapshot, streaming: the first batch
// deletes the shard's data and its applied index, later batches insert the
// records, and the last one sets the applied index. A snapshot no newer
// than what Pebble holds (the host restores its latest snapshot at every
// start) is read through and changes nothing.
func (m *shardStateMachine) Restore(r io.Reader) error {
	br := bufio.NewReaderSize(r, 64<<10)
	magic := make([]byte, len(snapshotMagic))
	if _, err := io.ReadFull(br, magic); err != nil || string(magic) != string(snapshotMagic) {
		return fmt.Errorf("%w: bad magic", errBadSnapshot)
	}
	shard, err := binary.ReadUvarint(br)
	if err != nil || shard != uint64(m.shard) {
		return fmt.Errorf("%w: snapshot of shard %d given to shard %d", errBadSnapshot, shard, m.shard)
	}
	index, err := binary.ReadUvarint(br)
	if err != nil {
		return fmt.Errorf("%w: %v", errBadSnapshot, err)
	}
	if index <= m.applied {
		_, err := io.Copy(io.Discard, br)
		return err
	}
	b := m.db.NewBatch()
	start, end := dataRange(m.shard)
	if err := b.DeleteRange(start, end, nil); err != nil {
		return err
	}
	if err := b.Delete(appliedKey(m.shard), nil); err != nil {
		return err
	}
	m.applied = 0
	field := func() ([]byte, error) {
		n, err := binary.ReadUvarint(br)
		if err != nil {
			return nil, err
		}
		if n > maxSnapshotFieldBytes {
			return nil, fmt.Errorf("%w: a field of %d bytes", errBadSnapshot, n)
		}
		p := make([]byte, n)
		_, err = io.ReadFull(br, p)
		return p, err
	}
	var records uint64
	for {
		k, err := field()
		if err != nil {
			b.Close()
			return fmt.Errorf("%w: %v", errBadSnapshot, err)
		}
		if len(k) == 0 {
			break
		}
		v, err := field()
		if err != nil {
			b.Close()
			return fmt.Errorf("%w: %v", errBadSnapshot, err)
		}
		if err := b.Set(dataKey(m.shard, string(k)), v, nil); err != nil {
			b.Close()
			return err
		}
		records++
		if b.Len() >= maxRestoreBatchBytes {
			if err := b.Commit(pebble.NoSync); err != nil {
				b.Close()
				return err
			}
			b.Close()
			b = m.db.NewBatch()
		}
	}
	defer b.Close()
	if n, err := binary.ReadUvarint(br); err != nil || n != records {
		return fmt.Errorf("%w: %d records read, trailer says %d (%v)", errBadSnapshot, records, n, err)
	}
	if err := b.Set(appliedKey(m.shard), binary.BigEndian.AppendUint64(nil, index), nil); err != nil {
		return err
	}
	if err := b.Commit(pebble.NoSync); err != nil {
		return err
	}
	m.applied = index
	return nil
}

// Close does nothing: the Pebble is the node's, shared by its shards.
func (m *shardStateMachine) Close() error { return nil }

var _ host.StateMachine = (*shardStateMachine)(nil)

// clearShard deletes shard's data and applied index, once the node no
// longer holds it.
func clearShard(db *pebble.DB, shard uint32) error {
	b := db.NewBatch()
	defer b.Close()
	start, end := dataRange(shard)
	if err := b.DeleteRange(start, end, nil); err != nil {
		return err
	}
	if err := b.Delete(appliedKey(shard), nil); err != nil {
		return err
	}
	return b.Commit(pebble.Sync)
}
