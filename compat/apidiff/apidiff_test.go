package apidiff

import (
	"os"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// packagePairs are the etcd/raft v3.6 packages and their Pontoon
// counterparts.
var packagePairs = []struct{ etcd, ours string }{
	{"go.etcd.io/raft/v3", "github.com/pontoon-raft/raft"},
	{"go.etcd.io/raft/v3/raftpb", "github.com/pontoon-raft/raft/raftpb"},
	{"go.etcd.io/raft/v3/tracker", "github.com/pontoon-raft/raft/tracker"},
	{"go.etcd.io/raft/v3/quorum", "github.com/pontoon-raft/raft/quorum"},
	{"go.etcd.io/raft/v3/confchange", "github.com/pontoon-raft/raft/confchange"},
	{"go.etcd.io/raft/v3/rafttest", "github.com/pontoon-raft/raft/rafttest"},
}

// TestAPISurface requires every exported identifier of etcd/raft v3.6's
// raft, raftpb, tracker, quorum, confchange and rafttest packages to exist in
// Pontoon's counterpart with the same signature. Identifiers only Pontoon
// has are logged; DIFFERENCES.md lists them. The test reads the packages'
// export data from the build cache, which go test's result cache does not
// watch: run it with -count=1 after changing the library.
func TestAPISurface(t *testing.T) {
	dir, err := os.Getwd()
	require.NoError(t, err)
	var paths []string
	for _, p := range packagePairs {
		paths = append(paths, p.etcd, p.ours)
	}
	l, err := NewLoader(dir, paths...)
	require.NoError(t, err)
	for _, p := range packagePairs {
		etcd, err := l.Load(p.etcd)
		require.NoError(t, err)
		ours, err := l.Load(p.ours)
		require.NoError(t, err)
		want := Surface(etcd)
		require.NotEmpty(t, want, p.etcd)
		var problems []string
		for _, d := range Diff(want, Surface(ours)) {
			if strings.HasPrefix(d, "extra ") {
				t.Logf("%s: %s", p.ours, d)
				continue
			}
			problems = append(problems, d)
		}
		assert.Empty(t, problems, "%s against %s (%d identifiers)", p.ours, p.etcd, len(want))
		t.Logf("%s: %d identifiers of etcd's compared, %d missing or different", p.ours, len(want), len(problems))
	}
}

func TestDiff(t *testing.T) {
	want := map[string]string{"A": "func()", "B": "type int", "C": "var int"}
	got := map[string]string{"A": "func()", "B": "type uint", "D": "const int"}
	assert.Equal(t, []string{
		"differs B: want type int, got type uint",
		"extra D: const int",
		"missing C: var int",
	}, Diff(want, got))
}
