// Package rafttestuser shows that a test suite written on etcd/raft's
// rafttest runs against Pontoon's by changing its import paths.
//
// etcduser is such a suite, written once against go.etcd.io/raft/v3 (its
// datadriven scripts drive a group through rafttest.Handle and through
// commands of its own on the Go API). pontoonuser is generated from it,
// scripts included, by rewriting the import paths (`go generate
// ./rafttestuser`); TestGeneratedCopyIsFresh fails when the copy is stale.
// Both suites pass, with the same expected outputs.
//
//go:generate go run ./gen
package rafttestuser
