package host

import (
	"context"
	"errors"
	"time"
)

// Errors returned by the host's calls and Requests.
var (
	// ErrUnknownGroup: the host has no replica of the group.
	ErrUnknownGroup = errors.New("host: no replica of the group on this host")
	// ErrGroupExists: StartGroup for a group the host already runs.
	ErrGroupExists = errors.New("host: the group already has a replica on this host")
	// ErrGroupRemoved: the replica was removed while the request waited.
	ErrGroupRemoved = errors.New("host: the group's replica was removed")
	// ErrStopped: the host was stopped, or failed (see Host.Err).
	ErrStopped = errors.New("host: stopped")
	// ErrNotLeader: an operation that only the leader can start was asked
	// of another replica; NotLeaderError says which node leads.
	ErrNotLeader = errors.New("host: this replica does not lead the group")
	// ErrManual: a blocking call on a host in Manual mode.
	ErrManual = errors.New("host: blocking calls are not available in Manual mode; submit a Request and drive the host")
)

// NotLeaderError is returned by operations that only the leader can start. It
// wraps ErrNotLeader.
type NotLeaderError struct {
	Group  uint64
	Leader uint64 // 0 if no leader is known
}

func (e *NotLeaderError) Error() string {
	if e.Leader == 0 {
		return "host: no leader of group is known yet"
	}
	return "host: this replica does not lead the group; node " + uitoa(e.Leader) + " does"
}

// Unwrap makes errors.Is(err, ErrNotLeader) true.
func (e *NotLeaderError) Unwrap() error { return ErrNotLeader }

// requestKind says what a Request does.
type requestKind uint8

const (
	kindPropose requestKind = iota
	kindRead
	kindAdmin
)

// Request is a proposal, read or membership change in progress. Done is
// closed when it completes; Result then gives its outcome. Requests are made
// with the Submit methods (and used by the blocking calls); in Manual mode
// the caller watches Done while it drives the host.
type Request struct {
	kind  requestKind
	group uint64
	data  []byte
	// seq is a proposal's sequence number in the host's session; token a
	// read's current ReadIndex context.
	seq, token uint64
	// issuedTick is the tick of the latest (re)proposal or read attempt.
	issuedTick int64
	start      time.Time
	// readIndex is set once a ReadState answered the read.
	readIndex uint64
	hasIndex  bool
	// admin is the membership operation of an admin request.
	admin *adminOp

	done   chan struct{}
	result []byte
	err    error
}

func newRequest(kind requestKind, group uint64) *Request {
	return &Request{kind: kind, group: group, done: make(chan struct{}), start: time.Now()}
}

// Done is closed when the request has completed.
func (r *Request) Done() <-chan struct{} { return r.done }

// Result returns the outcome once Done is closed: for a proposal the
// state machine's Command.Result, for a read or membership change nil.
func (r *Request) Result() ([]byte, error) {
	select {
	case <-r.done:
		return r.result, r.err
	default:
		return nil, errors.New("host: request still in progress")
	}
}

// finish completes r; only the Raft loop calls it, once.
func (r *Request) finish(result []byte, err error) {
	r.result, r.err = result, err
	close(r.done)
}

// wait blocks until r completes or ctx is done. A request abandoned by its
// caller still completes in the host (a proposal may still be applied).
func (r *Request) wait(ctx context.Context) ([]byte, error) {
	select {
	case <-r.done:
		return r.result, r.err
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

func uitoa(v uint64) string {
	var b [20]byte
	i := len(b)
	for {
		i--
		b[i] = byte('0' + v%10)
		v /= 10
		if v == 0 {
			return string(b[i:])
		}
	}
}
