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

// The mutants below are classic Raft bugs, each written as a wrapper
// around a correct RawNode (or its storage) so that the library itself
// stays untouched. TestMutantsAreCaught shows that the simulator, with every
// built-in invariant on, catches each of them within a bounded number of
// seeds: proof that a clean sweep means something.

// earlyApplier hands the entries of every Ready to the state machine as if
// they were committed, as soon as they are appended.
type earlyApplier struct {
	*raft.RawNode
	// handed is the last index given to the state machine.
	handed uint64
}

func (e *earlyApplier) Ready() raft.Ready {
	rd := e.RawNode.Ready()
	var out []pb.Entry
	for _, src := range [][]pb.Entry{rd.CommittedEntries, rd.Entries} {
		for _, ent := range src {
			if ent.Index == e.handed+1 {
				out = append(out, ent)
				e.handed = ent.Index
			}
		}
	}
	rd.CommittedEntries = out
	return rd
}

// forgetfulVoterFactory builds RawNodes whose storage forgets the vote
// whenever a node restarts, as if the vote had never been made durable.
func forgetfulVoterFactory() NodeFactory {
	started := map[uint64]bool{}
	return func(cfg *raft.Config) (Node, error) {
		if started[cfg.ID] {
			ms := cfg.Storage.(*raft.MemoryStorage)
			hs, _, err := ms.InitialState()
			if err != nil {
				return nil, err
			}
			hs.Vote = 0
			if err := ms.SetHardState(hs); err != nil {
				return nil, err
			}
		}
		started[cfg.ID] = true
		return raft.NewRawNode(cfg)
	}
}

// replicaCounter commits by counting replicas whatever the entry's term,
// the rule §5.4.2 forbids (Figure 8): as leader it tracks the match index
// each follower acknowledges in this term and raises the Commit of its
// outgoing appends and heartbeats to the index a majority holds.
type replicaCounter struct {
	*raft.RawNode
	id     uint64
	voters int
	// term is the term match refers to; match holds acknowledged indexes,
	// including the leader's own last index.
	term  uint64
	match map[uint64]uint64
	last  uint64
}

func (c *replicaCounter) resetIfNewTerm(st raft.BasicStatus) {
	if st.Term != c.term {
		c.term = st.Term
		c.match = map[uint64]uint64{}
	}
}

func (c *replicaCounter) Step(m pb.Message) error {
	st := c.RawNode.BasicStatus()
	c.resetIfNewTerm(st)
	if m.Type == pb.MsgAppResp && !m.Reject && m.Term == st.Term && st.RaftState == raft.StateLeader {
		c.match[m.From] = max(c.match[m.From], m.Index)
	}
	return c.RawNode.Step(m)
}

func (c *replicaCounter) Ready() raft.Ready {
	rd := c.RawNode.Ready()
	if n := len(rd.Entries); n > 0 {
		c.last = rd.Entries[n-1].Index
	}
	st := c.RawNode.BasicStatus()
	c.resetIfNewTerm(st)
	if st.RaftState != raft.StateLeader {
		return rd
	}
	c.match[c.id] = c.last
	acked := make([]uint64, 0, c.voters)
	for _, idx := range c.match {
		acked = append(acked, idx)
	}
	if len(acked) <= c.voters/2 {
		return rd
	}
	slices.Sort(acked)
	counted := acked[len(acked)-(c.voters/2+1)]
	for i := range rd.Messages {
		m := &rd.Messages[i]
		switch m.Type {
		case pb.MsgApp:
			m.Commit = max(m.Commit, counted)
		case pb.MsgHeartbeat:
			m.Commit = max(m.Commit, min(counted, c.match[m.To]))
		}
	}
	return rd
}

// readAcker answers ReadIndex at once with its commit index whenever it
// believes it leads, without the heartbeat round that proves it still does
// (§6.4), and without waiting for a commit in its term.
type readAcker struct {
	*raft.RawNode
	answers []raft.ReadState
}

func (r *readAcker) ReadIndex(rctx []byte) {
	if st := r.RawNode.BasicStatus(); st.RaftState == raft.StateLeader {
		r.answers = append(r.answers, raft.ReadState{Index: st.Commit, RequestCtx: rctx})
		return
	}
	r.RawNode.ReadIndex(rctx)
}

func (r *readAcker) HasReady() bool { return len(r.answers) > 0 || r.RawNode.HasReady() }

func (r *readAcker) Ready() raft.Ready {
	rd := r.RawNode.Ready()
	rd.ReadStates = append(rd.ReadStates, r.answers...)
	r.answers = nil
	return rd
}

// mutantOptions are the runs the mutants are tried in: every fault, with
// crashes, partitions and elections more frequent than in AllFaults so
// that the windows the mutants open are hit often.
func mutantOptions(seed int64) Options {
	f := AllFaults()
	f.CrashProb, f.RestartProb, f.CrashMidReadyProb = 0.01, 0.05, 0.01
	f.PartitionProb, f.IsolateLeaderProb, f.HealProb = 0.005, 0.005, 0.01
	f.ReadIndexProb = 0.05
	// Membership changes would replace the mutant nodes by sound ones.
	f.ConfChangeProb, f.TransferLeaderProb = 0, 0
	// The application's other entry points are not what these mutants
	// break; TestEntryPointFaults covers them.
	f.CampaignProb, f.ForgetLeaderProb, f.ReportUnreachableProb, f.QuiesceProb, f.ClockDriftProb = 0, 0, 0, 0, 0
	return Options{
		Nodes: 3 + 2*int(seed%2), Seed: seed, Steps: 2000, ElectionTick: 5,
		PreVote: seed%3 == 0, CheckQuorum: seed%4 == 0, Faults: f,
	}
}

// TestMutantsAreCaught runs each mutant on every node of seeds 1..maxSeeds
// until a seed fails, and requires one of the invariants that can catch it.
func TestMutantsAreCaught(t *testing.T) {
	tests := []struct {
		name     string
		factory  func(Options) NodeFactory
		adjust   func(*Options)
		want     []string
		maxSeeds int64
	}{
		{
			name: "apply before commit",
			factory: func(Options) NodeFactory {
				return func(cfg *raft.Config) (Node, error) {
					rn, err := raft.NewRawNode(cfg)
					return &earlyApplier{RawNode: rn}, err
				}
			},
			want:     []string{InvQuorumBeforeApply, InvStateMachineSafety},
			maxSeeds: 5,
		},
		{
			name:     "forget the vote on restart",
			factory:  func(Options) NodeFactory { return forgetfulVoterFactory() },
			want:     []string{InvElectionSafety},
			maxSeeds: 200,
		},
		{
			name: "commit an old-term entry by counting replicas",
			factory: func(o Options) NodeFactory {
				return func(cfg *raft.Config) (Node, error) {
					rn, err := raft.NewRawNode(cfg)
					return &replicaCounter{RawNode: rn, id: cfg.ID, voters: o.Nodes}, err
				}
			},
			// One entry per append message, so that a new leader's own
			// entry trails the old ones it re-replicates; a fixed voter
			// set, which the mutant's majority assumes.
			adjust: func(o *Options) {
				o.MaxSizePerMsg, o.MaxInflightMsgs = 1, 2
				o.Faults.ConfChangeProb = 0
			},
			want:     []string{InvStateMachineSafety, InvLeaderCompleteness, InvLogMatching, InvQuorumBeforeApply},
			maxSeeds: 200,
		},
		{
			name: "ack reads without a heartbeat round",
			factory: func(Options) NodeFactory {
				return func(cfg *raft.Config) (Node, error) {
					rn, err := raft.NewRawNode(cfg)
					return &readAcker{RawNode: rn}, err
				}
			},
			want:     []string{InvLinearizableReads},
			maxSeeds: 200,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var v *Violation
			for seed := int64(1); seed <= tt.maxSeeds && v == nil; seed++ {
				opts := mutantOptions(seed)
				if tt.adjust != nil {
					tt.adjust(&opts)
				}
				opts.NodeFactory = tt.factory(opts)
				_, err := Run(opts)
				if err != nil && !errors.As(err, &v) {
					require.NoError(t, err)
				}
			}
			require.NotNil(t, v, "%d seeds did not catch the mutant", tt.maxSeeds)
			assert.Contains(t, tt.want, v.Invariant, "seed %d: %v", v.Seed, v)
			// The same run without the mutant passes: the mutant is what
			// the invariant caught.
			opts := mutantOptions(v.Seed)
			if tt.adjust != nil {
				tt.adjust(&opts)
			}
			_, err := Run(opts)
			require.NoError(t, err, "seed %d without the mutant", v.Seed)
			t.Logf("caught at seed %d, event %d: %s: %v", v.Seed, v.Event, v.Invariant, firstLineOf(v.Err))
		})
	}
}

func firstLineOf(err error) string {
	s := err.Error()
	for i := range s {
		if s[i] == '\n' {
			return s[:i]
		}
	}
	return s
}
