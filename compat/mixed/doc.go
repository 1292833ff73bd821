// Package mixed runs etcd/raft v3.6 nodes inside Pontoon's cluster
// simulator (package raftsim), side by side with Pontoon nodes, so that a
// simulated cluster can mix the two implementations in any proportion under
// every fault the simulator injects and be checked by its invariants.
//
// EtcdNode adapts an etcd *raft.RawNode to raftsim.Node. Every message,
// entry, snapshot and HardState that crosses the adapter is encoded by one
// side and decoded by the other, so the mixed runs double as a wire test.
// The node's durable storage is the simulator's *raft.MemoryStorage, seen
// by etcd through a wrapper that converts types and errors.
//
// etcd v3.6 draws election timeouts from crypto/rand's Reader. To keep runs
// reproducible by seed, Run swaps that Reader for a source seeded from the
// run's seed for the duration of the run; runs must therefore not execute
// concurrently in one process.
package mixed
