package raft

import (
	"testing"

	pb "github.com/pontoon-raft/raft/raftpb"
)

// Benchmarks of the consensus hot path. One op is one committed and applied
// proposal, so ns/op, B/op and allocs/op are per proposal. The Ready loop is
// the minimal one the contract asks for, over MemoryStorage, without the
// checks of the test harness; storage is compacted as it grows so long runs
// measure a steady state.

// benchNode is one node of a benchmark cluster.
type benchNode struct {
	rn      *RawNode
	storage *MemoryStorage
	// applied counts applied entries carrying data.
	applied int
}

// benchCompactEvery and benchKeepEntries bound MemoryStorage's growth: once
// the log holds benchCompactEvery applied entries, all but benchKeepEntries
// of them are compacted.
const (
	benchCompactEvery = 8192
	benchKeepEntries  = 1024
)

// handleReadys runs the Ready loop of n until it has nothing left, appending
// outgoing messages to out.
func (n *benchNode) handleReadys(b *testing.B, out []pb.Message) []pb.Message {
	for n.rn.HasReady() {
		rd := n.rn.Ready()
		if err := n.storage.Append(rd.Entries); err != nil {
			b.Fatal(err)
		}
		if !IsEmptyHardState(rd.HardState) {
			if err := n.storage.SetHardState(rd.HardState); err != nil {
				b.Fatal(err)
			}
		}
		out = append(out, rd.Messages...)
		for i := range rd.CommittedEntries {
			if len(rd.CommittedEntries[i].Data) > 0 {
				n.applied++
			}
		}
		n.rn.Advance(rd)
		if k := len(rd.CommittedEntries); k > 0 {
			applied := rd.CommittedEntries[k-1].Index
			if first, _ := n.storage.FirstIndex(); applied-first > benchCompactEvery {
				if err := n.storage.Compact(applied - benchKeepEntries); err != nil {
					b.Fatal(err)
				}
			}
		}
	}
	return out
}

func benchConfig(id uint64, s *MemoryStorage) *Config {
	cfg := testConfig(id, s)
	cfg.MaxSizePerMsg = 1 << 20
	cfg.MaxInflightMsgs = 256
	return cfg
}

// BenchmarkOneNodePropose: a single-node RawNode; each proposal is followed
// by the Ready/Advance cycles that persist, commit and apply it.
func BenchmarkOneNodePropose(b *testing.B) {
	s := newTestStorage(votersConf(1), pb.HardState{})
	rn, err := NewRawNode(benchConfig(1, s))
	if err != nil {
		b.Fatal(err)
	}
	n := &benchNode{rn: rn, storage: s}
	if err := rn.Campaign(); err != nil {
		b.Fatal(err)
	}
	n.handleReadys(b, nil)
	if rn.BasicStatus().RaftState != StateLeader {
		b.Fatal("not leader")
	}
	data := make([]byte, 128)

	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if err := rn.Propose(data); err != nil {
			b.Fatal(err)
		}
		n.handleReadys(b, nil)
	}
	b.StopTimer()
	if n.applied != b.N {
		b.Fatalf("applied %d of %d proposals", n.applied, b.N)
	}
}

// BenchmarkThreeNodePipelined128B: three in-process RawNodes, 128-byte
// proposals to the leader in batches, with up to benchWindow proposals in
// flight while earlier ones replicate and commit.
func BenchmarkThreeNodePipelined128B(b *testing.B) {
	const (
		benchBatch  = 64
		benchWindow = 512
	)
	var nodes [3]*benchNode
	for i := range nodes {
		id := uint64(i + 1)
		s := newTestStorage(votersConf(1, 2, 3), pb.HardState{})
		rn, err := NewRawNode(benchConfig(id, s))
		if err != nil {
			b.Fatal(err)
		}
		nodes[i] = &benchNode{rn: rn, storage: s}
	}
	var inflight, next []pb.Message
	// round handles every node's Ready and then delivers the messages.
	round := func() bool {
		for _, n := range nodes {
			next = n.handleReadys(b, next)
		}
		inflight, next = next, inflight[:0]
		for _, m := range inflight {
			_ = nodes[m.To-1].rn.Step(m)
		}
		return len(inflight) > 0
	}
	if err := nodes[0].rn.Campaign(); err != nil {
		b.Fatal(err)
	}
	for round() {
	}
	leader := nodes[0]
	if leader.rn.BasicStatus().RaftState != StateLeader {
		b.Fatal("not leader")
	}
	data := make([]byte, 128)

	b.ReportAllocs()
	b.ResetTimer()
	proposed := 0
	for leader.applied < b.N {
		for k := 0; k < benchBatch && proposed < b.N && proposed-leader.applied < benchWindow; k++ {
			if err := leader.rn.Propose(data); err != nil {
				b.Fatal(err)
			}
			proposed++
		}
		round()
	}
	for round() {
	}
	b.StopTimer()
	for i, n := range nodes {
		if n.applied != b.N {
			b.Fatalf("node %d applied %d of %d proposals", i+1, n.applied, b.N)
		}
	}
}
