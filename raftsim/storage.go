package raftsim

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"strings"
	"syscall"

	"github.com/pontoon-raft/raft"
	pb "github.com/pontoon-raft/raft/raftpb"
	"github.com/pontoon-raft/raft/wal"
	"github.com/pontoon-raft/raft/wal/faultfs"
)

// Storage modes. In StorageMemory every node's disk is a
// *raft.MemoryStorage that survives crashes whole. In StorageWAL every node
// runs on its own wal.Engine (group 1) over its own faultfs file system:
// the RawNode reads the engine's Storage, persisting a Ready is one
// Engine.Save, a snapshot or compaction is one Save too (the snapshot's
// data, the simulator's envelope, is stored in the snapshot metadata), and
// a crash is a power loss of the file system, after which a restart opens
// the engine again and recovers from what reached the disk.
//
// Beside the engine, the simulator keeps a *raft.MemoryStorage per node
// that it updates after every Save the engine acknowledged: the durable
// state the node is entitled to. The invariants read it (View.Storage),
// also while the node is down, and every reopened engine must hold exactly
// that state, or that state plus the one Save that failed before the
// crash; anything else is an InvDurableStorage violation.

// StorageMode chooses what the nodes persist to (Options.Storage).
type StorageMode int

// The storage modes.
const (
	// StorageMemory: a raft.MemoryStorage per node, which crashes never
	// damage.
	StorageMemory StorageMode = iota
	// StorageWAL: a wal.Engine per node over a fault-injecting faultfs.
	StorageWAL
)

var storageModeNames = [...]string{"memory", "wal"}

// String returns "memory" or "wal".
func (m StorageMode) String() string {
	if m < 0 || int(m) >= len(storageModeNames) {
		return fmt.Sprintf("StorageMode(%d)", int(m))
	}
	return storageModeNames[m]
}

// ParseStorageMode returns the StorageMode named by s ("memory" or "wal").
func ParseStorageMode(s string) (StorageMode, error) {
	for i, name := range storageModeNames {
		if s == name {
			return StorageMode(i), nil
		}
	}
	return StorageMemory, invalid("storage mode %q: want memory or wal", s)
}

// InvDurableStorage: a node's storage engine, reopened after a crash,
// holds exactly what it acknowledged (plus, possibly, the one write that
// failed before the crash), and reports damage only where damage was
// injected. Checked at every restart in StorageWAL mode.
const InvDurableStorage = "durable-storage"

// The storage faults of StorageWAL mode.
const (
	// FaultTornWrite counts disk crashes inside a Save (faultfs.CrashAfter,
	// armed by Faults.TornWriteProb): the write in progress may be cut
	// short, and the node crashes.
	FaultTornWrite FaultKind = "torn-write"
	// FaultSyncError counts Saves failed by an injected fsync error, and
	// FaultNoSpace those failed by ENOSPC; the engine then refuses every
	// write and the node halts (a crash).
	FaultSyncError FaultKind = "fsync-error"
	FaultNoSpace   FaultKind = "no-space"
	// FaultBitFlip counts bits flipped at rest in the written part of a
	// down node's files.
	FaultBitFlip FaultKind = "bit-flip"
	// FaultCorruptionDetected counts restarts the engine refused because
	// it found damage (the damage is then repaired, as an operator would
	// from a replica of the disk), and FaultFailedStart restarts that
	// failed under another injected disk fault; the node stays down until
	// a later restart.
	FaultCorruptionDetected FaultKind = "corruption-detected"
	FaultFailedStart        FaultKind = "failed-start"
)

// EventDiskFault damaged Node's disk or armed it to crash.
const EventDiskFault EventKind = "disk-fault"

// storageFaultKinds are the kinds only StorageWAL mode injects.
var storageFaultKinds = []FaultKind{
	FaultTornWrite, FaultSyncError, FaultNoSpace, FaultBitFlip, FaultCorruptionDetected, FaultFailedStart,
}

// StorageFaultKinds lists the fault kinds of StorageWAL mode, a subset of
// AllFaultKinds.
func StorageFaultKinds() []FaultKind { return append([]FaultKind(nil), storageFaultKinds...) }

// The engine settings of every node: small segments and a small tail cache,
// so that rotation, segment removal, rewriting and reads from the files
// happen in short runs.
const (
	walDir              = "/wal"
	walSegmentBytes     = 4 << 10
	walTailCacheEntries = 8
	// maxArmedOps bounds how many mutating file operations after a
	// TornWriteProb fault the disk crashes.
	maxArmedOps = 6
)

// walDisk is a node's disk in StorageWAL mode.
type walDisk struct {
	fs *faultfs.FS
	// engine is nil while the node is down.
	engine *wal.Engine
	// failed is the update of a Save that failed, until the restart that
	// finds out whether it reached the disk.
	failed *wal.Update
	// flip is damage injected since the node went down, not yet found.
	flip *bitFlip
	// armed is set while the file system is armed to crash.
	armed bool
	// halted is why the node's disk failed during the current event; the
	// node crashes at its end.
	halted error
	// opens counts engine opens, to seed each one's identity source.
	opens int64
}

// bitFlip is one bit flipped at rest.
type bitFlip struct {
	file   string
	offset int64
	bit    uint
}

// newDisk gives n, a new node, its file system and an empty engine
// (StorageWAL). Faults are injected from its start on (startNode).
func (s *Sim) newDisk(n *simNode) {
	n.disk = &walDisk{fs: faultfs.New(faultfs.Config{Seed: uint64(s.opts.Seed)*31 + n.id})}
	if err := s.openEngine(n, faultfs.Faults{}); err != nil {
		panic(contractError{fmt.Errorf("node %d: creating its engine: %w", n.id, err)})
	}
}

// openEngine opens n's engine over its file system, which injects faults
// at the given rates from now on.
func (s *Sim) openEngine(n *simNode, faults faultfs.Faults) error {
	d := n.disk
	d.fs.SetFaults(faults)
	d.opens++
	var fs wal.FS = d.fs
	if s.opts.wrapDisk != nil {
		fs = s.opts.wrapDisk(d.fs)
	}
	e, err := wal.Open(walDir, wal.Options{
		FS: fs, SegmentBytes: walSegmentBytes, TailCacheEntries: walTailCacheEntries,
		Rand: engineIDSource(s.opts.Seed, n.id, d.opens),
	})
	if err != nil {
		return err
	}
	d.engine = e
	return nil
}

// engineIDSource is the source of the random id an engine writes when it
// creates its directory: a function of the run, the node and the open, so
// that a seed replays byte for byte.
func engineIDSource(seed int64, id uint64, open int64) io.Reader {
	var key [32]byte
	binary.BigEndian.PutUint64(key[:], uint64(seed))
	binary.BigEndian.PutUint64(key[8:], id)
	binary.BigEndian.PutUint64(key[16:], uint64(open))
	return rand.NewChaCha8(key)
}

// diskFaults are the fault rates of every file system: Options' while
// faults are on, none after.
func (s *Sim) diskFaults() faultfs.Faults {
	if !s.faultsOn {
		return faultfs.Faults{}
	}
	return faultfs.Faults{SyncErrorRate: s.opts.Faults.SyncErrorRate, NoSpaceRate: s.opts.Faults.NoSpaceRate}
}

// persist makes u durable on n's disk: in StorageMemory it is applied to
// the MemoryStorage; in StorageWAL it is one Engine.Save and, once the
// engine acknowledged it, applied to the MemoryStorage that tracks what
// the node may rely on. It returns false if the disk failed: the node must
// not act on u (send, acknowledge), and it halts at the end of the event.
func (s *Sim) persist(n *simNode, u wal.Update, what string) bool {
	if d := n.disk; d != nil {
		if d.halted != nil {
			return false
		}
		u.Group = 1
		if err := d.engine.Save([]wal.Update{u}); err != nil {
			if errors.Is(err, wal.ErrInvalidUpdate) {
				panic(contractError{fmt.Errorf("node %d: %s: %w", n.id, what, err)})
			}
			d.halted = err
			d.failed = &u
			return false
		}
	}
	if err := applyUpdate(n.storage, u); err != nil {
		panic(contractError{fmt.Errorf("node %d: %s: %w", n.id, what, err)})
	}
	return true
}

// applyUpdate applies u to ms, in the order of Update's fields.
func applyUpdate(ms *raft.MemoryStorage, u wal.Update) error {
	if !raft.IsEmptySnap(u.Snapshot) {
		if err := ms.ApplySnapshot(u.Snapshot); err != nil {
			return fmt.Errorf("persisting snapshot %s: %w", raft.DescribeSnapshot(u.Snapshot), err)
		}
	}
	if err := ms.Append(u.Entries); err != nil {
		return fmt.Errorf("appending entries: %w", err)
	}
	if !raft.IsEmptyHardState(u.HardState) {
		if err := ms.SetHardState(u.HardState); err != nil {
			return fmt.Errorf("persisting HardState: %w", err)
		}
	}
	if snap := u.LocalSnapshot; !raft.IsEmptySnap(snap) {
		cs := snap.Metadata.ConfState
		if _, err := ms.CreateSnapshot(snap.Metadata.Index, &cs, snap.Data); err != nil {
			return fmt.Errorf("creating snapshot at %d: %w", snap.Metadata.Index, err)
		}
	}
	if u.CompactIndex != 0 {
		if err := ms.Compact(u.CompactIndex); err != nil {
			return fmt.Errorf("compacting to %d: %w", u.CompactIndex, err)
		}
	}
	return nil
}

// localSnapshot is the snapshot n takes of its state machine at its
// applied index.
func (s *Sim) localSnapshot(n *simNode) pb.Snapshot {
	term, err := n.storage.Term(n.applied)
	if err != nil {
		panic(contractError{fmt.Errorf("node %d: no term for its applied index %d: %w", n.id, n.applied, err)})
	}
	return pb.Snapshot{
		Data:     snapshotEnvelope{index: n.applied, chain: n.chain, appData: n.sm.Snapshot()}.encode(),
		Metadata: pb.SnapshotMetadata{Index: n.applied, Term: term, ConfState: cloneConfState(n.confState)},
	}
}

// haltFailedDisks crashes the nodes whose disk failed during the event,
// counting the failure by its kind.
func (s *Sim) haltFailedDisks() {
	for _, n := range s.nodes {
		d := n.disk
		if d == nil || d.halted == nil || n.node == nil {
			continue
		}
		err := d.halted
		switch {
		case errors.Is(err, faultfs.ErrCrashed):
			s.res.Faults[FaultTornWrite]++
		case errors.Is(err, syscall.EIO):
			s.res.Faults[FaultSyncError]++
		case errors.Is(err, syscall.ENOSPC):
			s.res.Faults[FaultNoSpace]++
		default:
			panic(contractError{fmt.Errorf("node %d: its disk failed without an injected fault: %w", n.id, err)})
		}
		s.crash(n)
		s.tracef("node %d halted: its disk failed: %v", n.id, err)
	}
}

// crashDisk is the power loss of a crashed node's disk: what its file
// system had not synced is lost or torn.
func (s *Sim) crashDisk(n *simNode) {
	d := n.disk
	if d == nil {
		return
	}
	d.fs.Crash()
	d.engine, d.halted, d.armed = nil, nil, false
}

// errStartFailed is wrapped by startNode's error when an injected disk
// fault kept the node from starting: it stays down, which is no violation.
var errStartFailed = errors.New("the disk refused to start")

// startDisk opens the engine of n, a node that was down, and checks that
// it recovered what it had acknowledged. Damage the engine finds is
// repaired afterwards, so a later restart succeeds.
func (s *Sim) startDisk(n *simNode) error {
	d := n.disk
	if d == nil || d.engine != nil {
		return nil
	}
	err := s.openEngine(n, s.diskFaults())
	switch {
	case err == nil:
	case errors.Is(err, wal.ErrCorrupt) && d.flip != nil:
		s.res.Faults[FaultCorruptionDetected]++
		f := d.flip
		d.flip = nil
		if ferr := d.fs.FlipBit(f.file, f.offset, f.bit); ferr != nil {
			panic(contractError{fmt.Errorf("node %d: repairing %s: %w", n.id, f.file, ferr)})
		}
		return fmt.Errorf("%w: %w (bit %d of byte %d of %s flipped; repaired)", errStartFailed, err, f.bit, f.offset, f.file)
	case errors.Is(err, wal.ErrCorrupt):
		s.durabilityErr = fmt.Errorf("node %d: the engine reports damage although none was injected: %w", n.id, err)
		return fmt.Errorf("%w: %w", errStartFailed, err)
	default:
		s.res.Faults[FaultFailedStart]++
		d.fs.Crash()
		return fmt.Errorf("%w: %w", errStartFailed, err)
	}
	d.flip = nil
	failed := d.failed
	d.failed = nil
	got := d.engine.Storage(1)
	if sameStorage(got, n.storage) == nil {
		return nil
	}
	if failed != nil {
		// The Save that failed may have reached the disk whole.
		if err := applyUpdate(n.storage, *failed); err == nil && sameStorage(got, n.storage) == nil {
			s.ev.Persisted = failed.Entries
			s.tracef("node %d recovered the write that failed before its crash", n.id)
			return nil
		}
	}
	s.durabilityErr = fmt.Errorf("node %d: the reopened engine lost acknowledged state: %v", n.id, sameStorage(got, n.storage))
	return nil
}

// sameStorage returns an error describing the first difference between
// got and want: HardState, snapshot, log bounds, entries.
func sameStorage(got raft.Storage, want *raft.MemoryStorage) error {
	ghs, _, err := got.InitialState()
	if err != nil {
		return err
	}
	whs, _, _ := want.InitialState()
	if ghs != whs {
		return fmt.Errorf("HardState {%s}, want {%s}", raft.DescribeHardState(ghs), raft.DescribeHardState(whs))
	}
	gs, err := got.Snapshot()
	if err != nil {
		return err
	}
	ws, _ := want.Snapshot()
	if gs.Metadata.Index != ws.Metadata.Index || gs.Metadata.Term != ws.Metadata.Term ||
		gs.Metadata.ConfState.Equivalent(ws.Metadata.ConfState) != nil || !bytes.Equal(gs.Data, ws.Data) {
		return fmt.Errorf("snapshot %s, want %s", raft.DescribeSnapshot(gs), raft.DescribeSnapshot(ws))
	}
	gf, _ := got.FirstIndex()
	gl, _ := got.LastIndex()
	wf, _ := want.FirstIndex()
	wl, _ := want.LastIndex()
	if gf != wf || gl != wl {
		return fmt.Errorf("log [%d, %d], want [%d, %d]", gf, gl, wf, wl)
	}
	gt, gerr := got.Term(gf - 1)
	wt, werr := want.Term(wf - 1)
	if gt != wt || (gerr == nil) != (werr == nil) {
		return fmt.Errorf("term %d (%v) before the log, want %d (%v)", gt, gerr, wt, werr)
	}
	if gl < gf {
		return nil
	}
	ge, err := got.Entries(gf, gl+1, noLimit)
	if err != nil {
		return err
	}
	we, _ := want.Entries(wf, wl+1, noLimit)
	if len(ge) != len(we) {
		return fmt.Errorf("%d entries, want %d", len(ge), len(we))
	}
	for i := range ge {
		g, w := ge[i], we[i]
		if g.Index != w.Index || g.Term != w.Term || g.Type != w.Type || !bytes.Equal(g.Data, w.Data) {
			return fmt.Errorf("entry %d/%d, want %d/%d (or their data differ)", g.Term, g.Index, w.Term, w.Index)
		}
	}
	return nil
}

// armTornWriteRandom arms a random live node's file system to crash
// inside one of its next few mutating operations, possibly in the middle
// of a write.
func (s *Sim) armTornWriteRandom() bool {
	var candidates []*simNode
	for _, n := range s.liveNodes(true) {
		if n.disk != nil && !n.disk.armed {
			candidates = append(candidates, n)
		}
	}
	n := s.pick(candidates)
	if n == nil {
		return false
	}
	s.beginEvent(EventDiskFault, n.id)
	ops := 1 + s.rng.Intn(maxArmedOps)
	n.disk.fs.CrashAfter(uint64(ops))
	n.disk.armed = true
	s.tracef("node %d: its disk will crash within %d writes", n.id, ops)
	return true
}

// flipBitRandom flips a bit in the written part of a file of a random
// down node's engine. Only down nodes are damaged: a running engine reads
// entries back from its files, and package raft treats a storage error as
// fatal.
func (s *Sim) flipBitRandom() bool {
	var candidates []*simNode
	for _, n := range s.liveNodes(false) {
		if n.disk != nil && n.disk.flip == nil {
			candidates = append(candidates, n)
		}
	}
	n := s.pick(candidates)
	if n == nil {
		return false
	}
	var files []string
	for _, f := range n.disk.fs.Files() {
		if strings.HasPrefix(f, walDir+"/") && (strings.HasSuffix(f, ".wal") || strings.HasSuffix(f, "/ENGINE")) {
			files = append(files, f)
		}
	}
	if len(files) == 0 {
		return false
	}
	name := files[s.rng.Intn(len(files))]
	data, err := n.disk.fs.ReadFile(name)
	if err != nil {
		return false
	}
	written := int64(len(data))
	for written > 0 && data[written-1] == 0 {
		written-- // the space allocated after the data
	}
	if written == 0 {
		return false
	}
	f := &bitFlip{file: name, offset: s.rng.Int63n(written), bit: uint(s.rng.Intn(8))}
	s.beginEvent(EventDiskFault, n.id)
	if err := n.disk.fs.FlipBit(f.file, f.offset, f.bit); err != nil {
		panic(contractError{fmt.Errorf("node %d: flipping a bit of %s: %w", n.id, f.file, err)})
	}
	n.disk.flip = f
	s.res.Faults[FaultBitFlip]++
	s.tracef("node %d: bit %d of byte %d of %s flipped", n.id, f.bit, f.offset, f.file)
	return true
}
