package raft

import (
	"math"

	pb "github.com/pontoon-raft/raft/raftpb"
)

// None is the ID of no node: no leader known, no vote cast.
const None uint64 = 0

// LocalAppendThread is the reserved target of MsgStorageAppend messages when
// Config.AsyncStorageWrites is set. It is never a valid node ID.
const LocalAppendThread uint64 = math.MaxUint64

// LocalApplyThread is the reserved target of MsgStorageApply messages when
// Config.AsyncStorageWrites is set. It is never a valid node ID.
const LocalApplyThread uint64 = math.MaxUint64 - 1

// noLimit stands for "unbounded" in the size limits of Config.
const noLimit = math.MaxUint64

// IsLocalMsgTarget reports whether id is one of the reserved local targets
// (LocalAppendThread, LocalApplyThread) rather than a node.
func IsLocalMsgTarget(id uint64) bool { return id == LocalAppendThread || id == LocalApplyThread }

// voteRespMsgType maps a vote request type to the type of its answer.
func voteRespMsgType(t pb.MessageType) pb.MessageType {
	if t == pb.MsgPreVote {
		return pb.MsgPreVoteResp
	}
	return pb.MsgVoteResp
}

// IsEmptyHardState reports whether st is the zero HardState.
func IsEmptyHardState(st pb.HardState) bool { return st == pb.HardState{} }

// IsEmptySnap reports whether sp carries no snapshot (its index is zero).
func IsEmptySnap(sp pb.Snapshot) bool { return sp.Metadata.Index == 0 }

// MustSync reports whether persisting the given HardState and entsnum new
// entries needs an fsync before messages may be sent: it does whenever entries
// were appended or the term or vote changed. A commit index change alone does
// not, because it can be recovered from the peers after a crash.
func MustSync(st, prevst pb.HardState, entsnum int) bool {
	return entsnum != 0 || st.Vote != prevst.Vote || st.Term != prevst.Term
}
