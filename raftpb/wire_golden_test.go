package raftpb

import (
	"math"
	"reflect"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// goldenCase pairs a value with its exact v3.6 (gogo) encoding, written by
// hand from the protobuf encoding rules. A tag byte is (field<<3 | wire
// type): wire type 0 is a varint, 2 is length-delimited.
type goldenCase struct {
	name  string
	value wireMessage // pointer to the expected value
	wire  string      // annotated hex, see hexWire
}

// The heartbeat and the empty Entry and ConfChangeV2 encodings are the
// examples of the wire spec, taken verbatim.
func goldenCases() []goldenCase {
	return []goldenCase{
		// Entry: Go field order is Term, Index, Type, Data, but the encoder
		// writes field-number order Type(1), Term(2), Index(3), Data(4).
		{
			name:  "Entry/empty",
			value: &Entry{},
			wire: `
				08 00 // field 1 (Type) varint 0, written although zero
				10 00 // field 2 (Term) varint 0
				18 00 // field 3 (Index) varint 0
				      // field 4 (Data) nil: not written`,
		},
		{
			name:  "Entry/normal with data",
			value: &Entry{Term: 1, Index: 2, Type: EntryNormal, Data: []byte("hi")},
			wire: `
				08 00       // field 1 (Type) varint 0 = EntryNormal
				10 01       // field 2 (Term) varint 1
				18 02       // field 3 (Index) varint 2
				22 02 68 69 // field 4 (Data) length 2, "hi"`,
		},
		{
			name:  "Entry/multi-byte varints and empty data",
			value: &Entry{Term: 300, Index: 1 << 32, Type: EntryConfChangeV2, Data: []byte{}},
			wire: `
				08 02             // field 1 (Type) varint 2 = EntryConfChangeV2
				10 ac 02          // field 2 (Term) varint 300 = 0x2c | 2<<7
				18 80 80 80 80 10 // field 3 (Index) varint 1<<32: four zero groups, then 1<<4
				22 00             // field 4 (Data) non-nil empty: length 0`,
		},
		{
			name:  "Entry/varint group boundaries",
			value: &Entry{Term: 127, Index: 128, Type: EntryConfChange},
			wire: `
				08 01    // field 1 (Type) varint 1 = EntryConfChange
				10 7f    // field 2 (Term) varint 127, the largest one-byte varint
				18 80 01 // field 3 (Index) varint 128, the smallest two-byte varint`,
		},
		{
			name:  "Entry/max uint64",
			value: &Entry{Term: math.MaxUint64, Index: math.MaxUint64},
			wire: `
				08 00                            // field 1 (Type) varint 0
				10 ff ff ff ff ff ff ff ff ff 01 // field 2 (Term) MaxUint64: 9 full groups + 1 bit
				18 ff ff ff ff ff ff ff ff ff 01 // field 3 (Index) MaxUint64`,
		},

		// SnapshotMetadata: the ConfState is non-nullable, so it is always
		// written, and an empty ConfState still carries auto_leave.
		{
			name:  "SnapshotMetadata/empty",
			value: &SnapshotMetadata{},
			wire: `
				0a 02 // field 1 (conf_state) length 2
				28 00 //   field 5 (auto_leave) varint 0
				10 00 // field 2 (index) varint 0
				18 00 // field 3 (term) varint 0`,
		},
		{
			name: "SnapshotMetadata/joint config",
			value: &SnapshotMetadata{
				ConfState: ConfState{Voters: []uint64{1, 2, 3}, VotersOutgoing: []uint64{1}, AutoLeave: true},
				Index:     1000,
				Term:      7,
			},
			wire: `
				0a 0a    // field 1 (conf_state) length 10
				08 01    //   field 1 (voters) 1, unpacked: one tag per element
				08 02    //   field 1 (voters) 2
				08 03    //   field 1 (voters) 3
				18 01    //   field 3 (voters_outgoing) 1
				28 01    //   field 5 (auto_leave) true
				10 e8 07 // field 2 (index) varint 1000 = 0x68 | 7<<7
				18 07    // field 3 (term) varint 7`,
		},

		// Snapshot: data is nullable, metadata is not.
		{
			name:  "Snapshot/empty",
			value: &Snapshot{},
			wire: `
				      // field 1 (data) nil: not written
				12 08 // field 2 (metadata) length 8
				0a 02 //   field 1 (conf_state) length 2
				28 00 //     field 5 (auto_leave) false
				10 00 //   field 2 (index) 0
				18 00 //   field 3 (term) 0`,
		},
		{
			name: "Snapshot/with data",
			value: &Snapshot{
				Data: []byte("snap"),
				Metadata: SnapshotMetadata{
					ConfState: ConfState{Voters: []uint64{1, 2}, Learners: []uint64{3}},
					Index:     10,
					Term:      2,
				},
			},
			wire: `
				0a 04 73 6e 61 70 // field 1 (data) length 4, "snap"
				12 0e             // field 2 (metadata) length 14
				0a 08             //   field 1 (conf_state) length 8
				08 01             //     field 1 (voters) 1
				08 02             //     field 1 (voters) 2
				10 03             //     field 2 (learners) 3
				28 00             //     field 5 (auto_leave) false
				10 0a             //   field 2 (index) 10
				18 02             //   field 3 (term) 2`,
		},

		// Message: ten non-nullable scalars are always written; entries and
		// responses once per element; snapshot and context only when non-nil.
		// vote (13) is written after context (12) although it precedes
		// snapshot in the Go struct.
		{
			name:  "Message/MsgHeartbeat",
			value: &Message{Type: MsgHeartbeat, To: 2, From: 1, Term: 5},
			wire: `
				08 08 // field 1 (type) varint 8 = MsgHeartbeat
				10 02 // field 2 (to) varint 2
				18 01 // field 3 (from) varint 1
				20 05 // field 4 (term) varint 5
				28 00 // field 5 (logTerm) varint 0
				30 00 // field 6 (index) varint 0
				      // field 7 (entries) none
				40 00 // field 8 (commit) varint 0
				      // field 9 (snapshot) nil: not written
				50 00 // field 10 (reject) varint 0 = false
				58 00 // field 11 (rejectHint) varint 0
				      // field 12 (context) nil: not written
				68 00 // field 13 (vote) varint 0`,
		},
		{
			name: "Message/MsgApp with entries",
			value: &Message{
				Type: MsgApp, To: 2, From: 1, Term: 5, LogTerm: 4, Index: 10, Commit: 9,
				Entries: []Entry{
					{Term: 5, Index: 11, Type: EntryNormal, Data: []byte("a")},
					{Term: 5, Index: 12, Type: EntryConfChangeV2},
				},
			},
			wire: `
				08 03    // field 1 (type) 3 = MsgApp
				10 02    // field 2 (to) 2
				18 01    // field 3 (from) 1
				20 05    // field 4 (term) 5
				28 04    // field 5 (logTerm) 4
				30 0a    // field 6 (index) 10
				3a 09    // field 7 (entries[0]) length 9
				08 00    //   field 1 (Type) EntryNormal
				10 05    //   field 2 (Term) 5
				18 0b    //   field 3 (Index) 11
				22 01 61 //   field 4 (Data) "a"
				3a 06    // field 7 (entries[1]) length 6
				08 02    //   field 1 (Type) EntryConfChangeV2
				10 05    //   field 2 (Term) 5
				18 0c    //   field 3 (Index) 12
				40 09    // field 8 (commit) 9
				50 00    // field 10 (reject) false
				58 00    // field 11 (rejectHint) 0
				68 00    // field 13 (vote) 0`,
		},
		{
			name: "Message/MsgAppResp reject",
			value: &Message{
				Type: MsgAppResp, To: 1, From: 2, Term: 5, LogTerm: 3, Index: 10,
				Reject: true, RejectHint: 7,
			},
			wire: `
				08 04 // field 1 (type) 4 = MsgAppResp
				10 01 // field 2 (to) 1
				18 02 // field 3 (from) 2
				20 05 // field 4 (term) 5
				28 03 // field 5 (logTerm) 3
				30 0a // field 6 (index) 10
				40 00 // field 8 (commit) 0
				50 01 // field 10 (reject) true
				58 07 // field 11 (rejectHint) 7
				68 00 // field 13 (vote) 0`,
		},
		{
			name: "Message/MsgVote with context",
			value: &Message{
				Type: MsgVote, To: 3, From: 1, Term: 6, LogTerm: 5, Index: 20,
				Context: []byte("CampaignTransfer"),
			},
			wire: `
				08 05 // field 1 (type) 5 = MsgVote
				10 03 // field 2 (to) 3
				18 01 // field 3 (from) 1
				20 06 // field 4 (term) 6
				28 05 // field 5 (logTerm) 5
				30 14 // field 6 (index) 20
				40 00 // field 8 (commit) 0
				50 00 // field 10 (reject) false
				58 00 // field 11 (rejectHint) 0
				62 10 // field 12 (context) length 16:
				43 61 6d 70 61 69 67 6e 54 72 61 6e 73 66 65 72 // "CampaignTransfer"
				68 00 // field 13 (vote) 0, after context`,
		},
		{
			name: "Message/MsgSnap with snapshot",
			value: &Message{
				Type: MsgSnap, To: 3, From: 1, Term: 2,
				Snapshot: &Snapshot{
					Data: []byte("snap"),
					Metadata: SnapshotMetadata{
						ConfState: ConfState{Voters: []uint64{1, 2}, Learners: []uint64{3}},
						Index:     10,
						Term:      2,
					},
				},
			},
			wire: `
				08 07             // field 1 (type) 7 = MsgSnap
				10 03             // field 2 (to) 3
				18 01             // field 3 (from) 1
				20 02             // field 4 (term) 2
				28 00             // field 5 (logTerm) 0
				30 00             // field 6 (index) 0
				40 00             // field 8 (commit) 0
				4a 16             // field 9 (snapshot) length 22
				0a 04 73 6e 61 70 //   field 1 (data) "snap"
				12 0e             //   field 2 (metadata) length 14
				0a 08             //     field 1 (conf_state) length 8
				08 01 08 02       //       field 1 (voters) 1, 2
				10 03             //       field 2 (learners) 3
				28 00             //       field 5 (auto_leave) false
				10 0a             //     field 2 (index) 10
				18 02             //     field 3 (term) 2
				50 00             // field 10 (reject) false
				58 00             // field 11 (rejectHint) 0
				68 00             // field 13 (vote) 0`,
		},
		{
			// etcd <= 3.5 had a non-nullable Snapshot and sent an empty one on
			// every message.
			name:  "Message/MsgHeartbeatResp with empty snapshot",
			value: &Message{Type: MsgHeartbeatResp, To: 1, From: 2, Term: 5, Snapshot: &Snapshot{}},
			wire: `
				08 09 // field 1 (type) 9 = MsgHeartbeatResp
				10 01 // field 2 (to) 1
				18 02 // field 3 (from) 2
				20 05 // field 4 (term) 5
				28 00 // field 5 (logTerm) 0
				30 00 // field 6 (index) 0
				40 00 // field 8 (commit) 0
				4a 0a // field 9 (snapshot) length 10
				12 08 //   field 2 (metadata) length 8
				0a 02 //     field 1 (conf_state) length 2
				28 00 //       field 5 (auto_leave) false
				10 00 //     field 2 (index) 0
				18 00 //     field 3 (term) 0
				50 00 // field 10 (reject) false
				58 00 // field 11 (rejectHint) 0
				68 00 // field 13 (vote) 0`,
		},
		{
			name: "Message/MsgStorageAppend with nested responses",
			value: &Message{
				Type: MsgStorageAppend, To: math.MaxUint64, From: 1, Term: 3,
				Entries: []Entry{{Term: 3, Index: 4, Data: []byte("x")}},
				Commit:  2,
				Vote:    1,
				Responses: []Message{
					{Type: MsgAppResp, To: 2, From: 1, Term: 3, Index: 4},
					{Type: MsgStorageAppendResp, To: 1, From: math.MaxUint64, Term: 3, LogTerm: 3, Index: 4},
				},
			},
			wire: `
				08 13                            // field 1 (type) 19 = MsgStorageAppend
				10 ff ff ff ff ff ff ff ff ff 01 // field 2 (to) MaxUint64, the local append thread
				18 01                            // field 3 (from) 1
				20 03                            // field 4 (term) 3
				28 00                            // field 5 (logTerm) 0
				30 00                            // field 6 (index) 0
				3a 09                            // field 7 (entries[0]) length 9
				08 00 10 03 18 04                //   Type 0, Term 3, Index 4
				22 01 78                         //   Data "x"
				40 02                            // field 8 (commit) 2
				50 00                            // field 10 (reject) false
				58 00                            // field 11 (rejectHint) 0
				68 01                            // field 13 (vote) 1
				72 14                            // field 14 (responses[0]) length 20
				08 04 10 02 18 01 20 03          //   type MsgAppResp, to 2, from 1, term 3
				28 00 30 04 40 00                //   logTerm 0, index 4, commit 0
				50 00 58 00 68 00                //   reject false, rejectHint 0, vote 0
				72 1d                            // field 14 (responses[1]) length 29
				08 14 10 01                      //   type 20 = MsgStorageAppendResp, to 1
				18 ff ff ff ff ff ff ff ff ff 01 //   from MaxUint64
				20 03 28 03 30 04 40 00          //   term 3, logTerm 3, index 4, commit 0
				50 00 58 00 68 00                //   reject false, rejectHint 0, vote 0`,
		},
		{
			name: "Message/every field set",
			value: &Message{
				Type: MsgReadIndexResp, To: 1, From: 2, Term: 3, LogTerm: 4, Index: 5,
				Entries:    []Entry{{Data: []byte("rc")}},
				Commit:     6,
				Snapshot:   &Snapshot{Metadata: SnapshotMetadata{Index: 7, Term: 8}},
				Reject:     true,
				RejectHint: 9,
				Context:    []byte{},
				Vote:       10,
				Responses:  []Message{{}},
			},
			wire: `
				08 10                   // field 1 (type) 16 = MsgReadIndexResp
				10 01                   // field 2 (to) 1
				18 02                   // field 3 (from) 2
				20 03                   // field 4 (term) 3
				28 04                   // field 5 (logTerm) 4
				30 05                   // field 6 (index) 5
				3a 0a                   // field 7 (entries[0]) length 10
				08 00 10 00 18 00       //   Type 0, Term 0, Index 0
				22 02 72 63             //   Data "rc"
				40 06                   // field 8 (commit) 6
				4a 0a                   // field 9 (snapshot) length 10, data nil
				12 08                   //   field 2 (metadata) length 8
				0a 02 28 00             //     conf_state {auto_leave false}
				10 07 18 08             //     index 7, term 8
				50 01                   // field 10 (reject) true
				58 09                   // field 11 (rejectHint) 9
				62 00                   // field 12 (context) non-nil empty: length 0
				68 0a                   // field 13 (vote) 10
				72 14                   // field 14 (responses[0]) an empty Message, length 20
				08 00 10 00 18 00 20 00 //   type, to, from, term all 0
				28 00 30 00 40 00       //   logTerm, index, commit 0
				50 00 58 00 68 00       //   reject, rejectHint, vote 0`,
		},

		{
			name:  "HardState/empty",
			value: &HardState{},
			wire: `
				08 00 // field 1 (term) 0
				10 00 // field 2 (vote) 0
				18 00 // field 3 (commit) 0`,
		},
		{
			name:  "HardState/set",
			value: &HardState{Term: 5, Vote: 2, Commit: 100},
			wire: `
				08 05 // field 1 (term) 5
				10 02 // field 2 (vote) 2
				18 64 // field 3 (commit) 100`,
		},

		// ConfState: the four id lists are repeated uint64, written unpacked;
		// nil lists write nothing.
		{
			name:  "ConfState/empty",
			value: &ConfState{},
			wire: `
				28 00 // field 5 (auto_leave) false; the empty lists write nothing`,
		},
		{
			name: "ConfState/joint",
			value: &ConfState{
				Voters: []uint64{1, 2, 3}, Learners: []uint64{4},
				VotersOutgoing: []uint64{1, 2}, LearnersNext: []uint64{5}, AutoLeave: true,
			},
			wire: `
				08 01 08 02 08 03 // field 1 (voters) 1, 2, 3: one tag per element
				10 04             // field 2 (learners) 4
				18 01 18 02       // field 3 (voters_outgoing) 1, 2
				20 05             // field 4 (learners_next) 5
				28 01             // field 5 (auto_leave) true`,
		},

		// ConfChange: field 1 is ID although it is the last Go field.
		{
			name:  "ConfChange/empty",
			value: &ConfChange{},
			wire: `
				08 00 // field 1 (id) 0
				10 00 // field 2 (type) 0 = ConfChangeAddNode
				18 00 // field 3 (node_id) 0`,
		},
		{
			name:  "ConfChange/remove with context",
			value: &ConfChange{Type: ConfChangeRemoveNode, NodeID: 3, Context: []byte("ctx"), ID: 7},
			wire: `
				08 07          // field 1 (id) 7
				10 01          // field 2 (type) 1 = ConfChangeRemoveNode
				18 03          // field 3 (node_id) 3
				22 03 63 74 78 // field 4 (context) "ctx"`,
		},

		{
			name:  "ConfChangeSingle/empty",
			value: &ConfChangeSingle{},
			wire: `
				08 00 // field 1 (type) 0 = ConfChangeAddNode
				10 00 // field 2 (node_id) 0`,
		},
		{
			name:  "ConfChangeSingle/add learner",
			value: &ConfChangeSingle{Type: ConfChangeAddLearnerNode, NodeID: 4},
			wire: `
				08 03 // field 1 (type) 3 = ConfChangeAddLearnerNode
				10 04 // field 2 (node_id) 4`,
		},

		{
			name:  "ConfChangeV2/empty",
			value: &ConfChangeV2{},
			wire: `
				08 00 // field 1 (transition) 0 = ConfChangeTransitionAuto; no changes, no context`,
		},
		{
			name: "ConfChangeV2/joint explicit",
			value: &ConfChangeV2{
				Transition: ConfChangeTransitionJointExplicit,
				Changes: []ConfChangeSingle{
					{Type: ConfChangeAddNode, NodeID: 1},
					{Type: ConfChangeAddLearnerNode, NodeID: 2},
				},
				Context: []byte("c"),
			},
			wire: `
				08 02    // field 1 (transition) 2 = ConfChangeTransitionJointExplicit
				12 04    // field 2 (changes[0]) length 4
				08 00    //   type ConfChangeAddNode
				10 01    //   node_id 1
				12 04    // field 2 (changes[1]) length 4
				08 03    //   type ConfChangeAddLearnerNode
				10 02    //   node_id 2
				1a 01 63 // field 3 (context) "c"`,
		},
		{
			name: "ConfChangeV2/auto with empty context",
			value: &ConfChangeV2{
				Changes: []ConfChangeSingle{{Type: ConfChangeRemoveNode, NodeID: 300}},
				Context: []byte{},
			},
			wire: `
				08 00    // field 1 (transition) 0 = Auto
				12 05    // field 2 (changes[0]) length 5
				08 01    //   type ConfChangeRemoveNode
				10 ac 02 //   node_id 300
				1a 00    // field 3 (context) non-nil empty`,
		},
	}
}

// newLike returns a pointer to a new zero value of the type v points to.
func newLike(v wireMessage) wireMessage {
	return reflect.New(reflect.TypeOf(v).Elem()).Interface().(wireMessage)
}

func TestGoldenWire(t *testing.T) {
	for _, tc := range goldenCases() {
		t.Run(tc.name, func(t *testing.T) {
			want := hexWire(tc.wire)

			got, err := tc.value.Marshal()
			require.NoError(t, err)
			assert.Equal(t, want, got, "Marshal: got % x", got)
			assert.Equal(t, len(want), tc.value.Size(), "Size")

			buf := append([]byte(nil), want...)
			decoded := newLike(tc.value)
			require.NoError(t, decoded.Unmarshal(buf))
			assert.Equal(t, tc.value, decoded)

			// Decoding copies bytes fields: scribbling over the input
			// afterwards must not change the decoded value.
			for i := range buf {
				buf[i] = 0xee
			}
			assert.Equal(t, tc.value, decoded, "decoded value aliases the input buffer")
		})
	}
}
