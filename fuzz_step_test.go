package raft

import (
	"errors"
	"reflect"
	"testing"

	pb "github.com/pontoon-raft/raft/raftpb"
)

// nodeInRole builds node 1 of a three-voter cluster with entries 1..5 of terms
// 1,1,2,2,3 and commit 3, as a follower of 2 (role 0), a candidate (role
// 1) or the leader (role 2) of term 4.
func nodeInRole(t *testing.T, role uint8) (*RawNode, *MemoryStorage) {
	s := newTestStorage(votersConf(1, 2, 3), pb.HardState{Term: 3, Commit: 3}, 1, 1, 2, 2, 3)
	rn := newTestRawNode(t, 1, s)
	switch role % 3 {
	case 0:
		_ = rn.Step(pb.Message{From: 2, To: 1, Type: pb.MsgHeartbeat, Term: 4, Commit: 3})
	case 1:
		_ = rn.Campaign()
	case 2:
		_ = rn.Campaign()
		_ = rn.Step(pb.Message{From: 2, To: 1, Type: pb.MsgVoteResp, Term: rn.raft.Term})
	}
	drain(t, rn, s)
	return rn, s
}

// fuzzEntries decodes the fuzzer's entry bytes: each pair (d, t) is an entry
// at index index+1+i+int8(d) of term t, so zero offsets give consecutive
// entries and others give gaps, duplicates and backwards indexes.
func fuzzEntries(index uint64, b []byte) []pb.Entry {
	var ents []pb.Entry
	for i := 0; i+1 < len(b) && i < 32; i += 2 {
		ents = append(ents, pb.Entry{
			Index: index + 1 + uint64(i/2) + uint64(int64(int8(b[i]))),
			Term:  uint64(b[i+1]),
			Data:  []byte{byte(i)},
		})
	}
	return ents
}

// requireConsistentLog fails unless the node's log and cursors are consistent.
func requireConsistentLog(t *testing.T, rn *RawNode) {
	l := rn.raft.raftLog
	if !(l.applied <= l.committed && l.committed <= l.lastIndex()) {
		t.Fatalf("cursors out of order: applied %d, committed %d, last index %d", l.applied, l.committed, l.lastIndex())
	}
	ents := l.allEntries()
	for i := 1; i < len(ents); i++ {
		if ents[i].Index != ents[i-1].Index+1 || ents[i].Term < ents[i-1].Term {
			t.Fatalf("log broken at %d: %d/%d after %d/%d", i, ents[i].Term, ents[i].Index, ents[i-1].Term, ents[i-1].Index)
		}
	}
}

// FuzzStep feeds one arbitrary peer message to a follower, candidate or
// leader and runs its Ready loop: entries with arbitrary indexes and terms,
// forged responses, commits far beyond the log, snapshots of any position.
// Whatever a peer sends, the node must answer with an error or a state
// change, never a panic (a panic is how a node reports corrupted local
// state, and a message from the network is not local state); a message
// refused as malformed changes nothing; and the log stays consistent.
func FuzzStep(f *testing.F) {
	f.Add(uint8(0), int32(pb.MsgApp), uint8(2), uint64(4), uint64(3), uint64(5), uint64(5), false, []byte{0, 4, 0, 4}, uint64(0), uint64(0), uint64(0))
	f.Add(uint8(0), int32(pb.MsgApp), uint8(2), uint64(4), uint64(3), uint64(5), uint64(5), false, []byte{0, 4, 1, 4}, uint64(0), uint64(0), uint64(0))
	f.Add(uint8(0), int32(pb.MsgApp), uint8(2), uint64(4), uint64(3), uint64(5), uint64(5), false, []byte{0, 9}, uint64(0), uint64(0), uint64(0))
	f.Add(uint8(2), int32(pb.MsgAppResp), uint8(2), uint64(4), uint64(0), uint64(7), uint64(0), true, []byte(nil), uint64(3), uint64(0), uint64(0))
	f.Add(uint8(2), int32(pb.MsgAppResp), uint8(3), uint64(4), uint64(0), uint64(105), uint64(0), false, []byte(nil), uint64(0), uint64(0), uint64(0))
	f.Add(uint8(1), int32(pb.MsgVoteResp), uint8(3), uint64(4), uint64(0), uint64(0), uint64(0), false, []byte(nil), uint64(0), uint64(0), uint64(0))
	f.Add(uint8(0), int32(pb.MsgSnap), uint8(2), uint64(4), uint64(0), uint64(0), uint64(0), false, []byte(nil), uint64(0), uint64(9), uint64(4))
	f.Add(uint8(0), int32(pb.MsgHeartbeat), uint8(2), uint64(5), uint64(0), uint64(0), uint64(100), false, []byte(nil), uint64(0), uint64(0), uint64(0))
	f.Add(uint8(2), int32(pb.MsgReadIndex), uint8(3), uint64(0), uint64(0), uint64(0), uint64(0), false, []byte(nil), uint64(0), uint64(0), uint64(0))
	f.Add(uint8(2), int32(pb.MsgHeartbeatResp), uint8(2), uint64(4), uint64(0), uint64(0), uint64(0), false, []byte(nil), uint64(0), uint64(0), uint64(0))
	f.Add(uint8(0), int32(pb.MsgTimeoutNow), uint8(3), uint64(4), uint64(0), uint64(0), uint64(0), false, []byte(nil), uint64(0), uint64(0), uint64(0))
	f.Add(uint8(0), int32(999), uint8(2), uint64(4), uint64(0), uint64(0), uint64(0), false, []byte(nil), uint64(0), uint64(0), uint64(0))
	f.Fuzz(func(t *testing.T, role uint8, typ int32, from uint8, term, logTerm, index, commit uint64,
		reject bool, ents []byte, rejectHint, snapIndex, snapTerm uint64) {
		rn, s := nodeInRole(t, role)
		m := pb.Message{
			Type: pb.MessageType(typ), From: uint64(from % 5), To: 1, Term: term, LogTerm: logTerm,
			Index: index, Commit: commit, Reject: reject, RejectHint: rejectHint,
			Entries: fuzzEntries(index, ents),
		}
		if m.Type == pb.MsgSnap {
			m.Snapshot = &pb.Snapshot{Metadata: pb.SnapshotMetadata{
				Index: snapIndex, Term: snapTerm, ConfState: pb.ConfState{Voters: []uint64{1, 2, 3}},
			}}
		}
		defer func() {
			if p := recover(); p != nil {
				t.Fatalf("Step(%s) from a peer panicked: %v", DescribeMessage(m, nil), p)
			}
		}()
		before := captureNodeState(rn)
		if err := rn.Step(m); errors.Is(err, ErrMalformedMessage) {
			if after := captureNodeState(rn); !reflect.DeepEqual(before, after) {
				t.Fatalf("Step(%s) refused the message as malformed but changed the node", DescribeMessage(m, nil))
			}
		}
		drain(t, rn, s)
		requireConsistentLog(t, rn)
		rn.Tick()
		drain(t, rn, s)
		requireConsistentLog(t, rn)
	})
}
