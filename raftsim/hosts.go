package raftsim

import (
	"errors"
	"fmt"
	"io"
	"math/rand"
	randv2 "math/rand/v2"
	"strings"
	"time"

	"github.com/pontoon-raft/raft"
	"github.com/pontoon-raft/raft/host"
	"github.com/pontoon-raft/raft/transport"
	"github.com/pontoon-raft/raft/wal/faultfs"
)

// Whole hosts. RunHosts simulates a cluster of hosts (package host), each
// running replicas of several Raft groups, on one goroutine from a seed: the
// hosts run in Manual mode over a transport.MemNetwork and a faultfs per
// host, and every step of every host (its Raft loop, storage and apply
// stages), every network event, tick and fault is an event the seed
// chooses. Crashes lose what a host had not synced (a power loss) and may
// strike in the middle of a write; fsyncs may fail; partitions cut hosts
// off; replicas move between hosts and leadership is transferred while
// clients write and read. After every event: election safety per group,
// every replica applying the same command at each index, and the
// linearizability of each group's reads (porcupine); at the end, once faults
// stop, every group must elect a leader and commit again, and every write
// acknowledged to a client must be held by every replica.

// HostOptions describe a whole-host simulation. The zero value is usable:
// 3 hosts, 4 groups of 3 replicas, DefaultSteps events, no faults.
type HostOptions struct {
	// Hosts is the number of hosts, 1..MaxNodes. Zero means 3.
	Hosts int
	// Groups is the number of Raft groups, each replicated on Replicas of
	// the hosts (placed round robin). Zero means 4 groups of 3 replicas
	// (fewer if there are fewer hosts).
	Groups, Replicas int
	// Seed drives every choice of the run.
	Seed int64
	// Steps is the number of events of the fault phase. Zero means
	// DefaultSteps.
	Steps int
	// Faults are the faults injected during the fault phase.
	Faults HostFaults
	// Tune adjusts every host's configuration (after the simulator set
	// its own fields: NodeID, Dir, FS, Manual, Rand, NewStateMachine,
	// NewTransport, small snapshot intervals).
	Tune func(*host.Config)
	// NewStateMachine builds the application state machine under test. Nil
	// means the simulator's key-value store, the only one whose reads are
	// checked for linearizability; with your own, clients still write
	// ("k<key>=<value>" commands) and the other invariants hold.
	NewStateMachine func(group uint64) host.StateMachine
	// Lease makes the hosts serve reads from their leaders' leases
	// (raft.ReadOnlyLeaseBased, LeaseDriftTicks hostLeaseDriftTicks of
	// ElectionTicks 10) instead of confirming each with a heartbeat round.
	Lease bool
	// SkipLiveness turns off the check after the fault phase.
	SkipLiveness bool
	// TraceWriter receives every trace line.
	TraceWriter io.Writer
}

// HostFaults are per-event probabilities of the faults of RunHosts (their
// sum must not exceed 1), and the network's own faults.
type HostFaults struct {
	// Network are the MemNetwork's faults: latency, loss, duplication,
	// delay, reordering, broken snapshot streams.
	Network transport.Faults
	// CrashProb crashes a random running host (power loss);
	// CrashMidIOProb arms its file system to crash inside one of its next
	// few writes; RestartProb restarts a crashed host.
	CrashProb, CrashMidIOProb, RestartProb float64
	// SyncErrorRate is the rate at which fsyncs fail (the host stops, and
	// is restarted like a crashed one).
	SyncErrorRate float64
	// PartitionProb cuts a random set of hosts off from the others;
	// HealProb heals the network.
	PartitionProb, HealProb float64
	// MoveReplicaProb moves a replica of a random group to a host without
	// one: added as a learner, promoted, then another replica removed.
	MoveReplicaProb float64
	// TransferProb transfers a random group's leadership.
	TransferProb float64
	// StopProb stops a random running host cleanly (Host.Stop); it is
	// restarted like a crashed one.
	StopProb float64
	// ClockDrift makes the hosts' clocks run at different rates: each host
	// skips one tick in every k, k drawn per host and per start, at least
	// hostMinSkipEvery so that no host loses more than
	// hostLeaseDriftTicks ticks in an election timeout (the bound the
	// lease is configured with).
	ClockDrift bool
}

// AllHostFaults returns HostFaults with every fault on, at rates that keep
// a small cluster making progress.
func AllHostFaults() HostFaults {
	return HostFaults{
		Network: transport.Faults{
			MinLatency: time.Millisecond, MaxLatency: 20 * time.Millisecond,
			DropRate: 0.02, DuplicateRate: 0.01, DelayRate: 0.05, MaxDelay: 50 * time.Millisecond,
			ReorderRate: 0.05, SnapshotFailRate: 0.05,
		},
		CrashProb: 0.002, CrashMidIOProb: 0.002, RestartProb: 0.02, SyncErrorRate: 0.0005,
		PartitionProb: 0.002, HealProb: 0.01, MoveReplicaProb: 0.003, TransferProb: 0.003,
		StopProb: 0.001, ClockDrift: true,
	}
}

// HostResult counts what a run did.
type HostResult struct {
	Seed                   int64
	Events, Ticks          int
	Writes, WritesAcked    int
	Reads, ReadsServed     int
	Crashes, MidIOCrashes  int
	Stops                  int
	HostFailures, Restarts int
	// FailedStarts counts restarts that failed under a disk fault.
	FailedStarts             int
	Partitions               int
	ReplicasMoved, Transfers int
	LinearizabilityUnknown   int
	// Quiescences counts replicas that quiesced.
	Quiescences int
	// Network is what the simulated network did, faults by kind.
	Network transport.MemStats
}

// hostTick is the simulated time of one tick.
const hostTick = 10 * time.Millisecond

// The hosts' clocks: an election timeout of hostElectionTicks, a lease
// that allows hostLeaseDriftTicks of drift per election timeout, and the
// slowest clock ClockDrift may give a host (one tick skipped in every
// hostMinSkipEvery loses at most 2 ticks in 10).
const (
	hostElectionTicks   = 10
	hostLeaseDriftTicks = 2
	hostMinSkipEvery    = hostElectionTicks/hostLeaseDriftTicks + 1
)

// RunHosts runs one whole-host simulation. A broken invariant is returned as
// a *Violation (with the trace tail); other errors mean the options were
// unusable.
func RunHosts(o HostOptions) (HostResult, error) {
	s, err := newHostSim(o)
	if err != nil {
		return HostResult{}, err
	}
	return s.run()
}

// hostNode is one simulated host.
type hostNode struct {
	id  uint64
	fs  *faultfs.FS
	h   *host.Host // nil while down
	sms map[uint64]*hostKV
	// incarnation counts starts, so requests of an old incarnation are not
	// waited for.
	incarnation int
	// skipEvery: the host's clock skips one tick in every skipEvery (0:
	// never); clock counts the ticks it saw.
	skipEvery, clock int
}

type hostSim struct {
	o     HostOptions
	rng   *rand.Rand
	net   *transport.MemNetwork
	nodes []*hostNode
	// placement holds, per group, the hosts meant to have a replica.
	placement map[uint64][]uint64
	res       HostResult
	event     int
	ticks     int
	faultsOn  bool
	trace     *tracer
	checker   *hostChecker
	moves     map[uint64]*replicaMove
	// outOfConfig holds, per (host, group), the tick since which the
	// host's replica is missing from the group's configuration.
	outOfConfig map[[2]uint64]int
	// clientSeq makes every written value unique.
	clientSeq int
}

func newHostSim(o HostOptions) (*hostSim, error) {
	if o.Hosts == 0 {
		o.Hosts = 3
	}
	if o.Hosts < 1 || o.Hosts > MaxNodes {
		return nil, invalid("Hosts must be in 1..%d, got %d", MaxNodes, o.Hosts)
	}
	if o.Groups == 0 {
		o.Groups = 4
	}
	if o.Replicas == 0 {
		o.Replicas = min(3, o.Hosts)
	}
	if o.Groups < 1 || o.Replicas < 1 || o.Replicas > o.Hosts {
		return nil, invalid("need at least one group, and 1..Hosts replicas per group (got %d groups of %d on %d hosts)",
			o.Groups, o.Replicas, o.Hosts)
	}
	if o.Steps == 0 {
		o.Steps = DefaultSteps
	}
	f := o.Faults
	if sum := f.CrashProb + f.CrashMidIOProb + f.RestartProb + f.PartitionProb + f.HealProb + f.MoveReplicaProb + f.TransferProb + f.StopProb; sum > 0.5 {
		return nil, invalid("per-event fault probabilities sum to %v, more than 0.5", sum)
	}
	net, err := transport.NewMemNetwork(transport.MemConfig{Seed: uint64(o.Seed)*2 + 1, Faults: f.Network})
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalidOptions, err)
	}
	s := &hostSim{
		o: o, rng: rand.New(rand.NewSource(o.Seed)), net: net, placement: map[uint64][]uint64{},
		faultsOn: true, trace: newTracer(50, o.TraceWriter), moves: map[uint64]*replicaMove{},
		outOfConfig: map[[2]uint64]int{},
	}
	s.res.Seed = o.Seed
	s.checker = newHostChecker(s)
	for id := 1; id <= o.Hosts; id++ {
		n := &hostNode{id: uint64(id), fs: faultfs.New(faultfs.Config{Seed: uint64(o.Seed)*31 + uint64(id)}), sms: map[uint64]*hostKV{}}
		s.nodes = append(s.nodes, n)
	}
	for g := 1; g <= o.Groups; g++ {
		var peers []uint64
		for r := 0; r < o.Replicas; r++ {
			peers = append(peers, uint64((g+r-1)%o.Hosts+1))
		}
		s.placement[uint64(g)] = peers
	}
	for _, n := range s.nodes {
		if err := s.start(n); err != nil {
			return nil, err
		}
	}
	for g := uint64(1); g <= uint64(o.Groups); g++ {
		for _, id := range s.placement[g] {
			if err := s.node(id).h.StartGroup(g, s.placement[g]); err != nil {
				return nil, err
			}
		}
	}
	return s, nil
}

func (s *hostSim) node(id uint64) *hostNode { return s.nodes[id-1] }

func (s *hostSim) tracef(format string, args ...interface{}) {
	s.trace.add(s.event, int64(s.ticks), fmt.Sprintf(format, args...))
}

// start starts a new incarnation of n over its file system.
func (s *hostSim) start(n *hostNode) error {
	n.incarnation++
	n.sms = map[uint64]*hostKV{}
	cfg := host.Config{
		NodeID: n.id, Dir: "/data", FS: n.fs, Manual: true, LogSegmentBytes: 64 << 10,
		Rand:            randv2.New(randv2.NewPCG(uint64(s.rng.Int63()), uint64(n.incarnation))),
		SnapshotEntries: 20, CompactLagEntries: 5, QuiesceTicks: 30,
		ElectionTicks: hostElectionTicks,
		NewStateMachine: func(group uint64) (host.StateMachine, error) {
			var inner host.StateMachine
			if s.o.NewStateMachine != nil {
				inner = s.o.NewStateMachine(group)
			}
			kv := newHostKV(s.checker, n.id, group, inner)
			n.sms[group] = kv
			return kv, nil
		},
		NewTransport: func(h transport.Handler) (transport.Transport, error) { return s.net.Join(n.id, h, nil) },
	}
	cfg.Observer = &quiesceCounter{res: &s.res}
	if s.o.Lease {
		cfg.ReadOnlyOption, cfg.LeaseDriftTicks = raft.ReadOnlyLeaseBased, hostLeaseDriftTicks
	}
	n.skipEvery = 0
	if s.o.Faults.ClockDrift && s.rng.Intn(2) == 0 {
		n.skipEvery = hostMinSkipEvery + s.rng.Intn(2*hostElectionTicks)
	}
	if s.o.Tune != nil {
		s.o.Tune(&cfg)
	}
	h, err := host.New(cfg)
	if err != nil {
		return fmt.Errorf("raftsim: starting host %d: %w", n.id, err)
	}
	n.h = h
	return nil
}

// crash loses host n and what its file system had not synced.
func (s *hostSim) crash(n *hostNode, why string) {
	n.h.Crash()
	n.h = nil
	n.fs.Crash()
	s.tracef("host %d crashed (%s)", n.id, why)
}

func (s *hostSim) run() (res HostResult, err error) {
	defer func() {
		if p := recover(); p != nil {
			if v, ok := p.(*Violation); ok {
				res, err = s.res, v
				return
			}
			panic(p)
		}
	}()
	for i := 0; i < s.o.Steps; i++ {
		s.step()
	}
	if !s.o.SkipLiveness {
		s.liveness()
	}
	s.checker.finish()
	s.res.Network = s.net.Stats()
	return s.res, nil
}

// quiesceCounter counts the replicas of a host that quiesce.
type quiesceCounter struct {
	host.NopObserver
	res  *HostResult
	last int
}

func (q *quiesceCounter) Quiesced(count int) {
	if count > q.last {
		q.res.Quiescences += count - q.last
	}
	q.last = count
}

// step runs one event of the fault phase.
func (s *hostSim) step() {
	s.event++
	s.res.Events++
	x := s.rng.Float64()
	f := s.o.Faults
	for _, a := range []struct {
		p  float64
		do func() bool
	}{
		{f.CrashProb, s.crashRandom}, {f.CrashMidIOProb, s.armCrashRandom}, {f.RestartProb, s.restartRandom},
		{f.PartitionProb, s.partitionRandom}, {f.HealProb, s.heal},
		{f.MoveReplicaProb, s.moveRandom}, {f.TransferProb, s.transferRandom}, {f.StopProb, s.stopRandom},
		{0.03, s.writeRandom}, {0.02, s.readRandom},
	} {
		if x < a.p {
			if a.do() {
				s.afterEvent()
				return
			}
			break
		}
		x -= a.p
	}
	s.work()
	s.afterEvent()
}

// work runs a tick, a network event or one stage of a random host.
func (s *hostSim) work() {
	live := s.liveNodes()
	k := s.rng.Intn(3*len(live) + 2)
	switch {
	case k == 0 || len(live) == 0:
		s.tick()
	case k == 1:
		if !s.net.Step() {
			s.tick()
		}
	default:
		n := live[(k-2)/3]
		switch (k - 2) % 3 {
		case 0:
			n.h.RunRaft()
		case 1:
			n.h.RunStorage()
		case 2:
			n.h.RunApply()
		}
	}
}

// tick moves time on by one tick on every running host.
func (s *hostSim) tick() {
	s.ticks++
	s.res.Ticks++
	s.net.Advance(hostTick)
	for _, n := range s.liveNodes() {
		n.clock++
		if s.faultsOn && n.skipEvery > 0 && n.clock%n.skipEvery == 0 {
			continue
		}
		n.h.Tick()
	}
}

func (s *hostSim) liveNodes() []*hostNode {
	var out []*hostNode
	for _, n := range s.nodes {
		if n.h != nil {
			out = append(out, n)
		}
	}
	return out
}

// afterEvent notices hosts that failed, follows the clients' requests and
// moves, and checks the invariants.
func (s *hostSim) afterEvent() {
	for _, n := range s.nodes {
		if n.h != nil && n.h.Err() != nil {
			s.res.HostFailures++
			s.crash(n, n.h.Err().Error())
		}
	}
	s.checker.observe()
	s.followMoves()
}

// violation stops the run.
func (s *hostSim) violation(inv string, err error) {
	msg := err.Error()
	if i := strings.IndexByte(msg, '\n'); i >= 0 {
		msg = msg[:i]
	}
	s.tracef("VIOLATION %s: %s", inv, msg)
	panic(&Violation{Invariant: inv, Seed: s.o.Seed, Nodes: s.o.Hosts, Event: s.event, Tick: int64(s.ticks),
		Err: err, Trace: s.trace.last()})
}

// errHostsNotLive is the liveness failure of RunHosts.
var errHostsNotLive = errors.New("the cluster did not recover")

// liveness ends the faults, heals and restarts everything, and requires
// every group to commit a write on every replica within 300 ticks.
func (s *hostSim) liveness() {
	s.faultsOn = false
	s.net.Heal()
	if err := s.net.SetFaults(transport.Faults{}); err != nil {
		s.violation(InvLiveness, err)
	}
	for _, n := range s.nodes {
		n.fs.SetFaults(faultfs.Faults{})
		n.fs.CrashAfter(0)
	}
	probes := map[uint64]*clientWrite{}
	for deadline := s.ticks + 300; s.ticks < deadline; {
		// A host whose file system crashed before the faults ended fails
		// at its next write: restart it.
		for _, n := range s.nodes {
			if n.h != nil {
				continue
			}
			if n.fs.Down() {
				n.fs.Crash()
			}
			if err := s.start(n); err != nil {
				s.violation(InvLiveness, err)
			}
			s.tracef("host %d restarted (groups %v)", n.id, n.h.Groups())
		}
		s.event++
		s.work()
		s.afterEvent()
		for g := uint64(1); g <= uint64(s.o.Groups); g++ {
			if w := probes[g]; w == nil || (w.done && w.err != nil) || (!w.done && s.ticks-w.tick > 50) {
				if w := s.write(g, true); w != nil {
					probes[g] = w
				}
			}
		}
		if s.checker.allApplied(probes) {
			return
		}
	}
	var missing []string
	for g := uint64(1); g <= uint64(s.o.Groups); g++ {
		probe := "no probe write"
		if w := probes[g]; w != nil {
			op := s.checker.ops[w.op]
			probe = fmt.Sprintf("probe %s=%s on host %d: done %t, err %v", op.key, op.value, op.host, w.done, w.err)
		}
		missing = append(missing, fmt.Sprintf("group %d (%s): %s", g, probe, s.checker.groupState(g)))
	}
	s.violation(InvLiveness, fmt.Errorf("%w within 300 ticks after the faults ended: %s", errHostsNotLive, strings.Join(missing, "; ")))
}

// leaderOf returns the running host whose replica leads group, or nil.
func (s *hostSim) leaderOf(group uint64) *hostNode {
	for _, n := range s.liveNodes() {
		if st, err := n.h.Status(group); err == nil && st.Role == raft.StateLeader {
			return n
		}
	}
	return nil
}
