package scripts

import (
	"bufio"
	"fmt"
	"sort"
	"strconv"
	"strings"
)

// The reasons a directive's output may differ from etcd's. Each one is
// explained in compat/DIFFERENCES.md.
const (
	// ReasonBatching: the leader sends one MsgApp per follower per Ready,
	// with every entry and the commit index it has for that follower,
	// where etcd sends one per proposal and per commit advance.
	ReasonBatching = "batching"
	// ReasonProposalDroppedCause: ErrProposalDropped is wrapped with the
	// reason the proposal was dropped.
	ReasonProposalDroppedCause = "proposal-dropped-cause"
	// ReasonUnexplained marks a record written by -update for a new
	// difference; it always fails the test.
	ReasonUnexplained = "unexplained"
)

// KnownReasons are the reason tags a record may carry.
var KnownReasons = []string{ReasonBatching, ReasonProposalDroppedCause}

// IsKnownReason reports whether tag is one of KnownReasons.
func IsKnownReason(tag string) bool {
	for _, r := range KnownReasons {
		if r == tag {
			return true
		}
	}
	return false
}

// A Record is one directive of an etcd script whose output differs from
// etcd's on purpose.
type Record struct {
	// Line is the line of the directive in etcd's script.
	Line int
	// Reason is the tag of the difference.
	Reason string
	// Directive is the directive's text: the command line and its input.
	Directive string
	// Output is our output, with log lines left out.
	Output string
}

// recordHeader starts every record: `differs line=<n> reason=<tag>`.
const recordHeader = "differs"

// ParseRecords reads the records of one script. The format is a sequence
// of blocks separated by blank lines:
//
//	differs line=<n> reason=<tag>
//	<directive, one or more lines>
//	----
//	<output, one or more lines>
//
// Lines starting with '#' outside a block are comments.
func ParseRecords(text string) ([]Record, error) {
	var recs []Record
	sc := bufio.NewScanner(strings.NewReader(text))
	sc.Buffer(make([]byte, 0, 64*1024), 16*1024*1024)
	lineNo := 0
	next := func() (string, bool) {
		if !sc.Scan() {
			return "", false
		}
		lineNo++
		return sc.Text(), true
	}
	for {
		line, ok := next()
		if !ok {
			break
		}
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		rec, err := parseHeader(line)
		if err != nil {
			return nil, fmt.Errorf("line %d: %w", lineNo, err)
		}
		var directive, output []string
		inOutput := false
		for {
			l, ok := next()
			if !ok || l == "" {
				break
			}
			switch {
			case !inOutput && l == "----":
				inOutput = true
			case inOutput:
				output = append(output, l)
			default:
				directive = append(directive, l)
			}
		}
		if len(directive) == 0 || len(output) == 0 {
			return nil, fmt.Errorf("line %d: the record for script line %d needs a directive, ----, and an output", lineNo, rec.Line)
		}
		rec.Directive = strings.Join(directive, "\n")
		rec.Output = strings.Join(output, "\n")
		recs = append(recs, rec)
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	return recs, nil
}

// parseHeader parses `differs line=<n> reason=<tag>`.
func parseHeader(line string) (Record, error) {
	fields := strings.Fields(line)
	if len(fields) != 3 || fields[0] != recordHeader {
		return Record{}, fmt.Errorf("want %q, got %q", recordHeader+" line=<n> reason=<tag>", line)
	}
	var rec Record
	for _, f := range fields[1:] {
		key, val, _ := strings.Cut(f, "=")
		switch key {
		case "line":
			n, err := strconv.Atoi(val)
			if err != nil || n <= 0 {
				return Record{}, fmt.Errorf("bad line number %q", val)
			}
			rec.Line = n
		case "reason":
			rec.Reason = val
		default:
			return Record{}, fmt.Errorf("unknown field %q", key)
		}
	}
	if rec.Line == 0 || rec.Reason == "" {
		return Record{}, fmt.Errorf("%q lacks a line or a reason", line)
	}
	return rec, nil
}

// FormatRecords writes records, sorted by line, after a comment header.
// It fails if a directive or an output is empty or holds a blank line,
// which the format cannot represent.
func FormatRecords(header string, recs []Record) (string, error) {
	recs = append([]Record(nil), recs...)
	sort.Slice(recs, func(i, j int) bool { return recs[i].Line < recs[j].Line })
	var b strings.Builder
	for _, l := range strings.Split(strings.TrimRight(header, "\n"), "\n") {
		b.WriteString("# " + l)
		b.WriteString("\n")
	}
	for _, r := range recs {
		for _, part := range []string{r.Directive, r.Output} {
			if part == "" || strings.Contains(part, "\n\n") {
				return "", fmt.Errorf("record for line %d: directive and output must be non-empty without blank lines", r.Line)
			}
		}
		fmt.Fprintf(&b, "\n%s line=%d reason=%s\n%s\n----\n%s\n", recordHeader, r.Line, r.Reason, r.Directive, r.Output)
	}
	return b.String(), nil
}

// logPrefixes start the log lines a RedirectLogger writes.
var logPrefixes = []string{"DEBUG ", "INFO ", "WARN ", "ERROR ", "FATAL "}

// isLogLine reports whether line (possibly indented) is a log line of a
// node.
func isLogLine(line string) bool {
	line = strings.TrimLeft(line, " ")
	for _, p := range logPrefixes {
		if strings.HasPrefix(line, p) {
			return true
		}
	}
	return false
}

// WithoutLogLines returns a directive's output with the nodes' log lines
// and trailing newlines removed; an output that was only log lines (or
// nothing) becomes "ok", which is what a directive that prints nothing
// returns.
func WithoutLogLines(output string) string {
	var kept []string
	for _, l := range strings.Split(strings.TrimRight(output, "\n"), "\n") {
		if !isLogLine(l) {
			kept = append(kept, l)
		}
	}
	out := strings.TrimRight(strings.Join(kept, "\n"), "\n")
	if out == "" {
		return "ok"
	}
	return out
}
