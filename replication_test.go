package raft

import (
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	pb "github.com/pontoon-raft/raft/raftpb"
	"github.com/pontoon-raft/raft/tracker"
)

// Tests of log replication (paper §5.3) and commitment (paper §5.4.2). Flow
// control is in replication_flow_test.go, proposals in
// replication_proposal_test.go.

// newTestFollower returns node 2 of {1,2,3} as a follower of node 1 at term
// `term`, with the given log and commit index.
func newTestFollower(t *testing.T, term, commit uint64, terms ...uint64) *raft {
	s := newTestStorage(votersConf(1, 2, 3), pb.HardState{Term: term, Commit: commit}, terms...)
	r := newTestRaft(t, 2, s)
	r.becomeFollower(term, 1)
	return r
}

// TestFollowerRejectsMismatchedAppend checks the paper's Figure 2 "Reply false if log
// doesn't contain an entry at prevLogIndex whose term matches prevLogTerm"
// and the reject fields etcd/raft peers rely on: Index echoes the MsgApp, RejectHint is the
// largest index ≤ min(Index, lastIndex) whose term ≤ the MsgApp's LogTerm,
// LogTerm our term there (0 if unknown).
func TestFollowerRejectsMismatchedAppend(t *testing.T) {
	// Log: 1:t1 2:t2 3:t2 4:t3 5:t3, leader at term 5.
	terms := []uint64{1, 2, 2, 3, 3}
	for _, tt := range []struct {
		index, logTerm       uint64
		wantHint, wantHintTm uint64
	}{
		{7, 3, 5, 3}, // beyond our log: hint our last entry
		{7, 4, 5, 3},
		{5, 4, 5, 3}, // different term at 5, ours is lower: 5 itself may match
		{5, 2, 3, 2}, // skip the term-3 entries
		{4, 1, 1, 1}, // skip terms 3 and 2
		{2, 1, 1, 1},
		{3, 0, 0, 0}, // nothing has term 0
	} {
		t.Run(fmt.Sprintf("index=%d/logterm=%d", tt.index, tt.logTerm), func(t *testing.T) {
			r := newTestFollower(t, 5, 1, terms...)
			require.NoError(t, r.Step(pb.Message{Type: pb.MsgApp, From: 1, To: 2, Term: 5,
				Index: tt.index, LogTerm: tt.logTerm, Entries: makeEnts(tt.index+1, 5), Commit: 5}))
			assert.Equal(t, []pb.Message{{Type: pb.MsgAppResp, From: 2, To: 1, Term: 5, Reject: true,
				Index: tt.index, RejectHint: tt.wantHint, LogTerm: tt.wantHintTm}}, takeMsgs(r))
			assert.Equal(t, uint64(5), r.raftLog.lastIndex(), "a rejected append changes nothing")
			assert.Equal(t, uint64(1), r.raftLog.committed)
		})
	}

	t.Run("compacted", func(t *testing.T) {
		// Snapshot at 3 (term 2), entries 4:t3 5:t3. Walking down from 5
		// for a term ≤ 1 passes the snapshot point into the compacted part,
		// whose terms are unknown: the hint stops there with LogTerm 0.
		s := NewMemoryStorage()
		require.NoError(t, s.ApplySnapshot(pb.Snapshot{Metadata: pb.SnapshotMetadata{Index: 3, Term: 2,
			ConfState: pb.ConfState{Voters: []uint64{1, 2, 3}}}}))
		require.NoError(t, s.Append(makeEnts(4, 3, 3)))
		require.NoError(t, s.SetHardState(pb.HardState{Term: 5, Commit: 3}))
		r := newTestRaft(t, 2, s)
		r.becomeFollower(5, 1)
		require.NoError(t, r.Step(pb.Message{Type: pb.MsgApp, From: 1, To: 2, Term: 5, Index: 5, LogTerm: 1}))
		assert.Equal(t, []pb.Message{{Type: pb.MsgAppResp, From: 2, To: 1, Term: 5, Reject: true,
			Index: 5, RejectHint: 2, LogTerm: 0}}, takeMsgs(r))
	})
}

// TestFollowerAppendBelowCommit: an append before our commit index is
// answered with the commit index, not rejected.
func TestFollowerAppendBelowCommit(t *testing.T) {
	r := newTestFollower(t, 2, 3, 1, 1, 2, 2)
	// Entry 2 conflicts with the committed one: the append is not looked at.
	require.NoError(t, r.Step(pb.Message{Type: pb.MsgApp, From: 1, To: 2, Term: 2, Index: 1, LogTerm: 1,
		Entries: makeEnts(2, 2)}))
	assert.Equal(t, []pb.Message{{Type: pb.MsgAppResp, From: 2, To: 1, Term: 2, Index: 3}}, takeMsgs(r))
	assert.Equal(t, []uint64{1, 1, 2, 2}, logTerms(r))
}

// logTerms returns the terms of r's log, by index.
func logTerms(r *raft) []uint64 {
	var out []uint64
	for _, e := range r.raftLog.allEntries() {
		out = append(out, e.Term)
	}
	return out
}

// TestFollowerAppendTruncatesConflicts checks the paper's Figure 2 "If an existing entry
// conflicts with a new one (same index but different terms), delete the
// existing entry and all that follow it; append any new entries not already
// in the log", and that a stale (shorter) append never truncates.
func TestFollowerAppendTruncatesConflicts(t *testing.T) {
	for _, tt := range []struct {
		name           string
		index, logTerm uint64
		ents           []pb.Entry
		wantTerms      []uint64
		wantAck        uint64
	}{
		{"conflict at 3", 2, 1, makeEnts(3, 3), []uint64{1, 1, 3}, 3},
		{"conflict at 4", 2, 1, makeEnts(3, 2, 3, 3), []uint64{1, 1, 2, 3, 3}, 5},
		{"no conflict, extension", 4, 2, makeEnts(5, 2, 3), []uint64{1, 1, 2, 2, 2, 3}, 6},
		{"duplicate prefix keeps the suffix", 1, 1, makeEnts(2, 1, 2), []uint64{1, 1, 2, 2}, 3},
		{"empty append", 4, 2, nil, []uint64{1, 1, 2, 2}, 4},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r := newTestFollower(t, 3, 1, 1, 1, 2, 2)
			require.NoError(t, r.Step(pb.Message{Type: pb.MsgApp, From: 1, To: 2, Term: 3,
				Index: tt.index, LogTerm: tt.logTerm, Entries: tt.ents}))
			assert.Equal(t, []pb.Message{{Type: pb.MsgAppResp, From: 2, To: 1, Term: 3, Index: tt.wantAck}}, takeMsgs(r))
			assert.Equal(t, tt.wantTerms, logTerms(r))
		})
	}
}

// TestFollowerCommitIsMinOfLeaderCommitAndLastNew checks the paper's Figure 2 "If
// leaderCommit > commitIndex, set commitIndex = min(leaderCommit, index of
// last new entry)".
func TestFollowerCommitIsMinOfLeaderCommitAndLastNew(t *testing.T) {
	for _, tt := range []struct {
		index, commit uint64
		ents          []pb.Entry
		want          uint64
	}{
		{3, 10, makeEnts(4, 2), 4},    // capped by the last new entry
		{3, 3, makeEnts(4, 2), 3},     // capped by the leader's commit
		{2, 10, nil, 2},               // empty append: last new entry = Index
		{3, 10, nil, 3},               // entries we hold past Index are not "new"
		{3, 0, makeEnts(4, 2, 2), 1},  // never decreases
		{1, 10, makeEnts(2, 1, 2), 3}, // duplicates count as new entries
	} {
		t.Run(fmt.Sprintf("index=%d/commit=%d/n=%d", tt.index, tt.commit, len(tt.ents)), func(t *testing.T) {
			r := newTestFollower(t, 2, 1, 1, 1, 2)
			require.NoError(t, r.Step(pb.Message{Type: pb.MsgApp, From: 1, To: 2, Term: 2,
				Index: tt.index, LogTerm: logTerms(r)[tt.index-1], Entries: tt.ents, Commit: tt.commit}))
			assert.Equal(t, tt.want, r.raftLog.committed)
		})
	}
}

// TestHeartbeatCommitCappedByMatch: heartbeats never ask a follower to
// commit beyond what the leader knows it holds, and a follower
// advances its commit index from them.
func TestHeartbeatCommitCappedByMatch(t *testing.T) {
	c := newCluster(t, 3)
	c.elect(1)
	c.isolate(3)
	require.NoError(t, c.propose(1, "a"))
	c.stabilize()
	require.Equal(t, uint64(2), c.node(1).raft().raftLog.committed)
	c.heal()
	// Node 3 rejoins; the next heartbeat must not tell it to commit index 2.
	c.tick(1)
	c.processReadys()
	for _, m := range msgsOfType(c.queue, pb.MsgHeartbeat) {
		if m.To == 3 {
			assert.Equal(t, uint64(1), m.Commit, "node 3 only holds index 1")
		} else {
			assert.Equal(t, uint64(2), m.Commit)
		}
	}
	c.stabilize()
	for _, id := range c.ids {
		assert.Equal(t, uint64(2), c.node(id).raft().raftLog.committed, "node %d", id)
	}
}

// figure8Cluster builds situation (c) of Figure 8 in the Raft paper with five
// nodes whose logs are written directly to storage:
//
//	S1: 1:t1 2:t2       (term 3)   crashed in (b), back as leader of term 4
//	S2: 1:t1 2:t2       (term 2)
//	S3: 1:t1            (term 3)
//	S4: 1:t1            (term 3)
//	S5: 1:t1 2:t3       (term 3)   leader of term 3, now crashed
//
// S1 is elected for term 4 and replicates index 2 (term 2) to S2 and S3, a
// majority, while every entry of term 4 is stripped from its appends.
// Entries of term 4 are stripped from appends as long as hold[0] is true.
func figure8Cluster(t *testing.T) (*cluster, *bool) {
	storages := map[uint64]*MemoryStorage{
		1: newTestStorage(votersConf(idsUpTo(5)...), pb.HardState{Term: 3, Commit: 1}, 1, 2),
		2: newTestStorage(votersConf(idsUpTo(5)...), pb.HardState{Term: 2, Commit: 1}, 1, 2),
		3: newTestStorage(votersConf(idsUpTo(5)...), pb.HardState{Term: 3, Commit: 1}, 1),
		4: newTestStorage(votersConf(idsUpTo(5)...), pb.HardState{Term: 3, Commit: 1}, 1),
		5: newTestStorage(votersConf(idsUpTo(5)...), pb.HardState{Term: 3, Vote: 5, Commit: 1}, 1, 3),
	}
	c := newClusterFromStorage(t, storages, func(cfg *Config) { cfg.Applied = 1 })
	hold := true
	c.filter = func(m *pb.Message) bool {
		if hold && m.Type == pb.MsgApp {
			for i, e := range m.Entries {
				if e.Term == 4 {
					m.Entries = m.Entries[:i]
					break
				}
			}
		}
		return true
	}
	c.isolate(5)
	c.elect(1)
	require.Equal(t, uint64(4), c.node(1).raft().Term)
	return c, &hold
}

// TestLeaderCommitsOnlyCurrentTermByCounting builds Figure 8 of the Raft
// paper explicitly (§5.4.2 there): an entry of an earlier term stored on a
// majority is not committed by counting replicas, because a node with a
// later last term could still be elected and overwrite it. Once an entry of
// the leader's own term is on a majority, both commit.
func TestLeaderCommitsOnlyCurrentTermByCounting(t *testing.T) {
	t.Run("not committed, and rightly so", func(t *testing.T) {
		c, _ := figure8Cluster(t)
		l := c.node(1).raft()
		require.Equal(t, uint64(2), l.trk.Progress[2].Match)
		require.Equal(t, uint64(2), l.trk.Progress[3].Match)
		require.Equal(t, uint64(3), l.trk.Progress[1].Match)
		require.Equal(t, uint64(2), l.trk.Committed(), "index 2 is on a majority (S1, S2, S3)")
		assert.Equal(t, uint64(1), l.raftLog.committed, "but it is of term 2, not 4")

		// (d): S1 crashes, S5 comes back and is elected with the votes of
		// S2, S3 and S4 (its last term 3 beats their 2 and 1) ...
		c.heal()
		c.isolate(1)
		c.campaign(5) // at term 4: S2..S4 already voted for S1 in term 4
		c.campaign(5)
		require.Equal(t, StateLeader, c.node(5).raft().state)
		// ... and overwrites index 2 everywhere: committing it would have
		// lost a committed entry.
		for _, id := range []uint64{2, 3, 4, 5} {
			assert.Equal(t, []uint64{1, 3, 5}, logTerms(c.node(id).raft()), "node %d", id)
		}
	})
	t.Run("committed with an entry of the current term", func(t *testing.T) {
		c, hold := figure8Cluster(t)
		*hold = false
		c.tick(1) // heartbeat -> responses -> the term-4 entry is sent
		c.stabilize()
		l := c.node(1).raft()
		assert.Equal(t, uint64(3), l.raftLog.committed)
		for _, id := range []uint64{1, 2, 3, 4} {
			assert.Equal(t, []uint64{1, 2, 4}, logTerms(c.node(id).raft()), "node %d", id)
			assert.Equal(t, uint64(3), c.node(id).raft().raftLog.committed, "node %d", id)
		}
	})
}

// TestFastBacktracking: a follower whose log diverges from the leader's over
// 1,000 entries in 10 terms is repaired with about one rejection per term
// (the optimisation at the end of paper §5.3), not one per entry.
func TestFastBacktracking(t *testing.T) {
	const perTerm, nTerms = 100, 10
	// Common prefix 1..10 at term 1. After it the leader (and node 3) hold
	// terms 3, 5, ..., 21 and the follower terms 2, 4, ..., 20, 100 entries
	// each: at every index the follower's term is lower than the leader's.
	leaderTerms, followerTerms := repeatTerm(1, 10), repeatTerm(1, 10)
	for i := 0; i < nTerms; i++ {
		leaderTerms = append(leaderTerms, repeatTerm(uint64(2*i+3), perTerm)...)
		followerTerms = append(followerTerms, repeatTerm(uint64(2*i+2), perTerm)...)
	}
	storages := map[uint64]*MemoryStorage{
		1: newTestStorage(votersConf(idsUpTo(3)...), pb.HardState{Term: 21, Vote: 1, Commit: 10}, leaderTerms...),
		2: newTestStorage(votersConf(idsUpTo(3)...), pb.HardState{Term: 20, Commit: 10}, followerTerms...),
		3: newTestStorage(votersConf(idsUpTo(3)...), pb.HardState{Term: 21, Vote: 1, Commit: 10}, leaderTerms...),
	}
	c := newClusterFromStorage(t, storages, func(cfg *Config) { cfg.Applied = 10 })
	rejections, appsTo2 := 0, 0
	c.filter = func(m *pb.Message) bool {
		if m.Type == pb.MsgAppResp && m.From == 2 && m.Reject {
			rejections++
		}
		if m.Type == pb.MsgApp && m.To == 2 {
			appsTo2++
		}
		return true
	}
	c.elect(1)

	c.requireSameLogs(1, 2, 3)
	assert.Equal(t, uint64(1011), c.node(2).raft().raftLog.committed)
	assert.GreaterOrEqual(t, rejections, nTerms/2, "the logs should have diverged over several terms")
	assert.LessOrEqual(t, rejections, 2*nTerms, "backtracking should take O(terms) round trips")
	assert.LessOrEqual(t, appsTo2, 2*nTerms+3)
	t.Logf("%d rejections, %d appends to repair %d divergent entries in %d terms", rejections, appsTo2, perTerm*nTerms, nTerms)
}

// TestLeaderHandlesRejectHint checks the leader side of the reject hint: from a
// rejection it moves Next to max(min(Index, h'+1), Match+1), where h' is the
// hint, lowered with its own log when the follower sent a term, and probes
// from there; stale rejections are ignored.
func TestLeaderHandlesRejectHint(t *testing.T) {
	// Leader log: 1:t1 2:t1 3:t2 4:t2 5:t4 6:t4 7:t5(empty entry of its term).
	for _, tt := range []struct {
		name                       string
		index, hint, hintTerm      uint64
		wantNext, wantProbeLogTerm uint64
		stale                      bool
	}{
		{"hint without term", 6, 3, 0, 4, 2, false},
		{"hint with term walks our log", 6, 6, 3, 5, 2, false},
		{"hint term 1", 6, 6, 1, 3, 1, false},
		{"hint beyond rejected index is capped", 6, 9, 5, 6, 4, false},
		{"stale rejection", 4, 1, 1, 7, 0, true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			s := newTestStorage(votersConf(1, 2, 3), pb.HardState{Term: 4, Commit: 2}, 1, 1, 2, 2, 4, 4)
			r := newTestRaft(t, 1, s)
			r.becomeCandidate()
			r.becomeLeader()
			takeMsgs(r)
			pr := r.trk.Progress[2]
			// As after a probe at Next=7 (Index 6).
			require.Equal(t, tracker.StateProbe, pr.State)
			require.Equal(t, uint64(7), pr.Next)

			require.NoError(t, r.Step(pb.Message{Type: pb.MsgAppResp, From: 2, To: 1, Term: 5, Reject: true,
				Index: tt.index, RejectHint: tt.hint, LogTerm: tt.hintTerm}))
			msgs := takeMsgs(r)
			assert.Equal(t, tt.wantNext, pr.Next)
			if tt.stale {
				assert.Empty(t, msgs)
				return
			}
			require.Len(t, msgs, 1)
			assert.Equal(t, pb.MsgApp, msgs[0].Type)
			assert.Equal(t, tt.wantNext-1, msgs[0].Index)
			assert.Equal(t, tt.wantProbeLogTerm, msgs[0].LogTerm)
		})
	}
}
