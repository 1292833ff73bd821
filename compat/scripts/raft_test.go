package scripts

import (
	"testing"

	"github.com/cockroachdb/datadriven"

	"github.com/pontoon-raft/raft/rafttest"
)

// raftFixed are the directives of etcd's raft scripts that differed until
// the core bug they showed was fixed (see the commit that fixed it).
var raftFixed = []fixedDirective{
	// A follower whose acknowledgement arrived after a commit advance got
	// its commit-only MsgApp at once, ahead of the other followers' and
	// besides the batched one ("replication: an acknowledgement waits for
	// the batched send").
	{script: "async_storage_writes.txt", line: 23},
	{script: "async_storage_writes.txt", line: 590},
	{script: "async_storage_writes.txt", line: 702},
	{script: "campaign.txt", line: 24},
	{script: "checkquorum.txt", line: 164},
	{script: "confchange_v2_replace_leader.txt", line: 50},
	{script: "confchange_v2_replace_leader.txt", line: 163},
	{script: "confchange_v2_replace_leader.txt", line: 324},
	{script: "confchange_v2_replace_leader_stepdown.txt", line: 69},
	{script: "prevote.txt", line: 139},
	{script: "prevote_checkquorum.txt", line: 89},
	{script: "prevote_checkquorum.txt", line: 230},
}

// raftCorpus runs etcd's interaction scripts through rafttest, exactly as
// etcd's TestInteraction does but without its election-timeout helper:
// our rafttest sets the timeout itself.
var raftCorpus = corpus{
	name:    "raft",
	dir:     "testdata",
	scripts: 28,
	newDriver: func() func(t *testing.T, d *datadriven.TestData) string {
		env := rafttest.NewInteractionEnv(nil)
		return func(t *testing.T, d *datadriven.TestData) string { return env.Handle(t, *d) }
	},
}
