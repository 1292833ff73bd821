package rafttest

import (
	"errors"
	"fmt"
	"math/rand"

	"github.com/pontoon-raft/raft"
	pb "github.com/pontoon-raft/raft/raftpb"
)

// historyStorage is a node's Storage whose Snapshot is the node's latest
// applied state (the last element of its History), whatever snapshot the
// MemoryStorage underneath holds: a leader then sends followers exactly
// the state it has applied, as a real state machine would.
type historyStorage struct {
	Storage
	env *InteractionEnv
	idx int
}

// Snapshot implements raft.Storage.
func (s historyStorage) Snapshot() (pb.Snapshot, error) {
	h := s.env.Nodes[s.idx].History
	return h[len(h)-1], nil
}

var _ Storage = historyStorage{}

// AddNodes creates n nodes with the next free IDs, each from a copy of
// cfg, and starts their History with snap. An empty snap gives empty
// nodes (to be caught up by the others); otherwise snap, given term 1, is
// installed in each node's storage and must have an index above 1. cfg.Storage, cfg.ID and cfg.Logger are replaced; a nil
// cfg.Rand is replaced by a source seeded with the node's ID, so a script
// runs the same way every time. Options.OnConfig then sees each Config.
func (env *InteractionEnv) AddNodes(n int, cfg raft.Config, snap pb.Snapshot) error {
	if n <= 0 {
		return fmt.Errorf("add-nodes: cannot add %d nodes", n)
	}
	bootstrap := snap.Metadata.Index != 0 || snap.Metadata.Term != 0 || len(snap.Data) != 0 ||
		!isEmptyConfState(snap.Metadata.ConfState)
	if bootstrap {
		// MemoryStorage keeps a dummy entry at the snapshot's index, so a
		// snapshot at index 0 or 1 cannot be told from an empty log.
		if snap.Metadata.Index <= 1 {
			return fmt.Errorf("add-nodes: the index of the initial state must be above 1, got %d", snap.Metadata.Index)
		}
		snap.Metadata.Term = 1
	}
	for i := 0; i < n; i++ {
		idx := len(env.Nodes)
		id := uint64(idx + 1)
		mem := raft.NewMemoryStorage()
		if bootstrap {
			if err := mem.ApplySnapshot(snap); err != nil {
				return fmt.Errorf("add-nodes: installing the initial state of node %d: %w", id, err)
			}
		}
		nodeCfg := cfg
		nodeCfg.ID = id
		storage := historyStorage{Storage: mem, env: env, idx: idx}
		nodeCfg.Storage = storage
		if nodeCfg.Rand == nil {
			nodeCfg.Rand = rand.New(rand.NewSource(int64(id)))
		}
		if env.Options.OnConfig != nil {
			env.Options.OnConfig(&nodeCfg)
			if nodeCfg.ID != id {
				return fmt.Errorf("add-nodes: OnConfig changed the ID of node %d to %d", id, nodeCfg.ID)
			}
		}
		if nodeCfg.Logger != nil {
			return errors.New("add-nodes: OnConfig must not set a Logger: the environment's output is every node's logger")
		}
		nodeCfg.Logger = env.Output
		// The node is appended before its RawNode exists: NewRawNode may
		// ask the storage for its snapshot, which reads the History.
		env.Nodes = append(env.Nodes, Node{
			Storage: storage,
			Config:  &nodeCfg,
			History: []pb.Snapshot{snap},
		})
		rn, err := raft.NewRawNode(&nodeCfg)
		if err != nil {
			env.Nodes = env.Nodes[:idx]
			return err
		}
		env.Nodes[idx].RawNode = rn
	}
	return nil
}

func isEmptyConfState(cs pb.ConfState) bool {
	return len(cs.Voters) == 0 && len(cs.Learners) == 0 && len(cs.VotersOutgoing) == 0 &&
		len(cs.LearnersNext) == 0 && !cs.AutoLeave
}
