package main

import (
	"fmt"
	"io"
	"os"
	"strings"
)

// isTerminal reports whether w is a character device, such as a terminal.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

// progressBarWidth is the number of cells of the progress bar.
const progressBarWidth = 40

// drawProgress redraws the progress bar in place: done of total seeds and
// the violations so far.
func drawProgress(w io.Writer, done, total int64, violations int) {
	filled := int(done * progressBarWidth / max(total, 1))
	fmt.Fprintf(w, "\r[%s%s] %d/%d seeds, %d violations", strings.Repeat("#", filled),
		strings.Repeat(".", progressBarWidth-filled), done, total, violations)
}
