package raftsim

import (
	"errors"
	"fmt"

	"github.com/pontoon-raft/raft"
	pb "github.com/pontoon-raft/raft/raftpb"
)

// The public entry points of a node that an application calls besides Tick,
// Step and Propose: Campaign, ForgetLeader and ReportUnreachable, called at
// random (TickQuiesced is in clock.go). The invariants must hold whatever
// an application calls when.

// The events of the entry points.
const (
	// EventCampaign called Campaign on Node.
	EventCampaign EventKind = "campaign"
	// EventForgetLeader called ForgetLeader on Node.
	EventForgetLeader EventKind = "forget-leader"
	// EventReportUnreachable made Node, the leader, report a peer
	// unreachable.
	EventReportUnreachable EventKind = "report-unreachable"
)

// InvStepErrors names the check that a node accepts what a correct node
// sends it: Step may refuse a response from a node it no longer has in its
// configuration (raft.ErrStepPeerNotFound) or a forwarded proposal
// (raft.ErrProposalDropped), and nothing else. An error such as
// raft.ErrMalformedMessage for a message another correct node sent means
// the two disagree about the protocol.
const InvStepErrors = "step-errors"

// stepRefusal is a panic value for a node refusing a correct node's
// message; the simulator reports it as an InvStepErrors violation.
type stepRefusal struct{ err error }

// checkStep fails the run if err is not an error a correct node may return
// for message m from a correct node.
func checkStep(n *simNode, m pb.Message, err error) {
	if err == nil || errors.Is(err, raft.ErrStepPeerNotFound) || errors.Is(err, raft.ErrProposalDropped) {
		return
	}
	panic(stepRefusal{fmt.Errorf("node %d refused %s: %w", n.id, raft.DescribeMessage(m, nil), err)})
}

func (s *Sim) campaignRandom() bool {
	n := s.pick(s.liveNodes(true))
	if n == nil {
		return false
	}
	s.beginEvent(EventCampaign, n.id)
	s.res.Faults[FaultCampaign]++
	err := n.node.Campaign()
	if err != nil && !errors.Is(err, raft.ErrCampaignRefused) {
		panic(stepRefusal{fmt.Errorf("node %d: Campaign: %w", n.id, err)})
	}
	if err != nil {
		s.tracef("node %d campaign: %v", n.id, err)
	} else {
		s.tracef("node %d campaign", n.id)
	}
	return true
}

func (s *Sim) forgetLeaderRandom() bool {
	n := s.pick(s.liveNodes(true))
	if n == nil {
		return false
	}
	s.beginEvent(EventForgetLeader, n.id)
	s.res.Faults[FaultForgetLeader]++
	if err := n.node.ForgetLeader(); err != nil {
		panic(stepRefusal{fmt.Errorf("node %d: ForgetLeader: %w", n.id, err)})
	}
	s.tracef("node %d forgets its leader", n.id)
	return true
}

func (s *Sim) reportUnreachableRandom() bool {
	l := s.leader()
	if l == nil {
		return false
	}
	var peers []*simNode
	for _, n := range s.nodes {
		if n.id != l.id && !n.retired {
			peers = append(peers, n)
		}
	}
	to := s.pick(peers)
	if to == nil {
		return false
	}
	s.beginEvent(EventReportUnreachable, l.id)
	s.res.Faults[FaultReportUnreachable]++
	l.node.ReportUnreachable(to.id)
	s.tracef("node %d reports node %d unreachable", l.id, to.id)
	return true
}

// Campaign calls Campaign on node id (if it is up) as one event. A refusal
// with raft.ErrCampaignRefused is part of the protocol and is returned as
// nil; any other error of the node fails the run (InvStepErrors).
func (s *Sim) Campaign(id uint64) error {
	n := s.node(id)
	if n == nil || n.node == nil {
		return nil
	}
	return s.do(func() {
		s.beginEvent(EventCampaign, id)
		err := n.node.Campaign()
		if err != nil && !errors.Is(err, raft.ErrCampaignRefused) {
			panic(stepRefusal{fmt.Errorf("node %d: Campaign: %w", id, err)})
		}
		s.tracef("node %d campaign: %v", id, err)
	})
}

// ForgetLeader calls ForgetLeader on node id (if it is up) as one event.
func (s *Sim) ForgetLeader(id uint64) error {
	n := s.node(id)
	if n == nil || n.node == nil {
		return nil
	}
	return s.do(func() {
		s.beginEvent(EventForgetLeader, id)
		if err := n.node.ForgetLeader(); err != nil {
			panic(stepRefusal{fmt.Errorf("node %d: ForgetLeader: %w", id, err)})
		}
		s.tracef("node %d forgets its leader", id)
	})
}

// ReportUnreachable makes node id (if it is up) report node peer
// unreachable, as one event.
func (s *Sim) ReportUnreachable(id, peer uint64) error {
	n := s.node(id)
	if n == nil || n.node == nil {
		return nil
	}
	return s.do(func() {
		s.beginEvent(EventReportUnreachable, id)
		n.node.ReportUnreachable(peer)
		s.tracef("node %d reports node %d unreachable", id, peer)
	})
}
