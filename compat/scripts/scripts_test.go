package scripts

import (
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/cockroachdb/datadriven"
	"github.com/stretchr/testify/require"
)

var update = flag.Bool("update", false, "rewrite testdata/differences from this run (reasons are kept; new records are tagged unexplained)")

// A corpus is one directory of etcd scripts and the driver that runs them.
type corpus struct {
	// name names the records' directory under testdata/differences.
	name string
	// dir is the scripts' directory inside etcd's module.
	dir string
	// scripts is how many scripts etcd v3.6.0 ships there.
	scripts int
	// newDriver returns the handler for one script, with fresh state.
	newDriver func() func(t *testing.T, d *datadriven.TestData) string
}

// fixedDirective names directives whose output differed from etcd's until
// a bug they showed was fixed in our packages; they must stay identical.
// It names one directive by line, or every directive of a command.
type fixedDirective struct {
	script string
	line   int
	cmd    string
}

// matches reports whether f names the directive at line with command cmd.
func (f fixedDirective) matches(line int, cmd string) bool {
	if f.cmd != "" {
		return f.cmd == cmd
	}
	return f.line == line
}

// tally counts what a run of scripts found.
type tally struct {
	scripts, directives, identical, fixed int
	differing                             map[string]int // by reason
}

func (c *tally) add(o tally) {
	c.scripts += o.scripts
	c.directives += o.directives
	c.identical += o.identical
	c.fixed += o.fixed
	if c.differing == nil {
		c.differing = map[string]int{}
	}
	for r, n := range o.differing {
		c.differing[r] += n
	}
}

func (c tally) String() string {
	var reasons []string
	total := 0
	for r, n := range c.differing {
		reasons = append(reasons, fmt.Sprintf("%s %d", r, n))
		total += n
	}
	sort.Strings(reasons)
	byReason := ""
	if len(reasons) > 0 {
		byReason = " (" + strings.Join(reasons, ", ") + ")"
	}
	return fmt.Sprintf("scripts run %d, directives run %d, identical %d (of which fixed %d), differing on purpose %d%s",
		c.scripts, c.directives, c.identical, c.fixed, total, byReason)
}

var (
	etcdDirOnce sync.Once
	etcdDir     string
	etcdDirErr  error
)

// etcdModuleDir returns the directory of go.etcd.io/raft/v3 in the module
// cache, as this module requires it.
func etcdModuleDir(t *testing.T) string {
	t.Helper()
	etcdDirOnce.Do(func() {
		out, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", "go.etcd.io/raft/v3").Output()
		if err != nil {
			etcdDirErr = fmt.Errorf("go list -m go.etcd.io/raft/v3: %w", err)
			return
		}
		etcdDir = strings.TrimSpace(string(out))
	})
	require.NoError(t, etcdDirErr)
	require.NotEmpty(t, etcdDir, "go list printed no directory for go.etcd.io/raft/v3 (module not downloaded?)")
	return etcdDir
}

// TestEtcdScripts runs the 41 scripts of etcd/raft v3.6.0 (raft, confchange
// and quorum) and logs what it found, per corpus and in total.
func TestEtcdScripts(t *testing.T) {
	var total tally
	for _, c := range []struct {
		corpus corpus
		fixed  []fixedDirective
	}{
		{raftCorpus, raftFixed},
		{confChangeCorpus, confChangeFixed},
		{quorumCorpus, quorumFixed},
	} {
		t.Run(c.corpus.name, func(t *testing.T) {
			tl := runCorpus(t, c.corpus, c.fixed)
			t.Logf("%s: %s", c.corpus.name, tl)
			total.add(tl)
		})
	}
	t.Logf("all: %s", total)
}

// runCorpus runs every script of c and returns the tally.
func runCorpus(t *testing.T, c corpus, fixed []fixedDirective) tally {
	dir := filepath.Join(etcdModuleDir(t), c.dir)
	paths, err := filepath.Glob(filepath.Join(dir, "*.txt"))
	require.NoError(t, err)
	require.Len(t, paths, c.scripts, "etcd v3.6.0 ships %d scripts in %s", c.scripts, c.dir)

	fixedIn := map[string][]fixedDirective{}
	for _, f := range fixed {
		fixedIn[f.script] = append(fixedIn[f.script], f)
	}
	var total tally
	for _, path := range paths {
		script := filepath.Base(path)
		t.Run(strings.TrimSuffix(script, ".txt"), func(t *testing.T) {
			runScript(t, c, path, fixedIn[script], &total)
		})
	}
	for script := range fixedIn {
		if _, err := os.Stat(filepath.Join(dir, script)); err != nil {
			t.Errorf("a fix is registered for %s, which etcd does not have", script)
		}
	}
	// Every record file belongs to a script that exists.
	recDir := filepath.Join("testdata", "differences", c.name)
	files, err := filepath.Glob(filepath.Join(recDir, "*.txt"))
	require.NoError(t, err)
	for _, f := range files {
		if _, err := os.Stat(filepath.Join(dir, filepath.Base(f))); err != nil {
			t.Errorf("%s records differences of a script etcd does not have", f)
		}
	}
	return total
}

// runScript runs one script, comparing each directive with etcd's output
// and with the recorded differences, and adds what it found to total.
// Problems are reported once the whole script has run (datadriven stops a
// script at the first directive that fails its test).
func runScript(t *testing.T, c corpus, path string, fixed []fixedDirective, total *tally) {
	script := filepath.Base(path)
	recPath := filepath.Join("testdata", "differences", c.name, script)
	recorded := map[int]Record{}
	if data, err := os.ReadFile(recPath); err == nil {
		recs, err := ParseRecords(string(data))
		require.NoError(t, err, recPath)
		for _, r := range recs {
			recorded[r.Line] = r
		}
	} else if !errors.Is(err, fs.ErrNotExist) {
		require.NoError(t, err)
	}
	src, err := os.ReadFile(path)
	require.NoError(t, err)

	tl := tally{scripts: 1, differing: map[string]int{}}
	defer func() { total.add(tl) }()
	var problems []string
	problem := func(format string, args ...any) { problems = append(problems, fmt.Sprintf(format, args...)) }
	seen := map[int]bool{}
	var current []Record
	drive := c.newDriver()
	// RunTestFromString, not RunTest: -rewrite must never write into the
	// module cache. The handler returns etcd's output, so datadriven's own
	// comparison passes; ours is below.
	datadriven.RunTestFromString(t, string(src), func(t *testing.T, d *datadriven.TestData) string {
		line := directiveLine(t, d.Pos)
		ours := WithoutLogLines(drive(t, d))
		etcd := WithoutLogLines(d.Expected)
		directive := directiveText(d)
		tl.directives++
		seen[line] = true
		rec, isRecorded := recorded[line]
		where := fmt.Sprintf("%s:%d %s", script, line, d.Cmd)
		wasFixed := false
		for _, f := range fixed {
			wasFixed = wasFixed || f.matches(line, d.Cmd)
		}
		if ours == etcd {
			tl.identical++
			if wasFixed {
				tl.fixed++
			}
			if isRecorded && !*update {
				problem("%s: recorded as differing (%s) but identical to etcd now; run with -update", where, rec.Reason)
			}
			return d.Expected
		}
		if wasFixed {
			problem("%s: differs from etcd again after it was fixed:\n%s", where, lineDiff(etcd, ours))
		}
		reason := ReasonUnexplained
		if isRecorded {
			reason = rec.Reason
		}
		current = append(current, Record{Line: line, Reason: reason, Directive: directive, Output: ours})
		switch {
		case !isRecorded && !*update:
			problem("%s: differs from etcd and is not recorded in %s:\n%s", where, recPath, lineDiff(etcd, ours))
		case isRecorded && !*update && rec.Output != ours:
			problem("%s: our output changed from the recorded one:\n%s", where, lineDiff(rec.Output, ours))
		case isRecorded && rec.Directive != directive:
			problem("%s: the record is for directive %q, the script has %q", where, rec.Directive, directive)
		case reason == ReasonUnexplained:
			problem("%s: differs from etcd without a reason; give one of %v in %s:\n%s", where, KnownReasons, recPath, lineDiff(etcd, ours))
		case !IsKnownReason(reason):
			problem("%s: unknown reason %q; want one of %v", where, reason, KnownReasons)
		default:
			tl.differing[reason]++
		}
		return d.Expected
	})
	for line := range recorded {
		if !seen[line] {
			problem("%s: a difference is recorded for line %d, which holds no directive", recPath, line)
		}
	}
	if *update {
		writeRecords(t, recPath, script, current)
	}
	for _, p := range problems {
		t.Error(p)
	}
}

// writeRecords replaces the record file of a script (removing it when
// nothing differs).
func writeRecords(t *testing.T, recPath, script string, recs []Record) {
	if len(recs) == 0 {
		if err := os.Remove(recPath); err != nil && !errors.Is(err, fs.ErrNotExist) {
			t.Fatal(err)
		}
		return
	}
	header := fmt.Sprintf("Directives of etcd/raft v3.6.0's %s whose output differs from etcd's\n"+
		"on purpose: our output, with log lines left out, and the reason (see\n"+
		"compat/DIFFERENCES.md). Written by `go test ./scripts -update`.", script)
	text, err := FormatRecords(header, recs)
	require.NoError(t, err)
	require.NoError(t, os.MkdirAll(filepath.Dir(recPath), 0o755))
	require.NoError(t, os.WriteFile(recPath, []byte(text), 0o644))
}

// directiveLine extracts the line number from a datadriven position
// ("<source>:<line>").
func directiveLine(t *testing.T, pos string) int {
	i := strings.LastIndexByte(pos, ':')
	n, err := strconv.Atoi(pos[i+1:])
	require.NoError(t, err, "datadriven position %q", pos)
	return n
}

// directiveText renders a directive: its command line and its input.
func directiveText(d *datadriven.TestData) string {
	parts := []string{d.Cmd}
	for _, a := range d.CmdArgs {
		parts = append(parts, a.String())
	}
	text := strings.Join(parts, " ")
	if in := strings.TrimRight(d.Input, "\n"); in != "" {
		text += "\n" + in
	}
	return text
}

// lineDiff shows two outputs line by line, marking lines only one has:
// "-" for want (etcd's or the recorded output), "+" for ours.
func lineDiff(want, got string) string {
	a, b := strings.Split(want, "\n"), strings.Split(got, "\n")
	// Longest common subsequence, fine for outputs of a few hundred lines.
	lcs := make([][]int, len(a)+1)
	for i := range lcs {
		lcs[i] = make([]int, len(b)+1)
	}
	for i := len(a) - 1; i >= 0; i-- {
		for j := len(b) - 1; j >= 0; j-- {
			if a[i] == b[j] {
				lcs[i][j] = lcs[i+1][j+1] + 1
			} else {
				lcs[i][j] = max(lcs[i+1][j], lcs[i][j+1])
			}
		}
	}
	var out strings.Builder
	i, j := 0, 0
	for i < len(a) || j < len(b) {
		switch {
		case i < len(a) && j < len(b) && a[i] == b[j]:
			out.WriteString("  " + a[i] + "\n")
			i++
			j++
		case i < len(a) && (j == len(b) || lcs[i+1][j] >= lcs[i][j+1]):
			out.WriteString("- " + a[i] + "\n")
			i++
		default:
			out.WriteString("+ " + b[j] + "\n")
			j++
		}
	}
	return out.String()
}
