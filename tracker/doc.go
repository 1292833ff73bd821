// Package tracker is the leader's bookkeeping about its peers and the
// membership they form.
//
// For every peer the leader keeps a Progress: how much of the log the peer is
// known to hold (Match), what to send it next (Next), and in which of three
// modes replication runs (StateProbe, StateReplicate, StateSnapshot). In
// StateReplicate the leader streams appends optimistically, and Inflights
// bounds how many of them, and how many bytes, may be unacknowledged at once.
//
// A Config describes the membership: the voters (possibly a joint
// configuration during a membership change) and the learners. A
// ProgressTracker bundles the Config with the Progress of every member and the
// votes of the current election, and answers the quorum questions the core
// asks (what is committed, is a quorum recently active, has an election been
// won) by delegating the arithmetic to package quorum.
//
// Computing a new Config from configuration changes is the job of package
// confchange; this package only stores and queries it.
package tracker
