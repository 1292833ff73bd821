package host

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/pontoon-raft/raft"
	"github.com/pontoon-raft/raft/transport"
	"github.com/pontoon-raft/raft/wal"
)

// ErrInvalidConfig is wrapped by every error New returns for a Config it
// cannot run with.
var ErrInvalidConfig = errors.New("host: invalid config")

// Config configures a Host. The zero value of every optional field is a
// sensible default, named in its comment.
type Config struct {
	// NodeID identifies this host in the cluster. It is the Raft ID of
	// every replica the host runs (see package transport). Required.
	NodeID uint64

	// Dir holds the host's durable state: the log engine (Dir/wal) and the
	// snapshots (Dir/snap). Required.
	Dir string

	// FS is the file system under Dir. Nil means the operating system's;
	// the simulation passes a faultfs.
	FS wal.FS

	// LogSegmentBytes is the size of the log engine's segment files
	// (wal.Options.SegmentBytes); zero means the engine's default, 64 MiB.
	// Simulations use small segments, which also exercise rotation.
	LogSegmentBytes int64

	// NewStateMachine builds the state machine of a replica of group, for a
	// new group or at every start. Required.
	NewStateMachine func(group uint64) (StateMachine, error)

	// NewTransport builds the host's transport, delivering to h (the host
	// itself). Required. The host closes it when it stops.
	NewTransport func(h transport.Handler) (transport.Transport, error)

	// Manual runs the host without goroutines or timers: the caller drives
	// it with Tick, RunRaft, RunStorage and RunApply, from one goroutine,
	// and watches Requests instead of blocking. Deterministic simulations
	// use it; the blocking calls (Propose, Read, ...) are not available.
	Manual bool

	// TickInterval is how often the Raft clock ticks. Zero means 100ms.
	// Ignored with Manual.
	TickInterval time.Duration

	// ElectionTicks and HeartbeatTicks are raft.Config's ElectionTick and
	// HeartbeatTick. Zero means 10 and 1.
	ElectionTicks  int
	HeartbeatTicks int

	// DisablePreVote and DisableCheckQuorum turn off raft.Config's PreVote
	// and CheckQuorum, which are on by default.
	DisablePreVote     bool
	DisableCheckQuorum bool

	// ReadOnlyOption says how Read is served: raft.ReadOnlySafe (the
	// default) confirms every read with a heartbeat round;
	// raft.ReadOnlyLeaseBased serves reads from the leader's lease while it
	// holds one (see raft.Config.ReadOnlyOption and LeaseDriftTicks).
	ReadOnlyOption  raft.ReadOnlyOption
	LeaseDriftTicks int

	// MaxSizePerMsgBytes bounds the entries of one append message; zero
	// means 1 MiB. MaxInflightMsgs bounds the appends in flight to one
	// follower; zero means 256. MaxUncommittedBytes bounds a leader's
	// uncommitted entries per group; zero means 64 MiB.
	MaxSizePerMsgBytes  uint64
	MaxInflightMsgs     int
	MaxUncommittedBytes uint64

	// ApplyWorkers is how many goroutines apply committed commands (each
	// group is applied by one at a time). Zero means 2.
	ApplyWorkers int

	// SnapshotEntries: a replica snapshots its state machine after this
	// many applied entries since its last snapshot. Zero means 10,000.
	// CompactLagEntries entries below a snapshot stay in the log for
	// followers slightly behind; zero means 5,000. KeepSnapshots snapshot
	// files are kept per group; zero means 2.
	SnapshotEntries   uint64
	CompactLagEntries uint64
	KeepSnapshots     int

	// ReproposeTicks: a proposal or read not completed after this many
	// ticks is made again (safe: see Propose). Zero means 2*ElectionTicks.
	ReproposeTicks int

	// QuiesceTicks: a group whose leader had nothing to do for this many
	// ticks, with every follower caught up, stops ticking and heartbeating
	// until something happens to it. Zero means 3*ElectionTicks; negative
	// never quiesces.
	QuiesceTicks int

	// Rand supplies the randomness of election timeouts and session IDs.
	// Nil means a randomly seeded source. Simulations seed it.
	Rand *rand.Rand

	// Logger receives the host's and the replicas' log lines. Nil discards
	// them.
	Logger raft.Logger

	// Observer receives measurements (see Observer). Nil discards them.
	Observer Observer
}

func invalid(format string, args ...interface{}) error {
	return fmt.Errorf("%w: %s", ErrInvalidConfig, fmt.Sprintf(format, args...))
}

// withDefaults validates c and fills in its defaults.
func (c Config) withDefaults() (Config, error) {
	switch {
	case c.NodeID == 0 || raft.IsLocalMsgTarget(c.NodeID):
		return c, invalid("NodeID %d is not a valid node ID", c.NodeID)
	case c.Dir == "":
		return c, invalid("Dir is required")
	case c.NewStateMachine == nil:
		return c, invalid("NewStateMachine is required")
	case c.NewTransport == nil:
		return c, invalid("NewTransport is required")
	}
	if c.FS == nil {
		c.FS = wal.OSFS{}
	}
	if c.TickInterval == 0 {
		c.TickInterval = 100 * time.Millisecond
	}
	if c.ElectionTicks == 0 {
		c.ElectionTicks = 10
	}
	if c.HeartbeatTicks == 0 {
		c.HeartbeatTicks = 1
	}
	if c.MaxSizePerMsgBytes == 0 {
		c.MaxSizePerMsgBytes = 1 << 20
	}
	if c.MaxInflightMsgs == 0 {
		c.MaxInflightMsgs = 256
	}
	if c.MaxUncommittedBytes == 0 {
		c.MaxUncommittedBytes = 64 << 20
	}
	if c.ApplyWorkers == 0 {
		c.ApplyWorkers = 2
	}
	if c.SnapshotEntries == 0 {
		c.SnapshotEntries = 10000
	}
	if c.CompactLagEntries == 0 {
		c.CompactLagEntries = 5000
	}
	if c.KeepSnapshots == 0 {
		c.KeepSnapshots = 2
	}
	if c.ReproposeTicks == 0 {
		c.ReproposeTicks = 2 * c.ElectionTicks
	}
	if c.QuiesceTicks == 0 {
		c.QuiesceTicks = 3 * c.ElectionTicks
	}
	if c.Rand == nil {
		c.Rand = rand.New(rand.NewPCG(rand.Uint64(), rand.Uint64()))
	}
	if c.Logger == nil {
		c.Logger = discardLogger{}
	}
	if c.Observer == nil {
		c.Observer = NopObserver{}
	}
	switch {
	case c.TickInterval < 0 || c.ApplyWorkers < 0 || c.KeepSnapshots < 1 || c.ReproposeTicks < 1:
		return c, invalid("TickInterval, ApplyWorkers, KeepSnapshots and ReproposeTicks must be positive")
	case c.MaxInflightMsgs < 1:
		return c, invalid("MaxInflightMsgs must be positive, got %d", c.MaxInflightMsgs)
	}
	// The rest is raft.Config's to check: build one and let it complain.
	probe := c.raftConfig(1, raft.NewMemoryStorage(), 0)
	if _, err := raft.NewRawNode(probe); err != nil {
		return c, fmt.Errorf("%w: %w", ErrInvalidConfig, err)
	}
	return c, nil
}

// raftConfig is the configuration of a replica of this host.
func (c Config) raftConfig(id uint64, s raft.Storage, applied uint64) *raft.Config {
	return &raft.Config{
		ID:                        id,
		ElectionTick:              c.ElectionTicks,
		HeartbeatTick:             c.HeartbeatTicks,
		Storage:                   s,
		Applied:                   applied,
		AsyncStorageWrites:        true,
		MaxSizePerMsg:             c.MaxSizePerMsgBytes,
		MaxCommittedSizePerReady:  4 * c.MaxSizePerMsgBytes,
		MaxUncommittedEntriesSize: c.MaxUncommittedBytes,
		MaxInflightMsgs:           c.MaxInflightMsgs,
		CheckQuorum:               !c.DisableCheckQuorum,
		PreVote:                   !c.DisablePreVote,
		ReadOnlyOption:            c.ReadOnlyOption,
		LeaseDriftTicks:           c.LeaseDriftTicks,
		// A leader removed from its group steps down at once: kept, it
		// would drop every proposal (it is not in the configuration) while
		// its heartbeats keep the others from electing a leader that can
		// take them.
		StepDownOnRemoval: true,
		Logger:            c.Logger,
		Rand:              randSource{c.Rand},
	}
}

// randSource adapts a math/rand/v2 source to raft.RandomSource.
type randSource struct{ r *rand.Rand }

func (s randSource) Intn(n int) int { return s.r.IntN(n) }

// discardLogger drops everything but panics.
type discardLogger struct{}

func (discardLogger) Debug(...interface{})            {}
func (discardLogger) Debugf(string, ...interface{})   {}
func (discardLogger) Info(...interface{})             {}
func (discardLogger) Infof(string, ...interface{})    {}
func (discardLogger) Warning(...interface{})          {}
func (discardLogger) Warningf(string, ...interface{}) {}
func (discardLogger) Error(...interface{})            {}
func (discardLogger) Errorf(string, ...interface{})   {}
func (discardLogger) Fatal(v ...interface{})          { panic(fmt.Sprint(v...)) }
func (discardLogger) Fatalf(f string, v ...interface{}) {
	panic(fmt.Sprintf(f, v...))
}
func (discardLogger) Panic(v ...interface{})            { panic(fmt.Sprint(v...)) }
func (discardLogger) Panicf(f string, v ...interface{}) { panic(fmt.Sprintf(f, v...)) }
