package raft

import (
	"fmt"
	"strings"

	pb "github.com/pontoon-raft/raft/raftpb"
	"github.com/pontoon-raft/raft/tracker"
)

// BasicStatus is the part of a node's status that is cheap to produce.
type BasicStatus struct {
	ID uint64

	pb.HardState
	SoftState

	// Applied is the index of the last entry the application applied.
	Applied uint64

	// LeadTransferee is the node leadership is being transferred to, or None.
	LeadTransferee uint64
}

// Status is the full status of a node: BasicStatus plus its configuration
// and, on the leader, a copy of every peer's progress.
type Status struct {
	BasicStatus
	Config   tracker.Config
	Progress map[uint64]tracker.Progress
}

func getBasicStatus(r *raft) BasicStatus {
	return BasicStatus{
		ID:             r.id,
		HardState:      r.hardState(),
		SoftState:      r.softState(),
		Applied:        r.raftLog.applied,
		LeadTransferee: r.leadTransferee,
	}
}

func getStatus(r *raft) Status {
	s := Status{BasicStatus: getBasicStatus(r), Config: r.trk.Config.Clone()}
	if s.RaftState == StateLeader {
		s.Progress = make(map[uint64]tracker.Progress, len(r.trk.Progress))
		r.trk.Visit(func(id uint64, pr *tracker.Progress) {
			p := *pr
			p.Inflights = pr.Inflights.Clone()
			s.Progress[id] = p
		})
	}
	return s
}

// MarshalJSON encodes the status with hexadecimal node IDs, the format
// etcd's tools read.
func (s Status) MarshalJSON() ([]byte, error) {
	var b strings.Builder
	fmt.Fprintf(&b, `{"id":"%x","term":%d,"vote":"%x","commit":%d,"lead":"%x","raftState":%q,"applied":%d,"progress":{`,
		s.ID, s.Term, s.Vote, s.Commit, s.Lead, s.RaftState, s.Applied)
	first := true
	for _, id := range sortedProgressIDs(s.Progress) {
		pr := s.Progress[id]
		if !first {
			b.WriteByte(',')
		}
		first = false
		fmt.Fprintf(&b, `"%x":{"match":%d,"next":%d,"state":%q}`, id, pr.Match, pr.Next, pr.State)
	}
	fmt.Fprintf(&b, `},"leadtransferee":"%x"}`, s.LeadTransferee)
	return []byte(b.String()), nil
}

// String returns the JSON form of the status.
func (s Status) String() string {
	b, _ := s.MarshalJSON()
	return string(b)
}

func sortedProgressIDs(m map[uint64]tracker.Progress) []uint64 {
	ids := make([]uint64, 0, len(m))
	for id := range m {
		ids = append(ids, id)
	}
	sortIDs(ids)
	return ids
}
