package raftsim_test

// The library's randomized safety tests, expressed with raftsim: each runs
// clusters of 3, 5 and 7 nodes for 100 seeds under one family of
// faults, with every raftsim invariant checked after every event and the
// liveness check at the end. (raftsim's own TestRandomizedClusters and the
// CI sweeps run far more seeds with every fault at once.)

import (
	"fmt"
	"testing"

	"github.com/pontoon-raft/raft"
	"github.com/pontoon-raft/raft/raftsim"
)

// simFamily is one family of faults layered on the network and crash
// faults every run has.
type simFamily struct {
	name string
	add  func(f *raftsim.Faults, o *raftsim.Options)
}

func TestRandomizedWithRaftsim(t *testing.T) {
	base := raftsim.AllFaults()
	base.SnapshotProb, base.ConfChangeProb, base.TransferLeaderProb, base.ReadIndexProb = 0, 0, 0, 0
	all := raftsim.AllFaults()
	families := []simFamily{
		{"core", func(*raftsim.Faults, *raftsim.Options) {}},
		{"snapshots", func(f *raftsim.Faults, _ *raftsim.Options) {
			f.SnapshotProb, f.CompactLagEntries = all.SnapshotProb, all.CompactLagEntries
		}},
		{"membership", func(f *raftsim.Faults, _ *raftsim.Options) {
			f.SnapshotProb, f.CompactLagEntries, f.ConfChangeProb = all.SnapshotProb, all.CompactLagEntries, all.ConfChangeProb
		}},
		{"transfers and reads", func(f *raftsim.Faults, _ *raftsim.Options) {
			f.TransferLeaderProb, f.ReadIndexProb = all.TransferLeaderProb, all.ReadIndexProb
		}},
		{"lease reads", func(f *raftsim.Faults, o *raftsim.Options) {
			f.ReadIndexProb, f.SlowNodeProb = all.ReadIndexProb, 0
			o.CheckQuorum, o.ReadOnlyOption = true, raft.ReadOnlyLeaseBased
		}},
		{"async storage", func(f *raftsim.Faults, o *raftsim.Options) {
			*f = all
			o.Async = raftsim.AsyncMixed
		}},
	}
	seeds := 100
	if testing.Short() {
		seeds = 20
	}
	for _, fam := range families {
		for _, nodes := range []int{3, 5, 7} {
			t.Run(fmt.Sprintf("%s/%d", fam.name, nodes), func(t *testing.T) {
				t.Parallel()
				for seed := int64(1); seed <= int64(seeds); seed++ {
					opts := raftsim.Options{Nodes: nodes, Seed: seed, Steps: 1000,
						PreVote: seed%2 == 0, CheckQuorum: seed%3 == 0}
					f := base
					fam.add(&f, &opts)
					opts.Faults = f
					if _, err := raftsim.Run(opts); err != nil {
						t.Fatalf("seed %d: %v", seed, err)
					}
				}
			})
		}
	}
}
