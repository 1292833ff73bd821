package transport

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"
)

// TLSConfig turns on mutual TLS for a TCP transport. Both sides of every
// connection present a certificate, verify the other's against RootCAs, and
// check that it binds the node id the other side claims (see NodeURI).
type TLSConfig struct {
	// RootCAs verifies the certificates of peers, in both directions. Use
	// a CA dedicated to one cluster: any certificate it signed for node N
	// may speak as node N.
	RootCAs *x509.CertPool
	// Certificate is this node's certificate chain and key. Its leaf must
	// carry exactly one URI SAN NodeURI(NodeID) and the extended key
	// usages ServerAuth and ClientAuth, and verify against RootCAs.
	Certificate tls.Certificate
}

// nodeURIScheme and nodeURIHost form NodeURI's pontoon://node/<id>.
const (
	nodeURIScheme = "pontoon"
	nodeURIHost   = "node"
)

// NodeURI returns the URI that binds a certificate to node id:
// pontoon://node/<id>, with id in decimal. A certificate proves the node id
// when it carries this URI as a Subject Alternative Name and verifies
// against the cluster's CA; host names and IP addresses are not checked, so
// nodes may move between addresses without new certificates.
func NodeURI(id uint64) *url.URL {
	return &url.URL{Scheme: nodeURIScheme, Host: nodeURIHost, Path: "/" + strconv.FormatUint(id, 10)}
}

// errNoNodeURI and errManyNodeURIs are the identity problems
// NodeIDFromCertificate reports.
var (
	errNoNodeURI    = errors.New("certificate has no pontoon://node/<id> URI SAN")
	errManyNodeURIs = errors.New("certificate has more than one pontoon://node/<id> URI SAN")
)

// NodeIDFromCertificate returns the node id cert is bound to by its
// NodeURI SAN. A certificate with no such URI, with several, or with a
// malformed or zero id binds none and gives an error wrapping
// ErrIdentityMismatch. It does not verify the certificate's chain.
func NodeIDFromCertificate(cert *x509.Certificate) (uint64, error) {
	var id uint64
	found := false
	for _, u := range cert.URIs {
		if u.Scheme != nodeURIScheme || u.Host != nodeURIHost {
			continue
		}
		if found {
			return 0, fmt.Errorf("%w: %w", ErrIdentityMismatch, errManyNodeURIs)
		}
		digits, slash := strings.CutPrefix(u.Path, "/")
		n, err := strconv.ParseUint(digits, 10, 64)
		if !slash || err != nil || n == 0 || u.RawQuery != "" || u.Fragment != "" || u.User != nil || u.Port() != "" {
			return 0, fmt.Errorf("%w: malformed node URI %q", ErrIdentityMismatch, u.String())
		}
		id, found = n, true
	}
	if !found {
		return 0, fmt.Errorf("%w: %w", ErrIdentityMismatch, errNoNodeURI)
	}
	return id, nil
}

// leaf returns the parsed leaf of c.
func leaf(c *tls.Certificate) (*x509.Certificate, error) {
	if c.Leaf != nil {
		return c.Leaf, nil
	}
	if len(c.Certificate) == 0 {
		return nil, errors.New("certificate chain is empty")
	}
	return x509.ParseCertificate(c.Certificate[0])
}

// validate checks that the configuration can prove node id to peers.
func (c *TLSConfig) validate(id uint64) error {
	if c.RootCAs == nil {
		return fmt.Errorf("%w: TLS.RootCAs is nil", ErrInvalidConfig)
	}
	l, err := leaf(&c.Certificate)
	if err != nil {
		return fmt.Errorf("%w: TLS.Certificate: %v", ErrInvalidConfig, err)
	}
	bound, err := NodeIDFromCertificate(l)
	if err != nil {
		return fmt.Errorf("%w: TLS.Certificate: %v", ErrInvalidConfig, err)
	}
	if bound != id {
		return fmt.Errorf("%w: TLS.Certificate is for node %d, but NodeID is %d", ErrInvalidConfig, bound, id)
	}
	intermediates := x509.NewCertPool()
	for _, der := range c.Certificate.Certificate[1:] {
		if ic, err := x509.ParseCertificate(der); err == nil {
			intermediates.AddCert(ic)
		}
	}
	if _, err := l.Verify(x509.VerifyOptions{
		Roots: c.RootCAs, Intermediates: intermediates,
		KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
	}); err != nil {
		return fmt.Errorf("%w: TLS.Certificate does not verify against TLS.RootCAs for both server and client use: %v", ErrInvalidConfig, err)
	}
	return nil
}

// serverConfig is the tls.Config for accepted connections: a client
// certificate verified against RootCAs is required. The node id it binds is
// checked against the Hello after the handshake.
func (c *TLSConfig) serverConfig() *tls.Config {
	return &tls.Config{
		MinVersion:   tls.VersionTLS13,
		Certificates: []tls.Certificate{c.Certificate},
		ClientAuth:   tls.RequireAndVerifyClientCert,
		ClientCAs:    c.RootCAs,
	}
}

// clientConfig is the tls.Config for dialing node peer. Go's own server
// check is replaced by VerifyConnection, which verifies the chain against
// RootCAs and requires the certificate to bind peer, instead of matching
// a host name.
func (c *TLSConfig) clientConfig(peer uint64) *tls.Config {
	cert := &c.Certificate
	return &tls.Config{
		MinVersion: tls.VersionTLS13,
		// Present the certificate even when the server asks for another CA,
		// so a misconfigured node is refused with a clear "unknown
		// authority" rather than "no certificate".
		GetClientCertificate: func(*tls.CertificateRequestInfo) (*tls.Certificate, error) { return cert, nil },
		InsecureSkipVerify:   true, // replaced by VerifyConnection below, which verifies the chain
		VerifyConnection: func(cs tls.ConnectionState) error {
			return verifyPeer(cs, c.RootCAs, peer)
		},
	}
}

// verifyPeer verifies the server certificate of a TLS connection against
// roots, for server use, and checks that it binds node want.
func verifyPeer(cs tls.ConnectionState, roots *x509.CertPool, want uint64) error {
	if len(cs.PeerCertificates) == 0 {
		return fmt.Errorf("%w: peer presented no certificate", ErrIdentityMismatch)
	}
	intermediates := x509.NewCertPool()
	for _, ic := range cs.PeerCertificates[1:] {
		intermediates.AddCert(ic)
	}
	l := cs.PeerCertificates[0]
	if _, err := l.Verify(x509.VerifyOptions{
		Roots: roots, Intermediates: intermediates,
		KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}); err != nil {
		return fmt.Errorf("transport: peer certificate: %w", err)
	}
	got, err := NodeIDFromCertificate(l)
	if err != nil {
		return err
	}
	if got != want {
		return fmt.Errorf("%w: dialed node %d, its certificate is for node %d", ErrIdentityMismatch, want, got)
	}
	return nil
}

// peerCertificateID returns the node id bound to the verified client
// certificate of an accepted TLS connection.
func peerCertificateID(cs tls.ConnectionState) (uint64, error) {
	if len(cs.PeerCertificates) == 0 {
		return 0, fmt.Errorf("%w: peer presented no certificate", ErrIdentityMismatch)
	}
	return NodeIDFromCertificate(cs.PeerCertificates[0])
}
