package host

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"path/filepath"
	"slices"

	"github.com/pontoon-raft/raft"
	pb "github.com/pontoon-raft/raft/raftpb"
	"github.com/pontoon-raft/raft/wal"
)

// A replica exists on disk from the moment StartGroup returns, so that a
// crash right after it does not make the host forget a replica its group
// counts on. A bootstrapped replica's initial log is written to the log
// engine at once; a replica that joins an existing group has nothing to
// write until its leader reaches it, so the host lists it in the file
// "joining" (group IDs, then a CRC-32C), replaced atomically, until the
// engine holds something of the group.

// joiningFile is the name of the registry of joining replicas under Dir.
const joiningFile = "joining"

var crcTable = crc32.MakeTable(crc32.Castagnoli)

// errBadRegistry reports a registry file (joining, incarnation) that does
// not verify.
var errBadRegistry = errors.New("host: corrupt registry file")

// incarnationFile holds how many times the host was opened (8 bytes, then
// a CRC-32C): every opening draws its session from a new number.
const incarnationFile = "incarnation"

// readJoining reads the registry; a missing file is an empty one.
func (h *Host) readJoining() ([]uint64, error) {
	body, err := h.readRecord(joiningFile)
	if err != nil || body == nil {
		return nil, err
	}
	if len(body)%8 != 0 {
		return nil, fmt.Errorf("%w: %s has %d bytes", errBadRegistry, joiningFile, len(body)+4)
	}
	ids := make([]uint64, 0, len(body)/8)
	for i := 0; i < len(body); i += 8 {
		ids = append(ids, binary.BigEndian.Uint64(body[i:]))
	}
	return ids, nil
}

// writeJoining replaces the registry.
func (h *Host) writeJoining(ids []uint64) error {
	var b []byte
	for _, id := range ids {
		b = binary.BigEndian.AppendUint64(b, id)
	}
	return h.writeRecord(joiningFile, b)
}

// nextIncarnation counts this opening of the host, durably, and returns
// its number (1 for the first).
func (h *Host) nextIncarnation() (uint64, error) {
	body, err := h.readRecord(incarnationFile)
	if err != nil {
		return 0, err
	}
	var n uint64
	switch len(body) {
	case 0:
	case 8:
		n = binary.BigEndian.Uint64(body)
	default:
		return 0, fmt.Errorf("%w: %s has %d bytes", errBadRegistry, incarnationFile, len(body)+4)
	}
	n++
	return n, h.writeRecord(incarnationFile, binary.BigEndian.AppendUint64(nil, n))
}

// readRecord reads a small file of the host's under Dir, written by
// writeRecord, and checks its CRC; a missing file reads as nil.
func (h *Host) readRecord(name string) ([]byte, error) {
	path := filepath.Join(h.cfg.Dir, name)
	f, err := h.cfg.FS.Open(path)
	if err != nil {
		names, lerr := h.cfg.FS.List(h.cfg.Dir)
		if lerr == nil && !slices.Contains(names, name) {
			return nil, nil
		}
		return nil, fmt.Errorf("host: opening %s: %w", path, err)
	}
	defer f.Close()
	size, err := f.Size()
	if err != nil {
		return nil, err
	}
	if size < 4 || size > 1<<24 {
		return nil, fmt.Errorf("%w: %s has %d bytes", errBadRegistry, path, size)
	}
	b := make([]byte, size)
	if _, err := f.ReadAt(b, 0); err != nil {
		return nil, err
	}
	body := b[:len(b)-4]
	if crc32.Checksum(body, crcTable) != binary.BigEndian.Uint32(b[len(b)-4:]) {
		return nil, fmt.Errorf("%w: %s fails its checksum", errBadRegistry, path)
	}
	return body, nil
}

// writeRecord replaces a small file under Dir with body and its CRC: a
// temporary file, synced, renamed over the old one, and the directory
// synced.
func (h *Host) writeRecord(name string, body []byte) error {
	b := binary.BigEndian.AppendUint32(slices.Clip(body), crc32.Checksum(body, crcTable))
	path := filepath.Join(h.cfg.Dir, name)
	tmp := path + ".tmp"
	f, err := h.cfg.FS.Create(tmp)
	if err != nil {
		return err
	}
	if _, err := f.WriteAt(b, 0); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := h.cfg.FS.Rename(tmp, path); err != nil {
		return err
	}
	return h.cfg.FS.SyncDir(h.cfg.Dir)
}

// setJoining adds id to the registry or removes it.
func (h *Host) setJoining(id uint64, joining bool) error {
	ids, err := h.readJoining()
	if err != nil {
		return err
	}
	i, found := slices.BinarySearch(ids, id)
	switch {
	case joining && !found:
		ids = slices.Insert(ids, i, id)
	case !joining && found:
		ids = slices.Delete(ids, i, i+1)
	default:
		return nil
	}
	return h.writeJoining(ids)
}

// bootstrapLog writes the initial log of a new group with the given voters
// (what raft.RawNode.Bootstrap would write, at once and durably): one
// ConfChangeAddNode per voter at term 1, committed.
func (h *Host) bootstrapLog(id uint64, peers []uint64) error {
	ents := make([]pb.Entry, len(peers))
	for i, p := range peers {
		if p == 0 || raft.IsLocalMsgTarget(p) {
			return fmt.Errorf("host: %d is not a valid node ID", p)
		}
		data, err := (&pb.ConfChange{Type: pb.ConfChangeAddNode, NodeID: p}).Marshal()
		if err != nil {
			return err
		}
		ents[i] = pb.Entry{Type: pb.EntryConfChange, Term: 1, Index: uint64(i + 1), Data: data}
	}
	return h.engine.Save([]wal.Update{{Group: id, Entries: ents,
		HardState: pb.HardState{Term: 1, Commit: uint64(len(ents))}}})
}
