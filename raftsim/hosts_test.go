package raftsim

import (
	"errors"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestHostsWithoutFaults(t *testing.T) {
	res, err := RunHosts(HostOptions{Seed: 1, Steps: 3000})
	require.NoError(t, err)
	assert.Positive(t, res.WritesAcked)
	assert.Positive(t, res.ReadsServed)
	t.Logf("%+v", res)
}

func TestHostsUnderFaults(t *testing.T) {
	seeds := int64(30)
	if testing.Short() {
		seeds = 5
	}
	var total HostResult
	for seed := int64(1); seed <= seeds; seed++ {
		res, err := RunHosts(HostOptions{Hosts: 3 + int(seed%3), Groups: 3, Seed: seed, Steps: 3000, Faults: AllHostFaults(), Lease: seed%2 == 0})
		var v *Violation
		if errors.As(err, &v) {
			t.Fatalf("seed %d: %v", seed, v)
		}
		require.NoError(t, err, "seed %d", seed)
		total.WritesAcked += res.WritesAcked
		total.ReadsServed += res.ReadsServed
		total.Crashes += res.Crashes
		total.MidIOCrashes += res.MidIOCrashes
		total.HostFailures += res.HostFailures
		total.ReplicasMoved += res.ReplicasMoved
		total.Transfers += res.Transfers
	}
	t.Logf("%d seeds: %+v", seeds, total)
	assert.Positive(t, total.WritesAcked)
	assert.Positive(t, total.Crashes)
}
