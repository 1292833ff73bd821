package etcdprog

import (
	"fmt"
	"io"
	"strings"

	"go.etcd.io/raft/v3"
	pb "go.etcd.io/raft/v3/raftpb"
)

// Run plays the whole scenario and writes its transcript to out. Elections
// are started with Campaign and only the leader is ticked, so no election
// timeout (randomized by the library) ever fires and the transcript depends
// on nothing but the library's protocol behaviour.
func Run(out io.Writer) error {
	c := newCluster(out)
	steps := []struct {
		name string
		do   func(c *cluster) error
	}{
		{"start three voters from a snapshot and bootstrap a single node", start},
		{"node 1 campaigns", func(c *cluster) error { return c.nodes[1].rn.Campaign() }},
		{"proposals on the leader and on a follower", proposals},
		{"add node 4 with a v1 conf change", addNode4},
		{"joint change v2: add learner 5, replace 3 by 5 explicitly", jointExplicit},
		{"implicit joint change v2: demote 4 to learner, left automatically", jointAuto},
		{"cut node 2 off, write and compact", lagAndCompact},
		{"heal: node 2 catches up by snapshot", heal},
		{"ReadIndex on the leader and on a follower", readIndex},
		{"transfer leadership to node 5", transfer},
		{"propose on the new leader", func(c *cluster) error { return c.propose(5, "after-transfer") }},
	}
	for i, s := range steps {
		c.printf("step %d: %s", i+1, s.name)
		if err := s.do(c); err != nil {
			return fmt.Errorf("step %d (%s): %w", i+1, s.name, err)
		}
		if err := c.settle(); err != nil {
			return fmt.Errorf("step %d (%s): %w", i+1, s.name, err)
		}
		c.status(fmt.Sprintf("after step %d", i+1))
	}
	return nil
}

// start creates nodes 1..3 over storages holding a snapshot of the initial
// configuration, and shows Bootstrap on a separate single-node storage.
func start(c *cluster) error {
	for id := uint64(1); id <= 3; id++ {
		s := raft.NewMemoryStorage()
		err := s.ApplySnapshot(pb.Snapshot{Metadata: pb.SnapshotMetadata{
			Index: 1, Term: 1, ConfState: pb.ConfState{Voters: []uint64{1, 2, 3}},
		}})
		if err != nil {
			return err
		}
		if err := c.addNode(id, s); err != nil {
			return err
		}
	}
	solo, err := raft.NewRawNode(&raft.Config{
		ID: 9, ElectionTick: 10, HeartbeatTick: 1, Storage: raft.NewMemoryStorage(),
		MaxSizePerMsg: 1 << 20, MaxInflightMsgs: 256, Logger: discard(),
	})
	if err != nil {
		return err
	}
	if err := solo.Bootstrap([]raft.Peer{{ID: 9}}); err != nil {
		return err
	}
	c.printf("  bootstrap: HasReady=%t", solo.HasReady())
	rd := solo.Ready()
	c.printf("  bootstrap ready:%s", describeReady(rd))
	solo.Advance(rd)
	if err := solo.Campaign(); err != nil {
		return err
	}
	rd = solo.Ready()
	c.printf("  bootstrap campaign ready:%s", describeReady(rd))
	return nil
}

// propose proposes data on node id and reports a refusal in the
// transcript.
func (c *cluster) propose(id uint64, data string) error {
	if err := c.nodes[id].rn.Propose([]byte(data)); err != nil {
		c.printf("  propose on n%d: %v", id, err)
	}
	return nil
}

func proposals(c *cluster) error {
	for i := 0; i < 3; i++ {
		if err := c.propose(1, fmt.Sprintf("a%d", i)); err != nil {
			return err
		}
	}
	if err := c.settle(); err != nil {
		return err
	}
	return c.propose(2, "from-follower")
}

// addNode4 proposes adding node 4 and starts it with empty storage; the
// leader brings it up to date by snapshot, since its log starts after
// the initial snapshot.
func addNode4(c *cluster) error {
	if err := c.nodes[1].rn.ProposeConfChange(pb.ConfChange{Type: pb.ConfChangeAddNode, NodeID: 4}); err != nil {
		return err
	}
	if err := c.settle(); err != nil {
		return err
	}
	// The leader's only snapshot predates node 4, which would ignore it:
	// take a fresh one that lists node 4, and compact up to it.
	if err := c.snapshot(1, 0); err != nil {
		return err
	}
	if err := c.addNode(4, raft.NewMemoryStorage()); err != nil {
		return err
	}
	// A heartbeat makes the leader probe node 4.
	c.nodes[1].rn.Tick()
	return nil
}

func jointExplicit(c *cluster) error {
	err := c.nodes[1].rn.ProposeConfChange(pb.ConfChangeV2{
		Changes: []pb.ConfChangeSingle{{Type: pb.ConfChangeAddLearnerNode, NodeID: 5}},
	})
	if err != nil {
		return err
	}
	if err := c.settle(); err != nil {
		return err
	}
	// As for node 4: a snapshot that lists node 5, then start node 5.
	if err := c.snapshot(1, 0); err != nil {
		return err
	}
	if err := c.addNode(5, raft.NewMemoryStorage()); err != nil {
		return err
	}
	c.nodes[1].rn.Tick()
	if err := c.settle(); err != nil {
		return err
	}
	err = c.nodes[1].rn.ProposeConfChange(pb.ConfChangeV2{
		Transition: pb.ConfChangeTransitionJointExplicit,
		Changes: []pb.ConfChangeSingle{
			{Type: pb.ConfChangeAddNode, NodeID: 5},
			{Type: pb.ConfChangeRemoveNode, NodeID: 3},
		},
	})
	if err != nil {
		return err
	}
	if err := c.settle(); err != nil {
		return err
	}
	c.status("in the joint configuration")
	// A second change is refused while the joint configuration is active.
	err = c.nodes[1].rn.ProposeConfChange(pb.ConfChange{Type: pb.ConfChangeAddNode, NodeID: 6})
	c.printf("  change during joint: err=%v", err)
	if err := c.settle(); err != nil {
		return err
	}
	return c.nodes[1].rn.ProposeConfChange(pb.ConfChangeV2{})
}

func jointAuto(c *cluster) error {
	delete(c.nodes, 3) // removed in the previous step
	return c.nodes[1].rn.ProposeConfChange(pb.ConfChangeV2{
		Transition: pb.ConfChangeTransitionJointImplicit,
		Changes:    []pb.ConfChangeSingle{{Type: pb.ConfChangeAddLearnerNode, NodeID: 4}},
	})
}

// lagAndCompact cuts node 2 off, commits more entries without it, and has
// the leader snapshot and compact its log past what node 2 holds.
func lagAndCompact(c *cluster) error {
	c.cut[2] = true
	for i := 0; i < 5; i++ {
		if err := c.propose(1, fmt.Sprintf("b%d", i)); err != nil {
			return err
		}
		if err := c.settle(); err != nil {
			return err
		}
	}
	for _, id := range []uint64{1, 4, 5} {
		if err := c.snapshot(id, 2); err != nil {
			return err
		}
	}
	return nil
}

// snapshot has node id snapshot its application at its applied index and
// compact its log, keeping keep entries below the snapshot.
func (c *cluster) snapshot(id, keep uint64) error {
	n := c.nodes[id]
	snap, err := n.storage.CreateSnapshot(n.applied, &n.confState, []byte(strings.Join(n.data, ",")))
	if err != nil {
		return err
	}
	if err := n.storage.Compact(snap.Metadata.Index - keep); err != nil {
		return err
	}
	first, _ := n.storage.FirstIndex()
	c.printf("  n%d snapshot at %d/%d, first index %d", id, snap.Metadata.Term, snap.Metadata.Index, first)
	return nil
}

func heal(c *cluster) error {
	delete(c.cut, 2)
	c.nodes[1].rn.Tick()
	return nil
}

func readIndex(c *cluster) error {
	c.nodes[1].rn.ReadIndex([]byte("read-on-leader"))
	if err := c.settle(); err != nil {
		return err
	}
	c.nodes[4].rn.ReadIndex([]byte("read-on-learner"))
	if err := c.settle(); err != nil {
		return err
	}
	c.nodes[2].rn.ReadIndex([]byte("read-on-follower"))
	return nil
}

func transfer(c *cluster) error {
	c.nodes[1].rn.TransferLeader(5)
	if err := c.settle(); err != nil {
		return err
	}
	st := c.nodes[5].rn.BasicStatus()
	c.printf("  n5 basic status: %s term=%d lead=%d transferee=%d", st.RaftState, st.Term, st.Lead, st.LeadTransferee)
	return nil
}
