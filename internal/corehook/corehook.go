// Package corehook gives the module's own packages (rafttest) access to
// operations on the core that are for tests only and that etcd/raft does
// not export either, so that they stay out of the public API. Package raft
// installs the hooks when it is initialised; any package that can reach a
// *raft.RawNode has imported raft, so the hooks are set before use.
//
// The package imports nothing, so the core's dependencies do not grow.
package corehook

// SetRandomizedElectionTimeout sets the election timeout the *raft.RawNode
// node waits for, in ticks, until its next reset (a change of role or
// term draws a new one). It panics if node is not a *raft.RawNode or ticks
// is not positive: both are mistakes of the calling test.
var SetRandomizedElectionTimeout func(node any, ticks int)
