package server

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"sync"

	"github.com/pontoon-raft/raft/host"
)

// MetaGroup is the host group of the cluster map, replicated on the first
// ReplicasPerShard initial members at first, moved off them when they leave
// (shards use groups 1 to S).
const MetaGroup = 1 << 32

// MetaShard stands for the meta group where a Step, a Drop or a "replicas"
// command names a shard.
const MetaShard = -1

// ClusterMap is the agreed layout of the cluster, the state of the meta
// group: the nodes and which of them hold each shard.
type ClusterMap struct {
	// Version grows with every change.
	Version uint64 `json:"version"`
	// Members are the nodes, by ID.
	Members map[uint64]Member `json:"members"`
	// Leaving are members whose replicas are being moved off, to be
	// removed once they hold none.
	Leaving []uint64 `json:"leaving,omitempty"`
	// Meta are the nodes with a replica of the meta group.
	Meta []uint64 `json:"meta"`
	// Shards holds the replicas of each shard, its preferred leader first.
	Shards [][]uint64 `json:"shards"`
	// Drops are replicas moved off their node that the node has not
	// deleted yet (it was down or cut off when the move finished): the mover
	// asks again until the node answers.
	Drops []Drop `json:"drops,omitempty"`
	// Moving is the move the mover has begun, if any: a replica of Shard
	// may already be on To, a learner or a voter, so the move is finished
	// before any other step (a new mover finishes it after a crash).
	Moving *Step `json:"moving,omitempty"`
}

// Drop is a replica to delete: Node's replica of Shard.
type Drop struct {
	Node  uint64 `json:"node"`
	Shard int    `json:"shard"`
}

// dropping reports whether node has its replica of shard still to delete.
func (m *ClusterMap) dropping(node uint64, shard int) bool {
	return slices.Contains(m.Drops, Drop{Node: node, Shard: shard})
}

// hasDrops reports whether node has any replica still to delete.
func (m *ClusterMap) hasDrops(node uint64) bool {
	return slices.ContainsFunc(m.Drops, func(d Drop) bool { return d.Node == node })
}

// group returns the replicas of shard (the meta group's for MetaShard), or
// nil if there is no such shard.
func (m *ClusterMap) group(shard int) []uint64 {
	switch {
	case shard == MetaShard:
		return m.Meta
	case shard >= 0 && shard < len(m.Shards):
		return m.Shards[shard]
	}
	return nil
}

// initialMap is the map of a new cluster: the placement of shards over
// members.
func initialMap(members map[uint64]Member, shards int) *ClusterMap {
	ids := slices.Sorted(maps.Keys(members))
	return &ClusterMap{
		Version: 1, Members: maps.Clone(members),
		Meta:   slices.Clone(ids[:min(ReplicasPerShard, len(ids))]),
		Shards: Placement(ids, shards),
	}
}

func (m *ClusterMap) clone() *ClusterMap {
	c := *m
	c.Members = maps.Clone(m.Members)
	c.Leaving = slices.Clone(m.Leaving)
	c.Meta = slices.Clone(m.Meta)
	c.Drops = slices.Clone(m.Drops)
	if m.Moving != nil {
		mv := *m.Moving
		c.Moving = &mv
	}
	c.Shards = make([][]uint64, len(m.Shards))
	for i, r := range m.Shards {
		c.Shards[i] = slices.Clone(r)
	}
	return &c
}

// holds returns the shards node has a replica of.
func (m *ClusterMap) holds(node uint64) []int {
	var out []int
	for s, r := range m.Shards {
		if slices.Contains(r, node) {
			out = append(out, s)
		}
	}
	return out
}

// metaCommand is a change of the cluster map, proposed to the meta group.
type metaCommand struct {
	// Op is "add" (a member), "leave" (start moving a member's replicas
	// off), "remove" (a member holding nothing), "replicas" (set a shard's
	// replicas; the nodes left out have their replica to delete, see
	// ClusterMap.Drops; a move of the shard is done), "dropped" (node ID
	// deleted its replica of Shard) or "moving" (Move begins).
	Op       string   `json:"op"`
	ID       uint64   `json:"id,omitempty"`
	Member   Member   `json:"member,omitzero"`
	Shard    int      `json:"shard,omitempty"`
	Replicas []uint64 `json:"replicas,omitempty"`
	Move     *Step    `json:"move,omitempty"`
}

// errRefused is the result of a meta command that does not apply to the
// map (it changes nothing).
var errRefused = errors.New("kvstore: the cluster map refused the change")

// apply changes m by c, or returns why it cannot; m is unchanged then.
func (m *ClusterMap) apply(c metaCommand) error {
	switch c.Op {
	case "add":
		if c.ID == 0 || c.Member.HTTP == "" || c.Member.Raft == "" {
			return fmt.Errorf("%w: a member needs an id and both addresses", errRefused)
		}
		if _, ok := m.Members[c.ID]; ok {
			return fmt.Errorf("%w: node %d is already a member", errRefused, c.ID)
		}
		m.Members[c.ID] = c.Member
	case "leave":
		if _, ok := m.Members[c.ID]; !ok {
			return fmt.Errorf("%w: node %d is not a member", errRefused, c.ID)
		}
		if len(m.Members)-len(m.Leaving)-1 < ReplicasPerShard {
			return fmt.Errorf("%w: %d nodes must stay", errRefused, ReplicasPerShard)
		}
		if !slices.Contains(m.Leaving, c.ID) {
			m.Leaving = append(m.Leaving, c.ID)
		}
	case "remove":
		if !slices.Contains(m.Leaving, c.ID) || len(m.holds(c.ID)) > 0 || slices.Contains(m.Meta, c.ID) || m.hasDrops(c.ID) {
			return fmt.Errorf("%w: node %d is not leaving or still holds replicas", errRefused, c.ID)
		}
		delete(m.Members, c.ID)
		m.Leaving = slices.DeleteFunc(m.Leaving, func(id uint64) bool { return id == c.ID })
	case "replicas":
		old := m.group(c.Shard)
		if old == nil || len(c.Replicas) == 0 {
			return fmt.Errorf("%w: bad shard %d or replicas %v", errRefused, c.Shard, c.Replicas)
		}
		for _, id := range c.Replicas {
			if _, ok := m.Members[id]; !ok {
				return fmt.Errorf("%w: node %d is not a member", errRefused, id)
			}
		}
		for _, id := range old {
			if !slices.Contains(c.Replicas, id) && !m.dropping(id, c.Shard) {
				m.Drops = append(m.Drops, Drop{Node: id, Shard: c.Shard})
			}
		}
		m.Drops = slices.DeleteFunc(m.Drops, func(d Drop) bool {
			return d.Shard == c.Shard && slices.Contains(c.Replicas, d.Node)
		})
		if c.Shard == MetaShard {
			m.Meta = slices.Clone(c.Replicas)
		} else {
			m.Shards[c.Shard] = slices.Clone(c.Replicas)
		}
		if m.Moving != nil && m.Moving.Shard == c.Shard {
			m.Moving = nil
		}
	case "moving":
		mv := c.Move
		if mv == nil || mv.Reorder != nil || mv.Remove != 0 ||
			!slices.Contains(m.group(mv.Shard), mv.From) || slices.Contains(m.group(mv.Shard), mv.To) {
			return fmt.Errorf("%w: %+v is not a move of a replica", errRefused, mv)
		}
		if _, ok := m.Members[mv.To]; !ok {
			return fmt.Errorf("%w: node %d is not a member", errRefused, mv.To)
		}
		if m.Moving != nil && (m.Moving.Shard != mv.Shard || m.Moving.From != mv.From || m.Moving.To != mv.To) {
			return fmt.Errorf("%w: move %+v is under way", errRefused, *m.Moving)
		}
		m.Moving = &Step{Shard: mv.Shard, From: mv.From, To: mv.To}
	case "dropped":
		if !m.dropping(c.ID, c.Shard) {
			return fmt.Errorf("%w: node %d has no replica of shard %d to delete", errRefused, c.ID, c.Shard)
		}
		m.Drops = slices.DeleteFunc(m.Drops, func(d Drop) bool { return d == Drop{Node: c.ID, Shard: c.Shard} })
	default:
		return fmt.Errorf("%w: unknown operation %q", errRefused, c.Op)
	}
	m.Version++
	return nil
}

// metaStateMachine is the host.StateMachine of the meta group: the cluster
// map, in memory (it is small), rebuilt by the host from its snapshot and
// log at every start over the cluster's initial map.
type metaStateMachine struct {
	mu sync.Mutex
	m  *ClusterMap
	// changed is told every new map.
	changed func(*ClusterMap)
}

// Apply implements host.StateMachine. A refused command changes nothing,
// on every replica, and its result says why.
func (s *metaStateMachine) Apply(cmds []host.Command) error {
	s.mu.Lock()
	next := s.m.clone()
	for i := range cmds {
		var c metaCommand
		err := json.Unmarshal(cmds[i].Data, &c)
		if err == nil {
			err = next.apply(c)
		}
		cmds[i].Result = resultOK
		if err != nil {
			cmds[i].Result = []byte(err.Error())
		}
	}
	changed := next.Version != s.m.Version
	s.m = next
	s.mu.Unlock()
	if changed {
		s.changed(next)
	}
	return nil
}

// PrepareSnapshot implements host.StateMachine.
func (s *metaStateMachine) PrepareSnapshot() (host.Snapshot, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	b, err := json.Marshal(s.m)
	return host.BytesSnapshot(b), err
}

// Restore implements host.StateMachine.
func (s *metaStateMachine) Restore(r io.Reader) error {
	var m ClusterMap
	if err := json.NewDecoder(r).Decode(&m); err != nil {
		return fmt.Errorf("kvstore: restoring the cluster map: %w", err)
	}
	if m.Members == nil {
		return errors.New("kvstore: restoring the cluster map: no members")
	}
	s.mu.Lock()
	s.m = &m
	s.mu.Unlock()
	s.changed(&m)
	return nil
}

// Close implements host.StateMachine.
func (s *metaStateMachine) Close() error { return nil }

// current returns the map as applied here.
func (s *metaStateMachine) current() *ClusterMap {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.m
}
