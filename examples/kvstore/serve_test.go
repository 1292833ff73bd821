package main

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

// Plaintext between nodes and certificates for mutual TLS cannot both be
// asked for: serve used to keep TLS silently.
func TestServeRefusesPlaintextWithCertificates(t *testing.T) {
	err := serve([]string{"--id", "1", "--data", t.TempDir(),
		"--peers", "1=127.0.0.1:1", "--raft-peers", "1=127.0.0.1:2",
		"--insecure-transport", "--ca", "ca.pem", "--cert", "node-1.pem", "--key", "node-1-key.pem"})
	assert.ErrorContains(t, err, "contradict")
}

// An unknown log level is refused before the node starts.
func TestServeRefusesAnUnknownLogLevel(t *testing.T) {
	err := serve([]string{"--id", "1", "--data", t.TempDir(),
		"--peers", "1=127.0.0.1:1", "--raft-peers", "1=127.0.0.1:2", "--insecure-transport", "--log-level", "loud"})
	assert.ErrorContains(t, err, "--log-level")
}
