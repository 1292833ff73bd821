package main

import (
	"errors"
	"flag"
	"fmt"
	"io"

	"github.com/pontoon-raft/raft/raftsim"
)

// hostsUsage is printed before the flags by `raftsim hosts -h`.
const hostsUsage = `raftsim hosts runs whole Pontoon hosts (package host: the Raft loop, the
wal log engine on a fault-injecting file system, the in-memory transport)
in the deterministic simulator. Each seed is one run: hosts start with
groups placed on them, -steps events follow with clients writing and reading
and faults injected at random (power loss, crashes inside a write, failed
fsyncs, clean stops, partitions, lossy links, clock drift, replica moves,
leadership transfers), then the faults stop and every group must commit on
every replica. The invariants: election safety, state-machine safety,
linearizable reads and writes per key (porcupine), nothing acknowledged lost.

  raftsim hosts -seeds 1000                     sweep seeds 1..1000
  raftsim hosts -seed 17 -trace                 replay one seed with its trace

Flags:
`

type hostsConfig struct {
	hosts, groups, replicas, seeds, steps int
	seed                                  int64
	singleSeed, trace                     bool
	faults, readOnly                      string
	progressBar                           bool
	stdout, stderr                        io.Writer
}

// runHosts is `raftsim hosts`.
func runHosts(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("raftsim hosts", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(stderr, hostsUsage)
		fs.PrintDefaults()
	}
	c := hostsConfig{stdout: stdout, stderr: stderr, progressBar: isTerminal(stderr)}
	fs.IntVar(&c.hosts, "hosts", 0, "hosts, 1..9 (0: 3, 4 or 5, chosen from the seed)")
	fs.IntVar(&c.groups, "groups", 3, "Raft groups")
	fs.IntVar(&c.replicas, "replicas", 3, "replicas per group (at most the hosts)")
	fs.IntVar(&c.seeds, "seeds", 100, "run seeds 1..N (ignored with -seed)")
	fs.IntVar(&c.steps, "steps", 3000, "events in the fault phase of each run")
	fs.Int64Var(&c.seed, "seed", 0, "run only this seed")
	fs.BoolVar(&c.trace, "trace", false, "with -seed, print the full trace to standard output")
	fs.StringVar(&c.faults, "faults", "all", `"all" or "none"`)
	fs.StringVar(&c.readOnly, "readonly", "random", `how reads are served: "safe", "lease" or "random" (chosen from the seed)`)
	if err := fs.Parse(args); err != nil {
		return 2
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	c.singleSeed = set["seed"]
	switch {
	case fs.NArg() > 0:
		fmt.Fprintf(stderr, "raftsim hosts: unexpected argument %q\n", fs.Arg(0))
		return 2
	case c.faults != "all" && c.faults != "none":
		fmt.Fprintf(stderr, "raftsim hosts: -faults takes all or none, got %q\n", c.faults)
		return 2
	case c.readOnly != "safe" && c.readOnly != "lease" && c.readOnly != "random":
		fmt.Fprintf(stderr, "raftsim hosts: -readonly takes safe, lease or random, got %q\n", c.readOnly)
		return 2
	case c.hosts < 0 || c.hosts > raftsim.MaxNodes:
		fmt.Fprintf(stderr, "raftsim hosts: -hosts must be in 0..%d, got %d\n", raftsim.MaxNodes, c.hosts)
		return 2
	case c.trace && !c.singleSeed:
		fmt.Fprintln(stderr, "raftsim hosts: -trace prints one run: give the seed to trace with -seed")
		return 2
	case set["seeds"] && c.singleSeed:
		fmt.Fprintln(stderr, "raftsim hosts: -seeds and -seed exclude each other")
		return 2
	case !c.singleSeed && c.seeds < 1:
		fmt.Fprintf(stderr, "raftsim hosts: -seeds must be at least 1, got %d\n", c.seeds)
		return 2
	}
	first, last := int64(1), int64(c.seeds)
	if c.singleSeed {
		first, last = c.seed, c.seed
	}
	return sweepHosts(c, first, last)
}

// options are the options of seed.
func (c hostsConfig) options(seed int64) raftsim.HostOptions {
	o := raftsim.HostOptions{Hosts: c.hosts, Groups: c.groups, Replicas: c.replicas, Seed: seed, Steps: c.steps,
		Lease: c.readOnly == "lease" || (c.readOnly == "random" && seed%2 == 0)}
	if o.Hosts == 0 {
		o.Hosts = 3 + int(seed%3)
	}
	if o.Replicas > o.Hosts {
		o.Replicas = o.Hosts
	}
	if c.faults == "all" {
		o.Faults = raftsim.AllHostFaults()
	}
	return o
}

func sweepHosts(c hostsConfig, first, last int64) int {
	fmt.Fprintf(c.stdout, "raftsim hosts: seeds %d..%d, %d groups of %d replicas, %d steps, faults %s, readonly %s\n",
		first, last, c.groups, c.replicas, c.steps, c.faults, c.readOnly)
	var t raftsim.HostResult
	seeds, violations := 0, 0
	var firstFailure *raftsim.Violation
	var firstOptions raftsim.HostOptions
	total := last - first + 1
	step := max(total/10, 1)
	for seed := first; seed <= last; seed++ {
		o := c.options(seed)
		if c.trace {
			o.TraceWriter = c.stdout
		}
		res, err := raftsim.RunHosts(o)
		seeds++
		addHostResult(&t, res)
		var v *raftsim.Violation
		switch {
		case errors.As(err, &v):
			violations++
			fmt.Fprintf(c.stdout, "seed %d: %s violated at event %d: %v\n", seed, v.Invariant, v.Event, firstLine(v.Err))
			if firstFailure == nil {
				firstFailure, firstOptions = v, o
			}
		case err != nil:
			fmt.Fprintln(c.stderr, err)
			return 2
		}
		done := seed - first + 1
		switch {
		case c.singleSeed:
		case c.progressBar:
			drawProgress(c.stderr, done, total, violations)
		case done%step == 0:
			fmt.Fprintf(c.stderr, "progress: %d/%d seeds, %d violations\n", done, total, violations)
		}
	}
	if c.progressBar && !c.singleSeed {
		fmt.Fprintln(c.stderr)
	}
	w := c.stdout
	fmt.Fprintf(w, "seeds run: %d\nevents: %d\nticks: %d\n", seeds, t.Events, t.Ticks)
	fmt.Fprintf(w, "writes: %d (acknowledged %d), reads: %d (served %d), linearizability checks out of time: %d\n",
		t.Writes, t.WritesAcked, t.Reads, t.ReadsServed, t.LinearizabilityUnknown)
	fmt.Fprintf(w, "faults: power-loss=%d crash-mid-io=%d stop=%d host-failure=%d restart=%d failed-start=%d partition=%d\n",
		t.Crashes, t.MidIOCrashes, t.Stops, t.HostFailures, t.Restarts, t.FailedStarts, t.Partitions)
	n := t.Network
	fmt.Fprintf(w, "network: delivered=%d dropped=%d duplicated=%d delayed=%d reordered=%d cut=%d snapshots=%d snapshot-faults=%d\n",
		n.Delivered, n.Dropped, n.Duplicated, n.Delayed, n.Reordered, n.Cut, n.SnapshotsDelivered, n.SnapshotFaults)
	fmt.Fprintf(w, "replicas moved: %d, transfers: %d, quiescences: %d\n", t.ReplicasMoved, t.Transfers, t.Quiescences)
	fmt.Fprintf(w, "violations: %d\n", violations)
	if firstFailure != nil {
		fmt.Fprintf(w, "first failing seed: %d (%s)\n", firstFailure.Seed, firstFailure.Invariant)
		fmt.Fprintln(w, firstFailure.Error())
		fmt.Fprintf(w, "replay: %s -trace\n", hostsReplayCommand(c, firstOptions))
		return 1
	}
	return 0
}

// hostsReplayCommand is the command line that replays o.
func hostsReplayCommand(c hostsConfig, o raftsim.HostOptions) string {
	readOnly := "safe"
	if o.Lease {
		readOnly = "lease"
	}
	return fmt.Sprintf("cd raftsim && go run ./cmd/raftsim hosts -hosts %d -groups %d -replicas %d -steps %d -faults %s -readonly %s -seed %d",
		o.Hosts, o.Groups, o.Replicas, o.Steps, c.faults, readOnly, o.Seed)
}

func addHostResult(t *raftsim.HostResult, r raftsim.HostResult) {
	t.Events += r.Events
	t.Ticks += r.Ticks
	t.Writes += r.Writes
	t.WritesAcked += r.WritesAcked
	t.Reads += r.Reads
	t.ReadsServed += r.ReadsServed
	t.Crashes += r.Crashes
	t.MidIOCrashes += r.MidIOCrashes
	t.Stops += r.Stops
	t.HostFailures += r.HostFailures
	t.Restarts += r.Restarts
	t.FailedStarts += r.FailedStarts
	t.Partitions += r.Partitions
	t.ReplicasMoved += r.ReplicasMoved
	t.Transfers += r.Transfers
	t.LinearizabilityUnknown += r.LinearizabilityUnknown
	t.Quiescences += r.Quiescences
	n, m := &t.Network, r.Network
	n.Delivered += m.Delivered
	n.Dropped += m.Dropped
	n.Duplicated += m.Duplicated
	n.Delayed += m.Delayed
	n.Reordered += m.Reordered
	n.Cut += m.Cut
	n.SnapshotsDelivered += m.SnapshotsDelivered
	n.SnapshotFaults += m.SnapshotFaults
}
