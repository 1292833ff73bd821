package raft

import (
	"fmt"

	"github.com/pontoon-raft/raft/internal/corehook"
)

// init installs the test-only hooks of internal/corehook, which rafttest
// uses for the set-randomized-election-timeout command.
func init() {
	corehook.SetRandomizedElectionTimeout = setRandomizedElectionTimeout
}

// setRandomizedElectionTimeout overrides node's current randomized
// election timeout until the next reset draws a new one.
func setRandomizedElectionTimeout(node any, ticks int) {
	rn, ok := node.(*RawNode)
	if !ok {
		panic(fmt.Sprintf("raft: setRandomizedElectionTimeout wants a *RawNode, got %T", node))
	}
	if ticks <= 0 {
		panic(fmt.Sprintf("raft: randomized election timeout must be positive, got %d ticks", ticks))
	}
	rn.raft.randomizedElectionTimeoutTicks = ticks
}
