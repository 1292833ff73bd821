package rafttest

import (
	"errors"
	"fmt"
	"strconv"
	"testing"

	"github.com/cockroachdb/datadriven"

	"github.com/pontoon-raft/raft"
	pb "github.com/pontoon-raft/raft/raftpb"
)

// Handle runs one directive of a datadriven script and returns its output:
// what the command and the nodes' logging printed, "ok" if nothing. A
// directive the script spells wrong (a missing or malformed argument) fails
// t; an error of the command itself (refused by raft or by the storage, or
// by the environment) is part of the output, even at log level NONE. Node
// arguments are IDs (1 for Nodes[0]).
// The commands, with their arguments:
//
//	add-nodes <n> [voters=(ids)] [learners=(ids)] [index=<i>] [content=<s>]
//	    [inflight=<n>] [async-storage-writes=<bool>] [prevote=<bool>]
//	    [checkquorum=<bool>] [max-committed-size-per-ready=<bytes>]
//	    [disable-conf-change-validation=<bool>] [read-only=safe|lease-based]
//	    [step-down-on-removal=<bool>]
//	                           add n nodes; voters, learners, index and content
//	                           give the initial state they are bootstrapped from
//	campaign <id>              RawNode.Campaign
//	compact <id> <index>       compact the storage so that index is the first
//	deliver-msgs [<id>...] [drop=(ids)] [type=<MessageType>]
//	                           deliver (or drop) the messages to these nodes
//	forget-leader <id>         RawNode.ForgetLeader
//	log-level <level>          DEBUG, INFO, WARN, ERROR, FATAL or NONE
//	process-ready <id>...      handle one Ready on each node
//	process-append-thread <id>...  carry out one append on each node
//	process-apply-thread <id>...   carry out one apply on each node
//	propose <id> <data>        RawNode.Propose
//	propose-conf-change <id> [v1=<bool>] [transition=auto|implicit|explicit]
//	<changes, e.g. v1 l2 r3 u4>
//	                           RawNode.ProposeConfChange
//	raft-log <id>              print the entries in the node's storage
//	raft-state                 print every node's role, term and leader
//	report-unreachable <id> <peer>  RawNode.ReportUnreachable(peer) on id
//	send-snapshot <from> <to>  queue a MsgSnap of from's state to to
//	set-randomized-election-timeout <id> timeout=<ticks>
//	stabilize [<id>...] [log-level=<level>]
//	                           handle Readys, messages and storage work until
//	                           none is left
//	status <id>                print the node's progress map
//	tick-election <id>         tick ElectionTick times
//	tick-heartbeat <id>        tick HeartbeatTick times
//	transfer-leadership from=<id> to=<id>
//	_breakpoint                do nothing (a place for a debugger breakpoint)
func (env *InteractionEnv) Handle(t *testing.T, d datadriven.TestData) string {
	env.Output.Reset()
	err := env.run(t, d)
	if err != nil {
		if env.Output.Quiet() {
			// Errors are shown even when the output is off.
			return err.Error()
		}
		env.Output.WriteString(err.Error())
	}
	if env.Output.Len() == 0 {
		return "ok"
	}
	return env.Output.String()
}

// run carries out one directive.
func (env *InteractionEnv) run(t *testing.T, d datadriven.TestData) error {
	switch d.Cmd {
	case "_breakpoint":
		return nil
	case "add-nodes":
		return env.handleAddNodes(t, d)
	case "campaign":
		return env.Campaign(firstIdx(t, d))
	case "compact":
		if len(d.CmdArgs) != 2 {
			t.Fatalf("%s: compact wants a node and an index", d.Pos)
		}
		index, err := strconv.ParseUint(d.CmdArgs[1].Key, 10, 64)
		if err != nil {
			return err
		}
		return env.Compact(firstIdx(t, d), index)
	case "deliver-msgs":
		return env.handleDeliverMsgs(t, d)
	case "forget-leader":
		env.ForgetLeader(firstIdx(t, d))
		return nil
	case "log-level":
		if len(d.CmdArgs) != 1 {
			t.Fatalf("%s: log-level wants one level", d.Pos)
		}
		return env.LogLevel(d.CmdArgs[0].Key)
	case "process-ready":
		return env.eachNode(t, d, "handling Ready", env.ProcessReady)
	case "process-append-thread":
		return env.eachNode(t, d, "processing append thread", env.ProcessAppendThread)
	case "process-apply-thread":
		return env.eachNode(t, d, "processing apply thread", env.ProcessApplyThread)
	case "propose":
		if len(d.CmdArgs) != 2 || len(d.CmdArgs[1].Vals) > 0 {
			t.Fatalf("%s: propose wants a node and the data, got %v", d.Pos, d.CmdArgs)
		}
		return env.Propose(firstIdx(t, d), []byte(d.CmdArgs[1].Key))
	case "propose-conf-change":
		return env.handleProposeConfChange(t, d)
	case "raft-log":
		return env.RaftLog(firstIdx(t, d))
	case "raft-state":
		env.raftState()
		return nil
	case "report-unreachable":
		idxs := nodeArgs(t, d)
		if len(idxs) != 2 {
			return errors.New("report-unreachable wants two nodes: the one to tell, and the one it cannot reach")
		}
		return env.reportUnreachable(idxs[0], idxs[1])
	case "send-snapshot":
		idxs := nodeArgs(t, d)
		if len(idxs) != 2 {
			t.Fatalf("%s: send-snapshot wants two nodes, got %v", d.Pos, d.CmdArgs)
		}
		return env.SendSnapshot(idxs[0], idxs[1])
	case "set-randomized-election-timeout":
		var timeout int
		d.ScanArgs(t, "timeout", &timeout)
		if timeout == 0 {
			t.Fatalf("%s: timeout must not be zero", d.Pos)
		}
		return env.setRandomizedElectionTimeout(firstIdx(t, d), timeout)
	case "stabilize":
		return env.handleStabilize(t, d)
	case "status":
		return env.Status(firstIdx(t, d))
	case "tick-election":
		idx := firstIdx(t, d)
		n, err := env.node(idx)
		if err != nil {
			return err
		}
		return env.Tick(idx, n.Config.ElectionTick)
	case "tick-heartbeat":
		idx := firstIdx(t, d)
		n, err := env.node(idx)
		if err != nil {
			return err
		}
		return env.Tick(idx, n.Config.HeartbeatTick)
	case "transfer-leadership":
		var from, to uint64
		d.ScanArgs(t, "from", &from)
		d.ScanArgs(t, "to", &to)
		for _, id := range []uint64{from, to} {
			if id == 0 || id > uint64(len(env.Nodes)) {
				t.Fatalf("%s: transfer-leadership: no node %d", d.Pos, id)
			}
		}
		return env.transferLeadership(from, to)
	default:
		return fmt.Errorf("unknown command %q", d.Cmd)
	}
}

// firstIdx returns the node index named by the directive's first argument,
// an ID.
func firstIdx(t *testing.T, d datadriven.TestData) int {
	t.Helper()
	if len(d.CmdArgs) == 0 {
		t.Fatalf("%s: %s wants a node", d.Pos, d.Cmd)
	}
	return parseIdx(t, d, d.CmdArgs[0].Key)
}

// parseIdx turns a node ID argument into a node index.
func parseIdx(t *testing.T, d datadriven.TestData, s string) int {
	t.Helper()
	id, err := strconv.Atoi(s)
	if err != nil || id < 1 {
		t.Fatalf("%s: %q is not a node ID", d.Pos, s)
	}
	return id - 1
}

// nodeArgs returns the node indexes named by the directive's bare
// arguments (those without "=").
func nodeArgs(t *testing.T, d datadriven.TestData) []int {
	t.Helper()
	var idxs []int
	for _, arg := range d.CmdArgs {
		if len(arg.Vals) == 0 {
			idxs = append(idxs, parseIdx(t, d, arg.Key))
		}
	}
	return idxs
}

// eachNode runs step on every node the directive names. With more than
// one node, each one's output goes under a "> n what" header.
func (env *InteractionEnv) eachNode(t *testing.T, d datadriven.TestData, what string, step func(int) error) error {
	idxs := nodeArgs(t, d)
	if len(idxs) == 1 {
		return step(idxs[0])
	}
	for _, idx := range idxs {
		if err := env.block(idx, what, step); err != nil {
			return err
		}
	}
	return nil
}

func (env *InteractionEnv) handleAddNodes(t *testing.T, d datadriven.TestData) error {
	n := firstIdx(t, d) + 1
	cfg := defaultConfig()
	var snap pb.Snapshot
	for _, arg := range d.CmdArgs[1:] {
		for i := range arg.Vals {
			switch arg.Key {
			case "voters":
				var id uint64
				arg.Scan(t, i, &id)
				snap.Metadata.ConfState.Voters = append(snap.Metadata.ConfState.Voters, id)
			case "learners":
				var id uint64
				arg.Scan(t, i, &id)
				snap.Metadata.ConfState.Learners = append(snap.Metadata.ConfState.Learners, id)
			case "inflight":
				arg.Scan(t, i, &cfg.MaxInflightMsgs)
			case "index":
				arg.Scan(t, i, &snap.Metadata.Index)
				cfg.Applied = snap.Metadata.Index
			case "content":
				// datadriven cannot scan into a []byte.
				snap.Data = append(snap.Data, arg.Vals[i]...)
			case "async-storage-writes":
				arg.Scan(t, i, &cfg.AsyncStorageWrites)
			case "prevote":
				arg.Scan(t, i, &cfg.PreVote)
			case "checkquorum":
				arg.Scan(t, i, &cfg.CheckQuorum)
			case "max-committed-size-per-ready":
				arg.Scan(t, i, &cfg.MaxCommittedSizePerReady)
			case "disable-conf-change-validation":
				arg.Scan(t, i, &cfg.DisableConfChangeValidation)
			case "read-only":
				switch arg.Vals[i] {
				case "safe":
					cfg.ReadOnlyOption = raft.ReadOnlySafe
				case "lease-based":
					cfg.ReadOnlyOption = raft.ReadOnlyLeaseBased
				default:
					return fmt.Errorf("read-only must be safe or lease-based, got %q", arg.Vals[i])
				}
			case "step-down-on-removal":
				arg.Scan(t, i, &cfg.StepDownOnRemoval)
			default:
				return fmt.Errorf("add-nodes: unknown argument %q", arg.Key)
			}
		}
	}
	return env.AddNodes(n, cfg, snap)
}

func (env *InteractionEnv) handleDeliverMsgs(t *testing.T, d datadriven.TestData) error {
	typ := pb.MessageType(-1)
	var rs []Recipient
	for _, arg := range d.CmdArgs {
		if len(arg.Vals) == 0 {
			rs = append(rs, Recipient{ID: uint64(parseIdx(t, d, arg.Key) + 1)})
			continue
		}
		for i := range arg.Vals {
			switch arg.Key {
			case "drop":
				var id uint64
				arg.Scan(t, i, &id)
				for _, r := range rs {
					if r.ID == id {
						t.Fatalf("%s: messages to %d cannot be both delivered and dropped", d.Pos, id)
					}
				}
				rs = append(rs, Recipient{ID: id, Drop: true})
			case "type":
				v, ok := pb.MessageType_value[arg.Vals[i]]
				if !ok {
					t.Fatalf("%s: unknown message type %q", d.Pos, arg.Vals[i])
				}
				typ = pb.MessageType(v)
			default:
				return fmt.Errorf("deliver-msgs: unknown argument %q", arg.Key)
			}
		}
	}
	if env.DeliverMsgs(typ, rs...) == 0 {
		env.Output.WriteString("no messages\n")
	}
	return nil
}

func (env *InteractionEnv) handleProposeConfChange(t *testing.T, d datadriven.TestData) error {
	idx := firstIdx(t, d)
	v1 := false
	transition := pb.ConfChangeTransitionAuto
	for _, arg := range d.CmdArgs[1:] {
		for _, val := range arg.Vals {
			switch arg.Key {
			case "v1":
				var err error
				if v1, err = strconv.ParseBool(val); err != nil {
					return fmt.Errorf("v1=%s: %w", val, err)
				}
			case "transition":
				switch val {
				case "auto":
					transition = pb.ConfChangeTransitionAuto
				case "implicit":
					transition = pb.ConfChangeTransitionJointImplicit
				case "explicit":
					transition = pb.ConfChangeTransitionJointExplicit
				default:
					return fmt.Errorf("transition must be auto, implicit or explicit, got %q", val)
				}
			default:
				return fmt.Errorf("propose-conf-change: unknown argument %q", arg.Key)
			}
		}
	}
	changes, err := pb.ConfChangesFromString(d.Input)
	if err != nil {
		return err
	}
	var cc pb.ConfChangeI
	if v1 {
		if len(changes) != 1 || transition != pb.ConfChangeTransitionAuto {
			return errors.New("a v1 conf change makes exactly one change and has no transition")
		}
		cc = pb.ConfChange{Type: changes[0].Type, NodeID: changes[0].NodeID}
	} else {
		cc = pb.ConfChangeV2{Transition: transition, Changes: changes}
	}
	return env.ProposeConfChange(idx, cc)
}

func (env *InteractionEnv) handleStabilize(t *testing.T, d datadriven.TestData) error {
	for _, arg := range d.CmdArgs {
		for i := range arg.Vals {
			if arg.Key != "log-level" {
				return fmt.Errorf("stabilize: unknown argument %q", arg.Key)
			}
			// The level holds for this directive only.
			defer func(lvl int) { env.Output.Lvl = lvl }(env.Output.Lvl)
			if err := env.LogLevel(arg.Vals[i]); err != nil {
				return err
			}
		}
	}
	return env.Stabilize(nodeArgs(t, d)...)
}
