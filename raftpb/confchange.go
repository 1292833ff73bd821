package raftpb

import (
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"
)

// ConfChangeI is a configuration change in either of its two encodings:
// ConfChange (one node, the original format) or ConfChangeV2 (any number of
// nodes, optionally through a joint configuration). Code that accepts a
// change works with the V2 form and uses AsV1 only to pick the encoding.
type ConfChangeI interface {
	// AsV2 returns the change in the V2 form. It never fails: every V1
	// change has a V2 equivalent.
	AsV2() ConfChangeV2
	// AsV1 returns the change in the V1 form and true, or false if the
	// change cannot be expressed as a single ConfChange.
	AsV1() (ConfChange, bool)
}

// Both encodings implement ConfChangeI; pointers to them do too, through the
// value receivers.
var (
	_ ConfChangeI = ConfChange{}
	_ ConfChangeI = ConfChangeV2{}
)

// MarshalConfChange encodes c as the Type and Data of a log entry.
//
// A change that is a V1 ConfChange is encoded as EntryConfChange with the
// ConfChange bytes; anything else becomes EntryConfChangeV2 with the
// ConfChangeV2 bytes, so peers that only understand V1 keep reading the
// changes they always could.
//
// A nil c, or a nil *ConfChange or *ConfChangeV2, yields EntryConfChangeV2
// with nil data. Nil data decodes as an empty ConfChangeV2, which means
// "leave the joint configuration", and an entry with no data is never
// refused for its size.
func MarshalConfChange(c ConfChangeI) (EntryType, []byte, error) {
	switch p := c.(type) {
	case nil:
		return EntryConfChangeV2, nil, nil
	case *ConfChange:
		if p == nil {
			return EntryConfChangeV2, nil, nil
		}
	case *ConfChangeV2:
		if p == nil {
			return EntryConfChangeV2, nil, nil
		}
	}
	if v1, ok := c.AsV1(); ok {
		data, err := v1.Marshal()
		if err != nil {
			return EntryConfChange, nil, err
		}
		return EntryConfChange, data, nil
	}
	v2 := c.AsV2()
	data, err := v2.Marshal()
	if err != nil {
		return EntryConfChangeV2, nil, err
	}
	return EntryConfChangeV2, data, nil
}

// AsV2 returns c as a ConfChangeV2 holding the one change c describes, with
// the automatic transition and c's Context (the slice is shared, not
// copied). c.ID has no V2 counterpart and is dropped.
func (c ConfChange) AsV2() ConfChangeV2 {
	return ConfChangeV2{
		Transition: ConfChangeTransitionAuto,
		Changes:    []ConfChangeSingle{{Type: c.Type, NodeID: c.NodeID}},
		Context:    c.Context,
	}
}

// AsV1 returns c unchanged and true: a ConfChange is always a V1 change.
func (c ConfChange) AsV1() (ConfChange, bool) {
	return c, true
}

// AsV2 returns c unchanged.
func (c ConfChangeV2) AsV2() ConfChangeV2 {
	return c
}

// AsV1 returns an empty ConfChange and false. A ConfChangeV2 is never
// converted back to V1, even when it holds a single change, so that a change
// proposed as V2 is also logged and applied as V2.
func (c ConfChangeV2) AsV1() (ConfChange, bool) {
	return ConfChange{}, false
}

// EnterJoint reports whether applying c goes through a joint configuration
// (ok), and if so whether Raft leaves that configuration on its own once it
// is committed (autoLeave).
//
// A change uses a joint configuration when its Transition is not
// ConfChangeTransitionAuto, or when it changes more than one node (Auto then
// behaves like ConfChangeTransitionJointImplicit). Every transition except
// ConfChangeTransitionJointExplicit leaves automatically.
//
// A Transition value outside the enum (for example from a newer peer) does
// not panic: it is treated as ConfChangeTransitionJointExplicit, that is a
// joint configuration left only by an explicit empty ConfChangeV2. That is
// the most conservative reading, and every node applying the same entry
// reaches the same answer. Callers that would rather refuse such a change
// can check ConfChangeTransition_name before proposing it.
func (c ConfChangeV2) EnterJoint() (autoLeave bool, ok bool) {
	if c.Transition == ConfChangeTransitionAuto && len(c.Changes) <= 1 {
		return false, false
	}
	switch c.Transition {
	case ConfChangeTransitionAuto, ConfChangeTransitionJointImplicit:
		return true, true
	default: // ConfChangeTransitionJointExplicit, or unknown.
		return false, true
	}
}

// LeaveJoint reports whether c is the request to leave a joint
// configuration: a ConfChangeV2 that is empty apart from its Context, that
// is with no Changes and the automatic Transition.
func (c ConfChangeV2) LeaveJoint() bool {
	return c.Transition == ConfChangeTransitionAuto && len(c.Changes) == 0
}

// confChangeTokenPrefix maps each ConfChangeType to the letter that stands
// for it in ConfChangesToString and ConfChangesFromString.
var confChangeTokenPrefix = map[ConfChangeType]byte{
	ConfChangeAddNode:        'v',
	ConfChangeAddLearnerNode: 'l',
	ConfChangeRemoveNode:     'r',
	ConfChangeUpdateNode:     'u',
}

// ConfChangesFromString parses a list of changes written as tokens separated
// by white space, each a letter followed by a decimal node ID: vN adds (or
// promotes) voter N, lN adds learner N (or demotes voter N), rN removes node
// N and uN updates node N. For example "v1 v2 l3 r4". An empty or blank
// string yields no changes and no error. A malformed token makes the whole
// call fail with an error that quotes the token.
func ConfChangesFromString(s string) ([]ConfChangeSingle, error) {
	var ccs []ConfChangeSingle
	for _, tok := range strings.Fields(s) {
		var cc ConfChangeSingle
		switch tok[0] {
		case 'v':
			cc.Type = ConfChangeAddNode
		case 'l':
			cc.Type = ConfChangeAddLearnerNode
		case 'r':
			cc.Type = ConfChangeRemoveNode
		case 'u':
			cc.Type = ConfChangeUpdateNode
		default:
			kind, _ := utf8.DecodeRuneInString(tok)
			return nil, fmt.Errorf("raftpb: conf change token %q: unknown change %q, want one of v, l, r, u", tok, kind)
		}
		id, err := strconv.ParseUint(tok[1:], 10, 64)
		if err != nil {
			return nil, fmt.Errorf("raftpb: conf change token %q: node ID is not a decimal uint64: %w", tok, err)
		}
		cc.NodeID = id
		ccs = append(ccs, cc)
	}
	return ccs, nil
}

// ConfChangesToString formats ccs in the notation ConfChangesFromString
// reads, tokens separated by single spaces. A change whose Type is not one
// of the four known ones is written as "unknown" followed by the node ID,
// which ConfChangesFromString rejects.
func ConfChangesToString(ccs []ConfChangeSingle) string {
	var b strings.Builder
	for i, cc := range ccs {
		if i > 0 {
			b.WriteByte(' ')
		}
		if prefix, ok := confChangeTokenPrefix[cc.Type]; ok {
			b.WriteByte(prefix)
		} else {
			b.WriteString("unknown")
		}
		b.WriteString(strconv.FormatUint(cc.NodeID, 10))
	}
	return b.String()
}
