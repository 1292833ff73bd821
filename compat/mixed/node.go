package mixed

import (
	"errors"
	"fmt"
	"io"
	"log"

	etcdraft "go.etcd.io/raft/v3"
	epb "go.etcd.io/raft/v3/raftpb"

	"github.com/pontoon-raft/raft"
	"github.com/pontoon-raft/raft/compat/wire"
	pb "github.com/pontoon-raft/raft/raftpb"
	"github.com/pontoon-raft/raft/raftsim"
)

// EtcdNode wraps an etcd/raft v3.6 *RawNode so that it satisfies
// raftsim.Node. It converts every value crossing it through the wire
// encoding and panics if a conversion fails, which the simulator reports as
// a violation.
type EtcdNode struct {
	rn *etcdraft.RawNode
}

var _ raftsim.Node = (*EtcdNode)(nil)

// EtcdConfig returns the etcd configuration equivalent to cfg, reading
// cfg.Storage through a converting wrapper. cfg.Rand has no etcd
// counterpart and is ignored; cfg.TraceLogger is not carried over.
func EtcdConfig(cfg *raft.Config) *etcdraft.Config {
	return &etcdraft.Config{
		ID:                          cfg.ID,
		ElectionTick:                cfg.ElectionTick,
		HeartbeatTick:               cfg.HeartbeatTick,
		Storage:                     etcdStorage{s: cfg.Storage},
		Applied:                     cfg.Applied,
		AsyncStorageWrites:          cfg.AsyncStorageWrites,
		MaxSizePerMsg:               cfg.MaxSizePerMsg,
		MaxCommittedSizePerReady:    cfg.MaxCommittedSizePerReady,
		MaxUncommittedEntriesSize:   cfg.MaxUncommittedEntriesSize,
		MaxInflightMsgs:             cfg.MaxInflightMsgs,
		MaxInflightBytes:            cfg.MaxInflightBytes,
		CheckQuorum:                 cfg.CheckQuorum,
		PreVote:                     cfg.PreVote,
		ReadOnlyOption:              etcdraft.ReadOnlyOption(cfg.ReadOnlyOption),
		Logger:                      cfg.Logger,
		DisableProposalForwarding:   cfg.DisableProposalForwarding,
		DisableConfChangeValidation: cfg.DisableConfChangeValidation,
		StepDownOnRemoval:           cfg.StepDownOnRemoval,
	}
}

// EtcdNodeFactory is a raftsim.NodeFactory that builds an EtcdNode. It
// always sets StepDownOnRemoval: etcd v3.6 lets a leader that was demoted
// or removed keep leading, and such a leader whose configuration has one
// voter (another node) answers ReadIndex at once at its own, possibly
// stale, commit index. Stepping down avoids that known etcd behaviour,
// which the simulator's linearizability check would otherwise report.
func EtcdNodeFactory(cfg *raft.Config) (raftsim.Node, error) {
	ecfg := EtcdConfig(cfg)
	ecfg.StepDownOnRemoval = true
	if ecfg.Logger == nil {
		ecfg.Logger = &etcdraft.DefaultLogger{Logger: log.New(io.Discard, "", 0)}
	}
	rn, err := etcdraft.NewRawNode(ecfg)
	if err != nil {
		return nil, fmt.Errorf("mixed: starting etcd node %d: %w", cfg.ID, err)
	}
	return &EtcdNode{rn: rn}, nil
}

// must panics with a message naming what failed to convert.
func must[T any](v T, err error) T {
	if err != nil {
		panic(fmt.Sprintf("mixed: wire conversion failed: %v", err))
	}
	return v
}

// stepErrors pairs each etcd Step/Propose error with Pontoon's.
var stepErrors = []struct{ etcd, ours error }{
	{etcdraft.ErrProposalDropped, raft.ErrProposalDropped},
	{etcdraft.ErrStepLocalMsg, raft.ErrStepLocalMsg},
	{etcdraft.ErrStepPeerNotFound, raft.ErrStepPeerNotFound},
}

func fromEtcdError(err error) error {
	for _, p := range stepErrors {
		if errors.Is(err, p.etcd) {
			return p.ours
		}
	}
	return err
}

// Tick implements raftsim.Node.
func (n *EtcdNode) Tick() { n.rn.Tick() }

// TickQuiesced implements raftsim.Node.
func (n *EtcdNode) TickQuiesced() { n.rn.TickQuiesced() }

// Campaign implements raftsim.Node.
func (n *EtcdNode) Campaign() error { return fromEtcdError(n.rn.Campaign()) }

// ForgetLeader implements raftsim.Node.
func (n *EtcdNode) ForgetLeader() error { return fromEtcdError(n.rn.ForgetLeader()) }

// Step implements raftsim.Node.
func (n *EtcdNode) Step(m pb.Message) error {
	return fromEtcdError(n.rn.Step(must(wire.RecodeMessageToEtcd(m))))
}

// Propose implements raftsim.Node.
func (n *EtcdNode) Propose(data []byte) error { return fromEtcdError(n.rn.Propose(data)) }

// toEtcdConfChange converts a conf change of either version.
func toEtcdConfChange(cc pb.ConfChangeI) epb.ConfChangeI {
	switch c := cc.(type) {
	case pb.ConfChange:
		return wire.CopyConfChangeToEtcd(c)
	case *pb.ConfChange:
		return wire.CopyConfChangeToEtcd(*c)
	case pb.ConfChangeV2:
		return wire.CopyConfChangeV2ToEtcd(c)
	case *pb.ConfChangeV2:
		return wire.CopyConfChangeV2ToEtcd(*c)
	}
	panic(fmt.Sprintf("mixed: unknown conf change type %T", cc))
}

// ProposeConfChange implements raftsim.Node.
func (n *EtcdNode) ProposeConfChange(cc pb.ConfChangeI) error {
	return fromEtcdError(n.rn.ProposeConfChange(toEtcdConfChange(cc)))
}

// HasReady implements raftsim.Node.
func (n *EtcdNode) HasReady() bool { return n.rn.HasReady() }

// Ready implements raftsim.Node: etcd's Ready, converted.
func (n *EtcdNode) Ready() raft.Ready {
	erd := n.rn.Ready()
	rd := raft.Ready{
		HardState:        must(wire.RecodeHardStateFromEtcd(erd.HardState)),
		Entries:          must(wire.RecodeEntriesFromEtcd(erd.Entries)),
		Snapshot:         must(wire.RecodeSnapshotFromEtcd(erd.Snapshot)),
		CommittedEntries: must(wire.RecodeEntriesFromEtcd(erd.CommittedEntries)),
		MustSync:         erd.MustSync,
	}
	if erd.SoftState != nil {
		rd.SoftState = &raft.SoftState{Lead: erd.SoftState.Lead, RaftState: raft.StateType(erd.SoftState.RaftState)}
	}
	for _, rs := range erd.ReadStates {
		rd.ReadStates = append(rd.ReadStates, raft.ReadState{Index: rs.Index, RequestCtx: rs.RequestCtx})
	}
	if erd.Messages != nil {
		rd.Messages = make([]pb.Message, len(erd.Messages))
		for i, m := range erd.Messages {
			rd.Messages[i] = must(wire.RecodeMessageFromEtcd(m))
		}
	}
	return rd
}

// Advance implements raftsim.Node. etcd v3.6 ignores the Ready passed to
// Advance, so none is converted back.
func (n *EtcdNode) Advance(raft.Ready) { n.rn.Advance(etcdraft.Ready{}) }

// ApplyConfChange implements raftsim.Node.
func (n *EtcdNode) ApplyConfChange(cc pb.ConfChangeI) *pb.ConfState {
	cs := must(wire.RecodeConfStateFromEtcd(*n.rn.ApplyConfChange(toEtcdConfChange(cc))))
	return &cs
}

// BasicStatus implements raftsim.Node.
func (n *EtcdNode) BasicStatus() raft.BasicStatus {
	st := n.rn.BasicStatus()
	return raft.BasicStatus{
		ID:             st.ID,
		HardState:      wire.CopyHardStateFromEtcd(st.HardState),
		SoftState:      raft.SoftState{Lead: st.Lead, RaftState: raft.StateType(st.RaftState)},
		Applied:        st.Applied,
		LeadTransferee: st.LeadTransferee,
	}
}

// ReportSnapshot implements raftsim.Node.
func (n *EtcdNode) ReportSnapshot(id uint64, status raft.SnapshotStatus) {
	n.rn.ReportSnapshot(id, etcdraft.SnapshotStatus(status))
}

// ReportUnreachable implements raftsim.Node.
func (n *EtcdNode) ReportUnreachable(id uint64) { n.rn.ReportUnreachable(id) }

// TransferLeader implements raftsim.Node.
func (n *EtcdNode) TransferLeader(transferee uint64) { n.rn.TransferLeader(transferee) }

// ReadIndex implements raftsim.Node.
func (n *EtcdNode) ReadIndex(rctx []byte) { n.rn.ReadIndex(rctx) }
