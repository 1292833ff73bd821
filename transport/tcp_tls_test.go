package transport

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"net"
	"net/url"
	"testing"
	"time"

	"github.com/pontoon-raft/raft/transport/devcert"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// tlsFor returns node id's TLSConfig from ca.
func tlsFor(t *testing.T, ca *devcert.CA, id uint64) *TLSConfig {
	t.Helper()
	cert, err := ca.NodeCertificate(id)
	require.NoError(t, err)
	return &TLSConfig{RootCAs: ca.Pool(), Certificate: cert}
}

func newCA(t *testing.T, name string) *devcert.CA {
	t.Helper()
	ca, err := devcert.NewCA(name)
	require.NoError(t, err)
	return ca
}

func TestTLSMessagesAndSnapshots(t *testing.T) {
	ca := newCA(t, "cluster")
	n2 := startTCP(t, TCPConfig{NodeID: 2, TLS: tlsFor(t, ca, 2)})
	n1 := startTCP(t, TCPConfig{NodeID: 1, TLS: tlsFor(t, ca, 1), Peers: map[uint64]string{2: n2.addr}})
	n1.Send([]GroupMessage{heartbeat(1, 1, 2), appendMsg(1, 1, 2, 1, 1000)})
	n2.r.waitFor(t, "two messages", func() bool { return len(n2.r.messages()) == 2 })

	b := &patternBody{size: 1 << 20}
	n1.SendSnapshot(OutgoingSnapshot{Group: 1, Message: snapMsg(1, 1, 2, 9), Body: b})
	n1.r.waitFor(t, "the snapshot outcome", func() bool { return len(n1.r.snapshotReports()) == 1 })
	require.NoError(t, n1.r.snapshotReports()[0].err)
	assert.Len(t, n2.r.stored[1], 1<<20)
}

// tlsRefusal is a peer that tries to talk to a TLS node and must be
// refused.
type tlsRefusal struct {
	name string
	// dial connects to the listener at addr and tries the handshake as
	// node 1; it returns the error the dialer saw.
	dial func(t *testing.T, addr string) error
	// dialerErr is what the dialer's error must wrap, if anything.
	dialerErr error
	// listenerLog is the reason the listener must log.
	listenerLog string
}

func TestTLSRefusesPeersThatDoNotBelong(t *testing.T) {
	ca := newCA(t, "cluster")
	other := newCA(t, "another cluster")
	n2 := startTCP(t, TCPConfig{NodeID: 2, TLS: tlsFor(t, ca, 2)})

	// asNode dials as a full transport for node claimed, with tlsCfg.
	asNode := func(claimed uint64, tlsCfg *TLSConfig) func(t *testing.T, addr string) error {
		return func(t *testing.T, addr string) error {
			g := ghost(t, 1)
			g.cfg.NodeID = claimed
			g.cfg.TLS = tlsCfg
			_, err := g.dial(context.Background(), 2, addr, ClassControl)
			return err
		}
	}
	// rawTLS dials with a hand-made tls.Config and says hello as node 1.
	rawTLS := func(certs []tls.Certificate) func(t *testing.T, addr string) error {
		return func(t *testing.T, addr string) error {
			g := ghost(t, 1)
			raw, err := net.Dial("tcp", addr)
			require.NoError(t, err)
			defer raw.Close()
			conn := tls.Client(raw, &tls.Config{
				MinVersion: tls.VersionTLS13, RootCAs: ca.Pool(), ServerName: "localhost", Certificates: certs,
			})
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			_, err = g.clientHandshake(ctx, conn, 2, ClassControl)
			return err
		}
	}
	noURI, err := ca.Issue("no node id", nil)
	require.NoError(t, err)
	twoURIs, err := ca.Issue("two node ids", []*url.URL{devcert.NodeURI(1), devcert.NodeURI(3)})
	require.NoError(t, err)

	tests := []tlsRefusal{
		{
			name:        "no certificate",
			dial:        rawTLS(nil),
			listenerLog: "client didn't provide a certificate",
		},
		{
			name:        "certificate from another CA",
			dial:        asNode(1, &TLSConfig{RootCAs: ca.Pool(), Certificate: tlsFor(t, other, 1).Certificate}),
			listenerLog: "certificate signed by unknown authority",
		},
		{
			name:        "valid certificate for another node id",
			dial:        asNode(1, tlsFor(t, ca, 3)),
			dialerErr:   ErrIdentityMismatch,
			listenerLog: "the peer claims node 1, its certificate is for node 3",
		},
		{
			name:        "valid certificate without a node id",
			dial:        rawTLS([]tls.Certificate{noURI}),
			dialerErr:   ErrIdentityMismatch,
			listenerLog: "certificate has no pontoon://node/<id> URI SAN",
		},
		{
			name:        "valid certificate with two node ids",
			dial:        rawTLS([]tls.Certificate{twoURIs}),
			dialerErr:   ErrIdentityMismatch,
			listenerLog: "more than one pontoon://node/<id> URI SAN",
		},
		{
			name:        "plaintext",
			dial:        asNode(1, nil),
			listenerLog: "TLS handshake",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.dial(t, n2.addr)
			require.Error(t, err, "the listener must refuse")
			if tt.dialerErr != nil {
				assert.ErrorIs(t, err, tt.dialerErr)
			}
			n2.r.waitFor(t, "the refusal in the listener's log", func() bool { return n2.log.contains(tt.listenerLog) })
		})
	}
	assert.Empty(t, n2.r.messages())
	n2.obs.read(func(o *countingObserver) { assert.Len(t, o.handshakeFailures, len(tests)) })
}

func TestTLSDialerRefusesListenersThatDoNotBelong(t *testing.T) {
	ca := newCA(t, "cluster")
	other := newCA(t, "another cluster")
	n1 := ghost(t, 1)
	n1.cfg.TLS = tlsFor(t, ca, 1)
	tests := []struct {
		name   string
		server *TLSConfig
		want   string
	}{
		{"listener is another node", tlsFor(t, ca, 3), "dialed node 2, its certificate is for node 3"},
		{"listener from another CA", &TLSConfig{RootCAs: ca.Pool(), Certificate: tlsFor(t, other, 2).Certificate}, "certificate signed by unknown authority"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// The listener is node 3 posing as node 2 (or node 2 with a
			// foreign certificate); it never gets to see a Hello.
			srv := ghost(t, 3)
			srv.cfg.TLS = tt.server
			srv.serverTLS = &tls.Config{MinVersion: tls.VersionTLS13, Certificates: []tls.Certificate{tt.server.Certificate},
				ClientAuth: tls.RequireAnyClientCert}
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			require.NoError(t, err)
			go func() { _ = srv.Serve(ln) }()
			_, err = n1.dial(context.Background(), 2, ln.Addr().String(), ClassControl)
			require.Error(t, err)
			assert.Contains(t, err.Error(), tt.want)
		})
	}
}

func TestTLSConfigValidation(t *testing.T) {
	ca := newCA(t, "cluster")
	other := newCA(t, "other")
	noURI, err := ca.Issue("no node id", nil)
	require.NoError(t, err)
	tests := []struct {
		name string
		tls  *TLSConfig
	}{
		{"no roots", &TLSConfig{Certificate: tlsFor(t, ca, 1).Certificate}},
		{"no certificate", &TLSConfig{RootCAs: ca.Pool()}},
		{"certificate of another node", tlsFor(t, ca, 2)},
		{"certificate without node id", &TLSConfig{RootCAs: ca.Pool(), Certificate: noURI}},
		{"certificate not from RootCAs", &TLSConfig{RootCAs: ca.Pool(), Certificate: tlsFor(t, other, 1).Certificate}},
	}
	for _, tt := range tests {
		_, err := NewTCP(TCPConfig{NodeID: 1, Handler: newRecorder(), TLS: tt.tls})
		assert.ErrorIs(t, err, ErrInvalidConfig, tt.name)
	}
}

func TestNodeIDFromCertificate(t *testing.T) {
	u := func(s string) *url.URL {
		parsed, err := url.Parse(s)
		require.NoError(t, err)
		return parsed
	}
	tests := []struct {
		uris []*url.URL
		want uint64
	}{
		{[]*url.URL{NodeURI(7)}, 7},
		{[]*url.URL{u("spiffe://x/y"), NodeURI(18446744073709551615)}, 18446744073709551615},
		{nil, 0},
		{[]*url.URL{u("pontoon://node/0")}, 0},
		{[]*url.URL{u("pontoon://node/-1")}, 0},
		{[]*url.URL{u("pontoon://node/7?x=1")}, 0},
		{[]*url.URL{u("pontoon://node/7/8")}, 0},
		{[]*url.URL{u("pontoon://user@node/7")}, 0},
		{[]*url.URL{u("pontoon://nodes/7")}, 0},
		{[]*url.URL{NodeURI(1), NodeURI(1)}, 0},
	}
	for _, tt := range tests {
		id, err := NodeIDFromCertificate(&x509.Certificate{URIs: tt.uris})
		if tt.want == 0 {
			assert.ErrorIs(t, err, ErrIdentityMismatch, "%v", tt.uris)
			continue
		}
		require.NoError(t, err, "%v", tt.uris)
		assert.Equal(t, tt.want, id)
	}
	assert.Equal(t, "pontoon://node/42", NodeURI(42).String())
	assert.Equal(t, NodeURI(42).String(), devcert.NodeURI(42).String(), "devcert issues the URI transport expects")
}
