package transport

import (
	"fmt"

	pb "github.com/pontoon-raft/raft/raftpb"
)

// Class is the traffic class of a message. Each class has its own queue per
// peer, and in the TCP transport its own connection, so that a message of
// one class never waits behind messages of another.
type Class uint8

const (
	// ClassControl carries the small messages whose latency drives Raft's
	// timers: heartbeats, votes, and every response.
	ClassControl Class = iota + 1
	// ClassBulk carries the messages that carry log entries: appends and
	// forwarded proposals. They keep their order per group and peer.
	ClassBulk
	// ClassSnapshot is a snapshot stream; in the TCP transport each stream
	// has a connection of its own.
	ClassSnapshot
)

// String returns the class name used in logs: "control", "bulk" or
// "snapshot".
func (c Class) String() string {
	switch c {
	case ClassControl:
		return "control"
	case ClassBulk:
		return "bulk"
	case ClassSnapshot:
		return "snapshot"
	}
	return fmt.Sprintf("Class(%d)", uint8(c))
}

// ClassOf returns the class a message travels in: ClassBulk for MsgApp and
// MsgProp, ClassSnapshot for MsgSnap, ClassControl for everything else.
// The rule is by type, not size, so every append of a group to a peer
// travels in one ordered stream and a follower never sees them overtake
// each other.
func ClassOf(t pb.MessageType) Class {
	switch t {
	case pb.MsgApp, pb.MsgProp:
		return ClassBulk
	case pb.MsgSnap:
		return ClassSnapshot
	}
	return ClassControl
}

// IsNetworkType reports whether a message of type t may travel between
// nodes. The local types (MsgHup, MsgBeat, MsgUnreachable, MsgSnapStatus,
// MsgCheckQuorum, the MsgStorage* messages) and unknown values never do:
// Send drops them and receivers reject them.
func IsNetworkType(t pb.MessageType) bool {
	switch t {
	case pb.MsgProp, pb.MsgApp, pb.MsgAppResp, pb.MsgVote, pb.MsgVoteResp,
		pb.MsgSnap, pb.MsgHeartbeat, pb.MsgHeartbeatResp, pb.MsgTransferLeader,
		pb.MsgTimeoutNow, pb.MsgReadIndex, pb.MsgReadIndexResp, pb.MsgPreVote,
		pb.MsgPreVoteResp, pb.MsgForgetLeader:
		return true
	}
	return false
}

// Direction says whether a connection or snapshot stream goes out from this
// node or comes in to it.
type Direction uint8

const (
	// Outgoing is a connection this node dialed, or a snapshot it sends.
	Outgoing Direction = iota + 1
	// Incoming is a connection a peer dialed, or a snapshot it sends here.
	Incoming
)

// String returns "outgoing" or "incoming".
func (d Direction) String() string {
	switch d {
	case Outgoing:
		return "outgoing"
	case Incoming:
		return "incoming"
	}
	return fmt.Sprintf("Direction(%d)", uint8(d))
}

// RejectReason says why a received message was rejected.
type RejectReason uint8

const (
	// RejectForgedSender: Message.From is not the authenticated peer.
	RejectForgedSender RejectReason = iota + 1
	// RejectWrongDestination: Message.To is not this node.
	RejectWrongDestination
	// RejectUnknownGroup: Handler.HasGroup said no.
	RejectUnknownGroup
	// RejectLocalType: the type is local to a node or unknown (see
	// IsNetworkType).
	RejectLocalType
	// RejectSnapshotOutsideStream: a MsgSnap arrived as a plain message;
	// snapshots must come through a snapshot stream so their body is
	// stored before they are stepped.
	RejectSnapshotOutsideStream
	// RejectMalformedSnapshot: a snapshot stream opened with a message
	// that is not a MsgSnap with snapshot metadata.
	RejectMalformedSnapshot
)

// String returns the reason name used in logs and metrics labels.
func (r RejectReason) String() string {
	switch r {
	case RejectForgedSender:
		return "forged_sender"
	case RejectWrongDestination:
		return "wrong_destination"
	case RejectUnknownGroup:
		return "unknown_group"
	case RejectLocalType:
		return "local_type"
	case RejectSnapshotOutsideStream:
		return "snapshot_outside_stream"
	case RejectMalformedSnapshot:
		return "malformed_snapshot"
	}
	return fmt.Sprintf("RejectReason(%d)", uint8(r))
}

// DropReason says why a message was not sent.
type DropReason uint8

const (
	// DropQueueFull: the peer's queue for the message's class was full.
	DropQueueFull DropReason = iota + 1
	// DropUnknownPeer: no address is known for Message.To (or it is this
	// node itself).
	DropUnknownPeer
	// DropPeerDown: the peer could not be reached lately and the transport
	// is waiting before it dials again.
	DropPeerDown
	// DropConnectionLost: the message was queued when its connection broke.
	DropConnectionLost
	// DropTooLarge: the message exceeds MaxMessageBytes.
	DropTooLarge
	// DropLocalType: the message's type never travels between nodes.
	DropLocalType
	// DropFault: the MemNetwork lost the message on purpose (drop rate, cut
	// link or a node that is down).
	DropFault
)

// String returns the reason name used in logs and metrics labels.
func (r DropReason) String() string {
	switch r {
	case DropQueueFull:
		return "queue_full"
	case DropUnknownPeer:
		return "unknown_peer"
	case DropPeerDown:
		return "peer_down"
	case DropConnectionLost:
		return "connection_lost"
	case DropTooLarge:
		return "too_large"
	case DropLocalType:
		return "local_type"
	case DropFault:
		return "fault"
	}
	return fmt.Sprintf("DropReason(%d)", uint8(r))
}

// checkReceived applies the receive rules that do not need the Handler to a
// message that node peer sent to node self. It returns 0 when they pass.
func checkReceived(self, peer uint64, m *pb.Message) RejectReason {
	switch {
	case !IsNetworkType(m.Type):
		return RejectLocalType
	case m.Type == pb.MsgSnap:
		return RejectSnapshotOutsideStream
	case m.From != peer:
		return RejectForgedSender
	case m.To != self:
		return RejectWrongDestination
	}
	return 0
}

// checkSnapshotHeader applies the receive rules to the MsgSnap that opens a
// snapshot stream from node peer to node self. It returns 0 when they pass.
func checkSnapshotHeader(self, peer uint64, m *pb.Message) RejectReason {
	switch {
	case m.Type != pb.MsgSnap || m.Snapshot == nil:
		return RejectMalformedSnapshot
	case m.From != peer:
		return RejectForgedSender
	case m.To != self:
		return RejectWrongDestination
	}
	return 0
}

// filterReceived removes from msgs, in place and keeping the order, every
// message that breaks a receive rule, and counts the removed ones by reason
// into rejected (indexed by RejectReason). HasGroup is asked once per run of
// messages of the same group.
func filterReceived(self, peer uint64, h Handler, msgs []GroupMessage, rejected *[rejectReasons]int) []GroupMessage {
	kept := msgs[:0]
	var lastGroup uint64
	lastKnown, asked := false, false
	for i := range msgs {
		gm := &msgs[i]
		reason := checkReceived(self, peer, &gm.Message)
		if reason == 0 {
			if !asked || gm.Group != lastGroup {
				lastGroup, lastKnown, asked = gm.Group, h.HasGroup(gm.Group), true
			}
			if !lastKnown {
				reason = RejectUnknownGroup
			}
		}
		if reason != 0 {
			rejected[reason]++
			continue
		}
		kept = append(kept, *gm)
	}
	// Clear the tail so the dropped messages' memory is not pinned.
	clear(msgs[len(kept):])
	return kept
}

// rejectReasons sizes arrays indexed by RejectReason.
const rejectReasons = int(RejectMalformedSnapshot) + 1
