// Package wire converts raftpb values between Pontoon's raftpb package and
// etcd/raft v3.6's, and its tests prove that the two encodings are the same
// bytes: every value encoded by one side decodes on the other to an equal
// value.
//
// Two kinds of conversion are offered. The Copy functions move fields one
// by one and never touch the encoding, so tests can compare a decoded value
// with an independently converted one. The Recode functions go through
// Marshal and Unmarshal, which is what two processes talking over a network
// do; the mixed-cluster adapter uses them so that every message it passes
// is also a wire test.
package wire
