package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/pontoon-raft/raft"
	"github.com/pontoon-raft/raft/examples/kvstore/internal/transport"
	pb "github.com/pontoon-raft/raft/raftpb"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// retryAfterSeconds is what a 503 asks clients to wait: about one election.
const retryAfterSeconds = "1"

// maxMemberBodyBytes bounds the body of POST /members/{id}.
const maxMemberBodyBytes = 4 << 10

// Handler returns the node's HTTP API:
//
//	PUT    /kv/{key}        body = value; 204 once applied on this node (the
//	                        key is the rest of the path and may contain "/")
//	GET    /kv/{key}        linearizable (ReadIndex); ?stale=1 reads locally
//	DELETE /kv/{key}        204 once applied on this node
//	GET    /status          raft Status as JSON
//	GET    /members         member ids and URLs
//	POST   /members/{id}    body {"url": "http://host:port"}: add a voter
//	DELETE /members/{id}    remove a member
//	GET    /metrics         Prometheus metrics
//	POST   /debug/pause     ?ms=N: drop all raft traffic for N ms
//	POST   /raft/...        the transport between nodes
//
// Writes sent to a follower are forwarded to the leader by raft itself
// (proposal forwarding), and the follower answers once the entry is
// applied on its own copy of the state machine.
func (n *Node) Handler() http.Handler {
	mux := http.NewServeMux()
	for _, p := range transport.Paths() {
		mux.Handle(p, n.transport.Handler())
	}
	// A key is the rest of the path, so it may hold "/" (escaped or not).
	mux.HandleFunc("GET /kv/{key...}", n.serveGet)
	mux.HandleFunc("PUT /kv/{key...}", n.servePut)
	mux.HandleFunc("DELETE /kv/{key...}", n.serveDelete)
	mux.HandleFunc("/kv", func(w http.ResponseWriter, _ *http.Request) {
		http.Error(w, "no key: use /kv/{key}", http.StatusBadRequest)
	})
	mux.HandleFunc("/kv/", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Allow", "GET, PUT, DELETE")
		http.Error(w, fmt.Sprintf("method %s not allowed on /kv/{key}: use GET, PUT or DELETE", r.Method),
			http.StatusMethodNotAllowed)
	})
	mux.HandleFunc("GET /status", n.serveStatus)
	mux.HandleFunc("GET /members", n.serveMembers)
	mux.HandleFunc("POST /members/{id}", n.serveAddMember)
	mux.HandleFunc("DELETE /members/{id}", n.serveRemoveMember)
	mux.Handle("GET /metrics", promhttp.HandlerFor(n.metrics.registry, promhttp.HandlerOpts{}))
	mux.HandleFunc("POST /debug/pause", n.servePause)
	return mux
}

// key validates the {key} path value.
func (n *Node) key(w http.ResponseWriter, r *http.Request) (string, bool) {
	key := r.PathValue("key")
	switch {
	case key == "":
		http.Error(w, "empty key", http.StatusBadRequest)
		return "", false
	case len(key) > n.cfg.MaxKeyBytes:
		http.Error(w, fmt.Sprintf("key of %d bytes exceeds the limit of %d", len(key), n.cfg.MaxKeyBytes),
			http.StatusRequestURITooLong)
		return "", false
	}
	return key, true
}

func (n *Node) servePut(w http.ResponseWriter, r *http.Request) {
	key, ok := n.key(w, r)
	if !ok {
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
	n.write(w, r, command{Op: opPut, Key: key, Value: string(value)})
}

func (n *Node) serveDelete(w http.ResponseWriter, r *http.Request) {
	if key, ok := n.key(w, r); ok {
		n.write(w, r, command{Op: opDelete, Key: key})
	}
}

// write proposes c and answers once this node applied it. A 503 means the
// write was certainly not made; a 504 means its outcome is unknown.
func (n *Node) write(w http.ResponseWriter, r *http.Request, c command) {
	c.RequestID = n.requestID.Add(1)
	n.proposeAndWait(w, r, c.RequestID, proposal{data: c.encode()})
}

func (n *Node) proposeAndWait(w http.ResponseWriter, r *http.Request, id uint64, p proposal) {
	if n.leader.Load() == raft.None {
		noLeader(w)
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), n.cfg.RequestTimeout)
	defer cancel()
	done := n.waiters.register(id)
	p.err = make(chan error, 1)
	var err error
	select {
	case n.propc <- p:
		err = <-p.err
	case <-ctx.Done():
		err = ctx.Err()
	}
	if err != nil {
		n.waiters.cancel(id)
		if errors.Is(err, raft.ErrProposalDropped) {
			noLeader(w)
		} else {
			http.Error(w, "proposal not accepted: "+err.Error(), http.StatusServiceUnavailable)
		}
		return
	}
	select {
	case err := <-done:
		if err != nil {
			http.Error(w, err.Error(), http.StatusConflict)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	case <-ctx.Done():
		n.waiters.cancel(id)
		n.metrics.proposals.WithLabelValues("timeout").Inc()
		http.Error(w, "timed out waiting for the write to apply; its outcome is unknown", http.StatusGatewayTimeout)
	}
}

func noLeader(w http.ResponseWriter) {
	w.Header().Set("Retry-After", retryAfterSeconds)
	http.Error(w, "no leader", http.StatusServiceUnavailable)
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
	kind := "stale"
	if !stale {
		kind = "linearizable"
		if !n.readIndex(w, r) {
			n.metrics.reads.WithLabelValues(kind, "failed").Inc()
			return
		}
	}
	v, found := n.kv.get(key)
	if !found {
		n.metrics.reads.WithLabelValues(kind, "not_found").Inc()
		http.Error(w, "key not found", http.StatusNotFound)
		return
	}
	n.metrics.reads.WithLabelValues(kind, "found").Inc()
	w.Header().Set("Content-Type", "application/octet-stream")
	_, _ = io.WriteString(w, v)
}

// readIndex waits until this node's state machine reflects every write
// committed before the request arrived (thesis §6.4); on failure it has
// written the error response.
func (n *Node) readIndex(w http.ResponseWriter, r *http.Request) bool {
	if n.leader.Load() == raft.None {
		noLeader(w)
		return false
	}
	ctx, cancel := context.WithTimeout(r.Context(), n.cfg.RequestTimeout)
	defer cancel()
	deadline, _ := ctx.Deadline()
	req := &readRequest{id: n.requestID.Add(1), deadline: deadline, done: make(chan struct{})}
	select {
	case n.readc <- req:
	case <-ctx.Done():
		http.Error(w, "node busy", http.StatusServiceUnavailable)
		return false
	}
	select {
	case <-req.done:
		return true
	case <-ctx.Done():
		http.Error(w, "timed out confirming leadership for a linearizable read", http.StatusGatewayTimeout)
		return false
	}
}

// Status returns the raft status of the node, asking the Raft loop.
func (n *Node) Status(ctx context.Context) (raft.Status, error) {
	c := make(chan raft.Status, 1)
	select {
	case n.statusc <- c:
	case <-ctx.Done():
		return raft.Status{}, ctx.Err()
	case <-n.done:
		return raft.Status{}, raft.ErrStopped
	}
	select {
	case s := <-c:
		return s, nil
	case <-ctx.Done():
		return raft.Status{}, ctx.Err()
	}
}

func (n *Node) serveStatus(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), n.cfg.RequestTimeout)
	defer cancel()
	s, err := n.Status(ctx)
	if err != nil {
		http.Error(w, err.Error(), http.StatusServiceUnavailable)
		return
	}
	b, err := s.MarshalJSON()
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(b)
}

func (n *Node) serveMembers(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(n.kv.memberURLs())
}

func memberID(w http.ResponseWriter, r *http.Request) (uint64, bool) {
	id, err := strconv.ParseUint(r.PathValue("id"), 10, 64)
	if err != nil || id == 0 {
		http.Error(w, "member id must be a positive integer", http.StatusBadRequest)
		return 0, false
	}
	return id, true
}

func (n *Node) serveAddMember(w http.ResponseWriter, r *http.Request) {
	id, ok := memberID(w, r)
	if !ok {
		return
	}
	var body struct {
		URL string `json:"url"`
	}
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxMemberBodyBytes))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&body); err != nil {
		http.Error(w, "malformed body, want {\"url\": \"http://host:port\"}: "+err.Error(), http.StatusBadRequest)
		return
	}
	if u, err := url.Parse(body.URL); err != nil || u.Scheme != "http" || u.Host == "" || (u.Path != "" && u.Path != "/") {
		http.Error(w, "url must look like http://host:port", http.StatusBadRequest)
		return
	}
	if _, known := n.kv.memberURLs()[id]; known {
		http.Error(w, fmt.Sprintf("node %d is already a member", id), http.StatusConflict)
		return
	}
	reqID := n.requestID.Add(1)
	cc := pb.ConfChange{Type: pb.ConfChangeAddNode, NodeID: id, Context: []byte(body.URL), ID: reqID}
	n.proposeAndWait(w, r, reqID, proposal{cc: &cc})
}

func (n *Node) serveRemoveMember(w http.ResponseWriter, r *http.Request) {
	id, ok := memberID(w, r)
	if !ok {
		return
	}
	if _, known := n.kv.memberURLs()[id]; !known {
		http.Error(w, fmt.Sprintf("node %d is not a member", id), http.StatusNotFound)
		return
	}
	reqID := n.requestID.Add(1)
	cc := pb.ConfChange{Type: pb.ConfChangeRemoveNode, NodeID: id, ID: reqID}
	n.proposeAndWait(w, r, reqID, proposal{cc: &cc})
}

func (n *Node) servePause(w http.ResponseWriter, r *http.Request) {
	ms, err := strconv.ParseUint(r.URL.Query().Get("ms"), 10, 32)
	if err != nil {
		http.Error(w, "ms must be a non-negative integer", http.StatusBadRequest)
		return
	}
	n.transport.Pause(time.Duration(ms) * time.Millisecond)
	n.logger.Printf("transport paused for %d ms", ms)
	w.WriteHeader(http.StatusNoContent)
}
