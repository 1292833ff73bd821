package raftsim

import (
	"testing"

	"github.com/stretchr/testify/require"
)

// A crash point drawn for a Ready whose apply step was deferred
// (SplitReadyProb) must not fire once the faults have ended: a node
// crashing in the liveness phase is never restarted, and the run would be
// reported as a liveness violation of the library.
func TestDeferredReadyDoesNotCrashAfterFaultsEnd(t *testing.T) {
	opts := Options{Nodes: 3, Seed: 7, Steps: 1000, SplitReadyProb: 1}
	s, err := New(opts)
	require.NoError(t, err)
	var deferred *simNode
	for i := 0; i < 1000 && deferred == nil; i++ {
		require.NoError(t, s.Step())
		for _, n := range s.nodes {
			if n.node != nil && n.pending != nil {
				deferred = n
			}
		}
	}
	require.NotNil(t, deferred, "no node deferred a Ready")
	deferred.pending.crash = crashAfterApply
	require.NoError(t, s.CheckLiveness())
}

// Seeds 19450 and 35180 of a 100,000-seed sweep: with PreVote off, two
// nodes whose clocks ran 1.5 times as fast as the others' and whose logs
// were behind kept campaigning after the faults ended; every campaign
// reset the up-to-date nodes' election timers, and no node could win. The
// liveness check now runs on equal clocks when PreVote is off.
func TestLivenessWithoutPreVoteRunsOnEqualClocks(t *testing.T) {
	for _, tc := range []struct {
		seed        int64
		checkQuorum bool
		async       AsyncMode
	}{{19450, true, AsyncNone}, {35180, false, AsyncMixed}} {
		o := Options{Nodes: 5, Seed: tc.seed, Steps: 2000, ElectionTick: 10, HeartbeatTick: 1,
			CheckQuorum: tc.checkQuorum, Faults: AllFaults(), StepDownOnRemoval: true, Async: tc.async}
		_, err := Run(o)
		require.NoError(t, err, "seed %d", tc.seed)
	}
}
