package rafttest_test

import (
	"testing"

	"github.com/cockroachdb/datadriven"

	"github.com/pontoon-raft/raft/rafttest"
)

// TestInteraction runs the scripts in testdata, one environment per
// script. After an intended change of output, run
// `go test ./rafttest -rewrite` and review the diff.
func TestInteraction(t *testing.T) {
	datadriven.Walk(t, "testdata", func(t *testing.T, path string) {
		env := rafttest.NewInteractionEnv(nil)
		datadriven.RunTest(t, path, func(t *testing.T, d *datadriven.TestData) string {
			return env.Handle(t, *d)
		})
	})
}
