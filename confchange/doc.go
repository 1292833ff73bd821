// Package confchange computes the configuration that results from applying
// membership changes to a tracker.ProgressTracker.
//
// Raft changes membership either one voter at a time (Changer.Simple), or in
// two steps through joint consensus (Raft thesis §4.3): Changer.EnterJoint
// moves to a configuration in which the old voters and the new voters must
// both agree, and Changer.LeaveJoint later drops the old voters. Learners can
// be added, removed, promoted and demoted in either mode; a voter demoted
// while it still votes in the outgoing half is parked in LearnersNext until
// the joint configuration is left.
//
// Every operation is a pure function of the Changer: it returns a new
// tracker.Config and tracker.ProgressMap and never modifies the tracker it was
// given, so a caller can compute a configuration, inspect it, and decide to
// discard it. Both the input and every result are checked against the
// invariants a configuration must keep (see the Changer documentation); a
// violation is reported as an error rather than returned.
//
// Restore rebuilds a configuration from its wire form, a raftpb.ConfState,
// for instance when a node restarts or installs a snapshot.
package confchange
