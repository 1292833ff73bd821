package scripts

import (
	"fmt"
	"math"
	"sort"
	"strings"
	"testing"

	"github.com/cockroachdb/datadriven"

	"github.com/pontoon-raft/raft/quorum"
)

// quorumCorpus runs etcd's quorum scripts. Their commands, as etcd's quorum
// tests define them:
//
//	committed cfg=(ids) [cfgj=(ids)|cfgj=zero] idx=(indexes)
//	vote      cfg=(ids) [cfgj=(ids)|cfgj=zero] votes=(y|n|_ ...)
//
// cfg is the (incoming) majority configuration; cfgj, when present, makes
// the configuration joint with a second majority (zero: an empty one).
// idx and votes give one value per distinct voter, in the order the voters
// appear in cfg and then cfgj; "_" means nothing is known of that voter.
// committed prints the configuration's Describe output and the committed
// index; vote prints the election's result. Both add a line ending in
// "<--" for every cross-check that fails: the committed index computed by
// brute force, a majority joined with an empty or with itself, lowering an
// index that was not counted, and swapping the halves of a joint
// configuration must all give the same result.
var quorumCorpus = corpus{
	name:    "quorum",
	dir:     "quorum/testdata",
	scripts: 4,
	newDriver: func() func(t *testing.T, d *datadriven.TestData) string {
		return runQuorum
	},
}

// ackedIndexes is an AckedIndexer over a map.
type ackedIndexes map[uint64]quorum.Index

func (a ackedIndexes) AckedIndex(id uint64) (quorum.Index, bool) {
	idx, ok := a[id]
	return idx, ok
}

// quorumArgs is a parsed quorum directive.
type quorumArgs struct {
	incoming, outgoing []uint64
	joint              bool
	// values holds one entry per distinct voter: an index (committed) or
	// 1 = rejected, 2 = granted (vote); ok is false for "_".
	values []quorumValue
}

type quorumValue struct {
	n  uint64
	ok bool
}

func parseQuorumArgs(t *testing.T, d *datadriven.TestData) quorumArgs {
	var a quorumArgs
	for _, arg := range d.CmdArgs {
		for i, v := range arg.Vals {
			switch arg.Key {
			case "cfg":
				var id uint64
				arg.Scan(t, i, &id)
				a.incoming = append(a.incoming, id)
			case "cfgj":
				a.joint = true
				if v == "zero" {
					if len(arg.Vals) != 1 {
						t.Fatalf("%s: cfgj=zero cannot list voters too", d.Pos)
					}
					continue
				}
				var id uint64
				arg.Scan(t, i, &id)
				a.outgoing = append(a.outgoing, id)
			case "idx":
				if v == "_" {
					a.values = append(a.values, quorumValue{})
					continue
				}
				var n uint64
				arg.Scan(t, i, &n)
				if n == 0 {
					// 0 would read like "nothing known"; scripts use _.
					t.Fatalf("%s: idx=0 is not allowed, use _", d.Pos)
				}
				a.values = append(a.values, quorumValue{n: n, ok: true})
			case "votes":
				switch v {
				case "y":
					a.values = append(a.values, quorumValue{n: 2, ok: true})
				case "n":
					a.values = append(a.values, quorumValue{n: 1, ok: true})
				case "_":
					a.values = append(a.values, quorumValue{})
				default:
					t.Fatalf("%s: a vote is y, n or _, got %q", d.Pos, v)
				}
			default:
				t.Fatalf("%s: unknown argument %q", d.Pos, arg.Key)
			}
		}
	}
	return a
}

// byVoter maps the values to the distinct voters, in order of appearance.
func (a quorumArgs) byVoter() map[uint64]quorumValue {
	out := map[uint64]quorumValue{}
	next := 0
	for _, id := range append(append([]uint64(nil), a.incoming...), a.outgoing...) {
		if _, dup := out[id]; dup || next >= len(a.values) {
			continue
		}
		out[id] = a.values[next]
		next++
	}
	return out
}

func majorityOf(ids []uint64) quorum.MajorityConfig {
	c := quorum.MajorityConfig{}
	for _, id := range ids {
		c[id] = struct{}{}
	}
	return c
}

func runQuorum(t *testing.T, d *datadriven.TestData) string {
	a := parseQuorumArgs(t, d)
	in, out := majorityOf(a.incoming), majorityOf(a.outgoing)
	voters := quorum.JointConfig{in, out}.IDs()
	if len(voters) != len(a.values) {
		return fmt.Sprintf("error: %d voters but %d values", len(voters), len(a.values))
	}
	var b strings.Builder
	switch d.Cmd {
	case "committed":
		acked := ackedIndexes{}
		for id, v := range a.byVoter() {
			if v.ok {
				acked[id] = quorum.Index(v.n)
			}
		}
		if a.joint {
			describeJointCommitted(&b, quorum.JointConfig{in, out}, acked)
		} else {
			describeMajorityCommitted(&b, in, acked)
		}
	case "vote":
		votes := map[uint64]bool{}
		for id, v := range a.byVoter() {
			if v.ok {
				votes[id] = v.n == 2
			}
		}
		if a.joint {
			r := quorum.JointConfig{in, out}.VoteResult(votes)
			if swapped := (quorum.JointConfig{out, in}).VoteResult(votes); swapped != r {
				fmt.Fprintf(&b, "%v <-- with the halves swapped\n", swapped)
			}
			fmt.Fprintf(&b, "%v\n", r)
		} else {
			fmt.Fprintf(&b, "%v\n", in.VoteResult(votes))
		}
	default:
		t.Fatalf("%s: unknown command %q", d.Pos, d.Cmd)
	}
	return b.String()
}

func describeMajorityCommitted(b *strings.Builder, c quorum.MajorityConfig, acked ackedIndexes) {
	idx := c.CommittedIndex(acked)
	b.WriteString(c.Describe(acked))
	if brute := bruteForceCommitted(c, acked); brute != idx {
		fmt.Fprintf(b, "%s <-- by brute force\n", brute)
	}
	if j := (quorum.JointConfig{c, nil}).CommittedIndex(acked); j != idx {
		fmt.Fprintf(b, "%s <-- joined with an empty majority\n", j)
	}
	if j := (quorum.JointConfig{c, c}).CommittedIndex(acked); j != idx {
		fmt.Fprintf(b, "%s <-- joined with itself\n", j)
	}
	// An index below the committed one did not count towards it: lowering
	// it further changes nothing.
	for _, id := range c.Slice() {
		own, ok := acked[id]
		if !ok || own == 0 || own >= idx {
			continue
		}
		for _, lower := range []quorum.Index{own - 1, 0} {
			changed := ackedIndexes{}
			for k, v := range acked {
				changed[k] = v
			}
			changed[id] = lower
			if got := c.CommittedIndex(changed); got != idx {
				fmt.Fprintf(b, "%s <-- with voter %d lowered from %d to %d\n", got, id, own, lower)
			}
		}
	}
	fmt.Fprintf(b, "%s\n", idx)
}

func describeJointCommitted(b *strings.Builder, c quorum.JointConfig, acked ackedIndexes) {
	idx := c.CommittedIndex(acked)
	b.WriteString(c.Describe(acked))
	if swapped := (quorum.JointConfig{c[1], c[0]}).CommittedIndex(acked); swapped != idx {
		fmt.Fprintf(b, "%s <-- with the halves swapped\n", swapped)
	}
	fmt.Fprintf(b, "%s\n", idx)
}

// bruteForceCommitted is the largest index that more than half of c's
// voters have acknowledged (a voter without an entry counts as 0), or ∞
// for an empty configuration: the definition CommittedIndex implements.
func bruteForceCommitted(c quorum.MajorityConfig, acked ackedIndexes) quorum.Index {
	if len(c) == 0 {
		return quorum.Index(math.MaxUint64)
	}
	var candidates []quorum.Index
	for _, id := range c.Slice() {
		candidates = append(candidates, acked[id])
	}
	sort.Slice(candidates, func(i, j int) bool { return candidates[i] > candidates[j] })
	best := quorum.Index(0)
	for _, cand := range candidates {
		n := 0
		for _, id := range c.Slice() {
			if acked[id] >= cand {
				n++
			}
		}
		if n > len(c)/2 && cand > best {
			best = cand
		}
	}
	return best
}

// quorumFixed: Describe printed a layout of its own until "quorum: Describe
// prints etcd/raft's layout", so every committed directive differed.
var quorumFixed = []fixedDirective{
	{script: "majority_commit.txt", cmd: "committed"},
	{script: "joint_commit.txt", cmd: "committed"},
}

// TestBruteForceCommitted pins the cross-check's own arithmetic.
func TestBruteForceCommitted(t *testing.T) {
	for _, tc := range []struct {
		voters []uint64
		acked  ackedIndexes
		want   string
	}{
		{nil, nil, "∞"},
		{[]uint64{1}, nil, "0"},
		{[]uint64{1, 2, 3}, ackedIndexes{1: 5, 2: 7, 3: 3}, "5"},
		{[]uint64{1, 2, 3, 4}, ackedIndexes{1: 5, 2: 7, 3: 3}, "3"},
		{[]uint64{1, 2}, ackedIndexes{1: 9}, "0"},
	} {
		got := bruteForceCommitted(majorityOf(tc.voters), tc.acked)
		if got.String() != tc.want {
			t.Errorf("%v %v: got %s, want %s", tc.voters, tc.acked, got, tc.want)
		}
	}
}
