package rafttest_test

import (
	"fmt"
	"math"

	"github.com/pontoon-raft/raft"
	pb "github.com/pontoon-raft/raft/raftpb"
	"github.com/pontoon-raft/raft/rafttest"
)

// ExampleInteractionEnv drives a three-node group through the environment's
// methods, the Go counterparts of the script commands: elect node 1,
// replicate an entry, and print each node's state and a follower's log.
func ExampleInteractionEnv() {
	env := rafttest.NewInteractionEnv(nil)
	// Leave the nodes' INFO and DEBUG lines out of the output.
	if err := env.LogLevel("WARN"); err != nil {
		panic(err)
	}
	cfg := raft.Config{ElectionTick: 3, HeartbeatTick: 1, MaxSizePerMsg: math.MaxUint64, MaxInflightMsgs: 16}
	var initial pb.Snapshot
	initial.Metadata.Index = 2
	initial.Metadata.ConfState.Voters = []uint64{1, 2, 3}
	if err := env.AddNodes(3, cfg, initial); err != nil {
		panic(err)
	}
	must := func(err error) {
		if err != nil {
			panic(err)
		}
	}
	must(env.Campaign(0)) // Nodes[0] is node 1
	must(env.Stabilize())
	must(env.Propose(0, []byte("hello")))
	must(env.Stabilize())

	env.Output.Reset()
	must(env.RaftLog(2))
	fmt.Print(env.Output.String())
	for _, n := range env.Nodes {
		st := n.Status()
		fmt.Printf("node %d: %s at term %d, applied %d, state %q\n",
			st.ID, st.RaftState, st.Term, st.Applied, n.History[len(n.History)-1].Data)
	}
	// Output:
	// 1/3 EntryNormal ""
	// 1/4 EntryNormal "hello"
	// node 1: StateLeader at term 1, applied 4, state "hello"
	// node 2: StateFollower at term 1, applied 4, state "hello"
	// node 3: StateFollower at term 1, applied 4, state "hello"
}
