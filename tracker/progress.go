package tracker

import (
	"fmt"
	"slices"
	"strings"
)

// Progress is the leader's view of one peer's log and of how replication to
// it proceeds. Only the leader keeps Progress values. The invariant
// Match < Next holds at all times.
type Progress struct {
	// Match is the highest index known to be in the peer's log and to agree
	// with the leader's. Next is the index of the first entry the leader
	// will send next.
	Match, Next uint64

	// State is the replication mode; see StateType.
	State StateType

	// PendingSnapshot is, in StateSnapshot, the index of the snapshot being
	// sent. Once the peer acknowledges an index at or above it, replication
	// can resume from the snapshot. Zero in the other states.
	PendingSnapshot uint64

	// RecentActive is true if the peer has been heard from recently (since
	// the last CheckQuorum round). New peers start out active.
	RecentActive bool

	// MsgAppFlowPaused is true when the leader should stop sending appends to
	// the peer for now: in StateProbe after one append was sent without an
	// answer, in StateReplicate while Inflights is full. Use IsPaused rather
	// than reading it directly: StateSnapshot is paused regardless.
	MsgAppFlowPaused bool

	// Inflights is the window of unacknowledged appends in StateReplicate.
	// Copies of a Progress handed to observers may have it nil.
	Inflights *Inflights

	// IsLearner is true if the peer is a learner: it receives the log but
	// does not vote and does not count towards the commit quorum.
	IsLearner bool

	// sentCommit is the highest commit index the leader has told the peer
	// about (or has reason to believe the peer knows). It never exceeds
	// Next-1, because a peer cannot commit what it may not have.
	sentCommit uint64
}

// ResetState switches to state and forgets everything specific to the
// previous state: the pause flag, the pending snapshot and all inflight
// appends. Match, Next and sentCommit are left to the caller.
func (pr *Progress) ResetState(state StateType) {
	pr.State = state
	pr.MsgAppFlowPaused = false
	pr.PendingSnapshot = 0
	pr.Inflights.reset()
}

// BecomeProbe enters StateProbe. Probing restarts right after Match, except
// after a snapshot: the peer then holds the snapshot (it was acknowledged or
// reported as delivered), so probing starts after the snapshot's index if
// that is further along.
func (pr *Progress) BecomeProbe() {
	next := pr.Match + 1
	if pr.State == StateSnapshot {
		next = max(next, pr.PendingSnapshot+1)
	}
	pr.ResetState(StateProbe)
	pr.Next = next
	pr.sentCommit = min(pr.sentCommit, pr.Next-1)
}

// BecomeReplicate enters StateReplicate, streaming from Match+1.
func (pr *Progress) BecomeReplicate() {
	pr.ResetState(StateReplicate)
	pr.Next = pr.Match + 1
}

// BecomeSnapshot enters StateSnapshot while a snapshot at index snapshoti is
// sent. The snapshot carries its own commit index, so the peer learns that
// everything up to snapshoti is committed.
func (pr *Progress) BecomeSnapshot(snapshoti uint64) {
	pr.ResetState(StateSnapshot)
	pr.PendingSnapshot = snapshoti
	pr.Next = snapshoti + 1
	pr.sentCommit = snapshoti
}

// SentEntries records that an append carrying entries log entries and bytes
// bytes of payload was sent to the peer. In StateReplicate, Next moves past
// the entries and the append joins Inflights; flow pauses if that fills the
// window. In StateProbe a non-empty append pauses the flow until the peer
// answers. Sending appends in StateSnapshot is a caller bug and panics.
func (pr *Progress) SentEntries(entries int, bytes uint64) {
	switch pr.State {
	case StateReplicate:
		if entries > 0 {
			pr.Next += uint64(entries)
			pr.Inflights.Add(pr.Next-1, bytes)
		}
		pr.MsgAppFlowPaused = pr.Inflights.Full()
	case StateProbe:
		if entries > 0 {
			pr.MsgAppFlowPaused = true
		}
	default:
		panic(fmt.Sprintf("tracker: SentEntries(entries=%d, bytes=%d) in %s; appends are only sent in StateProbe and StateReplicate",
			entries, bytes, pr.State))
	}
}

// CanBumpCommit reports whether telling the peer about commit index index
// would teach it something: index is above what it was told already, and the
// peer may have entries above that (the commit index sent to a peer is capped
// at Next-1).
func (pr *Progress) CanBumpCommit(index uint64) bool {
	return index > pr.sentCommit && pr.sentCommit < pr.Next-1
}

// SentCommit records that commit index commit was sent to the peer.
func (pr *Progress) SentCommit(commit uint64) {
	pr.sentCommit = commit
}

// MaybeUpdate handles an acknowledgement that the peer's log matches the
// leader's up to index n. It returns false if that was known already (a stale
// or duplicate answer); otherwise it raises Match, resumes a paused flow and
// returns true. Next is raised if needed to keep Match < Next.
func (pr *Progress) MaybeUpdate(n uint64) bool {
	updated := n > pr.Match
	if updated {
		pr.Match = n
		pr.MsgAppFlowPaused = false
	}
	pr.Next = max(pr.Next, n+1)
	return updated
}

// MaybeDecrTo handles the peer rejecting the append whose preceding entry was
// at index rejected; matchHint is the peer's suggestion of the highest index
// at which the logs may still agree. It returns false for a rejection that is
// out of date (and changes nothing), true if Next moved back.
//
// In StateReplicate a rejection is stale if it concerns an index at or below
// Match; otherwise Next falls back to Match+1 (the caller normally moves to
// StateProbe next). In the other states only a rejection of the latest probe
// (rejected == Next-1) counts: Next moves to just after the hint, but never
// above rejected and never to or below Match, and the flow resumes.
func (pr *Progress) MaybeDecrTo(rejected, matchHint uint64) bool {
	if pr.State == StateReplicate {
		if rejected <= pr.Match {
			return false
		}
		pr.Next = pr.Match + 1
		pr.sentCommit = min(pr.sentCommit, pr.Next-1)
		return true
	}

	if rejected != pr.Next-1 {
		return false
	}
	pr.Next = max(min(rejected, matchHint+1), pr.Match+1)
	pr.sentCommit = min(pr.sentCommit, pr.Next-1)
	pr.MsgAppFlowPaused = false
	return true
}

// IsPaused reports whether the leader should hold back appends to the peer.
// In StateSnapshot it always should; otherwise it follows MsgAppFlowPaused.
// Heartbeats are not affected.
func (pr *Progress) IsPaused() bool {
	if pr.State == StateSnapshot {
		return true
	}
	return pr.MsgAppFlowPaused
}

// String is a compact one-line summary, for example
// "StateReplicate match=5 next=6 learner paused pendingSnap=3 inactive inflight=2[full]".
// The optional words appear only when they apply.
func (pr *Progress) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s match=%d next=%d", pr.State, pr.Match, pr.Next)
	if pr.IsLearner {
		b.WriteString(" learner")
	}
	if pr.IsPaused() {
		b.WriteString(" paused")
	}
	if pr.PendingSnapshot > 0 {
		fmt.Fprintf(&b, " pendingSnap=%d", pr.PendingSnapshot)
	}
	if !pr.RecentActive {
		b.WriteString(" inactive")
	}
	if n := pr.Inflights.Count(); n > 0 {
		fmt.Fprintf(&b, " inflight=%d", n)
		if pr.Inflights.Full() {
			b.WriteString("[full]")
		}
	}
	return b.String()
}

// ProgressMap holds the Progress of every member, keyed by node ID.
type ProgressMap map[uint64]*Progress

// String lists the members in ascending ID order, one "id: progress" line
// each.
func (m ProgressMap) String() string {
	ids := make([]uint64, 0, len(m))
	for id := range m {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	var b strings.Builder
	for _, id := range ids {
		fmt.Fprintf(&b, "%d: %s\n", id, m[id])
	}
	return b.String()
}
