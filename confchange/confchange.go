package confchange

import (
	"errors"
	"fmt"

	"github.com/pontoon-raft/raft/quorum"
	pb "github.com/pontoon-raft/raft/raftpb"
	"github.com/pontoon-raft/raft/tracker"
)

// Changer computes configuration changes on top of Tracker. Its methods
// leave Tracker untouched: the Config is deep-copied, the ProgressMap is
// copied, and a Progress is copied before it is modified, so the result
// shares only unchanged Progress values with Tracker.
//
// A change that adds a node gives it a fresh Progress: Match 0, Next
// LastIndex (at least 1, to keep Match < Next), RecentActive true (so that a
// CheckQuorum right after the change does not count it as silent), and an
// Inflights window sized by Tracker.MaxInflight and Tracker.MaxInflightBytes.
//
// Each change is applied in order:
//   - ConfChangeAddNode makes the node an incoming voter (promoting it if it
//     is a learner or in LearnersNext).
//   - ConfChangeAddLearnerNode makes the node a learner. A node that still
//     votes in the outgoing half cannot be a learner yet; it leaves the
//     incoming voters and waits in LearnersNext until LeaveJoint.
//   - ConfChangeRemoveNode removes the node from the incoming voters and the
//     learners. Its Progress is kept while it votes in the outgoing half.
//   - ConfChangeUpdateNode changes nothing in the membership.
//   - Changes with NodeID 0 are ignored.
//
// Every configuration returned satisfies these invariants (and the
// Tracker's configuration must satisfy them too, or nothing is computed):
// no node is both a voter and a learner; LearnersNext holds only outgoing
// voters that are not incoming voters; every member has a Progress, whose
// IsLearner flag is true exactly for learners, and no one else has one; a
// configuration that is not joint has no LearnersNext and AutoLeave false;
// empty Learners, LearnersNext and outgoing voter sets are nil.
type Changer struct {
	Tracker   tracker.ProgressTracker
	LastIndex uint64
}

// The errors of invalid changes carry etcd/raft's wording, which
// applications (and etcd's own test scripts) may match.
var (
	errAlreadyJoint     = errors.New("config is already joint")
	errNotJoint         = errors.New("can't leave a non-joint config")
	errZeroVoterJoint   = errors.New("can't make a zero-voter config joint")
	errSimpleInJoint    = errors.New("can't apply simple config change in joint config")
	errRemovedAllVoters = errors.New("removed all voters")
	errManyVoterChanges = errors.New("more than one voter changed without entering joint config")
)

// EnterJoint starts a joint configuration: the current voters become the
// outgoing half, and ccs are applied to the incoming half (and to the
// learners). autoLeave records whether the leader should propose leaving the
// joint configuration by itself once it is committed. It fails if the
// configuration is already joint or has no voters, or if the changes remove
// every incoming voter.
func (c Changer) EnterJoint(autoLeave bool, ccs ...pb.ConfChangeSingle) (tracker.Config, tracker.ProgressMap, error) {
	d, err := c.draft()
	if err != nil {
		return fail(err)
	}
	if d.joint() {
		return fail(errAlreadyJoint)
	}
	if len(d.cfg.Voters[0]) == 0 {
		return fail(errZeroVoterJoint)
	}
	d.cfg.Voters[1] = quorum.MajorityConfig{}
	for id := range d.cfg.Voters[0] {
		d.cfg.Voters[1][id] = struct{}{}
	}
	if err := d.apply(ccs); err != nil {
		return fail(err)
	}
	d.cfg.AutoLeave = autoLeave
	return d.finish()
}

// LeaveJoint ends a joint configuration: the outgoing voters are dropped
// (with their Progress, unless they remain incoming voters or become
// learners), the nodes in LearnersNext become learners, and AutoLeave is
// cleared. It fails if the configuration is not joint.
func (c Changer) LeaveJoint() (tracker.Config, tracker.ProgressMap, error) {
	d, err := c.draft()
	if err != nil {
		return fail(err)
	}
	if !d.joint() {
		return fail(errNotJoint)
	}
	for id := range d.cfg.LearnersNext {
		addTo(&d.cfg.Learners, id)
		d.writable(id).IsLearner = true
	}
	d.cfg.LearnersNext = nil
	for id := range d.cfg.Voters[1] {
		_, voter := d.cfg.Voters[0][id]
		_, learner := d.cfg.Learners[id]
		if !voter && !learner {
			delete(d.prs, id)
		}
	}
	d.cfg.Voters[1] = nil
	d.cfg.AutoLeave = false
	return d.finish()
}

// Simple applies ccs without joint consensus. That is only safe when the set
// of voters changes by at most one node (any majority of the old voters then
// overlaps any majority of the new ones), so Simple fails if more than one
// voter is added or removed in total, if the configuration is joint, or if
// the changes remove every voter. Learner changes are not limited.
func (c Changer) Simple(ccs ...pb.ConfChangeSingle) (tracker.Config, tracker.ProgressMap, error) {
	d, err := c.draft()
	if err != nil {
		return fail(err)
	}
	if d.joint() {
		return fail(errSimpleInJoint)
	}
	if err := d.apply(ccs); err != nil {
		return fail(err)
	}
	if symmetricDifference(c.Tracker.Voters[0], d.cfg.Voters[0]) > 1 {
		return fail(errManyVoterChanges)
	}
	return d.finish()
}

// fail is the return value of every failed operation.
func fail(err error) (tracker.Config, tracker.ProgressMap, error) {
	return tracker.Config{}, nil, err
}

// draft is a configuration being computed from a Changer.
type draft struct {
	chg Changer
	cfg tracker.Config
	prs tracker.ProgressMap
}

// draft validates the Changer's configuration and copies it for editing.
func (c Changer) draft() (*draft, error) {
	if err := validate(c.Tracker.Config, c.Tracker.Progress); err != nil {
		return nil, fmt.Errorf("confchange: the current configuration is invalid: %w", err)
	}
	d := &draft{
		chg: c,
		cfg: c.Tracker.Config.Clone(),
		prs: make(tracker.ProgressMap, len(c.Tracker.Progress)),
	}
	if d.cfg.Voters[0] == nil {
		d.cfg.Voters[0] = quorum.MajorityConfig{}
	}
	for id, pr := range c.Tracker.Progress {
		d.prs[id] = pr
	}
	return d, nil
}

// joint reports whether the draft has an outgoing half.
func (d *draft) joint() bool {
	return len(d.cfg.Voters[1]) > 0
}

// writable returns the draft's Progress for id (which must exist), copying it
// first if it is still shared with the Changer's tracker.
func (d *draft) writable(id uint64) *tracker.Progress {
	pr := d.prs[id]
	if pr == d.chg.Tracker.Progress[id] {
		cp := *pr
		pr = &cp
		d.prs[id] = pr
	}
	return pr
}

// apply performs ccs in order. The incoming half must keep at least one
// voter.
func (d *draft) apply(ccs []pb.ConfChangeSingle) error {
	for _, cc := range ccs {
		if cc.NodeID == 0 {
			continue
		}
		switch cc.Type {
		case pb.ConfChangeAddNode:
			d.makeVoter(cc.NodeID)
		case pb.ConfChangeAddLearnerNode:
			d.makeLearner(cc.NodeID)
		case pb.ConfChangeRemoveNode:
			d.remove(cc.NodeID)
		case pb.ConfChangeUpdateNode:
		default:
			return fmt.Errorf("confchange: unknown change type %d for node %d", cc.Type, cc.NodeID)
		}
	}
	if len(d.cfg.Voters[0]) == 0 {
		return errRemovedAllVoters
	}
	return nil
}

// makeVoter adds id to the incoming voters, whatever its role so far.
func (d *draft) makeVoter(id uint64) {
	pr := d.prs[id]
	if pr == nil {
		d.addNode(id, false)
		return
	}
	if pr.IsLearner {
		d.writable(id).IsLearner = false
	}
	removeFrom(&d.cfg.Learners, id)
	removeFrom(&d.cfg.LearnersNext, id)
	d.cfg.Voters[0][id] = struct{}{}
}

// makeLearner turns id into a learner, or schedules that in LearnersNext if
// it votes in the outgoing half.
func (d *draft) makeLearner(id uint64) {
	pr := d.prs[id]
	if pr == nil {
		d.addNode(id, true)
		return
	}
	if pr.IsLearner {
		return
	}
	delete(d.cfg.Voters[0], id)
	if _, outgoing := d.cfg.Voters[1][id]; outgoing {
		addTo(&d.cfg.LearnersNext, id)
		return
	}
	d.writable(id).IsLearner = true
	addTo(&d.cfg.Learners, id)
}

// remove takes id out of the incoming voters and the learners. The Progress
// stays while id votes in the outgoing half; LeaveJoint drops it then.
func (d *draft) remove(id uint64) {
	if _, ok := d.prs[id]; !ok {
		return
	}
	delete(d.cfg.Voters[0], id)
	removeFrom(&d.cfg.Learners, id)
	removeFrom(&d.cfg.LearnersNext, id)
	if _, outgoing := d.cfg.Voters[1][id]; !outgoing {
		delete(d.prs, id)
	}
}

// addNode makes id, which has no Progress yet, a learner or an incoming
// voter.
func (d *draft) addNode(id uint64, learner bool) {
	d.prs[id] = &tracker.Progress{
		Match: 0,
		// The leader probes a new peer at its last index: the peer may well
		// have been seeded with a snapshot out of band.
		Next:         max(d.chg.LastIndex, 1),
		RecentActive: true,
		Inflights:    tracker.NewInflights(d.chg.Tracker.MaxInflight, d.chg.Tracker.MaxInflightBytes),
		IsLearner:    learner,
	}
	if learner {
		addTo(&d.cfg.Learners, id)
	} else {
		d.cfg.Voters[0][id] = struct{}{}
	}
}

// finish normalises empty sets to nil, checks the invariants and returns the
// result.
func (d *draft) finish() (tracker.Config, tracker.ProgressMap, error) {
	if len(d.cfg.Voters[1]) == 0 {
		d.cfg.Voters[1] = nil
	}
	if len(d.cfg.Learners) == 0 {
		d.cfg.Learners = nil
	}
	if len(d.cfg.LearnersNext) == 0 {
		d.cfg.LearnersNext = nil
	}
	if err := validate(d.cfg, d.prs); err != nil {
		return fail(fmt.Errorf("confchange: the resulting configuration is invalid: %w", err))
	}
	return d.cfg, d.prs, nil
}

// addTo adds id to *set, creating the set if it is nil.
func addTo(set *map[uint64]struct{}, id uint64) {
	if *set == nil {
		*set = map[uint64]struct{}{}
	}
	(*set)[id] = struct{}{}
}

// removeFrom removes id from *set, and sets *set to nil once it is empty.
func removeFrom(set *map[uint64]struct{}, id uint64) {
	delete(*set, id)
	if len(*set) == 0 {
		*set = nil
	}
}

// symmetricDifference counts the IDs that are in exactly one of a and b.
func symmetricDifference(a, b map[uint64]struct{}) int {
	n := 0
	for id := range a {
		if _, ok := b[id]; !ok {
			n++
		}
	}
	for id := range b {
		if _, ok := a[id]; !ok {
			n++
		}
	}
	return n
}
