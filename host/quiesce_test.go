package host

import (
	"fmt"
	"testing"

	"github.com/pontoon-raft/raft"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// quiescedCluster starts groups on 3 hosts and ticks until every replica
// is quiesced.
func quiescedCluster(t *testing.T, groups int, tune func(*Config)) *cluster {
	c := newCluster(t, 3, func(cfg *Config) {
		cfg.QuiesceTicks = 5
		if tune != nil {
			tune(cfg)
		}
	})
	for g := uint64(1); g <= uint64(groups); g++ {
		for _, id := range c.ids {
			require.NoError(t, c.hosts[id].StartGroup(g, []uint64{1, 2, 3}))
		}
	}
	for i := 0; i < 100 && !allQuiesced(c, groups); i++ {
		c.tick(1)
	}
	require.True(t, allQuiesced(c, groups), "every replica quiesced")
	return c
}

func allQuiesced(c *cluster, groups int) bool {
	for _, id := range c.ids {
		if c.hosts[id].quiesced != groups {
			return false
		}
	}
	return true
}

func TestQuiescedGroupsCostNoWorkPerTick(t *testing.T) {
	c := quiescedCluster(t, 200, nil)
	// A tick of hosts whose replicas are all quiesced does the hosts' own
	// work (their liveness heartbeats), nothing per group.
	allocs := testing.AllocsPerRun(20, func() { c.tick(1) })
	assert.Less(t, allocs, 100.0, "allocations per tick of 3 hosts with 200 quiesced groups")
	for _, id := range c.ids {
		assert.Empty(t, c.hosts[id].ticking, "host %d: the clock visits no quiesced replica", id)
	}
}

func TestQuiescedLeaderServesNoReadFromALeaseItSleptThrough(t *testing.T) {
	c := quiescedCluster(t, 1, func(cfg *Config) { cfg.ReadOnlyOption = raft.ReadOnlyLeaseBased })
	old := c.leader(1)
	// The quiesced leader is cut off; its followers notice that its host
	// went silent, wake and elect another, which takes a write.
	c.net.Partition(old)
	var next uint64
	for i := 0; i < 100 && next == 0; i++ {
		c.tick(1)
		for _, id := range c.ids {
			if st, _ := c.hosts[id].Status(1); id != old && st.Role == raft.StateLeader {
				next = id
			}
		}
	}
	require.NotZero(t, next)
	_, err := c.wait(c.hosts[next].SubmitPropose(1, []byte("a=2")))
	require.NoError(t, err)
	// Woken by a read, the old leader first counts the ticks it slept
	// through: its lease is gone, so the read waits for a quorum it
	// cannot reach instead of returning the old state.
	r := c.hosts[old].SubmitRead(1)
	c.settle()
	select {
	case <-r.Done():
		t.Fatalf("the cut-off old leader served a read: %v", r.err)
	default:
	}
}

func TestIdleReplicaHoldsNoRequestMaps(t *testing.T) {
	c := quiescedCluster(t, 1, func(cfg *Config) { cfg.SnapshotEntries = 2 })
	// Proposals and reads through every host, snapshots along the way.
	for i, id := range c.ids {
		_, err := c.wait(c.hosts[id].SubmitPropose(1, []byte(fmt.Sprintf("a=%d", i))))
		require.NoError(t, err)
		_, err = c.wait(c.hosts[id].SubmitRead(1))
		require.NoError(t, err)
	}
	c.tick(30)
	for _, id := range c.ids {
		g := c.hosts[id].groups[1]
		require.True(t, g.quiesced, "host %d quiesced", id)
		assert.Nil(t, g.proposals, "host %d", id)
		assert.Nil(t, g.reads, "host %d", id)
		assert.Nil(t, g.snapConf, "host %d", id)
	}
}

func TestGroupStartedAgainAfterRemovalIsTickedOnce(t *testing.T) {
	c := newCluster(t, 1, nil)
	h := c.hosts[1]
	require.NoError(t, h.StartGroup(1, []uint64{1}))
	c.tick(1)
	require.NoError(t, h.RemoveGroup(1))
	c.settle()
	require.NoError(t, h.StartGroup(1, []uint64{1}))
	c.tick(1)
	assert.Equal(t, []uint64{1}, h.ticking, "the clock visits the new replica once per tick")
}

// An awake replica keeps its request maps between proposals: with one
// proposal in flight at a time, dropping the emptied map after each one
// made every proposal allocate a new map.
func TestAwakeReplicaKeepsItsRequestMaps(t *testing.T) {
	c := newCluster(t, 3, func(cfg *Config) { cfg.QuiesceTicks = 1000 })
	for _, id := range c.ids {
		require.NoError(t, c.hosts[id].StartGroup(1, []uint64{1, 2, 3}))
	}
	leader := c.leader(1)
	for i := 0; i < 3; i++ {
		_, err := c.wait(c.hosts[leader].SubmitPropose(1, []byte(fmt.Sprintf("a=%d", i))))
		require.NoError(t, err)
	}
	g := c.hosts[leader].groups[1]
	require.False(t, g.quiesced)
	assert.Empty(t, g.proposals)
	assert.NotNil(t, g.proposals, "the emptied map is kept for the next proposal")
}
