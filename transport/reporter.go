package transport

import (
	"log/slog"
	"slices"
	"sync"
)

// Bounds of the reports waiting for the reporter goroutine. Reports are
// merged per peer, so these bounds are reached only if the Handler stops
// returning or the caller sends to thousands of unknown nodes.
const (
	// maxReportGroups bounds the groups remembered per peer; beyond it the
	// report becomes "every group" (nil).
	maxReportGroups = 4096
	// maxReportPeers bounds the peers with a pending unreachable report.
	maxReportPeers = 4096
	// maxSnapshotReports bounds the pending snapshot outcomes of
	// snapshots refused before a stream started.
	maxSnapshotReports = 4096
)

// reporter hands ReportUnreachable and early ReportSnapshot calls to the
// Handler from a goroutine of its own, so Send and SendSnapshot never call
// the Handler and never wait for it.
type reporter struct {
	h    Handler
	log  *slog.Logger
	wake chan struct{}

	mu          sync.Mutex
	peers       []uint64 // pending unreachable peers, in the order of their first drop
	unreachable map[uint64]*groupSet
	snapshots   []snapshotOutcome
}

type groupSet struct {
	all    bool
	groups []uint64
}

type snapshotOutcome struct {
	to, group uint64
	err       error
}

func newReporter(h Handler, log *slog.Logger) *reporter {
	return &reporter{h: h, log: log, wake: make(chan struct{}, 1), unreachable: map[uint64]*groupSet{}}
}

// drop is one message that could not be sent.
type drop struct{ to, group uint64 }

// addUnreachable queues reports for drops; all makes the report for peer to
// cover every group (use drop{to: peer} entries with all set).
func (r *reporter) addUnreachable(drops []drop, all bool) {
	if len(drops) == 0 {
		return
	}
	r.mu.Lock()
	for _, d := range drops {
		s := r.unreachable[d.to]
		if s == nil {
			if len(r.peers) >= maxReportPeers {
				continue
			}
			s = &groupSet{}
			r.unreachable[d.to] = s
			r.peers = append(r.peers, d.to)
		}
		if s.all {
			continue
		}
		if !all && len(s.groups) >= maxReportGroups {
			slices.Sort(s.groups)
			s.groups = slices.Compact(s.groups)
		}
		if all || len(s.groups) >= maxReportGroups {
			s.all, s.groups = true, nil
			continue
		}
		s.groups = append(s.groups, d.group)
	}
	r.mu.Unlock()
	r.signal()
}

// addSnapshot queues the outcome of a snapshot that never got a stream.
func (r *reporter) addSnapshot(to, group uint64, err error) {
	r.mu.Lock()
	full := len(r.snapshots) >= maxSnapshotReports
	if !full {
		r.snapshots = append(r.snapshots, snapshotOutcome{to, group, err})
	}
	r.mu.Unlock()
	if full {
		r.log.Error("transport: too many pending snapshot reports; dropping one, Raft will not hear that this snapshot failed",
			"peer", to, "group", group, "err", err)
	}
	r.signal()
}

func (r *reporter) signal() {
	select {
	case r.wake <- struct{}{}:
	default:
	}
}

// run delivers reports until done is closed.
func (r *reporter) run(done <-chan struct{}) {
	for {
		select {
		case <-r.wake:
		case <-done:
			return
		}
		r.mu.Lock()
		peers, sets, snaps := r.peers, r.unreachable, r.snapshots
		r.peers, r.unreachable, r.snapshots = nil, map[uint64]*groupSet{}, nil
		r.mu.Unlock()
		for _, to := range peers {
			s := sets[to]
			var groups []uint64
			if !s.all {
				slices.Sort(s.groups)
				groups = slices.Compact(s.groups)
			}
			r.h.ReportUnreachable(to, groups)
		}
		for _, o := range snaps {
			r.h.ReportSnapshot(o.to, o.group, o.err)
		}
	}
}
