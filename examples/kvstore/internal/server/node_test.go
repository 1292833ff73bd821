package server

import (
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	pb "github.com/pontoon-raft/raft/raftpb"
	"github.com/pontoon-raft/raft/transport"
	"github.com/pontoon-raft/raft/transport/devcert"
)

func freePort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()
	return ln.Addr().String()
}

// newTestNode runs node 1 of a one-node cluster with shards shards, mutual
// TLS with ca's certificates and token, and returns it and its API.
func newTestNode(t *testing.T, ca *devcert.CA, shards int, token string) (*Node, *httptest.Server) {
	t.Helper()
	cert, err := ca.NodeCertificate(1)
	require.NoError(t, err)
	n, err := Open(Config{
		ID: 1, Members: map[uint64]Member{1: {HTTP: freePort(t), Raft: freePort(t)}},
		Shards: shards, DataDir: t.TempDir(), Token: token,
		TLS:          &transport.TLSConfig{RootCAs: ca.Pool(), Certificate: cert},
		TickInterval: 10 * time.Millisecond,
		Logger:       slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	require.NoError(t, err)
	srv := httptest.NewServer(n.Handler())
	t.Cleanup(func() {
		srv.Close()
		require.NoError(t, n.Close())
	})
	return n, srv
}

func call(t *testing.T, method, url, token, body string) (int, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, url, strings.NewReader(body))
	require.NoError(t, err)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp.StatusCode, string(b)
}

// keysOfShards returns two keys of one shard and one of another.
func keysOfShards(shards int) (a, b, other string) {
	byShard := map[int]string{}
	for i := 0; ; i++ {
		k := "k" + strings.Repeat("x", i%7) + string(rune('a'+i%26)) + string(rune('a'+i/26%26))
		s := ShardOf(k, shards)
		if prev, ok := byShard[s]; ok && a == "" {
			a, b = prev, k
		} else if !ok {
			byShard[s] = k
		}
		if a != "" {
			for s2, k2 := range byShard {
				if s2 != ShardOf(a, shards) {
					return a, b, k2
				}
			}
		}
	}
}

func TestAPI(t *testing.T) {
	ca, err := devcert.NewCA("test")
	require.NoError(t, err)
	_, srv := newTestNode(t, ca, 4, "secret")
	kv := srv.URL + "/kv/"

	code, _ := call(t, http.MethodPut, kv+"a", "", "1")
	assert.Equal(t, http.StatusUnauthorized, code, "no token")
	code, _ = call(t, http.MethodGet, srv.URL+"/status", "wrong", "")
	assert.Equal(t, http.StatusUnauthorized, code, "wrong token")
	code, _ = call(t, http.MethodGet, srv.URL+"/debug/pprof/", "", "")
	assert.Equal(t, http.StatusUnauthorized, code, "profiles need the token too")
	code, body := call(t, http.MethodGet, srv.URL+"/debug/pprof/", "secret", "")
	assert.Equal(t, http.StatusOK, code)
	assert.Contains(t, body, "goroutine", "the profiles' index")

	code, _ = call(t, http.MethodPut, kv+"dir/a", "secret", "1")
	require.Equal(t, http.StatusNoContent, code)
	code, body = call(t, http.MethodGet, kv+"dir/a", "secret", "")
	assert.Equal(t, http.StatusOK, code)
	assert.Equal(t, "1", body)
	code, body = call(t, http.MethodGet, kv+"dir/a?stale=1", "secret", "")
	assert.Equal(t, http.StatusOK, code)
	assert.Equal(t, "1", body)
	code, _ = call(t, http.MethodDelete, kv+"dir/a", "secret", "")
	assert.Equal(t, http.StatusNoContent, code)
	code, _ = call(t, http.MethodGet, kv+"dir/a", "secret", "")
	assert.Equal(t, http.StatusNotFound, code)

	a, b, other := keysOfShards(4)
	code, body = call(t, http.MethodPost, srv.URL+"/txn", "secret",
		`{"ops":[{"op":"put","key":"`+a+`","value":"A"},{"op":"put","key":"`+b+`","value":"B"}]}`)
	require.Equal(t, http.StatusNoContent, code, body)
	for k, want := range map[string]string{a: "A", b: "B"} {
		_, got := call(t, http.MethodGet, kv+k, "secret", "")
		assert.Equal(t, want, got)
	}
	code, body = call(t, http.MethodPost, srv.URL+"/txn", "secret",
		`{"ops":[{"op":"delete","key":"`+a+`"},{"op":"put","key":"`+other+`","value":"X"}]}`)
	assert.Equal(t, http.StatusBadRequest, code)
	assert.Contains(t, body, "different shards")
	_, got := call(t, http.MethodGet, kv+a, "secret", "")
	assert.Equal(t, "A", got, "a refused transaction changes nothing")

	for _, bad := range []struct{ method, path, body string }{
		{http.MethodPut, "/kv/", "x"},
		{http.MethodPut, "/kv/k", ""},
		{http.MethodPost, "/txn", `{"ops":[]}`},
		{http.MethodPost, "/txn", `{"ops":[{"op":"put","key":"k"}]}`},
		{http.MethodPost, "/txn", `{"ops":[{"op":"rename","key":"k"}]}`},
		{http.MethodPost, "/txn", `not json`},
		{http.MethodGet, "/kv/k?stale=maybe", ""},
	} {
		code, _ := call(t, bad.method, srv.URL+bad.path, "secret", bad.body)
		assert.Equal(t, http.StatusBadRequest, code, "%s %s %q", bad.method, bad.path, bad.body)
	}
	code, _ = call(t, http.MethodPut, kv+strings.Repeat("k", 2000), "secret", "v")
	assert.Equal(t, http.StatusRequestURITooLong, code)

	// A shard that no request touched may still be electing its leader
	// (its self-vote waits for a storage write): wait for all four.
	require.Eventually(t, func() bool {
		code, body = call(t, http.MethodGet, srv.URL+"/status", "secret", "")
		return code == http.StatusOK && strings.Contains(body, `"leads":4`)
	}, 10*time.Second, 10*time.Millisecond, "the node leads every shard: %s", body)
	assert.Contains(t, body, `"shards":4`)
	code, body = call(t, http.MethodGet, srv.URL+"/metrics", "secret", "")
	require.Equal(t, http.StatusOK, code)
	assert.Contains(t, body, `kvstore_shard_is_leader{shard="3"} 1`)
	assert.Contains(t, body, `kvstore_http_unauthorized_total 3`)
}

// stubHandler is a transport.Handler that takes nothing.
type stubHandler struct{}

func (stubHandler) HandleMessages(uint64, []transport.GroupMessage) {}
func (stubHandler) HasGroup(uint64) bool                            { return true }
func (stubHandler) ReceiveSnapshot(uint64, uint64, pb.Message) (transport.SnapshotSink, error) {
	return nil, io.EOF
}
func (stubHandler) ReportUnreachable(uint64, []uint64)   {}
func (stubHandler) ReportSnapshot(uint64, uint64, error) {}

// countingObserver counts the connections a transport brought up and the
// handshakes it saw fail.
type countingObserver struct {
	transport.NopObserver
	up, failed chan struct{}
}

func (o *countingObserver) ConnectionUp(uint64, transport.Class, transport.Direction) {
	select {
	case o.up <- struct{}{}:
	default:
	}
}

func (o *countingObserver) HandshakeFailed(uint64, transport.Direction, error) {
	select {
	case o.failed <- struct{}{}:
	default:
	}
}

func TestNodeWithAWrongCertificateIsRefused(t *testing.T) {
	ca, err := devcert.NewCA("cluster")
	require.NoError(t, err)
	n, _ := newTestNode(t, ca, 2, "")
	rogue, err := devcert.NewCA("someone else")
	require.NoError(t, err)

	for _, tc := range []struct {
		name     string
		ca       *devcert.CA
		accepted bool
	}{
		{"certificate of another CA", rogue, false},
		{"certificate of the cluster's CA", ca, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cert, err := tc.ca.NodeCertificate(2)
			require.NoError(t, err)
			obs := &countingObserver{up: make(chan struct{}, 1), failed: make(chan struct{}, 1)}
			tr, err := transport.NewTCP(transport.TCPConfig{
				NodeID: 2, ClusterID: 1, Handler: stubHandler{}, Observer: obs,
				Peers:  map[uint64]string{1: n.cfg.Members[1].Raft},
				TLS:    &transport.TLSConfig{RootCAs: tc.ca.Pool(), Certificate: cert},
				Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
			})
			require.NoError(t, err)
			defer tr.Close()
			tr.Send([]transport.GroupMessage{{Group: 1, Message: pb.Message{Type: pb.MsgHeartbeat, From: 2, To: 1}}})
			select {
			case <-obs.up:
				assert.True(t, tc.accepted, "the node accepted a connection it should have refused")
			case <-obs.failed:
				assert.False(t, tc.accepted, "the node refused a good certificate")
				// The node saw the refused handshake too.
				assert.Eventually(t, func() bool {
					return testutil.ToFloat64(n.metrics.handshakeFailed.WithLabelValues("incoming")) > 0
				}, 10*time.Second, 10*time.Millisecond, "the node counted no failed handshake")
			case <-time.After(10 * time.Second):
				t.Fatal("neither connected nor refused")
			}
		})
	}
}
