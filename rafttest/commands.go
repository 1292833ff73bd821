package rafttest

import (
	"fmt"
	"math"

	"github.com/pontoon-raft/raft"
	"github.com/pontoon-raft/raft/internal/corehook"
	pb "github.com/pontoon-raft/raft/raftpb"
	"github.com/pontoon-raft/raft/tracker"
)

// Campaign calls RawNode.Campaign on the node at index idx (node ID idx+1).
func (env *InteractionEnv) Campaign(idx int) error {
	n, err := env.node(idx)
	if err != nil {
		return err
	}
	return n.RawNode.Campaign()
}

// Compact discards the entries of node idx's storage up to and including
// newFirstIndex (MemoryStorage.Compact) and prints what remains of its log.
// An index beyond the log is an error.
func (env *InteractionEnv) Compact(idx int, newFirstIndex uint64) error {
	n, err := env.node(idx)
	if err != nil {
		return err
	}
	// MemoryStorage panics when asked to compact beyond its log.
	if last, err := n.LastIndex(); err != nil {
		return err
	} else if newFirstIndex > last {
		return fmt.Errorf("cannot compact node %d up to index %d: its last index is %d", idx+1, newFirstIndex, last)
	}
	if err := n.Storage.Compact(newFirstIndex); err != nil {
		return err
	}
	return env.RaftLog(idx)
}

// ForgetLeader calls RawNode.ForgetLeader on node idx. An index outside
// the group is ignored.
func (env *InteractionEnv) ForgetLeader(idx int) {
	if n, err := env.node(idx); err == nil {
		n.RawNode.ForgetLeader()
	}
}

// LogLevel sets the level of the output by name: DEBUG, INFO, WARN, ERROR,
// FATAL or NONE, in any case. NONE silences everything, the environment's
// own output included, except the error Handle reports.
func (env *InteractionEnv) LogLevel(name string) error {
	return env.Output.setLevel(name)
}

// Propose calls RawNode.Propose with data on node idx: a normal entry.
func (env *InteractionEnv) Propose(idx int, data []byte) error {
	n, err := env.node(idx)
	if err != nil {
		return err
	}
	return n.RawNode.Propose(data)
}

// ProposeConfChange calls RawNode.ProposeConfChange with c on node idx.
func (env *InteractionEnv) ProposeConfChange(idx int, c pb.ConfChangeI) error {
	n, err := env.node(idx)
	if err != nil {
		return err
	}
	return n.RawNode.ProposeConfChange(c)
}

// RaftLog writes the entries node idx's storage holds to the output, one
// per line, or a line saying the log is empty with its first and last
// index.
func (env *InteractionEnv) RaftLog(idx int) error {
	n, err := env.node(idx)
	if err != nil {
		return err
	}
	first, err := n.FirstIndex()
	if err != nil {
		return err
	}
	last, err := n.LastIndex()
	if err != nil {
		return err
	}
	if last < first {
		fmt.Fprintf(env.Output, "log is empty: first index=%d, last index=%d", first, last)
		return nil
	}
	ents, err := n.Entries(first, last+1, math.MaxUint64)
	if err != nil {
		return err
	}
	env.Output.WriteString(raft.DescribeEntries(ents, formatData))
	return nil
}

// raftState prints each node's role, whether it is a voter in its own view
// of the configuration, its term and the leader it knows.
func (env *InteractionEnv) raftState() {
	for i := range env.Nodes {
		st := env.Nodes[i].Status()
		voter := "(Non-Voter)"
		if _, ok := st.Config.Voters.IDs()[st.ID]; ok {
			voter = "(Voter)"
		}
		fmt.Fprintf(env.Output, "%d: %s %s Term:%d Lead:%d\n", st.ID, st.RaftState, voter, st.Term, st.Lead)
	}
}

// reportUnreachable tells the node at index idx that the node at index
// peerIdx could not be reached.
func (env *InteractionEnv) reportUnreachable(idx, peerIdx int) error {
	n, err := env.node(idx)
	if err != nil {
		return err
	}
	peer, err := env.node(peerIdx)
	if err != nil {
		return err
	}
	n.ReportUnreachable(peer.Config.ID)
	return nil
}

// SendSnapshot queues (and prints) a MsgSnap from node fromIdx to node
// toIdx, at fromIdx's current term, carrying fromIdx's latest applied
// state. It is delivered like any other message; raft itself is not told.
func (env *InteractionEnv) SendSnapshot(fromIdx, toIdx int) error {
	from, err := env.node(fromIdx)
	if err != nil {
		return err
	}
	if _, err := env.node(toIdx); err != nil {
		return err
	}
	snap, err := from.Snapshot()
	if err != nil {
		return err
	}
	m := pb.Message{
		Type:     pb.MsgSnap,
		Term:     from.BasicStatus().Term,
		From:     uint64(fromIdx + 1),
		To:       uint64(toIdx + 1),
		Snapshot: &snap,
	}
	env.Messages = append(env.Messages, m)
	env.Output.WriteString(raft.DescribeMessage(m, nil))
	return nil
}

// setRandomizedElectionTimeout makes the node at index idx campaign after
// timeout ticks without a leader, until its next role or term change.
func (env *InteractionEnv) setRandomizedElectionTimeout(idx, timeout int) error {
	n, err := env.node(idx)
	if err != nil {
		return err
	}
	if timeout <= 0 {
		return fmt.Errorf("the election timeout must be positive, got %d ticks", timeout)
	}
	if set := env.Options.SetRandomizedElectionTimeout; set != nil {
		set(n.RawNode, timeout)
		return nil
	}
	corehook.SetRandomizedElectionTimeout(n.RawNode, timeout)
	return nil
}

// Status writes the progress node idx tracks for each member to the
// output, one line per member in ID order (nothing for a follower, which
// tracks none).
func (env *InteractionEnv) Status(idx int) error {
	n, err := env.node(idx)
	if err != nil {
		return err
	}
	st := n.RawNode.Status()
	m := make(tracker.ProgressMap, len(st.Progress))
	for id, pr := range st.Progress {
		m[id] = &pr
	}
	env.Output.WriteString(m.String())
	return nil
}

// Tick calls RawNode.Tick num times on node idx.
func (env *InteractionEnv) Tick(idx int, num int) error {
	n, err := env.node(idx)
	if err != nil {
		return err
	}
	for i := 0; i < num; i++ {
		n.RawNode.Tick()
	}
	return nil
}

// transferLeadership asks node `from` (an ID) to hand leadership to node
// `to`.
func (env *InteractionEnv) transferLeadership(from, to uint64) error {
	n, err := env.node(int(from) - 1)
	if err != nil {
		return err
	}
	n.TransferLeader(to)
	return nil
}
