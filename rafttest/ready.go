package rafttest

import (
	"errors"
	"fmt"

	"github.com/pontoon-raft/raft"
	pb "github.com/pontoon-raft/raft/raftpb"
)

// ProcessReady takes the Ready of node idx, prints it and queues its
// messages to other nodes for delivery. Without
// AsyncStorageWrites it also writes the Ready's state and entries to
// storage, applies its committed entries and calls Advance; with it, the
// MsgStorageAppend and MsgStorageApply messages are queued on the node's
// AppendWork and ApplyWork for ProcessAppendThread and ProcessApplyThread.
func (env *InteractionEnv) ProcessReady(idx int) error {
	n, err := env.node(idx)
	if err != nil {
		return err
	}
	rd := n.Ready()
	env.Output.WriteString(raft.DescribeReady(rd, formatData))

	async := n.Config.AsyncStorageWrites
	if !async {
		if err := persist(n, rd.HardState, rd.Entries, rd.Snapshot); err != nil {
			return err
		}
		if err := apply(n, rd.CommittedEntries); err != nil {
			return err
		}
	}
	for _, m := range rd.Messages {
		if !raft.IsLocalMsgTarget(m.To) {
			env.Messages = append(env.Messages, m)
			continue
		}
		switch {
		case !async:
			return fmt.Errorf("node %d handed out %s to a local thread without AsyncStorageWrites", idx+1, m.Type)
		case m.Type == pb.MsgStorageAppend:
			n.AppendWork = append(n.AppendWork, m)
		case m.Type == pb.MsgStorageApply:
			n.ApplyWork = append(n.ApplyWork, m)
		default:
			return fmt.Errorf("node %d sent %s to a local thread, which only takes storage work", idx+1, m.Type)
		}
	}
	if !async {
		n.Advance(rd)
	}
	return nil
}

// ProcessAppendThread carries out the oldest MsgStorageAppend in node
// idx's AppendWork: it prints it, writes its HardState and entries (or
// snapshot) to storage, and queues and prints its responses.
func (env *InteractionEnv) ProcessAppendThread(idx int) error {
	n, err := env.node(idx)
	if err != nil {
		return err
	}
	if len(n.AppendWork) == 0 {
		env.Output.WriteString("no append work to perform")
		return nil
	}
	m := n.AppendWork[0]
	n.AppendWork = n.AppendWork[1:]
	resps := m.Responses
	m.Responses = nil
	env.printWork(m)
	hs := pb.HardState{Term: m.Term, Vote: m.Vote, Commit: m.Commit}
	var snap pb.Snapshot
	if m.Snapshot != nil {
		snap = *m.Snapshot
	}
	if err := persist(n, hs, m.Entries, snap); err != nil {
		return err
	}
	env.printResponses(resps)
	env.Messages = append(env.Messages, resps...)
	return nil
}

// ProcessApplyThread carries out the oldest MsgStorageApply in node idx's
// ApplyWork: it prints it, applies its entries and queues and prints its
// responses.
func (env *InteractionEnv) ProcessApplyThread(idx int) error {
	n, err := env.node(idx)
	if err != nil {
		return err
	}
	if len(n.ApplyWork) == 0 {
		env.Output.WriteString("no apply work to perform")
		return nil
	}
	m := n.ApplyWork[0]
	n.ApplyWork = n.ApplyWork[1:]
	resps := m.Responses
	m.Responses = nil
	env.printWork(m)
	if err := apply(n, m.Entries); err != nil {
		return err
	}
	env.printResponses(resps)
	env.Messages = append(env.Messages, resps...)
	return nil
}

// printWork prints the storage message a thread is about to carry out.
func (env *InteractionEnv) printWork(m pb.Message) {
	env.Output.WriteString("Processing:\n")
	env.Output.WriteString(raft.DescribeMessage(m, formatData))
	env.Output.WriteString("\n")
}

// printResponses prints the messages a thread releases after its work.
func (env *InteractionEnv) printResponses(resps []pb.Message) {
	env.Output.WriteString("Responses:\n")
	for _, m := range resps {
		env.Output.WriteString(raft.DescribeMessage(m, formatData))
		env.Output.WriteString("\n")
	}
}

// persist writes a HardState and either a snapshot or entries to n's
// storage, as the application does with a Ready or a MsgStorageAppend.
func persist(n *Node, hs pb.HardState, ents []pb.Entry, snap pb.Snapshot) error {
	if !raft.IsEmptyHardState(hs) {
		if err := n.SetHardState(hs); err != nil {
			return err
		}
	}
	if raft.IsEmptySnap(snap) {
		return n.Append(ents)
	}
	if len(ents) > 0 {
		return errors.New("a snapshot and entries to write at once: raft never hands out both")
	}
	return n.ApplySnapshot(snap)
}

// apply runs committed entries through the environment's state machine,
// which appends each entry's data (a conf change's context for conf
// changes) to the previous state, and records each resulting state in n's
// History. Conf changes are also applied to the RawNode.
func apply(n *Node, ents []pb.Entry) error {
	for _, e := range ents {
		prev := n.History[len(n.History)-1]
		cs := prev.Metadata.ConfState
		var update []byte
		switch e.Type {
		case pb.EntryConfChange, pb.EntryConfChangeV2:
			cc, err := decodeConfChange(e)
			if err != nil {
				return fmt.Errorf("applying entry %d/%d: %w", e.Term, e.Index, err)
			}
			cs = *n.ApplyConfChange(cc)
			update = cc.AsV2().Context
		default:
			update = e.Data
		}
		next := pb.Snapshot{
			Data:     append(append([]byte(nil), prev.Data...), update...),
			Metadata: pb.SnapshotMetadata{ConfState: cs, Index: e.Index, Term: e.Term},
		}
		n.History = append(n.History, next)
	}
	return nil
}

// decodeConfChange decodes the conf change an entry holds.
func decodeConfChange(e pb.Entry) (pb.ConfChangeI, error) {
	if e.Type == pb.EntryConfChange {
		var cc pb.ConfChange
		if err := cc.Unmarshal(e.Data); err != nil {
			return nil, err
		}
		return cc, nil
	}
	var cc pb.ConfChangeV2
	if err := cc.Unmarshal(e.Data); err != nil {
		return nil, err
	}
	return cc, nil
}
