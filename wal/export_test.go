package wal

// QueuedSaves returns the number of Saves waiting in the pending batch,
// for tests that need to know a Save has queued.
func (e *Engine) QueuedSaves() int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.pending.waiters
}

// FullWaits returns how many Saves found the pending batch too full.
func (e *Engine) FullWaits() int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.fullWaits
}
