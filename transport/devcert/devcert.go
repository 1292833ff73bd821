// Package devcert creates a certificate authority and node certificates for
// the TCP transport's mutual TLS, for tests and demos.
//
// A node certificate binds a node id the way package transport expects: one
// URI Subject Alternative Name pontoon://node/<id> (transport.NodeURI), the
// extended key usages ServerAuth and ClientAuth (a node both dials and
// accepts), and, for tools such as curl, the names localhost, 127.0.0.1 and
// ::1. Keys are ECDSA P-256. Everything is generated in memory; the PEM
// methods write the usual files for processes that load them.
//
// The keys and the long validity make these certificates unfit for
// production, where certificates come from the operator's own CA and are
// rotated.
package devcert

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"net/url"
	"strconv"
	"time"
)

// Validity is how long the certificates this package issues are valid,
// counted from an hour before they are made (to absorb clock skew).
const Validity = 10 * 365 * 24 * time.Hour

// CA is a certificate authority that issues node certificates.
type CA struct {
	// Certificate is the CA's self-signed certificate.
	Certificate *x509.Certificate
	// Key is the CA's private key, for issuing certificates of one's own
	// (for example broken ones in tests).
	Key crypto.Signer
}

// NewCA generates a CA named commonName.
func NewCA(commonName string) (*CA, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("devcert: generating the CA key: %w", err)
	}
	serial, err := serialNumber()
	if err != nil {
		return nil, err
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: commonName},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(Validity),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		return nil, fmt.Errorf("devcert: signing the CA certificate: %w", err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, fmt.Errorf("devcert: parsing the CA certificate: %w", err)
	}
	return &CA{Certificate: cert, Key: key}, nil
}

// LoadCA reads a CA from PEM, as written by CertPEM and KeyPEM.
func LoadCA(certPEM, keyPEM []byte) (*CA, error) {
	pair, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		return nil, fmt.Errorf("devcert: loading the CA: %w", err)
	}
	cert, err := x509.ParseCertificate(pair.Certificate[0])
	if err != nil {
		return nil, fmt.Errorf("devcert: parsing the CA certificate: %w", err)
	}
	if !cert.IsCA {
		return nil, errors.New("devcert: the certificate is not a CA")
	}
	key, ok := pair.PrivateKey.(crypto.Signer)
	if !ok {
		return nil, errors.New("devcert: the CA key cannot sign")
	}
	return &CA{Certificate: cert, Key: key}, nil
}

// Pool returns a pool holding only the CA, for transport.TLSConfig.RootCAs.
func (ca *CA) Pool() *x509.CertPool {
	p := x509.NewCertPool()
	p.AddCert(ca.Certificate)
	return p
}

// CertPEM returns the CA certificate in PEM.
func (ca *CA) CertPEM() []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: ca.Certificate.Raw})
}

// KeyPEM returns the CA key in PEM (PKCS #8).
func (ca *CA) KeyPEM() ([]byte, error) { return keyPEM(ca.Key) }

// NodeURI returns pontoon://node/<id>, the URI that binds a certificate to
// node id. It is transport.NodeURI, repeated here so this package needs no
// import of transport (whose own tests use this package).
func NodeURI(id uint64) *url.URL {
	return &url.URL{Scheme: "pontoon", Host: "node", Path: "/" + strconv.FormatUint(id, 10)}
}

// NodeCertificate issues a certificate and key for node id, ready for
// transport.TLSConfig.Certificate.
func (ca *CA) NodeCertificate(id uint64) (tls.Certificate, error) {
	if id == 0 {
		return tls.Certificate{}, errors.New("devcert: node id 0 is reserved")
	}
	return ca.Issue(fmt.Sprintf("pontoon node %d", id), []*url.URL{NodeURI(id)})
}

// Issue issues a certificate and key named commonName carrying exactly the
// given URI SANs, with the key usages and names of a node certificate. With
// a NodeURI it is a node certificate; without one it is what tests use to
// show a certificate that binds no node is refused.
func (ca *CA) Issue(commonName string, uris []*url.URL) (tls.Certificate, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("devcert: generating a key: %w", err)
	}
	serial, err := serialNumber()
	if err != nil {
		return tls.Certificate{}, err
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: commonName},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.Add(Validity),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
		URIs:         uris,
		DNSNames:     []string{"localhost"},
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.Certificate, key.Public(), ca.Key)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("devcert: signing a certificate: %w", err)
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("devcert: parsing a certificate: %w", err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}, nil
}

// NodePEM issues a certificate for node id and returns it and its key in
// PEM, for tls.LoadX509KeyPair or tls.X509KeyPair.
func (ca *CA) NodePEM(id uint64) (certPEM, keyPEMBytes []byte, err error) {
	c, err := ca.NodeCertificate(id)
	if err != nil {
		return nil, nil, err
	}
	signer, ok := c.PrivateKey.(crypto.Signer)
	if !ok {
		return nil, nil, errors.New("devcert: the node key cannot sign")
	}
	k, err := keyPEM(signer)
	if err != nil {
		return nil, nil, err
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Certificate[0]}), k, nil
}

func keyPEM(k crypto.Signer) ([]byte, error) {
	der, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		return nil, fmt.Errorf("devcert: encoding a key: %w", err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), nil
}

func serialNumber() (*big.Int, error) {
	n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return nil, fmt.Errorf("devcert: drawing a serial number: %w", err)
	}
	return n, nil
}
