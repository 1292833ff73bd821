package raft

import (
	"errors"
	"fmt"
	"math"

	pb "github.com/pontoon-raft/raft/raftpb"
)

// raftLog is a node's view of the replicated log: the durable part in
// Storage followed by the unstable tail, together with the commit and apply
// cursors. By index:
//
//	[firstIndex() .. unstable.offset-1]   in Storage (durable)
//	[unstable.offset .. lastIndex()]      in unstable (not yet durable)
//
// and applied <= applying <= committed <= lastIndex() always holds. The
// commit index may point into the unstable part: an entry can be stored on
// a quorum before it is stored here.
type raftLog struct {
	// storage holds the entries the application has made durable.
	storage Storage
	// unstable holds entries (and possibly a snapshot) not yet durable.
	unstable unstable

	// committed is the highest index known to be stored on a quorum.
	committed uint64
	// applying is the highest index handed to the application for applying
	// (committed entries returned by nextCommittedEnts and accepted).
	applying uint64
	// applied is the highest index the application has reported applied.
	applied uint64

	// maxApplyingEntsSize bounds the encoded size of entries that are being
	// applied at once, i.e. handed out and not yet reported applied.
	maxApplyingEntsSize uint64
	// applyingEntsSize is the encoded size of the entries being applied.
	applyingEntsSize uint64
	// applyingEntsPaused stops nextCommittedEnts from handing out more
	// entries until enough of those being applied are reported applied.
	applyingEntsPaused bool
}

// newLog returns a log over storage with no bound on the size of entries
// being applied at once.
func newLog(storage Storage) (*raftLog, error) {
	return newLogWithSize(storage, math.MaxUint64)
}

// newLogWithSize returns a log over storage that hands out at most
// maxApplyingEntsSize bytes of committed entries for applying at once (but
// always at least one entry). The log starts out committed and applied up to
// the storage's snapshot point (FirstIndex-1); the caller raises committed
// from the HardState and applied from its configuration afterwards.
func newLogWithSize(storage Storage, maxApplyingEntsSize uint64) (*raftLog, error) {
	if storage == nil {
		return nil, errors.New("raft: log storage must not be nil")
	}
	firstIndex, err := storage.FirstIndex()
	if err != nil {
		return nil, fmt.Errorf("raft: reading the first index from storage: %w", err)
	}
	lastIndex, err := storage.LastIndex()
	if err != nil {
		return nil, fmt.Errorf("raft: reading the last index from storage: %w", err)
	}
	return &raftLog{
		storage: storage,
		unstable: unstable{
			offset:           lastIndex + 1,
			offsetInProgress: lastIndex + 1,
		},
		committed:           firstIndex - 1,
		applying:            firstIndex - 1,
		applied:             firstIndex - 1,
		maxApplyingEntsSize: maxApplyingEntsSize,
	}, nil
}

// String summarises the log's cursors for logging.
func (l *raftLog) String() string {
	return fmt.Sprintf("committed=%d applying=%d applied=%d unstable.offset=%d unstable.offsetInProgress=%d len(unstable.entries)=%d",
		l.committed, l.applying, l.applied, l.unstable.offset, l.unstable.offsetInProgress, len(l.unstable.entries))
}

// maybeAppend handles the entries of an append request from the leader
// (paper §5.3): if our log has an entry at prevIndex with term prevTerm, the
// entries are merged into the log (only from the first conflicting one on,
// so that a stale or duplicated request cannot truncate entries we already
// have) and the commit index is advanced to min(committed, last new index).
// It returns the index of the last new entry and true, or (0, false) if the
// log does not contain (prevIndex, prevTerm).
func (l *raftLog) maybeAppend(prevIndex, prevTerm, committed uint64, ents []pb.Entry) (lastNewIndex uint64, ok bool) {
	if !l.matchTerm(prevIndex, prevTerm) {
		return 0, false
	}
	lastNewIndex = prevIndex + uint64(len(ents))
	if ci := l.findConflict(ents); ci != 0 {
		if ci <= l.committed {
			panic(fmt.Sprintf("raft: entry %d conflicts with a committed entry (committed=%d)", ci, l.committed))
		}
		l.append(ents[ci-(prevIndex+1):]...)
	}
	l.commitTo(min(committed, lastNewIndex))
	return lastNewIndex, true
}

// append adds ents to the unstable log, replacing any entries at or after
// ents[0].Index, and returns the new last index. Overwriting a committed
// entry would break State Machine Safety (paper §5.4.3), so it panics instead.
func (l *raftLog) append(ents ...pb.Entry) uint64 {
	if len(ents) == 0 {
		return l.lastIndex()
	}
	if after := ents[0].Index - 1; after < l.committed {
		panic(fmt.Sprintf("raft: appending after index %d would overwrite committed entries (committed=%d)", after, l.committed))
	}
	l.unstable.truncateAndAppend(ents)
	return l.lastIndex()
}

// findConflict returns the index of the first entry in ents that is not in
// our log: either its index is past our last entry or our entry at that
// index has a different term. It returns 0 if every entry is already in the
// log. ents must be consecutive.
func (l *raftLog) findConflict(ents []pb.Entry) uint64 {
	for i := range ents {
		if !l.matchTerm(ents[i].Index, ents[i].Term) {
			return ents[i].Index
		}
	}
	return 0
}

// findConflictByTerm returns the largest index i <= index whose term is at
// most term, together with that term. A leader uses it to skip, in one round
// trip, every entry of a follower's log that cannot match (the optimisation
// outlined at the end of paper §5.3): an entry whose term is higher than the other
// log's term at the same index cannot be in the other log.
//
// The caller passes index <= lastIndex(). If a term cannot be read (the
// entry was compacted, or index is beyond the log) the search stops there and
// returns (i, 0): 0 means "term unknown", and i may still match.
func (l *raftLog) findConflictByTerm(index, term uint64) (uint64, uint64) {
	for ; index > 0; index-- {
		t, err := l.term(index)
		if err != nil {
			return index, 0
		}
		if t <= term {
			return index, t
		}
	}
	return 0, 0
}

// nextUnstableEnts returns the unstable entries not yet handed out to be
// written to Storage.
func (l *raftLog) nextUnstableEnts() []pb.Entry {
	return l.unstable.nextEntries()
}

// hasNextUnstableEnts reports whether there are unstable entries not yet
// handed out to be written.
func (l *raftLog) hasNextUnstableEnts() bool {
	return len(l.nextUnstableEnts()) > 0
}

// hasNextOrInProgressUnstableEnts reports whether any entry is unstable,
// whether or not it has been handed out to be written.
func (l *raftLog) hasNextOrInProgressUnstableEnts() bool {
	return len(l.unstable.entries) > 0
}

// nextUnstableSnapshot returns the unstable snapshot if it has not been
// handed out to be written yet.
func (l *raftLog) nextUnstableSnapshot() *pb.Snapshot {
	return l.unstable.nextSnapshot()
}

// hasNextUnstableSnapshot reports whether there is an unstable snapshot not
// yet handed out to be written.
func (l *raftLog) hasNextUnstableSnapshot() bool {
	return l.unstable.nextSnapshot() != nil
}

// hasNextOrInProgressSnapshot reports whether there is an unstable snapshot,
// whether or not it has been handed out to be written.
func (l *raftLog) hasNextOrInProgressSnapshot() bool {
	return l.unstable.snapshot != nil
}

// nextCommittedEnts returns the next committed entries to hand to the
// application for applying: those in (applying, maxAppliableIndex], cut to
// the bytes left in the applying budget (maxApplyingEntsSize minus
// applyingEntsSize) but always at least one entry. With allowUnstable, it
// may return entries not yet durable locally (they are durable on a quorum).
//
// It returns nil while a snapshot is waiting to be written or applied (the
// entries after it cannot be applied before it) and while applying is
// paused by the budget.
func (l *raftLog) nextCommittedEnts(allowUnstable bool) []pb.Entry {
	if l.applyingEntsPaused || l.hasNextOrInProgressSnapshot() {
		return nil
	}
	lo, hi := l.applying+1, l.maxAppliableIndex(allowUnstable)+1
	if lo >= hi {
		return nil
	}
	var budget uint64 // 0 still yields one entry
	if l.applyingEntsSize < l.maxApplyingEntsSize {
		budget = l.maxApplyingEntsSize - l.applyingEntsSize
	}
	ents, err := l.slice(lo, hi, budget)
	if err != nil {
		// Committed entries above applied are never compacted (the
		// application only compacts what it has applied), so any error
		// means the local storage lost entries it reported as present.
		panic(fmt.Sprintf("raft: reading committed entries [%d, %d) to apply: %v", lo, hi, err))
	}
	return ents
}

// hasNextCommittedEnts reports whether nextCommittedEnts would return
// entries.
func (l *raftLog) hasNextCommittedEnts(allowUnstable bool) bool {
	if l.applyingEntsPaused || l.hasNextOrInProgressSnapshot() {
		return false
	}
	return l.applying < l.maxAppliableIndex(allowUnstable)
}

// maxAppliableIndex returns the highest index that may be handed out for
// applying: the commit index, capped at the last locally durable entry
// unless allowUnstable.
func (l *raftLog) maxAppliableIndex(allowUnstable bool) uint64 {
	if allowUnstable {
		return l.committed
	}
	return min(l.committed, l.unstable.offset-1)
}

// snapshot returns the most recent snapshot: the unstable one if there is
// one, else Storage's.
func (l *raftLog) snapshot() (pb.Snapshot, error) {
	if l.unstable.snapshot != nil {
		return *l.unstable.snapshot, nil
	}
	return l.storage.Snapshot()
}

// firstIndex returns the index of the first entry still in the log. A
// Storage failure here leaves the node unable to reason about its log, so it
// panics.
func (l *raftLog) firstIndex() uint64 {
	if i, ok := l.unstable.maybeFirstIndex(); ok {
		return i
	}
	i, err := l.storage.FirstIndex()
	if err != nil {
		panic(fmt.Sprintf("raft: reading the first index from storage: %v", err))
	}
	return i
}

// lastIndex returns the index of the last entry in the log (or of the
// snapshot, if no entry follows it). Like firstIndex, it panics if Storage
// fails.
func (l *raftLog) lastIndex() uint64 {
	if i, ok := l.unstable.maybeLastIndex(); ok {
		return i
	}
	i, err := l.storage.LastIndex()
	if err != nil {
		panic(fmt.Sprintf("raft: reading the last index from storage: %v", err))
	}
	return i
}

// lastTerm returns the term of the last entry in the log.
func (l *raftLog) lastTerm() uint64 {
	last := l.lastIndex()
	t, err := l.term(last)
	if err != nil {
		panic(fmt.Sprintf("raft: reading the term of the last entry %d: %v", last, err))
	}
	return t
}

// term returns the term of the entry at index i. Terms are known for
// [firstIndex()-1, lastIndex()]; below that it returns ErrCompacted and
// above it ErrUnavailable. Other errors from Storage are returned as they
// are.
func (l *raftLog) term(i uint64) (uint64, error) {
	// The unstable part answers without touching Storage, and anything it
	// knows is inside the valid range.
	if t, ok := l.unstable.maybeTerm(i); ok {
		return t, nil
	}
	// The entry just before the first one is compacted, but its term is
	// still known (Storage keeps it with the snapshot) for matching appends.
	if first := l.firstIndex(); first > 0 && i < first-1 {
		return 0, ErrCompacted
	}
	if i > l.lastIndex() {
		return 0, ErrUnavailable
	}
	t, err := l.storage.Term(i)
	switch {
	case err == nil:
		return t, nil
	case errors.Is(err, ErrCompacted):
		return 0, ErrCompacted // Storage compacted concurrently
	case errors.Is(err, ErrUnavailable):
		return 0, ErrUnavailable
	default:
		return 0, err
	}
}

// entries returns the entries from index i to the end of the log, cut to
// maxSize bytes but at least one entry.
func (l *raftLog) entries(i, maxSize uint64) ([]pb.Entry, error) {
	last := l.lastIndex()
	if i > last {
		return nil, nil
	}
	return l.slice(i, last+1, maxSize)
}

// allEntries returns every entry in the log. It is meant for tests.
func (l *raftLog) allEntries() []pb.Entry {
	for {
		ents, err := l.entries(l.firstIndex(), math.MaxUint64)
		if err == nil {
			return ents
		}
		if !errors.Is(err, ErrCompacted) {
			panic(fmt.Sprintf("raft: reading all entries: %v", err))
		}
		// Storage was compacted between firstIndex and the read; retry
		// from the new first index.
	}
}

// isUpToDate reports whether a log ending with (lasti, term) is at least as
// up-to-date as ours (paper §5.4.1): a later last term wins, and with equal last
// terms the longer log wins.
func (l *raftLog) isUpToDate(lasti, term uint64) bool {
	ourTerm := l.lastTerm()
	return term > ourTerm || (term == ourTerm && lasti >= l.lastIndex())
}

// matchTerm reports whether the log has an entry at index i with the given
// term. An index outside the known range never matches.
func (l *raftLog) matchTerm(i, term uint64) bool {
	t, err := l.term(i)
	return err == nil && t == term
}

// maybeCommit advances the commit index to maxIndex if that is an advance
// and the entry at maxIndex has the given term, and reports whether it did.
// paper §5.4.2: a leader only commits entries of its own term by counting
// replicas; earlier entries are committed indirectly. No leader has term 0.
func (l *raftLog) maybeCommit(maxIndex, term uint64) bool {
	if term == 0 || maxIndex <= l.committed {
		return false
	}
	if l.zeroTermOnOutOfBounds(l.term(maxIndex)) != term {
		return false
	}
	l.commitTo(maxIndex)
	return true
}

// commitTo raises the commit index to tocommit; a lower value is ignored
// because the commit index never decreases. Committing past the end of the
// log means the leader's messages or our log are corrupted, so it panics.
func (l *raftLog) commitTo(tocommit uint64) {
	if tocommit <= l.committed {
		return
	}
	if last := l.lastIndex(); tocommit > last {
		panic(fmt.Sprintf("raft: commit index %d is beyond last index %d; was the log lost or corrupted?", tocommit, last))
	}
	l.committed = tocommit
}

// appliedTo records that the application has applied every entry up to and
// including i, and that sizeBytes of the entries it was applying are done.
// It resumes handing out committed entries once the applying budget allows.
func (l *raftLog) appliedTo(i uint64, sizeBytes uint64) {
	if i > l.committed || i < l.applied {
		panic(fmt.Sprintf("raft: applied index %d is outside [previous applied %d, committed %d]", i, l.applied, l.committed))
	}
	l.applied = i
	l.applying = max(l.applying, i)
	l.applyingEntsSize -= min(sizeBytes, l.applyingEntsSize)
	l.applyingEntsPaused = l.applyingBudgetExhausted()
}

// acceptApplying records that the committed entries up to index i, of total
// encoded size sizeBytes, have been handed to the application. Further
// entries are held back if the applying budget is used up, or if the batch
// stopped short of maxAppliableIndex (the size limit cut it, so the next
// entry does not fit either).
func (l *raftLog) acceptApplying(i uint64, sizeBytes uint64, allowUnstable bool) {
	if i > l.committed {
		panic(fmt.Sprintf("raft: applying index %d is beyond committed index %d", i, l.committed))
	}
	l.applying = i
	l.applyingEntsSize += sizeBytes
	l.applyingEntsPaused = l.applyingBudgetExhausted() || i < l.maxAppliableIndex(allowUnstable)
}

// applyingBudgetExhausted reports whether the entries being applied use up
// maxApplyingEntsSize. With a zero budget this means "one batch at a time"
// rather than "never": nothing being applied never exhausts it.
func (l *raftLog) applyingBudgetExhausted() bool {
	return l.applyingEntsSize > 0 && l.applyingEntsSize >= l.maxApplyingEntsSize
}

// stableTo records that the entries up to (i, t) are durable in Storage.
func (l *raftLog) stableTo(i, t uint64) {
	l.unstable.stableTo(i, t)
}

// stableSnapTo records that the unstable snapshot at index i is durable in
// Storage.
func (l *raftLog) stableSnapTo(i uint64) {
	l.unstable.stableSnapTo(i)
}

// acceptUnstable records that the unstable entries and snapshot returned by
// nextUnstableEnts and nextUnstableSnapshot have been handed out to be
// written.
func (l *raftLog) acceptUnstable() {
	l.unstable.acceptInProgress()
}

// restore replaces the log with the snapshot s. Its index becomes the commit
// index: a snapshot only ever contains committed entries.
func (l *raftLog) restore(s pb.Snapshot) {
	l.committed = s.Metadata.Index
	l.unstable.restore(s)
}

// slice returns the entries with indexes in [lo, hi), cut to maxSize bytes
// but at least one entry if lo < hi. Storage is read only for the part below
// the unstable offset; if that part is already cut by the size limit the
// unstable part is not looked at.
//
// The result may share memory with Storage's result or the unstable array;
// when the two parts are joined, it is done in a way that writes into
// neither. It returns ErrCompacted if lo < firstIndex(), and other Storage
// errors wrapped.
func (l *raftLog) slice(lo, hi, maxSize uint64) ([]pb.Entry, error) {
	if err := l.mustCheckOutOfBounds(lo, hi); err != nil {
		return nil, err
	}
	if lo == hi {
		return nil, nil
	}
	if lo >= l.unstable.offset {
		ents := limitSize(l.unstable.slice(lo, hi), maxSize)
		return ents[:len(ents):len(ents)], nil
	}

	storedHi := min(hi, l.unstable.offset)
	ents, err := l.storage.Entries(lo, storedHi, maxSize)
	switch {
	case err == nil:
	case errors.Is(err, ErrCompacted):
		return nil, ErrCompacted
	default:
		return nil, fmt.Errorf("raft: reading entries [%d, %d) from storage: %w", lo, storedHi, err)
	}
	if hi == storedHi || uint64(len(ents)) < storedHi-lo {
		// Nothing unstable was asked for, or the size limit already cut
		// the stored part.
		return ents, nil
	}
	storedSize := entsSize(ents)
	if storedSize >= maxSize {
		return ents, nil
	}
	more := limitSize(l.unstable.slice(l.unstable.offset, hi), maxSize-storedSize)
	if len(more) == 1 && storedSize+uint64(more[0].Size()) > maxSize {
		// limitSize keeps one entry even if it does not fit; here we
		// already have entries, so the limit wins.
		return ents, nil
	}
	return extend(ents, more), nil
}

// mustCheckOutOfBounds checks that [lo, hi) is a valid range of the log. It
// returns ErrCompacted if lo is below firstIndex(), and panics if lo > hi or
// hi is beyond lastIndex()+1: raft never asks for entries it does not know
// of.
func (l *raftLog) mustCheckOutOfBounds(lo, hi uint64) error {
	if lo > hi {
		panic(fmt.Sprintf("raft: invalid log slice: lo %d > hi %d", lo, hi))
	}
	if lo < l.firstIndex() {
		return ErrCompacted
	}
	if last := l.lastIndex(); hi > last+1 {
		panic(fmt.Sprintf("raft: log slice [%d, %d) out of bounds [%d, %d]", lo, hi, l.firstIndex(), last))
	}
	return nil
}

// zeroTermOnOutOfBounds is a helper for term lookups where an index outside
// the log simply does not match: it returns t if err is nil, 0 if err is
// ErrCompacted or ErrUnavailable, and panics on any other error.
func (l *raftLog) zeroTermOnOutOfBounds(t uint64, err error) uint64 {
	switch {
	case err == nil:
		return t
	case errors.Is(err, ErrCompacted), errors.Is(err, ErrUnavailable):
		return 0
	default:
		panic(fmt.Sprintf("raft: unexpected error reading a term: %v", err))
	}
}

// scan calls v with consecutive pages of the entries in [lo, hi), each at
// most pageSize bytes but at least one entry, in index order. It stops at
// the first error, from reading or from v, and returns it.
func (l *raftLog) scan(lo, hi uint64, pageSize uint64, v func([]pb.Entry) error) error {
	for lo < hi {
		ents, err := l.slice(lo, hi, pageSize)
		if err != nil {
			return err
		}
		if len(ents) == 0 {
			return fmt.Errorf("raft: scanning [%d, %d): storage returned no entries", lo, hi)
		}
		if err := v(ents); err != nil {
			return err
		}
		lo += uint64(len(ents))
	}
	return nil
}
