package raft

import (
	"bytes"
	"fmt"
	"slices"
	"strconv"
	"strings"

	pb "github.com/pontoon-raft/raft/raftpb"
)

// EntryFormatter renders an entry's Data for the Describe functions. Nil
// prints the data's length only.
type EntryFormatter func([]byte) string

func sortIDs(ids []uint64) { slices.Sort(ids) }

// idList renders ids as space-separated hexadecimal numbers.
func idList(ids []uint64) string {
	var b strings.Builder
	for i, id := range ids {
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(strconv.FormatUint(id, 16))
	}
	return b.String()
}

// describeTarget names a message endpoint.
func describeTarget(id uint64) string {
	switch id {
	case None:
		return "None"
	case LocalAppendThread:
		return "AppendThread"
	case LocalApplyThread:
		return "ApplyThread"
	default:
		return fmt.Sprintf("%x", id)
	}
}

// DescribeHardState renders a HardState on one line.
func DescribeHardState(hs pb.HardState) string {
	var b strings.Builder
	fmt.Fprintf(&b, "Term:%d", hs.Term)
	if hs.Vote != 0 {
		fmt.Fprintf(&b, " Vote:%d", hs.Vote)
	}
	fmt.Fprintf(&b, " Commit:%d", hs.Commit)
	return b.String()
}

// DescribeSoftState renders a SoftState on one line.
func DescribeSoftState(ss SoftState) string {
	return fmt.Sprintf("Lead:%d State:%s", ss.Lead, ss.RaftState)
}

// DescribeConfState renders a ConfState on one line.
func DescribeConfState(state pb.ConfState) string {
	return fmt.Sprintf("Voters:%v VotersOutgoing:%v Learners:%v LearnersNext:%v AutoLeave:%v",
		state.Voters, state.VotersOutgoing, state.Learners, state.LearnersNext, state.AutoLeave)
}

// DescribeSnapshot renders a snapshot's metadata on one line.
func DescribeSnapshot(snap pb.Snapshot) string {
	m := snap.Metadata
	return fmt.Sprintf("Index:%d Term:%d ConfState:%s", m.Index, m.Term, DescribeConfState(m.ConfState))
}

// DescribeReady renders a Ready on several lines, for traces and tests.
func DescribeReady(rd Ready, f EntryFormatter) string {
	var b strings.Builder
	if rd.SoftState != nil {
		b.WriteString(DescribeSoftState(*rd.SoftState))
		b.WriteByte('\n')
	}
	if !IsEmptyHardState(rd.HardState) {
		fmt.Fprintf(&b, "HardState %s\n", DescribeHardState(rd.HardState))
	}
	if len(rd.ReadStates) > 0 {
		fmt.Fprintf(&b, "ReadStates %v\n", rd.ReadStates)
	}
	if len(rd.Entries) > 0 {
		b.WriteString("Entries:\n")
		b.WriteString(DescribeEntries(rd.Entries, f))
	}
	if !IsEmptySnap(rd.Snapshot) {
		fmt.Fprintf(&b, "Snapshot %s\n", DescribeSnapshot(rd.Snapshot))
	}
	if len(rd.CommittedEntries) > 0 {
		b.WriteString("CommittedEntries:\n")
		b.WriteString(DescribeEntries(rd.CommittedEntries, f))
	}
	if len(rd.Messages) > 0 {
		b.WriteString("Messages:\n")
		for _, msg := range rd.Messages {
			b.WriteString(DescribeMessage(msg, f))
			b.WriteByte('\n')
		}
	}
	if b.Len() > 0 {
		return fmt.Sprintf("Ready MustSync=%t:\n%s", rd.MustSync, b.String())
	}
	return "<empty Ready>"
}

// DescribeMessage renders a message in the text etcd/raft prints, e.g.
// "1->2 MsgApp Term:3 Log:3/10 Commit:9 Entries:[3/11 EntryNormal ...]". Two
// or more entries, a snapshot and each response go on lines of their own.
// Context (e.g. a read token) is not shown, as in etcd/raft.
func DescribeMessage(m pb.Message, f EntryFormatter) string {
	return describeMessageWithIndent("", m, f)
}

func describeMessageWithIndent(indent string, m pb.Message, f EntryFormatter) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s%s->%s %v Term:%d Log:%d/%d", indent,
		describeTarget(m.From), describeTarget(m.To), m.Type, m.Term, m.LogTerm, m.Index)
	if m.Reject {
		fmt.Fprintf(&b, " Rejected (Hint: %d)", m.RejectHint)
	}
	if m.Commit != 0 {
		fmt.Fprintf(&b, " Commit:%d", m.Commit)
	}
	if m.Vote != 0 {
		fmt.Fprintf(&b, " Vote:%d", m.Vote)
	}
	switch len(m.Entries) {
	case 0:
	case 1:
		fmt.Fprintf(&b, " Entries:[%s]", DescribeEntry(m.Entries[0], f))
	default:
		b.WriteString(" Entries:[")
		for _, e := range m.Entries {
			fmt.Fprintf(&b, "\n%s  %s", indent, DescribeEntry(e, f))
		}
		fmt.Fprintf(&b, "\n%s]", indent)
	}
	if m.Snapshot != nil && !IsEmptySnap(*m.Snapshot) {
		fmt.Fprintf(&b, "\n%s  Snapshot: %s", indent, DescribeSnapshot(*m.Snapshot))
	}
	if len(m.Responses) > 0 {
		b.WriteString(" Responses:[")
		for _, r := range m.Responses {
			b.WriteByte('\n')
			b.WriteString(describeMessageWithIndent(indent+"  ", r, f))
		}
		if len(m.Responses) > 0 {
			b.WriteByte('\n')
			b.WriteString(indent)
		}
		b.WriteByte(']')
	}
	return b.String()
}

// DescribeEntry renders an entry as "term/index type data"; conf changes
// are decoded.
func DescribeEntry(e pb.Entry, f EntryFormatter) string {
	if f == nil {
		f = func(data []byte) string { return fmt.Sprintf("%q", data) }
	}
	var formatted string
	switch e.Type {
	case pb.EntryNormal:
		formatted = f(e.Data)
	case pb.EntryConfChange, pb.EntryConfChangeV2:
		cc, err := decodeConfChange(e)
		if err != nil {
			formatted = err.Error()
		} else {
			formatted = pb.ConfChangesToString(cc.AsV2().Changes)
		}
	}
	if formatted != "" {
		formatted = " " + formatted
	}
	return fmt.Sprintf("%d/%d %s%s", e.Term, e.Index, e.Type, formatted)
}

// DescribeEntries renders entries one per line.
func DescribeEntries(ents []pb.Entry, f EntryFormatter) string {
	var buf bytes.Buffer
	for _, e := range ents {
		_, _ = buf.WriteString(DescribeEntry(e, f) + "\n")
	}
	return buf.String()
}
