package server

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"slices"
	"strconv"
	"time"

	"github.com/pontoon-raft/raft"
	"github.com/pontoon-raft/raft/host"
)

// moveTimeout bounds one step of the mover; a step cut short is planned
// again (NextStep is a function of the map, and a move begun is recorded
// in it).
const moveTimeout = 30 * time.Second

// pushTimeout bounds sending the map to one node, and asking a node to
// delete a replica.
const pushTimeout = 2 * time.Second

// removeTimeout bounds removing a replica moved off its node from its
// shard's configuration (the shard may be electing a leader).
const removeTimeout = 5 * time.Second

// move runs the mover on the leader of the meta group: it sends the
// cluster map to nodes that do not have it yet and carries out NextStep's
// steps one at a time, recording each in the meta group.
func (n *Node) move() {
	defer n.wg.Done()
	t := time.NewTicker(n.cfg.BalanceInterval)
	defer t.Stop()
	pushed := map[uint64]uint64{} // node -> version of the map it was sent
	for {
		select {
		case <-n.stop:
			return
		case <-t.C:
		}
		// Steps follow each other without waiting while there are some.
		for n.moveOnce(pushed) {
		}
	}
}

// moveOnce sends the map where it is missing and carries out one step, if
// this node leads the meta group; it reports whether a step was done.
func (n *Node) moveOnce(pushed map[uint64]uint64) bool {
	meta := n.meta.Load()
	if meta == nil {
		return false
	}
	if st, err := n.host.Status(MetaGroup); err != nil || st.Role != raft.StateLeader {
		return false
	}
	ctx, cancel := context.WithTimeout(context.Background(), moveTimeout)
	defer cancel()
	go func() {
		select {
		case <-n.stop:
			cancel()
		case <-ctx.Done():
		}
	}()
	if err := n.host.Read(ctx, MetaGroup); err != nil {
		return false
	}
	m := meta.current()
	n.pushMap(ctx, m, pushed)
	if n.dropMoved(ctx, m) {
		return true
	}
	step, ok := NextStep(m)
	if !ok {
		return false
	}
	if err := n.execute(ctx, m, step); err != nil {
		n.metrics.moves.WithLabelValues("failed").Inc()
		n.cfg.Logger.Warn("mover: step failed; planned again later", "step", fmt.Sprintf("%+v", step), "err", err)
		return false
	}
	n.metrics.moves.WithLabelValues("done").Inc()
	return true
}

// pushMap sends m to every member that was not sent it yet.
func (n *Node) pushMap(ctx context.Context, m *ClusterMap, pushed map[uint64]uint64) {
	body, err := json.Marshal(m)
	if err != nil {
		return
	}
	for id := range m.Members {
		if pushed[id] >= m.Version {
			continue
		}
		// A node down is sent the map at a later round.
		pctx, cancel := context.WithTimeout(ctx, pushTimeout)
		if code, _, err := n.internal(pctx, id, "/internal/map", body); err == nil && code == http.StatusNoContent {
			pushed[id] = m.Version
		}
		cancel()
	}
}

// dropMoved removes each replica moved off its node (m.Drops) from its
// shard's configuration, asks the node to delete it, and records each one
// deleted; it reports whether it recorded any. A replica is deleted only
// once out of the configuration; what fails is tried again at the next
// round.
func (n *Node) dropMoved(ctx context.Context, m *ClusterMap) bool {
	recorded := false
	for _, d := range m.Drops {
		prefix := groupPath(d.Shard)
		// The node has the map (pushMap), so it proposes no more writes on
		// its replica; those it proposed can finish while it is still in
		// the configuration. A node down is not waited for.
		dctx, cancel := context.WithTimeout(ctx, n.cfg.RequestTimeout)
		_, _, _ = n.internal(dctx, d.Node, prefix+"drain", nil)
		cancel()
		rctx, cancel := context.WithTimeout(ctx, removeTimeout)
		err := n.onLeader(rctx, append(slices.Clone(m.group(d.Shard)), d.Node), prefix+"remove?node="+strconv.FormatUint(d.Node, 10))
		cancel()
		if err != nil {
			n.cfg.Logger.Warn("mover: removing a replica moved off its node; trying again later", "shard", d.Shard, "node", d.Node, "err", err)
			continue
		}
		pctx, cancel := context.WithTimeout(ctx, pushTimeout)
		code, body, err := n.internal(pctx, d.Node, prefix+"drop", nil)
		cancel()
		if err != nil || code != http.StatusNoContent {
			n.cfg.Logger.Warn("mover: deleting a replica moved off its node; asking again later",
				"shard", d.Shard, "node", d.Node, "code", code, "body", string(bytes.TrimSpace(body)), "err", err)
			continue
		}
		if err := n.proposeMeta(ctx, metaCommand{Op: "dropped", ID: d.Node, Shard: d.Shard}); err != nil {
			n.cfg.Logger.Warn("mover: recording a deleted replica", "shard", d.Shard, "node", d.Node, "err", err)
			continue
		}
		recorded = true
	}
	return recorded
}

// drain waits until no write proposed here on shard s is waiting, or ctx
// ends.
func (n *Node) drain(ctx context.Context, s int) {
	t := time.NewTicker(n.cfg.TickInterval)
	defer t.Stop()
	for n.writing[s].Load() > 0 {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// execute carries out one step.
func (n *Node) execute(ctx context.Context, m *ClusterMap, st Step) error {
	switch {
	case st.Remove != 0:
		return n.proposeMeta(ctx, metaCommand{Op: "remove", ID: st.Remove})
	case st.Reorder != nil:
		return n.proposeMeta(ctx, metaCommand{Op: "replicas", Shard: st.Shard, Replicas: st.Reorder})
	}
	start := time.Now()
	if m.Moving == nil {
		if err := n.proposeMeta(ctx, metaCommand{Op: "moving", Move: &st}); err != nil {
			return err
		}
	}
	prefix := groupPath(st.Shard)
	// The new replica starts empty; the leader adds it as a learner, catches
	// it up (by a snapshot streamed from Pebble if the log is compacted) and
	// promotes it; then the map lists it instead of the old one, which
	// dropMoved removes from the configuration and deletes (once nodes route
	// requests by the new map, so that few writes wait on the old replica
	// when it goes). A node that does not answer gets no learner: a dead
	// node never joins a shard's configuration.
	// A replica of the meta group is built over the cluster's initial
	// map: it is sent along.
	var initial []byte
	if st.Shard == MetaShard {
		var err error
		if initial, err = json.Marshal(n.initial.Load()); err != nil {
			return err
		}
	}
	sctx, cancel := context.WithTimeout(ctx, pushTimeout)
	code, body, err := n.internal(sctx, st.To, prefix+"start", initial)
	cancel()
	if err != nil || code != http.StatusNoContent {
		return fmt.Errorf("starting shard %d on node %d: HTTP %d %s %v", st.Shard, st.To, code, body, err)
	}
	if err := n.onLeader(ctx, m.group(st.Shard), prefix+"add?node="+strconv.FormatUint(st.To, 10)); err != nil {
		return fmt.Errorf("adding node %d to shard %d: %w", st.To, st.Shard, err)
	}
	if err := n.proposeMeta(ctx, metaCommand{Op: "replicas", Shard: st.Shard, Replicas: m.movedReplicas(st)}); err != nil {
		return err
	}
	n.cfg.Logger.Info("mover: moved", "shard", st.Shard, "from", st.From, "to", st.To, "took", time.Since(start))
	return nil
}

// onLeader sends an internal request to whichever of nodes leads the shard
// (the others answer 409 naming the leader), until it succeeds or ctx ends.
func (n *Node) onLeader(ctx context.Context, nodes []uint64, path string) error {
	var last error
	for {
		for _, id := range nodes {
			code, body, err := n.internal(ctx, id, path, nil)
			if err == nil && code == http.StatusNoContent {
				return nil
			}
			last = fmt.Errorf("node %d: HTTP %d %s %v", id, code, bytes.TrimSpace(body), err)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%w (last: %v)", ctx.Err(), last)
		case <-time.After(n.cfg.TickInterval * time.Duration(n.cfg.ElectionTicks) / 2):
		}
	}
}

// internal POSTs body to path on node id, with the token.
func (n *Node) internal(ctx context.Context, id uint64, path string, body []byte) (int, []byte, error) {
	mem, ok := n.clusterMap().Members[id]
	if !ok {
		return 0, nil, fmt.Errorf("node %d is not a member", id)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, n.scheme()+"://"+mem.HTTP+path, bytes.NewReader(body))
	if err != nil {
		return 0, nil, err
	}
	if n.cfg.Token != "" {
		req.Header.Set("Authorization", "Bearer "+n.cfg.Token)
	}
	resp, err := n.forward.RoundTrip(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	return resp.StatusCode, b, err
}

func (n *Node) scheme() string {
	if n.cfg.ServeTLS != nil {
		return "https"
	}
	return "http"
}

// proposeMeta proposes a change of the cluster map, through this node's
// replica of the meta group.
func (n *Node) proposeMeta(ctx context.Context, c metaCommand) error {
	b, err := json.Marshal(c)
	if err != nil {
		return err
	}
	res, err := n.host.Propose(ctx, MetaGroup, b)
	if err != nil {
		return err
	}
	if len(res) != 0 {
		return fmt.Errorf("%w", errors.New(string(res)))
	}
	return nil
}

// groupPath is the prefix of the internal requests about a shard (or the
// meta group).
func groupPath(shard int) string {
	if shard == MetaShard {
		return "/internal/shards/meta/"
	}
	return fmt.Sprintf("/internal/shards/%d/", shard)
}

// shardParam validates the {shard} path value of an internal request: a
// shard number, or "meta" (MetaShard).
func (n *Node) shardParam(w http.ResponseWriter, r *http.Request) (int, bool) {
	if r.PathValue("shard") == "meta" {
		return MetaShard, true
	}
	s, err := strconv.Atoi(r.PathValue("shard"))
	if err != nil || s < 0 || s >= n.cfg.Shards {
		http.Error(w, "no such shard", http.StatusBadRequest)
		return 0, false
	}
	return s, true
}

// groupOf is the host group of shard (or of the meta group).
func groupOf(shard int) uint64 {
	if shard == MetaShard {
		return MetaGroup
	}
	return GroupOf(shard)
}

// startMeta makes the first start of this node's replica of the meta
// group, over the cluster's initial map, which it saves first.
func (n *Node) startMeta(r *http.Request) (int, error) {
	var m ClusterMap
	if err := json.NewDecoder(http.MaxBytesReader(nil, r.Body, 16<<20)).Decode(&m); err != nil || m.Members == nil ||
		len(m.Shards) != n.cfg.Shards {
		return http.StatusBadRequest, fmt.Errorf("not an initial cluster map of %d shards: %v", n.cfg.Shards, err)
	}
	if n.initial.Load() == nil {
		if err := writeMap(filepath.Join(n.cfg.DataDir, initialMapFile), &m); err != nil {
			return http.StatusInternalServerError, err
		}
		n.initial.Store(&m)
	}
	if err := n.host.StartGroup(MetaGroup, nil); err != nil && !errors.Is(err, host.ErrGroupExists) {
		return http.StatusInternalServerError, err
	}
	return http.StatusNoContent, nil
}

// serveInternal handles the mover's requests (see move).
func (n *Node) serveInternal(mux *http.ServeMux) {
	mux.HandleFunc("POST /internal/map", func(w http.ResponseWriter, r *http.Request) {
		var m ClusterMap
		if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 16<<20)).Decode(&m); err != nil || m.Members == nil ||
			len(m.Shards) != n.cfg.Shards {
			http.Error(w, fmt.Sprintf("not a cluster map of %d shards: %v", n.cfg.Shards, err), http.StatusBadRequest)
			return
		}
		n.adopt(&m)
		w.WriteHeader(http.StatusNoContent)
	})
	mux.HandleFunc("POST /internal/shards/{shard}/start", func(w http.ResponseWriter, r *http.Request) {
		s, ok := n.shardParam(w, r)
		if !ok {
			return
		}
		if s == MetaShard {
			if code, err := n.startMeta(r); err != nil {
				http.Error(w, err.Error(), code)
				return
			}
		} else if err := n.host.StartGroup(GroupOf(s), nil); err != nil && !errors.Is(err, host.ErrGroupExists) {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	})
	admin := func(add bool) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			s, ok := n.shardParam(w, r)
			if !ok {
				return
			}
			node, err := strconv.ParseUint(r.URL.Query().Get("node"), 10, 64)
			if err != nil || node == 0 {
				http.Error(w, "node must be a node ID", http.StatusBadRequest)
				return
			}
			if add {
				err = n.host.AddReplica(r.Context(), groupOf(s), node)
			} else {
				err = n.host.RemoveReplica(r.Context(), groupOf(s), node)
			}
			switch {
			case errors.Is(err, host.ErrNotLeader), errors.Is(err, host.ErrUnknownGroup):
				http.Error(w, err.Error(), http.StatusConflict)
			case err != nil:
				n.fail(w, err, "membership change")
			default:
				w.WriteHeader(http.StatusNoContent)
			}
		}
	}
	mux.HandleFunc("POST /internal/shards/{shard}/add", admin(true))
	mux.HandleFunc("POST /internal/shards/{shard}/remove", admin(false))
	mux.HandleFunc("POST /internal/shards/{shard}/drain", func(w http.ResponseWriter, r *http.Request) {
		s, ok := n.shardParam(w, r)
		if !ok {
			return
		}
		if s != MetaShard {
			n.drain(r.Context(), s)
		}
		w.WriteHeader(http.StatusNoContent)
	})
	mux.HandleFunc("POST /internal/shards/{shard}/drop", func(w http.ResponseWriter, r *http.Request) {
		s, ok := n.shardParam(w, r)
		if !ok {
			return
		}
		if err := n.host.RemoveGroup(groupOf(s)); err != nil && !errors.Is(err, host.ErrUnknownGroup) {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		if s == MetaShard {
			n.meta.Store(nil)
		} else if err := clearShard(n.db, uint32(s)); err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	})
}

// serveMembership handles POST and DELETE /members/{id}: a change of the
// cluster map, proposed here if this node has a replica of the meta group,
// else forwarded to a node that has one. The mover then moves replicas.
func (n *Node) serveMembership(mux *http.ServeMux) {
	handle := func(w http.ResponseWriter, r *http.Request, c metaCommand) {
		if n.meta.Load() == nil {
			n.proxy(w, r, n.clusterMap().Meta)
			return
		}
		ctx, cancel := context.WithTimeout(r.Context(), n.cfg.RequestTimeout)
		defer cancel()
		err := n.proposeMeta(ctx, c)
		switch {
		case err == nil:
			w.WriteHeader(http.StatusNoContent)
		case errors.Is(err, context.DeadlineExceeded), errors.Is(err, host.ErrStopped):
			n.fail(w, err, "membership change")
		default:
			http.Error(w, err.Error(), http.StatusConflict)
		}
	}
	id := func(w http.ResponseWriter, r *http.Request) (uint64, bool) {
		id, err := strconv.ParseUint(r.PathValue("id"), 10, 64)
		if err != nil || id == 0 {
			http.Error(w, "member id must be a positive integer", http.StatusBadRequest)
			return 0, false
		}
		return id, true
	}
	mux.HandleFunc("POST /members/{id}", func(w http.ResponseWriter, r *http.Request) {
		id, ok := id(w, r)
		if !ok {
			return
		}
		var m Member
		dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 4<<10))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&m); err != nil || m.HTTP == "" || m.Raft == "" {
			http.Error(w, `malformed body, want {"http":"host:port","raft":"host:port"}`, http.StatusBadRequest)
			return
		}
		handle(w, r, metaCommand{Op: "add", ID: id, Member: m})
	})
	mux.HandleFunc("DELETE /members/{id}", func(w http.ResponseWriter, r *http.Request) {
		if id, ok := id(w, r); ok {
			handle(w, r, metaCommand{Op: "leave", ID: id})
		}
	})
}
