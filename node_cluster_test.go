package raft

// Tests of the Node wrapper with several nodes and with a busy or idle node
// goroutine: reads, leadership transfer, conf changes, context cancellation,
// Status while running, and calls on a stopped Node. Node runs goroutines,
// so these tests drive real ones (nodeCluster) instead of the cluster
// harness; single-node tests are in node_test.go.

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	pb "github.com/pontoon-raft/raft/raftpb"
)

// nodeTestTimeout bounds every wait in the Node tests: a hang becomes a
// failure instead of a stuck test binary.
const nodeTestTimeout = 30 * time.Second

// nodeView is what the application loop of one node has seen.
type nodeView struct {
	soft       SoftState
	applied    uint64
	data       []string
	readStates []ReadState
	confState  pb.ConfState
}

// nodeCluster runs Nodes connected by an in-memory network. Each node has
// an application goroutine handling its Ready channel by the contract and a
// delivery goroutine stepping the messages addressed to it. Nobody ticks:
// elections are started with Campaign, so runs are short and need no timing.
type nodeCluster struct {
	t        *testing.T
	ids      []uint64
	nodes    map[uint64]Node
	storages map[uint64]*MemoryStorage
	inboxes  map[uint64]chan pb.Message

	mu      sync.Mutex
	views   map[uint64]*nodeView
	changed chan struct{}

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

func startNodeCluster(t *testing.T, n int, opts ...func(*Config)) *nodeCluster {
	t.Helper()
	c := &nodeCluster{
		t:        t,
		ids:      idsUpTo(n),
		nodes:    map[uint64]Node{},
		storages: map[uint64]*MemoryStorage{},
		inboxes:  map[uint64]chan pb.Message{},
		views:    map[uint64]*nodeView{},
		changed:  make(chan struct{}, 1),
	}
	c.ctx, c.cancel = context.WithCancel(context.Background())
	peers := make([]Peer, n)
	for i, id := range c.ids {
		peers[i] = Peer{ID: id}
	}
	for _, id := range c.ids {
		s := NewMemoryStorage()
		cfg := testConfig(id, s)
		for _, o := range opts {
			o(cfg)
		}
		c.storages[id] = s
		c.inboxes[id] = make(chan pb.Message, 4096)
		c.views[id] = &nodeView{}
		c.nodes[id] = StartNode(cfg, peers)
	}
	for _, id := range c.ids {
		c.wg.Add(2)
		go c.runApp(id)
		go c.runInbox(id)
	}
	// A node refuses to campaign until it applied its bootstrap
	// configuration.
	c.waitFor("bootstrap applied", func() bool {
		for _, id := range c.ids {
			if c.views[id].applied < uint64(n) {
				return false
			}
		}
		return true
	})
	return c
}

func (c *nodeCluster) notify() {
	select {
	case c.changed <- struct{}{}:
	default:
	}
}

// runApp is node id's application: persist, send, apply, Advance.
func (c *nodeCluster) runApp(id uint64) {
	defer c.wg.Done()
	n, s := c.nodes[id], c.storages[id]
	for {
		select {
		case rd := <-n.Ready():
			if !IsEmptySnap(rd.Snapshot) {
				_ = s.ApplySnapshot(rd.Snapshot)
			}
			_ = s.Append(rd.Entries)
			if !IsEmptyHardState(rd.HardState) {
				_ = s.SetHardState(rd.HardState)
			}
			for _, m := range rd.Messages {
				if inbox, ok := c.inboxes[m.To]; ok {
					select {
					case inbox <- m:
					default: // the network loses what it cannot carry
					}
				}
			}
			var cs *pb.ConfState
			var data []string
			for _, e := range rd.CommittedEntries {
				switch e.Type {
				case pb.EntryNormal:
					if len(e.Data) > 0 {
						data = append(data, string(e.Data))
					}
				case pb.EntryConfChange:
					var cc pb.ConfChange
					_ = cc.Unmarshal(e.Data)
					cs = n.ApplyConfChange(cc)
				case pb.EntryConfChangeV2:
					var cc pb.ConfChangeV2
					_ = cc.Unmarshal(e.Data)
					cs = n.ApplyConfChange(cc)
				}
			}
			// Record only after Advance: once a test sees the entries as
			// applied, the node knows it too (it refuses to campaign while
			// its bootstrap configuration is unapplied).
			n.Advance()
			c.mu.Lock()
			v := c.views[id]
			if rd.SoftState != nil {
				v.soft = *rd.SoftState
			}
			if k := len(rd.CommittedEntries); k > 0 {
				v.applied = rd.CommittedEntries[k-1].Index
			}
			v.data = append(v.data, data...)
			v.readStates = append(v.readStates, rd.ReadStates...)
			if cs != nil {
				v.confState = *cs
			}
			c.mu.Unlock()
			c.notify()
		case <-c.ctx.Done():
			return
		}
	}
}

// runInbox steps the messages sent to node id.
func (c *nodeCluster) runInbox(id uint64) {
	defer c.wg.Done()
	for {
		select {
		case m := <-c.inboxes[id]:
			_ = c.nodes[id].Step(c.ctx, m)
		case <-c.ctx.Done():
			return
		}
	}
}

// waitFor waits until cond (called with c.mu held) holds.
func (c *nodeCluster) waitFor(what string, cond func() bool) {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), nodeTestTimeout)
	defer cancel()
	for {
		c.mu.Lock()
		ok := cond()
		c.mu.Unlock()
		if ok {
			return
		}
		select {
		case <-c.changed:
		case <-ctx.Done():
			c.t.Fatalf("timed out waiting for %s", what)
		}
	}
}

// waitLeader waits until every node knows lead as its leader.
func (c *nodeCluster) waitLeader(lead uint64) {
	c.t.Helper()
	c.waitFor(fmt.Sprintf("leader %d", lead), func() bool {
		for _, id := range c.ids {
			v := c.views[id]
			if v.soft.Lead != lead || (id == lead) != (v.soft.RaftState == StateLeader) {
				return false
			}
		}
		return true
	})
}

func (c *nodeCluster) ctxTimeout() (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), nodeTestTimeout)
}

// stop ends the application and delivery goroutines, then the nodes.
func (c *nodeCluster) stop() {
	c.cancel()
	c.wg.Wait()
	for _, id := range c.ids {
		c.nodes[id].Stop()
	}
}

// elect makes node id campaign and waits until everyone follows it.
func (c *nodeCluster) elect(id uint64) {
	c.t.Helper()
	ctx, cancel := c.ctxTimeout()
	defer cancel()
	require.NoError(c.t, c.nodes[id].Campaign(ctx))
	c.waitLeader(id)
}

func TestNodeReadIndexReturnsReadState(t *testing.T) {
	defer requireNoNodeGoroutines(t)
	c := startNodeCluster(t, 3)
	defer c.stop()
	c.elect(1)
	ctx, cancel := c.ctxTimeout()
	defer cancel()
	require.NoError(t, c.nodes[1].Propose(ctx, []byte("x")))
	c.waitFor("x applied everywhere", func() bool {
		for _, id := range c.ids {
			if len(c.views[id].data) != 1 {
				return false
			}
		}
		return true
	})
	c.mu.Lock()
	appliedX := c.views[1].applied
	c.mu.Unlock()

	// Reads on the leader and on a follower, several at once.
	var wg sync.WaitGroup
	for i := 0; i < 5; i++ {
		for _, id := range []uint64{1, 2} {
			wg.Add(1)
			go func(id uint64, i int) {
				defer wg.Done()
				assert.NoError(t, c.nodes[id].ReadIndex(ctx, []byte(fmt.Sprintf("read-%d-%d", id, i))))
			}(id, i)
		}
	}
	wg.Wait()
	c.waitFor("read states", func() bool {
		return len(c.views[1].readStates) == 5 && len(c.views[2].readStates) == 5
	})
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, id := range []uint64{1, 2} {
		seen := map[string]bool{}
		for _, rs := range c.views[id].readStates {
			assert.GreaterOrEqual(t, rs.Index, appliedX, "a read sees the write committed before it")
			assert.True(t, strings.HasPrefix(string(rs.RequestCtx), fmt.Sprintf("read-%d-", id)), "%q", rs.RequestCtx)
			seen[string(rs.RequestCtx)] = true
		}
		assert.Len(t, seen, 5, "node %d", id)
	}
}

func TestNodeTransferLeadership(t *testing.T) {
	defer requireNoNodeGoroutines(t)
	c := startNodeCluster(t, 3, func(cfg *Config) { cfg.CheckQuorum = true; cfg.PreVote = true })
	defer c.stop()
	c.elect(1)
	ctx, cancel := c.ctxTimeout()
	defer cancel()

	c.nodes[1].TransferLeadership(ctx, 1, 3)
	c.waitLeader(3)
	st := c.nodes[3].Status()
	assert.Equal(t, StateLeader, st.RaftState)
	assert.Equal(t, uint64(3), st.Term, "term 2 for 1's election, 3 for the transfer")
	assert.Equal(t, None, st.LeadTransferee)

	// Asked on a follower, the request is forwarded to the leader.
	c.nodes[2].TransferLeadership(ctx, 3, 2)
	c.waitLeader(2)
	require.NoError(t, c.nodes[2].Propose(ctx, []byte("after")))
	c.waitFor("proposal on the new leader applied", func() bool {
		for _, id := range c.ids {
			if len(c.views[id].data) != 1 {
				return false
			}
		}
		return true
	})
}

func TestNodeProposeConfChangeAndApply(t *testing.T) {
	defer requireNoNodeGoroutines(t)
	c := startNodeCluster(t, 1)
	defer c.stop()
	c.elect(1)
	n := c.nodes[1]
	ctx, cancel := c.ctxTimeout()
	defer cancel()

	require.NoError(t, n.ProposeConfChange(ctx, pb.ConfChange{Type: pb.ConfChangeAddLearnerNode, NodeID: 2}))
	c.waitFor("learner 2 added", func() bool { return len(c.views[1].confState.Learners) == 1 })
	c.mu.Lock()
	assert.Equal(t, pb.ConfState{Voters: []uint64{1}, Learners: []uint64{2}}, c.views[1].confState)
	c.mu.Unlock()
	st := n.Status()
	assert.Contains(t, st.Config.Learners, uint64(2))
	assert.Len(t, st.Progress, 2)
	assert.True(t, st.Progress[2].IsLearner)

	require.NoError(t, n.ProposeConfChange(ctx, pb.ConfChangeV2{Changes: []pb.ConfChangeSingle{
		{Type: pb.ConfChangeRemoveNode, NodeID: 2}}}))
	c.waitFor("learner 2 removed", func() bool { return len(c.views[1].confState.Learners) == 0 })
	assert.Len(t, n.Status().Progress, 1)

	require.NoError(t, n.Propose(ctx, []byte("still works")))
	c.waitFor("proposal applied", func() bool { return len(c.views[1].data) == 1 })

	// ApplyConfChange returns the configuration directly as well.
	cs := n.ApplyConfChange(pb.ConfChange{Type: pb.ConfChangeAddLearnerNode, NodeID: 5})
	assert.Equal(t, []uint64{5}, cs.Learners)
	assert.Equal(t, []uint64{1}, cs.Voters)
}

// blockingLogger blocks the node goroutine in Infof once armed, as a slow
// disk or a stuck logger would.
type blockingLogger struct {
	DefaultLogger
	mu      sync.Mutex
	armed   bool
	match   string
	entered chan struct{}
	release chan struct{}
}

func (l *blockingLogger) Infof(format string, v ...interface{}) {
	l.mu.Lock()
	block := l.armed && strings.Contains(format, l.match)
	if block {
		l.armed = false
	}
	l.mu.Unlock()
	if block {
		close(l.entered)
		<-l.release
	}
}

func TestNodeContextCancellationWhenBusy(t *testing.T) {
	defer requireNoNodeGoroutines(t)
	s := NewMemoryStorage()
	cfg := testConfig(1, s)
	logger := &blockingLogger{DefaultLogger: *cfg.Logger.(*DefaultLogger), match: "starting a new election",
		entered: make(chan struct{}), release: make(chan struct{})}
	cfg.Logger = logger
	n := StartNode(cfg, []Peer{{ID: 1}, {ID: 2}, {ID: 3}})
	defer n.Stop()
	rd := <-n.Ready()
	require.NoError(t, s.Append(rd.Entries))
	for _, e := range rd.CommittedEntries {
		var cc pb.ConfChange
		require.NoError(t, cc.Unmarshal(e.Data))
		n.ApplyConfChange(cc)
	}
	n.Advance()

	logger.mu.Lock()
	logger.armed = true
	logger.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), nodeTestTimeout)
	defer cancel()
	require.NoError(t, n.Campaign(ctx))
	select {
	case <-logger.entered:
	case <-ctx.Done():
		t.Fatal("the node never started the election")
	}

	// The node goroutine is stuck: callers give up when their context ends.
	canceled, cancelNow := context.WithCancel(context.Background())
	cancelNow()
	assert.ErrorIs(t, n.ReadIndex(canceled, []byte("r")), context.Canceled)
	assert.ErrorIs(t, n.Step(canceled, pb.Message{Type: pb.MsgHeartbeat, From: 2, To: 1, Term: 1}), context.Canceled)
	assert.ErrorIs(t, n.Campaign(canceled), context.Canceled)
	assert.ErrorIs(t, n.ForgetLeader(canceled), context.Canceled)
	assert.ErrorIs(t, n.Propose(canceled, []byte("p")), context.Canceled)
	n.TransferLeadership(canceled, 1, 2) // returns
	short, cancelShort := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancelShort()
	assert.ErrorIs(t, n.ReadIndex(short, []byte("r")), context.DeadlineExceeded)
	assert.ErrorIs(t, n.Step(short, pb.Message{Type: pb.MsgAppResp, From: 2, To: 1, Term: 1}), context.DeadlineExceeded)

	close(logger.release)
	require.NoError(t, n.ReadIndex(ctx, []byte("r")), "the node serves callers again")
	st := n.Status()
	assert.Equal(t, StateCandidate, st.RaftState)
	assert.Equal(t, uint64(2), st.Term)
}

func TestNodeCallsOnIdleNodeGoroutine(t *testing.T) {
	defer requireNoNodeGoroutines(t)
	// A node whose goroutine never runs: every call waits for it, and gives
	// up on its context, or with ErrStopped once the node is done.
	rn := newTestRawNode(t, 1, newTestStorage(votersConf(1), pb.HardState{}))
	n := newNode(rn)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	assert.ErrorIs(t, n.ReadIndex(ctx, nil), context.DeadlineExceeded)
	assert.ErrorIs(t, n.Step(ctx, pb.Message{Type: pb.MsgApp, From: 2, To: 1, Term: 1}), context.DeadlineExceeded)
	assert.ErrorIs(t, n.ProposeConfChange(ctx, pb.ConfChange{Type: pb.ConfChangeAddNode, NodeID: 2}), context.DeadlineExceeded)
	close(n.done)
	assert.ErrorIs(t, n.ReadIndex(context.Background(), nil), ErrStopped)
	assert.ErrorIs(t, n.Step(context.Background(), pb.Message{Type: pb.MsgApp, From: 2, To: 1, Term: 1}), ErrStopped)
	assert.ErrorIs(t, n.Propose(context.Background(), nil), ErrStopped)
}

func TestNodeStatusWhileRunning(t *testing.T) {
	defer requireNoNodeGoroutines(t)
	c := startNodeCluster(t, 1)
	defer c.stop()
	c.elect(1)
	n := c.nodes[1]
	ctx, cancel := c.ctxTimeout()
	defer cancel()

	const proposals = 50
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 0; i < proposals; i++ {
			assert.NoError(t, n.Propose(ctx, []byte(fmt.Sprintf("p%d", i))))
		}
	}()
	for r := 0; r < 4; r++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var lastApplied uint64
			for i := 0; i < 100; i++ {
				st := n.Status()
				assert.Equal(t, uint64(1), st.ID)
				assert.Equal(t, SoftState{Lead: 1, RaftState: StateLeader}, st.SoftState)
				assert.Len(t, st.Progress, 1)
				assert.GreaterOrEqual(t, st.Applied, lastApplied, "Applied never goes back")
				assert.LessOrEqual(t, st.Applied, st.Commit)
				lastApplied = st.Applied
			}
		}()
	}
	wg.Wait()
	c.waitFor("all applied", func() bool { return len(c.views[1].data) == proposals })
	st := n.Status()
	assert.Equal(t, st.Commit, st.Progress[1].Match)
	b, err := st.MarshalJSON()
	require.NoError(t, err)
	assert.Contains(t, string(b), `"raftState":"StateLeader"`)
}

func TestNodeReportsDoNotBlock(t *testing.T) {
	defer requireNoNodeGoroutines(t)
	c := startNodeCluster(t, 3)
	c.elect(1)
	n := c.nodes[1]
	// While running, on the leader.
	n.ReportUnreachable(2)
	n.ReportSnapshot(2, SnapshotFailure)
	n.ReportSnapshot(3, SnapshotFinish)
	n.ReportUnreachable(99) // unknown peers are ignored
	assert.Equal(t, StateLeader, n.Status().RaftState)
	c.stop()

	done := make(chan struct{})
	go func() {
		defer close(done)
		for _, id := range c.ids {
			n := c.nodes[id]
			n.ReportUnreachable(2)
			n.ReportSnapshot(2, SnapshotFinish)
			n.ReportSnapshot(2, SnapshotFailure)
			n.TransferLeadership(context.Background(), 1, 2)
			n.Tick()
			n.Advance()
			n.Stop()
			assert.True(t, errors.Is(n.ForgetLeader(context.Background()), ErrStopped))
			assert.True(t, errors.Is(n.ReadIndex(context.Background(), nil), ErrStopped))
			assert.True(t, errors.Is(n.Step(context.Background(), pb.Message{Type: pb.MsgApp, From: 2}), ErrStopped))
			assert.True(t, errors.Is(n.ProposeConfChange(context.Background(), pb.ConfChange{NodeID: 4}), ErrStopped))
			assert.Equal(t, &pb.ConfState{}, n.ApplyConfChange(pb.ConfChange{NodeID: 4}))
			assert.Equal(t, Status{}, n.Status())
		}
	}()
	ctx, cancel := context.WithTimeout(context.Background(), nodeTestTimeout)
	defer cancel()
	select {
	case <-done:
	case <-ctx.Done():
		t.Fatal("a call on a stopped node blocked")
	}
}
