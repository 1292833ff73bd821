// Package etcdprog is the drop-in program: a small RawNode cluster written
// against the etcd/raft v3.6 API that prints a deterministic transcript of
// what it does. It is the single source of truth; package pontoonprog is
// generated from it by rewriting the import paths (see ../gen).
package etcdprog

import (
	"fmt"
	"io"
	"log"
	"sort"
	"strings"

	"go.etcd.io/raft/v3"
	pb "go.etcd.io/raft/v3/raftpb"
)

// node is one cluster member and its application: a log of applied data.
type node struct {
	id        uint64
	rn        *raft.RawNode
	storage   *raft.MemoryStorage
	applied   uint64
	data      []string
	confState pb.ConfState
}

// cluster delivers messages between nodes in order, dropping those that
// cross a cut link, and writes everything observable to out.
type cluster struct {
	out     io.Writer
	nodes   map[uint64]*node
	queue   []pb.Message
	cut     map[uint64]bool
	readLog []string
}

func newCluster(out io.Writer) *cluster {
	return &cluster{out: out, nodes: map[uint64]*node{}, cut: map[uint64]bool{}}
}

// discard is a logger that writes nothing, so the transcript holds only
// what the program prints.
func discard() raft.Logger { return &raft.DefaultLogger{Logger: log.New(io.Discard, "", 0)} }

// addNode starts node id over storage.
func (c *cluster) addNode(id uint64, storage *raft.MemoryStorage) error {
	rn, err := raft.NewRawNode(&raft.Config{
		ID:              id,
		ElectionTick:    10,
		HeartbeatTick:   1,
		Storage:         storage,
		MaxSizePerMsg:   1 << 20,
		MaxInflightMsgs: 256,
		Logger:          discard(),
	})
	if err != nil {
		return fmt.Errorf("starting node %d: %w", id, err)
	}
	n := &node{id: id, rn: rn, storage: storage}
	if snap, err := storage.Snapshot(); err == nil && !raft.IsEmptySnap(snap) {
		n.applied = snap.Metadata.Index
		n.confState = snap.Metadata.ConfState
	}
	c.nodes[id] = n
	return nil
}

// ids returns the node IDs in increasing order.
func (c *cluster) ids() []uint64 {
	ids := make([]uint64, 0, len(c.nodes))
	for id := range c.nodes {
		ids = append(ids, id)
	}
	sort.Slice(ids, func(i, j int) bool { return ids[i] < ids[j] })
	return ids
}

func (c *cluster) printf(format string, args ...interface{}) {
	fmt.Fprintf(c.out, format+"\n", args...)
}

// settle handles Readys and delivers messages until nothing is left to do.
func (c *cluster) settle() error {
	for round := 0; round < 1000; round++ {
		busy := false
		for _, id := range c.ids() {
			n := c.nodes[id]
			if !n.rn.HasReady() {
				continue
			}
			busy = true
			if err := c.handleReady(n); err != nil {
				return err
			}
		}
		if len(c.queue) > 0 {
			busy = true
			msgs := c.queue
			c.queue = nil
			for _, m := range msgs {
				if err := c.deliver(m); err != nil {
					return err
				}
			}
		}
		if !busy {
			return nil
		}
	}
	return fmt.Errorf("cluster did not settle")
}

// handleReady follows the Ready contract: persist, send, apply, advance.
func (c *cluster) handleReady(n *node) error {
	rd := n.rn.Ready()
	c.printf("  n%d ready:%s", n.id, describeReady(rd))
	if !raft.IsEmptySnap(rd.Snapshot) {
		if err := n.storage.ApplySnapshot(rd.Snapshot); err != nil {
			return err
		}
		n.applied = rd.Snapshot.Metadata.Index
		n.data = strings.Split(string(rd.Snapshot.Data), ",")
		n.confState = rd.Snapshot.Metadata.ConfState
	}
	if err := n.storage.Append(rd.Entries); err != nil {
		return err
	}
	if !raft.IsEmptyHardState(rd.HardState) {
		if err := n.storage.SetHardState(rd.HardState); err != nil {
			return err
		}
	}
	c.queue = append(c.queue, rd.Messages...)
	for _, rs := range rd.ReadStates {
		c.readLog = append(c.readLog, fmt.Sprintf("n%d read %q at %d", n.id, rs.RequestCtx, rs.Index))
	}
	for _, e := range rd.CommittedEntries {
		if err := c.apply(n, e); err != nil {
			return err
		}
	}
	n.rn.Advance(rd)
	return nil
}

// apply applies one committed entry to n.
func (c *cluster) apply(n *node, e pb.Entry) error {
	n.applied = e.Index
	switch e.Type {
	case pb.EntryNormal:
		if len(e.Data) > 0 {
			n.data = append(n.data, string(e.Data))
		}
		return nil
	case pb.EntryConfChange:
		var cc pb.ConfChange
		if err := cc.Unmarshal(e.Data); err != nil {
			return err
		}
		n.confState = *n.rn.ApplyConfChange(cc)
	case pb.EntryConfChangeV2:
		var cc pb.ConfChangeV2
		if err := cc.Unmarshal(e.Data); err != nil {
			return err
		}
		n.confState = *n.rn.ApplyConfChange(cc)
	}
	c.printf("  n%d conf %s", n.id, describeConfState(n.confState))
	return nil
}

// deliver steps m into its recipient unless the link is cut. A delivered
// snapshot is reported as finished to its sender.
func (c *cluster) deliver(m pb.Message) error {
	to, ok := c.nodes[m.To]
	if !ok || c.cut[m.From] || c.cut[m.To] {
		return nil
	}
	if err := to.rn.Step(m); err != nil {
		c.printf("  step error: %v", err)
	}
	if m.Type == pb.MsgSnap {
		if from, ok := c.nodes[m.From]; ok {
			from.rn.ReportSnapshot(m.To, raft.SnapshotFinish)
		}
	}
	return nil
}

// status prints every node's role, term, commit and applied data.
func (c *cluster) status(title string) {
	c.printf("status %s", title)
	for _, id := range c.ids() {
		n := c.nodes[id]
		st := n.rn.Status()
		c.printf("  n%d %s term=%d lead=%d commit=%d applied=%d data=%s conf=%s",
			id, st.RaftState, st.Term, st.Lead, st.Commit, n.applied, strings.Join(n.data, ","), describeConfState(n.confState))
	}
	for _, r := range c.readLog {
		c.printf("  %s", r)
	}
	c.readLog = nil
}

func describeReady(rd raft.Ready) string {
	var b strings.Builder
	if rd.SoftState != nil {
		fmt.Fprintf(&b, " soft={%s lead=%d}", rd.SoftState.RaftState, rd.SoftState.Lead)
	}
	if !raft.IsEmptyHardState(rd.HardState) {
		fmt.Fprintf(&b, " hs={term=%d vote=%d commit=%d}", rd.Term, rd.Vote, rd.Commit)
	}
	if !raft.IsEmptySnap(rd.Snapshot) {
		fmt.Fprintf(&b, " snap=%d/%d", rd.Snapshot.Metadata.Term, rd.Snapshot.Metadata.Index)
	}
	if len(rd.Entries) > 0 {
		fmt.Fprintf(&b, " ents=%s", describeEntries(rd.Entries))
	}
	if len(rd.CommittedEntries) > 0 {
		fmt.Fprintf(&b, " committed=%s", describeEntries(rd.CommittedEntries))
	}
	fmt.Fprintf(&b, " reads=%d sync=%t", len(rd.ReadStates), rd.MustSync)
	return b.String()
}

func describeEntries(ents []pb.Entry) string {
	parts := make([]string, len(ents))
	for i, e := range ents {
		parts[i] = fmt.Sprintf("%d/%d:%s:%q", e.Term, e.Index, e.Type, e.Data)
		if e.Type != pb.EntryNormal {
			parts[i] = fmt.Sprintf("%d/%d:%s", e.Term, e.Index, e.Type)
		}
	}
	return "[" + strings.Join(parts, " ") + "]"
}

func describeConfState(cs pb.ConfState) string {
	return fmt.Sprintf("{voters=%v learners=%v outgoing=%v next=%v auto=%t}",
		cs.Voters, cs.Learners, cs.VotersOutgoing, cs.LearnersNext, cs.AutoLeave)
}
