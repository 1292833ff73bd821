package raft

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	pb "github.com/pontoon-raft/raft/raftpb"
)

// The catch-up benchmark: a follower that missed catchUpEntries entries
// rejoins, and is caught up either by appends alone or, once the leader has
// compacted its log, by a snapshot plus the entries kept after it.
const (
	catchUpEntries      = 100_000
	catchUpPayloadBytes = 64
	// catchUpKeptEntries is how many entries the compacting leader keeps
	// behind its last index.
	catchUpKeptEntries = 1_000
	// catchUpStateBytes is the size of the snapshot's data: the benchmark's
	// state machine is a table of 1,024 slots of 64 bytes, each entry
	// overwriting one slot.
	catchUpStateBytes = 1024 * catchUpPayloadBytes
)

// catchUpConfig is the configuration of every node: 1 MiB appends, 256 of
// them in flight.
func catchUpConfig(cfg *Config) {
	cfg.MaxSizePerMsg = 1 << 20
	cfg.MaxInflightMsgs = 256
}

// catchUpBase builds, once, the state the benchmark starts from: a
// three-node cluster led by node 1 commits catchUpEntries entries while node
// 3 is partitioned away. It returns the three storages.
func catchUpBase(b *testing.B) map[uint64]*MemoryStorage {
	c := newCluster(b, 3, catchUpConfig)
	c.elect(1)
	c.isolate(3)
	payload := make([]byte, catchUpPayloadBytes)
	for i := 0; i < catchUpEntries; i++ {
		copy(payload, fmt.Sprintf("entry %d", i))
		require.NoError(b, c.node(1).rn.Propose(slices.Clone(payload)))
		if i%1000 == 999 {
			c.stabilize()
		}
	}
	c.stabilize()
	require.Equal(b, uint64(catchUpEntries+1), c.node(1).appliedIndex)
	require.Equal(b, uint64(catchUpEntries+1), c.node(2).appliedIndex)
	require.Equal(b, uint64(1), c.node(3).appliedIndex)
	storages := map[uint64]*MemoryStorage{}
	for _, id := range c.ids {
		storages[id] = c.node(id).storage
	}
	return storages
}

// catchUpClone copies ms so that a run can write to it; entry payloads are
// immutable and shared.
func catchUpClone(ms *MemoryStorage) *MemoryStorage {
	ms.Lock()
	defer ms.Unlock()
	return &MemoryStorage{hardState: ms.hardState, snapshot: ms.snapshot, ents: slices.Clone(ms.ents)}
}

// catchUpCompacted returns copies of the base storages in which nodes 1
// and 2 have snapshotted and compacted their logs up to catchUpKeptEntries
// behind their last index, so node 3 needs a snapshot.
func catchUpCompacted(b *testing.B, base map[uint64]*MemoryStorage) map[uint64]*MemoryStorage {
	out := map[uint64]*MemoryStorage{3: base[3]}
	for _, id := range []uint64{1, 2} {
		ms := catchUpClone(base[id])
		last, err := ms.LastIndex()
		require.NoError(b, err)
		cs := pb.ConfState{Voters: []uint64{1, 2, 3}}
		_, err = ms.CreateSnapshot(last-catchUpKeptEntries, &cs, make([]byte, catchUpStateBytes))
		require.NoError(b, err)
		require.NoError(b, ms.Compact(last-catchUpKeptEntries))
		out[id] = ms
	}
	return out
}

// catchUpRun is one catch-up. The nodes restart from copies of the base
// storages with their state machines intact, node 1 is elected again while
// node 3 is still cut off, and then the links heal: the timed part ticks
// the cluster until node 3 has applied everything node 1 has. It returns the
// number and total size of the messages sent to node 3 in the timed part,
// and how long that part took.
func catchUpRun(b *testing.B, base map[uint64]*MemoryStorage) (msgs, bytes int, wall time.Duration) {
	b.StopTimer()
	storages := map[uint64]*MemoryStorage{}
	applied := map[uint64]uint64{}
	for id, ms := range base {
		storages[id] = catchUpClone(ms)
		applied[id] = ms.hardState.Commit
	}
	c := newClusterFromStorage(b, storages, catchUpConfig, func(cfg *Config) { cfg.Applied = applied[cfg.ID] })
	c.isolate(3)
	c.elect(1)
	c.filter = func(m *pb.Message) bool {
		if m.To == 3 {
			msgs++
			bytes += m.Size()
		}
		return true
	}
	leader, follower := c.node(1), c.node(3)

	tables := map[uint64][]byte{}
	for _, id := range c.ids {
		tables[id] = make([]byte, catchUpStateBytes)
	}

	b.StartTimer()
	start := time.Now()
	c.heal()
	for ticks := 0; follower.appliedIndex < leader.appliedIndex; ticks++ {
		require.Less(b, ticks, 100, "node 3 did not catch up")
		c.tick(c.ids...)
		for busy := true; busy; {
			busy = false
			for _, id := range c.ids {
				for n := c.node(id); n.rn.HasReady(); {
					catchUpHandleReady(c, n, tables[id])
					busy = true
				}
			}
			busy = c.deliver() || busy
		}
	}
	wall = time.Since(start)
	b.StopTimer()

	// Caught up by the leader's snapshot, if it has one, or by appends.
	want, err := leader.storage.Snapshot()
	require.NoError(b, err)
	got, err := follower.storage.Snapshot()
	require.NoError(b, err)
	require.Equal(b, want.Metadata.Index, got.Metadata.Index)
	require.Equal(b, leader.appliedIndex, follower.appliedIndex)
	b.StartTimer()
	return msgs, bytes, wall
}

// catchUpHandleReady handles one Ready of n as the harness does (persist,
// send, apply, Advance) but applies entries into the slot table without
// the harness's per-entry safety assertions, which would otherwise take most
// of the measured time. The run has no conf changes.
func catchUpHandleReady(c *cluster, n *member, table []byte) {
	rd := n.rn.Ready()
	c.persist(n, rd.Snapshot, rd.Entries, rd.HardState)
	for _, m := range rd.Messages {
		c.send(m)
	}
	if !IsEmptySnap(rd.Snapshot) {
		copy(table, rd.Snapshot.Data)
		n.appliedIndex = rd.Snapshot.Metadata.Index
	}
	for _, e := range rd.CommittedEntries {
		slot := int(e.Index%(catchUpStateBytes/catchUpPayloadBytes)) * catchUpPayloadBytes
		copy(table[slot:slot+catchUpPayloadBytes], e.Data)
		n.appliedIndex = e.Index
	}
	n.rn.Advance(rd)
}

// BenchmarkCatchUpFollower100k measures catching up a follower that is
// 100,000 entries of 64 bytes behind, with the leader's log compacted (a
// MsgSnap of 64 KiB and the last 1,000 entries) and uncompacted (MsgApp
// batches of up to 1 MiB, 256 in flight). It reports the messages and bytes
// (Message.Size) sent to the follower and the wall time per catch-up; the
// cluster is rebuilt outside the timer for every catch-up.
func BenchmarkCatchUpFollower100k(b *testing.B) {
	uncompacted := catchUpBase(b)
	compacted := catchUpCompacted(b, uncompacted)
	for _, compact := range []bool{true, false} {
		name, base := "uncompacted", uncompacted
		if compact {
			name, base = "compacted", compacted
		}
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			var msgs, bytes int
			var wall time.Duration
			for i := 0; i < b.N; i++ {
				m, n, w := catchUpRun(b, base)
				msgs, bytes, wall = msgs+m, bytes+n, wall+w
			}
			b.ReportMetric(float64(msgs)/float64(b.N), "msgs/op")
			b.ReportMetric(float64(bytes)/float64(b.N), "bytes/op")
			b.ReportMetric(wall.Seconds()*1000/float64(b.N), "wall-ms/op")
		})
	}
}
