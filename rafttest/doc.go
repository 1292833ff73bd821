/*
Package rafttest runs scripted scenarios against a group of raft nodes: the
interaction environment of etcd/raft v3.6's package of the same name, with
the same exported API and the same script language, over Pontoon's RawNode.
A test that imports go.etcd.io/raft/v3/rafttest switches by changing its
import paths.

An InteractionEnv holds the nodes (each a RawNode over a MemoryStorage, with
the history of its applied state), the messages in flight between them, and
an output buffer. Its methods (AddNodes, Campaign, ProcessReady, DeliverMsgs,
Stabilize, ...) act on the group and print what happened: each Ready, each
message delivered or dropped, the log, the state of every node. Handle reads
one directive of a github.com/cockroachdb/datadriven script and runs the
matching method, so a scenario reads like a transcript:

	add-nodes 3 voters=(1,2,3) index=10
	----
	...

	campaign 1
	----
	...

	stabilize
	----
	> 1 handling Ready
	  Ready MustSync=true:
	  ...

The commands are those of etcd's handler: add-nodes, campaign, compact,
deliver-msgs, forget-leader, log-level, process-append-thread,
process-apply-thread, process-ready, propose, propose-conf-change,
raft-log, raft-state, report-unreachable, send-snapshot,
set-randomized-election-timeout, stabilize, status, tick-election,
tick-heartbeat, transfer-leadership and _breakpoint (a no-op to hang a
debugger breakpoint on). See Handle for their arguments.

What the environment prints (Readys, messages, logs, states, progress) is
in etcd's format, through the raft package's Describe functions, so a
script passes against both libraries wherever they behave alike. The
nodes' own log lines (the level-prefixed lines the RedirectLogger writes)
are Pontoon's wording, not etcd's; compat/scripts compares etcd's scripts
with those lines left out.

Limits: every node is in-process and the environment is not safe for
concurrent use. The state machine is fixed: applying an entry appends its
data (or a conf change's context) to the previous state, and that state is
what a node's Snapshot returns. A snapshot a node restores does not enter
its History (as in etcd's environment): a node caught up by snapshot
applies later entries on top of the state it had. Storage is a
MemoryStorage; with
AsyncStorageWrites the append and apply "threads" are queues the script
drains by hand. The in-flight messages and those queues have no bound of
their own: they hold what the script lets accumulate. Every node's
election timeout is drawn from a source seeded with its ID (unless the
Config names one), so a script runs the same way every time.
*/
package rafttest
