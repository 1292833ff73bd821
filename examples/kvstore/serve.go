package main

import (
	"errors"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/pontoon-raft/raft/examples/kvstore/internal/server"
)

// serve runs one node until SIGINT or SIGTERM.
func serve(args []string) error {
	fs := flag.NewFlagSet("serve", flag.ExitOnError)
	var cfg server.Config
	fs.Uint64Var(&cfg.ID, "id", 0, "this node's raft id (> 0)")
	listen := fs.String("listen", "127.0.0.1:7001", "address to serve the API and the raft transport on")
	peers := fs.String("peers", "", "initial members: id=host:port,... (this node included)")
	fs.StringVar(&cfg.DataDir, "data", "", "data directory (created if missing)")
	fs.BoolVar(&cfg.Join, "join", false, "join an existing cluster (after POST /members/{id} on it) instead of bootstrapping")
	fs.DurationVar(&cfg.TickInterval, "tick", 100*time.Millisecond, "raft tick interval")
	fs.IntVar(&cfg.ElectionTicks, "election-ticks", 10, "election timeout in ticks")
	fs.Uint64Var(&cfg.SnapshotEntries, "snapshot-entries", 10000, "snapshot and compact the log every N applied entries (0: never)")
	fs.Uint64Var(&cfg.SnapshotCatchUpEntries, "snapshot-catchup", 5000, "entries kept below a snapshot for lagging followers")
	fs.IntVar(&cfg.MaxKeyBytes, "max-key-bytes", 1024, "largest key accepted")
	fs.IntVar(&cfg.MaxValueBytes, "max-value-bytes", 1<<20, "largest value accepted")
	fs.DurationVar(&cfg.RequestTimeout, "request-timeout", 5*time.Second, "how long a request waits for its write or read")
	fs.IntVar(&cfg.SendQueueSize, "send-queue", 4096, "messages queued per peer before dropping")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if cfg.ID == 0 || cfg.DataDir == "" {
		return errors.New("serve needs --id and --data")
	}
	var err error
	if cfg.Peers, err = parsePeers(*peers); err != nil {
		return err
	}
	if _, ok := cfg.Peers[cfg.ID]; !ok && !cfg.Join {
		return fmt.Errorf("--peers must include this node (%d) unless --join is set", cfg.ID)
	}
	node, err := server.Open(cfg)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		node.Stop()
		return err
	}
	srv := &http.Server{Handler: node.Handler(), ReadHeaderTimeout: 10 * time.Second}
	go node.Run()
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	fmt.Fprintf(os.Stderr, "node %d serving on %s\n", cfg.ID, ln.Addr())

	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGINT, syscall.SIGTERM)
	select {
	case s := <-sig:
		fmt.Fprintf(os.Stderr, "node %d: %v, stopping\n", cfg.ID, s)
		err = nil
	case err = <-errc:
	}
	srv.Close()
	node.Stop()
	return err
}

// parsePeers parses "1=127.0.0.1:7001,2=http://127.0.0.1:7002" into base
// URLs by id.
func parsePeers(s string) (map[uint64]string, error) {
	peers := map[uint64]string{}
	if s == "" {
		return peers, nil
	}
	for _, part := range strings.Split(s, ",") {
		idStr, addr, ok := strings.Cut(strings.TrimSpace(part), "=")
		id, err := strconv.ParseUint(idStr, 10, 64)
		if !ok || err != nil || id == 0 || addr == "" {
			return nil, fmt.Errorf("bad peer %q, want id=host:port", part)
		}
		if !strings.HasPrefix(addr, "http://") {
			addr = "http://" + addr
		}
		if _, dup := peers[id]; dup {
			return nil, fmt.Errorf("peer %d listed twice", id)
		}
		peers[id] = strings.TrimSuffix(addr, "/")
	}
	return peers, nil
}
