// Package deps holds the test that switching a program from
// go.etcd.io/raft/v3 v3.6.0 to Pontoon changes the version of none of its
// other dependencies: every module Pontoon's library brings into a build is
// one etcd/raft brings too, at the same or an older version. It has no code
// of its own.
package deps
