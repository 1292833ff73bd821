// Command raftsim runs Pontoon clusters in the deterministic simulator,
// over a range of seeds or one seed, and reports what happened: events,
// faults injected by kind, and invariant violations with a command that
// replays the first failing seed. It exits with status 1 on a violation.
//
//	raftsim -nodes 5 -seeds 1000 -steps 5000 -faults all
//	raftsim -nodes 5 -steps 5000 -faults all -seed 17 -trace
//	raftsim -nodes 5 -steps 5000 -faults all -seed 17 -shrink
//	raftsim -nodes 5 -seeds 1000 -steps 2000 -faults all -async mixed
//	raftsim -nodes 5 -seeds 1000 -steps 2000 -faults all -storage wal
//
// `raftsim hosts` simulates whole hosts (package host) instead of bare
// Raft nodes; `raftsim hosts -h` lists its flags.
//
// On a terminal, a progress bar is drawn on standard error.
//
// With -shrink the first failing run is shrunk (raftsim.Shrink) and the
// command prints how to replay the smaller run, whose -suppress flag lists
// the events at which no fault was injected.
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"slices"
	"strconv"
	"strings"

	"github.com/pontoon-raft/raft"
	"github.com/pontoon-raft/raft/raftsim"
)

type config struct {
	nodes, seeds, steps   int
	seed                  int64
	singleSeed            bool
	faults                string
	preVote, checkQuorum  string
	electionTick          int
	heartbeatTick         int
	leaseDrift            int
	trace                 bool
	readOnly              string
	suppress              []int
	shrink                bool
	async, stepDown       string
	storage               raftsim.StorageMode
	progressBar           bool // draw a bar on stderr, not progress lines
	stdout, stderr        io.Writer
	progressEverySeedsPct int
}

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// run parses args, runs the simulations and returns the exit status.
func run(args []string, stdout, stderr io.Writer) int {
	if len(args) > 0 && args[0] == "hosts" {
		return runHosts(args[1:], stdout, stderr)
	}
	fs := flag.NewFlagSet("raftsim", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(stderr, usageText)
		fs.PrintDefaults()
	}
	c := config{stdout: stdout, stderr: stderr, progressEverySeedsPct: 10, progressBar: isTerminal(stderr)}
	fs.IntVar(&c.nodes, "nodes", 5, "cluster size, 1..9")
	fs.IntVar(&c.seeds, "seeds", 1000, "run seeds 1..N (ignored with -seed)")
	fs.IntVar(&c.steps, "steps", 2000, "events in the fault phase of each run")
	fs.Int64Var(&c.seed, "seed", 0, "run only this seed")
	fs.StringVar(&c.faults, "faults", "all", `faults and entry-point calls to inject: "all", "none" or a comma-separated list of kinds (`+faultKindList()+`)`)
	fs.StringVar(&c.preVote, "prevote", "random", `PreVote: "on", "off" or "random" (chosen from the seed)`)
	fs.StringVar(&c.checkQuorum, "checkquorum", "random", `CheckQuorum: "on", "off" or "random" (chosen from the seed)`)
	fs.IntVar(&c.electionTick, "election-tick", 10, "ElectionTick of every node")
	fs.IntVar(&c.heartbeatTick, "heartbeat-tick", 1, "HeartbeatTick of every node")
	fs.IntVar(&c.leaseDrift, "lease-drift", 0, "with -readonly lease: LeaseDriftTicks of every node, the clock drift clock-drift faults stay within (0: election-tick/5, -1: clocks at the same rate)")
	fs.BoolVar(&c.trace, "trace", false, "with -seed, print the full trace to standard output")
	fs.StringVar(&c.readOnly, "readonly", "random", `how ReadIndex is served: "safe", "lease" (on seeds with CheckQuorum) or "random" (chosen from the seed)`)
	fs.Func("suppress", "comma-separated events at which no fault is injected (printed by -shrink)", func(v string) error {
		for _, f := range strings.Split(v, ",") {
			e, err := strconv.Atoi(strings.TrimSpace(f))
			if err != nil {
				return err
			}
			c.suppress = append(c.suppress, e)
		}
		return nil
	})
	fs.StringVar(&c.async, "async", "none", `nodes with asynchronous storage writes: "none", "all", "mixed" (every other node) or "random" (one of those, chosen from the seed)`)
	fs.StringVar(&c.stepDown, "stepdown", "random", `StepDownOnRemoval: "on", "off" or "random" (chosen from the seed)`)
	fs.Func("storage", `what nodes persist to: "memory" (default) or "wal" (a wal.Engine per node over a fault-injecting file system, with the disk faults of -faults: torn-write, bit-flip, fsync-error, no-space, or "storage" for all four)`, func(v string) error {
		m, err := raftsim.ParseStorageMode(v)
		c.storage = m
		return err
	})
	fs.BoolVar(&c.shrink, "shrink", false, "shrink the first failing run and print how to replay the smaller one")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	c.singleSeed = set["seed"]
	faults, err := raftsim.ParseFaults(c.faults)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 2
	}
	for _, mode := range []string{c.preVote, c.checkQuorum, c.stepDown} {
		if mode != "on" && mode != "off" && mode != "random" {
			fmt.Fprintf(stderr, "raftsim: -prevote, -checkquorum and -stepdown take on, off or random, got %q\n", mode)
			return 2
		}
	}
	if _, err := raftsim.ParseAsyncMode(c.async); err != nil && c.async != "random" {
		fmt.Fprintf(stderr, "raftsim: -async takes none, all, mixed or random, got %q\n", c.async)
		return 2
	}
	if c.readOnly != "safe" && c.readOnly != "lease" && c.readOnly != "random" {
		fmt.Fprintf(stderr, "raftsim: -readonly takes safe, lease or random, got %q\n", c.readOnly)
		return 2
	}
	if err := checkCombinations(c, set, faults); err != nil {
		fmt.Fprintf(stderr, "raftsim: %v\n", err)
		return 2
	}
	first, last := int64(1), int64(c.seeds)
	if c.singleSeed {
		first, last = c.seed, c.seed
	}
	return sweep(c, faults, first, last)
}

// usageText is printed before the flags by -h.
const usageText = `raftsim runs Pontoon clusters in the deterministic simulator and reports what
happened. Each seed is one run: the cluster starts, -steps events follow in
which faults (message loss, delays, partitions, crashes, membership changes,
clock drift, calls to every public entry point, ...) are injected at random,
then the faults stop and the cluster must make progress again. After every
event the invariants are checked: election safety, log matching, leader
completeness, state-machine safety, and linearizable reads when read-index is
among the faults. A violation prints the seed and the command that replays
it; the exit status is then 1 (2 for bad flags).

  raftsim -nodes 5 -seeds 1000                  sweep seeds 1..1000, all faults
  raftsim -nodes 5 -seed 17 -trace              replay one seed with its trace
  raftsim -faults crash,partition,read-index -readonly lease
  raftsim -storage wal -seeds 1000              nodes on the log engine, with disk faults
  raftsim hosts -seeds 1000                     whole hosts (raftsim hosts -h)

Flags:
`

// checkCombinations refuses flags that would be silently ignored or make
// the run something else than what was asked for.
func checkCombinations(c config, set map[string]bool, faults raftsim.Faults) error {
	switch {
	case c.nodes < 1 || c.nodes > raftsim.MaxNodes:
		return fmt.Errorf("-nodes must be in 1..%d, got %d", raftsim.MaxNodes, c.nodes)
	case !c.singleSeed && c.seeds < 1:
		return fmt.Errorf("-seeds must be at least 1, got %d", c.seeds)
	case c.steps < 0:
		return fmt.Errorf("-steps must not be negative, got %d", c.steps)
	case c.trace && !c.singleSeed:
		return fmt.Errorf("-trace prints one run: give the seed to trace with -seed")
	case len(c.suppress) > 0 && !c.singleSeed:
		return fmt.Errorf("-suppress names events of one run: give its seed with -seed")
	case set["seeds"] && c.singleSeed:
		return fmt.Errorf("-seeds and -seed exclude each other: -seeds N runs seeds 1..N, -seed runs one")
	case set["readonly"] && faults.ReadIndexProb == 0:
		return fmt.Errorf("-readonly %s has no effect: no reads are issued unless -faults includes read-index", c.readOnly)
	case set["lease-drift"] && c.readOnly == "safe":
		return fmt.Errorf("-lease-drift applies to lease reads only, but -readonly is safe")
	case c.readOnly == "lease" && c.checkQuorum == "off":
		return fmt.Errorf("-readonly lease needs CheckQuorum: drop -checkquorum off")
	case c.storage == raftsim.StorageMemory && set["faults"] && hasDiskFaults(faults):
		return fmt.Errorf("-faults %s injects disk faults, which need -storage wal", c.faults)
	}
	return nil
}

// hasDiskFaults reports whether f injects faults only a StorageWAL run
// has, except through "all", which means every fault the storage allows.
func hasDiskFaults(f raftsim.Faults) bool {
	return f != raftsim.AllFaults() && (f.TornWriteProb > 0 || f.BitFlipProb > 0 || f.SyncErrorRate > 0 || f.NoSpaceRate > 0)
}

// toggle resolves an on/off/random flag for seed; random uses bit of seed,
// so a replay of the seed gets the same setting.
func toggle(mode string, seed int64, bit uint) bool {
	switch mode {
	case "on":
		return true
	case "off":
		return false
	}
	return (seed>>bit)&1 == 1
}

func onOff(b bool) string {
	if b {
		return "on"
	}
	return "off"
}

// totals accumulates the results of a sweep.
type totals struct {
	seeds, violations              int
	events, proposals, commits     int
	leaderChanges                  int
	ticks                          int64
	faults                         map[raftsim.FaultKind]int
	firstFailure                   *raftsim.Violation
	firstPreVote, firstCheckQuorum bool
	firstOptions                   raftsim.Options
	readsServed, readChecksUnknown int
	confChanges, transfers         int
}

// options are the simulation options of seed.
func (c config) options(seed int64, faults raftsim.Faults) raftsim.Options {
	o := raftsim.Options{
		Nodes:          c.nodes,
		Seed:           seed,
		Steps:          c.steps,
		ElectionTick:   c.electionTick,
		HeartbeatTick:  c.heartbeatTick,
		PreVote:        toggle(c.preVote, seed, 0),
		CheckQuorum:    toggle(c.checkQuorum, seed, 1),
		Faults:         faults,
		SuppressEvents: c.suppress,
		Storage:        c.storage,
	}
	o.LeaseDriftTicks = c.leaseDrift
	o.StepDownOnRemoval = toggle(c.stepDown, seed, 3)
	if mode, err := raftsim.ParseAsyncMode(c.async); err == nil {
		o.Async = mode
	} else {
		o.Async = raftsim.AsyncMode(uint64(seed>>4) % 3)
	}
	lease := c.readOnly == "lease" || (c.readOnly == "random" && (seed>>2)&1 == 1)
	if lease && o.CheckQuorum {
		o.ReadOnlyOption = raft.ReadOnlyLeaseBased
	}
	return o
}

// readOnlyName is the -readonly value that replays o.
func readOnlyName(o raftsim.Options) string {
	if o.ReadOnlyOption == raft.ReadOnlyLeaseBased {
		return "lease"
	}
	return "safe"
}

func sweep(c config, faults raftsim.Faults, first, last int64) int {
	t := totals{faults: map[raftsim.FaultKind]int{}}
	total := last - first + 1
	step := max(total*int64(c.progressEverySeedsPct)/100, 1)
	fmt.Fprintf(c.stdout, "raftsim: seeds %d..%d, %d nodes, %d steps, faults %s, prevote %s, checkquorum %s",
		first, last, c.nodes, c.steps, c.faults, c.preVote, c.checkQuorum)
	if c.storage != raftsim.StorageMemory {
		fmt.Fprintf(c.stdout, ", storage %s", c.storage)
	}
	fmt.Fprintln(c.stdout)
	for seed := first; seed <= last; seed++ {
		opts := c.options(seed, faults)
		if c.trace && c.singleSeed {
			opts.TraceWriter = c.stdout
		}
		res, err := raftsim.Run(opts)
		t.seeds++
		t.events += res.Events
		t.ticks += res.Ticks
		t.proposals += res.Proposals
		t.commits += res.Commits
		t.leaderChanges += res.LeaderChanges
		t.readsServed += res.ReadsServed
		t.readChecksUnknown += res.ReadChecksUnknown
		t.confChanges += res.ConfChangesApplied
		t.transfers += res.TransfersSucceeded
		for k, n := range res.Faults {
			t.faults[k] += n
		}
		var v *raftsim.Violation
		switch {
		case errors.As(err, &v):
			t.violations++
			fmt.Fprintf(c.stdout, "seed %d: %s violated at event %d: %v\n", seed, v.Invariant, v.Event, firstLine(v.Err))
			if t.firstFailure == nil {
				t.firstFailure = v
				t.firstPreVote, t.firstCheckQuorum = opts.PreVote, opts.CheckQuorum
				t.firstOptions = opts
			}
		case err != nil:
			fmt.Fprintln(c.stderr, err)
			return 2
		}
		done := seed - first + 1
		switch {
		case c.singleSeed:
		case c.progressBar:
			drawProgress(c.stderr, done, total, t.violations)
		case done%step == 0:
			fmt.Fprintf(c.stderr, "progress: %d/%d seeds, %d violations\n", done, total, t.violations)
		}
	}
	if c.progressBar && !c.singleSeed {
		fmt.Fprintln(c.stderr)
	}
	report(c, t)
	if t.violations > 0 {
		if c.shrink {
			shrink(c, t.firstOptions)
		}
		return 1
	}
	return 0
}

// faultKindList lists the names -faults accepts.
func faultKindList() string {
	names := []string{"membership", "storage"}
	for _, k := range raftsim.AllFaultKinds {
		switch k {
		case raftsim.FaultUndeliverable, raftsim.FaultOverflow, raftsim.FaultCorruptionDetected, raftsim.FaultFailedStart:
			// Consequences of other faults, not injected on their own.
		default:
			names = append(names, string(k))
		}
	}
	return strings.Join(names, ",")
}

func firstLine(err error) string {
	s := err.Error()
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i]
	}
	return s
}

func report(c config, t totals) {
	w := c.stdout
	fmt.Fprintf(w, "seeds run: %d\nevents: %d\nticks: %d\nproposals: %d\ncommitted entries (sum of highest applied index): %d\nleader changes: %d\n",
		t.seeds, t.events, t.ticks, t.proposals, t.commits, t.leaderChanges)
	fmt.Fprint(w, "faults:")
	for _, k := range raftsim.AllFaultKinds {
		if c.storage == raftsim.StorageMemory && slices.Contains(raftsim.StorageFaultKinds(), k) {
			continue // never injected on memory storage
		}
		fmt.Fprintf(w, " %s=%d", k, t.faults[k])
	}
	fmt.Fprintf(w, "\nreads served: %d, linearizability checks out of time: %d\n", t.readsServed, t.readChecksUnknown)
	fmt.Fprintf(w, "configurations applied: %d, leader transfers that succeeded: %d\n", t.confChanges, t.transfers)
	fmt.Fprintf(w, "violations: %d\n", t.violations)
	if v := t.firstFailure; v != nil {
		fmt.Fprintf(w, "first failing seed: %d (%s)\n", v.Seed, v.Invariant)
		fmt.Fprintln(w, v.Error())
		fmt.Fprintf(w, "replay: %s -trace\n", replayCommand(c, t.firstOptions, t.firstPreVote, t.firstCheckQuorum))
	}
}

// replayCommand is the command line that replays o, a run of the sweep c.
func replayCommand(c config, o raftsim.Options, preVote, checkQuorum bool) string {
	cmd := fmt.Sprintf("cd raftsim && go run ./cmd/raftsim -nodes %d -steps %d -faults %s -prevote %s -checkquorum %s",
		c.nodes, o.Steps, c.faults, onOff(preVote), onOff(checkQuorum))
	if o.Faults.ReadIndexProb > 0 {
		// Without reads the choice is moot, and the flag refused.
		cmd += " -readonly " + readOnlyName(o)
		if o.ReadOnlyOption == raft.ReadOnlyLeaseBased {
			cmd += fmt.Sprintf(" -lease-drift %d", c.leaseDrift)
		}
	}
	cmd += fmt.Sprintf(" -election-tick %d -heartbeat-tick %d -async %s -stepdown %s",
		c.electionTick, c.heartbeatTick, o.Async, onOff(o.StepDownOnRemoval))
	if o.Storage != raftsim.StorageMemory {
		cmd += " -storage " + o.Storage.String()
	}
	if len(o.SuppressEvents) > 0 {
		events := make([]string, len(o.SuppressEvents))
		for i, e := range o.SuppressEvents {
			events[i] = strconv.Itoa(e)
		}
		cmd += " -suppress " + strings.Join(events, ",")
	}
	return fmt.Sprintf("%s -seed %d", cmd, o.Seed)
}

// shrink shrinks the failing run o and prints the smaller run and how to
// replay it.
func shrink(c config, o raftsim.Options) {
	w := c.stdout
	res, err := raftsim.Shrink(o, 0)
	if err != nil {
		fmt.Fprintf(w, "shrink: %v\n", err)
		return
	}
	fmt.Fprintf(w, "shrunk: %s\n", res)
	fmt.Fprintln(w, res.Violation.Error())
	fmt.Fprintf(w, "replay shrunk: %s -trace\n", replayCommand(c, res.Options, o.PreVote, o.CheckQuorum))
}
