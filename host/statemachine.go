package host

import "io"

// StateMachine is the application's replicated state for one group. The host
// calls it from one goroutine at a time (never from the Raft loop), in log
// order: Apply for committed commands, PrepareSnapshot between Applies when a
// snapshot is due, Restore to replace the state by a snapshot received from
// the leader or found on disk at start.
//
// A state machine is built fresh by Config.NewStateMachine whenever a group
// starts, including after a restart: the host restores it from the group's
// latest snapshot and then applies the committed entries that follow, so the
// state machine need not persist anything itself.
type StateMachine interface {
	// Apply applies commands, committed in this order, and sets each one's
	// Result. An error is fatal for the group: the state machine can no
	// longer be trusted to match the other replicas, so the group stops.
	// Deterministic: every replica applies the same commands and must reach
	// the same state.
	Apply(cmds []Command) error

	// PrepareSnapshot captures the state as of the last command applied and
	// returns it for writing. It is called between Applies and should be
	// quick (a copy-on-write view, an iterator over a database snapshot):
	// the host writes the returned Snapshot on another goroutine while
	// Apply goes on.
	PrepareSnapshot() (Snapshot, error)

	// Restore replaces the whole state by a snapshot written by a
	// Snapshot's WriteTo (of this or another replica). The reader ends
	// where the snapshot does.
	Restore(r io.Reader) error

	// Close releases the state machine when its group stops.
	Close() error
}

// Snapshot is a point-in-time view of a state machine being written out.
type Snapshot interface {
	// WriteTo writes the state. It may run concurrently with Apply.
	WriteTo(w io.Writer) (int64, error)
	// Close releases the view, whether or not WriteTo ran.
	Close() error
}

// Command is one committed command given to StateMachine.Apply.
type Command struct {
	// Index is the command's position in the group's log.
	Index uint64
	// Data is what was proposed. It must not be modified or kept beyond
	// Apply (copy what must be kept).
	Data []byte
	// Result is set by Apply and returned by Propose on the host that
	// proposed the command (nil is fine).
	Result []byte
}

// BytesSnapshot is a Snapshot of a state small enough to copy into memory
// whole, for state machines that need nothing more.
type BytesSnapshot []byte

// WriteTo writes the bytes.
func (b BytesSnapshot) WriteTo(w io.Writer) (int64, error) {
	n, err := w.Write(b)
	return int64(n), err
}

// Close does nothing.
func (BytesSnapshot) Close() error { return nil }
