/*
Package raftsim is a deterministic simulator of Pontoon clusters. It runs
every node, the network and the disks in one goroutine under virtual time,
injects faults, and checks Raft's safety properties after every event. A run
is a pure function of its Options: the same seed replays the same run, trace
line for trace line, so a failure found once can be studied forever.

Pontoon uses it to prove its own safety (the randomized tests of this
package), and applications can use it to test their state machine, or their
own node implementation, against the same faults.

# Model

A Sim owns:

  - virtual time, counted in ticks. An event is one step of the world: a
    tick of every live node, the delivery of one message, the handling of one
    node's Ready, a proposal, or a fault. Time moves on when no message is due
    and no node has a Ready, and sometimes (Options.TickWhileBusyProb) while
    work is pending, but never past an overdue message.
  - a network of in-flight messages, each with a delivery tick. Drops,
    duplicates and delays are decided when a message is sent; cut links and
    crashed receivers are found when it is due. Delays reorder messages, and
    Faults.ReorderProb sometimes delivers a random due message first. A MsgSnap
    is answered with ReportSnapshot once delivered or lost, and the sender of a
    message lost to a cut link or a crashed node gets ReportUnreachable.
  - one *raft.MemoryStorage per node: its disk. It survives crashes.
    With Options.Storage StorageWAL the disk is real storage code instead
    (see "Running on the log engine" below).
  - one *math/rand.Rand seeded with Options.Seed that decides everything,
    including each node's Config.Rand (a new source seeded from it at every
    start), hence every election timeout.

Nodes are driven exactly as package raft's Ready contract says: persist the
snapshot, entries and HardState; send the messages; apply the committed
entries (ApplyConfChange for conf changes); Advance. With Options.SplitReadyProb
the last two steps are a separate, later event, and in between the node may
receive messages, ticks and proposals (but not hand out another Ready), as
under raft.Node's goroutine. A crash discards the node and everything it had not persisted; with Faults.CrashMidReadyProb it
happens in the middle of a Ready: before persisting, after persisting, after
sending or after applying. A restart builds a new node over the same storage
with Config.Applied = 0, restores a fresh state machine from the storage's
snapshot, and re-applies the committed entries the node hands out again
(skipping those the snapshot already covers, as an application must).

Snapshots carry the state machine's own encoding inside an envelope that
also records the applied index and the applied-log hash, so any
StateMachine can be snapshotted, installed from a MsgSnap, and checked.

Every storage starts as RawNode.Bootstrap leaves it: one committed
ConfChangeAddNode entry per node at term 1: all Options.Nodes nodes start
as voters.

# Membership changes and leader transfers

With Faults.ConfChangeProb the leader is asked for random configuration
changes, chosen from its applied configuration: add or remove a voter, add
or promote a learner, demote a voter, joint changes of two or three nodes
(ConfChangeV2, leaving automatically or explicitly), leaving an explicit
joint configuration, and replacing a voter by a new node; both conf change
encodings are used. A change removes or demotes fewer than half of the
voters (so never the last one): the others then still win elections while
some nodes run under the old configuration, which etcd/raft's two-voter
removal hazard shows is needed.
Node IDs come from a pool of MaxNodes: a new node starts with empty storage
and no configuration and is caught up by appends or, once logs are
compacted, a snapshot (a node that applies a conf change while its storage
holds a snapshot takes a new one, since a node ignores a snapshot whose
configuration lacks it). A removed node is shut down for good an election
timeout after its removal is first applied, once a quorum of the new
configuration knows durably that it is committed; its ID is never reused.
Options.StepDownOnRemoval configures the nodes. With Faults.TransferLeaderProb
the leader is asked to hand leadership to another voter;
Result.TransfersSucceeded counts the transferees that won.

# Asynchronous storage writes

Options.Async (none, all, or mixed: every other node ID) and
Options.AsyncNodes choose nodes that run with raft.Config.AsyncStorageWrites.
Their Ready's MsgStorageAppend and MsgStorageApply go to an append and an
apply thread: queues whose work completes in order, each piece a random
number of ticks (up to Options.MaxAsyncDelayTicks) after it was queued, as
an event of its own (EventAsyncAppend, EventAsyncApply). The append thread
persists the snapshot, entries and HardState and only then delivers the
responses; the apply thread applies and steps its acknowledgement back.
Advance is never called on such a node. A crash loses the queued work, and
Faults.CrashMidReadyProb also crashes nodes between a write and the delivery
of its responses. Such a node may apply entries before the HardState
committing them is written, so it snapshots only up to its durable commit
index.

# Running on the log engine

With Options.Storage StorageWAL (cmd/raftsim -storage wal) every node
runs on its own wal.Engine (group 1) over its own faultfs file system, so
the whole protocol is checked on the storage code Pontoon ships. The
RawNode reads the engine's Storage; persisting a Ready (or an
asynchronous node's MsgStorageAppend) is one Engine.Save; a snapshot and
the compaction that follows it are one Save (the simulator's snapshot
envelope is the snapshot metadata's Data); a crash is a power loss of the
file system, losing or tearing what was not synced, and a restart opens
the engine again, which recovers from what reached the disk.

Beside each engine the simulator keeps a raft.MemoryStorage holding what
the engine acknowledged: the invariants read it (View.Storage), down nodes
included, and every reopened engine must hold exactly that, or that plus
the one Save that failed before the crash (InvDurableStorage).

The disk faults, drawn from the seed like every other: Faults.TornWriteProb
arms a node's file system to crash inside one of its next few writes, a
torn write that recovery must cut off; Faults.BitFlipProb flips a bit at
rest in the written part of a down node's engine files, which the engine
must report (ErrCorrupt) when it is opened, so the node refuses to start
(FaultCorruptionDetected; the damage is then repaired, as an operator
would restore the sector from a replica, so that the node is not lost for
good and the cluster keeps its quorum) unless the byte is one recovery
does not need; reporting damage that was not injected is an
InvDurableStorage violation. Faults.SyncErrorRate and NoSpaceRate make
fsyncs fail with EIO and writes with ENOSPC: the engine then refuses all
writes, the node halts without acting on the Ready it was persisting, and
a restart reopens the engine. A start that fails under such a fault
leaves the node down (FaultFailedStart). Only down nodes' files are
damaged: a running engine reads entries back from its files, and package
raft treats a storage error as fatal.

Memory runs are unchanged by all of this: the same seed gives the same
trace as before the mode existed.

# Reads

With Faults.ReadIndexProb the simulated clients also read. Proposals then
write one key each ("k<key>=<value>", every value unique), and the simulator
keeps a key-value map beside each replica's state machine and inside its
snapshots. A read calls ReadIndex with a unique context on a random live
node and returns the key's value once a ReadState answers it and the node
has applied its index. The history of invocations and completions (writes
complete when their proposer applies them) is checked with porcupine against
one register per key: a key's history so far whenever a read of it
completes, so that a stale read is reported at its own event. A write took
effect before the first replica applied it, which is as early as its
proposer's acknowledgement or earlier, and one that no replica applied is
left out; an unanswered read says nothing. Options.ReadOnlyOption chooses
ReadOnlySafe or (with CheckQuorum) ReadOnlyLeaseBased. Leases tolerate only
the clock drift raft.Config.LeaseDriftTicks allows (Options.LeaseDriftTicks,
ElectionTick/5 by default), so runs with leases slow no node; their clocks
drift within that bound instead.

# The other entry points, and clocks

An application calls more than Tick, Step and Propose, and so does the
simulator: Faults.CampaignProb calls Campaign on a random node,
Faults.ForgetLeaderProb ForgetLeader, and Faults.ReportUnreachableProb makes
the leader report a random peer unreachable. Faults.QuiesceProb quiesces the
whole cluster for a while: nodes get TickQuiesced instead of Tick, but each
may wake up early with a real Tick (Faults.QuiesceWakeProb). Each node's
clock has a rate, ticks per simulated tick, that Faults.ClockDriftProb
changes at random up to Faults.MaxClockRate (within the lease's bound in
lease runs); SetClockRate sets one in a script. Every node must accept
every message a correct node sent it: a Step error other than
raft.ErrStepPeerNotFound or raft.ErrProposalDropped fails the run as an
InvStepErrors violation, and so does any error of Campaign other than
raft.ErrCampaignRefused.

# Invariants

After every event the simulator checks the built-in invariants (see
BuiltinInvariantNames) and then Options.Invariants:

  - election safety: at most one leader per term, over the whole run;
  - log matching: entries persisted with equal index and term are equal and
    follow an entry of the same term, checked as every entry is persisted, and
    at the end of the run by comparing every pair of logs;
  - leader completeness: a new leader's durable log holds every applied
    entry committed in an earlier term (the commit term is bounded by the
    term of any node seen with a commit index covering the entry), unless
    its snapshot covers it;
  - state-machine safety: every node applies the same entry at each index, in
    order without gaps or repeats, with the same applied-log hash;
  - commit index monotonic for every node incarnation;
  - no entry applied before a quorum (both majorities of a joint one) of a
    configuration in force before it holds it durably, and every entry a
    leader commits held durably by a quorum of its own configuration;
  - a node that becomes leader is a voter in the configuration it applied
    (with StepDownOnRemoval, for as long as it leads);
  - configuration agreement: every node that applies the conf change entry
    at an index reaches the same configuration;
  - with reads, the writes and reads are linearizable, checked as each read
    completes, within Options.LinearizabilityTimeout;
  - and after the fault phase, liveness: once every link is healed and every
    node restarted, a leader emerges and a proposal made on it is applied by
    every member of the latest configuration within Options.LivenessTicks.

A failure is returned as a *Violation naming the invariant, the seed, the
event number and the last trace lines. The trace has one line per thing that
happened, "event N tick T: ...", with messages rendered by
raft.DescribeMessage; Options.TraceWriter receives all of it.

# Plugging in your own state machine and invariants

A StateMachine is applied every committed entry and must snapshot and
restore itself. An Invariant sees the cluster through a read-only View after
every event. This one checks that replicas which applied the same prefix of
the log hold the same state:

	// counter sums the bytes of the commands it applies.
	type counter struct{ sum uint64 }

	func (c *counter) Apply(e raftpb.Entry) {
		if e.Type == raftpb.EntryNormal {
			c.sum += uint64(len(e.Data))
		}
	}
	func (c *counter) Snapshot() []byte { return binary.BigEndian.AppendUint64(nil, c.sum) }
	func (c *counter) Restore(b []byte) error { c.sum = binary.BigEndian.Uint64(b); return nil }

	replicasAgree := raftsim.NewInvariant("replicas-agree", func(v *raftsim.View) error {
		sums := map[uint64]uint64{} // applied index -> sum
		for _, id := range v.NodeIDs() {
			c, ok := v.StateMachine(id).(*counter)
			if !ok {
				continue // node is down
			}
			if sum, seen := sums[v.Applied(id)]; seen && sum != c.sum {
				return fmt.Errorf("node %d: sum %d at index %d, another replica has %d", id, c.sum, v.Applied(id), sum)
			}
			sums[v.Applied(id)] = c.sum
		}
		return nil
	})

	res, err := raftsim.Run(raftsim.Options{
		Nodes: 5, Seed: 42, Steps: 2000, PreVote: true, CheckQuorum: true,
		Faults:          raftsim.AllFaults(),
		NewStateMachine: func(uint64) raftsim.StateMachine { return &counter{} },
		Invariants:      []raftsim.Invariant{replicasAgree},
	})
	var v *raftsim.Violation
	if errors.As(err, &v) {
		log.Fatalf("seed %d: %v", v.Seed, v) // the error includes the trace tail
	}
	fmt.Println(res.Events, "events,", res.Commits, "entries committed")

Options.NodeFactory plugs in another node implementation: anything that
satisfies Node, for instance an adapter around another Raft library or a
deliberately broken wrapper used to show that an invariant can fail.

# Replaying

The cmd/raftsim command sweeps seeds and prints, for the first failure, a
command line that replays it with the full trace. raftsim is a module of its
own (it depends on porcupine, which the library does not); from a checkout of
the repository:

	cd raftsim && go run ./cmd/raftsim -nodes 5 -seeds 1000 -steps 5000 -faults all
	cd raftsim && go run ./cmd/raftsim -nodes 5 -steps 5000 -faults all -seed 17 -trace

Shrink (and the command's -shrink flag) reduces a failing run: it ends the
fault phase early and suppresses the faults, proposals and reads of chosen
events (Options.SuppressEvents), keeping each change after which the same
invariant still fails with fewer faults or sooner. The test file
mutants_test.go shows the checker failing on four classic Raft bugs.

TestRandomizedClusters runs 1,000 seeds (100 with -short); RAFTSIM_SEEDS
sets another number for a deeper sweep, and a failure prints the replay
command for its seed:

	RAFTSIM_SEEDS=20000 go test -run TestRandomizedClusters ./raftsim/
*/
package raftsim
