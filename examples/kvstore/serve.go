package main

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/pontoon-raft/raft/examples/kvstore/internal/server"
	"github.com/pontoon-raft/raft/transport"
	"github.com/pontoon-raft/raft/transport/devcert"
)

// serve runs one node until SIGINT or SIGTERM.
func serve(args []string) error {
	fs := flag.NewFlagSet("serve", flag.ExitOnError)
	var cfg server.Config
	fs.Uint64Var(&cfg.ID, "id", 0, "this node's id (> 0), one of --peers")
	peers := fs.String("peers", "", "HTTP API address of every node: id=host:port,... (this node included; it listens on its own)")
	raftPeers := fs.String("raft-peers", "", "Raft transport address of every node: id=host:port,... (same ids as --peers)")
	fs.StringVar(&cfg.DataDir, "data", "", "data directory (created if missing)")
	fs.BoolVar(&cfg.Join, "join", false, "join a running cluster: start no shard and wait for POST /members/{id} on the cluster")
	fs.IntVar(&cfg.Shards, "shards", 64, "number of shards; every node of a cluster must use the same")
	fs.Uint64Var(&cfg.ClusterID, "cluster-id", 1, "cluster id; nodes of other clusters are refused")
	caFile := fs.String("ca", "", "PEM file of the CA that signs the node certificates")
	certFile := fs.String("cert", "", "PEM file of this node's certificate (URI SAN pontoon://node/<id>)")
	keyFile := fs.String("key", "", "PEM file of this node's private key")
	insecure := fs.Bool("insecure-transport", false, "talk to the other nodes in plaintext (tests only)")
	clientTLS := fs.Bool("client-tls", false, "serve the HTTP API over TLS with the node certificate")
	fs.StringVar(&cfg.Token, "token", "", "bearer token every API request must carry (none: no check)")
	fs.DurationVar(&cfg.TickInterval, "tick", 100*time.Millisecond, "Raft tick interval")
	fs.IntVar(&cfg.ElectionTicks, "election-ticks", 10, "election timeout in ticks")
	fs.Uint64Var(&cfg.SnapshotEntries, "snapshot-entries", 10000, "snapshot a shard every N applied entries")
	fs.Uint64Var(&cfg.CompactLagEntries, "snapshot-catchup", 5000, "entries kept below a snapshot for lagging replicas")
	fs.IntVar(&cfg.MaxKeyBytes, "max-key-bytes", 1024, "largest key accepted")
	fs.IntVar(&cfg.MaxValueBytes, "max-value-bytes", 1<<20, "largest value accepted")
	fs.DurationVar(&cfg.RequestTimeout, "request-timeout", 5*time.Second, "how long a write or linearizable read may take")
	logLevel := fs.String("log-level", "warn", "least severe log lines written to standard error: debug, info, warn or error")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if cfg.ID == 0 || cfg.DataDir == "" {
		return errors.New("serve needs --id and --data")
	}
	var level slog.Level
	if err := level.UnmarshalText([]byte(*logLevel)); err != nil {
		return fmt.Errorf("--log-level: %w", err)
	}
	cfg.Logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
	var err error
	if cfg.Members, err = parseMembers(*peers, *raftPeers); err != nil {
		return err
	}
	var cert tls.Certificate
	if *insecure && (*caFile != "" || *certFile != "" || *keyFile != "") {
		return errors.New("--insecure-transport and --ca/--cert/--key contradict each other: choose plaintext or mutual TLS between nodes")
	}
	if !*insecure {
		if *caFile == "" || *certFile == "" || *keyFile == "" {
			return errors.New("mutual TLS between nodes needs --ca, --cert and --key (see `kvstore certs`), or --insecure-transport")
		}
		pool, err := loadPool(*caFile)
		if err != nil {
			return err
		}
		if cert, err = tls.LoadX509KeyPair(*certFile, *keyFile); err != nil {
			return fmt.Errorf("loading the node certificate: %w", err)
		}
		cfg.TLS = &transport.TLSConfig{RootCAs: pool, Certificate: cert}
		cfg.ForwardRootCAs = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS13}
	}
	if *clientTLS {
		if cfg.TLS == nil {
			return errors.New("--client-tls needs --ca, --cert and --key")
		}
		cfg.ServeTLS = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	}
	node, err := server.Open(cfg)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", cfg.Members[cfg.ID].HTTP)
	if err != nil {
		node.Close()
		return err
	}
	if cfg.ServeTLS != nil {
		ln = tls.NewListener(ln, cfg.ServeTLS)
	}
	srv := &http.Server{Handler: node.Handler(), ReadHeaderTimeout: 10 * time.Second}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	fmt.Fprintf(os.Stderr, "node %d serving the API on %s and Raft on %s, %d shards\n",
		cfg.ID, ln.Addr(), cfg.Members[cfg.ID].Raft, cfg.Shards)

	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGINT, syscall.SIGTERM)
	select {
	case s := <-sig:
		fmt.Fprintf(os.Stderr, "node %d: %v, stopping\n", cfg.ID, s)
		err = nil
	case err = <-errc:
	}
	srv.Close()
	if cerr := node.Close(); err == nil {
		err = cerr
	}
	return err
}

func loadPool(file string) (*x509.CertPool, error) {
	b, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(b) {
		return nil, fmt.Errorf("%s holds no PEM certificate", file)
	}
	return pool, nil
}

// parseAddrs parses "1=127.0.0.1:7001,2=127.0.0.1:7002" by id.
func parseAddrs(s string) (map[uint64]string, error) {
	out := map[uint64]string{}
	for _, part := range strings.Split(s, ",") {
		idStr, addr, ok := strings.Cut(strings.TrimSpace(part), "=")
		id, err := strconv.ParseUint(idStr, 10, 64)
		if !ok || err != nil || id == 0 || addr == "" {
			return nil, fmt.Errorf("bad address %q, want id=host:port", part)
		}
		if _, _, err := net.SplitHostPort(addr); err != nil {
			return nil, fmt.Errorf("bad address %q: %v", part, err)
		}
		if _, dup := out[id]; dup {
			return nil, fmt.Errorf("node %d listed twice", id)
		}
		out[id] = addr
	}
	return out, nil
}

// parseMembers joins --peers and --raft-peers.
func parseMembers(httpAddrs, raftAddrs string) (map[uint64]server.Member, error) {
	h, err := parseAddrs(httpAddrs)
	if err != nil {
		return nil, fmt.Errorf("--peers: %w", err)
	}
	r, err := parseAddrs(raftAddrs)
	if err != nil {
		return nil, fmt.Errorf("--raft-peers: %w", err)
	}
	members := map[uint64]server.Member{}
	for id, a := range h {
		if r[id] == "" {
			return nil, fmt.Errorf("node %d is in --peers but not in --raft-peers", id)
		}
		members[id] = server.Member{HTTP: a, Raft: r[id]}
	}
	if len(r) != len(h) {
		return nil, errors.New("--peers and --raft-peers list different nodes")
	}
	return members, nil
}

// certs writes a CA and node certificates for a demo or a test cluster.
func certs(args []string) error {
	fs := flag.NewFlagSet("certs", flag.ExitOnError)
	dir := fs.String("dir", "", "directory to write ca.pem, ca-key.pem, node-<id>.pem and node-<id>-key.pem into")
	nodes := fs.Int("nodes", 3, "certificates for nodes 1 to N")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *dir == "" || *nodes < 1 {
		return errors.New("certs needs --dir and --nodes >= 1")
	}
	ca, err := devcert.NewCA("kvstore dev CA")
	if err != nil {
		return err
	}
	ids := make([]uint64, *nodes)
	for i := range ids {
		ids[i] = uint64(i + 1)
	}
	return writeCerts(ca, *dir, ids)
}

// writeCerts writes ca's certificate and key and a certificate and key per
// node into dir.
func writeCerts(ca *devcert.CA, dir string, ids []uint64) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	caKey, err := ca.KeyPEM()
	if err != nil {
		return err
	}
	files := map[string][]byte{"ca.pem": ca.CertPEM(), "ca-key.pem": caKey}
	for _, id := range ids {
		c, k, err := ca.NodePEM(id)
		if err != nil {
			return err
		}
		files[fmt.Sprintf("node-%d.pem", id)] = c
		files[fmt.Sprintf("node-%d-key.pem", id)] = k
	}
	for name, b := range files {
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o600); err != nil {
			return err
		}
	}
	return nil
}
