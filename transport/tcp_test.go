package transport

import (
	"context"
	"io"
	"log/slog"
	"net"
	"sync"
	"testing"
	"time"

	pb "github.com/pontoon-raft/raft/raftpb"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestTCPDeliversEveryGroupInOrder(t *testing.T) {
	n1, n2 := pairTCP(t, TCPConfig{ClusterID: 7})
	var sent []GroupMessage
	for i := uint64(1); i <= 200; i++ {
		group := 1 + i%5
		sent = append(sent, appendMsg(group, 1, 2, i, 100), heartbeat(group, 1, 2))
	}
	for i := 0; i < len(sent); i += 10 {
		n1.Send(sent[i : i+10])
	}
	n2.r.waitFor(t, "400 messages", func() bool { return len(n2.r.messages()) == 400 })

	var apps, beats []GroupMessage
	for _, d := range n2.r.messages() {
		assert.Equal(t, uint64(1), d.from)
		if d.gm.Message.Type == pb.MsgApp {
			apps = append(apps, d.gm)
		} else {
			beats = append(beats, d.gm)
		}
	}
	for i := range apps {
		assert.Equal(t, sent[2*i], apps[i], "appends arrive intact and in order")
		assert.Equal(t, sent[2*i+1], beats[i], "heartbeats arrive intact and in order")
	}

	n2.Send([]GroupMessage{{Group: 3, Message: pb.Message{Type: pb.MsgAppResp, From: 2, To: 1, Index: 9}}})
	n1.r.waitFor(t, "the answer", func() bool { return len(n1.r.messages()) == 1 })
	// The observer hears of a write after it returns, possibly after the
	// peer has already received it.
	count := func(obs *countingObserver, sent bool) func() bool {
		return func() bool {
			n := 0
			obs.read(func(o *countingObserver) {
				n = o.received
				if sent {
					n = o.sent
				}
			})
			return n == 400
		}
	}
	n2.r.waitFor(t, "400 messages counted as received", count(n2.obs, false))
	n1.r.waitFor(t, "400 messages counted as sent", count(n1.obs, true))
}

func TestTCPOneSendIsOneFrame(t *testing.T) {
	n1, n2 := pairTCP(t, TCPConfig{})
	var batch []GroupMessage
	for g := uint64(1); g <= 64; g++ {
		batch = append(batch, heartbeat(g, 1, 2))
	}
	n1.Send(batch)
	n2.r.waitFor(t, "64 heartbeats", func() bool { return len(n2.r.messages()) == 64 })
	for _, d := range n2.r.messages() {
		assert.Equal(t, 1, d.batch, "64 heartbeats of one Send arrive in one HandleMessages call")
	}
}

func TestTCPLargeMessagesSplitIntoFrames(t *testing.T) {
	n1, n2 := pairTCP(t, TCPConfig{MaxMessageBytes: 1 << 20, MaxFrameBytes: 1<<20 + 1024})
	var batch []GroupMessage
	for i := uint64(1); i <= 6; i++ {
		batch = append(batch, appendMsg(1, 1, 2, i, 700<<10)) // each fits a frame, two do not
	}
	n1.Send(batch)
	n2.r.waitFor(t, "6 appends", func() bool { return len(n2.r.messages()) == 6 })
	got := n2.r.messages()
	for i, d := range got {
		assert.Equal(t, batch[i], d.gm)
		if i > 0 {
			assert.NotEqual(t, got[i-1].batch, d.batch, "each large append comes in a frame of its own")
		}
	}
}

func TestTCPHeartbeatsDoNotWaitBehindAppends(t *testing.T) {
	n1, n2 := pairTCP(t, TCPConfig{})
	release := make(chan struct{})
	var once sync.Once
	n2.r.onMessages = func(_ uint64, msgs []GroupMessage) {
		if msgs[0].Message.Type == pb.MsgApp {
			once.Do(func() { <-release }) // the bulk connection stalls
		}
	}
	defer once.Do(func() {})
	n1.Send([]GroupMessage{appendMsg(1, 1, 2, 1, 4<<20)})
	n2.r.waitFor(t, "the append to be stuck in the handler", func() bool { return len(n2.r.messages()) == 1 })
	for i := 0; i < 100; i++ { // more appends queue up behind the stuck one
		n1.Send([]GroupMessage{appendMsg(1, 1, 2, uint64(i+2), 64<<10)})
	}
	n1.Send([]GroupMessage{heartbeat(1, 1, 2)})
	n2.r.waitFor(t, "the heartbeat", func() bool {
		for _, d := range n2.r.messages() {
			if d.gm.Message.Type == pb.MsgHeartbeat {
				return true
			}
		}
		return false
	})
	close(release)
	n2.r.waitFor(t, "the appends", func() bool { return len(n2.r.messages()) == 102 })
}

func TestTCPSendDropsAndReports(t *testing.T) {
	n1, n2 := pairTCP(t, TCPConfig{MaxMessageBytes: 1000, MaxFrameBytes: 2000, SnapshotChunkBytes: 1000})
	n1.Send([]GroupMessage{
		appendMsg(4, 1, 2, 1, 2000), // too large
		heartbeat(5, 1, 9),          // unknown node
		heartbeat(6, 1, 1),          // itself
		{Group: 8, Message: pb.Message{Type: pb.MsgStorageAppend, From: 1, To: 2}}, // local type
		heartbeat(7, 1, 2),
	})
	n1.r.waitFor(t, "reports", func() bool { return len(n1.r.unreachables()) == 3 })
	n2.r.waitFor(t, "the heartbeat", func() bool { return len(n2.r.messages()) == 1 })
	assert.ElementsMatch(t, []unreachableReport{{2, []uint64{4}}, {9, []uint64{5}}, {1, []uint64{6}}}, n1.r.unreachables())
	n1.obs.read(func(o *countingObserver) {
		assert.Equal(t, map[DropReason]int{DropTooLarge: 1, DropUnknownPeer: 2, DropLocalType: 1}, o.dropped)
	})
}

func TestTCPQueueFullDropsAndReports(t *testing.T) {
	// A peer that accepts connections but never answers the handshake: the
	// link stays in its first dial and the queue fills.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			defer c.Close()
		}
	}()
	n1 := startTCP(t, TCPConfig{NodeID: 1, QueueMessages: 4, DialTimeout: time.Minute, Peers: map[uint64]string{2: ln.Addr().String()}})
	var batch []GroupMessage
	for g := uint64(1); g <= 10; g++ {
		batch = append(batch, heartbeat(g, 1, 2))
	}
	n1.Send(batch)
	n1.r.waitFor(t, "the report", func() bool { return len(n1.r.unreachables()) == 1 })
	assert.Equal(t, []unreachableReport{{2, []uint64{5, 6, 7, 8, 9, 10}}}, n1.r.unreachables())
	n1.obs.read(func(o *countingObserver) {
		assert.Equal(t, map[DropReason]int{DropQueueFull: 6}, o.dropped)
		assert.Equal(t, 4, o.maxQueueDepth)
	})
}

func TestTCPReceiveChecks(t *testing.T) {
	n2 := startTCP(t, TCPConfig{NodeID: 2})
	n2.r.maxGroup = 100
	conn := rawConn(t, ghost(t, 1), 2, n2.addr, ClassControl)
	msgs := []GroupMessage{
		heartbeat(1, 1, 2),
		heartbeat(2, 3, 2),   // forged: the connection is node 1's
		heartbeat(3, 1, 3),   // for node 3
		heartbeat(101, 1, 2), // unknown group
		{Group: 4, Message: pb.Message{Type: pb.MsgHup, From: 1, To: 2}},
		{Group: 5, Message: pb.Message{Type: pb.MessageType(99), From: 1, To: 2}},
		{Group: 6, Message: snapMsg(6, 1, 2, 3)}, // snapshots need a stream
		heartbeat(7, 1, 2),
	}
	buf, start := beginFrame(nil, kindBatch)
	for i := range msgs {
		buf = appendBatchMessage(buf, msgs[i].Group, &msgs[i].Message, msgs[i].Message.Size())
	}
	endFrame(buf, start)
	_, err := conn.Write(buf)
	require.NoError(t, err)
	n2.r.waitFor(t, "the good messages", func() bool { return len(n2.r.messages()) == 2 })
	got := n2.r.messages()
	assert.Equal(t, []GroupMessage{msgs[0], msgs[7]}, []GroupMessage{got[0].gm, got[1].gm})
	n2.obs.read(func(o *countingObserver) {
		assert.Equal(t, map[RejectReason]int{
			RejectForgedSender: 1, RejectWrongDestination: 1, RejectUnknownGroup: 1,
			RejectLocalType: 2, RejectSnapshotOutsideStream: 1,
		}, o.rejected)
	})
	assert.True(t, n2.log.contains("reason=forged_sender"), "rejections are logged")
}

func TestTCPMalformedFrameClosesConnection(t *testing.T) {
	good := heartbeat(1, 1, 2)
	encoded := appendBatchMessage(nil, 1, &good.Message, good.Message.Size())
	tests := []struct {
		name   string
		frame  []byte
		reason string
	}{
		{"zero length", []byte{0, 0, 0, 0}, "frame of length 0"},
		{"too long", []byte{0x7f, 0, 0, 0, kindBatch}, "exceeds the limit"},
		{"unknown kind", frameOf(0x77, encoded), "frame kind 0x77"},
		{"hello again", frameOf(kindHello, make([]byte, helloPayloadBytes)), "frame kind 0x01"},
		{"empty batch", frameOf(kindBatch, nil), "empty batch"},
		{"bad group varint", frameOf(kindBatch, []byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01}), "bad uvarint"},
		{"length beyond frame", frameOf(kindBatch, []byte{1, 50, 8}), "only 1 left"},
		{"message too large", frameOf(kindBatch, []byte{1, 0x80, 0x80, 0x80, 0x10}), "message of 33554432 bytes exceeds the limit"},
		{"bad protobuf", frameOf(kindBatch, []byte{1, 2, 0x08, 0x80}), "message of group 1"},
	}
	n2 := startTCP(t, TCPConfig{NodeID: 2})
	n1 := ghost(t, 1)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			conn := rawConn(t, n1, 2, n2.addr, ClassBulk)
			_, err := conn.Write(tt.frame)
			require.NoError(t, err)
			waitClosed(t, conn)
			n2.r.waitFor(t, "the log line", func() bool { return n2.log.contains(tt.reason) })
		})
	}
	assert.Empty(t, n2.r.messages(), "nothing of a malformed frame is delivered")
}

func discardLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func frameOf(kind byte, payload []byte) []byte {
	buf, start := beginFrame(nil, kind)
	buf = append(buf, payload...)
	endFrame(buf, start)
	return buf
}

func TestTCPHandshakeRefusals(t *testing.T) {
	n2 := startTCP(t, TCPConfig{NodeID: 2, ClusterID: 10})
	tests := []struct {
		name      string
		cluster   uint64
		from, to  uint64
		want      error
		serverErr string
	}{
		{"other cluster", 11, 1, 2, ErrClusterMismatch, "this node is in cluster 10, the peer in cluster 11"},
		{"wrong node", 10, 1, 3, ErrWrongNode, "the peer dialed node 3, this is node 2"},
		{"claims the listener's id", 10, 2, 2, ErrWrongNode, "the peer claims node id 2"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := TCPConfig{NodeID: tt.from, ClusterID: tt.cluster, Handler: newRecorder(), Logger: discardLogger()}
			if tt.from == 2 {
				cfg.NodeID = 5 // NewTCP refuses nothing here; the Hello is rewritten below
			}
			c, err := NewTCP(cfg)
			require.NoError(t, err)
			defer c.Close()
			c.cfg.NodeID = tt.from
			_, err = c.dial(context.Background(), tt.to, n2.addr, ClassControl)
			require.ErrorIs(t, err, tt.want)
			assert.Contains(t, err.Error(), tt.serverErr, "the dialer hears the listener's reason")
			n2.r.waitFor(t, "the refusal logged", func() bool { return n2.log.contains(tt.serverErr) })
		})
	}
	n2.obs.read(func(o *countingObserver) { assert.Len(t, o.handshakeFailures, len(tests)) })
}

func TestTCPHandshakeRefusesOtherVersionsAndProtocols(t *testing.T) {
	n2 := startTCP(t, TCPConfig{NodeID: 2})
	t.Run("version 2", func(t *testing.T) {
		conn, err := net.Dial("tcp", n2.addr)
		require.NoError(t, err)
		defer conn.Close()
		payload := append(append([]byte{}, helloMagic[:]...), 0, 2, 1, 2, 3) // a future, longer layout
		_, err = conn.Write(frameOf(kindHello, payload))
		require.NoError(t, err)
		fr := frameReader{r: conn}
		kind, p, err := fr.next(maxHandshakePayload)
		require.NoError(t, err)
		require.Equal(t, kindHelloAck, kind)
		ack, err := decodeHelloAck(p)
		require.NoError(t, err)
		assert.ErrorIs(t, refusal(ack.status, ack.reason), ErrVersionMismatch)
		assert.Equal(t, EnvelopeVersion, ack.version, "the ack says which version the listener speaks")
	})
	t.Run("HTTP", func(t *testing.T) {
		conn, err := net.Dial("tcp", n2.addr)
		require.NoError(t, err)
		defer conn.Close()
		_, err = conn.Write([]byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n"))
		require.NoError(t, err)
		waitClosed(t, conn)
		n2.r.waitFor(t, "the refusal logged", func() bool { return n2.log.contains("exceeds the limit") })
	})
}

func TestTCPDialerChecksWhoAnswers(t *testing.T) {
	// A listener that accepts any Hello and answers as ack says.
	fake := func(ack helloAck) string {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		require.NoError(t, err)
		t.Cleanup(func() { ln.Close() })
		go func() {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			defer conn.Close()
			fr := frameReader{r: conn}
			if _, _, err := fr.next(maxHandshakePayload); err == nil {
				_, _ = conn.Write(appendHelloAck(nil, ack))
			}
			_, _ = conn.Read(make([]byte, 1))
		}()
		return ln.Addr().String()
	}
	n1 := startTCP(t, TCPConfig{NodeID: 1, ClusterID: 4})
	tests := []struct {
		name string
		ack  helloAck
		want error
	}{
		{"another node", helloAck{version: EnvelopeVersion, clusterID: 4, node: 3}, ErrWrongNode},
		{"another cluster", helloAck{version: EnvelopeVersion, clusterID: 5, node: 2}, ErrClusterMismatch},
		{"another version", helloAck{version: 9, clusterID: 4, node: 2}, ErrVersionMismatch},
		{"busy", helloAck{version: EnvelopeVersion, clusterID: 4, node: 2, status: statusBusy, reason: "full"}, ErrBusy},
		{"unknown status", helloAck{version: EnvelopeVersion, clusterID: 4, node: 2, status: 200, reason: "?"}, ErrRefused},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := n1.dial(context.Background(), 2, fake(tt.ack), ClassControl)
			assert.ErrorIs(t, err, tt.want)
		})
	}
}

func TestTCPConfigValidation(t *testing.T) {
	h := newRecorder()
	bad := []TCPConfig{
		{Handler: h},
		{NodeID: 1},
		{NodeID: 1, Handler: h, QueueMessages: -1},
		{NodeID: 1, Handler: h, MinBackoff: time.Second, MaxBackoff: time.Millisecond},
		{NodeID: 1, Handler: h, MaxMessageBytes: 1000, MaxFrameBytes: 1000},
		{NodeID: 1, Handler: h, MaxFrameBytes: 4 << 20, MaxMessageBytes: 1 << 20, SnapshotChunkBytes: 4 << 20},
		{NodeID: 1, Handler: h, Peers: map[uint64]string{1: "x:1"}},
		{NodeID: 1, Handler: h, Peers: map[uint64]string{2: ""}},
		{NodeID: 1, Handler: h, DialTimeout: -time.Second},
		{NodeID: 1, Handler: h, QueueBytes: 1 << 20, MaxMessageBytes: 2 << 20, MaxFrameBytes: 4 << 20},
		{NodeID: 1, Handler: h, TLS: &TLSConfig{}},
	}
	for i, cfg := range bad {
		_, err := NewTCP(cfg)
		assert.ErrorIs(t, err, ErrInvalidConfig, "config %d", i)
	}
	n := startTCP(t, TCPConfig{NodeID: 1})
	assert.ErrorIs(t, n.SetPeer(1, "x:1"), ErrInvalidConfig)
	assert.ErrorIs(t, n.SetPeer(0, "x:1"), ErrInvalidConfig)
}

func TestTCPBoundsAcceptedConnections(t *testing.T) {
	n2 := startTCP(t, TCPConfig{NodeID: 2, MaxConnections: 2})
	var conns []net.Conn
	for i := 0; i < 2; i++ { // two connections that never say hello hold both places
		c, err := net.Dial("tcp", n2.addr)
		require.NoError(t, err)
		defer c.Close()
		conns = append(conns, c)
	}
	extra, err := net.Dial("tcp", n2.addr)
	require.NoError(t, err)
	defer extra.Close()
	waitClosed(t, extra)
	n2.r.waitFor(t, "the refusal logged", func() bool { return n2.log.contains("2 connections accepted already") })

	conns[0].Close() // a place frees up
	n2.r.waitFor(t, "a connection accepted again", func() bool {
		g := ghost(t, 1)
		c, err := g.dial(context.Background(), 2, n2.addr, ClassControl)
		if err != nil {
			return false
		}
		c.Close()
		return true
	})
}
