/*
Package raft is Pontoon's implementation of the Raft consensus algorithm
(Ongaro and Ousterhout's paper, and Ongaro's thesis for PreVote,
CheckQuorum, ReadIndex, leadership transfer and membership changes).

The package is a deterministic state machine. It starts no goroutines
(except in the optional Node wrapper), keeps no clock, does no I/O and draws
randomness only from Config.Rand. The application owns time, the network and
the disk; the library tells it what to do through Ready batches. Its API and
its messages (package raftpb) match go.etcd.io/raft/v3 v3.6, so it can
replace etcd/raft by changing import paths, and its nodes can run in one
cluster with etcd/raft nodes.

# Usage

Create a RawNode over a Storage (MemoryStorage, or your own disk-backed
implementation), bootstrap it on first start, and run a loop:

	storage := raft.NewMemoryStorage()
	rn, err := raft.NewRawNode(&raft.Config{
		ID: 1, ElectionTick: 10, HeartbeatTick: 1,
		Storage: storage, MaxSizePerMsg: 1 << 20, MaxInflightMsgs: 256,
	})
	if err != nil { ... }
	_ = rn.Bootstrap([]raft.Peer{{ID: 1}, {ID: 2}, {ID: 3}})
	for {
		select {
		case <-ticker.C:
			rn.Tick()
		case m := <-incoming:
			_ = rn.Step(m)
		case data := <-proposals:
			_ = rn.Propose(data)
		}
		for rn.HasReady() {
			rd := rn.Ready()
			// 1. persist, in this order, then fsync if rd.MustSync:
			//    rd.Snapshot (storage.ApplySnapshot), rd.Entries (storage.Append),
			//    rd.HardState (storage.SetHardState).
			// 2. send rd.Messages.
			// 3. apply rd.CommittedEntries (and ApplyConfChange for conf changes).
			// 4. serve reads whose rd.ReadStates index is now applied.
			rn.Advance(rd)
		}
	}

# The Ready contract

A Ready must be handled in this order:

 1. Persist Snapshot (if not empty), then Entries, then HardState (if not
    empty). Entries may replace entries already in storage from the first
    index they carry onwards. When MustSync is set, the write must be
    durable (fsynced) before step 2.
 2. Send Messages. They may only go out after step 1: a vote or an append
    acknowledgement promises that the state it attests survives a crash.
    A MsgSnap among them must later be answered with ReportSnapshot.
 3. Apply CommittedEntries in order. A Snapshot must be installed in the
    state machine before any later entry is applied. For conf change entries
    call ApplyConfChange. CommittedEntries may include entries from Entries
    of the same Ready, which step 1 already made durable.
 4. Call Advance. The node learns only now that its own writes are durable:
    its own vote and its own copy of new entries count from this point, so a
    single-node cluster commits one Ready cycle after appending.

The slices in a Ready are never written to by the node after they are
handed out; the application may keep them.

With Config.AsyncStorageWrites the steps run concurrently instead: Ready's
Messages carry a MsgStorageAppend (to LocalAppendThread) and a
MsgStorageApply (to LocalApplyThread) whose Responses the application steps
back into the node once the write is durable or the entries are applied.
Other messages may be sent at once, and Advance is not called.

# Differences from etcd/raft

NewRawNode returns an error instead of panicking on an invalid Config
(errors wrap ErrInvalidConfig). ReadIndex confirmations use a per-request
sequence token, so requests with equal or empty contexts are never confused.
Conf changes that the configuration logic rejects when applied are logged and
ignored on every node alike instead of panicking. See compat/DIFFERENCES.md.
*/
package raft
