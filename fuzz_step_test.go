package raft

import (
	"testing"

	pb "github.com/pontoon-raft/raft/raftpb"
)

// fsNode builds node 1 of a three-voter cluster with entries 1..5 of terms
// 1,1,2,2,3 and commit 3, as a follower of 2 (role 0), a candidate (role
// 1) or the leader (role 2) of term 4.
func fsNode(t *testing.T, role uint8) (*RawNode, *MemoryStorage) {
	s := ctStorage([]uint64{1, 2, 3}, pb.HardState{Term: 3, Commit: 3}, 1, 1, 2, 2, 3)
	rn, err := NewRawNode(ctConfig(1, s))
	if err != nil {
		t.Fatal(err)
	}
	switch role % 3 {
	case 0:
		_ = rn.Step(pb.Message{From: 2, To: 1, Type: pb.MsgHeartbeat, Term: 4, Commit: 3})
	case 1:
		_ = rn.Campaign()
	case 2:
		_ = rn.Campaign()
		_ = rn.Step(pb.Message{From: 2, To: 1, Type: pb.MsgVoteResp, Term: rn.raft.Term})
	}
	fsDrain(rn, s)
	return rn, s
}

// fsDrain runs the Ready loop of rn over s until it is idle.
func fsDrain(rn *RawNode, s *MemoryStorage) {
	for i := 0; i < 16 && rn.HasReady(); i++ {
		rd := rn.Ready()
		if !IsEmptySnap(rd.Snapshot) {
			_ = s.ApplySnapshot(rd.Snapshot)
		}
		_ = s.Append(rd.Entries)
		if !IsEmptyHardState(rd.HardState) {
			_ = s.SetHardState(rd.HardState)
		}
		rn.Advance(rd)
	}
}

// FuzzStep feeds one arbitrary peer message to a follower, candidate or
// leader and runs its Ready loop. Whatever a peer sends, the node must
// answer with an error or a state change, never a panic: a panic is how a
// node reports corrupted local state, and a message from the network is
// not local state.
func FuzzStep(f *testing.F) {
	f.Add(uint8(0), int32(pb.MsgApp), uint8(2), uint64(4), uint64(3), uint64(5), uint64(5), false, uint8(2), uint64(4), uint64(0))
	f.Add(uint8(2), int32(pb.MsgAppResp), uint8(2), uint64(4), uint64(0), uint64(7), uint64(0), true, uint8(0), uint64(0), uint64(3))
	f.Add(uint8(1), int32(pb.MsgVoteResp), uint8(3), uint64(4), uint64(0), uint64(0), uint64(0), false, uint8(0), uint64(0), uint64(0))
	f.Add(uint8(0), int32(pb.MsgSnap), uint8(2), uint64(4), uint64(4), uint64(9), uint64(0), false, uint8(0), uint64(0), uint64(0))
	f.Add(uint8(0), int32(pb.MsgHeartbeat), uint8(2), uint64(5), uint64(0), uint64(0), uint64(100), false, uint8(0), uint64(0), uint64(0))
	f.Add(uint8(2), int32(pb.MsgReadIndex), uint8(3), uint64(0), uint64(0), uint64(0), uint64(0), false, uint8(0), uint64(0), uint64(0))
	f.Add(uint8(2), int32(pb.MsgHeartbeatResp), uint8(2), uint64(4), uint64(0), uint64(0), uint64(0), false, uint8(0), uint64(0), uint64(0))
	f.Add(uint8(0), int32(pb.MsgTimeoutNow), uint8(2), uint64(4), uint64(0), uint64(0), uint64(0), false, uint8(0), uint64(0), uint64(0))
	f.Fuzz(func(t *testing.T, role uint8, typ int32, from uint8, term, logTerm, index, commit uint64,
		reject bool, nents uint8, entTerm, rejectHint uint64) {
		rn, s := fsNode(t, role)
		m := pb.Message{
			Type: pb.MessageType(typ), From: uint64(from % 5), To: 1, Term: term, LogTerm: logTerm,
			Index: index, Commit: commit, Reject: reject, RejectHint: rejectHint,
		}
		for i := uint64(0); i < uint64(nents%8); i++ {
			m.Entries = append(m.Entries, pb.Entry{Term: entTerm, Index: index + 1 + i, Data: []byte{byte(i)}})
		}
		if m.Type == pb.MsgHeartbeat && commit > rn.raft.raftLog.lastIndex() {
			// A leader only sends min(match, commit) in a heartbeat; a
			// larger value means this node lost entries it acknowledged,
			// which is corrupted local state, and the node panics on
			// purpose (as etcd/raft does). Keep that case out.
			m.Commit = rn.raft.raftLog.lastIndex()
		}
		if m.Type == pb.MsgSnap {
			m.Snapshot = &pb.Snapshot{Metadata: pb.SnapshotMetadata{
				Index: index, Term: logTerm, ConfState: pb.ConfState{Voters: []uint64{1, 2, 3}},
			}}
		}
		defer func() {
			if p := recover(); p != nil {
				t.Fatalf("Step(%s) from a peer panicked: %v", DescribeMessage(m, nil), p)
			}
		}()
		_ = rn.Step(m)
		fsDrain(rn, s)
		rn.Tick()
		fsDrain(rn, s)
	})
}
