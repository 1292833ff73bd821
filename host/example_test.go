package host_test

import (
	"context"
	"fmt"
	"io"
	"log"
	"net"
	"os"
	"strconv"
	"time"

	"github.com/pontoon-raft/raft/host"
	"github.com/pontoon-raft/raft/transport"
	"github.com/pontoon-raft/raft/transport/devcert"
)

// counter is the replicated state: a number every command adds to.
type counter struct{ n int64 }

func (c *counter) Apply(cmds []host.Command) error {
	for i := range cmds {
		d, err := strconv.ParseInt(string(cmds[i].Data), 10, 64)
		if err == nil { // a bad command changes nothing, on every replica
			c.n += d
		}
		cmds[i].Result = strconv.AppendInt(nil, c.n, 10)
	}
	return nil
}

func (c *counter) PrepareSnapshot() (host.Snapshot, error) {
	return host.BytesSnapshot(strconv.AppendInt(nil, c.n, 10)), nil
}

func (c *counter) Restore(r io.Reader) error {
	b, err := io.ReadAll(r)
	if err == nil {
		c.n, err = strconv.ParseInt(string(b), 10, 64)
	}
	return err
}

func (c *counter) Close() error { return nil }

// A counter replicated on three hosts, each in its own directory, talking
// over TCP with mutual TLS. Any host may propose: followers forward to the
// leader, and each Propose returns the counter after its command.
func Example() {
	ca, _ := devcert.NewCA("counter")
	listeners, addrs := map[uint64]net.Listener{}, map[uint64]string{}
	for id := uint64(1); id <= 3; id++ {
		listeners[id], _ = net.Listen("tcp", "127.0.0.1:0")
		addrs[id] = listeners[id].Addr().String()
	}
	var hosts []*host.Host
	for id := uint64(1); id <= 3; id++ {
		dir, _ := os.MkdirTemp("", "counter")
		defer os.RemoveAll(dir)
		cert, _ := ca.NodeCertificate(id)
		h, err := host.New(host.Config{
			NodeID: id, Dir: dir, TickInterval: 20 * time.Millisecond,
			NewStateMachine: func(group uint64) (host.StateMachine, error) { return &counter{}, nil },
			NewTransport: host.TCP(transport.TCPConfig{NodeID: id, ClusterID: 1, Peers: addrs,
				TLS: &transport.TLSConfig{RootCAs: ca.Pool(), Certificate: cert}}, listeners[id]),
		})
		if err != nil {
			log.Fatal(err)
		}
		defer h.Stop()
		if err := h.StartGroup(1, []uint64{1, 2, 3}); err != nil {
			log.Fatal(err)
		}
		hosts = append(hosts, h)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for _, h := range hosts {
		result, err := h.Propose(ctx, 1, []byte("5"))
		if err != nil {
			log.Fatal(err)
		}
		fmt.Printf("host %d: counter = %s\n", h.ID(), result)
	}
	// Output:
	// host 1: counter = 5
	// host 2: counter = 10
	// host 3: counter = 15
}
