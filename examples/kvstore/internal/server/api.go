package server

import (
	"bytes"
	"cmp"
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/http/httputil"
	"net/http/pprof"
	"net/url"
	"slices"
	"strconv"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/pontoon-raft/raft/host"
)

// forwardedHeader marks a request one node forwarded to another, which
// must serve it itself.
const forwardedHeader = "X-Kvstore-Forwarded"

// reforwardedHeader marks a request forwarded a second time, by a node
// that was forwarded it but holds no replica of its shard.
const reforwardedHeader = "X-Kvstore-Reforwarded"

// retryAfterSeconds is what a 503 asks clients to wait: about one election.
const retryAfterSeconds = "1"

// maxTxnBodyBytes bounds the body of POST /txn.
const maxTxnBodyBytes = 8 << 20

// Handler returns the node's HTTP API:
//
//	PUT    /kv/{key}   body = value; 204 once applied on the node serving it
//	GET    /kv/{key}   linearizable (host.Read); ?stale=1 reads locally
//	DELETE /kv/{key}   204 once applied
//	POST   /txn        {"ops":[{"op":"put","key":..,"value":..},{"op":"delete","key":..}]}:
//	                   applied atomically; every key must be in one shard
//	GET    /status     the node's shards: leaders, terms, commit and applied indexes
//	GET    /members    the cluster's nodes
//	POST   /members/{id}   {"http":"host:port","raft":"host:port"}: add a node;
//	                   the mover then moves replicas onto it
//	DELETE /members/{id}   move the node's replicas off, then remove it
//	POST   /internal/...   the mover's requests to other nodes
//	GET    /metrics    Prometheus metrics
//	POST   /debug/pause?ms=N   cut the node's transport off for N ms
//	GET    /debug/pprof/...    Go runtime profiles (net/http/pprof)
//
// With a token configured every request needs "Authorization: Bearer
// <token>", or gets 401. A request for a shard this node holds no replica
// of is forwarded to a node that holds one.
func (n *Node) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("PUT /kv/{key...}", n.servePut)
	mux.HandleFunc("GET /kv/{key...}", n.serveGet)
	mux.HandleFunc("DELETE /kv/{key...}", n.serveDelete)
	mux.HandleFunc("/kv/", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Allow", "GET, PUT, DELETE")
		http.Error(w, fmt.Sprintf("method %s not allowed on /kv/{key}: use GET, PUT or DELETE", r.Method),
			http.StatusMethodNotAllowed)
	})
	mux.HandleFunc("POST /txn", n.serveTxn)
	mux.HandleFunc("GET /status", n.serveStatus)
	mux.HandleFunc("GET /members", n.serveMembers)
	n.serveMembership(mux)
	n.serveInternal(mux)
	mux.Handle("GET /metrics", promhttp.HandlerFor(n.metrics.registry, promhttp.HandlerOpts{}))
	mux.HandleFunc("POST /debug/pause", n.servePause)
	mux.HandleFunc("GET /debug/pprof/", pprof.Index)
	mux.HandleFunc("GET /debug/pprof/profile", pprof.Profile)
	if n.cfg.Token == "" {
		return mux
	}
	want := []byte("Bearer " + n.cfg.Token)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if subtle.ConstantTimeCompare([]byte(r.Header.Get("Authorization")), want) != 1 {
			n.metrics.unauthorizedReqs.Inc()
			w.Header().Set("WWW-Authenticate", `Bearer realm="kvstore"`)
			http.Error(w, "missing or wrong bearer token", http.StatusUnauthorized)
			return
		}
		mux.ServeHTTP(w, r)
	})
}

// key validates the {key} path value.
func (n *Node) key(w http.ResponseWriter, r *http.Request) (string, bool) {
	key := r.PathValue("key")
	if err := n.checkKey(key); err != nil {
		code := http.StatusBadRequest
		if key != "" {
			code = http.StatusRequestURITooLong
		}
		http.Error(w, err.Error(), code)
		return "", false
	}
	return key, true
}

func (n *Node) checkKey(key string) error {
	switch {
	case key == "":
		return errors.New("empty key")
	case len(key) > n.cfg.MaxKeyBytes:
		return fmt.Errorf("key of %d bytes exceeds the limit of %d", len(key), n.cfg.MaxKeyBytes)
	}
	return nil
}

// serveLocally reports whether this node holds a replica of shard, listed
// in its map (a replica being added or moved off serves only requests
// forwarded to it); if not, it forwards the request to a node that does
// and returns false. A node
// forwarded a request for a shard it does not hold (the sender's map was
// older) forwards it once more, by its own map; a node without the map yet
// (joining) forwards to the nodes it was configured with.
func (n *Node) serveLocally(w http.ResponseWriter, r *http.Request, shard int) bool {
	replicas := replicasOf(n.clusterMap(), shard)
	if n.host.HasGroup(GroupOf(shard)) && (r.Header.Get(forwardedHeader) != "" || slices.Contains(replicas, n.cfg.ID)) {
		return true
	}
	if r.Header.Get(forwardedHeader) != "" {
		if r.Header.Get(reforwardedHeader) != "" || len(replicas) == 0 {
			w.Header().Set("Retry-After", retryAfterSeconds)
			http.Error(w, fmt.Sprintf("node %d holds no replica of shard %d", n.cfg.ID, shard), http.StatusMisdirectedRequest)
			return false
		}
		r.Header.Set(reforwardedHeader, strconv.FormatUint(n.cfg.ID, 10))
	}
	if len(replicas) == 0 {
		replicas = slices.Sorted(maps.Keys(n.cfg.Members))
	}
	n.proxy(w, r, replicas)
	return false
}

// proxy forwards the request to one of nodes, marked as forwarded: to the
// first of them that is alive (as the transport last heard), or else to the
// first. A node that refuses the connection (it is down, and the request
// was not sent) is passed over for the next one.
func (n *Node) proxy(w http.ResponseWriter, r *http.Request, nodes []uint64) {
	m := n.clusterMap()
	var targets []uint64
	for _, id := range nodes {
		if _, ok := m.Members[id]; ok && id != n.cfg.ID {
			targets = append(targets, id)
		}
	}
	if len(targets) == 0 {
		w.Header().Set("Retry-After", retryAfterSeconds)
		http.Error(w, "no node to forward the request to", http.StatusServiceUnavailable)
		return
	}
	slices.SortStableFunc(targets, func(a, b uint64) int {
		return cmp.Compare(boolInt(!n.peerAlive(a)), boolInt(!n.peerAlive(b)))
	})
	// The body is kept to be sent again to the next node.
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxTxnBodyBytes))
	if err != nil {
		http.Error(w, "reading body: "+err.Error(), http.StatusBadRequest)
		return
	}
	for i, target := range targets {
		u := &url.URL{Scheme: n.scheme(), Host: m.Members[target].HTTP}
		refused := false
		p := &httputil.ReverseProxy{
			Rewrite: func(pr *httputil.ProxyRequest) {
				pr.SetURL(u)
				pr.Out.Header.Set(forwardedHeader, strconv.FormatUint(n.cfg.ID, 10))
			},
			Transport: n.forward,
			ErrorHandler: func(w http.ResponseWriter, _ *http.Request, err error) {
				if errors.Is(err, syscall.ECONNREFUSED) && i < len(targets)-1 {
					refused = true
					return
				}
				http.Error(w, fmt.Sprintf("forwarding to node %d: %v", target, err), http.StatusBadGateway)
			},
		}
		r.Body, r.ContentLength = io.NopCloser(bytes.NewReader(body)), int64(len(body))
		p.ServeHTTP(w, r)
		if !refused {
			return
		}
	}
}

// boolInt is 1 for true, 0 for false.
func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

func (n *Node) servePut(w http.ResponseWriter, r *http.Request) {
	key, ok := n.key(w, r)
	if !ok {
		return
	}
	shard := ShardOf(key, n.cfg.Shards)
	if !n.serveLocally(w, r, shard) {
		return
	}
	value, err := io.ReadAll(http.MaxBytesReader(w, r.Body, int64(n.cfg.MaxValueBytes)))
	var tooLarge *http.MaxBytesError
	switch {
	case errors.As(err, &tooLarge):
		http.Error(w, fmt.Sprintf("value exceeds the limit of %d bytes", n.cfg.MaxValueBytes), http.StatusRequestEntityTooLarge)
		return
	case err != nil:
		http.Error(w, "reading body: "+err.Error(), http.StatusBadRequest)
		return
	case len(value) == 0:
		http.Error(w, "empty value (use DELETE to remove a key)", http.StatusBadRequest)
		return
	}
	n.write(w, r, shard, []Op{{Kind: opPut, Key: key, Value: string(value)}})
}

func (n *Node) serveDelete(w http.ResponseWriter, r *http.Request) {
	key, ok := n.key(w, r)
	if !ok {
		return
	}
	shard := ShardOf(key, n.cfg.Shards)
	if n.serveLocally(w, r, shard) {
		n.write(w, r, shard, []Op{{Kind: opDelete, Key: key}})
	}
}

// txnRequest is the body of POST /txn.
type txnRequest struct {
	Ops []struct {
		Op    string  `json:"op"`
		Key   string  `json:"key"`
		Value *string `json:"value,omitempty"`
	} `json:"ops"`
}

func (n *Node) serveTxn(w http.ResponseWriter, r *http.Request) {
	var req txnRequest
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxTxnBodyBytes))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		http.Error(w, `malformed body, want {"ops":[{"op":"put","key":"k","value":"v"},{"op":"delete","key":"k"}]}: `+err.Error(),
			http.StatusBadRequest)
		return
	}
	ops, shard, err := n.txnOps(req)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	if n.serveLocally(w, r, shard) {
		n.write(w, r, shard, ops)
	}
}

// txnOps checks a transaction and returns its operations and shard.
func (n *Node) txnOps(req txnRequest) ([]Op, int, error) {
	if len(req.Ops) == 0 || len(req.Ops) > maxOpsPerCommand {
		return nil, 0, fmt.Errorf("a transaction has 1 to %d operations, not %d", maxOpsPerCommand, len(req.Ops))
	}
	ops := make([]Op, 0, len(req.Ops))
	shard := -1
	for i, o := range req.Ops {
		if err := n.checkKey(o.Key); err != nil {
			return nil, 0, fmt.Errorf("operation %d: %v", i, err)
		}
		op := Op{Key: o.Key}
		switch {
		case o.Op == "put" && o.Value != nil && *o.Value != "" && len(*o.Value) <= n.cfg.MaxValueBytes:
			op.Kind, op.Value = opPut, *o.Value
		case o.Op == "delete" && o.Value == nil:
			op.Kind = opDelete
		default:
			return nil, 0, fmt.Errorf(`operation %d: want {"op":"put","key":..,"value":..} with a value of 1 to %d bytes, or {"op":"delete","key":..}`,
				i, n.cfg.MaxValueBytes)
		}
		s := ShardOf(o.Key, n.cfg.Shards)
		if shard >= 0 && s != shard {
			return nil, 0, fmt.Errorf("keys %q (shard %d) and %q (shard %d) are in different shards; a transaction stays within one shard",
				ops[0].Key, shard, o.Key, s)
		}
		shard = s
		ops = append(ops, op)
	}
	return ops, shard, nil
}

// write replicates ops and answers 204 once applied on this node. A 504
// means the write's outcome is unknown; a 503 that it was not made.
func (n *Node) write(w http.ResponseWriter, r *http.Request, shard int, ops []Op) {
	ctx, cancel := context.WithTimeout(r.Context(), n.cfg.RequestTimeout)
	defer cancel()
	if err := n.propose(ctx, shard, ops); err != nil {
		n.fail(w, err, "write")
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// fail answers a failed write or read.
func (n *Node) fail(w http.ResponseWriter, err error, what string) {
	switch {
	case errors.Is(err, context.DeadlineExceeded):
		http.Error(w, fmt.Sprintf("the %s did not finish within %v; its outcome is unknown", what, n.cfg.RequestTimeout),
			http.StatusGatewayTimeout)
	case errors.Is(err, context.Canceled):
		http.Error(w, "request canceled", http.StatusServiceUnavailable)
	case what == "write" && (errors.Is(err, host.ErrStopped) || errors.Is(err, host.ErrGroupRemoved)):
		// The replica proposed the write, and may have passed it to the
		// leader, before it was removed (moved off) or its node stopped.
		http.Error(w, fmt.Sprintf("the replica serving the write went away before it finished (%v); its outcome is unknown", err),
			http.StatusGatewayTimeout)
	case errors.Is(err, host.ErrStopped), errors.Is(err, host.ErrUnknownGroup), errors.Is(err, host.ErrGroupRemoved):
		w.Header().Set("Retry-After", retryAfterSeconds)
		http.Error(w, err.Error(), http.StatusServiceUnavailable)
	default:
		http.Error(w, err.Error(), http.StatusInternalServerError)
	}
}

func (n *Node) serveGet(w http.ResponseWriter, r *http.Request) {
	key, ok := n.key(w, r)
	if !ok {
		return
	}
	stale := false
	if s := r.URL.Query().Get("stale"); s != "" {
		var err error
		if stale, err = strconv.ParseBool(s); err != nil {
			http.Error(w, "stale must be a boolean", http.StatusBadRequest)
			return
		}
	}
	shard := ShardOf(key, n.cfg.Shards)
	if !n.serveLocally(w, r, shard) {
		return
	}
	kind := "linearizable"
	if stale {
		kind = "stale"
	}
	ctx, cancel := context.WithTimeout(r.Context(), n.cfg.RequestTimeout)
	defer cancel()
	v, found, err := n.read(ctx, shard, key, stale)
	switch {
	case err != nil:
		n.metrics.reads.WithLabelValues(kind, "failed").Inc()
		n.fail(w, err, "read")
	case !found:
		n.metrics.reads.WithLabelValues(kind, "not_found").Inc()
		http.Error(w, "key not found", http.StatusNotFound)
	default:
		n.metrics.reads.WithLabelValues(kind, "found").Inc()
		w.Header().Set("Content-Type", "application/octet-stream")
		_, _ = io.WriteString(w, v)
	}
}

func (n *Node) serveStatus(w http.ResponseWriter, _ *http.Request) {
	st, err := n.Status()
	if err != nil {
		http.Error(w, err.Error(), http.StatusServiceUnavailable)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(st)
}

func (n *Node) serveMembers(w http.ResponseWriter, _ *http.Request) {
	m := n.clusterMap()
	type member struct {
		ID uint64 `json:"id"`
		Member
		Shards  int  `json:"shards"`
		Leads   int  `json:"prefersToLead"`
		Leaving bool `json:"leaving,omitempty"`
	}
	out := []member{}
	for _, id := range slices.Sorted(maps.Keys(m.Members)) {
		mem := member{ID: id, Member: m.Members[id], Leaving: slices.Contains(m.Leaving, id)}
		for _, replicas := range m.Shards {
			if slices.Contains(replicas, id) {
				mem.Shards++
			}
			if replicas[0] == id {
				mem.Leads++
			}
		}
		out = append(out, mem)
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]any{"version": m.Version, "members": out})
}

func (n *Node) servePause(w http.ResponseWriter, r *http.Request) {
	ms, err := strconv.ParseUint(r.URL.Query().Get("ms"), 10, 32)
	if err != nil {
		http.Error(w, "ms must be a non-negative integer", http.StatusBadRequest)
		return
	}
	n.pause.pauseFor(time.Duration(ms) * time.Millisecond)
	n.cfg.Logger.Warn("transport paused", "ms", ms)
	w.WriteHeader(http.StatusNoContent)
}
