package etcduser

import (
	"fmt"
	"strings"
	"testing"

	"github.com/cockroachdb/datadriven"

	"go.etcd.io/raft/v3"
	"go.etcd.io/raft/v3/rafttest"
)

// TestScenarios runs every script in testdata with a fresh environment.
// Besides rafttest's commands, the scripts use two of this suite's own:
//
//	applied-state   each node's applied index and state machine contents
//	in-flight       the messages sent and not yet delivered
func TestScenarios(t *testing.T) {
	datadriven.Walk(t, "testdata", func(t *testing.T, path string) {
		env := rafttest.NewInteractionEnv(&rafttest.InteractionOpts{
			OnConfig: func(c *raft.Config) {
				// The application's own limits.
				c.MaxInflightMsgs = 64
				c.MaxSizePerMsg = 1 << 20
			},
		})
		datadriven.RunTest(t, path, func(t *testing.T, d *datadriven.TestData) string {
			switch d.Cmd {
			case "applied-state":
				return appliedState(env)
			case "in-flight":
				return inFlight(env)
			}
			return env.Handle(t, *d)
		})
	})
}

func appliedState(env *rafttest.InteractionEnv) string {
	var b strings.Builder
	for _, n := range env.Nodes {
		last := n.History[len(n.History)-1]
		fmt.Fprintf(&b, "%d: applied=%d state=%q\n", n.Config.ID, last.Metadata.Index, last.Data)
	}
	return b.String()
}

func inFlight(env *rafttest.InteractionEnv) string {
	if len(env.Messages) == 0 {
		return "none"
	}
	var b strings.Builder
	for _, m := range env.Messages {
		fmt.Fprintln(&b, raft.DescribeMessage(m, nil))
	}
	return b.String()
}
