package raftsim

import (
	"fmt"
	"io"
	"strconv"
)

// tracer keeps the last lines of the run's trace in a ring buffer and
// streams every line to an optional writer. Lines have the form
// "event N tick T: what happened".
type tracer struct {
	ring  []string
	next  int
	count int
	w     io.Writer
	// writeErr is the first error the writer returned; streaming stops
	// after it.
	writeErr error
}

func newTracer(lines int, w io.Writer) *tracer {
	return &tracer{ring: make([]string, lines), w: w}
}

// add records one line for event num at tick.
func (t *tracer) add(num int, tick int64, text string) {
	b := make([]byte, 0, len(text)+32)
	b = append(b, "event "...)
	b = strconv.AppendInt(b, int64(num), 10)
	b = append(b, " tick "...)
	b = strconv.AppendInt(b, tick, 10)
	b = append(b, ": "...)
	b = append(b, text...)
	line := string(b)
	t.ring[t.next] = line
	t.next = (t.next + 1) % len(t.ring)
	t.count++
	if t.w != nil && t.writeErr == nil {
		if _, err := io.WriteString(t.w, line+"\n"); err != nil {
			t.writeErr = fmt.Errorf("raftsim: writing trace: %w", err)
		}
	}
}

// last returns the most recent lines, oldest first.
func (t *tracer) last() []string {
	n := min(t.count, len(t.ring))
	out := make([]string, 0, n)
	start := (t.next - n + len(t.ring)) % len(t.ring)
	for i := 0; i < n; i++ {
		out = append(out, t.ring[(start+i)%len(t.ring)])
	}
	return out
}
