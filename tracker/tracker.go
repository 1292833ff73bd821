package tracker

import (
	"slices"
	"strings"

	"github.com/pontoon-raft/raft/quorum"
	pb "github.com/pontoon-raft/raft/raftpb"
)

// Config is a cluster membership: who votes, who only learns, and the
// bookkeeping of an ongoing joint configuration change.
//
// Empty sets are kept nil (package confchange maintains this), except
// Voters[0], which a tracker made by MakeProgressTracker starts as an empty
// map.
type Config struct {
	// Voters holds the incoming voters in Voters[0] and, during a joint
	// configuration change, the outgoing voters in Voters[1]. The
	// configuration is joint exactly when Voters[1] is non-empty.
	Voters quorum.JointConfig

	// AutoLeave is true while joint if the application asked the leader to
	// propose leaving the joint configuration by itself once it is
	// committed. Always false when not joint.
	AutoLeave bool

	// Learners are the members that receive the log without voting. A node
	// is never both a voter (in either half) and a learner.
	Learners map[uint64]struct{}

	// LearnersNext are nodes that become learners when the joint
	// configuration is left. A voter being demoted to learner cannot join
	// Learners while it still votes in the outgoing half (that would make it
	// both), so it waits here. Every member of LearnersNext is an outgoing
	// voter; the set is empty when not joint.
	LearnersNext map[uint64]struct{}
}

// String renders the configuration on one line, for example
// "voters=(1 2 3)&&(1 2) learners=(4) learners_next=(5) autoleave"; empty
// learner sets and a false AutoLeave are omitted.
func (c Config) String() string {
	var b strings.Builder
	b.WriteString("voters=")
	b.WriteString(c.Voters.String())
	if len(c.Learners) > 0 {
		b.WriteString(" learners=")
		b.WriteString(quorum.MajorityConfig(c.Learners).String())
	}
	if len(c.LearnersNext) > 0 {
		b.WriteString(" learners_next=")
		b.WriteString(quorum.MajorityConfig(c.LearnersNext).String())
	}
	if c.AutoLeave {
		b.WriteString(" autoleave")
	}
	return b.String()
}

// Clone returns a deep copy of c sharing no map with it. Nil sets stay nil
// and empty non-nil sets stay empty and non-nil.
func (c *Config) Clone() Config {
	return Config{
		Voters:       quorum.JointConfig{cloneSet(c.Voters[0]), cloneSet(c.Voters[1])},
		AutoLeave:    c.AutoLeave,
		Learners:     cloneSet(c.Learners),
		LearnersNext: cloneSet(c.LearnersNext),
	}
}

func cloneSet[S ~map[uint64]struct{}](s S) S {
	if s == nil {
		return nil
	}
	c := make(S, len(s))
	for id := range s {
		c[id] = struct{}{}
	}
	return c
}

// ProgressTracker is the leader's complete view of the cluster: the
// membership, the Progress of every member (voters of both halves and
// learners, nothing else), and the votes received in the current election.
type ProgressTracker struct {
	Config

	Progress ProgressMap

	// Votes maps a voter's ID to whether it granted its vote in the current
	// election; voters that have not answered are absent.
	Votes map[uint64]bool

	// MaxInflight and MaxInflightBytes size the Inflights of new members.
	MaxInflight      int
	MaxInflightBytes uint64
}

// MakeProgressTracker returns a tracker with no members and no votes. Its
// incoming voter set, Progress and Votes are empty non-nil maps; the other
// sets are nil. New members get Inflights bounded by maxInflight appends and
// maxBytes bytes (0 = unbounded bytes).
func MakeProgressTracker(maxInflight int, maxBytes uint64) ProgressTracker {
	return ProgressTracker{
		Config: Config{
			Voters: quorum.JointConfig{quorum.MajorityConfig{}, nil},
		},
		Progress:         ProgressMap{},
		Votes:            map[uint64]bool{},
		MaxInflight:      maxInflight,
		MaxInflightBytes: maxBytes,
	}
}

// ConfState returns the membership in its wire form, each list sorted in
// ascending order and nil when empty.
func (p *ProgressTracker) ConfState() pb.ConfState {
	return pb.ConfState{
		Voters:         p.Voters[0].Slice(),
		Learners:       quorum.MajorityConfig(p.Learners).Slice(),
		VotersOutgoing: p.Voters[1].Slice(),
		LearnersNext:   quorum.MajorityConfig(p.LearnersNext).Slice(),
		AutoLeave:      p.AutoLeave,
	}
}

// IsSingleton reports whether the cluster has exactly one voter and no
// membership change is in progress, so that the one voter decides alone.
func (p *ProgressTracker) IsSingleton() bool {
	return len(p.Voters[0]) == 1 && len(p.Voters[1]) == 0
}

// matchAckIndexer presents the Match of each Progress to quorum computations.
// Being a map type, it converts to an interface without allocating.
type matchAckIndexer ProgressMap

// AckedIndex implements quorum.AckedIndexer.
func (m matchAckIndexer) AckedIndex(id uint64) (quorum.Index, bool) {
	pr, ok := m[id]
	if !ok {
		return 0, false
	}
	return quorum.Index(pr.Match), true
}

// Committed returns the largest log index that a quorum of the voters (a
// quorum of each half when joint) hold according to their Match. With no
// voters at all it returns math.MaxUint64. It does not allocate for up to
// seven voters per half.
func (p *ProgressTracker) Committed() uint64 {
	return uint64(p.Voters.CommittedIndex(matchAckIndexer(p.Progress)))
}

// visitOnStack is the number of members Visit orders without allocating.
const visitOnStack = 32

// Visit calls f for every member, voters and learners alike, in ascending ID
// order. f may modify the Progress it is handed but must not add or remove
// members. Visit does not allocate for up to 32 members.
func (p *ProgressTracker) Visit(f func(id uint64, pr *Progress)) {
	n := len(p.Progress)
	var onStack [visitOnStack]uint64
	var ids []uint64
	if n <= len(onStack) {
		ids = onStack[:0]
	} else {
		ids = make([]uint64, 0, n)
	}
	for id := range p.Progress {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	for _, id := range ids {
		f(id, p.Progress[id])
	}
}

// QuorumActive reports whether the voters marked RecentActive form a quorum
// (of each half when joint). A leader uses it to step down when it has lost
// contact with a quorum (CheckQuorum). Learners do not count.
func (p *ProgressTracker) QuorumActive() bool {
	active := make(map[uint64]bool, len(p.Progress))
	for id, pr := range p.Progress {
		if !pr.IsLearner {
			active[id] = pr.RecentActive
		}
	}
	return p.Voters.VoteResult(active) == quorum.VoteWon
}

// VoterNodes returns the IDs of the voters of both halves in ascending order,
// nil if there are none.
func (p *ProgressTracker) VoterNodes() []uint64 {
	return quorum.MajorityConfig(p.Voters.IDs()).Slice()
}

// LearnerNodes returns the IDs of the learners in ascending order, nil if
// there are none. Nodes in LearnersNext are still voters and not included.
func (p *ProgressTracker) LearnerNodes() []uint64 {
	return quorum.MajorityConfig(p.Learners).Slice()
}

// ResetVotes forgets all votes, for a new election.
func (p *ProgressTracker) ResetVotes() {
	p.Votes = map[uint64]bool{}
}

// RecordVote records that node id granted (v true) or rejected its vote.
// Only the first answer of a node in an election counts; later ones, which
// can only be duplicates or reordered messages, are ignored.
func (p *ProgressTracker) RecordVote(id uint64, v bool) {
	if _, answered := p.Votes[id]; !answered {
		p.Votes[id] = v
	}
}

// TallyVotes counts the granted and rejected votes of the current voters
// (each voter once, even if it votes in both halves) and returns the state of
// the election. Votes of non-voters are ignored.
func (p *ProgressTracker) TallyVotes() (granted int, rejected int, _ quorum.VoteResult) {
	count := func(id uint64) {
		v, answered := p.Votes[id]
		switch {
		case !answered:
		case v:
			granted++
		default:
			rejected++
		}
	}
	for id := range p.Voters[0] {
		count(id)
	}
	for id := range p.Voters[1] {
		if _, counted := p.Voters[0][id]; !counted {
			count(id)
		}
	}
	return granted, rejected, p.Voters.VoteResult(p.Votes)
}
