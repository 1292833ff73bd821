package rafttest_test

import (
	"os/exec"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestCoreDoesNotDependOnRafttest: package raft and its dependencies stay
// free of rafttest's test-only imports (testing, datadriven), so a program
// using raft never links them.
func TestCoreDoesNotDependOnRafttest(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", "github.com/pontoon-raft/raft").Output()
	require.NoError(t, err)
	deps := strings.Fields(string(out))
	require.Contains(t, deps, "github.com/pontoon-raft/raft/raftpb")
	for _, forbidden := range []string{"testing", "github.com/cockroachdb/datadriven", "github.com/pontoon-raft/raft/rafttest"} {
		assert.NotContains(t, deps, forbidden)
	}
}
