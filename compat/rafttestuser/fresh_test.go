package rafttestuser

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/pontoon-raft/raft/compat/internal/rewrite"
)

// TestGeneratedCopyIsFresh fails when pontoonuser no longer matches the
// rewrite of etcduser; run `go generate ./rafttestuser` in compat/.
func TestGeneratedCopyIsFresh(t *testing.T) {
	diffs, err := rewrite.RafttestUser.Stale("etcduser", "pontoonuser")
	require.NoError(t, err)
	assert.Empty(t, diffs, "run `go generate ./rafttestuser` in compat/")
}
