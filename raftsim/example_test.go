package raftsim_test

import (
	"encoding/binary"
	"errors"
	"fmt"

	pb "github.com/pontoon-raft/raft/raftpb"
	"github.com/pontoon-raft/raft/raftsim"
)

// counter sums the bytes of the commands it applies.
type counter struct{ sum uint64 }

func (c *counter) Apply(e pb.Entry) {
	if e.Type == pb.EntryNormal {
		c.sum += uint64(len(e.Data))
	}
}

func (c *counter) Snapshot() []byte { return binary.BigEndian.AppendUint64(nil, c.sum) }

func (c *counter) Restore(b []byte) error {
	if len(b) != 8 {
		return fmt.Errorf("counter snapshot has %d bytes", len(b))
	}
	c.sum = binary.BigEndian.Uint64(b)
	return nil
}

// replicasAgree checks that replicas which applied the same log prefix
// hold the same sum.
func replicasAgree() raftsim.Invariant {
	return raftsim.NewInvariant("replicas-agree", func(v *raftsim.View) error {
		sums := map[uint64]uint64{} // applied index -> sum
		for _, id := range v.NodeIDs() {
			c, ok := v.StateMachine(id).(*counter)
			if !ok {
				continue // node is down
			}
			if sum, seen := sums[v.Applied(id)]; seen && sum != c.sum {
				return fmt.Errorf("node %d: sum %d at index %d, another replica has %d", id, c.sum, v.Applied(id), sum)
			}
			sums[v.Applied(id)] = c.sum
		}
		return nil
	})
}

// A user's own state machine and invariant, checked under every fault.
func ExampleRun() {
	res, err := raftsim.Run(raftsim.Options{
		Nodes: 5, Seed: 42, Steps: 2000, PreVote: true, CheckQuorum: true,
		Faults:          raftsim.AllFaults(),
		NewStateMachine: func(uint64) raftsim.StateMachine { return &counter{} },
		Invariants:      []raftsim.Invariant{replicasAgree()},
	})
	var v *raftsim.Violation
	if errors.As(err, &v) {
		fmt.Printf("seed %d: %v\n", v.Seed, v) // the error includes the trace tail
		return
	}
	fmt.Println("violations:", err, "- entries committed:", res.Commits > 0)
	// Output: violations: <nil> - entries committed: true
}
