package scripts

import (
	"fmt"
	"strconv"
	"testing"

	"github.com/cockroachdb/datadriven"

	"github.com/pontoon-raft/raft/confchange"
	pb "github.com/pontoon-raft/raft/raftpb"
	"github.com/pontoon-raft/raft/tracker"
)

// confChangeCorpus runs etcd's confchange scripts. Their commands, as etcd's
// confchange tests define them:
//
//	simple                 apply the changes of the input without joint consensus
//	enter-joint [autoleave=<bool>]  enter a joint configuration with them
//	leave-joint            leave the joint configuration (no input)
//
// The input lists changes as ConfChangesFromString reads them (v2 adds
// voter 2, l3 learner 3, r4 removes 4, u5 updates 5). The tracker starts
// empty, with an inflight window of 10; the log's last index starts at 0
// and grows by one with every directive, so new nodes' Next shows when
// they were added. The output is the resulting configuration and progress
// map, or the error.
var confChangeCorpus = corpus{
	name:    "confchange",
	dir:     "confchange/testdata",
	scripts: 9,
	newDriver: func() func(t *testing.T, d *datadriven.TestData) string {
		c := confchange.Changer{Tracker: tracker.MakeProgressTracker(10, 0)}
		return func(t *testing.T, d *datadriven.TestData) string {
			defer func() { c.LastIndex++ }()
			return runConfChange(t, &c, d)
		}
	},
}

func runConfChange(t *testing.T, c *confchange.Changer, d *datadriven.TestData) string {
	ccs, err := pb.ConfChangesFromString(d.Input)
	if err != nil {
		return err.Error()
	}
	var (
		cfg tracker.Config
		prs tracker.ProgressMap
	)
	switch d.Cmd {
	case "simple":
		cfg, prs, err = c.Simple(ccs...)
	case "enter-joint":
		autoLeave := false
		for _, arg := range d.CmdArgs {
			if arg.Key != "autoleave" || len(arg.Vals) != 1 {
				t.Fatalf("%s: enter-joint takes autoleave=<bool>, got %v", d.Pos, arg)
			}
			if autoLeave, err = strconv.ParseBool(arg.Vals[0]); err != nil {
				t.Fatalf("%s: %v", d.Pos, err)
			}
		}
		cfg, prs, err = c.EnterJoint(autoLeave, ccs...)
	case "leave-joint":
		if len(ccs) > 0 {
			return "leave-joint takes no input"
		}
		cfg, prs, err = c.LeaveJoint()
	default:
		t.Fatalf("%s: unknown command %q", d.Pos, d.Cmd)
	}
	if err != nil {
		return err.Error() + "\n"
	}
	c.Tracker.Config, c.Tracker.Progress = cfg, prs
	return fmt.Sprintf("%s\n%s", cfg, prs)
}

// confChangeFixed: the Changer's errors had wording of our own until
// "confchange: errors in etcd/raft's wording".
var confChangeFixed = []fixedDirective{
	{script: "joint_autoleave.txt", line: 20},
	{script: "joint_safety.txt", line: 1}, {script: "joint_safety.txt", line: 5}, {script: "joint_safety.txt", line: 9},
	{script: "joint_safety.txt", line: 20}, {script: "joint_safety.txt", line: 30}, {script: "joint_safety.txt", line: 39},
	{script: "joint_safety.txt", line: 53}, {script: "joint_safety.txt", line: 57}, {script: "joint_safety.txt", line: 62},
	{script: "simple_safety.txt", line: 1}, {script: "simple_safety.txt", line: 20}, {script: "simple_safety.txt", line: 25},
	{script: "simple_safety.txt", line: 30}, {script: "simple_safety.txt", line: 35}, {script: "simple_safety.txt", line: 40},
	{script: "simple_safety.txt", line: 55},
}
