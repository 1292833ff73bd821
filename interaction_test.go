package raft_test

import (
	"fmt"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/cockroachdb/datadriven"
	"github.com/stretchr/testify/require"

	"github.com/pontoon-raft/raft"
	"github.com/pontoon-raft/raft/rafttest"
)

// TestInteraction runs the scenario scripts in testdata/*.txt, one
// rafttest.InteractionEnv per script: multi-node scenarios of membership
// changes, reads, leadership transfer, snapshots and asynchronous storage,
// written as the messages the nodes exchange. After an intended change of
// behaviour, run `go test -run TestInteraction -rewrite` and review the diff
// like code.
//
// Besides rafttest's commands the scripts may use:
//
//	read-index <id> [<context>]   RawNode.ReadIndex; the answer comes in a
//	                              later Ready, printed with its context as
//	                              a string
//	report-snapshot <id> <peer> [failure]
//	                              RawNode.ReportSnapshot: the transfer of a
//	                              MsgSnap to peer finished (or failed)
func TestInteraction(t *testing.T) {
	paths, err := filepath.Glob("testdata/*.txt")
	require.NoError(t, err)
	require.NotEmpty(t, paths)
	for _, path := range paths {
		t.Run(strings.TrimSuffix(filepath.Base(path), ".txt"), func(t *testing.T) {
			env := rafttest.NewInteractionEnv(nil)
			datadriven.RunTest(t, path, func(t *testing.T, d *datadriven.TestData) string {
				switch d.Cmd {
				case "read-index":
					var ctx []byte
					if len(d.CmdArgs) > 1 {
						ctx = []byte(d.CmdArgs[1].Key)
					}
					scriptNode(t, env, d, 0).ReadIndex(ctx)
					return "ok"
				case "report-snapshot":
					status := raft.SnapshotFinish
					if len(d.CmdArgs) == 3 && d.CmdArgs[2].Key == "failure" {
						status = raft.SnapshotFailure
					}
					peer, err := strconv.ParseUint(d.CmdArgs[1].Key, 10, 64)
					require.NoError(t, err, "%s", d.Pos)
					scriptNode(t, env, d, 0).ReportSnapshot(peer, status)
					return "ok"
				}
				return readStatesAsText(env.Handle(t, *d))
			})
		})
	}
}

// scriptNode returns the node whose ID is the directive's i-th argument.
func scriptNode(t *testing.T, env *rafttest.InteractionEnv, d *datadriven.TestData, i int) *raft.RawNode {
	t.Helper()
	id, err := strconv.Atoi(d.CmdArgs[i].Key)
	require.NoError(t, err, "%s", d.Pos)
	require.True(t, id >= 1 && id <= len(env.Nodes), "%s: no node %d", d.Pos, id)
	return env.Nodes[id-1].RawNode
}

// readStateRE matches one ReadState as DescribeReady prints it, {index
// [context bytes]}.
var readStateRE = regexp.MustCompile(`\{(\d+) \[([0-9 ]*)\]\}`)

// readStatesAsText rewrites the ReadStates lines of out so that each read's
// context shows as the string the script passed to read-index.
func readStatesAsText(out string) string {
	lines := strings.Split(out, "\n")
	for i, line := range lines {
		if !strings.Contains(line, "ReadStates [") {
			continue
		}
		lines[i] = readStateRE.ReplaceAllStringFunc(line, func(rs string) string {
			m := readStateRE.FindStringSubmatch(rs)
			var ctx []byte
			for _, b := range strings.Fields(m[2]) {
				v, _ := strconv.Atoi(b)
				ctx = append(ctx, byte(v))
			}
			return fmt.Sprintf("{Index:%s RequestCtx:%q}", m[1], ctx)
		})
	}
	return strings.Join(lines, "\n")
}
