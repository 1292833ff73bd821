// Package etcduser is a test suite an application might write on
// etcd/raft v3.6's rafttest: datadriven scripts in testdata/ run through
// rafttest.Handle, plus commands of its own that inspect the environment
// through its Go API. It is written against go.etcd.io/raft/v3 only;
// ../pontoonuser is the same suite with the import paths rewritten.
package etcduser
