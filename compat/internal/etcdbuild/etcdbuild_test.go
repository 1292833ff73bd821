package etcdbuild

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestCopyRenamesEveryImport: the copy of Pontoon is the module
// go.etcd.io/raft/v3 and no file of it names Pontoon's path any more.
func TestCopyRenamesEveryImport(t *testing.T) {
	repo, err := RepoRoot()
	require.NoError(t, err)
	dst := t.TempDir()
	require.NoError(t, Workspace{Repo: repo}.CopyPontoon(dst))
	goMod, err := os.ReadFile(filepath.Join(dst, "go.mod"))
	require.NoError(t, err)
	assert.True(t, strings.HasPrefix(string(goMod), "module go.etcd.io/raft/v3\n"))
	n := 0
	require.NoError(t, filepath.Walk(dst, func(path string, info os.FileInfo, err error) error {
		if err != nil || !strings.HasSuffix(path, ".go") {
			return err
		}
		n++
		b, err := os.ReadFile(path)
		assert.NotContains(t, string(b), "github.com/pontoon-raft/raft", path)
		assert.False(t, strings.HasSuffix(path, "_test.go"), path)
		return err
	}))
	assert.Greater(t, n, 20)
	assert.DirExists(t, filepath.Join(dst, "internal", "corehook"), "packages the core imports are copied too")
	assert.NoDirExists(t, filepath.Join(dst, "wal"), "packages etcd/raft does not have are not")
}
