package host

import (
	"sync"

	"github.com/pontoon-raft/raft"
	pb "github.com/pontoon-raft/raft/raftpb"
	"github.com/pontoon-raft/raft/tracker"
	"github.com/pontoon-raft/raft/wal"
)

// group is this host's replica of one Raft group. The fields up to apMu
// belong to the Raft loop; those after it to the apply stage, under apMu.
type group struct {
	id      uint64
	rn      *raft.RawNode
	storage *wal.GroupStorage

	// dirty: the replica may have a Ready (it is in Host.dirty).
	dirty bool
	// status as of the last Ready.
	lead, term, commit uint64
	role               raft.StateType
	confState          pb.ConfState
	// applied is the index the apply stage last reported applied.
	applied uint64
	// proposals waiting for their command to be applied here, by
	// sequence number; reads waiting for a ReadState, by token; reads
	// with a read index, waiting for applied to reach it. The maps are
	// nil while the replica is quiesced and they are empty (releaseRequestMaps).
	proposals    map[uint64]*Request
	reads        map[uint64]*Request
	waitingReads []*Request
	admin        []*Request
	// snapConf holds, per snapshot index being written, the configuration
	// as of that index; released like the maps above.
	snapConf map[uint64]pb.ConfState
	// quiesced: the replica neither ticks nor heartbeats (quiesce.go);
	// idleTicks counts the leader's ticks with nothing to do.
	quiesced  bool
	idleTicks int
	// quiesceAcked: the followers that answered the quiesce heartbeat.
	quiesceAcked []uint64
	// ticking: the clock visits the replica (it is in Host.ticking);
	// clockStoppedTick is the host's tick when it stopped doing so.
	ticking          bool
	clockStoppedTick int64
	removed          bool

	apMu sync.Mutex
	// tasks waiting for the apply stage, in order; queued is set while the
	// group is in the apply stage's queue or being worked on.
	tasks  []applyTask
	queued bool
	sm     StateMachine
	// sessions is the replicated exactly-once table (session.go).
	sessions *sessions
	// smApplied/smAppliedTerm: the last entry the state machine holds.
	smApplied, smAppliedTerm uint64
	// lastSnapIndex is the index of the latest snapshot taken or restored;
	// snapInFlight is set while one is being written.
	lastSnapIndex uint64
	snapInFlight  bool
	// holding: a snapshot is being restored; append responses wait behind
	// it in tasks, in order.
	holding bool
	// broken is set when the state machine failed; the group applies
	// nothing more.
	broken error

	// lazyHS is, on the storage stage only, a HardState that moved the
	// commit index alone and was not written yet: it goes with the next
	// write (see RunStorage); lazyListed: g is in Host.lazy.
	lazyHS     pb.HardState
	lazyListed bool
}

// applyTask is work for the apply stage, done in order per group.
type applyTask struct {
	// entries to apply (MsgStorageApply), or nil.
	entries []pb.Entry
	// restore, if set, is a snapshot to load into the state machine.
	restore *pb.Snapshot
	// snapshot asks for a snapshot of what the state machine applied.
	snapshot bool
	// responses are stepped into the replica (or sent, for peers) once the
	// task is done.
	responses []pb.Message
}

// GroupStatus describes a replica, as Host.Status returns it.
type GroupStatus struct {
	Group    uint64
	Term     uint64
	Leader   uint64
	Role     raft.StateType
	Commit   uint64
	Applied  uint64
	Quiesced bool
	Config   pb.ConfState
	// Progress is the leader's view of each replica's log, keyed by
	// host ID; nil unless this replica leads.
	Progress map[uint64]tracker.Progress
}

func (g *group) status() GroupStatus {
	st := GroupStatus{Group: g.id, Term: g.term, Leader: g.lead, Role: g.role, Commit: g.commit,
		Applied: g.applied, Quiesced: g.quiesced, Config: g.confState}
	if g.role == raft.StateLeader {
		st.Progress = g.rn.Status().Progress
	}
	return st
}

// floor returns the lowest sequence number of the host's proposals still
// waiting in g: the session's commands below it are all done.
func (g *group) floor(next uint64) uint64 {
	f := next
	for seq := range g.proposals {
		f = min(f, seq)
	}
	return f
}
