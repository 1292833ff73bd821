package raft

// A deterministic in-memory cluster for the consensus tests: N RawNodes over
// MemoryStorage, a FIFO network that can drop, rewrite and partition
// messages, and a Ready loop that follows the contract in doc.go (persist,
// send, apply, Advance) — or, with AsyncStorageWrites, one that serves the
// MsgStorageAppend / MsgStorageApply messages itself. Nothing runs in the
// background: time passes only when a test calls tick, and messages move only
// when it calls deliver or stabilize. Every Ready is checked against the
// contract (no repeated HardState, acknowledgements only of persisted state)
// and every apply against State Machine Safety; TestRandomizedClusterSafety
// at the end drives it with random faults.
//
// Helpers here and in the other consensus test files carry the prefix "ct" so
// they cannot clash with the helpers of the log and storage tests.

import (
	"fmt"
	"io"
	"log"
	"math/rand"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	pb "github.com/pontoon-raft/raft/raftpb"
)

// ctLogger keeps the tests quiet.
var ctLogger = &DefaultLogger{Logger: log.New(io.Discard, "", 0)}

// ctConfig returns the configuration every test node starts from: ticks of
// 10/1, no size limits, a discard logger, and an election-timeout source
// seeded by the node id so a run replays exactly.
func ctConfig(id uint64, s Storage) *Config {
	return &Config{
		ID:              id,
		ElectionTick:    10,
		HeartbeatTick:   1,
		Storage:         s,
		MaxSizePerMsg:   noLimit,
		MaxInflightMsgs: 256,
		Logger:          ctLogger,
		Rand:            rand.New(rand.NewSource(int64(id))),
	}
}

// ctStorage returns a MemoryStorage whose configuration (the ConfState of its
// empty initial snapshot) has the given voters, holding entries with the given
// terms at indexes 1, 2, ... and the given HardState.
func ctStorage(voters []uint64, hs pb.HardState, terms ...uint64) *MemoryStorage {
	ms := NewMemoryStorage()
	ms.snapshot.Metadata.ConfState = pb.ConfState{Voters: voters}
	if len(terms) > 0 {
		if err := ms.Append(ctEnts(1, terms...)); err != nil {
			panic(err)
		}
	}
	if err := ms.SetHardState(hs); err != nil {
		panic(err)
	}
	return ms
}

// ctEnts returns consecutive entries starting at index first with the given
// terms.
func ctEnts(first uint64, terms ...uint64) []pb.Entry {
	ents := make([]pb.Entry, len(terms))
	for i, term := range terms {
		ents[i] = pb.Entry{Index: first + uint64(i), Term: term}
	}
	return ents
}

// ctStaleSnapshot returns a snapshot at index 1 of term 1 with voters
// 1, 2 and 3: well formed, and ignored by a node that committed index 1.
func ctStaleSnapshot() *pb.Snapshot {
	return &pb.Snapshot{Metadata: pb.SnapshotMetadata{Index: 1, Term: 1, ConfState: pb.ConfState{Voters: []uint64{1, 2, 3}}}}
}

// ctTerms returns n copies of term, for building long logs.
func ctTerms(term uint64, n int) []uint64 {
	ts := make([]uint64, n)
	for i := range ts {
		ts[i] = term
	}
	return ts
}

// ctIDs returns 1..n.
func ctIDs(n int) []uint64 {
	ids := make([]uint64, n)
	for i := range ids {
		ids[i] = uint64(i + 1)
	}
	return ids
}

// ctRaft builds a bare state machine for unit tests of single rules.
func ctRaft(t testing.TB, id uint64, s *MemoryStorage, opts ...func(*Config)) *raft {
	t.Helper()
	cfg := ctConfig(id, s)
	for _, o := range opts {
		o(cfg)
	}
	r, err := newRaft(cfg)
	require.NoError(t, err)
	return r
}

// ctTakeMsgs returns every message r wants sent, including those that wait
// for durability, and clears them. Messages r addresses to itself (its own
// votes and acknowledgements) are left out.
func ctTakeMsgs(r *raft) []pb.Message {
	var out []pb.Message
	for _, m := range append(r.msgs, r.msgsAfterAppend...) {
		if m.To != r.id {
			out = append(out, m)
		}
	}
	r.msgs, r.msgsAfterAppend = nil, nil
	return out
}

// ctFilter returns the messages of type typ.
func ctFilter(msgs []pb.Message, typ pb.MessageType) []pb.Message {
	var out []pb.Message
	for _, m := range msgs {
		if m.Type == typ {
			out = append(out, m)
		}
	}
	return out
}

// ctNode is one member of a ctCluster.
type ctNode struct {
	id      uint64
	cfg     *Config
	rn      *RawNode
	storage *MemoryStorage
	// applied lists every committed entry the node applied, in order.
	applied []pb.Entry
	// appliedIndex is the index of the last applied entry (or snapshot).
	appliedIndex uint64
	readStates   []ReadState
	// readys counts the Ready batches handled.
	readys int
	// lastHardState is the HardState last persisted from a Ready.
	lastHardState pb.HardState
	// With AsyncStorageWrites: work handed to the local threads.
	appendWork, applyWork []pb.Message
}

func (n *ctNode) raft() *raft { return n.rn.raft }

// appliedData returns the payloads of the normal entries applied, as strings.
func (n *ctNode) appliedData() []string { return ctPayloads(n.applied) }

// ctPayloads returns the payloads of the normal entries with data in ents.
func ctPayloads(ents []pb.Entry) []string {
	var out []string
	for _, e := range ents {
		if e.Type == pb.EntryNormal && len(e.Data) > 0 {
			out = append(out, string(e.Data))
		}
	}
	return out
}

// ctCluster is the in-memory cluster.
type ctCluster struct {
	t     testing.TB
	ids   []uint64
	nodes map[uint64]*ctNode

	// queue holds messages sent and not yet delivered, in send order.
	queue []pb.Message
	// cut holds directed links (from, to) that lose every message.
	cut map[[2]uint64]bool
	// filter, if set, sees every message entering the network; it may
	// rewrite it and returns false to drop it.
	filter func(m *pb.Message) bool
	// onReady, if set, sees every Ready before it is handled.
	onReady func(n *ctNode, rd Ready)

	// sent counts messages entering the network by type (before cuts and
	// filters); dropped counts those lost to a cut or the filter.
	sent, dropped [messageTypeCount]int
	// record keeps every delivered message in delivered.
	record    bool
	delivered []pb.Message
	// stepErrs collects errors returned by Step for delivered messages
	// (e.g. ErrProposalDropped for a forwarded proposal).
	stepErrs []error

	// lazyStorage leaves the work of AsyncStorageWrites queued until the
	// test runs it (runSomeStorageWork, or stabilize), so writes and
	// applies lag behind the state machine as they do in a real node.
	lazyStorage bool

	// appliedTerm maps index -> term of the first entry applied at that
	// index by any node: State Machine Safety is checked on every apply.
	appliedTerm map[uint64]uint64
}

// ctNewCluster starts n voters with empty logs. opts adjust every node's
// Config before it starts.
func ctNewCluster(t testing.TB, n int, opts ...func(*Config)) *ctCluster {
	ids := ctIDs(n)
	storages := make(map[uint64]*MemoryStorage, n)
	for _, id := range ids {
		storages[id] = ctStorage(ids, pb.HardState{})
	}
	return ctNewClusterFromStorage(t, storages, opts...)
}

// ctNewClusterFromStorage starts one node per storage (their contents were
// written by the test).
func ctNewClusterFromStorage(t testing.TB, storages map[uint64]*MemoryStorage, opts ...func(*Config)) *ctCluster {
	t.Helper()
	c := &ctCluster{
		t:           t,
		nodes:       map[uint64]*ctNode{},
		cut:         map[[2]uint64]bool{},
		appliedTerm: map[uint64]uint64{},
	}
	for id := uint64(1); len(c.ids) < len(storages); id++ {
		s, ok := storages[id]
		require.True(t, ok, "storages must be keyed 1..n")
		cfg := ctConfig(id, s)
		for _, o := range opts {
			o(cfg)
		}
		rn, err := NewRawNode(cfg)
		require.NoError(t, err)
		hs, _, _ := s.InitialState()
		c.ids = append(c.ids, id)
		c.nodes[id] = &ctNode{id: id, cfg: cfg, rn: rn, storage: s,
			appliedIndex: rn.raft.raftLog.applied, lastHardState: hs}
	}
	return c
}

func (c *ctCluster) node(id uint64) *ctNode { return c.nodes[id] }

// restart replaces node id by a fresh RawNode over the same storage, as after
// a crash: unpersisted state is lost. The state machine survives as of index
// applied, which must not be below the storage's snapshot; entries after it
// are applied again. (An application that keeps applied state past the
// snapshot must keep the configuration too; the harness does not, so after
// conf changes it restarts from the snapshot, see crash.)
func (c *ctCluster) restart(id uint64, applied uint64) {
	c.t.Helper()
	n := c.nodes[id]
	n.appliedIndex = applied
	for len(n.applied) > 0 && n.applied[len(n.applied)-1].Index > n.appliedIndex {
		n.applied = n.applied[:len(n.applied)-1]
	}
	cfg := *n.cfg
	cfg.Applied = n.appliedIndex
	cfg.Rand = rand.New(rand.NewSource(int64(id) + 1000))
	rn, err := NewRawNode(&cfg)
	require.NoError(c.t, err)
	n.rn = rn
	n.appendWork, n.applyWork = nil, nil
}

// crash restarts node id with the state machine of its last snapshot, whose
// ConfState is the configuration as of that point.
func (c *ctCluster) crash(id uint64) {
	c.t.Helper()
	snap, err := c.nodes[id].storage.Snapshot()
	require.NoError(c.t, err)
	c.restart(id, snap.Metadata.Index)
}

// isolate cuts every link to and from id.
func (c *ctCluster) isolate(id uint64) {
	for _, other := range c.ids {
		if other != id {
			c.cut[[2]uint64{id, other}] = true
			c.cut[[2]uint64{other, id}] = true
		}
	}
}

// partition cuts every link between nodes of different groups.
func (c *ctCluster) partition(groups ...[]uint64) {
	group := map[uint64]int{}
	for g, ids := range groups {
		for _, id := range ids {
			group[id] = g
		}
	}
	for _, a := range c.ids {
		for _, b := range c.ids {
			if a != b && group[a] != group[b] {
				c.cut[[2]uint64{a, b}] = true
			}
		}
	}
}

// heal restores every link (the filter stays).
func (c *ctCluster) heal() { c.cut = map[[2]uint64]bool{} }

// resetCounters forgets message counts and recorded messages.
func (c *ctCluster) resetCounters() {
	c.sent, c.dropped = [messageTypeCount]int{}, [messageTypeCount]int{}
	c.delivered = nil
}

// send puts m on the network, unless a cut or the filter drops it.
func (c *ctCluster) send(m pb.Message) {
	c.t.Helper()
	require.False(c.t, IsLocalMsgTarget(m.To), "local message %s on the network", m.Type)
	// A forwarded MsgTransferLeader names the transferee in From (§2.2),
	// which may be the leader it is addressed to.
	if m.Type != pb.MsgTransferLeader {
		require.NotEqual(c.t, m.From, m.To, "%s sent to self on the network", m.Type)
	}
	c.sent[m.Type]++
	// The filter sees every message, even one a cut is about to drop.
	keep := c.filter == nil || c.filter(&m)
	if _, ok := c.nodes[m.To]; !ok || !keep || c.cut[[2]uint64{m.From, m.To}] {
		c.drop(m)
		return
	}
	c.queue = append(c.queue, m)
}

// drop loses m. A lost snapshot is reported to its sender, as the Ready
// contract requires for every MsgSnap.
func (c *ctCluster) drop(m pb.Message) {
	c.dropped[m.Type]++
	if m.Type == pb.MsgSnap {
		c.nodes[m.From].rn.ReportSnapshot(m.To, SnapshotFailure)
	}
}

// deliver steps every queued message into its recipient, in send order. It
// reports whether there was anything to deliver.
func (c *ctCluster) deliver() bool {
	msgs := c.queue
	c.queue = nil
	for _, m := range msgs {
		c.deliverOne(m)
	}
	return len(msgs) > 0
}

// deliverOne steps m into its recipient.
func (c *ctCluster) deliverOne(m pb.Message) {
	if c.record {
		c.delivered = append(c.delivered, m)
	}
	if err := c.nodes[m.To].rn.Step(m); err != nil {
		c.stepErrs = append(c.stepErrs, fmt.Errorf("%s %d->%d: %w", m.Type, m.From, m.To, err))
	}
	if m.Type == pb.MsgSnap {
		c.nodes[m.From].rn.ReportSnapshot(m.To, SnapshotFinish)
	}
}

// processReadys handles the Ready of every node until none has one. It
// reports whether any node had one.
func (c *ctCluster) processReadys() bool {
	busy := false
	for _, id := range c.ids {
		for n := c.nodes[id]; n.rn.HasReady(); {
			c.handleReady(n)
			busy = true
		}
	}
	return busy
}

// ctMaxRounds bounds stabilize: a cluster that is still busy after this many
// Ready-and-deliver rounds is livelocked.
const ctMaxRounds = 10000

// stabilize alternates Ready handling and delivery until nothing is left to
// do. No time passes.
func (c *ctCluster) stabilize() {
	c.t.Helper()
	for i := 0; i < ctMaxRounds; i++ {
		readys := c.processReadys()
		stored := c.runAllStorageWork()
		delivered := c.deliver()
		if !readys && !stored && !delivered {
			return
		}
	}
	c.t.Fatalf("cluster did not stabilize within %d rounds", ctMaxRounds)
}

// tick advances the clock of the given nodes by one tick, without
// stabilizing.
func (c *ctCluster) tick(ids ...uint64) {
	for _, id := range ids {
		c.nodes[id].rn.Tick()
	}
}

// tickAll ticks every node n times, stabilizing after each tick.
func (c *ctCluster) tickAll(n int) {
	c.t.Helper()
	for i := 0; i < n; i++ {
		c.tick(c.ids...)
		c.stabilize()
	}
}

// campaign makes id campaign and stabilizes.
func (c *ctCluster) campaign(id uint64) {
	c.t.Helper()
	require.NoError(c.t, c.nodes[id].rn.Campaign())
	c.stabilize()
}

// elect makes id campaign and requires that it wins.
func (c *ctCluster) elect(id uint64) {
	c.t.Helper()
	c.campaign(id)
	require.Equal(c.t, StateLeader, c.nodes[id].raft().state, "node %d should have won the election", id)
}

// propose proposes data on node id.
func (c *ctCluster) propose(id uint64, data string) error {
	return c.nodes[id].rn.Propose([]byte(data))
}

// leaders returns the nodes that believe they lead, in id order.
func (c *ctCluster) leaders() []uint64 {
	var out []uint64
	for _, id := range c.ids {
		if c.nodes[id].raft().state == StateLeader {
			out = append(out, id)
		}
	}
	return out
}

// TestHarnessElectsAndReplicates is the harness's own smoke test: a leader
// is elected, a proposal is applied everywhere, and the messages are counted.
func TestHarnessElectsAndReplicates(t *testing.T) {
	c := ctNewCluster(t, 3)
	c.elect(1)
	require.NoError(t, c.propose(1, "x"))
	c.stabilize()
	for _, id := range c.ids {
		require.Equal(t, []string{"x"}, c.node(id).appliedData(), "node %d", id)
	}
	require.Equal(t, 2, c.sent[pb.MsgVote])
	require.Positive(t, c.sent[pb.MsgApp])
	c.requireSameLogs(c.ids...)
}

// TestRandomizedClusterSafety drives five-node clusters through random
// ticks, proposals, partitions, message loss and reordering, crashes and
// log compaction, checking Election Safety after every step and State
// Machine Safety on every apply (the harness does that); leadership
// transfers, role changes between voter and learner, and ReadIndex requests
// (checked for linearizability) are mixed in. Finally it heals the network
// and checks that every node catches up.
func TestRandomizedClusterSafety(t *testing.T) {
	variants := []struct {
		name string
		opt  func(*Config)
	}{
		{"plain", func(*Config) {}},
		{"prevote+checkquorum", func(c *Config) { c.PreVote, c.CheckQuorum = true, true }},
		{"small messages", func(c *Config) { c.MaxSizePerMsg, c.MaxInflightMsgs, c.MaxCommittedSizePerReady = 0, 2, 0 }},
		{"async storage", func(c *Config) { c.AsyncStorageWrites, c.PreVote = true, true }},
		{"lazy async storage", func(c *Config) { c.AsyncStorageWrites, c.CheckQuorum = true, true }},
	}
	steps := 400
	if testing.Short() {
		steps = 100
	}
	for _, v := range variants {
		for seed := int64(1); seed <= 10; seed++ {
			t.Run(fmt.Sprintf("%s/seed=%d", v.name, seed), func(t *testing.T) {
				rng := rand.New(rand.NewSource(seed))
				c := ctNewCluster(t, 5, v.opt, func(cfg *Config) {
					cfg.Rand = rand.New(rand.NewSource(seed*10 + int64(cfg.ID)))
				})
				c.lazyStorage = strings.HasPrefix(v.name, "lazy")
				leaderOf := map[uint64]uint64{}
				proposals, reads := 0, 0
				// readFloor maps a read's context to the highest commit
				// index anywhere when it was requested.
				readFloor := map[string]uint64{}
				for step := 0; step < steps; step++ {
					id := c.ids[rng.Intn(len(c.ids))]
					switch p := rng.Intn(100); {
					case p < 35:
						c.tick(id)
					case p < 55:
						proposals++
						_ = c.propose(id, fmt.Sprint("p", proposals))
					case p < 60:
						c.heal()
						switch rng.Intn(3) {
						case 0:
							c.isolate(id)
						case 1:
							perm := rng.Perm(len(c.ids))
							var a, b []uint64
							for i, k := range perm {
								if i < 2 {
									a = append(a, c.ids[k])
								} else {
									b = append(b, c.ids[k])
								}
							}
							c.partition(a, b)
						}
					case p < 62:
						c.crash(id)
					case p < 65:
						c.compact(id)
					case p < 67:
						c.node(id).rn.TransferLeader(c.ids[rng.Intn(len(c.ids))])
					case p < 72:
						reads++
						ctx := fmt.Sprint("r", reads)
						readFloor[ctx] = c.maxCommitted()
						c.node(id).rn.ReadIndex([]byte(ctx))
					case p < 74:
						c.proposeRoleChange(rng)
					case p < 75:
						_ = c.node(id).rn.ForgetLeader()
					}
					c.processReadys()
					if c.lazyStorage {
						c.runSomeStorageWork(rng)
					}
					c.deliverRandomly(rng)
					c.checkElectionSafety(leaderOf)
					c.checkReads(readFloor)
				}

				// Heal and let the cluster settle: every node follows one
				// leader at its term and has applied everything, including
				// a final proposal.
				c.heal()
				finalProposed, settled := false, false
				for i := 0; i < 500 && !settled; i++ {
					c.tickAll(1)
					c.checkElectionSafety(leaderOf)
					leaders := c.leaders()
					if len(leaders) != 1 {
						continue
					}
					lead := c.node(leaders[0])
					agree := true
					for _, id := range c.ids {
						n := c.node(id)
						agree = agree && n.raft().Term == lead.raft().Term && n.raft().lead == lead.id &&
							n.appliedIndex == lead.appliedIndex
					}
					switch {
					case !agree:
					case !finalProposed:
						finalProposed = c.propose(lead.id, "final") == nil
					default:
						settled = slices.Contains(lead.appliedData(), "final")
					}
				}
				require.True(t, settled, "the healed cluster did not converge")
			})
		}
	}
}
