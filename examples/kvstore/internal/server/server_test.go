package server

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// testNode runs a node in this process behind an httptest server.
type testNode struct {
	node *Node
	srv  *httptest.Server
}

func testConfig(dir string, peers map[uint64]string) Config {
	return Config{
		ID: 1, Peers: peers, DataDir: dir,
		TickInterval: 10 * time.Millisecond, ElectionTicks: 10,
		SnapshotEntries: 20, SnapshotCatchUpEntries: 5,
		MaxKeyBytes: 16, MaxValueBytes: 32, RequestTimeout: 2 * time.Second, SendQueueSize: 64,
	}
}

func startNode(t *testing.T, cfg Config) *testNode {
	t.Helper()
	return startOn(t, cfg, httptest.NewUnstartedServer(nil))
}

// startOn starts a node on srv, whose listener (and so its URL) exists
// before the node does.
func startOn(t *testing.T, cfg Config, srv *httptest.Server) *testNode {
	t.Helper()
	n, err := Open(cfg)
	require.NoError(t, err)
	go n.Run()
	srv.Config.Handler = n.Handler()
	srv.Start()
	tn := &testNode{node: n, srv: srv}
	t.Cleanup(tn.stop)
	return tn
}

func (tn *testNode) stop() {
	tn.node.Stop()
	// Peers' streams into this server never end on their own.
	tn.srv.CloseClientConnections()
	tn.srv.Close()
}

func (tn *testNode) do(t *testing.T, method, path, body string) (int, string, http.Header) {
	t.Helper()
	req, err := http.NewRequest(method, tn.srv.URL+path, strings.NewReader(body))
	require.NoError(t, err)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp.StatusCode, string(b), resp.Header
}

// startSingle starts a one-node cluster and waits until it leads.
func startSingle(t *testing.T, dir string) *testNode {
	tn := startNode(t, testConfig(dir, map[uint64]string{1: "http://127.0.0.1:1"}))
	require.Eventually(t, func() bool { return tn.node.leader.Load() == 1 }, 5*time.Second, 5*time.Millisecond)
	return tn
}

func TestAPI(t *testing.T) {
	tn := startSingle(t, t.TempDir())
	for _, tc := range []struct {
		name, method, path, body string
		code                     int
		resp                     string
	}{
		{"put", "PUT", "/kv/a", "1", http.StatusNoContent, ""},
		{"linearizable get", "GET", "/kv/a", "", http.StatusOK, "1"},
		{"stale get", "GET", "/kv/a?stale=1", "", http.StatusOK, "1"},
		{"overwrite", "PUT", "/kv/a", "2", http.StatusNoContent, ""},
		{"get overwritten", "GET", "/kv/a", "", http.StatusOK, "2"},
		{"delete", "DELETE", "/kv/a", "", http.StatusNoContent, ""},
		{"get deleted", "GET", "/kv/a", "", http.StatusNotFound, "key not found\n"},
		{"empty key", "PUT", "/kv/", "x", http.StatusBadRequest, "empty key\n"},
		{"no key", "PUT", "/kv", "x", http.StatusBadRequest, "no key: use /kv/{key}\n"},
		{"key with a slash", "PUT", "/kv/dir/a", "3", http.StatusNoContent, ""},
		{"read it back", "GET", "/kv/dir/a", "", http.StatusOK, "3"},
		{"escaped slash is the same key", "GET", "/kv/dir%2Fa", "", http.StatusOK, "3"},
		{"other methods", "POST", "/kv/a", "x", http.StatusMethodNotAllowed, ""},
		{"oversized key", "PUT", "/kv/" + strings.Repeat("k", 17), "x", http.StatusRequestURITooLong, ""},
		{"empty value", "PUT", "/kv/b", "", http.StatusBadRequest, ""},
		{"oversized value", "PUT", "/kv/b", strings.Repeat("v", 33), http.StatusRequestEntityTooLarge, ""},
		{"largest value", "PUT", "/kv/b", strings.Repeat("v", 32), http.StatusNoContent, ""},
		{"bad stale flag", "GET", "/kv/b?stale=maybe", "", http.StatusBadRequest, ""},
		{"malformed member body", "POST", "/members/2", "{url:", http.StatusBadRequest, ""},
		{"unknown member field", "POST", "/members/2", `{"addr":"http://x:1"}`, http.StatusBadRequest, ""},
		{"bad member url", "POST", "/members/2", `{"url":"ftp://x"}`, http.StatusBadRequest, ""},
		{"bad member id", "POST", "/members/zero", `{"url":"http://x:1"}`, http.StatusBadRequest, ""},
		{"existing member", "POST", "/members/1", `{"url":"http://x:1"}`, http.StatusConflict, ""},
		{"remove unknown member", "DELETE", "/members/9", "", http.StatusNotFound, ""},
		{"bad pause", "POST", "/debug/pause?ms=-1", "", http.StatusBadRequest, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, body, _ := tn.do(t, tc.method, tc.path, tc.body)
			assert.Equal(t, tc.code, code, body)
			if tc.resp != "" {
				assert.Equal(t, tc.resp, body)
			}
		})
	}
	code, body, _ := tn.do(t, "GET", "/status", "")
	assert.Equal(t, http.StatusOK, code)
	assert.Contains(t, body, `"raftState":"StateLeader"`)
	code, body, _ = tn.do(t, "GET", "/metrics", "")
	assert.Equal(t, http.StatusOK, code)
	for _, name := range []string{"kvstore_raft_term", "kvstore_raft_leader_changes_total", "kvstore_proposals_total",
		"kvstore_commit_latency_seconds", "kvstore_apply_duration_seconds", "kvstore_ready_loop_duration_seconds",
		"kvstore_fsync_duration_seconds"} {
		assert.Contains(t, body, name)
	}
}

func TestNoLeaderAnswers503WithRetryAfter(t *testing.T) {
	// Node 1 of a 3-node cluster whose peers never start: no leader.
	tn := startNode(t, testConfig(t.TempDir(), map[uint64]string{
		1: "http://127.0.0.1:1", 2: "http://127.0.0.1:2", 3: "http://127.0.0.1:3"}))
	for _, method := range []string{"PUT", "GET", "DELETE"} {
		code, _, hdr := tn.do(t, method, "/kv/a", "v")
		assert.Equal(t, http.StatusServiceUnavailable, code, method)
		assert.Equal(t, retryAfterSeconds, hdr.Get("Retry-After"), method)
	}
}

func TestRecoveryFromSnapshotAndLog(t *testing.T) {
	dir := t.TempDir()
	tn := startSingle(t, dir)
	// 45 writes with a snapshot every 20 entries: two snapshots, and the
	// last writes only in the log.
	for i := 0; i < 45; i++ {
		code, body, _ := tn.do(t, "PUT", "/kv/k"+strings.Repeat("x", i%3), string(rune('a'+i%26)))
		require.Equal(t, http.StatusNoContent, code, body)
	}
	code, _, _ := tn.do(t, "PUT", "/kv/last", "45")
	require.Equal(t, http.StatusNoContent, code)
	snap, err := tn.node.storage.Snapshot()
	require.NoError(t, err)
	assert.GreaterOrEqual(t, snap.Metadata.Index, uint64(40))
	first, _ := tn.node.storage.FirstIndex()
	assert.Greater(t, first, uint64(1), "the log was compacted")
	applied := tn.node.applied.Load()
	tn.stop()

	tn = startSingle(t, dir)
	assert.GreaterOrEqual(t, tn.node.applied.Load(), applied)
	code, body, _ := tn.do(t, "GET", "/kv/last", "")
	assert.Equal(t, http.StatusOK, code)
	assert.Equal(t, "45", body)
	code, body, _ = tn.do(t, "GET", "/kv/kxx", "")
	assert.Equal(t, http.StatusOK, code)
	assert.Equal(t, string(rune('a'+44%26)), body)
}

func TestCommandEncoding(t *testing.T) {
	for _, c := range []command{
		{Op: opPut, RequestID: 1, Key: "k", Value: "v"},
		{Op: opDelete, RequestID: 1<<63 + 5, Key: strings.Repeat("long", 100)},
		{Op: opPut, RequestID: 7, Key: "k", Value: string([]byte{0, 1, 2})},
	} {
		got, err := decodeCommand(c.encode())
		require.NoError(t, err)
		assert.Equal(t, c, got)
	}
	good := command{Op: opPut, RequestID: 1, Key: "k", Value: "v"}.encode()
	for name, b := range map[string][]byte{
		"short":         good[:5],
		"bad op":        append([]byte{9}, good[1:]...),
		"truncated":     good[:len(good)-1],
		"trailing byte": append(append([]byte(nil), good...), 0),
	} {
		_, err := decodeCommand(b)
		assert.ErrorIs(t, err, errBadCommand, name)
	}
}

func TestStatusStopsWithNode(t *testing.T) {
	tn := startSingle(t, t.TempDir())
	tn.stop()
	_, err := tn.node.Status(context.Background())
	assert.Error(t, err)
}

// TestMembershipAddAndRemove grows a one-node cluster to two with POST
// /members; the new node's log is behind the leader's compaction point, so
// it catches up through a snapshot sent by the transport. Then it is
// removed again with DELETE /members.
func TestMembershipAddAndRemove(t *testing.T) {
	srv1, srv2 := httptest.NewUnstartedServer(nil), httptest.NewUnstartedServer(nil)
	url1, url2 := "http://"+srv1.Listener.Addr().String(), "http://"+srv2.Listener.Addr().String()
	n1 := startOn(t, testConfig(t.TempDir(), map[uint64]string{1: url1}), srv1)
	require.Eventually(t, func() bool { return n1.node.leader.Load() == 1 }, 5*time.Second, 5*time.Millisecond)
	for i := 0; i < 30; i++ {
		code, _, _ := n1.do(t, "PUT", "/kv/k", "v"+string(rune('a'+i%26)))
		require.Equal(t, http.StatusNoContent, code)
	}
	first, _ := n1.node.storage.FirstIndex()
	require.Greater(t, first, uint64(1), "the leader compacted its log")

	cfg2 := testConfig(t.TempDir(), map[uint64]string{1: url1})
	cfg2.ID, cfg2.Join = 2, true
	n2 := startOn(t, cfg2, srv2)
	code, body, _ := n1.do(t, "POST", "/members/2", `{"url":"`+url2+`"}`)
	require.Equal(t, http.StatusNoContent, code, body)
	code, body, _ = n1.do(t, "PUT", "/kv/after", "join")
	require.Equal(t, http.StatusNoContent, code, body)
	require.Eventually(t, func() bool {
		_, body, _ := n2.do(t, "GET", "/kv/after?stale=1", "")
		return body == "join"
	}, 10*time.Second, 10*time.Millisecond)
	_, body, _ = n2.do(t, "GET", "/kv/k?stale=1", "")
	assert.Equal(t, "v"+string(rune('a'+29%26)), body, "state from the snapshot")
	_, body, _ = n2.do(t, "GET", "/metrics", "")
	assert.Contains(t, body, `kvstore_snapshots_total{kind="installed"} 1`)

	code, body, _ = n1.do(t, "DELETE", "/members/2", "")
	require.Equal(t, http.StatusNoContent, code, body)
	_, body, _ = n1.do(t, "GET", "/members", "")
	assert.NotContains(t, body, url2)
	code, _, _ = n1.do(t, "PUT", "/kv/alone", "again")
	assert.Equal(t, http.StatusNoContent, code, "a single voter commits alone again")
}
