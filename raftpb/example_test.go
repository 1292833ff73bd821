package raftpb_test

import (
	"fmt"

	"github.com/pontoon-raft/raft/raftpb"
)

// A single-node V1 change keeps the V1 entry type, so that older peers can
// read it; a change of several nodes needs V2. Applying either reads the
// entry back through the V2 form.
func ExampleMarshalConfChange() {
	addNode := raftpb.ConfChange{Type: raftpb.ConfChangeAddNode, NodeID: 2}
	typ, data, err := raftpb.MarshalConfChange(addNode)
	if err != nil {
		panic(err)
	}
	fmt.Printf("%v % x\n", typ, data)

	changes, err := raftpb.ConfChangesFromString("v2 l3")
	if err != nil {
		panic(err)
	}
	typ, data, err = raftpb.MarshalConfChange(raftpb.ConfChangeV2{Changes: changes})
	if err != nil {
		panic(err)
	}
	fmt.Printf("%v % x\n", typ, data)

	var cc raftpb.ConfChangeV2
	if err := cc.Unmarshal(data); err != nil {
		panic(err)
	}
	autoLeave, joint := cc.EnterJoint()
	fmt.Println(raftpb.ConfChangesToString(cc.Changes), "joint:", joint, "auto leave:", autoLeave)
	// Output:
	// EntryConfChange 08 00 10 00 18 02
	// EntryConfChangeV2 08 00 12 04 08 00 10 02 12 04 08 03 10 03
	// v2 l3 joint: true auto leave: true
}

func ExampleConfState_Equivalent() {
	a := raftpb.ConfState{Voters: []uint64{3, 1, 2}}
	b := raftpb.ConfState{Voters: []uint64{1, 2, 3}}
	fmt.Println(a.Equivalent(b))

	c := raftpb.ConfState{Voters: []uint64{1, 2}, Learners: []uint64{3}}
	fmt.Println(a.Equivalent(c))
	// Output:
	// <nil>
	// raftpb: ConfStates are not equivalent (IDs sorted):
	//   voters=[1 2 3] learners=[] voters_outgoing=[] learners_next=[] auto_leave=false
	//   voters=[1 2] learners=[3] voters_outgoing=[] learners_next=[] auto_leave=false
}
