package wal_test

import (
	"fmt"
	"io"
	"log"
	"os"
	"strings"

	"github.com/pontoon-raft/raft"
	pb "github.com/pontoon-raft/raft/raftpb"
	"github.com/pontoon-raft/raft/wal"
)

// Example runs a single-node Raft group whose log lives in a wal.Engine:
// the node reads the group's Storage, and each Ready is persisted with one
// Save (one write, one fsync) before anything else happens.
func Example() {
	dir, _ := os.MkdirTemp("", "wal-example")
	defer os.RemoveAll(dir)
	engine, err := wal.Open(dir, wal.Options{})
	if err != nil {
		panic(err)
	}
	defer engine.Close()

	rn, _ := raft.NewRawNode(&raft.Config{ID: 1, ElectionTick: 10, HeartbeatTick: 1,
		Storage: engine.Storage(1), MaxSizePerMsg: 1 << 20, MaxInflightMsgs: 256,
		Logger: &raft.DefaultLogger{Logger: log.New(io.Discard, "", 0)}})
	_ = rn.Bootstrap([]raft.Peer{{ID: 1}})
	handleReady := func() {
		for rn.HasReady() {
			rd := rn.Ready()
			if err := engine.Save([]wal.Update{{Group: 1, Snapshot: rd.Snapshot, Entries: rd.Entries, HardState: rd.HardState}}); err != nil {
				panic(err)
			}
			// Send rd.Messages here, then apply:
			for _, e := range rd.CommittedEntries {
				if e.Type == pb.EntryConfChange {
					var cc pb.ConfChange
					_ = cc.Unmarshal(e.Data)
					rn.ApplyConfChange(cc)
				} else if len(e.Data) > 0 {
					fmt.Printf("applied %q at index %d\n", e.Data, e.Index)
				}
			}
			rn.Advance(rd)
		}
	}
	for handleReady(); rn.BasicStatus().RaftState != raft.StateLeader; handleReady() {
		rn.Tick()
	}
	_ = rn.Propose([]byte("hello"))
	handleReady()
	// Output: applied "hello" at index 3
}

// ExampleSnapshotStore takes a snapshot of a group's state machine,
// records it in the engine together with the compaction it allows, and
// streams it back as a leader would to a follower.
func ExampleSnapshotStore() {
	dir, _ := os.MkdirTemp("", "wal-example")
	defer os.RemoveAll(dir)
	engine, _ := wal.Open(dir+"/log", wal.Options{})
	defer engine.Close()
	snaps, _ := wal.OpenSnapshotStore(nil, dir+"/snap")

	var ents []pb.Entry
	for i := uint64(1); i <= 100; i++ {
		ents = append(ents, pb.Entry{Index: i, Term: 1, Data: []byte("set x")})
	}
	_ = engine.Save([]wal.Update{{Group: 7, Entries: ents, HardState: pb.HardState{Term: 1, Commit: 100}}})

	// The state machine has applied entry 100: write its state out.
	w, _ := snaps.Create(7, 1, 100)
	_, _ = io.Copy(w, strings.NewReader("x=100 (the whole state machine)"))
	ref, _ := w.Commit()
	meta := pb.SnapshotMetadata{Index: 100, Term: 1, ConfState: pb.ConfState{Voters: []uint64{1, 2, 3}}}
	// Record it and keep the last 10 entries for followers that lag a little.
	err := engine.Save([]wal.Update{{Group: 7, LocalSnapshot: pb.Snapshot{Metadata: meta, Data: ref.Marshal()}, CompactIndex: 90}})
	fmt.Println("recorded:", err == nil)
	_ = snaps.Prune(7, 2, 100)

	// A leader sending the snapshot reads it back through the reference.
	snap, _ := engine.Storage(7).Snapshot()
	sent, _ := wal.ParseSnapshotRef(snap.Data)
	r, _ := snaps.Open(sent)
	defer r.Close()
	data, err := io.ReadAll(r)
	fmt.Printf("%s (%v)\n", data, err)
	first, _ := engine.Storage(7).FirstIndex()
	fmt.Println("first index:", first)
	// Output:
	// recorded: true
	// x=100 (the whole state machine) (<nil>)
	// first index: 91
}
