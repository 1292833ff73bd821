package raft

import (
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	pb "github.com/pontoon-raft/raft/raftpb"
)

// The expected strings in this file are the text etcd/raft's datadriven
// tests print, so traces and golden files written against etcd/raft read the
// same with Pontoon.

// confChangeEntry encodes cc into an entry at term/index.
func confChangeEntry(t *testing.T, term, index uint64, cc pb.ConfChangeI) pb.Entry {
	t.Helper()
	typ, data, err := pb.MarshalConfChange(cc)
	require.NoError(t, err)
	return pb.Entry{Term: term, Index: index, Type: typ, Data: data}
}

func TestDescribeHardState(t *testing.T) {
	for _, tt := range []struct {
		hs   pb.HardState
		want string
	}{
		{pb.HardState{}, "Term:0 Commit:0"},
		{pb.HardState{Term: 3, Commit: 7}, "Term:3 Commit:7"},
		{pb.HardState{Term: 3, Vote: 2, Commit: 7}, "Term:3 Vote:2 Commit:7"},
		// Node ids are decimal here, as in etcd/raft.
		{pb.HardState{Term: 1, Vote: 26, Commit: 10}, "Term:1 Vote:26 Commit:10"},
	} {
		assert.Equal(t, tt.want, DescribeHardState(tt.hs))
	}
}

func TestDescribeSoftState(t *testing.T) {
	for _, tt := range []struct {
		ss   SoftState
		want string
	}{
		{SoftState{}, "Lead:0 State:StateFollower"},
		{SoftState{Lead: 0, RaftState: StateCandidate}, "Lead:0 State:StateCandidate"},
		{SoftState{Lead: 1, RaftState: StateLeader}, "Lead:1 State:StateLeader"},
		{SoftState{Lead: 0, RaftState: StatePreCandidate}, "Lead:0 State:StatePreCandidate"},
		{SoftState{Lead: 2, RaftState: StateType(9)}, "Lead:2 State:StateType(9)"},
	} {
		assert.Equal(t, tt.want, DescribeSoftState(tt.ss))
	}
}

func TestDescribeConfState(t *testing.T) {
	for _, tt := range []struct {
		cs   pb.ConfState
		want string
	}{
		{pb.ConfState{}, "Voters:[] VotersOutgoing:[] Learners:[] LearnersNext:[] AutoLeave:false"},
		{pb.ConfState{Voters: []uint64{1, 2}}, "Voters:[1 2] VotersOutgoing:[] Learners:[] LearnersNext:[] AutoLeave:false"},
		{
			pb.ConfState{Voters: []uint64{1, 2, 3}, VotersOutgoing: []uint64{1}, Learners: []uint64{4},
				LearnersNext: []uint64{5}, AutoLeave: true},
			"Voters:[1 2 3] VotersOutgoing:[1] Learners:[4] LearnersNext:[5] AutoLeave:true",
		},
	} {
		assert.Equal(t, tt.want, DescribeConfState(tt.cs))
	}
}

func TestDescribeSnapshot(t *testing.T) {
	assert.Equal(t, "Index:0 Term:0 ConfState:Voters:[] VotersOutgoing:[] Learners:[] LearnersNext:[] AutoLeave:false",
		DescribeSnapshot(pb.Snapshot{}))
	snap := pb.Snapshot{Data: []byte("ignored"), Metadata: pb.SnapshotMetadata{
		Index: 4, Term: 1, ConfState: pb.ConfState{Voters: []uint64{1, 2}}}}
	assert.Equal(t, "Index:4 Term:1 ConfState:Voters:[1 2] VotersOutgoing:[] Learners:[] LearnersNext:[] AutoLeave:false",
		DescribeSnapshot(snap))
}

func TestDescribeEntry(t *testing.T) {
	upper := func(b []byte) string { return strings.ToUpper(string(b)) }
	silent := func([]byte) string { return "" }
	for _, tt := range []struct {
		name string
		e    pb.Entry
		f    EntryFormatter
		want string
	}{
		{"empty normal", pb.Entry{Term: 1, Index: 11}, nil, `1/11 EntryNormal ""`},
		{"normal data", pb.Entry{Term: 2, Index: 5, Data: []byte("hello")}, nil, `2/5 EntryNormal "hello"`},
		{"quoted bytes", pb.Entry{Term: 2, Index: 5, Data: []byte{0, 'a'}}, nil, `2/5 EntryNormal "\x00a"`},
		{"formatter", pb.Entry{Term: 2, Index: 5, Data: []byte("hello")}, upper, `2/5 EntryNormal HELLO`},
		{"formatter returns nothing", pb.Entry{Term: 2, Index: 5, Data: []byte("x")}, silent, `2/5 EntryNormal`},
		{"v1 add", confChangeEntry(t, 1, 4, pb.ConfChange{Type: pb.ConfChangeAddNode, NodeID: 2}), nil,
			"1/4 EntryConfChange v2"},
		{"v1 remove", confChangeEntry(t, 1, 4, pb.ConfChange{Type: pb.ConfChangeRemoveNode, NodeID: 2}), nil,
			"1/4 EntryConfChange r2"},
		{"v1 learner", confChangeEntry(t, 1, 4, pb.ConfChange{Type: pb.ConfChangeAddLearnerNode, NodeID: 4}), nil,
			"1/4 EntryConfChange l4"},
		{"v1 update ignores context", confChangeEntry(t, 1, 4,
			pb.ConfChange{Type: pb.ConfChangeUpdateNode, NodeID: 3, Context: []byte("ctx")}), upper,
			"1/4 EntryConfChange u3"},
		{"v2 joint", confChangeEntry(t, 1, 4, pb.ConfChangeV2{Changes: []pb.ConfChangeSingle{
			{Type: pb.ConfChangeAddNode, NodeID: 2}, {Type: pb.ConfChangeAddLearnerNode, NodeID: 3}}}), nil,
			"1/4 EntryConfChangeV2 v2 l3"},
		// The auto-leave entry carries nil data.
		{"v2 leave joint", pb.Entry{Term: 1, Index: 6, Type: pb.EntryConfChangeV2}, nil, "1/6 EntryConfChangeV2"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, DescribeEntry(tt.e, tt.f))
		})
	}

	// Undecodable conf changes show the decoding error instead.
	bad := pb.Entry{Term: 1, Index: 4, Type: pb.EntryConfChange, Data: []byte{0xff}}
	var cc pb.ConfChange
	err := cc.Unmarshal(bad.Data)
	require.Error(t, err)
	assert.Equal(t, "1/4 EntryConfChange "+err.Error(), DescribeEntry(bad, nil))
}

func TestDescribeEntries(t *testing.T) {
	assert.Equal(t, "", DescribeEntries(nil, nil))
	ents := []pb.Entry{
		{Term: 1, Index: 1, Data: []byte("a")},
		confChangeEntry(t, 1, 2, pb.ConfChange{Type: pb.ConfChangeAddNode, NodeID: 3}),
		{Term: 2, Index: 3},
	}
	assert.Equal(t, "1/1 EntryNormal \"a\"\n1/2 EntryConfChange v3\n2/3 EntryNormal \"\"\n", DescribeEntries(ents, nil))
}

func TestDescribeMessage(t *testing.T) {
	twoEnts := []pb.Entry{
		confChangeEntry(t, 1, 4, pb.ConfChangeV2{Changes: []pb.ConfChangeSingle{{Type: pb.ConfChangeAddNode, NodeID: 3}}}),
		{Term: 2, Index: 5},
	}
	snap := &pb.Snapshot{Metadata: pb.SnapshotMetadata{Index: 4, Term: 1, ConfState: pb.ConfState{Voters: []uint64{1, 2}}}}
	for _, tt := range []struct {
		name string
		m    pb.Message
		want string
	}{
		{"bare", pb.Message{Type: pb.MsgHup}, "None->None MsgHup Term:0 Log:0/0"},
		{"heartbeat", pb.Message{Type: pb.MsgHeartbeat, From: 4, To: 1, Term: 3},
			"4->1 MsgHeartbeat Term:3 Log:0/0"},
		{"heartbeat with commit", pb.Message{Type: pb.MsgHeartbeat, From: 1, To: 2, Term: 5, Commit: 3},
			"1->2 MsgHeartbeat Term:5 Log:0/0 Commit:3"},
		// etcd/raft does not print the Context: read tokens stay out of
		// traces.
		{"heartbeat with read token", pb.Message{Type: pb.MsgHeartbeatResp, From: 2, To: 1, Term: 5,
			Context: []byte{1, 0, 0, 0, 0, 0, 0, 0}},
			"2->1 MsgHeartbeatResp Term:5 Log:0/0"},
		{"hex ids", pb.Message{Type: pb.MsgVote, From: 26, To: 255, Term: 2, LogTerm: 1, Index: 10},
			"1a->ff MsgVote Term:2 Log:1/10"},
		{"reject", pb.Message{Type: pb.MsgAppResp, From: 3, To: 2, Term: 2, LogTerm: 1, Index: 4, Reject: true, RejectHint: 3},
			"3->2 MsgAppResp Term:2 Log:1/4 Rejected (Hint: 3)"},
		{"vote reject without hint", pb.Message{Type: pb.MsgVoteResp, From: 1, To: 3, Term: 2, Reject: true},
			"1->3 MsgVoteResp Term:2 Log:0/0 Rejected (Hint: 0)"},
		{"one entry", pb.Message{Type: pb.MsgApp, From: 1, To: 2, Term: 1, LogTerm: 1, Index: 3, Commit: 4,
			Entries: []pb.Entry{confChangeEntry(t, 1, 4, pb.ConfChange{Type: pb.ConfChangeAddNode, NodeID: 2})}},
			"1->2 MsgApp Term:1 Log:1/3 Commit:4 Entries:[1/4 EntryConfChange v2]"},
		{"two entries", pb.Message{Type: pb.MsgApp, From: 2, To: 3, Term: 2, LogTerm: 1, Index: 3, Commit: 4, Entries: twoEnts},
			"2->3 MsgApp Term:2 Log:1/3 Commit:4 Entries:[\n  1/4 EntryConfChangeV2 v3\n  2/5 EntryNormal \"\"\n]"},
		{"snapshot", pb.Message{Type: pb.MsgSnap, From: 1, To: 2, Term: 1, Snapshot: snap},
			"1->2 MsgSnap Term:1 Log:0/0\n  Snapshot: Index:4 Term:1 ConfState:Voters:[1 2] VotersOutgoing:[] Learners:[] LearnersNext:[] AutoLeave:false"},
		// Old peers send an empty non-nil snapshot on every message.
		{"empty snapshot", pb.Message{Type: pb.MsgHeartbeat, From: 1, To: 2, Term: 1, Snapshot: &pb.Snapshot{}},
			"1->2 MsgHeartbeat Term:1 Log:0/0"},
		{"storage append", pb.Message{Type: pb.MsgStorageAppend, From: 1, To: LocalAppendThread, Term: 1, Commit: 10, Vote: 1,
			Responses: []pb.Message{{Type: pb.MsgVoteResp, From: 1, To: 1, Term: 1}}},
			"1->AppendThread MsgStorageAppend Term:1 Log:0/0 Commit:10 Vote:1 Responses:[\n  1->1 MsgVoteResp Term:1 Log:0/0\n]"},
		{"storage append with entries", pb.Message{Type: pb.MsgStorageAppend, From: 1, To: LocalAppendThread,
			Entries: []pb.Entry{{Term: 1, Index: 11}}, Responses: []pb.Message{
				{Type: pb.MsgAppResp, From: 1, To: 1, Term: 1, Index: 11},
				{Type: pb.MsgStorageAppendResp, From: LocalAppendThread, To: 1, Term: 1, LogTerm: 1, Index: 11},
			}},
			"1->AppendThread MsgStorageAppend Term:0 Log:0/0 Entries:[1/11 EntryNormal \"\"] Responses:[\n" +
				"  1->1 MsgAppResp Term:1 Log:0/11\n" +
				"  AppendThread->1 MsgStorageAppendResp Term:1 Log:1/11\n]"},
		{"nested entries are indented", pb.Message{Type: pb.MsgStorageApply, From: 1, To: LocalApplyThread, Entries: twoEnts,
			Responses: []pb.Message{{Type: pb.MsgStorageApplyResp, From: LocalApplyThread, To: 1, Entries: twoEnts}}},
			"1->ApplyThread MsgStorageApply Term:0 Log:0/0 Entries:[\n  1/4 EntryConfChangeV2 v3\n  2/5 EntryNormal \"\"\n] Responses:[\n" +
				"  ApplyThread->1 MsgStorageApplyResp Term:0 Log:0/0 Entries:[\n    1/4 EntryConfChangeV2 v3\n    2/5 EntryNormal \"\"\n  ]\n]"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, DescribeMessage(tt.m, nil))
		})
	}

	// The formatter reaches entries of the message and of its responses.
	m := pb.Message{Type: pb.MsgProp, From: 2, To: 1, Entries: []pb.Entry{{Data: []byte("x")}}}
	assert.Equal(t, "2->1 MsgProp Term:0 Log:0/0 Entries:[0/0 EntryNormal <x>]",
		DescribeMessage(m, func(b []byte) string { return fmt.Sprintf("<%s>", b) }))
}

func TestDescribeReady(t *testing.T) {
	assert.Equal(t, "<empty Ready>", DescribeReady(Ready{}, nil))
	// MustSync alone is not content.
	assert.Equal(t, "<empty Ready>", DescribeReady(Ready{MustSync: true}, nil))

	rd := Ready{
		SoftState:  &SoftState{Lead: 1, RaftState: StateLeader},
		HardState:  pb.HardState{Term: 2, Vote: 1, Commit: 3},
		ReadStates: []ReadState{{Index: 3, RequestCtx: []byte("r")}},
		Entries:    []pb.Entry{{Term: 2, Index: 4, Data: []byte("a")}},
		Snapshot: pb.Snapshot{Metadata: pb.SnapshotMetadata{Index: 2, Term: 1,
			ConfState: pb.ConfState{Voters: []uint64{1, 2}}}},
		CommittedEntries: []pb.Entry{{Term: 2, Index: 3}},
		Messages: []pb.Message{
			{Type: pb.MsgApp, From: 1, To: 2, Term: 2, LogTerm: 2, Index: 3, Commit: 3,
				Entries: []pb.Entry{{Term: 2, Index: 4, Data: []byte("a")}}},
			{Type: pb.MsgHeartbeat, From: 1, To: 3, Term: 2},
		},
		MustSync: true,
	}
	want := `Ready MustSync=true:
Lead:1 State:StateLeader
HardState Term:2 Vote:1 Commit:3
ReadStates [{3 [114]}]
Entries:
2/4 EntryNormal "a"
Snapshot Index:2 Term:1 ConfState:Voters:[1 2] VotersOutgoing:[] Learners:[] LearnersNext:[] AutoLeave:false
CommittedEntries:
2/3 EntryNormal ""
Messages:
1->2 MsgApp Term:2 Log:2/3 Commit:3 Entries:[2/4 EntryNormal "a"]
1->3 MsgHeartbeat Term:2 Log:0/0
`
	assert.Equal(t, want, DescribeReady(rd, nil))

	// Only what is set is printed.
	rd = Ready{HardState: pb.HardState{Term: 1, Commit: 10}}
	assert.Equal(t, "Ready MustSync=false:\nHardState Term:1 Commit:10\n", DescribeReady(rd, nil))
}
