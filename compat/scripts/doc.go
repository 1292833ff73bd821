// Package scripts runs etcd/raft v3.6.0's own datadriven scenario scripts
// against Pontoon and accounts for every difference.
//
// The 41 scripts are read at test time from etcd's module in the Go module
// cache (they are not copied here): the 28 of the raft package through
// rafttest.Handle, the 9 of confchange and the 4 of quorum through drivers
// in this package's tests over our confchange and quorum packages. Each
// directive's output is compared with the script's, with the nodes' log
// lines left out on both sides: our log lines have their own wording, and
// they are not protocol.
//
// Where our output differs on purpose, the difference is recorded in
// testdata/differences/<corpus>/<script>.txt: the directive, our exact
// output (log lines left out) and a reason tag that compat/DIFFERENCES.md
// explains. The test pins those outputs too, so it fails on an unrecorded
// difference, on a change of a recorded output, and on a record that no
// longer differs. After an intended change, `go test ./scripts -update`
// rewrites the records (keeping their reasons; new ones are tagged
// "unexplained", which fails until a reason is given).
package scripts
