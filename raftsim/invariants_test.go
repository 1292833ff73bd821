package raftsim

import (
	"errors"
	"slices"
	"testing"

	"github.com/pontoon-raft/raft"
	pb "github.com/pontoon-raft/raft/raftpb"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// mutant is a RawNode with hooks that break it in a chosen way, to show
// that each invariant can fail. Nil hooks leave the behaviour alone.
type mutant struct {
	*raft.RawNode
	id    uint64
	ticks int
	// handed is the last index handed out as committed (for earlyApply).
	handed uint64
	calls  int

	ready  func(m *mutant, rd raft.Ready) raft.Ready
	status func(m *mutant, st raft.BasicStatus) raft.BasicStatus
	// step returns false to drop the message.
	step    func(m *mutant, msg pb.Message) bool
	propose func(m *mutant, data []byte) bool
}

func (m *mutant) Tick() {
	m.ticks++
	m.RawNode.Tick()
}

func (m *mutant) Ready() raft.Ready {
	rd := m.RawNode.Ready()
	if m.ready != nil {
		return m.ready(m, rd)
	}
	return rd
}

func (m *mutant) BasicStatus() raft.BasicStatus {
	m.calls++
	st := m.RawNode.BasicStatus()
	if m.status != nil {
		return m.status(m, st)
	}
	return st
}

func (m *mutant) Step(msg pb.Message) error {
	if m.step != nil && !m.step(m, msg) {
		return nil
	}
	return m.RawNode.Step(msg)
}

func (m *mutant) Propose(data []byte) error {
	if m.propose != nil && !m.propose(m, data) {
		return nil
	}
	return m.RawNode.Propose(data)
}

// mutantFactory builds RawNodes, wrapping the nodes in targets with hooks
// set by configure.
func mutantFactory(targets []uint64, configure func(*mutant)) NodeFactory {
	return func(cfg *raft.Config) (Node, error) {
		rn, err := raft.NewRawNode(cfg)
		if err != nil {
			return nil, err
		}
		if !slices.Contains(targets, cfg.ID) {
			return rn, nil
		}
		m := &mutant{RawNode: rn, id: cfg.ID}
		configure(m)
		return m, nil
	}
}

// onlyInvariant returns SkipInvariants that leave just name checked.
func onlyInvariant(name string) []string {
	var skip []string
	for _, n := range BuiltinInvariantNames {
		if n != name {
			skip = append(skip, n)
		}
	}
	return skip
}

// markData returns a copy of ents whose non-empty normal entries carry
// different data.
func markData(ents []pb.Entry) []pb.Entry {
	out := slices.Clone(ents)
	for i := range out {
		if out[i].Type == pb.EntryNormal && len(out[i].Data) > 0 {
			out[i].Data = append([]byte("mutated-"), out[i].Data...)
		}
	}
	return out
}

// TestInvariantsCanFail runs, for every invariant, a cluster with a node
// broken in a way that invariant must catch, checking only that invariant,
// and requires the violation. The same runs without the mutant pass.
func TestInvariantsCanFail(t *testing.T) {
	tests := []struct {
		invariant string
		targets   []uint64
		faults    Faults
		configure func(*mutant)
	}{
		{
			// Node 1 claims to lead every term from 2 on.
			invariant: InvElectionSafety,
			targets:   []uint64{1},
			configure: func(m *mutant) {
				m.status = func(_ *mutant, st raft.BasicStatus) raft.BasicStatus {
					if st.Term >= 2 {
						st.RaftState, st.Lead = raft.StateLeader, m.id
					}
					return st
				}
			},
		},
		{
			// Node 2 persists different data than the leader sent.
			invariant: InvLogMatching,
			targets:   []uint64{2},
			configure: func(m *mutant) {
				m.ready = func(_ *mutant, rd raft.Ready) raft.Ready {
					rd.Entries = markData(rd.Entries)
					return rd
				}
			},
		},
		{
			// Node 3 never accepts entries, and after 20 ticks claims to
			// lead a far-future term.
			invariant: InvLeaderCompleteness,
			targets:   []uint64{3},
			configure: func(m *mutant) {
				m.step = func(_ *mutant, msg pb.Message) bool {
					return msg.Type != pb.MsgApp && msg.Type != pb.MsgSnap
				}
				m.status = func(m *mutant, st raft.BasicStatus) raft.BasicStatus {
					if m.ticks > 20 {
						st.RaftState, st.Term, st.Lead = raft.StateLeader, 1<<40, m.id
					}
					return st
				}
			},
		},
		{
			// Node 2 applies each batch's first entry twice.
			invariant: InvStateMachineSafety,
			targets:   []uint64{2},
			configure: func(m *mutant) {
				m.ready = func(_ *mutant, rd raft.Ready) raft.Ready {
					if len(rd.CommittedEntries) > 0 && rd.CommittedEntries[0].Index > 5 {
						rd.CommittedEntries = append([]pb.Entry{rd.CommittedEntries[0]}, rd.CommittedEntries...)
					}
					return rd
				}
			},
		},
		{
			// Node 2 applies different data than it persisted.
			invariant: InvStateMachineSafety,
			targets:   []uint64{2},
			configure: func(m *mutant) {
				m.ready = func(_ *mutant, rd raft.Ready) raft.Ready {
					rd.CommittedEntries = markData(rd.CommittedEntries)
					return rd
				}
			},
		},
		{
			// Node 1 under-reports its commit index every third look.
			invariant: InvCommitMonotonic,
			targets:   []uint64{1},
			configure: func(m *mutant) {
				m.status = func(m *mutant, st raft.BasicStatus) raft.BasicStatus {
					if st.Commit > 5 && m.calls%3 == 0 {
						st.Commit--
					}
					return st
				}
			},
		},
		{
			// Node 2 applies entries as soon as it has them, before they
			// are committed.
			invariant: InvQuorumBeforeApply,
			targets:   []uint64{2},
			configure: func(m *mutant) {
				m.ready = func(m *mutant, rd raft.Ready) raft.Ready {
					var early []pb.Entry
					for _, src := range [][]pb.Entry{rd.CommittedEntries, rd.Entries} {
						for _, e := range src {
							if e.Index == m.handed+1 {
								early = append(early, e)
								m.handed++
							}
						}
					}
					rd.CommittedEntries = early
					return rd
				}
			},
		},
		{
			// No node accepts proposals: nothing new ever commits.
			invariant: InvLiveness,
			targets:   []uint64{1, 2, 3, 4, 5},
			configure: func(m *mutant) {
				m.propose = func(*mutant, []byte) bool { return false }
				m.step = func(_ *mutant, msg pb.Message) bool { return msg.Type != pb.MsgProp }
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.invariant, func(t *testing.T) {
			opts := Options{
				Nodes: 5, Steps: 3000, Faults: tt.faults,
				SkipLiveness: tt.invariant != InvLiveness,
			}
			if tt.invariant != InvLiveness {
				opts.SkipInvariants = onlyInvariant(tt.invariant)
			}
			var violation *Violation
			for seed := int64(1); seed <= 10 && violation == nil; seed++ {
				opts.Seed = seed
				opts.NodeFactory = nil
				_, err := Run(opts)
				require.NoError(t, err, "seed %d without the mutant", seed)

				opts.NodeFactory = mutantFactory(tt.targets, tt.configure)
				_, err = Run(opts)
				errors.As(err, &violation)
			}
			require.NotNil(t, violation, "no seed made %s fail", tt.invariant)
			assert.Equal(t, tt.invariant, violation.Invariant)
			assert.NotEmpty(t, violation.Trace)
			t.Logf("seed %d: %v", violation.Seed, violation.Err)
		})
	}
}

// TestEveryBuiltinInvariantHasAMutant keeps TestInvariantsCanFail complete.
func TestEveryBuiltinInvariantHasAMutant(t *testing.T) {
	// InvLinearizableReads is caught by the read-acking mutant of
	// TestMutantsAreCaught, InvLeaderInConfig, InvCommitQuorum and
	// InvConfigAgreement by the mutants of membership_test.go.
	src := []string{InvElectionSafety, InvLogMatching, InvLeaderCompleteness,
		InvStateMachineSafety, InvCommitMonotonic, InvQuorumBeforeApply, InvLinearizableReads,
		InvLeaderInConfig, InvCommitQuorum, InvConfigAgreement}
	assert.ElementsMatch(t, BuiltinInvariantNames, src,
		"a new built-in invariant needs a mutant in TestInvariantsCanFail")
}

// panicky panics on its 20th tick.
type panicky struct {
	*raft.RawNode
	ticks int
}

func (p *panicky) Tick() {
	if p.ticks++; p.ticks == 20 {
		panic("mutant: tick 20")
	}
	p.RawNode.Tick()
}

func TestNodePanicIsAViolation(t *testing.T) {
	_, err := Run(Options{Nodes: 3, Seed: 1, NodeFactory: func(cfg *raft.Config) (Node, error) {
		rn, err := raft.NewRawNode(cfg)
		return &panicky{RawNode: rn}, err
	}})
	var v *Violation
	require.ErrorAs(t, err, &v)
	assert.Equal(t, "panic", v.Invariant)
	assert.Contains(t, v.Err.Error(), "mutant: tick 20")
}

func TestBrokenSnapshotIsAContractViolation(t *testing.T) {
	// Crashed nodes come back behind compacted logs and need snapshots,
	// whose data the mutants garble.
	opts := Options{Nodes: 3, Steps: 3000, Faults: Faults{
		CrashProb: 0.01, RestartProb: 0.01, SnapshotProb: 0.05, CompactLagEntries: 1}}
	opts.NodeFactory = mutantFactory([]uint64{1, 2, 3}, func(m *mutant) {
		m.ready = func(_ *mutant, rd raft.Ready) raft.Ready {
			if !raft.IsEmptySnap(rd.Snapshot) {
				rd.Snapshot.Data = []byte("garbage")
			}
			return rd
		}
	})
	var v *Violation
	for seed := int64(1); seed <= 10 && v == nil; seed++ {
		opts.Seed = seed
		_, err := Run(opts)
		errors.As(err, &v)
	}
	require.NotNil(t, v, "no seed sent a snapshot")
	assert.Equal(t, "contract", v.Invariant)
	assert.ErrorIs(t, v.Err, errBadEnvelope)
}

// TestLossyDiskIsCaught checks that the simulator finds real Raft bugs, not
// only mutants that misreport: nodes whose disk silently loses part of what
// the Ready contract told them to persist. Crashes then expose the loss.
func TestLossyDiskIsCaught(t *testing.T) {
	tests := []struct {
		name string
		lose func(rd raft.Ready) raft.Ready
		// want lists the invariants that may catch the loss.
		want []string
	}{
		{
			name: "votes are not persisted",
			lose: func(rd raft.Ready) raft.Ready {
				rd.HardState.Vote = 0 // a restarted node can vote twice in a term
				return rd
			},
			want: []string{InvElectionSafety},
		},
		{
			name: "the last entry of each batch is not persisted",
			lose: func(rd raft.Ready) raft.Ready {
				if n := len(rd.Entries); n > 1 {
					rd.Entries = rd.Entries[:n-1] // acknowledged but not durable
				}
				return rd
			},
			want: []string{InvQuorumBeforeApply, InvCommitQuorum, InvLogMatching, InvLeaderCompleteness, InvStateMachineSafety},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			faults := AllFaults()
			faults.CrashProb, faults.RestartProb, faults.CrashMidReadyProb = 0.02, 0.1, 0.02
			// Membership changes would replace the lossy nodes by sound ones.
			faults.ConfChangeProb, faults.TransferLeaderProb = 0, 0
			opts := Options{Nodes: 3, Steps: 3000, ElectionTick: 4, Faults: faults, SkipLiveness: true,
				NodeFactory: mutantFactory([]uint64{1, 2, 3}, func(m *mutant) {
					m.ready = func(_ *mutant, rd raft.Ready) raft.Ready { return tt.lose(rd) }
				})}
			var v *Violation
			for seed := int64(1); seed <= 300 && v == nil; seed++ {
				opts.Seed = seed
				_, err := Run(opts)
				errors.As(err, &v)
			}
			require.NotNil(t, v, "300 seeds did not expose the lossy disk")
			assert.Contains(t, tt.want, v.Invariant, "seed %d: %v", v.Seed, v.Err)
			t.Logf("seed %d: %s: %v", v.Seed, v.Invariant, v.Err)
		})
	}
}
