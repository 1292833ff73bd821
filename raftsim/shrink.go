package raftsim

import (
	"errors"
	"fmt"
	"slices"
)

// ErrNoViolation is returned by Shrink when the run it is given passes.
var ErrNoViolation = errors.New("raftsim: the run does not fail; nothing to shrink")

// DefaultShrinkRuns bounds the runs Shrink makes when maxRuns is zero.
const DefaultShrinkRuns = 200

// ShrinkResult is a smaller failing run found by Shrink.
type ShrinkResult struct {
	// Options replay the smaller run with Run; they differ from the
	// original ones in Steps and SuppressEvents only.
	Options Options
	// Violation is what the smaller run reports: the same invariant as the
	// original.
	Violation *Violation
	// Original and Shrunk measure the original and the smaller run.
	Original, Shrunk ShrinkSize
	// Runs counts the simulations Shrink made, the original included.
	Runs int
}

// ShrinkSize measures a failing run: Shrink looks for fewer faults first,
// then an earlier violation.
type ShrinkSize struct {
	// Faults is the number of faults injected (the sum of Result.Faults).
	Faults int
	// Event is the event at which the violation was detected.
	Event int
	// Actions lists the fault-phase events at which a per-event action (a
	// fault, snapshot, proposal or read) was performed, before the
	// violation.
	Actions []int
}

func (z ShrinkSize) less(o ShrinkSize) bool {
	if z.Faults != o.Faults {
		return z.Faults < o.Faults
	}
	return z.Event < o.Event
}

// Shrink looks for a shorter run of opts that still violates the same
// invariant, making at most maxRuns simulations (zero means
// DefaultShrinkRuns). It first cuts the fault phase right after the
// violation, or halves it while the run still fails; then it suppresses
// the per-event actions of the run (see Options.SuppressEvents) in chunks
// of halving size down to single events, keeping every change after which
// the run fails the same way with fewer faults or earlier. It returns
// ErrNoViolation if opts pass, and the error of Run if they are invalid.
func Shrink(opts Options, maxRuns int) (ShrinkResult, error) {
	if maxRuns <= 0 {
		maxRuns = DefaultShrinkRuns
	}
	sh := shrinker{maxRuns: maxRuns}
	best, v, size, err := sh.try(opts)
	if err != nil {
		return ShrinkResult{}, err
	}
	if v == nil {
		return ShrinkResult{Runs: sh.runs}, ErrNoViolation
	}
	sh.invariant = v.Invariant
	res := ShrinkResult{Options: best, Violation: v, Original: size, Shrunk: size}
	// accept runs o and keeps it if it fails the same way and is smaller,
	// or (orEqual, for a shorter fault phase) no bigger.
	accept := func(o Options, orEqual bool) bool {
		if sh.runs >= sh.maxRuns {
			return false
		}
		o2, v2, size2, err := sh.try(o)
		if err != nil || v2 == nil || v2.Invariant != sh.invariant {
			return false
		}
		if !size2.less(res.Shrunk) && (!orEqual || res.Shrunk.less(size2)) {
			return false
		}
		res.Options, res.Violation, res.Shrunk = o2, v2, size2
		return true
	}

	// A violation in the fault phase happens at the same event when the
	// phase ends right after it: the run is deterministic up to there.
	truncate := func() {
		if steps := res.Violation.Event - 1; steps < res.Options.Steps {
			o := res.Options
			o.Steps = steps
			accept(o, true)
		}
	}
	truncate()
	for res.Options.Steps > 1 {
		o := res.Options
		o.Steps /= 2
		if !accept(o, true) {
			break
		}
	}

	// One run stays for the final cut of the fault phase.
	last := sh.maxRuns - 1
	for chunk := max(len(res.Shrunk.Actions)/2, 1); ; chunk /= 2 {
		// Latest first: suppressing a late action leaves more of the run
		// as it was.
		for end := len(res.Shrunk.Actions); end > 0 && sh.runs < last; {
			actions := res.Shrunk.Actions
			end = min(end, len(actions))
			start := max(end-chunk, 0)
			o := res.Options
			o.SuppressEvents = append(slices.Clone(o.SuppressEvents), actions[start:end]...)
			if !accept(o, false) {
				end = start
			}
		}
		if chunk == 1 || sh.runs >= last {
			break
		}
	}
	truncate()
	res.Runs = sh.runs
	return res, nil
}

// shrinker runs candidate Options and measures them.
type shrinker struct {
	maxRuns, runs int
	invariant     string
}

// try runs o and returns the normalized Options, the violation (nil if
// the run passed) and the run's size. Suppressed events after the
// violation are dropped from the Options, since they change nothing.
func (sh *shrinker) try(o Options) (Options, *Violation, ShrinkSize, error) {
	sh.runs++
	rec := &actionRecorder{}
	run := o
	run.Invariants = append(slices.Clone(o.Invariants), rec)
	run.TraceWriter = nil
	res, err := Run(run)
	var v *Violation
	if !errors.As(err, &v) {
		if err != nil {
			return o, nil, ShrinkSize{}, err
		}
		return o, nil, ShrinkSize{}, nil
	}
	size := ShrinkSize{Event: v.Event}
	for _, n := range res.Faults {
		size.Faults += n
	}
	for _, e := range rec.events {
		if e < v.Event {
			size.Actions = append(size.Actions, e)
		}
	}
	var kept []int
	for _, e := range o.SuppressEvents {
		if e <= v.Event {
			kept = append(kept, e)
		}
	}
	slices.Sort(kept)
	o.SuppressEvents = slices.Compact(kept)
	return o, v, size, nil
}

// actionRecorder is an Invariant that never fails: it notes the
// fault-phase events that performed a per-event action.
type actionRecorder struct {
	events []int
}

func (*actionRecorder) Name() string { return "shrink-recorder" }

func (r *actionRecorder) Check(v *View) error {
	if !v.s.faultsOn {
		return nil
	}
	switch v.Event().Kind {
	case EventStart, EventTick, EventDeliver, EventReady, EventApply, EventFinish:
	default:
		r.events = append(r.events, v.Event().Num)
	}
	return nil
}

// suppressed reports whether the event Step is about to run is listed in
// Options.SuppressEvents.
func (s *Sim) suppressed() bool {
	_, found := slices.BinarySearch(s.opts.SuppressEvents, s.res.Events+1)
	return found
}

// String summarizes the sizes for a report.
func (r ShrinkResult) String() string {
	return fmt.Sprintf("%s violated at event %d with %d faults injected (was event %d, %d faults), %d steps, %d events suppressed, %d runs",
		r.Violation.Invariant, r.Shrunk.Event, r.Shrunk.Faults, r.Original.Event, r.Original.Faults,
		r.Options.Steps, len(r.Options.SuppressEvents), r.Runs)
}
