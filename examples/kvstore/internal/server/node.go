// Package server is a kvstore node: the shards it replicates (host groups
// whose state machines share one Pebble), the mutual-TLS transport between
// nodes, the HTTP API and the metrics.
package server

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cockroachdb/pebble/v2"

	"github.com/pontoon-raft/raft"
	"github.com/pontoon-raft/raft/host"
	"github.com/pontoon-raft/raft/transport"
)

// Member is a node of the cluster: where its HTTP API and its Raft
// transport listen.
type Member struct {
	HTTP string `json:"http"`
	Raft string `json:"raft"`
}

// Config configures a Node. Zero optional fields take the defaults named in
// their comments.
type Config struct {
	// ID is this node's ID, a key of Members. Required.
	ID uint64
	// Members are the cluster's nodes, this one included. Required. The
	// placement of the shards is computed from their IDs.
	Members map[uint64]Member
	// Join starts a node that is not in the cluster yet: it starts no
	// shard and waits to be added (POST /members/{id} on the cluster),
	// which brings it the cluster map and then replicas.
	Join bool
	// Shards is the number of shards (64).
	Shards int
	// DataDir holds the node's Pebble (DataDir/pebble) and its host's logs
	// and snapshots (DataDir/host). Required.
	DataDir string
	// ClusterID names the cluster on the transport (1).
	ClusterID uint64
	// TLS turns on mutual TLS between nodes. Nil means plaintext, which
	// only tests should use.
	TLS *transport.TLSConfig
	// ServeTLS is the HTTPS configuration of the client API, nil for plain
	// HTTP. ForwardRootCAs verifies the other nodes' API when a request is
	// forwarded to one (with ServeTLS).
	ServeTLS       *tls.Config
	ForwardRootCAs *tls.Config
	// Token, if set, is the bearer token every API request must carry.
	Token string
	// TickInterval (100ms) and ElectionTicks (10) set the Raft clock.
	TickInterval  time.Duration
	ElectionTicks int
	// SnapshotEntries (10,000) and CompactLagEntries (5,000): see
	// host.Config.
	SnapshotEntries   uint64
	CompactLagEntries uint64
	// RequestTimeout bounds a write or a linearizable read (5s).
	RequestTimeout time.Duration
	// MaxKeyBytes (1 KiB) and MaxValueBytes (1 MiB) bound what clients
	// send.
	MaxKeyBytes   int
	MaxValueBytes int
	// BalanceInterval is how often the node hands the shards it leads to
	// their preferred leaders and, on the leader of the cluster map, the
	// mover plans its next replica move (1s).
	BalanceInterval time.Duration
	// Logger receives the node's log lines (warnings and errors of the
	// host and transport). Nil logs to stderr.
	Logger *slog.Logger
}

func (c Config) withDefaults() (Config, error) {
	if _, ok := c.Members[c.ID]; !ok || c.ID == 0 {
		return c, fmt.Errorf("kvstore: node %d is not among the members", c.ID)
	}
	if c.DataDir == "" {
		return c, errors.New("kvstore: a data directory is required")
	}
	if c.Shards == 0 {
		c.Shards = 64
	}
	if c.Shards < 0 || c.Shards > 1<<20 {
		return c, fmt.Errorf("kvstore: %d shards is out of range (1 to 2^20)", c.Shards)
	}
	if c.ClusterID == 0 {
		c.ClusterID = 1
	}
	if c.TickInterval == 0 {
		c.TickInterval = 100 * time.Millisecond
	}
	if c.ElectionTicks == 0 {
		c.ElectionTicks = 10
	}
	if c.RequestTimeout == 0 {
		c.RequestTimeout = 5 * time.Second
	}
	if c.MaxKeyBytes == 0 {
		c.MaxKeyBytes = 1 << 10
	}
	if c.MaxValueBytes == 0 {
		c.MaxValueBytes = 1 << 20
	}
	if c.BalanceInterval == 0 {
		c.BalanceInterval = time.Second
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	}
	return c, nil
}

// Node is one kvstore process: its replicas of the shards, over one host
// and one Pebble.
type Node struct {
	cfg     Config
	db      *pebble.DB
	host    *host.Host
	tcp     *transport.TCP
	metrics *metrics
	pause   *pauser
	forward *http.Transport
	// initial is the cluster's first map, the base of the meta group's
	// state (nil on a node that joined later, until it is given a replica
	// of the meta group); meta is the meta group's state machine, if this
	// node has a replica.
	initial atomic.Pointer[ClusterMap]
	meta    atomic.Pointer[metaStateMachine]
	// cmap is the latest cluster map this node knows (mapMu serializes
	// adopting one: storing, saving, updating the transport's peers).
	cmap  atomic.Pointer[ClusterMap]
	mapMu sync.Mutex
	// heard holds, per peer, when (Unix nanoseconds) a message from it
	// last arrived: the balancer hands leadership only to live nodes.
	heard sync.Map // uint64 -> *atomic.Int64
	// writing counts, per shard, the writes proposed here and not done
	// yet: the mover waits for them before removing a replica moved off
	// this node (see drain).
	writing []atomic.Int64

	stop chan struct{}
	wg   sync.WaitGroup
}

// Open opens the node's storage, restarts its replicas (or starts the
// shards placed on it, at the first start) and starts handing leaderships
// to the shards' preferred leaders.
func Open(cfg Config) (*Node, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(cfg.DataDir, 0o755); err != nil {
		return nil, err
	}
	db, err := pebble.Open(filepath.Join(cfg.DataDir, "pebble"), &pebble.Options{Logger: pebbleLogger{cfg.Logger}})
	if err != nil {
		return nil, fmt.Errorf("kvstore: opening Pebble: %w", err)
	}
	n := &Node{
		cfg: cfg, db: db, metrics: newMetrics(), pause: &pauser{}, stop: make(chan struct{}),
		forward: &http.Transport{TLSClientConfig: cfg.ForwardRootCAs, MaxIdleConnsPerHost: 64},
		writing: make([]atomic.Int64, cfg.Shards),
	}
	firstStart, err := n.loadMaps()
	if err != nil {
		db.Close()
		return nil, err
	}
	ln, err := net.Listen("tcp", cfg.Members[cfg.ID].Raft)
	if err != nil {
		db.Close()
		return nil, err
	}
	addrs := map[uint64]string{}
	for id, m := range cfg.Members {
		addrs[id] = m.Raft
	}
	for id, m := range n.clusterMap().Members {
		addrs[id] = m.Raft
	}
	delete(addrs, cfg.ID)
	n.host, err = host.New(host.Config{
		NodeID: cfg.ID, Dir: filepath.Join(cfg.DataDir, "host"),
		TickInterval: cfg.TickInterval, ElectionTicks: cfg.ElectionTicks,
		SnapshotEntries: cfg.SnapshotEntries, CompactLagEntries: cfg.CompactLagEntries,
		NewStateMachine: n.newStateMachine,
		NewTransport: func(h transport.Handler) (transport.Transport, error) {
			t, err := transport.NewTCP(transport.TCPConfig{
				NodeID: cfg.ID, ClusterID: cfg.ClusterID, Peers: addrs, TLS: cfg.TLS, Handler: n.pause.handler(h),
				Observer: &transportObserver{m: n.metrics, heard: n.peerHeard}, Logger: cfg.Logger,
			})
			if err != nil {
				return nil, err
			}
			n.tcp = t
			go func() { _ = t.Serve(ln) }()
			return n.pause.transport(t, h), nil
		},
		Logger:   raft.NewSlogLogger(cfg.Logger),
		Observer: &hostObserver{m: n.metrics, leaders: map[uint64]uint64{}},
	})
	if err != nil {
		ln.Close()
		db.Close()
		return nil, err
	}
	if firstStart {
		m := n.clusterMap()
		for s, replicas := range m.Shards {
			if slices.Contains(replicas, cfg.ID) {
				if err := n.host.StartGroup(GroupOf(s), replicas); err != nil && !errors.Is(err, host.ErrGroupExists) {
					n.Close()
					return nil, err
				}
			}
		}
		if slices.Contains(m.Meta, cfg.ID) {
			if err := n.host.StartGroup(MetaGroup, m.Meta); err != nil && !errors.Is(err, host.ErrGroupExists) {
				n.Close()
				return nil, err
			}
		}
	}
	n.wg.Add(2)
	go n.balance()
	go n.move()
	return n, nil
}

// newStateMachine is host.Config.NewStateMachine.
func (n *Node) newStateMachine(group uint64) (host.StateMachine, error) {
	if group == MetaGroup {
		initial := n.initial.Load()
		if initial == nil {
			return nil, errors.New("kvstore: a replica of the cluster map on a node without the initial map")
		}
		sm := &metaStateMachine{m: initial.clone(), changed: n.adopt}
		n.meta.Store(sm)
		return sm, nil
	}
	if group == 0 || group > uint64(n.cfg.Shards) {
		return nil, fmt.Errorf("kvstore: group %d is no shard of %d", group, n.cfg.Shards)
	}
	return openShard(n.db, uint32(group-1))
}

// Close stops the node.
func (n *Node) Close() error {
	close(n.stop)
	n.wg.Wait()
	err := n.host.Stop()
	n.forward.CloseIdleConnections()
	if cerr := n.db.Close(); err == nil {
		err = cerr
	}
	return err
}

// peerHeard records that a message from peer arrived.
func (n *Node) peerHeard(peer uint64) {
	v, ok := n.heard.Load(peer)
	if !ok {
		v, _ = n.heard.LoadOrStore(peer, new(atomic.Int64))
	}
	v.(*atomic.Int64).Store(time.Now().UnixNano())
}

// peerAlive reports whether peer was heard from within two election
// timeouts (hosts exchange heartbeats even when every group is idle).
func (n *Node) peerAlive(peer uint64) bool {
	v, ok := n.heard.Load(peer)
	if !ok {
		return false
	}
	window := 2 * time.Duration(n.cfg.ElectionTicks) * n.cfg.TickInterval
	return time.Since(time.Unix(0, v.(*atomic.Int64).Load())) < window
}

// balance hands each shard this node leads to the shard's preferred leader
// (the first of its replicas) when that node is alive and holds the whole
// log, so that leaderships spread evenly over the nodes, also after a node
// comes back from a crash.
func (n *Node) balance() {
	defer n.wg.Done()
	t := time.NewTicker(n.cfg.BalanceInterval)
	defer t.Stop()
	for {
		select {
		case <-n.stop:
			return
		case <-t.C:
		}
		for s, replicas := range n.clusterMap().Shards {
			preferred := replicas[0]
			if preferred == n.cfg.ID || !slices.Contains(replicas, n.cfg.ID) {
				continue
			}
			st, err := n.host.Status(GroupOf(s))
			if err != nil || st.Role != raft.StateLeader {
				continue
			}
			if !n.peerAlive(preferred) {
				n.cfg.Logger.Debug("balancer: preferred leader not heard from", "shard", s, "preferred", preferred)
				continue
			}
			if pr, ok := st.Progress[preferred]; !ok || pr.Match < st.Commit {
				n.cfg.Logger.Debug("balancer: preferred leader behind", "shard", s, "preferred", preferred,
					"match", pr.Match, "commit", st.Commit, "known", ok)
				continue
			}
			err = n.host.TransferLeadership(GroupOf(s), preferred)
			n.cfg.Logger.Info("balancer: handing leadership to the preferred leader", "shard", s, "to", preferred, "err", err)
			if err == nil {
				n.metrics.transfers.Inc()
			}
		}
	}
}

// errBadResult is a command the state machines refused (malformed).
var errBadResult = errors.New("kvstore: the command was refused as malformed")

// propose replicates ops (all of shard) and returns once this node applied
// them. If the shard's leader dies meanwhile, the host proposes again once
// a new one is elected; each replica applies the command once.
func (n *Node) propose(ctx context.Context, shard int, ops []Op) error {
	n.writing[shard].Add(1)
	defer n.writing[shard].Add(-1)
	res, err := n.host.Propose(ctx, GroupOf(shard), encodeCommand(ops))
	if err == nil && string(res) == string(resultBadCommand) {
		err = errBadResult
	}
	return err
}

// read returns key from this node's replica of its shard, after a
// linearizable barrier unless stale.
func (n *Node) read(ctx context.Context, shard int, key string, stale bool) (string, bool, error) {
	if !stale {
		if err := n.host.Read(ctx, GroupOf(shard)); err != nil {
			return "", false, err
		}
	}
	return get(n.db, uint32(shard), key)
}

// ShardStatus is one shard as GET /status shows it.
type ShardStatus struct {
	Shard    int      `json:"shard"`
	Group    uint64   `json:"group"`
	Replicas []uint64 `json:"replicas"`
	Leader   uint64   `json:"leader"`
	Role     string   `json:"role"`
	Term     uint64   `json:"term"`
	Commit   uint64   `json:"commit"`
	Applied  uint64   `json:"applied"`
}

// Status is GET /status.
type Status struct {
	ID     uint64 `json:"id"`
	Shards int    `json:"shards"`
	Leads  int    `json:"leads"`
	// MapVersion is the version of the cluster map the node knows.
	MapVersion uint64 `json:"mapVersion"`
	// MetaLeader is the leader of the meta group (where the mover runs) as
	// this node's replica of it knows, 0 if unknown or if the node has no
	// replica of it.
	MetaLeader uint64        `json:"metaLeader,omitempty"`
	Groups     []ShardStatus `json:"groups"`
}

// Status returns the node's replicas.
func (n *Node) Status() (Status, error) {
	st := Status{ID: n.cfg.ID, Shards: n.cfg.Shards, MapVersion: n.clusterMap().Version}
	m := n.clusterMap()
	if gs, err := n.host.Status(MetaGroup); err == nil {
		st.MetaLeader = gs.Leader
	}
	for _, g := range n.host.Groups() {
		if g == MetaGroup {
			continue
		}
		gs, err := n.host.Status(g)
		if errors.Is(err, host.ErrUnknownGroup) {
			continue
		}
		if err != nil {
			return st, err
		}
		s := int(g - 1)
		st.Groups = append(st.Groups, ShardStatus{
			Shard: s, Group: g, Replicas: replicasOf(m, s), Leader: gs.Leader, Role: gs.Role.String(),
			Term: gs.Term, Commit: gs.Commit, Applied: gs.Applied,
		})
		if gs.Role == raft.StateLeader {
			st.Leads++
		}
	}
	return st, nil
}

// replicasOf returns the replicas of shard s in m, or nil.
func replicasOf(m *ClusterMap, s int) []uint64 {
	if s < len(m.Shards) {
		return m.Shards[s]
	}
	return nil
}

// pebbleLogger sends Pebble's log lines to the node's logger.
type pebbleLogger struct{ l *slog.Logger }

func (p pebbleLogger) Infof(string, ...interface{}) {}
func (p pebbleLogger) Errorf(format string, args ...interface{}) {
	p.l.Error(fmt.Sprintf("pebble: "+format, args...))
}
func (p pebbleLogger) Fatalf(format string, args ...interface{}) {
	p.l.Error(fmt.Sprintf("pebble: "+format, args...))
	os.Exit(1)
}
