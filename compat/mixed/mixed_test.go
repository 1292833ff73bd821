package mixed

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/pontoon-raft/raft/raftsim"
)

// envInt reads an integer from the environment, or returns def.
func envInt(t *testing.T, name string, def int) int {
	s := os.Getenv(name)
	if s == "" {
		return def
	}
	n, err := strconv.Atoi(s)
	require.NoError(t, err, name)
	return n
}

// sweepOptions are the options of seed in the mixed sweep: all faults, and
// PreVote and CheckQuorum toggled by the seed's low bits. With membership
// false, membership changes are off; with it true, every fault is on. The
// liveness phase runs in both.
func sweepOptions(nodes, steps int, seed int64, membership bool) raftsim.Options {
	o := raftsim.Options{
		Nodes:       nodes,
		Seed:        seed,
		Steps:       steps,
		PreVote:     seed&1 == 1,
		CheckQuorum: seed&2 == 2,
		Faults:      raftsim.AllFaults(),
	}
	if !membership {
		o.Faults.ConfChangeProb = 0
	}
	return o
}

// TestMixedSweep runs 3- and 5-node clusters with every number of etcd
// nodes under all faults, checked by raftsim's invariants and its liveness
// phase. MIXED_SEEDS (seeds per cluster size and proportion, default 100)
// and MIXED_STEPS (fault-phase events, default 2000) scale it; a failure
// prints the MIXED_REPLAY value that reruns just that case with a trace.
func TestMixedSweep(t *testing.T) {
	seeds := envInt(t, "MIXED_SEEDS", 100)
	steps := envInt(t, "MIXED_STEPS", 2000)
	if testing.Short() {
		seeds = 10
	}
	start := time.Now()
	total, violations := 0, 0
	var events, commits, snaps, leaders int
	faults := map[raftsim.FaultKind]int{}
	for _, membership := range []bool{false, true} {
		for _, nodes := range []int{3, 5} {
			for k := 0; k <= nodes; k++ {
				for seed := int64(0); seed < int64(seeds); seed++ {
					etcd := PickEtcdNodes(nodes, k, seed)
					res, err := Run(sweepOptions(nodes, steps, seed, membership), etcd)
					total++
					events += res.Events
					commits += res.Commits
					snaps += res.SnapshotsInstalled
					leaders += res.LeaderChanges
					for f, c := range res.Faults {
						faults[f] += c
					}
					if err != nil {
						violations++
						var v *raftsim.Violation
						require.True(t, errors.As(err, &v), "seed %d: %v", seed, err)
						t.Errorf("nodes %d etcd %v seed %d membership %t: %v\nreplay: MIXED_REPLAY=%d,%d,%d,%d,%t go test -run TestMixedReplay ./mixed",
							nodes, etcd, seed, membership, err, nodes, k, seed, steps, membership)
						if violations >= 3 {
							t.FailNow()
						}
					}
				}
			}
		}
	}
	var fs []string
	for _, k := range raftsim.AllFaultKinds {
		fs = append(fs, fmt.Sprintf("%s=%d", k, faults[k]))
	}
	t.Logf("%d runs (%d seeds x proportions of 3 and 5 nodes x membership off/on), %d violations, %d events, %d commits, %d snapshots installed, %d leader changes, %s",
		total, seeds, violations, events, commits, snaps, leaders, time.Since(start).Round(time.Millisecond))
	t.Logf("faults: %s", strings.Join(fs, " "))
}

// TestMixedReplay reruns one sweep case with a full trace on stdout:
// MIXED_REPLAY=nodes,etcdCount,seed,steps,membership.
func TestMixedReplay(t *testing.T) {
	spec := os.Getenv("MIXED_REPLAY")
	if spec == "" {
		t.Skip("set MIXED_REPLAY=nodes,etcdCount,seed,steps,membership")
	}
	var nodes, k, steps int
	var seed int64
	var membership bool
	_, err := fmt.Sscanf(spec, "%d,%d,%d,%d,%t", &nodes, &k, &seed, &steps, &membership)
	require.NoError(t, err)
	opts := sweepOptions(nodes, steps, seed, membership)
	opts.TraceWriter = os.Stdout
	etcd := PickEtcdNodes(nodes, k, seed)
	t.Logf("etcd nodes %v", etcd)
	_, err = Run(opts, etcd)
	require.NoError(t, err)
}

// TestRunIsReproducible checks that a run with etcd nodes gives the same
// result twice, which needs etcd's election randomness to be seeded.
func TestRunIsReproducible(t *testing.T) {
	opts := sweepOptions(5, 1500, 7, true)
	etcd := PickEtcdNodes(5, 3, 7)
	var traces [2]strings.Builder
	var results [2]raftsim.Result
	for i := range traces {
		o := opts
		o.TraceWriter = &traces[i]
		res, err := Run(o, etcd)
		require.NoError(t, err)
		results[i] = res
	}
	assert.Equal(t, results[0], results[1])
	assert.Equal(t, traces[0].String(), traces[1].String())
	assert.Greater(t, results[0].LeaderChanges, 0)
}

func TestPickEtcdNodes(t *testing.T) {
	tests := []struct {
		n, k int
	}{{3, 0}, {3, 1}, {3, 3}, {5, 2}, {5, 5}}
	for _, tc := range tests {
		seen := map[uint64]bool{}
		for seed := int64(0); seed < 50; seed++ {
			ids := PickEtcdNodes(tc.n, tc.k, seed)
			require.Len(t, ids, tc.k)
			require.IsIncreasing(t, append([]uint64{0}, ids...))
			for _, id := range ids {
				require.True(t, id >= 1 && id <= uint64(tc.n))
				seen[id] = true
			}
		}
		if tc.k > 0 {
			assert.Len(t, seen, tc.n, "over 50 seeds every position runs etcd")
		}
	}
	assert.Panics(t, func() { PickEtcdNodes(3, 4, 0) })
}
