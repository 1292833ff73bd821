package transport_test

import (
	"bytes"
	"fmt"
	"io"
	"log"
	"log/slog"
	"net"
	"strings"
	"time"

	pb "github.com/pontoon-raft/raft/raftpb"
	"github.com/pontoon-raft/raft/transport"
	"github.com/pontoon-raft/raft/transport/devcert"
)

// host is a toy Handler: it prints what arrives and stores snapshot
// bodies in memory. A real host steps messages into the RawNode of their
// group and reports to it.
type host struct {
	id   uint64
	out  chan string // every event, as a line
	body bytes.Buffer
}

func (h *host) HandleMessages(from uint64, msgs []transport.GroupMessage) {
	for _, gm := range msgs {
		h.out <- fmt.Sprintf("node %d got %v of group %d from node %d", h.id, gm.Message.Type, gm.Group, from)
	}
}

func (h *host) HasGroup(group uint64) bool { return group < 100 }

func (h *host) ReceiveSnapshot(from, group uint64, m pb.Message) (transport.SnapshotSink, error) {
	h.body.Reset()
	return sink{h}, nil
}

func (h *host) ReportUnreachable(to uint64, groups []uint64) {
	h.out <- fmt.Sprintf("node %d: node %d unreachable for groups %v", h.id, to, groups)
}

func (h *host) ReportSnapshot(to, group uint64, err error) {
	h.out <- fmt.Sprintf("node %d: snapshot of group %d to node %d: err=%v", h.id, group, to, err)
}

type sink struct{ h *host }

func (s sink) Write(p []byte) (int, error) { return s.h.body.Write(p) }
func (s sink) Close() error                { s.h.out <- fmt.Sprintf("stored %q", s.h.body.String()); return nil }
func (s sink) Abort(error)                 {}

func newHost(id uint64) *host { return &host{id: id, out: make(chan string, 16)} }

// drain prints the events queued so far.
func (h *host) drain() {
	for {
		select {
		case line := <-h.out:
			fmt.Println(line)
		default:
			return
		}
	}
}

// Two nodes on an in-memory network: nothing arrives until the driver
// advances the virtual clock, and a cut link loses messages and reports
// them.
func ExampleMemNetwork() {
	net, err := transport.NewMemNetwork(transport.MemConfig{
		Seed:   1,
		Faults: transport.Faults{MinLatency: time.Millisecond, MaxLatency: 3 * time.Millisecond},
	})
	if err != nil {
		log.Fatal(err)
	}
	h1, h2 := newHost(1), newHost(2)
	t1, _ := net.Join(1, h1, nil)
	t2, _ := net.Join(2, h2, nil)

	t1.Send([]transport.GroupMessage{
		{Group: 7, Message: pb.Message{Type: pb.MsgHeartbeat, From: 1, To: 2, Term: 3}},
		{Group: 8, Message: pb.Message{Type: pb.MsgHeartbeat, From: 1, To: 2, Term: 3}},
	})
	fmt.Println("delivered before advancing:", len(h2.out))
	net.Advance(5 * time.Millisecond)
	h2.drain()

	net.Cut(2, 1) // one way: 2 -> 1 loses messages
	t2.Send([]transport.GroupMessage{{Group: 7, Message: pb.Message{Type: pb.MsgHeartbeatResp, From: 2, To: 1, Term: 3}}})
	net.Advance(5 * time.Millisecond)
	h1.drain()
	h2.drain()

	t1.SendSnapshot(transport.OutgoingSnapshot{
		Group:   8,
		Message: pb.Message{Type: pb.MsgSnap, From: 1, To: 2, Term: 3, Snapshot: &pb.Snapshot{Data: []byte("checkpoint 12")}},
		Body:    io.NopCloser(strings.NewReader("state of group 8")),
	})
	net.Advance(5 * time.Millisecond)
	h2.drain()
	h1.drain()
	// Output:
	// delivered before advancing: 0
	// node 2 got MsgHeartbeat of group 7 from node 1
	// node 2 got MsgHeartbeat of group 8 from node 1
	// node 2: node 1 unreachable for groups [7]
	// stored "state of group 8"
	// node 2 got MsgSnap of group 8 from node 1
	// node 1: snapshot of group 8 to node 2: err=<nil>
}

// Two nodes over TCP on loopback with mutual TLS, using certificates from
// devcert. Node 1's certificate binds it to id 1 (pontoon://node/1), so it
// could not speak as node 2.
func ExampleNewTCP() {
	ca, err := devcert.NewCA("example cluster")
	if err != nil {
		log.Fatal(err)
	}
	tlsFor := func(id uint64) *transport.TLSConfig {
		cert, err := ca.NodeCertificate(id)
		if err != nil {
			log.Fatal(err)
		}
		return &transport.TLSConfig{RootCAs: ca.Pool(), Certificate: cert}
	}
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))

	h2 := newHost(2)
	t2, err := transport.NewTCP(transport.TCPConfig{NodeID: 2, ClusterID: 42, Handler: h2, TLS: tlsFor(2), Logger: quiet})
	if err != nil {
		log.Fatal(err)
	}
	defer t2.Close()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		log.Fatal(err)
	}
	go t2.Serve(ln)

	h1 := newHost(1)
	t1, err := transport.NewTCP(transport.TCPConfig{
		NodeID: 1, ClusterID: 42, Handler: h1, TLS: tlsFor(1), Logger: quiet,
		Peers: map[uint64]string{2: ln.Addr().String()},
	})
	if err != nil {
		log.Fatal(err)
	}
	defer t1.Close()

	t1.Send([]transport.GroupMessage{{Group: 5, Message: pb.Message{
		Type: pb.MsgApp, From: 1, To: 2, Term: 2, Index: 10, LogTerm: 2,
		Entries: []pb.Entry{{Term: 2, Index: 11, Data: []byte("x=1")}},
	}}})
	fmt.Println(<-h2.out)
	// Output:
	// node 2 got MsgApp of group 5 from node 1
}
