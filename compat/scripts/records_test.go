package scripts

import (
	"os"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestRecordsRoundTrip(t *testing.T) {
	recs := []Record{
		{Line: 40, Reason: ReasonBatching, Directive: "propose-conf-change 1\nv2 v3", Output: "ok"},
		{Line: 7, Reason: ReasonProposalDroppedCause, Directive: "leave-joint", Output: "> 1 handling Ready\n  Ready MustSync=false:"},
	}
	text, err := FormatRecords("first line\nsecond line", recs)
	require.NoError(t, err)
	assert.True(t, strings.HasPrefix(text, "# first line\n# second line\n\ndiffers line=7 reason=proposal-dropped-cause\n"), text)
	got, err := ParseRecords(text)
	require.NoError(t, err)
	assert.Equal(t, []Record{recs[1], recs[0]}, got, "sorted by line")
}

func TestParseRecordsRefusesMalformedInput(t *testing.T) {
	for _, text := range []string{
		"differs line=x reason=batching\nstabilize\n----\nok\n",
		"differs line=3\nstabilize\n----\nok\n",
		"differs line=3 reason=batching extra=1\nstabilize\n----\nok\n",
		"differs line=3 reason=batching\nstabilize\n",
		"differs line=3 reason=batching\n----\nok\n",
		"stabilize\n----\nok\n",
	} {
		_, err := ParseRecords(text)
		assert.Error(t, err, "%q", text)
	}
}

func TestFormatRecordsRefusesBlankLines(t *testing.T) {
	_, err := FormatRecords("h", []Record{{Line: 1, Reason: ReasonBatching, Directive: "d", Output: "a\n\nb"}})
	assert.Error(t, err)
	_, err = FormatRecords("h", []Record{{Line: 1, Reason: ReasonBatching, Directive: "d", Output: ""}})
	assert.Error(t, err)
}

func TestWithoutLogLines(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"", "ok"},
		{"ok\n", "ok"},
		{"INFO 1 became leader at term 1\nDEBUG x\n", "ok"},
		{"> 1 handling Ready\n  INFO 1 x\n  Ready MustSync=false:\n  WARN y\n", "> 1 handling Ready\n  Ready MustSync=false:"},
		{"ERROR e\nFATAL f\n1->2 MsgApp Term:1 Log:1/2\n\n", "1->2 MsgApp Term:1 Log:1/2"},
		// Only a level name followed by a space starts a log line.
		{"INFORMATION\n", "INFORMATION"},
	} {
		assert.Equal(t, tc.want, WithoutLogLines(tc.in), "%q", tc.in)
	}
}

// TestReasonsExplained: every reason tag a record may carry has its entry
// in compat/DIFFERENCES.md.
func TestReasonsExplained(t *testing.T) {
	doc, err := os.ReadFile("../DIFFERENCES.md")
	require.NoError(t, err)
	for _, r := range KnownReasons {
		assert.True(t, strings.Contains(string(doc), "| `"+r+"` |"), "DIFFERENCES.md explains reason %q in its scripts table", r)
	}
}
