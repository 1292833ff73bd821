package raftsim

import (
	"fmt"
	"slices"

	"github.com/pontoon-raft/raft"
	pb "github.com/pontoon-raft/raft/raftpb"
	"github.com/pontoon-raft/raft/wal"
)

// Membership changes (Faults.ConfChangeProb). The simulator keeps a pool of
// up to MaxNodes node IDs. The first Options.Nodes start as voters; the
// others are created on demand, with empty storage and no configuration,
// when a conf change adds them, and catch up by appends or a snapshot once
// the leader has applied the change. A node that a committed configuration
// no longer contains is shut down for good ("retired") an election timeout
// later, as an operator would, and its ID is never used again: a node that
// voted in some term must not come back with an empty log.

// The fault kinds of membership changes. Each counts a conf change proposed
// on the leader (it may still be dropped or superseded), except
// FaultRetireNode, which counts removed nodes shut down.
const (
	FaultAddVoter    FaultKind = "add-voter"
	FaultAddLearner  FaultKind = "add-learner"
	FaultRemoveNode  FaultKind = "remove-node"
	FaultPromote     FaultKind = "promote-learner"
	FaultDemote      FaultKind = "demote-voter"
	FaultJointChange FaultKind = "joint-change"
	FaultLeaveJoint  FaultKind = "leave-joint"
	FaultReplaceNode FaultKind = "replace-node"
	FaultRetireNode  FaultKind = "retire-node"
)

// EventConfChange proposed a configuration change on Node, the leader.
const EventConfChange EventKind = "conf-change"

// configRecord is the configuration in force once the entry at index is
// applied.
type configRecord struct {
	index uint64
	cs    pb.ConfState
}

// membershipState follows the configurations the cluster went through and
// the fate of every node ID.
type membershipState struct {
	// configs lists every configuration some node applied, by ascending
	// index; configs[0] is the initial one, at the last bootstrap index.
	configs []configRecord
	// everMember marks the IDs that some applied configuration contained.
	everMember [MaxNodes + 1]bool
	// retireAt is the tick at which a removed node is shut down, or 0.
	retireAt [MaxNodes + 1]int64
}

// newSimNode returns node id with empty storage, asynchronous or not as the
// Options say. It is not started.
func (s *Sim) newSimNode(id uint64) *simNode {
	n := &simNode{id: id, storage: raft.NewMemoryStorage()}
	if s.asyncFor(id) {
		n.async = &asyncThreads{}
	}
	if s.opts.Storage == StorageWAL {
		s.newDisk(n)
	}
	return n
}

// initMembership records the initial configuration, every node a voter,
// in force from the last bootstrap entry on.
func (s *Sim) initMembership() {
	cs := pb.ConfState{}
	for _, id := range s.ids {
		cs.Voters = append(cs.Voters, id)
		s.membership.everMember[id] = true
	}
	s.membership.configs = []configRecord{{index: uint64(len(s.ids)), cs: cs}}
}

// confChangeApplied follows up node n's application of the conf change at
// index: the configuration is recorded, and if n's storage holds a
// snapshot, n takes a new one. A snapshot is the only way to catch up a
// node added after the log was compacted, and a node ignores a snapshot
// whose configuration does not include it, so an application must not keep
// offering one from before the node was added.
func (s *Sim) confChangeApplied(n *simNode, index uint64) {
	s.recordConfig(index, n.confState)
	if snap, _ := n.storage.Snapshot(); snap.Metadata.Index == 0 || snap.Metadata.Index >= n.applied {
		return
	}
	if !s.commitDurable(n) {
		n.async.snapshotWanted = true // taken once the commit index is written
		return
	}
	s.snapshotForConfig(n)
}

// snapshotForConfig makes n's storage snapshot its state machine at its
// applied index, without compacting.
func (s *Sim) snapshotForConfig(n *simNode) {
	snap := s.localSnapshot(n)
	if !s.persist(n, wal.Update{LocalSnapshot: snap}, fmt.Sprintf("snapshot at %d after a conf change", n.applied)) {
		return
	}
	s.tracef("node %d snapshot at %d for its new configuration %s", n.id, n.applied, describeConfState(snap.Metadata.ConfState))
}

// recordConfig notes the configuration a node reached by applying the conf
// change at index. The first node to apply an index speaks for all (state
// machine safety checks that the others apply the same entry). Nodes the
// new configuration drops are scheduled for retirement.
func (s *Sim) recordConfig(index uint64, cs pb.ConfState) {
	ms := &s.membership
	if index <= ms.configs[len(ms.configs)-1].index {
		return
	}
	ms.configs = append(ms.configs, configRecord{index: index, cs: cloneConfState(cs)})
	s.res.ConfChangesApplied++
	for _, id := range configMembers(cs) {
		ms.everMember[id] = true
	}
	for _, n := range s.nodes {
		if ms.everMember[n.id] && !n.retired && ms.retireAt[n.id] == 0 && !isMember(cs, n.id) {
			ms.retireAt[n.id] = s.tick + int64(s.opts.ElectionTick)
			s.tracef("node %d left the configuration at index %d; it shuts down at tick %d", n.id, index, ms.retireAt[n.id])
		}
	}
}

func cloneConfState(cs pb.ConfState) pb.ConfState {
	return pb.ConfState{
		Voters: slices.Clone(cs.Voters), Learners: slices.Clone(cs.Learners),
		VotersOutgoing: slices.Clone(cs.VotersOutgoing), LearnersNext: slices.Clone(cs.LearnersNext),
		AutoLeave: cs.AutoLeave,
	}
}

// latestConfig returns the configuration of the highest index any node has
// applied.
func (s *Sim) latestConfig() configRecord {
	return s.membership.configs[len(s.membership.configs)-1]
}

// configMembers lists every ID in cs: voters, outgoing voters, learners and
// learners to be.
func configMembers(cs pb.ConfState) []uint64 {
	var out []uint64
	for _, ids := range [][]uint64{cs.Voters, cs.VotersOutgoing, cs.Learners, cs.LearnersNext} {
		for _, id := range ids {
			if !slices.Contains(out, id) {
				out = append(out, id)
			}
		}
	}
	slices.Sort(out)
	return out
}

func isMember(cs pb.ConfState, id uint64) bool { return slices.Contains(configMembers(cs), id) }

// isVoter reports whether id votes in cs, in either half of a joint
// configuration.
func isVoter(cs pb.ConfState, id uint64) bool {
	return slices.Contains(cs.Voters, id) || slices.Contains(cs.VotersOutgoing, id)
}

// isCurrentMember reports whether node id belongs to the latest applied
// configuration; the liveness check waits only for those.
func (s *Sim) isCurrentMember(id uint64) bool { return isMember(s.latestConfig().cs, id) }

// retireDue shuts down the removed nodes whose time has come, or all of
// them when all is set (the end of the fault phase), but only once a
// quorum of the latest configuration knows durably that it is committed.
// Configurations take effect when applied: voters that have the entry
// leaving a joint configuration but not its commit index still need the
// outgoing voters to elect a leader, and only a leader can tell them.
func (s *Sim) retireDue(all bool) {
	known := -1 // unknown until a node is due
	for _, n := range s.nodes {
		at := s.membership.retireAt[n.id]
		if n.retired || at == 0 || (!all && at > s.tick) {
			continue
		}
		if known < 0 {
			known = 0
			if s.latestConfigDurable() {
				known = 1
			}
		}
		if known == 0 {
			return
		}
		// A later configuration may have taken the node back before it
		// ever stopped: it was never down, so it keeps its ID.
		if isMember(s.latestConfig().cs, n.id) {
			s.membership.retireAt[n.id] = 0
			continue
		}
		if n.node != nil {
			s.crash(n)
		}
		n.retired = true
		s.res.Faults[FaultRetireNode]++
		s.tracef("node %d retired: removed from the configuration, shut down for good", n.id)
	}
}

// latestConfigDurable reports whether a quorum of the latest
// configuration's voters has a durable commit index covering it.
func (s *Sim) latestConfigDurable() bool {
	latest := s.latestConfig()
	knows := func(ids []uint64) bool {
		k := 0
		for _, id := range ids {
			if hs, _, err := s.node(id).storage.InitialState(); err == nil && hs.Commit >= latest.index {
				k++
			}
		}
		return len(ids) == 0 || 2*k > len(ids)
	}
	return knows(latest.cs.Voters) && knows(latest.cs.VotersOutgoing)
}

// freshNode returns a node that may join the cluster: one created for an
// earlier addition that never took effect, or a new one while the pool has
// room. It returns nil when there is none.
func (s *Sim) freshNode() *simNode {
	for _, n := range s.nodes {
		if !s.membership.everMember[n.id] && !n.retired && s.membership.retireAt[n.id] == 0 {
			return n
		}
	}
	if len(s.nodes) >= MaxNodes {
		return nil
	}
	n := s.newSimNode(uint64(len(s.nodes) + 1))
	s.ids = append(s.ids, n.id)
	s.nodes = append(s.nodes, n)
	if err := s.startNode(n); err != nil {
		panic(contractError{err})
	}
	s.tracef("node %d created with empty storage", n.id)
	return n
}

// confChangeRandom proposes a random membership change on the leader, as
// one event, chosen among those its applied configuration allows. It
// returns false when there is no leader or nothing to propose.
func (s *Sim) confChangeRandom() bool {
	l := s.leader()
	if l == nil {
		return false
	}
	cs := l.confState
	if len(cs.VotersOutgoing) > 0 {
		if cs.AutoLeave {
			return false // the leader leaves by itself
		}
		s.beginEvent(EventConfChange, l.id)
		s.proposeConfChange(l, FaultLeaveJoint, pb.ConfChangeV2{})
		return true
	}
	voters, learners := slices.Clone(cs.Voters), slices.Clone(cs.Learners)
	maxDepart := maxDepartingVoters(len(voters))
	var kinds []FaultKind
	hasRoom := s.freshAvailable()
	if hasRoom && len(voters) < MaxNodes {
		kinds = append(kinds, FaultAddVoter)
		if maxDepart > 0 {
			kinds = append(kinds, FaultReplaceNode)
		}
	}
	if hasRoom {
		kinds = append(kinds, FaultAddLearner)
	}
	if maxDepart > 0 || len(learners) > 0 {
		kinds = append(kinds, FaultRemoveNode)
	}
	if len(learners) > 0 {
		kinds = append(kinds, FaultPromote)
	}
	if maxDepart > 0 {
		kinds = append(kinds, FaultDemote, FaultJointChange)
	}
	// Keep clusters near their initial size: shrinking kinds are left out
	// of the draw while the cluster is small, growing ones while it is big.
	kinds = slices.DeleteFunc(kinds, func(k FaultKind) bool {
		shrinks := k == FaultRemoveNode || k == FaultDemote
		grows := k == FaultAddVoter || k == FaultPromote
		return (shrinks && len(voters) < s.opts.Nodes && len(kinds) > 1) ||
			(grows && len(voters) > s.opts.Nodes+1 && len(kinds) > 1)
	})
	if len(kinds) == 0 {
		return false
	}
	kind := kinds[s.rng.Intn(len(kinds))]
	s.beginEvent(EventConfChange, l.id)
	var changes []pb.ConfChangeSingle
	switch kind {
	case FaultAddVoter:
		changes = []pb.ConfChangeSingle{{Type: pb.ConfChangeAddNode, NodeID: s.freshNode().id}}
	case FaultAddLearner:
		changes = []pb.ConfChangeSingle{{Type: pb.ConfChangeAddLearnerNode, NodeID: s.freshNode().id}}
	case FaultRemoveNode:
		candidates := learners
		if maxDepart > 0 {
			candidates = append(candidates, voters...)
		}
		changes = []pb.ConfChangeSingle{{Type: pb.ConfChangeRemoveNode, NodeID: candidates[s.rng.Intn(len(candidates))]}}
	case FaultPromote:
		changes = []pb.ConfChangeSingle{{Type: pb.ConfChangeAddNode, NodeID: learners[s.rng.Intn(len(learners))]}}
	case FaultDemote:
		changes = []pb.ConfChangeSingle{{Type: pb.ConfChangeAddLearnerNode, NodeID: voters[s.rng.Intn(len(voters))]}}
	case FaultReplaceNode:
		out := voters[s.rng.Intn(len(voters))]
		changes = []pb.ConfChangeSingle{
			{Type: pb.ConfChangeRemoveNode, NodeID: out},
			{Type: pb.ConfChangeAddNode, NodeID: s.freshNode().id},
		}
	case FaultJointChange:
		changes = s.randomJointChanges(voters, learners)
	}
	if len(changes) == 1 && s.rng.Intn(2) == 0 {
		// The same change in the original encoding.
		s.proposeConfChange(l, kind, pb.ConfChange{Type: changes[0].Type, NodeID: changes[0].NodeID})
		return true
	}
	transition := pb.ConfChangeTransitionAuto
	if len(changes) > 1 {
		transition = pb.ConfChangeTransition(s.rng.Intn(3))
	}
	s.proposeConfChange(l, kind, pb.ConfChangeV2{Transition: transition, Changes: changes})
	return true
}

// maxDepartingVoters is how many of n voters one change may remove or
// demote: the others must stay a majority of the old voters. Configurations
// take effect when applied, so the remaining voters may still run under
// the old configuration when the departing ones stop being candidates; if
// the departing ones held the longest logs and were a majority, no voter
// could win an election (the two-voter removal hazard etcd/raft documents).
func maxDepartingVoters(n int) int { return (n - 1) / 2 }

// freshAvailable reports whether freshNode would find or create a node.
func (s *Sim) freshAvailable() bool {
	if len(s.nodes) < MaxNodes {
		return true
	}
	for _, n := range s.nodes {
		if !s.membership.everMember[n.id] && !n.retired && s.membership.retireAt[n.id] == 0 {
			return true
		}
	}
	return false
}

// randomJointChanges returns two or three changes to distinct nodes, among
// removing, demoting and adding voters and promoting learners, that remove
// or demote at most maxDepartingVoters of the voters, which are at least
// three.
func (s *Sim) randomJointChanges(voters, learners []uint64) []pb.ConfChangeSingle {
	want := 2 + s.rng.Intn(2)
	touched := map[uint64]bool{}
	remaining := len(voters)
	departures := maxDepartingVoters(len(voters))
	var out []pb.ConfChangeSingle
	for tries := 0; len(out) < want && tries < 10; tries++ {
		switch s.rng.Intn(4) {
		case 0, 1: // remove or demote a voter
			id := voters[s.rng.Intn(len(voters))]
			if touched[id] || departures == 0 {
				continue
			}
			departures--
			typ := pb.ConfChangeRemoveNode
			if s.rng.Intn(2) == 0 {
				typ = pb.ConfChangeAddLearnerNode
			}
			out = append(out, pb.ConfChangeSingle{Type: typ, NodeID: id})
			touched[id] = true
			remaining--
		case 2: // promote a learner
			if len(learners) == 0 {
				continue
			}
			id := learners[s.rng.Intn(len(learners))]
			if touched[id] {
				continue
			}
			out = append(out, pb.ConfChangeSingle{Type: pb.ConfChangeAddNode, NodeID: id})
			touched[id] = true
			remaining++
		case 3: // add a new voter
			if !s.freshAvailable() || remaining >= MaxNodes {
				continue
			}
			n := s.freshNode()
			if touched[n.id] {
				continue
			}
			out = append(out, pb.ConfChangeSingle{Type: pb.ConfChangeAddNode, NodeID: n.id})
			touched[n.id] = true
			remaining++
		}
	}
	if len(out) < 2 {
		// Always possible with three voters: demote one, re-add another.
		out = []pb.ConfChangeSingle{
			{Type: pb.ConfChangeAddLearnerNode, NodeID: voters[0]},
			{Type: pb.ConfChangeAddNode, NodeID: voters[1]},
		}
	}
	return out
}

// proposeConfChange proposes cc on the leader l within the current event.
func (s *Sim) proposeConfChange(l *simNode, kind FaultKind, cc pb.ConfChangeI) {
	s.res.Faults[kind]++
	v2 := cc.AsV2()
	desc := fmt.Sprintf("%s %q", kind, pb.ConfChangesToString(v2.Changes))
	if _, isV1 := cc.(pb.ConfChange); isV1 {
		desc += " (v1)"
	} else if len(v2.Changes) > 0 {
		desc += " " + v2.Transition.String()
	}
	if err := l.node.ProposeConfChange(cc); err != nil {
		s.tracef("conf change on leader %d: %s: %v", l.id, desc, err)
		return
	}
	s.tracef("conf change on leader %d: %s", l.id, desc)
}
