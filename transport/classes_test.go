package transport

import (
	"testing"

	pb "github.com/pontoon-raft/raft/raftpb"
	"github.com/stretchr/testify/assert"
)

func TestMessageTypes(t *testing.T) {
	local := map[pb.MessageType]bool{
		pb.MsgHup: true, pb.MsgBeat: true, pb.MsgUnreachable: true, pb.MsgSnapStatus: true,
		pb.MsgCheckQuorum: true, pb.MsgStorageAppend: true, pb.MsgStorageAppendResp: true,
		pb.MsgStorageApply: true, pb.MsgStorageApplyResp: true,
	}
	for typ := pb.MessageType(0); typ <= pb.MsgForgetLeader+1; typ++ {
		known := typ <= pb.MsgForgetLeader
		assert.Equal(t, known && !local[typ], IsNetworkType(typ), "%v", typ)
		want := ClassControl
		switch typ {
		case pb.MsgApp, pb.MsgProp:
			want = ClassBulk
		case pb.MsgSnap:
			want = ClassSnapshot
		}
		assert.Equal(t, want, ClassOf(typ), "%v", typ)
	}
}

func TestFilterReceived(t *testing.T) {
	r := newRecorder()
	r.maxGroup = 10
	msgs := []GroupMessage{
		heartbeat(1, 1, 2),
		heartbeat(1, 4, 2),
		heartbeat(11, 1, 2),
		heartbeat(2, 1, 5),
		{Group: 3, Message: pb.Message{Type: pb.MsgBeat, From: 1, To: 2}},
		{Group: 3, Message: snapMsg(3, 1, 2, 7)},
		heartbeat(3, 1, 2),
	}
	var rejected [rejectReasons]int
	kept := filterReceived(2, 1, r, msgs, &rejected)
	assert.Equal(t, []GroupMessage{heartbeat(1, 1, 2), heartbeat(3, 1, 2)}, kept)
	assert.Equal(t, [rejectReasons]int{
		RejectForgedSender: 1, RejectUnknownGroup: 1, RejectWrongDestination: 1,
		RejectLocalType: 1, RejectSnapshotOutsideStream: 1,
	}, rejected)
	assert.Equal(t, GroupMessage{}, msgs[len(msgs)-1], "rejected messages are not pinned")
}

func TestNamesForLogs(t *testing.T) {
	assert.Equal(t, "bulk", ClassBulk.String())
	assert.Equal(t, "Class(9)", Class(9).String())
	assert.Equal(t, "incoming", Incoming.String())
	assert.Equal(t, "Direction(0)", Direction(0).String())
	for r := RejectForgedSender; r <= RejectMalformedSnapshot; r++ {
		assert.NotContains(t, r.String(), "RejectReason(")
	}
	for r := DropQueueFull; r <= DropFault; r++ {
		assert.NotContains(t, r.String(), "DropReason(")
	}
	assert.Equal(t, "RejectReason(0)", RejectReason(0).String())
	assert.Equal(t, "DropReason(0)", DropReason(0).String())
}
