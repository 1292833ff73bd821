package raftsim

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/pontoon-raft/raft"
)

// TestEntryPointFaults runs clusters in which the application calls every
// public entry point at random (Campaign, TickQuiesced through quiescence
// with early wake-ups, ForgetLeader, ReportUnreachable) and clocks run at
// different rates within the lease's drift bound, with lease-based and safe
// reads and asynchronous storage on some nodes: every invariant holds, and
// every node accepts every message a correct node sent.
func TestEntryPointFaults(t *testing.T) {
	counts := map[FaultKind]int{}
	for seed := int64(1); seed <= 60; seed++ {
		f := AllFaults()
		f.CampaignProb, f.ForgetLeaderProb, f.QuiesceProb, f.ClockDriftProb = 0.01, 0.01, 0.005, 0.01
		opts := Options{Nodes: 3 + 2*int(seed%2), Seed: seed, Steps: 2000, Faults: f,
			PreVote: seed%3 != 0, CheckQuorum: true, Async: AsyncMode(seed % 3)}
		if seed%2 == 0 {
			opts.ReadOnlyOption = raft.ReadOnlyLeaseBased
		}
		res, err := Run(opts)
		require.NoError(t, err, "seed %d", seed)
		for k, n := range res.Faults {
			counts[k] += n
		}
	}
	for _, k := range []FaultKind{FaultCampaign, FaultForgetLeader, FaultReportUnreachable, FaultQuiesce, FaultWake, FaultClockDrift} {
		assert.Positive(t, counts[k], "%s never happened", k)
	}
}

// TestLeaseDriftBeyondBoundIsCaught shows that the drift bound matters and
// that the simulator notices a lease whose premise is broken: the leader's
// clock runs at rate 1 while the others' run faster, the leader is cut off,
// and the others elect a new leader and write while clients keep reading
// from the old one. Within the bound the nodes are configured for
// (LeaseDriftTicks 4 of ElectionTick 20: the others at 1.25) every read is
// linearizable; at four times the leader's rate, with nodes configured for
// equally fast clocks, a stale read is found.
func TestLeaseDriftBeyondBoundIsCaught(t *testing.T) {
	run := func(t *testing.T, seed int64, drift int, rate float64) error {
		s, err := New(Options{Nodes: 3, Seed: seed, ElectionTick: 20, CheckQuorum: true, ReadOnlyOption: raft.ReadOnlyLeaseBased,
			LeaseDriftTicks: drift, ProposeProb: 0.05, Faults: Faults{ReadIndexProb: 0.05}})
		require.NoError(t, err)
		v := s.View()
		// A leader that has committed writes and, by now, a lease.
		stepUntil(t, s, 5000, func() bool { l := leaderOf(v); return l != 0 && v.Applied(l) >= 8 })
		old := leaderOf(v)
		for id := uint64(1); id <= 3; id++ {
			if id != old {
				require.NoError(t, s.SetClockRate(id, rate))
			}
		}
		if err := s.Partition(old); err != nil {
			return err
		}
		for i := 0; i < 1500; i++ {
			if err := s.Step(); err != nil {
				return err
			}
		}
		return nil
	}
	for seed := int64(1); seed <= 10; seed++ {
		require.NoError(t, run(t, seed, 4, 1.25), "seed %d: within the bound", seed)
	}
	var v *Violation
	for seed := int64(1); seed <= 10 && v == nil; seed++ {
		if err := run(t, seed, -1, 4); err != nil {
			require.ErrorAs(t, err, &v)
		}
	}
	require.NotNil(t, v, "clocks four times faster than the leader's produced no stale read")
	assert.Equal(t, InvLinearizableReads, v.Invariant, "%v", v)
	t.Logf("caught at seed %d, event %d: %v", v.Seed, v.Event, firstLineOf(v.Err))
}

// TestScriptedCampaignUnderLease scripts, through the simulator's API, the
// manual Campaign that once produced a stale lease read: node 3 is cut off
// from the leader and times out; node 2, which still acknowledges the
// leader's heartbeats, is told to campaign, and then loses its link to the
// leader too. Node 2 must refuse (it promised the leader's lease not to
// vote), so that clients reading from the old leader never see a value
// older than a write the others completed.
func TestScriptedCampaignUnderLease(t *testing.T) {
	for seed := int64(1); seed <= 20; seed++ {
		s, err := New(Options{Nodes: 3, Seed: seed, PreVote: true, CheckQuorum: true,
			ReadOnlyOption: raft.ReadOnlyLeaseBased, ProposeProb: 0.05, Faults: Faults{ReadIndexProb: 0.05}})
		require.NoError(t, err)
		v := s.View()
		stepUntil(t, s, 5000, func() bool { l := leaderOf(v); return l != 0 && v.Applied(l) >= 8 })
		old := leaderOf(v)
		a, b := old%3+1, (old+1)%3+1 // the other two nodes
		require.NoError(t, s.CutLink(old, b))
		require.NoError(t, s.CutLink(b, old))
		stepUntil(t, s, 20000, func() bool {
			st, _ := v.Status(b)
			return st.RaftState == raft.StatePreCandidate
		})
		require.NoError(t, s.Campaign(a), "seed %d", seed)
		require.NoError(t, s.CutLink(old, a))
		require.NoError(t, s.CutLink(a, old))
		for i := 0; i < 1500; i++ {
			require.NoError(t, s.Step(), "seed %d", seed)
		}
	}
}
