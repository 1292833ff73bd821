package raftsim

import (
	"fmt"
	"slices"

	"github.com/pontoon-raft/raft"
	pb "github.com/pontoon-raft/raft/raftpb"
)

// The invariants that keep Raft's quorum rules honest across
// configuration changes, and the quorum arithmetic they share with
// InvQuorumBeforeApply.

// InvLeaderInConfig: a node that becomes leader is a voter (incoming or
// outgoing) in the configuration it has applied; with StepDownOnRemoval a
// leader stays one for as long as it leads. A node removed from the
// configuration therefore never leads a configuration without it.
const InvLeaderInConfig = "leader-in-config"

// InvCommitQuorum: whenever a leader's commit index advances, a quorum of
// its applied configuration (both majorities while joint) holds every newly
// committed entry in durable storage, or a snapshot covering it.
const InvCommitQuorum = "commit-quorum"

// InvConfigAgreement: every node that applies the conf change entry at an
// index ends up with the same configuration: configurations are part of
// the replicated state, like the state machine.
const InvConfigAgreement = "config-agreement"

// configAgreement checks InvConfigAgreement.
type configAgreement struct {
	// at is the configuration the first node to apply each conf change
	// entry reached.
	at map[uint64]pb.ConfState
}

func (*configAgreement) Name() string { return InvConfigAgreement }

func (ca *configAgreement) Check(v *View) error {
	ev := v.Event()
	for _, a := range ev.Applied {
		if a.ConfState == nil {
			continue
		}
		first, ok := ca.at[a.Entry.Index]
		if !ok {
			ca.at[a.Entry.Index] = *a.ConfState
			continue
		}
		if err := first.Equivalent(*a.ConfState); err != nil {
			return fmt.Errorf("node %d applied the conf change at index %d and reached %s; another node reached %s: %v",
				ev.Node, a.Entry.Index, describeConfState(*a.ConfState), describeConfState(first), err)
		}
	}
	return nil
}

// leaderInConfig checks InvLeaderInConfig.
type leaderInConfig struct {
	// seen[id] is the term in which node id was last seen leading.
	seen [MaxNodes + 1]uint64
}

func (*leaderInConfig) Name() string { return InvLeaderInConfig }

func (lc *leaderInConfig) Check(v *View) error {
	for _, n := range v.s.nodes {
		if n.node == nil || n.status.RaftState != raft.StateLeader {
			continue
		}
		becameLeader := lc.seen[n.id] != n.status.Term
		lc.seen[n.id] = n.status.Term
		if (becameLeader || v.s.opts.StepDownOnRemoval) && !isVoter(n.confState, n.id) {
			return fmt.Errorf("node %d leads term %d but is no voter in its configuration %s",
				n.id, n.status.Term, describeConfState(n.confState))
		}
	}
	return nil
}

// commitQuorum checks InvCommitQuorum.
type commitQuorum struct {
	// term and commit are what each node's status said the last time it
	// was seen leading; term is 0 when it was not.
	term, commit [MaxNodes + 1]uint64
	incarnation  [MaxNodes + 1]int
}

func (*commitQuorum) Name() string { return InvCommitQuorum }

func (cq *commitQuorum) Check(v *View) error {
	for _, n := range v.s.nodes {
		if n.node == nil || n.status.RaftState != raft.StateLeader {
			cq.term[n.id] = 0
			continue
		}
		st := n.status
		from := st.Commit
		if cq.term[n.id] == st.Term && cq.incarnation[n.id] == n.incarnation {
			from = cq.commit[n.id]
		}
		cq.term[n.id], cq.commit[n.id], cq.incarnation[n.id] = st.Term, st.Commit, n.incarnation
		for i := from + 1; i <= st.Commit; i++ {
			ok, err := quorumHoldsSomeTerm(v, n.confState, i)
			if err != nil {
				return err
			}
			if !ok {
				return fmt.Errorf("leader %d (term %d) committed index %d, which no quorum of its configuration %s holds durably",
					n.id, st.Term, i, describeConfState(n.confState))
			}
		}
	}
	return nil
}

// holding is what a node's durable storage holds at some index: a snapshot
// covering it, or an entry of some term (0: none).
type holding struct {
	covered bool
	term    uint64
}

func storageHolding(st raft.Storage, index uint64) (holding, error) {
	snap, err := st.Snapshot()
	if err != nil {
		return holding{}, err
	}
	if snap.Metadata.Index >= index {
		return holding{covered: true}, nil
	}
	if t, err := st.Term(index); err == nil {
		return holding{term: t}, nil
	}
	return holding{}, nil
}

// majorityHolds reports whether more than half of ids hold the entry of
// the given term at index (an empty set holds everything, as an empty
// half of a configuration agrees to anything).
func majorityHolds(v *View, ids []uint64, index, term uint64) (bool, error) {
	if len(ids) == 0 {
		return true, nil
	}
	holders := 0
	for _, id := range ids {
		st := v.Storage(id)
		if st == nil {
			continue
		}
		h, err := storageHolding(st, index)
		if err != nil {
			return false, err
		}
		if h.covered || (h.term != 0 && h.term == term) {
			holders++
		}
	}
	return 2*holders > len(ids), nil
}

// quorumHolds reports whether a quorum of cs (both majorities while joint)
// durably holds the entry of the given term at index.
func quorumHolds(v *View, cs pb.ConfState, index, term uint64) (bool, error) {
	ok, err := majorityHolds(v, cs.Voters, index, term)
	if err != nil || !ok {
		return false, err
	}
	return majorityHolds(v, cs.VotersOutgoing, index, term)
}

// quorumHoldsSomeTerm reports whether a quorum of cs durably holds the same
// entry at index, whatever its term. Term 0 stands for "snapshots only".
func quorumHoldsSomeTerm(v *View, cs pb.ConfState, index uint64) (bool, error) {
	terms := []uint64{0}
	for _, id := range configMembers(cs) {
		if st := v.Storage(id); st != nil {
			h, err := storageHolding(st, index)
			if err != nil {
				return false, err
			}
			if h.term != 0 && !slices.Contains(terms, h.term) {
				terms = append(terms, h.term)
			}
		}
	}
	for _, t := range terms {
		if ok, err := quorumHolds(v, cs, index, t); err != nil || ok {
			return ok, err
		}
	}
	return false, nil
}

// heldByQuorumBefore reports whether a quorum of some configuration in
// force before index (one applied at a lower index) durably holds e. The
// leader that committed e used one of them: its own applied configuration,
// which may lag the log by any number of changes.
func heldByQuorumBefore(v *View, e pb.Entry) (bool, error) {
	configs := v.s.membership.configs
	for k := len(configs) - 1; k >= 0; k-- {
		if configs[k].index >= e.Index && k > 0 {
			continue // the initial configuration covers the bootstrap entries
		}
		ok, err := quorumHolds(v, configs[k].cs, e.Index, e.Term)
		if err != nil || ok {
			return ok, err
		}
	}
	return false, nil
}

// describeConfState renders cs on one line.
func describeConfState(cs pb.ConfState) string {
	s := fmt.Sprintf("voters=%v", cs.Voters)
	if len(cs.VotersOutgoing) > 0 {
		s += fmt.Sprintf("&&%v", cs.VotersOutgoing)
	}
	if len(cs.Learners) > 0 {
		s += fmt.Sprintf(" learners=%v", cs.Learners)
	}
	if len(cs.LearnersNext) > 0 {
		s += fmt.Sprintf(" learners_next=%v", cs.LearnersNext)
	}
	if cs.AutoLeave {
		s += " autoleave"
	}
	return s
}
