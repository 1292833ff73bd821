// Package compat is the home of Pontoon's compatibility evidence against
// etcd/raft, kept in a module of its own so that the library never depends
// on etcd: wire interoperability (compat/wire, and compat/v37 for v3.7), the
// drop-in program compiled against both import paths (compat/dropin), a
// test suite on etcd's rafttest compiled against both (compat/rafttestuser),
// etcd's own scenario scripts run against ours (compat/scripts), the
// exported-API comparison (compat/apidiff), mixed clusters in the simulator
// (compat/mixed) and side-by-side benchmarks (compat/bench). See README.md
// and DIFFERENCES.md.
package compat
