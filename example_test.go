package raft_test

import (
	"fmt"
	"io"
	"log"

	"github.com/pontoon-raft/raft"
	pb "github.com/pontoon-raft/raft/raftpb"
)

// ExampleRawNode runs the Ready loop of a single-node cluster: bootstrap,
// tick until the node elects itself, propose, and apply what commits.
func ExampleRawNode() {
	storage := raft.NewMemoryStorage()
	rn, err := raft.NewRawNode(&raft.Config{
		ID:              1,
		ElectionTick:    10,
		HeartbeatTick:   1,
		Storage:         storage,
		MaxSizePerMsg:   1 << 20,
		MaxInflightMsgs: 256,
		Logger:          &raft.DefaultLogger{Logger: log.New(io.Discard, "", 0)},
	})
	if err != nil {
		panic(err)
	}
	if err := rn.Bootstrap([]raft.Peer{{ID: 1}}); err != nil {
		panic(err)
	}

	// handleReady does what the Ready contract asks, in order: persist,
	// send (a single node has no peers), apply, Advance.
	handleReady := func() {
		for rn.HasReady() {
			rd := rn.Ready()
			if !raft.IsEmptySnap(rd.Snapshot) {
				_ = storage.ApplySnapshot(rd.Snapshot)
			}
			_ = storage.Append(rd.Entries)
			if !raft.IsEmptyHardState(rd.HardState) {
				_ = storage.SetHardState(rd.HardState)
			}
			for _, m := range rd.Messages {
				_ = m // a real application sends m to node m.To here
			}
			for _, e := range rd.CommittedEntries {
				switch e.Type {
				case pb.EntryConfChange:
					var cc pb.ConfChange
					if err := cc.Unmarshal(e.Data); err != nil {
						panic(err)
					}
					rn.ApplyConfChange(cc)
				case pb.EntryNormal:
					if len(e.Data) > 0 {
						fmt.Printf("applied %q at index %d\n", e.Data, e.Index)
					}
				}
			}
			rn.Advance(rd)
		}
	}

	handleReady() // persist and apply the bootstrap configuration
	for rn.BasicStatus().RaftState != raft.StateLeader {
		rn.Tick()
		handleReady()
	}
	fmt.Println("elected:", rn.BasicStatus().RaftState, "at term", rn.BasicStatus().Term)

	_ = rn.Propose([]byte("hello"))
	_ = rn.Propose([]byte("world"))
	handleReady()
	fmt.Println("commit index:", rn.BasicStatus().Commit)

	// Output:
	// elected: StateLeader at term 2
	// applied "hello" at index 3
	// applied "world" at index 4
	// commit index: 4
}
