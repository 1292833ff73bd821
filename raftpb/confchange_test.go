package raftpb

import (
	"math"
	"math/rand"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestConfChangeAsV2(t *testing.T) {
	ctx := []byte("ctx")
	cc := ConfChange{Type: ConfChangeAddLearnerNode, NodeID: 4, Context: ctx, ID: 99}
	v2 := cc.AsV2()
	assert.Equal(t, ConfChangeV2{
		Transition: ConfChangeTransitionAuto,
		Changes:    []ConfChangeSingle{{Type: ConfChangeAddLearnerNode, NodeID: 4}},
		Context:    ctx,
	}, v2)

	// A single change with the automatic transition is not joint and is not
	// a request to leave one: applying it is a simple change, like V1.
	_, joint := v2.EnterJoint()
	assert.False(t, joint)
	assert.False(t, v2.LeaveJoint())

	v1, ok := cc.AsV1()
	assert.True(t, ok)
	assert.Equal(t, cc, v1)
}

func TestConfChangeV2AsV1AndAsV2(t *testing.T) {
	tests := []ConfChangeV2{
		{},
		{Changes: []ConfChangeSingle{{Type: ConfChangeAddNode, NodeID: 1}}},
		{
			Transition: ConfChangeTransitionJointExplicit,
			Changes:    []ConfChangeSingle{{NodeID: 1}, {Type: ConfChangeRemoveNode, NodeID: 2}},
			Context:    []byte("c"),
		},
	}
	for _, cc := range tests {
		assert.Equal(t, cc, cc.AsV2())
		v1, ok := cc.AsV1()
		assert.False(t, ok, "%v", cc)
		assert.Equal(t, ConfChange{}, v1)
	}
}

func TestMarshalConfChange(t *testing.T) {
	v1 := ConfChange{Type: ConfChangeRemoveNode, NodeID: 3, Context: []byte("ctx"), ID: 7}
	single := ConfChangeV2{Changes: []ConfChangeSingle{{Type: ConfChangeAddNode, NodeID: 2}}}
	joint := ConfChangeV2{
		Transition: ConfChangeTransitionJointImplicit,
		Changes:    []ConfChangeSingle{{NodeID: 2}, {Type: ConfChangeAddLearnerNode, NodeID: 3}},
	}
	tests := []struct {
		name     string
		cc       ConfChangeI
		wantType EntryType
		wantData string // annotated hex; "" means nil data
	}{
		{name: "nil interface", cc: nil, wantType: EntryConfChangeV2},
		{name: "nil *ConfChange", cc: (*ConfChange)(nil), wantType: EntryConfChangeV2},
		{name: "nil *ConfChangeV2", cc: (*ConfChangeV2)(nil), wantType: EntryConfChangeV2},
		{
			name: "V1 value", cc: v1, wantType: EntryConfChange,
			wantData: "08 07 10 01 18 03 22 03 63 74 78 // id 7, RemoveNode, node 3, ctx",
		},
		{
			name: "V1 pointer", cc: &v1, wantType: EntryConfChange,
			wantData: "08 07 10 01 18 03 22 03 63 74 78",
		},
		{
			name: "empty V1 is still V1", cc: ConfChange{}, wantType: EntryConfChange,
			wantData: "08 00 10 00 18 00",
		},
		{
			// A one-change V2 stays V2: AsV1 never converts back.
			name: "single-change V2", cc: single, wantType: EntryConfChangeV2,
			wantData: "08 00 12 04 08 00 10 02 // Auto, changes [{AddNode 2}]",
		},
		{
			name: "joint V2 pointer", cc: &joint, wantType: EntryConfChangeV2,
			wantData: "08 01 12 04 08 00 10 02 12 04 08 03 10 03",
		},
		{
			name: "empty V2 (leave joint)", cc: ConfChangeV2{}, wantType: EntryConfChangeV2,
			wantData: "08 00",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			typ, data, err := MarshalConfChange(tc.cc)
			require.NoError(t, err)
			assert.Equal(t, tc.wantType, typ)
			if tc.wantData == "" {
				assert.Nil(t, data)
			} else {
				assert.Equal(t, hexWire(tc.wantData), data)
			}
		})
	}

	// Nil data, the encoding of "no change", decodes as the empty
	// ConfChangeV2 that leaves a joint configuration.
	var decoded ConfChangeV2
	require.NoError(t, decoded.Unmarshal(nil))
	assert.True(t, decoded.LeaveJoint())
}

func TestConfChangeV2EnterLeaveJoint(t *testing.T) {
	one := []ConfChangeSingle{{Type: ConfChangeAddNode, NodeID: 1}}
	two := []ConfChangeSingle{{Type: ConfChangeAddNode, NodeID: 1}, {Type: ConfChangeRemoveNode, NodeID: 2}}
	tests := []struct {
		name          string
		cc            ConfChangeV2
		wantAutoLeave bool
		wantJoint     bool
		wantLeave     bool
	}{
		{name: "empty: leave joint", cc: ConfChangeV2{}, wantLeave: true},
		{name: "empty with context: leave joint", cc: ConfChangeV2{Context: []byte("x")}, wantLeave: true},
		{name: "empty, non-nil changes: leave joint", cc: ConfChangeV2{Changes: []ConfChangeSingle{}}, wantLeave: true},
		{name: "auto, one change: simple", cc: ConfChangeV2{Changes: one}},
		{name: "auto, two changes: joint, auto leave", cc: ConfChangeV2{Changes: two}, wantAutoLeave: true, wantJoint: true},
		{
			name:          "implicit, one change: joint, auto leave",
			cc:            ConfChangeV2{Transition: ConfChangeTransitionJointImplicit, Changes: one},
			wantAutoLeave: true, wantJoint: true,
		},
		{
			name:          "implicit, two changes: joint, auto leave",
			cc:            ConfChangeV2{Transition: ConfChangeTransitionJointImplicit, Changes: two},
			wantAutoLeave: true, wantJoint: true,
		},
		{
			name:      "explicit, one change: joint, explicit leave",
			cc:        ConfChangeV2{Transition: ConfChangeTransitionJointExplicit, Changes: one},
			wantJoint: true,
		},
		{
			name:      "explicit, two changes: joint, explicit leave",
			cc:        ConfChangeV2{Transition: ConfChangeTransitionJointExplicit, Changes: two, Context: []byte("x")},
			wantJoint: true,
		},
		{
			// Not the leave request: the transition is set. Entering a joint
			// configuration with no changes is for the Changer to refuse.
			name:      "explicit, no changes: not a leave",
			cc:        ConfChangeV2{Transition: ConfChangeTransitionJointExplicit},
			wantJoint: true,
		},
		{
			name:          "implicit, no changes: not a leave",
			cc:            ConfChangeV2{Transition: ConfChangeTransitionJointImplicit},
			wantAutoLeave: true, wantJoint: true,
		},
		{
			// Unknown transitions are read as JointExplicit instead of
			// panicking.
			name:      "unknown transition 3: joint, explicit leave",
			cc:        ConfChangeV2{Transition: 3, Changes: one},
			wantJoint: true,
		},
		{
			name:      "negative transition: joint, explicit leave",
			cc:        ConfChangeV2{Transition: -1},
			wantJoint: true,
		},
		{
			name:      "max transition with two changes",
			cc:        ConfChangeV2{Transition: math.MaxInt32, Changes: two},
			wantJoint: true,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var autoLeave, joint bool
			require.NotPanics(t, func() { autoLeave, joint = tc.cc.EnterJoint() })
			assert.Equal(t, tc.wantJoint, joint, "EnterJoint ok")
			assert.Equal(t, tc.wantAutoLeave, autoLeave, "EnterJoint autoLeave")
			assert.Equal(t, tc.wantLeave, tc.cc.LeaveJoint(), "LeaveJoint")
			// No change both enters and leaves a joint configuration.
			assert.False(t, joint && tc.cc.LeaveJoint())
		})
	}
}

func TestConfChangesFromString(t *testing.T) {
	tests := []struct {
		in   string
		want []ConfChangeSingle
	}{
		{"", nil},
		{"   ", nil},
		{"v1", []ConfChangeSingle{{Type: ConfChangeAddNode, NodeID: 1}}},
		{"l2", []ConfChangeSingle{{Type: ConfChangeAddLearnerNode, NodeID: 2}}},
		{"r3", []ConfChangeSingle{{Type: ConfChangeRemoveNode, NodeID: 3}}},
		{"u4", []ConfChangeSingle{{Type: ConfChangeUpdateNode, NodeID: 4}}},
		{"v0", []ConfChangeSingle{{Type: ConfChangeAddNode, NodeID: 0}}},
		{"v1 v2 l3 r4 u5", []ConfChangeSingle{
			{Type: ConfChangeAddNode, NodeID: 1},
			{Type: ConfChangeAddNode, NodeID: 2},
			{Type: ConfChangeAddLearnerNode, NodeID: 3},
			{Type: ConfChangeRemoveNode, NodeID: 4},
			{Type: ConfChangeUpdateNode, NodeID: 5},
		}},
		{"  v1 \t r2\n", []ConfChangeSingle{
			{Type: ConfChangeAddNode, NodeID: 1},
			{Type: ConfChangeRemoveNode, NodeID: 2},
		}},
		{"v18446744073709551615", []ConfChangeSingle{{Type: ConfChangeAddNode, NodeID: math.MaxUint64}}},
		{"r007", []ConfChangeSingle{{Type: ConfChangeRemoveNode, NodeID: 7}}},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			got, err := ConfChangesFromString(tc.in)
			require.NoError(t, err)
			assert.Equal(t, tc.want, got)
		})
	}
}

func TestConfChangesFromStringErrors(t *testing.T) {
	tests := []struct {
		in      string
		badTok  string
		wantMsg string
	}{
		{in: "x1", badTok: `"x1"`, wantMsg: "unknown change"},
		{in: "v1 a2", badTok: `"a2"`, wantMsg: "unknown change"},
		{in: "V1", badTok: `"V1"`, wantMsg: "unknown change"},
		{in: "v", badTok: `"v"`, wantMsg: "not a decimal uint64"},
		{in: "v1 l", badTok: `"l"`, wantMsg: "not a decimal uint64"},
		{in: "r-1", badTok: `"r-1"`, wantMsg: "not a decimal uint64"},
		{in: "u+1", badTok: `"u+1"`, wantMsg: "not a decimal uint64"},
		{in: "v0x10", badTok: `"v0x10"`, wantMsg: "not a decimal uint64"},
		{in: "v1_000", badTok: `"v1_000"`, wantMsg: "not a decimal uint64"},
		{in: "v18446744073709551616", badTok: `"v18446744073709551616"`, wantMsg: "not a decimal uint64"},
		{in: "v1,v2", badTok: `"v1,v2"`, wantMsg: "not a decimal uint64"},
		{in: "1", badTok: `"1"`, wantMsg: "unknown change"},
		{in: "é1", badTok: `"é1"`, wantMsg: `unknown change 'é'`},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			got, err := ConfChangesFromString(tc.in)
			require.Error(t, err)
			assert.Nil(t, got, "no partial result on error")
			assert.Contains(t, err.Error(), tc.badTok)
			assert.Contains(t, err.Error(), tc.wantMsg)
		})
	}
}

func TestConfChangesToString(t *testing.T) {
	tests := []struct {
		in   []ConfChangeSingle
		want string
	}{
		{nil, ""},
		{[]ConfChangeSingle{}, ""},
		{[]ConfChangeSingle{{Type: ConfChangeAddNode, NodeID: 1}}, "v1"},
		{[]ConfChangeSingle{
			{Type: ConfChangeAddNode, NodeID: 1},
			{Type: ConfChangeAddLearnerNode, NodeID: 2},
			{Type: ConfChangeRemoveNode, NodeID: 3},
			{Type: ConfChangeUpdateNode, NodeID: math.MaxUint64},
		}, "v1 l2 r3 u18446744073709551615"},
		{[]ConfChangeSingle{{Type: 9, NodeID: 5}, {Type: ConfChangeRemoveNode, NodeID: 6}}, "unknown5 r6"},
	}
	for _, tc := range tests {
		t.Run(tc.want, func(t *testing.T) {
			assert.Equal(t, tc.want, ConfChangesToString(tc.in))
		})
	}
}

// TestConfChangesStringRoundTrip formats random lists of known changes and
// parses them back.
func TestConfChangesStringRoundTrip(t *testing.T) {
	g := gen{rand.New(rand.NewSource(7))}
	for iter := 0; iter < 1000; iter++ {
		var ccs []ConfChangeSingle
		for n := g.r.Intn(6); n > 0; n-- {
			ccs = append(ccs, ConfChangeSingle{Type: ConfChangeType(g.r.Intn(4)), NodeID: g.uint64()})
		}
		s := ConfChangesToString(ccs)
		got, err := ConfChangesFromString(s)
		require.NoError(t, err, "iteration %d: %q", iter, s)
		require.Equal(t, ccs, got, "iteration %d: %q", iter, s)
	}
}
