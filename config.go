package raft

import (
	"fmt"
	"math/rand/v2"
)

// StateType is the role a node plays in the current term.
type StateType uint64

// The four roles of a node. PreCandidate is the PreVote phase (thesis §9.6)
// that precedes a real candidacy when Config.PreVote is set.
const (
	StateFollower StateType = iota
	StateCandidate
	StateLeader
	StatePreCandidate
	numStates
)

var stateNames = [numStates]string{"StateFollower", "StateCandidate", "StateLeader", "StatePreCandidate"}

// String returns the name of the role, e.g. "StateLeader".
func (st StateType) String() string {
	if st < numStates {
		return stateNames[st]
	}
	return fmt.Sprintf("StateType(%d)", uint64(st))
}

// MarshalJSON encodes the role as its quoted name.
func (st StateType) MarshalJSON() ([]byte, error) {
	return []byte(fmt.Sprintf("%q", st.String())), nil
}

// ReadOnlyOption selects how ReadIndex requests are confirmed.
type ReadOnlyOption int

const (
	// ReadOnlySafe confirms each read index with a heartbeat round answered by
	// a quorum, so it stays linearizable whatever the clocks do (thesis §6.4).
	ReadOnlySafe ReadOnlyOption = iota
	// ReadOnlyLeaseBased answers from the leader's lease without a round trip.
	// It requires CheckQuorum and relies on clocks whose drift stays within
	// Config.LeaseDriftTicks. Every node then promises, whenever it hears
	// from a leader, not to vote (itself included) for ElectionTick ticks,
	// which is why Campaign may return ErrCampaignRefused and ForgetLeader
	// is ignored.
	ReadOnlyLeaseBased
)

// CampaignType says why an election is started. Its values are unexported.
type CampaignType string

const (
	// campaignPreElection is the PreVote phase of an election.
	campaignPreElection CampaignType = "CampaignPreElection"
	// campaignElection is a normal election.
	campaignElection CampaignType = "CampaignElection"
	// campaignTransfer is an election started by MsgTimeoutNow. The string is
	// carried in the Context of MsgVote so voters skip their lease check; it is
	// part of the wire protocol.
	campaignTransfer CampaignType = "CampaignTransfer"
)

// RandomSource supplies the randomness a node needs (its election timeout).
// *math/rand.Rand satisfies it. A seeded source makes a run reproducible.
type RandomSource interface {
	// Intn returns a number in [0, n).
	Intn(n int) int
}

// globalRandom is the RandomSource used when Config.Rand is nil. It is safe
// for concurrent use.
type globalRandom struct{}

func (globalRandom) Intn(n int) int { return rand.IntN(n) }

// Config holds the parameters of one raft node.
type Config struct {
	// ID identifies this node. It must be non-zero and must not be a local
	// target (LocalAppendThread, LocalApplyThread).
	ID uint64

	// ElectionTick is the number of Tick calls a follower waits without
	// hearing from a leader before it campaigns. The actual timeout is drawn
	// at random from [ElectionTick, 2*ElectionTick) each time it is reset.
	// It must exceed HeartbeatTick; 10*HeartbeatTick is a good choice.
	ElectionTick int

	// HeartbeatTick is the number of Tick calls between the heartbeats a
	// leader sends. It must be positive.
	HeartbeatTick int

	// Storage is where the node reads its durable log and state. The
	// application writes to it (entries, HardState, snapshots) as the Ready
	// contract prescribes. Required.
	Storage Storage

	// Applied is the index of the last entry the application had applied
	// before a restart. Entries up to it are not handed out again. It must
	// not exceed the committed index found in Storage.
	Applied uint64

	// AsyncStorageWrites moves log writes and entry application off the Ready
	// loop: instead of Ready fields to handle inline, Ready.Messages carries
	// MsgStorageAppend and MsgStorageApply messages to LocalAppendThread and
	// LocalApplyThread, whose responses the application steps back into the
	// node once the work is durable or done. Advance must not be called.
	AsyncStorageWrites bool

	// MaxSizePerMsg bounds the encoded bytes of entries in one MsgApp. Zero
	// sends one entry per message; math.MaxUint64 means no limit.
	MaxSizePerMsg uint64

	// MaxCommittedSizePerReady bounds the encoded bytes of committed entries
	// handed out for application and not yet applied. Zero means
	// MaxSizePerMsg; when both are zero one entry is handed out at a time.
	MaxCommittedSizePerReady uint64

	// MaxUncommittedEntriesSize bounds the payload bytes of entries a leader
	// holds uncommitted; proposals beyond it are dropped. Zero means no
	// limit.
	MaxUncommittedEntriesSize uint64

	// MaxInflightMsgs bounds the MsgApp messages sent to one follower and not
	// yet acknowledged while replicating optimistically. It must be positive.
	MaxInflightMsgs int

	// MaxInflightBytes bounds the payload bytes in flight to one follower.
	// Zero means no limit; otherwise it must be at least MaxSizePerMsg.
	MaxInflightBytes uint64

	// CheckQuorum makes a leader step down when it has not heard from a
	// quorum within an election timeout, and makes followers that heard from
	// a leader within the timeout ignore vote requests (thesis §6.2, §4.2.3).
	CheckQuorum bool

	// PreVote runs a PreVote phase before each election so that a node that
	// cannot win does not raise the term and disrupt the cluster (thesis §9.6).
	PreVote bool

	// ReadOnlyOption selects how ReadIndex requests are served.
	// ReadOnlyLeaseBased requires CheckQuorum.
	ReadOnlyOption ReadOnlyOption

	// LeaseDriftTicks is, under ReadOnlyLeaseBased, the clock drift the
	// lease tolerates: the most ticks by which any node's clock may run
	// ahead of the leader's while it counts ElectionTick ticks. The lease
	// of a heartbeat round lasts ElectionTick - 2 - LeaseDriftTicks leader
	// ticks from the round's send (two ticks cover the phase between two
	// clocks), so it must be below ElectionTick - 2. Zero assumes that every
	// node's clock ticks at the same rate; if a node's ticks may come up to
	// 10% faster than another's, set it to at least ElectionTick/10 rounded
	// up. It is a Pontoon addition and has no effect under ReadOnlySafe.
	LeaseDriftTicks int

	// Logger receives the node's log lines. Nil uses the package logger (see
	// SetLogger).
	Logger Logger

	// DisableProposalForwarding makes followers drop proposals with
	// ErrProposalDropped instead of forwarding them to the leader.
	DisableProposalForwarding bool

	// DisableConfChangeValidation turns off the leader's checks that at most
	// one configuration change is pending and that joint states are entered
	// and left in order. Only for applications that do these checks
	// themselves.
	DisableConfChangeValidation bool

	// StepDownOnRemoval makes a leader that is removed from (or demoted in)
	// the configuration step down to follower when the change is applied.
	StepDownOnRemoval bool

	// TraceLogger receives state-machine trace events. Pontoon emits none;
	// the field exists so that configurations written for etcd/raft compile.
	TraceLogger TraceLogger

	// Rand supplies the randomness of election timeouts. Nil uses a shared,
	// randomly seeded source. Tests and simulations set a seeded source so
	// that a run replays exactly. It is a Pontoon addition.
	Rand RandomSource
}

// TraceLogger receives trace events of the state machine. Pontoon defines
// the interface for source compatibility and never calls it.
type TraceLogger interface{}

// StateTraceDeployed reports whether this build emits state-machine trace
// events for TLA+ trace validation. Pontoon has no such build, so it is
// always false; etcd/raft sets it under the with_tla build tag.
const StateTraceDeployed = false

// TracingEvent is the payload a TraceLogger would receive. It is empty, as
// etcd/raft's is in builds without the with_tla tag, and exists so that
// code naming the type compiles against Pontoon.
type TracingEvent struct{}

func invalidConfig(format string, args ...interface{}) error {
	return fmt.Errorf("%w: %s", ErrInvalidConfig, fmt.Sprintf(format, args...))
}

// validate checks c and fills in the defaults (limits of zero meaning "no
// limit", the logger). Every error wraps ErrInvalidConfig.
func (c *Config) validate() error {
	if c == nil {
		return invalidConfig("Config must not be nil")
	}
	if c.ID == None {
		return invalidConfig("ID must not be zero (None)")
	}
	if IsLocalMsgTarget(c.ID) {
		return invalidConfig("ID %d is reserved for a local storage thread", c.ID)
	}
	if c.HeartbeatTick <= 0 {
		return invalidConfig("HeartbeatTick must be greater than 0, got %d", c.HeartbeatTick)
	}
	if c.ElectionTick <= c.HeartbeatTick {
		return invalidConfig("ElectionTick (%d) must be greater than HeartbeatTick (%d)",
			c.ElectionTick, c.HeartbeatTick)
	}
	if c.Storage == nil {
		return invalidConfig("Storage must not be nil")
	}
	if c.MaxInflightMsgs <= 0 {
		return invalidConfig("MaxInflightMsgs must be greater than 0, got %d", c.MaxInflightMsgs)
	}
	if c.MaxUncommittedEntriesSize == 0 {
		c.MaxUncommittedEntriesSize = noLimit
	}
	if c.MaxCommittedSizePerReady == 0 {
		c.MaxCommittedSizePerReady = c.MaxSizePerMsg
	}
	if c.MaxInflightBytes == 0 {
		c.MaxInflightBytes = noLimit
	} else if c.MaxInflightBytes < c.MaxSizePerMsg {
		return invalidConfig("MaxInflightBytes (%d) must be at least MaxSizePerMsg (%d)",
			c.MaxInflightBytes, c.MaxSizePerMsg)
	}
	if c.ReadOnlyOption != ReadOnlySafe && c.ReadOnlyOption != ReadOnlyLeaseBased {
		return invalidConfig("unknown ReadOnlyOption %d", c.ReadOnlyOption)
	}
	if c.ReadOnlyOption == ReadOnlyLeaseBased && !c.CheckQuorum {
		return invalidConfig("CheckQuorum must be enabled when ReadOnlyOption is ReadOnlyLeaseBased")
	}
	if c.LeaseDriftTicks < 0 {
		return invalidConfig("LeaseDriftTicks must not be negative, got %d", c.LeaseDriftTicks)
	}
	if c.ReadOnlyOption == ReadOnlyLeaseBased && c.ElectionTick-2-c.LeaseDriftTicks < 1 {
		return invalidConfig("a lease of ElectionTick (%d) - 2 - LeaseDriftTicks (%d) ticks would be empty",
			c.ElectionTick, c.LeaseDriftTicks)
	}
	if c.Logger == nil {
		c.Logger = getLogger()
	}
	if c.Rand == nil {
		c.Rand = globalRandom{}
	}
	return nil
}
