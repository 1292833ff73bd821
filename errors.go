package raft

import "errors"

// ErrProposalDropped is returned when a proposal cannot be accepted: no leader
// is known, this node is a leader that is transferring leadership or has been
// removed, forwarding is disabled, or the entries would exceed
// Config.MaxUncommittedEntriesSize. The caller may retry later.
var ErrProposalDropped = errors.New("raft proposal dropped")

// ErrStepLocalMsg is returned by RawNode.Step for a message of a local-only
// type (see IsLocalMsg) that did not come from a local target: such messages
// must never arrive from the network.
var ErrStepLocalMsg = errors.New("raft: cannot step raft local message")

// ErrStepPeerNotFound is returned by RawNode.Step for a response message from
// a node that is not in the current configuration.
var ErrStepPeerNotFound = errors.New("raft: cannot step as peer not found")

// ErrMalformedMessage is returned by Step for a message from a peer that no
// correct node sends, such as a vote or append message without a term. The
// message is ignored. It is a Pontoon addition: etcd/raft acts on such
// messages or panics.
var ErrMalformedMessage = errors.New("raft: malformed message")

// ErrStopped is returned by the Node methods after Stop has been called.
var ErrStopped = errors.New("raft: stopped")

// ErrInvalidConfig is wrapped by every error that Config validation returns,
// so callers can test for it with errors.Is.
var ErrInvalidConfig = errors.New("raft: invalid config")

// ErrCampaignRefused is returned by Campaign when this node may not start
// an election now although it is a voter that could: with
// ReadOnlyLeaseBased it acknowledged a leader's heartbeat (or restarted)
// within the last ElectionTick ticks and promised not to vote, itself
// included, until then (see Config.ReadOnlyOption). It is a Pontoon
// addition; etcd/raft would campaign and could elect a leader while the old
// one still serves reads from its lease. Use TransferLeader to move
// leadership at once.
var ErrCampaignRefused = errors.New("raft: campaign refused")
