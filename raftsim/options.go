package raftsim

import (
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/pontoon-raft/raft"
	"github.com/pontoon-raft/raft/wal"
	"github.com/pontoon-raft/raft/wal/faultfs"
)

// MaxNodes is the largest cluster the simulator builds.
const MaxNodes = 9

// ErrInvalidOptions is wrapped by every error New returns for Options that
// cannot be simulated.
var ErrInvalidOptions = errors.New("raftsim: invalid options")

// Options describe one simulated run. The zero value is usable: a
// three-node cluster, seed 0, DefaultSteps events, no faults.
type Options struct {
	// Nodes is the cluster size, 1..MaxNodes. Zero means 3. Node IDs are
	// 1..Nodes and all of them are voters.
	Nodes int

	// Seed drives every random choice of the run, including each node's
	// election timeouts. The same Seed and Options give the same trace.
	Seed int64

	// Steps is the number of events in the fault phase. Zero means
	// DefaultSteps.
	Steps int

	// ElectionTick and HeartbeatTick configure every node (raft.Config).
	// Zero means 10 and 1.
	ElectionTick  int
	HeartbeatTick int

	// PreVote and CheckQuorum configure every node (raft.Config).
	PreVote     bool
	CheckQuorum bool

	// StepDownOnRemoval configures every node (raft.Config): a leader
	// removed from the configuration, or demoted to learner, steps down.
	StepDownOnRemoval bool

	// Async selects the nodes that run with raft.Config.AsyncStorageWrites
	// (see AsyncMode), and AsyncNodes names more. MaxAsyncDelayTicks bounds
	// how many ticks their append and apply threads take over one piece of
	// work. Zero means 3.
	Async              AsyncMode
	AsyncNodes         []uint64
	MaxAsyncDelayTicks int

	// MaxSizePerMsg and MaxInflightMsgs configure every node. Zero means
	// 4 KiB and 16: small enough that replication takes several messages.
	MaxSizePerMsg   uint64
	MaxInflightMsgs int

	// ProposeProb is the probability that an event is a proposal, made on a
	// random live node (followers forward it). Zero means 0.05; a negative
	// value disables proposals.
	ProposeProb float64

	// TickWhileBusyProb is the probability that time advances although a
	// message is due or a node has a Ready, so that timeouts can fire in the
	// middle of in-flight work. Zero means 0.05; negative disables it.
	TickWhileBusyProb float64

	// SplitReadyProb is the probability that a Ready is handled in two
	// events: persisting and sending first, applying and Advance in a
	// later one, with other events for the node in between, as under
	// raft.Node's goroutine. Zero means 0.2; negative disables it.
	SplitReadyProb float64

	// Faults selects the faults injected during the fault phase.
	Faults Faults

	// SkipLiveness turns off the liveness phase that follows the fault
	// phase.
	SkipLiveness bool

	// LivenessTicks bounds the liveness phase. Zero means 50*ElectionTick.
	LivenessTicks int

	// TraceLines is how many trace lines a Violation carries. Zero means
	// 50.
	TraceLines int

	// TraceWriter, when set, receives every trace line as it is produced.
	TraceWriter io.Writer

	// RaftLogger receives the nodes' own log output. Nil discards it.
	RaftLogger raft.Logger

	// NodeFactory builds a node from the configuration the simulator
	// prepared. Nil means RawNodeFactory.
	NodeFactory NodeFactory

	// NewStateMachine builds the application state machine of a node
	// incarnation. Nil means a fresh *HashStateMachine.
	NewStateMachine func(id uint64) StateMachine

	// Invariants are checked after every event in addition to the built-in
	// ones. An invariant that keeps state must be a fresh value for every
	// run.
	Invariants []Invariant

	// SkipInvariants names built-in invariants (see BuiltinInvariantNames)
	// not to check.
	SkipInvariants []string

	// ReadOnlyOption configures how every node serves ReadIndex
	// (raft.Config). raft.ReadOnlyLeaseBased requires CheckQuorum, and
	// runs with lease-based reads slow no node (Faults.SlowNodeProb), as
	// leases tolerate only the clock drift LeaseDriftTicks allows; their
	// clocks drift within that bound instead (Faults.ClockDriftProb).
	ReadOnlyOption raft.ReadOnlyOption

	// LeaseDriftTicks configures every node (raft.Config.LeaseDriftTicks)
	// in runs with raft.ReadOnlyLeaseBased. Zero means ElectionTick/5, so
	// that clock-rate faults have room; negative means 0 (every clock at
	// the same rate).
	LeaseDriftTicks int

	// LinearizabilityTimeout bounds each porcupine check of a key's
	// history, made whenever a read completes (see InvLinearizableReads).
	// Zero means DefaultLinearizabilityTimeout. A check that runs out of
	// time passes, is counted in Result.ReadChecksUnknown, and its key is
	// not checked again in the run.
	LinearizabilityTimeout time.Duration

	// Storage chooses the nodes' durable storage: StorageMemory (the
	// zero value) or StorageWAL, a wal.Engine per node over a faultfs file
	// system, on which Faults.TornWriteProb, BitFlipProb, SyncErrorRate
	// and NoSpaceRate inject disk faults (they are ignored in
	// StorageMemory).
	Storage StorageMode
	// wrapDisk, if set, wraps every node's file system in StorageWAL mode:
	// tests use it to break the disk and see the checker notice.
	wrapDisk func(*faultfs.FS) wal.FS

	// SuppressEvents lists fault-phase event numbers (Event.Num) at which
	// Step does not perform the per-event action it drew (a fault, a
	// snapshot, a proposal or a read) and does ordinary work instead. The
	// random choices after such an event differ from the unsuppressed run.
	// Shrink fills it in.
	SuppressEvents []int
}

// DefaultSteps is the number of fault-phase events when Options.Steps is
// zero.
const DefaultSteps = 1000

// Faults are the per-event probabilities of the faults the simulator
// injects. The zero value injects none. Probabilities marked "per event" are
// drawn once per event, in the order listed, and their sum must not exceed
// 1; the message faults are drawn once per message sent.
type Faults struct {
	// DropProb is the probability that a sent message is lost.
	DropProb float64
	// DupProb is the probability that a sent message is delivered twice
	// (the copy with its own delay).
	DupProb float64
	// DelayProb is the probability that a message is delayed by 1 to
	// MaxDelayTicks ticks instead of being deliverable at once. Delays
	// reorder messages.
	DelayProb float64
	// MaxDelayTicks bounds delays. Zero means 5.
	MaxDelayTicks int
	// ReorderProb is the probability that the next delivery takes a random
	// due message instead of the oldest one.
	ReorderProb float64

	// PartitionProb (per event) splits the nodes into two random groups that
	// cannot reach each other.
	PartitionProb float64
	// OneWayPartitionProb (per event) cuts the link from one random node to
	// another in one direction only.
	OneWayPartitionProb float64
	// IsolateLeaderProb (per event) cuts every link to and from the
	// current leader.
	IsolateLeaderProb float64
	// HealProb (per event) restores every link and brings slow nodes back to
	// speed.
	HealProb float64

	// CrashProb (per event) crashes a random live node: its RawNode and
	// everything it has not persisted are lost.
	CrashProb float64
	// CrashMidReadyProb is the probability, per Ready handled, that the node
	// crashes part-way through: before persisting, after persisting, after
	// sending or after applying.
	CrashMidReadyProb float64
	// RestartProb (per event) restarts a random crashed node over its
	// storage.
	RestartProb float64

	// SlowNodeProb (per event) makes a random node slow for a while: it
	// ticks only every SlowFactor ticks.
	SlowNodeProb float64
	// SlowFactor is how much slower a slow node's clock runs. Zero means 3.
	SlowFactor int

	// SnapshotProb (per event) makes a random live node snapshot its state
	// machine at its applied index and compact its log, keeping a random
	// number of entries (up to CompactLagEntries) behind the snapshot.
	SnapshotProb float64
	// CompactLagEntries bounds the entries kept below the snapshot index.
	// Zero means 5.
	CompactLagEntries int

	// ConfChangeProb (per event) proposes a random membership change on
	// the leader: add or remove a voter, add or promote a learner, demote a
	// voter, a joint change of two or three nodes (leaving automatically or
	// explicitly), leave an explicit joint configuration, or replace a voter
	// by a new node; a change removes or demotes fewer than half the
	// voters. New nodes come from a pool of MaxNodes IDs, and removed ones
	// are shut down for good (FaultRetireNode) an election timeout after
	// their removal is applied, once a quorum of the new configuration
	// durably knows it is committed.
	ConfChangeProb float64
	// TransferLeaderProb (per event) asks the leader to transfer
	// leadership to a random other voter.
	TransferLeaderProb float64
	// CampaignProb (per event) calls Campaign on a random live node, as an
	// application that forces an election would.
	CampaignProb float64
	// ForgetLeaderProb (per event) calls ForgetLeader on a random live
	// node.
	ForgetLeaderProb float64
	// ReportUnreachableProb (per event) makes the leader report a random
	// other node unreachable, whether or not it is.
	ReportUnreachableProb float64
	// QuiesceProb (per event) quiesces the whole cluster for one to five
	// election timeouts: every node gets TickQuiesced instead of Tick, but
	// at each of its ticks a node wakes up early (a real Tick) with
	// probability QuiesceWakeProb. Then Tick resumes everywhere.
	QuiesceProb float64
	// QuiesceWakeProb is described with QuiesceProb. Zero means 0.01.
	QuiesceWakeProb float64
	// ClockDriftProb (per event) gives a random node's clock a new rate,
	// between 1 and MaxClockRate ticks per simulated tick.
	ClockDriftProb float64
	// MaxClockRate bounds clock rates. Zero means, in runs with
	// raft.ReadOnlyLeaseBased, the drift the nodes' lease tolerates:
	// ElectionTick/(ElectionTick-LeaseDriftTicks); otherwise 1.5. A larger
	// value in a lease run makes clocks drift beyond what the lease
	// tolerates, and stale reads are then expected.
	MaxClockRate float64

	// ReadIndexProb (per event) issues a ReadIndex request for a random
	// key on a random live node. It turns the run into a key-value
	// workload: proposals write "k<key>=<unique value>", the simulator
	// keeps a key-value map beside every replica's state machine (and in
	// its snapshots), a read returns the key's value once its node has
	// applied the read index, and the history of writes and reads must be
	// linearizable (InvLinearizableReads).
	ReadIndexProb float64

	// The disk faults of Options.Storage StorageWAL, ignored otherwise.
	//
	// TornWriteProb (per event) arms a random live node's file system to
	// crash inside one of its next few mutating operations: the Save in
	// progress fails, possibly having written part of its frame, and the
	// node crashes (FaultTornWrite). BitFlipProb (per event) flips a bit at
	// rest in the written part of one of a random down node's engine files
	// (FaultBitFlip); the engine must refuse to start over it
	// (FaultCorruptionDetected) or not depend on the byte. SyncErrorRate
	// (per fsync) and NoSpaceRate (per write) make the file system fail
	// them with EIO and ENOSPC: the engine then refuses every write and the
	// node halts, to be restarted like a crashed one.
	TornWriteProb float64
	BitFlipProb   float64
	SyncErrorRate float64
	NoSpaceRate   float64
}

// AllFaults returns Faults with every implemented fault enabled at rates
// that keep a 3- or 5-node cluster making progress most of the time.
func AllFaults() Faults {
	return Faults{
		DropProb:            0.05,
		DupProb:             0.02,
		DelayProb:           0.10,
		MaxDelayTicks:       5,
		ReorderProb:         0.10,
		PartitionProb:       0.002,
		OneWayPartitionProb: 0.002,
		IsolateLeaderProb:   0.002,
		HealProb:            0.008,
		CrashProb:           0.003,
		CrashMidReadyProb:   0.002,
		RestartProb:         0.02,
		SlowNodeProb:        0.002,
		SlowFactor:          3,
		SnapshotProb:        0.01,
		CompactLagEntries:   5,
		ConfChangeProb:      0.005,
		TransferLeaderProb:  0.002,
		ReadIndexProb:       0.03,

		CampaignProb:          0.002,
		ForgetLeaderProb:      0.002,
		ReportUnreachableProb: 0.003,
		QuiesceProb:           0.001,
		QuiesceWakeProb:       0.01,
		ClockDriftProb:        0.003,

		TornWriteProb: 0.002,
		BitFlipProb:   0.003,
		SyncErrorRate: 0.005,
		NoSpaceRate:   0.002,
	}
}

// FaultKind names a kind of injected fault (or storage action) in
// Result.Faults.
type FaultKind string

// The kinds counted in Result.Faults.
const (
	FaultDrop          FaultKind = "drop"
	FaultDup           FaultKind = "dup"
	FaultDelay         FaultKind = "delay"
	FaultReorder       FaultKind = "reorder"
	FaultPartition     FaultKind = "partition"
	FaultOneWay        FaultKind = "one-way-partition"
	FaultIsolateLeader FaultKind = "isolate-leader"
	FaultHeal          FaultKind = "heal"
	FaultCrash         FaultKind = "crash"
	FaultCrashMidReady FaultKind = "crash-mid-ready"
	FaultRestart       FaultKind = "restart"
	FaultSlow          FaultKind = "slow-node"
	FaultSnapshot      FaultKind = "snapshot"
	FaultCompact       FaultKind = "compact"
	// FaultUndeliverable counts messages lost because a link was cut or the
	// receiver was down at delivery time, and FaultOverflow those refused
	// because the bus was full. Neither is injected directly; both follow
	// from other faults.
	FaultUndeliverable FaultKind = "undeliverable"
	FaultOverflow      FaultKind = "overflow"
	// FaultReadIndex counts ReadIndex requests issued.
	FaultReadIndex FaultKind = "read-index"
	// FaultCampaign counts Campaign calls, FaultForgetLeader ForgetLeader
	// calls, FaultReportUnreachable ReportUnreachable calls made by the
	// simulator on its own (those for lost messages are not counted),
	// FaultQuiesce periods of quiescence, FaultWake early real ticks during
	// them, and FaultClockDrift changes of a clock's rate.
	FaultCampaign          FaultKind = "campaign"
	FaultForgetLeader      FaultKind = "forget-leader"
	FaultReportUnreachable FaultKind = "report-unreachable"
	FaultQuiesce           FaultKind = "quiesce"
	FaultWake              FaultKind = "wake"
	FaultClockDrift        FaultKind = "clock-drift"
)

// AllFaultKinds lists every FaultKind in a fixed order, for printing
// Result.Faults deterministically.
var AllFaultKinds = []FaultKind{
	FaultDrop, FaultDup, FaultDelay, FaultReorder,
	FaultPartition, FaultOneWay, FaultIsolateLeader, FaultHeal,
	FaultCrash, FaultCrashMidReady, FaultRestart, FaultSlow,
	FaultSnapshot, FaultCompact, FaultUndeliverable, FaultOverflow,
	FaultAddVoter, FaultAddLearner, FaultRemoveNode, FaultPromote, FaultDemote,
	FaultJointChange, FaultLeaveJoint, FaultReplaceNode, FaultRetireNode,
	FaultTransferLeader,
	FaultReadIndex,
	FaultCampaign, FaultForgetLeader, FaultReportUnreachable, FaultQuiesce, FaultWake, FaultClockDrift,
	FaultTornWrite, FaultSyncError, FaultNoSpace, FaultBitFlip, FaultCorruptionDetected, FaultFailedStart,
}

// maxInFlightMessages bounds the message bus; messages beyond it are dropped
// and counted as FaultOverflow.
const maxInFlightMessages = 4096

func invalid(format string, args ...interface{}) error {
	return fmt.Errorf("%w: %s", ErrInvalidOptions, fmt.Sprintf(format, args...))
}

// withDefaults returns a copy of o with zero fields replaced by defaults,
// or an error if o cannot be simulated.
func (o Options) withDefaults() (Options, error) {
	if o.Nodes == 0 {
		o.Nodes = 3
	}
	if o.Nodes < 1 || o.Nodes > MaxNodes {
		return o, invalid("Nodes must be in 1..%d, got %d", MaxNodes, o.Nodes)
	}
	if o.Steps == 0 {
		o.Steps = DefaultSteps
	}
	if o.Steps < 0 {
		return o, invalid("Steps must not be negative, got %d", o.Steps)
	}
	if o.ElectionTick == 0 {
		o.ElectionTick = 10
	}
	if o.HeartbeatTick == 0 {
		o.HeartbeatTick = 1
	}
	if o.MaxSizePerMsg == 0 {
		o.MaxSizePerMsg = 4 << 10
	}
	if o.MaxInflightMsgs == 0 {
		o.MaxInflightMsgs = 16
	}
	if o.ProposeProb == 0 {
		o.ProposeProb = 0.05
	}
	o.ProposeProb = max(o.ProposeProb, 0)
	if o.TickWhileBusyProb == 0 {
		o.TickWhileBusyProb = 0.05
	}
	o.TickWhileBusyProb = max(o.TickWhileBusyProb, 0)
	if o.SplitReadyProb == 0 {
		o.SplitReadyProb = 0.2
	}
	o.SplitReadyProb = max(o.SplitReadyProb, 0)
	if o.LivenessTicks == 0 {
		o.LivenessTicks = 50 * o.ElectionTick
	}
	if o.TraceLines <= 0 {
		o.TraceLines = 50
	}
	if o.NodeFactory == nil {
		o.NodeFactory = RawNodeFactory
	}
	if o.NewStateMachine == nil {
		o.NewStateMachine = func(uint64) StateMachine { return &HashStateMachine{} }
	}
	f := &o.Faults
	switch o.Storage {
	case StorageMemory:
		f.TornWriteProb, f.BitFlipProb, f.SyncErrorRate, f.NoSpaceRate = 0, 0, 0, 0
	case StorageWAL:
	default:
		return o, invalid("Storage (%d) must be a StorageMode", o.Storage)
	}
	if f.MaxDelayTicks == 0 {
		f.MaxDelayTicks = 5
	}
	if f.SlowFactor == 0 {
		f.SlowFactor = 3
	}
	if f.CompactLagEntries == 0 {
		f.CompactLagEntries = 5
	}
	if f.QuiesceWakeProb == 0 {
		f.QuiesceWakeProb = 0.01
	}
	lease := o.ReadOnlyOption == raft.ReadOnlyLeaseBased
	switch {
	case !lease:
		o.LeaseDriftTicks = 0
	case o.LeaseDriftTicks == 0:
		o.LeaseDriftTicks = o.ElectionTick / 5
	case o.LeaseDriftTicks < 0:
		o.LeaseDriftTicks = 0
	}
	if lease && o.ElectionTick-2-o.LeaseDriftTicks < 1 {
		return o, invalid("LeaseDriftTicks (%d) leaves no lease with ElectionTick %d", o.LeaseDriftTicks, o.ElectionTick)
	}
	if f.MaxClockRate == 0 {
		f.MaxClockRate = 1.5
		if lease {
			f.MaxClockRate = float64(o.ElectionTick) / float64(o.ElectionTick-o.LeaseDriftTicks)
		}
	}
	if f.MaxClockRate < 1 || f.MaxClockRate > 10 {
		return o, invalid("MaxClockRate must be in [1, 10], got %v", f.MaxClockRate)
	}
	if f.MaxDelayTicks < 1 || f.SlowFactor < 1 || f.CompactLagEntries < 0 {
		return o, invalid("MaxDelayTicks (%d) and SlowFactor (%d) must be positive, CompactLagEntries (%d) not negative",
			f.MaxDelayTicks, f.SlowFactor, f.CompactLagEntries)
	}
	if o.MaxAsyncDelayTicks == 0 {
		o.MaxAsyncDelayTicks = 3
	}
	if o.MaxAsyncDelayTicks < 0 || o.Async < AsyncNone || o.Async > AsyncMixed {
		return o, invalid("MaxAsyncDelayTicks (%d) must not be negative, Async (%d) must be an AsyncMode", o.MaxAsyncDelayTicks, o.Async)
	}
	for _, id := range o.AsyncNodes {
		if id < 1 || id > MaxNodes {
			return o, invalid("AsyncNodes: node ID %d is not in 1..%d", id, MaxNodes)
		}
	}
	probs := []struct {
		name string
		p    float64
	}{
		{"DropProb", f.DropProb}, {"DupProb", f.DupProb}, {"DelayProb", f.DelayProb},
		{"ReorderProb", f.ReorderProb}, {"CrashMidReadyProb", f.CrashMidReadyProb},
		{"ProposeProb", o.ProposeProb}, {"TickWhileBusyProb", o.TickWhileBusyProb},
		{"SplitReadyProb", o.SplitReadyProb}, {"QuiesceWakeProb", f.QuiesceWakeProb},
		{"SyncErrorRate", f.SyncErrorRate}, {"NoSpaceRate", f.NoSpaceRate},
	}
	for _, p := range probs {
		if p.p < 0 || p.p > 1 {
			return o, invalid("%s must be in [0, 1], got %v", p.name, p.p)
		}
	}
	perEvent := 0.0
	for _, a := range o.eventActionProbs() {
		if a < 0 {
			return o, invalid("per-event probabilities must not be negative")
		}
		perEvent += a
	}
	if perEvent > 1 {
		return o, invalid("per-event probabilities sum to %v, more than 1", perEvent)
	}
	if o.ReadOnlyOption == raft.ReadOnlyLeaseBased && !o.CheckQuorum {
		return o, invalid("ReadOnlyLeaseBased requires CheckQuorum")
	}
	if o.LinearizabilityTimeout == 0 {
		o.LinearizabilityTimeout = DefaultLinearizabilityTimeout
	}
	o.SuppressEvents = slices.Clone(o.SuppressEvents)
	slices.Sort(o.SuppressEvents)
	for _, name := range o.SkipInvariants {
		if !isBuiltinInvariant(name) {
			return o, invalid("SkipInvariants: no built-in invariant %q", name)
		}
	}
	return o, nil
}

// eventActionProbs lists the per-event probabilities in the order the
// simulator draws them (see Sim.Step).
func (o *Options) eventActionProbs() []float64 {
	f := &o.Faults
	return []float64{
		f.CrashProb, f.RestartProb, f.PartitionProb, f.OneWayPartitionProb,
		f.IsolateLeaderProb, f.HealProb, f.SlowNodeProb, f.SnapshotProb, o.ProposeProb,
		f.ReadIndexProb, f.ConfChangeProb, f.TransferLeaderProb,
		f.CampaignProb, f.ForgetLeaderProb, f.ReportUnreachableProb, f.QuiesceProb, f.ClockDriftProb,
		f.TornWriteProb, f.BitFlipProb,
	}
}

// ParseFaults builds Faults from a comma-separated list of fault kind names
// (as in AllFaultKinds, e.g. "drop,delay,crash"), each enabled at its
// AllFaults rate. "all" means AllFaults, "none" or "" no faults, and
// "storage" every disk fault of StorageWAL. Cutting
// links enables healing, and crashes enable restarts, so that a run does not
// freeze in its first partition or crash.
func ParseFaults(spec string) (Faults, error) {
	all := AllFaults()
	var f Faults
	f.MaxDelayTicks, f.SlowFactor, f.CompactLagEntries = all.MaxDelayTicks, all.SlowFactor, all.CompactLagEntries
	for _, name := range strings.Split(spec, ",") {
		switch FaultKind(strings.TrimSpace(name)) {
		case "all":
			f = all
		case "none", "":
		case FaultDrop:
			f.DropProb = all.DropProb
		case FaultDup:
			f.DupProb = all.DupProb
		case FaultDelay:
			f.DelayProb = all.DelayProb
		case FaultReorder:
			f.ReorderProb = all.ReorderProb
		case FaultPartition:
			f.PartitionProb, f.HealProb = all.PartitionProb, all.HealProb
		case FaultOneWay:
			f.OneWayPartitionProb, f.HealProb = all.OneWayPartitionProb, all.HealProb
		case FaultIsolateLeader:
			f.IsolateLeaderProb, f.HealProb = all.IsolateLeaderProb, all.HealProb
		case FaultHeal:
			f.HealProb = all.HealProb
		case FaultCrash:
			f.CrashProb, f.RestartProb = all.CrashProb, all.RestartProb
		case FaultCrashMidReady:
			f.CrashMidReadyProb, f.RestartProb = all.CrashMidReadyProb, all.RestartProb
		case FaultRestart:
			f.RestartProb = all.RestartProb
		case FaultSlow:
			f.SlowNodeProb, f.HealProb = all.SlowNodeProb, all.HealProb
		case FaultSnapshot, FaultCompact:
			f.SnapshotProb = all.SnapshotProb
		case FaultReadIndex:
			f.ReadIndexProb = all.ReadIndexProb
		case "membership", FaultAddVoter, FaultAddLearner, FaultRemoveNode, FaultPromote, FaultDemote,
			FaultJointChange, FaultLeaveJoint, FaultReplaceNode, FaultRetireNode:
			f.ConfChangeProb = all.ConfChangeProb
		case FaultTransferLeader:
			f.TransferLeaderProb = all.TransferLeaderProb
		case FaultCampaign:
			f.CampaignProb = all.CampaignProb
		case FaultForgetLeader:
			f.ForgetLeaderProb = all.ForgetLeaderProb
		case FaultReportUnreachable:
			f.ReportUnreachableProb = all.ReportUnreachableProb
		case FaultQuiesce, FaultWake:
			f.QuiesceProb, f.QuiesceWakeProb = all.QuiesceProb, all.QuiesceWakeProb
		case FaultClockDrift:
			f.ClockDriftProb = all.ClockDriftProb
		case "storage":
			f.TornWriteProb, f.BitFlipProb, f.SyncErrorRate, f.NoSpaceRate = all.TornWriteProb, all.BitFlipProb, all.SyncErrorRate, all.NoSpaceRate
			f.CrashProb, f.RestartProb = all.CrashProb, all.RestartProb
		case FaultTornWrite:
			f.TornWriteProb, f.RestartProb = all.TornWriteProb, all.RestartProb
		case FaultBitFlip, FaultCorruptionDetected:
			f.BitFlipProb, f.CrashProb, f.RestartProb = all.BitFlipProb, all.CrashProb, all.RestartProb
		case FaultSyncError:
			f.SyncErrorRate, f.RestartProb = all.SyncErrorRate, all.RestartProb
		case FaultNoSpace:
			f.NoSpaceRate, f.RestartProb = all.NoSpaceRate, all.RestartProb
		case FaultFailedStart:
			f.SyncErrorRate, f.NoSpaceRate, f.CrashProb, f.RestartProb = all.SyncErrorRate, all.NoSpaceRate, all.CrashProb, all.RestartProb
		default:
			return Faults{}, invalid("unknown fault kind %q in %q", name, spec)
		}
	}
	return f, nil
}
