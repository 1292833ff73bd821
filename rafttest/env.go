package rafttest

import (
	"fmt"
	"math"
	"strings"

	"github.com/pontoon-raft/raft"
	pb "github.com/pontoon-raft/raft/raftpb"
)

// InteractionOpts configures an InteractionEnv.
type InteractionOpts struct {
	// OnConfig, if set, is called with the Config of every node AddNodes
	// creates, before the node is. It may change anything but the ID and
	// must not set a Logger (the environment's output is the logger).
	OnConfig func(*raft.Config)

	// SetRandomizedElectionTimeout, if set, carries out the
	// set-randomized-election-timeout command: it must make node wait
	// timeout ticks before campaigning, until its next role or term change.
	// etcd/raft's tests plumb an unexported helper in here. When it is nil
	// the environment sets the timeout itself (etcd's would panic).
	SetRandomizedElectionTimeout func(node *raft.RawNode, timeout int)
}

// Node is one member of the group an InteractionEnv runs: its RawNode,
// Storage and Config, and, with Config.AsyncStorageWrites, the storage
// messages its append and apply "threads" have yet to carry out. History holds the
// node's state machine after each applied entry, starting with the state
// it was created from; the last element is what Storage.Snapshot returns.
type Node struct {
	*raft.RawNode
	Storage

	Config     *raft.Config
	AppendWork []pb.Message // MsgStorageAppend messages, oldest first
	ApplyWork  []pb.Message // MsgStorageApply messages, oldest first
	History    []pb.Snapshot
}

// InteractionEnv runs a raft group in one process for scripted tests: it
// holds the nodes (Nodes[i] has ID i+1) and the messages between them, and
// prints what happens. Messages holds the messages
// sent and not yet delivered or dropped, in the order they were sent.
// Output collects what the methods print and what the nodes log; Handle
// resets it for every directive. An InteractionEnv is not safe for
// concurrent use.
type InteractionEnv struct {
	Options  *InteractionOpts
	Nodes    []Node
	Messages []pb.Message // sent, not yet delivered or dropped

	Output *RedirectLogger
}

// NewInteractionEnv returns an environment with no nodes, an empty output
// at level DEBUG, and opts (nil means no options).
func NewInteractionEnv(opts *InteractionOpts) *InteractionEnv {
	if opts == nil {
		opts = &InteractionOpts{}
	}
	return &InteractionEnv{
		Options: opts,
		Output:  &RedirectLogger{Builder: &strings.Builder{}},
	}
}

// Storage is what a Node's storage must offer: raft.Storage for the
// RawNode, and the writes the environment makes when it handles a Ready or
// storage work (the HardState, a snapshot, entries) and for the compact
// command. *raft.MemoryStorage implements it.
type Storage interface {
	raft.Storage
	SetHardState(state pb.HardState) error
	ApplySnapshot(pb.Snapshot) error
	Compact(newFirstIndex uint64) error
	Append([]pb.Entry) error
}

// indented runs f with the output redirected and writes what f printed
// back, each line indented by two spaces: the body of a "> n ..." block.
func (env *InteractionEnv) indented(f func()) {
	outer := env.Output.Builder
	var inner strings.Builder
	env.Output.Builder = &inner
	defer func() {
		env.Output.Builder = outer
		text := strings.TrimSuffix(inner.String(), "\n")
		if text == "" {
			return
		}
		for _, line := range strings.Split(text, "\n") {
			outer.WriteString("  ")
			outer.WriteString(line)
			outer.WriteByte('\n')
		}
	}()
	f()
}

// node returns the node at index idx, or an error naming the range.
func (env *InteractionEnv) node(idx int) (*Node, error) {
	if idx < 0 || idx >= len(env.Nodes) {
		return nil, fmt.Errorf("no node %d: the group has nodes 1 to %d", idx+1, len(env.Nodes))
	}
	return &env.Nodes[idx], nil
}

// defaultConfig is the template add-nodes starts from: fast elections
// (ElectionTick 3, HeartbeatTick 1) and no flow-control limits, so scripts
// see every entry in one message. ID and Storage are set per node.
func defaultConfig() raft.Config {
	return raft.Config{
		ElectionTick:    3,
		HeartbeatTick:   1,
		MaxSizePerMsg:   math.MaxUint64,
		MaxInflightMsgs: math.MaxInt32,
	}
}

// formatData prints entry data in scripts: as a quoted Go string.
func formatData(data []byte) string { return fmt.Sprintf("%q", data) }
