// Command testprogress turns the output of `go test -json` into a short
// report that shows progress: a line when a package starts, a reminder
// every -every while a package is still running (with how many tests have
// passed), one line per package with its result and time, and the full
// output of every failed test or package. It exits with status 1 if
// anything failed, and 2 if its input is not `go test -json` output.
//
//	go test -race -json ./... | go run ./internal/testprogress
package main

import (
	"bufio"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"sync"
	"time"
)

// event is one line of `go test -json` (see `go doc test2json`).
type event struct {
	Action  string
	Package string
	Test    string
	Output  string
	Elapsed float64
}

// pkgState is what the report knows about one package.
type pkgState struct {
	started time.Time
	passed  int
	done    bool
	// output holds the package's own output lines, and testOutput each
	// test's, until they are printed on failure or dropped on success.
	output     []string
	testOutput map[string][]string
}

// reporter prints the report. Its methods are safe for concurrent use: the
// reminders come from a ticker goroutine.
type reporter struct {
	mu     sync.Mutex
	w      io.Writer
	now    func() time.Time
	pkgs   map[string]*pkgState
	failed bool
}

func newReporter(w io.Writer, now func() time.Time) *reporter {
	return &reporter{w: w, now: now, pkgs: map[string]*pkgState{}}
}

func (r *reporter) pkg(name string) *pkgState {
	p := r.pkgs[name]
	if p == nil {
		p = &pkgState{started: r.now(), testOutput: map[string][]string{}}
		r.pkgs[name] = p
		fmt.Fprintf(r.w, "... %s\n", name)
	}
	return p
}

// handle takes one event.
func (r *reporter) handle(e event) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if e.Package == "" {
		if e.Output != "" {
			fmt.Fprint(r.w, e.Output) // build errors of no package
		}
		return
	}
	p := r.pkg(e.Package)
	if e.Test != "" {
		switch e.Action {
		case "output":
			p.testOutput[e.Test] = append(p.testOutput[e.Test], e.Output)
		case "pass", "skip":
			if e.Action == "pass" && !strings.Contains(e.Test, "/") {
				p.passed++
			}
			delete(p.testOutput, e.Test)
		case "fail":
			r.failed = true
			fmt.Fprintf(r.w, "--- FAIL %s %s\n%s", e.Package, e.Test, strings.Join(p.testOutput[e.Test], ""))
			delete(p.testOutput, e.Test)
		}
		return
	}
	switch e.Action {
	case "output":
		p.output = append(p.output, e.Output)
	case "pass", "skip":
		p.done = true
		if e.Action == "skip" {
			fmt.Fprintf(r.w, "ok   %s (no tests)\n", e.Package)
			return
		}
		fmt.Fprintf(r.w, "ok   %s %.1fs (%d tests)\n", e.Package, e.Elapsed, p.passed)
	case "fail":
		p.done = true
		r.failed = true
		fmt.Fprintf(r.w, "FAIL %s %.1fs\n%s", e.Package, e.Elapsed, strings.Join(p.output, ""))
	}
}

// remind prints a line for every package still running.
func (r *reporter) remind() {
	r.mu.Lock()
	defer r.mu.Unlock()
	var names []string
	for name, p := range r.pkgs {
		if !p.done {
			names = append(names, name)
		}
	}
	sort.Strings(names)
	for _, name := range names {
		p := r.pkgs[name]
		fmt.Fprintf(r.w, "    still running %s: %d tests passed, %s\n", name, p.passed, r.now().Sub(p.started).Round(time.Second))
	}
}

// run reads events from in until it ends.
func (r *reporter) run(in io.Reader) error {
	sc := bufio.NewScanner(in)
	sc.Buffer(make([]byte, 1<<20), 16<<20)
	for sc.Scan() {
		line := sc.Bytes()
		if len(line) == 0 || line[0] != '{' {
			r.mu.Lock()
			fmt.Fprintf(r.w, "%s\n", line) // e.g. a build error printed as text
			r.mu.Unlock()
			continue
		}
		var e event
		if err := json.Unmarshal(line, &e); err != nil {
			return fmt.Errorf("testprogress: not go test -json output: %w", err)
		}
		r.handle(e)
	}
	return sc.Err()
}

func main() {
	every := flag.Duration("every", 20*time.Second, "how often to list the packages still running")
	flag.Parse()
	r := newReporter(os.Stdout, time.Now)
	stop := make(chan struct{})
	go func() {
		t := time.NewTicker(*every)
		defer t.Stop()
		for {
			select {
			case <-t.C:
				r.remind()
			case <-stop:
				return
			}
		}
	}()
	err := r.run(os.Stdin)
	close(stop)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	if r.failed {
		os.Exit(1)
	}
}
