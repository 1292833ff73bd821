package raft

import (
	"fmt"
	"math"

	pb "github.com/pontoon-raft/raft/raftpb"
)

// The facts that belong to a message type live in msgFacts, in one table:
// adding a message type means adding its row here (and its handling in the
// step functions), and TestMessageFactsPinned fails until the row exists.

// termRule says how send stamps a message's term.
type termRule uint8

const (
	// termNotSent: the type never travels between nodes.
	termNotSent termRule = iota
	// termOfSender: stamped with the sender's current term.
	termOfSender
	// termChosen: the vote family carries the term being campaigned for
	// (or of the rejection), chosen by the caller of send.
	termChosen
	// termNone: forwards of local requests (proposals, reads) carry no
	// term; the receiver treats them as local input.
	termNone
)

// msgFacts describes one message type.
type msgFacts struct {
	// known is false for numbers no version of the protocol defines.
	known bool
	// local types are generated and consumed inside one node.
	local bool
	// response types answer an earlier message.
	response bool
	// carriesTerm: every such message a node sends has a non-zero term.
	carriesTerm bool
	// term is how send stamps the term.
	term termRule
	// heldUntilDurable: the message attests to durable state (a vote, an
	// append acknowledgement) and is released only once the writes handed
	// out before it are durable (paper §5.1: persist before responding).
	heldUntilDurable bool
}

// messageTypeCount bounds the lookup table; it is one past the largest
// MessageType.
const messageTypeCount = int(pb.MsgForgetLeader) + 1

var msgFactsTable = [messageTypeCount]msgFacts{
	pb.MsgHup:               {known: true, local: true},
	pb.MsgBeat:              {known: true, local: true},
	pb.MsgProp:              {known: true, term: termNone},
	pb.MsgApp:               {known: true, carriesTerm: true, term: termOfSender},
	pb.MsgAppResp:           {known: true, response: true, carriesTerm: true, term: termOfSender, heldUntilDurable: true},
	pb.MsgVote:              {known: true, carriesTerm: true, term: termChosen},
	pb.MsgVoteResp:          {known: true, response: true, carriesTerm: true, term: termChosen, heldUntilDurable: true},
	pb.MsgSnap:              {known: true, carriesTerm: true, term: termOfSender},
	pb.MsgHeartbeat:         {known: true, carriesTerm: true, term: termOfSender},
	pb.MsgHeartbeatResp:     {known: true, response: true, carriesTerm: true, term: termOfSender},
	pb.MsgUnreachable:       {known: true, local: true, response: true},
	pb.MsgSnapStatus:        {known: true, local: true},
	pb.MsgCheckQuorum:       {known: true, local: true},
	pb.MsgTransferLeader:    {known: true, term: termOfSender},
	pb.MsgTimeoutNow:        {known: true, carriesTerm: true, term: termOfSender},
	pb.MsgReadIndex:         {known: true, term: termNone},
	pb.MsgReadIndexResp:     {known: true, response: true, carriesTerm: true, term: termOfSender},
	pb.MsgPreVote:           {known: true, carriesTerm: true, term: termChosen},
	pb.MsgPreVoteResp:       {known: true, response: true, carriesTerm: true, term: termChosen, heldUntilDurable: true},
	pb.MsgStorageAppend:     {known: true, local: true},
	pb.MsgStorageAppendResp: {known: true, local: true, response: true},
	pb.MsgStorageApply:      {known: true, local: true},
	pb.MsgStorageApplyResp:  {known: true, local: true, response: true},
	pb.MsgForgetLeader:      {known: true},
}

// factsOf returns the facts of type t; an unknown number has none.
func factsOf(t pb.MessageType) msgFacts {
	if t < 0 || int(t) >= messageTypeCount {
		return msgFacts{}
	}
	return msgFactsTable[t]
}

// IsLocalMsg reports whether messages of type msgt are generated and consumed
// inside one node and must never travel between nodes.
func IsLocalMsg(msgt pb.MessageType) bool { return factsOf(msgt).local }

// IsResponseMsg reports whether msgt answers an earlier message (so its sender
// must be a known peer or a local target).
func IsResponseMsg(msgt pb.MessageType) bool { return factsOf(msgt).response }

// messageCarriesTerm reports whether every message of type t sent by a
// node carries a non-zero term.
func messageCarriesTerm(t pb.MessageType) bool { return factsOf(t).carriesTerm }

// malformed returns an ErrMalformedMessage error describing what is wrong
// with m.
func malformed(m pb.Message, format string, args ...interface{}) error {
	return fmt.Errorf("%w: %s from %x: %s", ErrMalformedMessage, m.Type, m.From, fmt.Sprintf(format, args...))
}

// checkWellFormed refuses a message whose fields contradict each other in a
// way no correct node produces, whatever the receiver's state: it must be
// rejected before it can change anything.
func checkWellFormed(m pb.Message) error {
	f := factsOf(m.Type)
	if !f.known {
		return malformed(m, "unknown message type %d", int32(m.Type))
	}
	if f.carriesTerm && m.Term == 0 {
		return malformed(m, "no term")
	}
	switch m.Type {
	case pb.MsgApp:
		return checkAppendEntries(m)
	case pb.MsgSnap:
		if m.Snapshot == nil || m.Snapshot.Metadata.Index == 0 || m.Snapshot.Metadata.Term == 0 {
			return malformed(m, "no snapshot")
		}
		if t := m.Snapshot.Metadata.Term; t > m.Term {
			return malformed(m, "snapshot of term %d sent at term %d", t, m.Term)
		}
	case pb.MsgVote, pb.MsgPreVote:
		if m.LogTerm > m.Term {
			return malformed(m, "last log term %d beyond the campaign's term %d", m.LogTerm, m.Term)
		}
	}
	return nil
}

// checkAppendEntries checks the shape of a MsgApp (Figure 2, AppendEntries):
// entries[i] has index Index+1+i, terms never decrease, start at or above
// LogTerm (the term of the entry at Index) and do not exceed the leader's
// term. The log relies on the index rule: entry i of a slice is the entry at
// offset+i.
func checkAppendEntries(m pb.Message) error {
	if m.LogTerm > m.Term {
		return malformed(m, "previous log term %d beyond the leader's term %d", m.LogTerm, m.Term)
	}
	if uint64(len(m.Entries)) > math.MaxUint64-m.Index {
		return malformed(m, "%d entries after index %d overflow the index space", len(m.Entries), m.Index)
	}
	prevTerm := m.LogTerm
	for i := range m.Entries {
		e := &m.Entries[i]
		if want := m.Index + 1 + uint64(i); e.Index != want {
			return malformed(m, "entry %d has index %d, want %d", i, e.Index, want)
		}
		if e.Term < prevTerm {
			return malformed(m, "entry %d has term %d after term %d", e.Index, e.Term, prevTerm)
		}
		if e.Term > m.Term {
			return malformed(m, "entry %d has term %d beyond the leader's term %d", e.Index, e.Term, m.Term)
		}
		prevTerm = e.Term
	}
	return nil
}
