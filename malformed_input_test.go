package raft

// What no correct peer sends is refused with ErrMalformedMessage and changes
// nothing; misuse of the API is answered with an error. Neither panics.

import (
	"math"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	pb "github.com/pontoon-raft/raft/raftpb"
)

// nodeState is what a refused message must leave untouched.
type nodeState struct {
	term, vote, lead, committed uint64
	state                       StateType
	log                         []pb.Entry
	msgs                        int
}

func captureNodeState(rn *RawNode) nodeState {
	r := rn.raft
	return nodeState{
		term: r.Term, vote: r.Vote, lead: r.lead, committed: r.raftLog.committed, state: r.state,
		log: r.raftLog.allEntries(), msgs: len(r.msgs) + len(r.msgsAfterAppend),
	}
}

// requireRefused steps m into rn and checks that it is refused as malformed and
// changes nothing.
func requireRefused(t *testing.T, rn *RawNode, m pb.Message) {
	t.Helper()
	before := captureNodeState(rn)
	var err error
	require.NotPanics(t, func() { err = rn.Step(m) }, "%s", DescribeMessage(m, nil))
	assert.ErrorIs(t, err, ErrMalformedMessage, "%s", DescribeMessage(m, nil))
	assert.Equal(t, before, captureNodeState(rn), "%s changed the node", DescribeMessage(m, nil))
}

// TestMalformedAppendRefused: a MsgApp's entries must be consecutive from
// Index+1, with terms that never decrease, start at or above LogTerm and do
// not exceed the message's term. Anything else is refused before it
// touches the log: a gap used to panic, and duplicate or backwards indexes or
// a term from the future were written to the log.
func TestMalformedAppendRefused(t *testing.T) {
	app := func(index, logTerm uint64, ents ...pb.Entry) pb.Message {
		return pb.Message{Type: pb.MsgApp, From: 2, To: 1, Term: 4, Index: index, LogTerm: logTerm, Commit: 3, Entries: ents}
	}
	e := func(index, term uint64) pb.Entry { return pb.Entry{Index: index, Term: term} }
	for _, tt := range []struct {
		name string
		m    pb.Message
	}{
		{"gap", app(5, 3, e(6, 4), e(8, 4))},
		{"duplicate index", app(5, 3, e(6, 4), e(6, 4))},
		{"backwards", app(5, 3, e(7, 4), e(6, 4))},
		{"first entry not at Index+1", app(5, 3, e(7, 4))},
		{"first entry at Index", app(5, 3, e(5, 4))},
		{"entry term above the message term", app(5, 3, e(6, 5))},
		{"entry term below LogTerm", app(5, 3, e(6, 2))},
		{"decreasing terms", app(5, 3, e(6, 4), e(7, 3))},
		{"index overflow", app(math.MaxUint64, 3, e(0, 4))},
	} {
		t.Run(tt.name, func(t *testing.T) {
			rn, _ := nodeInRole(t, 0) // follower of 2 at term 4, log 1..5, commit 3
			requireRefused(t, rn, tt.m)
		})
	}
	t.Run("a well-formed append is accepted", func(t *testing.T) {
		rn, _ := nodeInRole(t, 0)
		require.NoError(t, rn.Step(app(5, 3, e(6, 3), e(7, 4))))
		assert.Equal(t, uint64(7), rn.raft.raftLog.lastIndex())
	})
}

// TestForgedResponsesRefused: responses that no correct peer sends are
// refused by the leader instead of being counted.
func TestForgedResponsesRefused(t *testing.T) {
	t.Run("acknowledgement beyond the leader's log", func(t *testing.T) {
		rn, _ := nodeInRole(t, 2) // leader of term 4, log 1..6
		last := rn.raft.raftLog.lastIndex()
		pr := *rn.raft.trk.Progress[2]
		requireRefused(t, rn, pb.Message{Type: pb.MsgAppResp, From: 2, To: 1, Term: 4, Index: last + 100})
		requireRefused(t, rn, pb.Message{Type: pb.MsgAppResp, From: 3, To: 1, Term: 4, Index: last + 1})
		assert.Equal(t, pr.Match, rn.raft.trk.Progress[2].Match)
	})
	t.Run("rejection of an index beyond the leader's log", func(t *testing.T) {
		rn, _ := nodeInRole(t, 2)
		last := rn.raft.raftLog.lastIndex()
		requireRefused(t, rn, pb.Message{Type: pb.MsgAppResp, From: 2, To: 1, Term: 4, Index: last + 5, Reject: true, RejectHint: last + 5})
	})
}

// TestHeartbeatCommitBeyondLogRefused: a leader never tells a follower to
// commit beyond what the follower acknowledged. A heartbeat that does is
// refused (it is forged or corrupt, or this node lost acknowledged entries,
// which it logs as an error) instead of panicking.
func TestHeartbeatCommitBeyondLogRefused(t *testing.T) {
	rn, _ := nodeInRole(t, 0)
	requireRefused(t, rn, pb.Message{Type: pb.MsgHeartbeat, From: 2, To: 1, Term: 4, Commit: 105})
	require.NoError(t, rn.Step(pb.Message{Type: pb.MsgHeartbeat, From: 2, To: 1, Term: 4, Commit: 5}))
	assert.Equal(t, uint64(5), rn.raft.raftLog.committed)
}

// TestSnapshotMessageRefused: a MsgSnap without a snapshot, or with one of a
// term later than the message's, is refused.
func TestSnapshotMessageRefused(t *testing.T) {
	cs := pb.ConfState{Voters: []uint64{1, 2, 3}}
	for _, tt := range []struct {
		name string
		snap *pb.Snapshot
	}{
		{"no snapshot", nil},
		{"empty snapshot", &pb.Snapshot{}},
		{"snapshot term beyond the message's", &pb.Snapshot{Metadata: pb.SnapshotMetadata{Index: 9, Term: 5, ConfState: cs}}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			rn, _ := nodeInRole(t, 0)
			requireRefused(t, rn, pb.Message{Type: pb.MsgSnap, From: 2, To: 1, Term: 4, Snapshot: tt.snap})
		})
	}
}

// TestTimeoutNowOnlyFromTheLeader: MsgTimeoutNow makes a node campaign past
// every lease, so it is obeyed only when it comes from the leader this node
// follows in the message's term.
func TestTimeoutNowOnlyFromTheLeader(t *testing.T) {
	rn, _ := nodeInRole(t, 0) // follower of 2 at term 4
	requireRefused(t, rn, pb.Message{Type: pb.MsgTimeoutNow, From: 3, To: 1, Term: 4})
	require.NoError(t, rn.Step(pb.Message{Type: pb.MsgTimeoutNow, From: 2, To: 1, Term: 4}))
	assert.Equal(t, StateCandidate, rn.raft.state)
}

// TestUnknownMessageTypeRefused: a type no version of the protocol defines is
// refused, not silently accepted.
func TestUnknownMessageTypeRefused(t *testing.T) {
	for _, role := range []uint8{0, 1, 2} {
		rn, _ := nodeInRole(t, role)
		requireRefused(t, rn, pb.Message{Type: 999, From: 2, To: 1, Term: 4})
		requireRefused(t, rn, pb.Message{Type: -1, From: 2, To: 1, Term: 4})
	}
}

// TestBootstrapTwice: a second Bootstrap, even before the first one's Ready
// was handled, is an error and leaves the node as the first one made it.
func TestBootstrapTwice(t *testing.T) {
	rn := newTestRawNode(t, 1, NewMemoryStorage())
	require.NoError(t, rn.Bootstrap([]Peer{{ID: 1}, {ID: 2}}))
	var err2 error
	require.NotPanics(t, func() { err2 = rn.Bootstrap([]Peer{{ID: 1}, {ID: 2}, {ID: 3}}) })
	assert.Error(t, err2)
	assert.Equal(t, uint64(2), rn.raft.raftLog.lastIndex())
	assert.Len(t, rn.raft.trk.Voters.IDs(), 2)
}

// TestProposeConfChangeNil: a nil conf change, typed or not, is an error
// (etcd/raft panics), not a request to leave a joint configuration.
func TestProposeConfChangeNil(t *testing.T) {
	rn, _ := nodeInRole(t, 2)
	last := rn.raft.raftLog.lastIndex()
	for _, cc := range []pb.ConfChangeI{nil, (*pb.ConfChange)(nil), (*pb.ConfChangeV2)(nil)} {
		var err error
		require.NotPanics(t, func() { err = rn.ProposeConfChange(cc) })
		assert.Error(t, err, "%T", cc)
	}
	assert.Equal(t, last, rn.raft.raftLog.lastIndex())
	assert.NoError(t, rn.ProposeConfChange(pb.ConfChangeV2{}), "the explicit way to leave a joint configuration")
}

// Every message type of the wire format has its facts in messages.go: a
// type added to raftpb without a row there would be refused as unknown by
// every node, so this fails first.
func TestEveryMessageTypeHasFacts(t *testing.T) {
	for num, name := range pb.MessageType_name {
		require.Truef(t, factsOf(pb.MessageType(num)).known, "message type %s (%d) has no row in msgFactsTable", name, num)
	}
	require.Equal(t, len(pb.MessageType_name), messageTypeCount, "msgFactsTable's size and raftpb's message types differ")
}
