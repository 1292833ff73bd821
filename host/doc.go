// Package host runs many Raft groups in one process behind a state-machine
// API: the layer CockroachDB, TiKV and dragonboat each wrote for
// themselves on top of a Raft core, here on Pontoon's core (package raft),
// its log engine (package wal) and its transport (package transport).
//
// The core stays a pure state machine for those who want the Ready loop;
// host is the batteries-included way. The application implements
// StateMachine (apply a batch of committed commands, write a snapshot,
// restore one) and calls the Host:
//
//   - New opens the host's directory (log engine and snapshot store) and
//     restarts every replica found there: its state machine is restored from
//     the latest snapshot and the committed entries after it are applied
//     again, so a state machine need not persist anything itself.
//   - StartGroup starts a replica of a new group: with peers it bootstraps
//     the group, without it waits, empty, to be added by the group's leader.
//   - Propose returns a command's result once this host's replica applied
//     it. A follower forwards it to the leader; across leader changes and
//     timeouts it is proposed again, tagged with the host's session and a
//     sequence number so that every replica applies it at most once.
//   - Read is a linearizable barrier: once it returns, the local state
//     machine reflects every write acknowledged before the call (ReadIndex,
//     or the leader's lease with raft.ReadOnlyLeaseBased).
//   - AddReplica adds a replica as a learner, lets the leader catch it up
//     (streaming a snapshot if the log no longer reaches back) and promotes
//     it only once it holds the commit index; RemoveReplica removes one;
//     TransferLeadership, RemoveGroup, Status and Groups complete the set.
//
// The Submit variants (SubmitPropose, SubmitRead, ...) return a Request at
// once instead of blocking.
//
// # How a host runs
//
// One goroutine, the Raft loop, owns every replica's RawNode. A replica
// with work (a message, a tick, a proposal, a finished write) is queued; a
// cycle of the loop takes one Ready from each queued replica and hands the
// storage stage all their writes as one batch, which it makes durable with
// one wal.Save: one write and one fsync for any number of groups. Messages
// to followers leave before the leader's own write (thesis §10.2.1); every
// acknowledgement, to a peer or to the replica itself, leaves only once the
// write it attests to is durable. A batch that only moves commit indexes
// is not written on its own: Raft needs terms, votes and entries durable,
// not the commit index, which a restarted replica learns again from its
// leader (etcd's server does not sync it either); it goes with the next
// write. Committed commands go to a small pool of
// apply workers (Config.ApplyWorkers), each group applied by one worker at a
// time, in log order, so a slow state machine holds up neither the loop nor
// other groups. Every queue between the stages holds at most what one cycle
// produced per group.
//
// Snapshots are taken and installed off the loop. Every SnapshotEntries
// applied entries, the apply stage asks the state machine for a
// point-in-time view (PrepareSnapshot), writes it to the snapshot store on
// another goroutine while applying goes on, and the loop then records it in
// the log engine together with the compaction it allows. A follower too far
// behind receives the file, streamed through the transport, never held whole
// in memory; its state machine is restored from it before it acknowledges
// anything that follows.
//
// # Idle groups
//
// A leader with nothing to do for QuiesceTicks, whose followers all hold its
// whole log and know it is committed, quiesces: it sends its followers one
// quiesce heartbeat and then neither ticks nor sends, and the followers stop
// ticking; once nothing is left to do at a tick, the host's clock no longer
// visits the replica, so an idle group costs no work per tick. A proposal, a
// read or any message wakes the group. A quiesced leader still counts its
// lease down (RawNode.TickQuiesced, for the ticks it skipped, when it
// wakes), so it serves no lease read from a lease it no longer holds; a quiesced follower notices a
// dead leader through the heartbeats hosts send each other (one per pair of
// hosts, whatever the number of groups) and then wakes and elects another.
// The heartbeats of awake groups travel together in one transport batch per
// pair of hosts and cycle.
//
// # Testing an application on host
//
// With Config.Manual the host starts no goroutine and reads no clock: the
// caller drives it with Tick, RunRaft, RunStorage and RunApply. Package
// raftsim's RunHosts (and `raftsim hosts`) uses that to run whole clusters
// of hosts on one goroutine from a seed, over the in-memory transport and
// wal's fault-injecting file system, with crashes at any point, torn
// writes, failed fsyncs, partitions, clock drift, replica moves and
// leadership transfers, checking election safety, state-machine safety,
// linearizability per key and that nothing acknowledged is lost — against
// your own StateMachine if you give it one.
//
// # Limits
//
//   - The Raft work of all groups runs on one goroutine: a host's Raft
//     throughput is bounded by one core (storage and applying run beside
//     it). Run more hosts per machine if that is the bottleneck.
//   - A host runs at most one replica of a group; the replica's Raft ID is
//     the host's NodeID, so node IDs are host IDs throughout.
//   - The transport's address book is the application's: host neither
//     discovers peers nor adds them (see transport.TCP.SetPeer).
//   - Membership changes of a group go one at a time, through its leader's
//     host.
//   - A Propose whose context ends, or whose host stops, may still be
//     applied (once). After a host restarts, proposals of its previous
//     incarnation that were in flight may still be applied, and nobody
//     learns their results.
//   - A state machine is rebuilt at every start from the latest snapshot and
//     the log after it, and every snapshot writes the whole state: state
//     that is expensive to rebuild wants a larger SnapshotEntries.
//   - Reads on a follower wait until its replica has applied up to the
//     leader's commit index at the time of the read.
//   - After a crash, a replica's commit index may be older than the one it
//     had (the last ones are written with the next write, see above); the
//     entries after it are applied again once its leader tells it the
//     commit index. A state machine that keeps its own applied index skips
//     them; the others are rebuilt from the snapshot and the log anyway.
//   - A failed write or fsync stops the host (Err reports why): the log
//     engine refuses further writes, and only reopening the host, which
//     recovers from what is durable, is safe.
package host
