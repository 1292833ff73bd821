package raftsim

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/fnv"

	"github.com/pontoon-raft/raft"
	pb "github.com/pontoon-raft/raft/raftpb"
)

// Node is the part of a raft node the simulator drives. *raft.RawNode
// satisfies it; an adapter around another implementation (etcd/raft, a
// mutant for testing the checker) can too.
//
// The simulator calls it from one goroutine and follows the Ready contract
// of package raft: it persists a Ready's snapshot, entries and HardState to
// the node's storage, sends the messages, applies the committed entries
// (calling ApplyConfChange for conf changes) and then calls Advance; with
// cfg.AsyncStorageWrites it follows the asynchronous contract instead and
// never calls Advance. ProposeConfChange, TransferLeader and ReadIndex are
// called on the leader (or any node, for reads), and Campaign,
// TickQuiesced, ForgetLeader and ReportUnreachable on any node, when Faults
// enable them.
type Node interface {
	Tick()
	TickQuiesced()
	Campaign() error
	ForgetLeader() error
	Step(m pb.Message) error
	Propose(data []byte) error
	ProposeConfChange(cc pb.ConfChangeI) error
	HasReady() bool
	Ready() raft.Ready
	Advance(rd raft.Ready)
	ApplyConfChange(cc pb.ConfChangeI) *pb.ConfState
	BasicStatus() raft.BasicStatus
	ReportSnapshot(id uint64, status raft.SnapshotStatus)
	ReportUnreachable(id uint64)
	TransferLeader(transferee uint64)
	ReadIndex(rctx []byte)
}

var _ Node = (*raft.RawNode)(nil)

// NodeFactory builds a node from cfg. The simulator fills in cfg.ID,
// cfg.Storage (the node's durable *raft.MemoryStorage, or with
// Options.Storage StorageWAL its engine's *wal.GroupStorage), cfg.Rand (seeded
// from the run's seed), the tick settings, PreVote, CheckQuorum,
// StepDownOnRemoval, AsyncStorageWrites, the size limits and the Logger; Applied is always 0, so a restarted node hands out
// its committed entries again. A factory may adjust cfg before using it.
type NodeFactory func(cfg *raft.Config) (Node, error)

// RawNodeFactory is the default NodeFactory: a *raft.RawNode.
func RawNodeFactory(cfg *raft.Config) (Node, error) { return raft.NewRawNode(cfg) }

// StateMachine is the application a node applies committed entries to. The
// simulator creates one per node incarnation (Options.NewStateMachine), so
// after a crash the state machine is rebuilt from the latest snapshot in
// storage plus the entries the node applies again.
type StateMachine interface {
	// Apply applies one committed entry. It is called for every entry in
	// log order, including the empty entries new leaders append and conf
	// changes.
	Apply(e pb.Entry)
	// Snapshot encodes the state after the last applied entry.
	Snapshot() []byte
	// Restore replaces the state with one encoded by Snapshot.
	Restore(data []byte) error
}

// HashStateMachine is the default StateMachine: it counts the normal
// entries with data it applies and folds their data into a running FNV-1a
// hash, so two replicas with equal Count and Hash applied the same
// commands.
type HashStateMachine struct {
	// Count is the number of non-empty normal entries applied.
	Count uint64
	// Hash is the running hash of their data.
	Hash uint64
}

// Apply implements StateMachine.
func (h *HashStateMachine) Apply(e pb.Entry) {
	if e.Type != pb.EntryNormal || len(e.Data) == 0 {
		return
	}
	h.Count++
	h.Hash = foldHash(h.Hash, e.Data)
}

// Snapshot implements StateMachine: 16 bytes, Count then Hash, big endian.
func (h *HashStateMachine) Snapshot() []byte {
	b := make([]byte, 16)
	binary.BigEndian.PutUint64(b, h.Count)
	binary.BigEndian.PutUint64(b[8:], h.Hash)
	return b
}

// Restore implements StateMachine.
func (h *HashStateMachine) Restore(data []byte) error {
	if len(data) != 16 {
		return fmt.Errorf("raftsim: HashStateMachine snapshot has %d bytes, want 16", len(data))
	}
	h.Count = binary.BigEndian.Uint64(data)
	h.Hash = binary.BigEndian.Uint64(data[8:])
	return nil
}

// foldHash extends the running hash h with data.
func foldHash(h uint64, data []byte) uint64 {
	f := fnv.New64a()
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], h)
	_, _ = f.Write(b[:])
	_, _ = f.Write(data)
	return f.Sum64()
}

// entryHash identifies an entry's type and data (not its position).
func entryHash(e pb.Entry) uint64 {
	f := fnv.New64a()
	_, _ = f.Write([]byte{byte(e.Type)})
	_, _ = f.Write(e.Data)
	return f.Sum64()
}

// chainHash extends a node's applied-log hash with entry e. Equal chain
// hashes at an index mean equal applied prefixes.
func chainHash(h uint64, e pb.Entry) uint64 {
	var b [24]byte
	binary.BigEndian.PutUint64(b[:], e.Index)
	binary.BigEndian.PutUint64(b[8:], e.Term)
	binary.BigEndian.PutUint64(b[16:], entryHash(e))
	return foldHash(h, b[:])
}

// snapshotMagic starts the Data of every snapshot the simulator creates.
var snapshotMagic = [4]byte{'r', 's', 'i', 'm'}

// snapshotEnvelope is what the simulator stores in snapshot Data: its own
// bookkeeping (the applied index and chain hash) around the state machine's
// encoding, so that any state machine can be restored and checked.
type snapshotEnvelope struct {
	index   uint64
	chain   uint64
	appData []byte
}

func (s snapshotEnvelope) encode() []byte {
	b := make([]byte, 0, 20+len(s.appData))
	b = append(b, snapshotMagic[:]...)
	b = binary.BigEndian.AppendUint64(b, s.index)
	b = binary.BigEndian.AppendUint64(b, s.chain)
	return append(b, s.appData...)
}

var errBadEnvelope = errors.New("raftsim: snapshot data was not written by the simulator")

func decodeEnvelope(data []byte) (snapshotEnvelope, error) {
	if len(data) < 20 || [4]byte(data[:4]) != snapshotMagic {
		return snapshotEnvelope{}, errBadEnvelope
	}
	return snapshotEnvelope{
		index:   binary.BigEndian.Uint64(data[4:]),
		chain:   binary.BigEndian.Uint64(data[12:]),
		appData: data[20:],
	}, nil
}

// quietLogger discards everything except panics, which it raises so that
// the simulator reports them as violations.
type quietLogger struct{}

func (quietLogger) Debug(...interface{})            {}
func (quietLogger) Debugf(string, ...interface{})   {}
func (quietLogger) Error(...interface{})            {}
func (quietLogger) Errorf(string, ...interface{})   {}
func (quietLogger) Info(...interface{})             {}
func (quietLogger) Infof(string, ...interface{})    {}
func (quietLogger) Warning(...interface{})          {}
func (quietLogger) Warningf(string, ...interface{}) {}
func (quietLogger) Fatal(v ...interface{})          { panic(fmt.Sprint(v...)) }
func (quietLogger) Fatalf(f string, v ...interface{}) {
	panic(fmt.Sprintf(f, v...))
}
func (quietLogger) Panic(v ...interface{})            { panic(fmt.Sprint(v...)) }
func (quietLogger) Panicf(f string, v ...interface{}) { panic(fmt.Sprintf(f, v...)) }
