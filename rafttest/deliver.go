package rafttest

import (
	"fmt"

	"github.com/pontoon-raft/raft"
	pb "github.com/pontoon-raft/raft/raftpb"
)

// Recipient selects the in-flight messages to one node for DeliverMsgs: ID
// is the node's ID, and Drop discards its messages instead of delivering
// them.
type Recipient struct {
	ID   uint64
	Drop bool
}

// DeliverMsgs takes from env.Messages the messages of type typ (any type
// when typ is negative) addressed to each of rs, in the order rs are given
// and, per recipient, in the order the messages were sent, and steps them
// into their recipient, or discards them if the Recipient says Drop. It
// prints each one ("dropped: " before a discarded one) and any error Step
// returns, and reports how many it took. A message within one node (to or
// from itself or its storage threads) is never dropped: it stays in
// env.Messages.
func (env *InteractionEnv) DeliverMsgs(typ pb.MessageType, rs ...Recipient) int {
	var handled int
	for _, r := range rs {
		var msgs []pb.Message
		msgs, env.Messages = takeMessages(env.Messages, r.ID, typ, r.Drop)
		handled += len(msgs)
		for _, m := range msgs {
			if r.Drop {
				// A message to a node that does not exist (yet) may be
				// dropped: m.To is not looked up.
				fmt.Fprintf(env.Output, "dropped: %s\n", raft.DescribeMessage(m, formatData))
				continue
			}
			fmt.Fprintln(env.Output, raft.DescribeMessage(m, formatData))
			n, err := env.node(int(m.To) - 1)
			if err == nil {
				err = n.Step(m)
			}
			if err != nil {
				fmt.Fprintln(env.Output, err)
			}
		}
	}
	return handled
}

// takeMessages splits msgs, keeping their order, into those addressed to
// node `to` of type typ (any type if typ is negative) and the rest. When
// dropping, a node's messages to and from itself or its storage threads
// stay: they model local calls, which cannot be lost.
func takeMessages(msgs []pb.Message, to uint64, typ pb.MessageType, drop bool) (taken, rest []pb.Message) {
	for _, m := range msgs {
		if m.To == to && (typ < 0 || m.Type == typ) && !(drop && isLocal(m)) {
			taken = append(taken, m)
		} else {
			rest = append(rest, m)
		}
	}
	return taken, rest
}

// isLocal reports whether m stays within one node.
func isLocal(m pb.Message) bool {
	return m.From == m.To || raft.IsLocalMsgTarget(m.From) || raft.IsLocalMsgTarget(m.To)
}

// Stabilize runs rounds over the nodes at idxs (every node when idxs is
// empty) until a round finds nothing to do. A round handles, node by node
// in the order given, each node's Ready, then the messages addressed to
// each, then each one's append work, then each one's apply work, printing
// every step under a "> n ..." header. Messages to nodes outside idxs stay
// in flight.
func (env *InteractionEnv) Stabilize(idxs ...int) error {
	if len(idxs) == 0 {
		for i := range env.Nodes {
			idxs = append(idxs, i)
		}
	}
	for _, idx := range idxs {
		if _, err := env.node(idx); err != nil {
			return err
		}
	}
	for {
		busy := false
		for _, idx := range idxs {
			if !env.Nodes[idx].HasReady() {
				continue
			}
			busy = true
			if err := env.block(idx, "handling Ready", env.ProcessReady); err != nil {
				return err
			}
		}
		for _, idx := range idxs {
			id := uint64(idx + 1)
			if !hasMessagesTo(env.Messages, id) {
				continue
			}
			busy = true
			fmt.Fprintf(env.Output, "> %d receiving messages\n", id)
			env.indented(func() { env.DeliverMsgs(-1, Recipient{ID: id}) })
		}
		for _, idx := range idxs {
			if len(env.Nodes[idx].AppendWork) == 0 {
				continue
			}
			busy = true
			if err := env.drain(idx, "processing append thread", func(n *Node) int { return len(n.AppendWork) }, env.ProcessAppendThread); err != nil {
				return err
			}
		}
		for _, idx := range idxs {
			if len(env.Nodes[idx].ApplyWork) == 0 {
				continue
			}
			busy = true
			if err := env.drain(idx, "processing apply thread", func(n *Node) int { return len(n.ApplyWork) }, env.ProcessApplyThread); err != nil {
				return err
			}
		}
		if !busy {
			return nil
		}
	}
}

// block prints "> n what" and runs step(idx) with its output indented.
func (env *InteractionEnv) block(idx int, what string, step func(int) error) error {
	fmt.Fprintf(env.Output, "> %d %s\n", idx+1, what)
	var err error
	env.indented(func() { err = step(idx) })
	return err
}

// drain prints "> n what" once and runs step(idx) until pending reports no
// work left, each step's output indented.
func (env *InteractionEnv) drain(idx int, what string, pending func(*Node) int, step func(int) error) error {
	fmt.Fprintf(env.Output, "> %d %s\n", idx+1, what)
	for pending(&env.Nodes[idx]) > 0 {
		var err error
		env.indented(func() { err = step(idx) })
		if err != nil {
			return err
		}
	}
	return nil
}

// hasMessagesTo reports whether any in-flight message is addressed to id.
func hasMessagesTo(msgs []pb.Message, id uint64) bool {
	for _, m := range msgs {
		if m.To == id {
			return true
		}
	}
	return false
}
