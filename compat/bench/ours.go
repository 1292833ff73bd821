package bench

import (
	"fmt"

	raft "github.com/pontoon-raft/raft"
	pb "github.com/pontoon-raft/raft/raftpb"
)

// The Pontoon side of the harness. etcd.go is the same code over etcd/raft's
// types; keep the two in step so that both libraries are driven alike.

type oursNode struct {
	rn      *raft.RawNode
	storage *raft.MemoryStorage
	// applied counts applied entries carrying a proposal's data.
	applied int
}

type oursCluster struct {
	nodes    []*oursNode
	onCommit func(n int)
	// outbox collects the messages of the current round; delivering is the
	// previous outbox, reused to avoid growing a new one every round.
	outbox     []pb.Message
	delivering []pb.Message
	sent       uint64
}

func newOursCluster(size int, onCommit func(n int)) (*oursCluster, error) {
	voters := make([]uint64, size)
	for i := range voters {
		voters[i] = uint64(i + 1)
	}
	c := &oursCluster{}
	for _, id := range voters {
		s := raft.NewMemoryStorage()
		snap := pb.Snapshot{Metadata: pb.SnapshotMetadata{
			Index: 1, Term: 1, ConfState: pb.ConfState{Voters: voters},
		}}
		if err := s.ApplySnapshot(snap); err != nil {
			return nil, err
		}
		rn, err := raft.NewRawNode(&raft.Config{
			ID:                       id,
			ElectionTick:             electionTicks,
			HeartbeatTick:            heartbeatTicks,
			Storage:                  s,
			MaxSizePerMsg:            maxSizePerMsgBytes,
			MaxCommittedSizePerReady: maxCommittedBytes,
			MaxInflightMsgs:          maxInflightMsgs,
			Logger:                   nopLogger{},
		})
		if err != nil {
			return nil, err
		}
		c.nodes = append(c.nodes, &oursNode{rn: rn, storage: s})
	}
	if err := c.nodes[0].rn.Campaign(); err != nil {
		return nil, err
	}
	for {
		sent, err := c.Round()
		if err != nil {
			return nil, err
		}
		if !sent {
			break
		}
	}
	if st := c.nodes[0].rn.BasicStatus(); st.RaftState != raft.StateLeader {
		return nil, fmt.Errorf("bench: node 1 is %v after its campaign", st.RaftState)
	}
	c.onCommit = onCommit
	return c, nil
}

func (c *oursCluster) Propose(data []byte) error { return c.nodes[0].rn.Propose(data) }

func (c *oursCluster) Round() (bool, error) {
	for i, n := range c.nodes {
		if err := c.handleReadys(n, i == 0); err != nil {
			return false, err
		}
	}
	c.outbox, c.delivering = c.delivering[:0], c.outbox
	for _, m := range c.delivering {
		if err := c.nodes[m.To-1].rn.Step(m); err != nil {
			return false, err
		}
	}
	clear(c.delivering)
	return len(c.delivering) > 0, nil
}

func (c *oursCluster) handleReadys(n *oursNode, leader bool) error {
	for n.rn.HasReady() {
		rd := n.rn.Ready()
		proposals := 0
		for i := range rd.CommittedEntries {
			if e := &rd.CommittedEntries[i]; e.Type == pb.EntryNormal && len(e.Data) > 0 {
				proposals++
			}
		}
		if leader && proposals > 0 && c.onCommit != nil {
			c.onCommit(proposals)
		}
		if err := n.storage.Append(rd.Entries); err != nil {
			return err
		}
		if !raft.IsEmptyHardState(rd.HardState) {
			if err := n.storage.SetHardState(rd.HardState); err != nil {
				return err
			}
		}
		c.outbox = append(c.outbox, rd.Messages...)
		c.sent += uint64(len(rd.Messages))
		n.applied += proposals
		n.rn.Advance(rd)
		if k := len(rd.CommittedEntries); k > 0 {
			if err := oursCompact(n.storage, rd.CommittedEntries[k-1].Index); err != nil {
				return err
			}
		}
	}
	return nil
}

// oursCompact bounds the storage's growth: once more than
// compactEveryEntries applied entries are kept, all but keepEntries go.
func oursCompact(s *raft.MemoryStorage, applied uint64) error {
	first, err := s.FirstIndex()
	if err != nil {
		return err
	}
	if applied-first <= compactEveryEntries {
		return nil
	}
	return s.Compact(applied - keepEntries)
}

func (c *oursCluster) MessagesSent() uint64 { return c.sent }

func (c *oursCluster) Applied() []int {
	applied := make([]int, len(c.nodes))
	for i, n := range c.nodes {
		applied[i] = n.applied
	}
	return applied
}
