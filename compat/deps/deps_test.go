package deps

import (
	"encoding/json"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"golang.org/x/mod/semver"
)

// buildList writes a module requiring what goMod names, importing the
// packages in imports, and returns its build list (go list -m all) as
// module path -> version, without the module itself.
func buildList(t *testing.T, goMod string, imports []string) map[string]string {
	t.Helper()
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "go.mod"), []byte(goMod), 0o644))
	src := "package probe\n\nimport (\n"
	for _, p := range imports {
		src += "\t_ \"" + p + "\"\n"
	}
	src += ")\n"
	require.NoError(t, os.WriteFile(filepath.Join(dir, "probe.go"), []byte(src), 0o644))
	run := func(args ...string) []byte {
		cmd := exec.Command("go", args...)
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), "GOFLAGS=-mod=mod", "GOWORK=off")
		out, err := cmd.Output()
		if ee, ok := err.(*exec.ExitError); ok {
			t.Fatalf("go %s: %v\n%s", strings.Join(args, " "), err, ee.Stderr)
		}
		require.NoError(t, err)
		return out
	}
	run("mod", "tidy")
	dec := json.NewDecoder(strings.NewReader(string(run("list", "-m", "-json", "all"))))
	mods := map[string]string{}
	for {
		var m struct {
			Path, Version string
			Main          bool
		}
		if err := dec.Decode(&m); err == io.EOF {
			break
		} else {
			require.NoError(t, err)
		}
		if !m.Main {
			mods[m.Path] = m.Version
		}
	}
	return mods
}

// TestSwitchingRaisesNoVersion compares the build list of a program using
// etcd/raft v3.6.0 (every package: raft, raftpb, tracker, quorum,
// confchange, rafttest) with that of the same program on Pontoon. A
// program that switches adds only Pontoon; anything else Pontoon requires
// must already be in etcd/raft's build list at the same or a newer version,
// or the switch would change what the program builds with.
func TestSwitchingRaisesNoVersion(t *testing.T) {
	root, err := filepath.Abs("../..")
	require.NoError(t, err)
	pkgs := []string{"", "/raftpb", "/tracker", "/quorum", "/confchange", "/rafttest"}
	var etcdImports, ourImports []string
	for _, p := range pkgs {
		etcdImports = append(etcdImports, "go.etcd.io/raft/v3"+p)
		ourImports = append(ourImports, "github.com/pontoon-raft/raft"+p)
	}
	etcd := buildList(t, "module probe\n\ngo 1.23\n\nrequire go.etcd.io/raft/v3 v3.6.0\n", etcdImports)
	ours := buildList(t, "module probe\n\ngo 1.23\n\nrequire github.com/pontoon-raft/raft v0.0.0\n\n"+
		"replace github.com/pontoon-raft/raft => "+root+"\n", ourImports)
	for path, v := range ours {
		if path == "github.com/pontoon-raft/raft" {
			continue
		}
		ev, ok := etcd[path]
		if !ok {
			t.Errorf("switching adds %s %s, which etcd/raft v3.6.0 does not bring", path, v)
			continue
		}
		if semver.Compare(v, ev) > 0 {
			t.Errorf("switching raises %s from %s (etcd/raft v3.6.0) to %s", path, ev, v)
		}
	}
	t.Logf("etcd/raft v3.6.0 brings %d modules, Pontoon %d (itself included)", len(etcd), len(ours))
}
