package host

import (
	"maps"
	"net"

	"github.com/pontoon-raft/raft/transport"
)

// TCP returns a Config.NewTransport that runs this host's messages over
// transport.TCP, built from cfg with its Handler set to the host, serving
// connections from ln until the host stops. cfg.Peers may be the whole
// cluster's address book: the host's own entry is left out.
func TCP(cfg transport.TCPConfig, ln net.Listener) func(transport.Handler) (transport.Transport, error) {
	return func(h transport.Handler) (transport.Transport, error) {
		cfg := cfg
		cfg.Handler = h
		cfg.Peers = maps.Clone(cfg.Peers)
		delete(cfg.Peers, cfg.NodeID)
		t, err := transport.NewTCP(cfg)
		if err != nil {
			return nil, err
		}
		go func() { _ = t.Serve(ln) }()
		return t, nil
	}
}
