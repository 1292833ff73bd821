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
