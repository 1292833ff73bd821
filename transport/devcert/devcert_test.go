package devcert_test

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"log"
	"testing"

	"github.com/pontoon-raft/raft/transport"
	"github.com/pontoon-raft/raft/transport/devcert"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func verifies(t *testing.T, pool *x509.CertPool, c tls.Certificate) {
	t.Helper()
	leaf, err := x509.ParseCertificate(c.Certificate[0])
	require.NoError(t, err)
	for _, usage := range []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth} {
		_, err := leaf.Verify(x509.VerifyOptions{Roots: pool, KeyUsages: []x509.ExtKeyUsage{usage}})
		assert.NoError(t, err, "usage %v", usage)
	}
}

func TestNodeCertificateBindsTheNode(t *testing.T) {
	ca, err := devcert.NewCA("test")
	require.NoError(t, err)
	c, err := ca.NodeCertificate(12)
	require.NoError(t, err)
	verifies(t, ca.Pool(), c)
	id, err := transport.NodeIDFromCertificate(c.Leaf)
	require.NoError(t, err)
	assert.Equal(t, uint64(12), id)
	assert.Equal(t, transport.NodeURI(12).String(), devcert.NodeURI(12).String())

	_, err = ca.NodeCertificate(0)
	assert.Error(t, err)
}

func TestPEMRoundTrip(t *testing.T) {
	ca, err := devcert.NewCA("test")
	require.NoError(t, err)
	keyPEM, err := ca.KeyPEM()
	require.NoError(t, err)
	loaded, err := devcert.LoadCA(ca.CertPEM(), keyPEM)
	require.NoError(t, err)
	certPEM, nodeKeyPEM, err := loaded.NodePEM(3)
	require.NoError(t, err)
	pair, err := tls.X509KeyPair(certPEM, nodeKeyPEM)
	require.NoError(t, err)
	verifies(t, ca.Pool(), pair)

	_, err = devcert.LoadCA(certPEM, nodeKeyPEM)
	assert.Error(t, err, "a node certificate is not a CA")
	_, err = devcert.LoadCA([]byte("junk"), keyPEM)
	assert.Error(t, err)
}

// A demo generates a CA at start-up and gives each node its certificate.
func Example() {
	ca, err := devcert.NewCA("demo cluster")
	if err != nil {
		log.Fatal(err)
	}
	cert, err := ca.NodeCertificate(3)
	if err != nil {
		log.Fatal(err)
	}
	cfg := &transport.TLSConfig{RootCAs: ca.Pool(), Certificate: cert}
	id, _ := transport.NodeIDFromCertificate(cfg.Certificate.Leaf)
	fmt.Println(cfg.Certificate.Leaf.URIs[0], id)
	// Output: pontoon://node/3 3
}
