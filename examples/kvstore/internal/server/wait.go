package server

import (
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// waitRegistry matches applied entries to the requests that proposed them,
// by the request id each entry carries. Only the node that proposed an
// entry has a waiter for it; other nodes apply it silently.
type waitRegistry struct {
	mu      sync.Mutex
	waiters map[uint64]*waiter
}

type waiter struct {
	proposed  time.Time
	committed bool
	done      chan error
}

func (w *waitRegistry) init() { w.waiters = map[uint64]*waiter{} }

// register returns the channel that receives the outcome of request id.
func (w *waitRegistry) register(id uint64) <-chan error {
	w.mu.Lock()
	defer w.mu.Unlock()
	ch := make(chan error, 1)
	w.waiters[id] = &waiter{proposed: time.Now(), done: ch}
	return ch
}

// cancel forgets request id, whose client stopped waiting.
func (w *waitRegistry) cancel(id uint64) {
	w.mu.Lock()
	defer w.mu.Unlock()
	delete(w.waiters, id)
}

// committed records the commit latency of request id, if it is ours.
func (w *waitRegistry) committed(id uint64, h prometheus.Histogram) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if x, ok := w.waiters[id]; ok && !x.committed {
		x.committed = true
		h.Observe(time.Since(x.proposed).Seconds())
	}
}

// trigger answers request id, if it is ours, with err.
func (w *waitRegistry) trigger(id uint64, err error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if x, ok := w.waiters[id]; ok {
		delete(w.waiters, id)
		x.done <- err
	}
}
