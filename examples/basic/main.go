// Command basic runs a three-node Pontoon cluster inside one process: it
// elects a leader, commits 100 proposals on every node, crashes the leader,
// elects a new one from the survivors, restarts the old leader and shows it
// catching up. Time is a loop counter, the network is a slice of messages,
// and each node's durable state is a MemoryStorage: the whole run is
// deterministic.
package main

import (
	"fmt"
	"io"
	"log"
	"math/rand"
	"os"

	"github.com/pontoon-raft/raft"
	pb "github.com/pontoon-raft/raft/raftpb"
)

// node is one cluster member: the raft state machine, its durable storage
// and its applied state.
type node struct {
	id      uint64
	rn      *raft.RawNode
	storage *raft.MemoryStorage
	applied []string // data of the normal entries applied, in order
	down    bool
}

type cluster struct {
	nodes   map[uint64]*node
	ids     []uint64
	inbox   []pb.Message
	tick    int
	printed map[uint64]uint64 // last leader reported per node
}

func newConfig(id uint64, storage *raft.MemoryStorage, seed int64) *raft.Config {
	return &raft.Config{
		ID:              id,
		ElectionTick:    10,
		HeartbeatTick:   1,
		Storage:         storage,
		MaxSizePerMsg:   1 << 20,
		MaxInflightMsgs: 256,
		CheckQuorum:     true,
		PreVote:         true,
		// The default logger prints every election step at INFO, with node IDs
		// in hex as etcd/raft does; this demo prints its own lines instead.
		Logger: &raft.DefaultLogger{Logger: log.New(io.Discard, "", 0)},
		Rand:   rand.New(rand.NewSource(seed)),
	}
}

func newCluster(ids ...uint64) *cluster {
	c := &cluster{nodes: map[uint64]*node{}, ids: ids, printed: map[uint64]uint64{}}
	peers := make([]raft.Peer, len(ids))
	for i, id := range ids {
		peers[i] = raft.Peer{ID: id}
	}
	for _, id := range ids {
		storage := raft.NewMemoryStorage()
		rn, err := raft.NewRawNode(newConfig(id, storage, int64(id)))
		must(err)
		must(rn.Bootstrap(peers))
		c.nodes[id] = &node{id: id, rn: rn, storage: storage}
	}
	return c
}

func must(err error) {
	if err != nil {
		fmt.Fprintln(os.Stderr, "error:", err)
		os.Exit(1)
	}
}

func (c *cluster) logf(format string, args ...interface{}) {
	fmt.Printf("[tick %4d] %s\n", c.tick, fmt.Sprintf(format, args...))
}

// process runs every live node's Ready loop until nothing is left to do and
// delivers the messages produced, in order.
func (c *cluster) process() {
	for progress := true; progress; {
		progress = false
		for _, id := range c.ids {
			n := c.nodes[id]
			if n.down || !n.rn.HasReady() {
				continue
			}
			progress = true
			rd := n.rn.Ready()
			if rd.SoftState != nil && rd.SoftState.Lead != raft.None && c.printed[id] != rd.SoftState.Lead {
				c.printed[id] = rd.SoftState.Lead
				if rd.SoftState.Lead == id {
					c.logf("node %d became leader (term %d)", id, n.rn.BasicStatus().Term)
				}
			}
			// 1. Persist, 2. send, 3. apply, 4. advance: the Ready contract.
			if !raft.IsEmptySnap(rd.Snapshot) {
				must(n.storage.ApplySnapshot(rd.Snapshot))
			}
			must(n.storage.Append(rd.Entries))
			if !raft.IsEmptyHardState(rd.HardState) {
				must(n.storage.SetHardState(rd.HardState))
			}
			c.inbox = append(c.inbox, rd.Messages...)
			for _, e := range rd.CommittedEntries {
				switch e.Type {
				case pb.EntryNormal:
					if len(e.Data) > 0 {
						n.applied = append(n.applied, string(e.Data))
					}
				case pb.EntryConfChange:
					var cc pb.ConfChange
					must(cc.Unmarshal(e.Data))
					n.rn.ApplyConfChange(cc)
				case pb.EntryConfChangeV2:
					var cc pb.ConfChangeV2
					must(cc.Unmarshal(e.Data))
					n.rn.ApplyConfChange(cc)
				}
			}
			n.rn.Advance(rd)
		}
		msgs := c.inbox
		c.inbox = nil
		for _, m := range msgs {
			if to := c.nodes[m.To]; to != nil && !to.down && !c.nodes[m.From].down {
				_ = to.rn.Step(m)
				progress = true
			}
		}
	}
}

// run ticks every live node n times, processing after each tick.
func (c *cluster) run(ticks int) {
	for i := 0; i < ticks; i++ {
		c.tick++
		for _, id := range c.ids {
			if !c.nodes[id].down {
				c.nodes[id].rn.Tick()
			}
		}
		c.process()
	}
}

// leader returns the live node that leads, or 0.
func (c *cluster) leader() uint64 {
	for _, id := range c.ids {
		n := c.nodes[id]
		if !n.down && n.rn.BasicStatus().RaftState == raft.StateLeader {
			return id
		}
	}
	return 0
}

func (c *cluster) waitLeader() uint64 {
	for i := 0; i < 1000; i++ {
		if l := c.leader(); l != 0 {
			return l
		}
		c.run(1)
	}
	must(fmt.Errorf("no leader elected after 1000 ticks"))
	return 0
}

func (c *cluster) propose(from uint64, count, offset int) {
	for i := 0; i < count; i++ {
		must(c.nodes[from].rn.Propose([]byte(fmt.Sprintf("value-%03d", offset+i))))
		c.process()
	}
}

func (c *cluster) report() {
	for _, id := range c.ids {
		n := c.nodes[id]
		st := n.rn.BasicStatus()
		state := st.RaftState.String()
		if n.down {
			state = "down"
		}
		c.logf("  node %d: %-14s term %d, commit %d, applied %d values", id, state, st.Term, st.Commit, len(n.applied))
	}
}

func main() {
	c := newCluster(1, 2, 3)
	c.logf("started nodes 1, 2, 3 (ElectionTick 10, HeartbeatTick 1, PreVote, CheckQuorum)")

	lead := c.waitLeader()
	c.propose(lead, 100, 0)
	c.run(3)
	c.logf("proposed 100 values through leader %d", lead)
	c.report()

	c.logf("crashing leader %d", lead)
	c.nodes[lead].down = true
	newLead := c.waitLeader()
	c.logf("new leader %d elected among the survivors", newLead)
	c.propose(newLead, 20, 100)
	c.run(3)
	c.logf("proposed 20 more values through leader %d", newLead)
	c.report()

	c.logf("restarting node %d from its storage", lead)
	old := c.nodes[lead]
	rn, err := raft.NewRawNode(newConfig(lead, old.storage, 42))
	must(err)
	// The state machine is rebuilt by re-applying the log from scratch.
	*old = node{id: lead, rn: rn, storage: old.storage}
	c.run(30)
	c.report()

	want := c.nodes[newLead].applied
	for _, id := range c.ids {
		got := c.nodes[id].applied
		if len(got) != len(want) {
			must(fmt.Errorf("node %d applied %d values, leader applied %d", id, len(got), len(want)))
		}
		for i := range want {
			if got[i] != want[i] {
				must(fmt.Errorf("node %d applied %q at position %d, leader applied %q", id, got[i], i, want[i]))
			}
		}
	}
	c.logf("all 3 nodes applied the same %d values in the same order", len(want))
}
