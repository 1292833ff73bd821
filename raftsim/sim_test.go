package raftsim

import (
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"math/rand"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/pontoon-raft/raft"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// sweepOptions is the configuration of seed in TestRandomizedClusters: 3 or
// 5 nodes, PreVote and CheckQuorum on or off, 300 to 2,000 fault-phase
// events, every fault, no, all or every other node with asynchronous
// storage writes, StepDownOnRemoval on or off, and with CheckQuorum
// lease-based reads half of the time. cmd/raftsim replays it with the flags
// replayCommand prints.
func sweepOptions(seed int64) Options {
	r := rand.New(rand.NewSource(seed))
	o := Options{
		Nodes:       3 + 2*r.Intn(2),
		Seed:        seed,
		Steps:       300 + r.Intn(1701),
		PreVote:     r.Intn(2) == 1,
		CheckQuorum: r.Intn(2) == 1,
		Faults:      AllFaults(),
		// Drawn last, so that the draws above stay as they were.
		Async:             AsyncMode(r.Intn(3)),
		StepDownOnRemoval: r.Intn(2) == 1,
	}
	if o.CheckQuorum && r.Intn(2) == 1 {
		o.ReadOnlyOption = raft.ReadOnlyLeaseBased
	}
	return o
}

func onOff(b bool) string {
	if b {
		return "on"
	}
	return "off"
}

// replayCommand returns the cmd/raftsim invocation that replays o (built by
// sweepOptions) with its full trace.
func replayCommand(o Options) string {
	readOnly := "safe"
	if o.ReadOnlyOption == raft.ReadOnlyLeaseBased {
		readOnly = "lease"
	}
	return fmt.Sprintf("cd raftsim && go run ./cmd/raftsim -nodes %d -steps %d -faults all -prevote %s -checkquorum %s -readonly %s -async %s -stepdown %s -seed %d -trace",
		o.Nodes, o.Steps, onOff(o.PreVote), onOff(o.CheckQuorum), readOnly, o.Async, onOff(o.StepDownOnRemoval), o.Seed)
}

// sweepSeeds is the number of seeds TestRandomizedClusters runs:
// RAFTSIM_SEEDS if set, else 100 with -short and 1,000 otherwise.
func sweepSeeds(t *testing.T) int {
	if s := os.Getenv("RAFTSIM_SEEDS"); s != "" {
		n, err := strconv.Atoi(s)
		require.NoError(t, err, "RAFTSIM_SEEDS")
		return n
	}
	if testing.Short() {
		return 100
	}
	return 1000
}

// TestRandomizedClusters is the safety sweep: every seed runs a cluster
// under all faults, then the liveness check, with every invariant checked
// after every event.
func TestRandomizedClusters(t *testing.T) {
	seeds := sweepSeeds(t)
	const shards = 4
	type shardTotals struct {
		runs, events       int
		snapshotsInstalled int
		faults             map[FaultKind]int
	}
	totals := make([]shardTotals, shards)
	t.Run("shards", func(t *testing.T) {
		for k := 0; k < shards; k++ {
			t.Run(strconv.Itoa(k), func(t *testing.T) {
				t.Parallel()
				tot := shardTotals{faults: map[FaultKind]int{}}
				for seed := int64(1 + k); seed <= int64(seeds); seed += shards {
					opts := sweepOptions(seed)
					res, err := Run(opts)
					if err != nil {
						t.Errorf("seed %d: %v\nreplay: %s", seed, err, replayCommand(opts))
					}
					tot.runs++
					tot.events += res.Events
					tot.snapshotsInstalled += res.SnapshotsInstalled
					for kind, n := range res.Faults {
						tot.faults[kind] += n
					}
				}
				totals[k] = tot
			})
		}
	})
	if t.Failed() {
		return
	}
	runs, events, installed, faults := 0, 0, 0, map[FaultKind]int{}
	for _, tot := range totals {
		runs += tot.runs
		events += tot.events
		installed += tot.snapshotsInstalled
		for kind, n := range tot.faults {
			faults[kind] += n
		}
	}
	require.Equal(t, seeds, runs)
	var summary []string
	for _, kind := range AllFaultKinds {
		summary = append(summary, fmt.Sprintf("%s=%d", kind, faults[kind]))
		if kind != FaultOverflow && !slices.Contains(storageFaultKinds, kind) {
			assert.Positive(t, faults[kind], "fault kind %s was never injected in the sweep", kind)
		}
	}
	assert.Positive(t, installed, "no follower ever installed a snapshot from its leader")
	t.Logf("%d seeds, %d events, %d snapshots installed from leaders; faults: %s",
		runs, events, installed, strings.Join(summary, " "))
}

// traceDigest runs opts and returns the sha256 of its full trace, the
// number of trace lines and the result.
func traceDigest(t *testing.T, opts Options) ([32]byte, int, Result) {
	t.Helper()
	h := sha256.New()
	lines := &lineCounter{}
	opts.TraceWriter = io.MultiWriter(h, lines)
	res, err := Run(opts)
	require.NoError(t, err)
	var sum [32]byte
	copy(sum[:], h.Sum(nil))
	return sum, lines.n, res
}

type lineCounter struct{ n int }

func (c *lineCounter) Write(p []byte) (int, error) {
	c.n += strings.Count(string(p), "\n")
	return len(p), nil
}

func TestSameSeedSameTrace(t *testing.T) {
	tests := []struct {
		name string
		opts Options
	}{
		{"3 nodes, all faults", Options{Nodes: 3, Seed: 7, Steps: 2000, Faults: AllFaults()}},
		{"5 nodes, PreVote and CheckQuorum", Options{Nodes: 5, Seed: 12345, Steps: 2000, PreVote: true, CheckQuorum: true, Faults: AllFaults()}},
		{"1 node, no faults", Options{Nodes: 1, Seed: -3, Steps: 500}},
		{"9 nodes", Options{Nodes: 9, Seed: 99, Steps: 1500, CheckQuorum: true, Faults: AllFaults()}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			first, lines, res1 := traceDigest(t, tt.opts)
			second, _, res2 := traceDigest(t, tt.opts)
			assert.Equal(t, first, second, "same seed and options must give a byte-identical trace")
			assert.Equal(t, res1, res2)
			assert.Greater(t, lines, tt.opts.Steps, "the trace has at least a line per event")
		})
	}
}

func TestDifferentSeedsDiffer(t *testing.T) {
	opts := Options{Nodes: 3, Steps: 1000, Faults: AllFaults()}
	digests := map[[32]byte]int64{}
	for seed := int64(1); seed <= 5; seed++ {
		opts.Seed = seed
		d, _, _ := traceDigest(t, opts)
		if other, dup := digests[d]; dup {
			t.Fatalf("seeds %d and %d produced the same trace", other, seed)
		}
		digests[d] = seed
	}
}

// TestEachFaultKindIsInjected enables one fault at a time and checks that it,
// and only it (with what it implies), is counted.
func TestEachFaultKindIsInjected(t *testing.T) {
	tests := []struct {
		spec FaultKind
		// also lists kinds the fault enables or causes besides itself.
		also []FaultKind
	}{
		{FaultDrop, nil},
		{FaultDup, nil},
		{FaultDelay, nil},
		{FaultReorder, []FaultKind{}},
		{FaultPartition, []FaultKind{FaultHeal, FaultUndeliverable}},
		{FaultOneWay, []FaultKind{FaultHeal, FaultUndeliverable}},
		{FaultIsolateLeader, []FaultKind{FaultHeal, FaultUndeliverable}},
		{FaultCrash, []FaultKind{FaultRestart, FaultUndeliverable}},
		{FaultCrashMidReady, []FaultKind{FaultRestart, FaultUndeliverable}},
		{FaultSlow, []FaultKind{FaultHeal}},
		{FaultSnapshot, []FaultKind{FaultCompact}},
		{FaultReadIndex, nil},
		{FaultCampaign, nil},
		{FaultForgetLeader, nil},
		{FaultReportUnreachable, nil},
		{FaultQuiesce, []FaultKind{FaultWake}},
		{FaultClockDrift, nil},
	}
	for _, tt := range tests {
		t.Run(string(tt.spec), func(t *testing.T) {
			t.Parallel()
			faults, err := ParseFaults(string(tt.spec))
			require.NoError(t, err)
			if tt.spec == FaultReorder {
				// Reordering needs several due messages at once.
				faults.DelayProb = AllFaults().DelayProb
				tt.also = append(tt.also, FaultDelay)
			}
			counts := map[FaultKind]int{}
			for seed := int64(1); seed <= 10; seed++ {
				res, err := Run(Options{Nodes: 3 + int(seed%2)*2, Seed: seed, Steps: 1000, Faults: faults})
				require.NoError(t, err, "seed %d", seed)
				for k, n := range res.Faults {
					counts[k] += n
				}
			}
			assert.Positive(t, counts[tt.spec], "%s never injected", tt.spec)
			for _, k := range AllFaultKinds {
				if k != tt.spec && !contains(tt.also, k) {
					assert.Zero(t, counts[k], "%s counted although only %s is enabled", k, tt.spec)
				}
			}
		})
	}
}

func contains(kinds []FaultKind, k FaultKind) bool {
	for _, x := range kinds {
		if x == k {
			return true
		}
	}
	return false
}

func TestOptionsValidation(t *testing.T) {
	tests := []struct {
		name string
		opts Options
		want error
	}{
		{"too many nodes", Options{Nodes: MaxNodes + 1}, ErrInvalidOptions},
		{"negative nodes", Options{Nodes: -1}, ErrInvalidOptions},
		{"negative steps", Options{Steps: -1}, ErrInvalidOptions},
		{"probability above one", Options{Faults: Faults{DropProb: 1.5}}, ErrInvalidOptions},
		{"per-event sum above one", Options{Faults: Faults{CrashProb: 0.6, RestartProb: 0.6}}, ErrInvalidOptions},
		{"unknown skipped invariant", Options{SkipInvariants: []string{"no-such"}}, ErrInvalidOptions},
		{"negative async delay", Options{MaxAsyncDelayTicks: -1}, ErrInvalidOptions},
		{"async node outside the pool", Options{AsyncNodes: []uint64{MaxNodes + 1}}, ErrInvalidOptions},
		{"unknown async mode", Options{Async: AsyncMode(7)}, ErrInvalidOptions},
		{"lease reads without CheckQuorum", Options{ReadOnlyOption: raft.ReadOnlyLeaseBased}, ErrInvalidOptions},
		{"heartbeat not below election", Options{ElectionTick: 2, HeartbeatTick: 2}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := New(tt.opts)
			require.Error(t, err)
			if tt.want != nil {
				assert.ErrorIs(t, err, tt.want)
			}
		})
	}
}

func TestZeroOptionsRun(t *testing.T) {
	res, err := Run(Options{})
	require.NoError(t, err)
	assert.Equal(t, int64(0), res.Seed)
	assert.Greater(t, res.Events, DefaultSteps)
	assert.Positive(t, res.Commits)
	assert.Empty(t, res.Faults, "no faults unless asked for")
}

func TestParseFaults(t *testing.T) {
	all := AllFaults()
	f, err := ParseFaults("all")
	require.NoError(t, err)
	assert.Equal(t, all, f)

	f, err = ParseFaults("none")
	require.NoError(t, err)
	assert.Zero(t, f.DropProb+f.CrashProb+f.PartitionProb+f.SnapshotProb)

	f, err = ParseFaults("drop, crash")
	require.NoError(t, err)
	assert.Equal(t, all.DropProb, f.DropProb)
	assert.Equal(t, all.CrashProb, f.CrashProb)
	assert.Equal(t, all.RestartProb, f.RestartProb, "crashes imply restarts")
	assert.Zero(t, f.PartitionProb)

	_, err = ParseFaults("drop,meteor")
	assert.ErrorIs(t, err, ErrInvalidOptions)
}

// TestCrashRestartRebuildsStateMachine crashes a node that has snapshotted
// and compacted, lets the others move on, restarts it, and checks that its
// state machine is rebuilt from the snapshot plus the replayed entries.
func TestCrashRestartRebuildsStateMachine(t *testing.T) {
	s, err := New(Options{Nodes: 3, Seed: 5, ProposeProb: 0.2})
	require.NoError(t, err)
	for s.history.maxIndex() < 30 {
		require.NoError(t, s.Step())
	}
	n := s.node(2)
	require.NotNil(t, n.node)
	require.NoError(t, s.do(func() { require.True(t, s.snapshotNode(n)) }))
	snap, err := n.storage.Snapshot()
	require.NoError(t, err)
	require.Positive(t, snap.Metadata.Index)

	require.NoError(t, s.Crash(2))
	assert.Nil(t, n.node)
	for i := 0; i < 500; i++ {
		require.NoError(t, s.Step())
	}
	require.NoError(t, s.Restart(2))
	assert.Equal(t, snap.Metadata.Index, n.applied, "restored from the snapshot")
	assert.Equal(t, 2, n.incarnation)

	require.NoError(t, s.CheckLiveness())
	require.NoError(t, s.Finish())
	// Every node applied the probe; bring them level and compare states.
	for i := 0; i < 200; i++ {
		require.NoError(t, s.do(func() { s.work() }))
	}
	ref := s.node(1)
	for _, id := range s.ids {
		m := s.node(id)
		if m.applied == ref.applied {
			assert.Equal(t, ref.sm, m.sm, "node %d state machine at index %d", id, m.applied)
			assert.Equal(t, ref.chain, m.chain)
		}
	}
}

func TestViolationCarriesReplayInformation(t *testing.T) {
	opts := Options{
		Nodes: 3, Seed: 11, Steps: 2000, TraceLines: 20, SkipLiveness: true,
		Invariants: []Invariant{NewInvariant("no-third-commit", func(v *View) error {
			if v.MaxCommitted() > 5 {
				return errors.New("more than five entries applied")
			}
			return nil
		})},
	}
	_, err := Run(opts)
	var v *Violation
	require.ErrorAs(t, err, &v)
	assert.Equal(t, "no-third-commit", v.Invariant)
	assert.Equal(t, int64(11), v.Seed)
	assert.Equal(t, 3, v.Nodes)
	assert.Positive(t, v.Event)
	require.Len(t, v.Trace, 20)
	assert.Contains(t, v.Trace[len(v.Trace)-1], "VIOLATION no-third-commit")
	assert.Contains(t, v.Trace[len(v.Trace)-1], fmt.Sprintf("event %d ", v.Event))
	assert.Contains(t, v.Error(), "seed 11")

	// A replay stops at the same event with the same trace.
	_, again := Run(opts)
	var w *Violation
	require.ErrorAs(t, again, &w)
	assert.Equal(t, v.Event, w.Event)
	assert.Equal(t, v.Trace, w.Trace)
}

func TestStepAfterViolationKeepsFailing(t *testing.T) {
	s, err := New(Options{Nodes: 3, Invariants: []Invariant{NewInvariant("always", func(*View) error {
		return errors.New("broken")
	})}})
	var v *Violation
	require.ErrorAs(t, err, &v)
	require.NotNil(t, s)
	assert.Same(t, v, s.Step())
	assert.Same(t, v, s.Finish())
}

// leaderOf returns the live node that leads the highest term, or 0.
func leaderOf(v *View) uint64 {
	var lead, term uint64
	for _, id := range v.NodeIDs() {
		if st, up := v.Status(id); up && st.RaftState == raft.StateLeader && st.Term > term {
			lead, term = id, st.Term
		}
	}
	return lead
}

// stepUntil steps s until cond holds, failing after limit events.
func stepUntil(t *testing.T, s *Sim, limit int, cond func() bool) {
	t.Helper()
	for i := 0; !cond(); i++ {
		require.Less(t, i, limit, "condition not reached in %d events", limit)
		require.NoError(t, s.Step())
	}
}

// TestScriptedLeaderPartition scripts a classic scenario with the public
// API: the leader of a 5-node cluster is cut off, the majority elects a new
// leader and commits without it, and after the heal the old leader follows.
func TestScriptedLeaderPartition(t *testing.T) {
	s, err := New(Options{Nodes: 5, Seed: 3, PreVote: true, CheckQuorum: true, ProposeProb: -1})
	require.NoError(t, err)
	v := s.View()
	stepUntil(t, s, 5000, func() bool { return leaderOf(v) != 0 })
	old := leaderOf(v)
	oldStatus, _ := v.Status(old)

	require.NoError(t, s.Partition(old))
	stepUntil(t, s, 20000, func() bool { l := leaderOf(v); return l != 0 && l != old })
	newLeader := leaderOf(v)
	ok, err := s.Propose(newLeader, []byte("while partitioned"))
	require.NoError(t, err)
	require.True(t, ok)
	stepUntil(t, s, 20000, func() bool { return v.Applied(newLeader) > oldStatus.Commit+1 })
	assert.Less(t, v.Applied(old), v.Applied(newLeader), "the cut-off leader cannot commit")

	require.NoError(t, s.Heal())
	stepUntil(t, s, 20000, func() bool { return v.Applied(old) >= v.Applied(newLeader) })
	st, _ := v.Status(old)
	assert.Equal(t, raft.StateFollower, st.RaftState)
	assert.Equal(t, v.AppliedHash(newLeader), v.AppliedHash(old))
	require.NoError(t, s.CheckLiveness())
	require.NoError(t, s.Finish())
}
