package raft_test

import (
	"context"
	"fmt"
	"io"
	"log"
	"math/rand"

	"github.com/pontoon-raft/raft"
	pb "github.com/pontoon-raft/raft/raftpb"
)

// quietLogger keeps the examples' output to what they print themselves.
var quietLogger = &raft.DefaultLogger{Logger: log.New(io.Discard, "", 0)}

// exampleConfig is a typical configuration. The seeded Rand makes the
// election timeouts, and so the examples' output, reproducible.
func exampleConfig(id uint64, storage raft.Storage) *raft.Config {
	return &raft.Config{
		ID:              id,
		ElectionTick:    10,
		HeartbeatTick:   1,
		Storage:         storage,
		MaxSizePerMsg:   1 << 20,
		MaxInflightMsgs: 256,
		Logger:          quietLogger,
		Rand:            rand.New(rand.NewSource(int64(id))),
	}
}

// applyConfChangeEntry applies a committed conf change entry, if e is one.
func applyConfChangeEntry(e pb.Entry, apply func(pb.ConfChangeI) *pb.ConfState) {
	switch e.Type {
	case pb.EntryConfChange:
		var cc pb.ConfChange
		if err := cc.Unmarshal(e.Data); err != nil {
			panic(err)
		}
		apply(cc)
	case pb.EntryConfChangeV2:
		var cc pb.ConfChangeV2
		if err := cc.Unmarshal(e.Data); err != nil {
			panic(err)
		}
		apply(cc)
	}
}

// persistReady writes what a Ready asks to persist, in the order the contract
// prescribes.
func persistReady(storage *raft.MemoryStorage, rd raft.Ready) {
	if !raft.IsEmptySnap(rd.Snapshot) {
		if err := storage.ApplySnapshot(rd.Snapshot); err != nil {
			panic(err)
		}
	}
	if err := storage.Append(rd.Entries); err != nil {
		panic(err)
	}
	if !raft.IsEmptyHardState(rd.HardState) {
		if err := storage.SetHardState(rd.HardState); err != nil {
			panic(err)
		}
	}
}

// ExampleNewRawNode runs a single-node cluster: bootstrap, campaign, propose,
// and the Ready loop that persists, applies and advances.
func ExampleNewRawNode() {
	storage := raft.NewMemoryStorage()
	rn, err := raft.NewRawNode(exampleConfig(1, storage))
	if err != nil {
		panic(err)
	}
	if err := rn.Bootstrap([]raft.Peer{{ID: 1}}); err != nil {
		panic(err)
	}

	// One turn of the application loop. A real one also ticks the node
	// every few milliseconds and sends rd.Messages to the peers.
	handleReadys := func() {
		for rn.HasReady() {
			rd := rn.Ready()
			persistReady(storage, rd)
			for _, e := range rd.CommittedEntries {
				applyConfChangeEntry(e, rn.ApplyConfChange)
				if e.Type == pb.EntryNormal && len(e.Data) > 0 {
					fmt.Printf("applied %d: %s\n", e.Index, e.Data)
				}
			}
			rn.Advance(rd)
		}
	}

	handleReadys() // persist and apply the bootstrap configuration
	if err := rn.Campaign(); err != nil {
		panic(err)
	}
	handleReadys()
	st := rn.Status()
	fmt.Printf("node %d is %s at term %d\n", st.ID, st.RaftState, st.Term)

	if err := rn.Propose([]byte("hello")); err != nil {
		panic(err)
	}
	handleReadys()
	fmt.Println("applied index:", rn.BasicStatus().Applied)
	// Output:
	// node 1 is StateLeader at term 2
	// applied 3: hello
	// applied index: 3
}

// ExampleStartNode runs a single-node cluster through the Node wrapper: an
// application goroutine consumes Ready() while the caller proposes.
func ExampleStartNode() {
	storage := raft.NewMemoryStorage()
	n := raft.StartNode(exampleConfig(1, storage), []raft.Peer{{ID: 1}})
	defer n.Stop()

	ctx, cancel := context.WithCancel(context.Background())
	applied := make(chan string, 16)
	loopDone := make(chan struct{})
	go func() {
		defer close(loopDone)
		campaigned := false
		for {
			select {
			case rd := <-n.Ready():
				persistReady(storage, rd)
				// A single node has no peers; otherwise send rd.Messages here.
				for _, e := range rd.CommittedEntries {
					applyConfChangeEntry(e, n.ApplyConfChange)
					if e.Type == pb.EntryNormal && len(e.Data) > 0 {
						applied <- string(e.Data)
					}
				}
				n.Advance()
				if !campaigned {
					// The bootstrap configuration is applied now; a real
					// application would instead tick the node and let the
					// election timeout start the campaign.
					campaigned = true
					if err := n.Campaign(ctx); err != nil {
						panic(err)
					}
				}
			case <-ctx.Done():
				return
			}
		}
	}()

	// Propose waits until a leader is known.
	for _, data := range []string{"hello", "world"} {
		if err := n.Propose(ctx, []byte(data)); err != nil {
			panic(err)
		}
	}
	fmt.Println("applied:", <-applied)
	fmt.Println("applied:", <-applied)
	fmt.Println("leader:", n.Status().Lead)
	cancel()
	<-loopDone
	// Output:
	// applied: hello
	// applied: world
	// leader: 1
}

// exampleCluster is an in-process cluster of RawNodes: each Ready is
// handled by the contract and messages travel through a FIFO queue.
type exampleCluster struct {
	ids      []uint64
	nodes    map[uint64]*raft.RawNode
	storages map[uint64]*raft.MemoryStorage
	network  []pb.Message
	// onReadState sees every ReadState a node receives.
	onReadState func(id uint64, rs raft.ReadState)
}

func newExampleCluster(size int) *exampleCluster {
	c := &exampleCluster{nodes: map[uint64]*raft.RawNode{}, storages: map[uint64]*raft.MemoryStorage{}}
	var peers []raft.Peer
	for id := uint64(1); id <= uint64(size); id++ {
		c.ids = append(c.ids, id)
		peers = append(peers, raft.Peer{ID: id})
	}
	for _, id := range c.ids {
		c.storages[id] = raft.NewMemoryStorage()
		rn, err := raft.NewRawNode(exampleConfig(id, c.storages[id]))
		if err != nil {
			panic(err)
		}
		if err := rn.Bootstrap(peers); err != nil {
			panic(err)
		}
		c.nodes[id] = rn
	}
	c.settle()
	return c
}

// settle handles Readys and delivers messages until nothing is left to do.
func (c *exampleCluster) settle() {
	for {
		busy := false
		for _, id := range c.ids {
			rn := c.nodes[id]
			for rn.HasReady() {
				busy = true
				rd := rn.Ready()
				persistReady(c.storages[id], rd)
				c.network = append(c.network, rd.Messages...)
				for _, e := range rd.CommittedEntries {
					applyConfChangeEntry(e, rn.ApplyConfChange)
				}
				for _, rs := range rd.ReadStates {
					if c.onReadState != nil {
						c.onReadState(id, rs)
					}
				}
				rn.Advance(rd)
			}
		}
		msgs := c.network
		c.network = nil
		for _, m := range msgs {
			busy = true
			_ = c.nodes[m.To].Step(m)
		}
		if !busy {
			return
		}
	}
}

// ExampleRawNode_ReadIndex serves linearizable reads on a three-node
// cluster: the answer names the index the state machine must have applied
// before the read may be served.
func ExampleRawNode_ReadIndex() {
	c := newExampleCluster(3)
	c.onReadState = func(id uint64, rs raft.ReadState) {
		applied := c.nodes[id].BasicStatus().Applied
		fmt.Printf("node %d: read %q may be served once index %d is applied (applied: %d)\n",
			id, rs.RequestCtx, rs.Index, applied)
	}
	if err := c.nodes[1].Campaign(); err != nil {
		panic(err)
	}
	c.settle()
	if err := c.nodes[1].Propose([]byte("x=1")); err != nil {
		panic(err)
	}
	c.settle()

	// On the leader, the read is confirmed by a heartbeat round. On a
	// follower, it is forwarded to the leader.
	c.nodes[1].ReadIndex([]byte("read-on-leader"))
	c.nodes[2].ReadIndex([]byte("read-on-follower"))
	c.settle()
	// Output:
	// node 1: read "read-on-leader" may be served once index 5 is applied (applied: 5)
	// node 2: read "read-on-follower" may be served once index 5 is applied (applied: 5)
}

// ExampleRawNode_TransferLeader moves leadership from node 1 to node 3 of a
// three-node cluster.
func ExampleRawNode_TransferLeader() {
	c := newExampleCluster(3)
	if err := c.nodes[1].Campaign(); err != nil {
		panic(err)
	}
	c.settle()
	fmt.Println("leader:", c.nodes[2].Status().Lead)

	c.nodes[1].TransferLeader(3)
	c.settle()
	for _, id := range c.ids {
		st := c.nodes[id].Status()
		fmt.Printf("node %d: %s, term %d, leader %d\n", id, st.RaftState, st.Term, st.Lead)
	}
	// Output:
	// leader: 1
	// node 1: StateFollower, term 3, leader 3
	// node 2: StateFollower, term 3, leader 3
	// node 3: StateLeader, term 3, leader 3
}
