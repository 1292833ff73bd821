package transport

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"time"
)

// dial connects to node peer at addr for class c and runs the TLS handshake
// (if configured) and the transport's handshake, all within DialTimeout.
func (t *TCP) dial(ctx context.Context, peer uint64, addr string, c Class) (net.Conn, error) {
	ctx, cancel := context.WithTimeout(ctx, t.cfg.DialTimeout)
	defer cancel()
	raw, err := t.cfg.Dial(ctx, addr)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrUnreachable, err)
	}
	conn, err := t.clientHandshake(ctx, raw, peer, c)
	if err != nil {
		raw.Close()
		if t.ctx.Err() == nil {
			t.obs.HandshakeFailed(peer, Outgoing, err)
		}
		return nil, err
	}
	return conn, nil
}

// clientHandshake runs the dialer's side of the handshakes on raw.
func (t *TCP) clientHandshake(ctx context.Context, raw net.Conn, peer uint64, c Class) (net.Conn, error) {
	if deadline, ok := ctx.Deadline(); ok {
		if err := raw.SetDeadline(deadline); err != nil {
			return nil, err
		}
	}
	// Cancelling ctx (Close, RemovePeer) fails a blocked read or write now.
	stop := context.AfterFunc(ctx, func() { raw.SetDeadline(time.Unix(1, 0)) })
	defer stop()
	conn := raw
	if t.cfg.TLS != nil {
		under := &gatheringConn{Conn: raw}
		tc := tls.Client(under, t.cfg.TLS.clientConfig(peer))
		if err := tc.HandshakeContext(ctx); err != nil {
			return nil, fmt.Errorf("TLS handshake with node %d: %w", peer, err)
		}
		conn = &gatheringTLSConn{Conn: tc, under: under}
	}
	h := hello{version: EnvelopeVersion, class: c, clusterID: t.cfg.ClusterID, from: t.cfg.NodeID, to: peer}
	if _, err := conn.Write(appendHello(nil, h)); err != nil {
		return nil, fmt.Errorf("sending hello: %w", err)
	}
	fr := frameReader{r: conn}
	kind, p, err := fr.next(maxHandshakePayload)
	if err != nil {
		// With TLS 1.3 a server that rejects our certificate says so
		// here, after the client's side of the handshake has finished.
		return nil, fmt.Errorf("reading hello ack: %w", err)
	}
	if kind != kindHelloAck {
		return nil, malformed("frame kind 0x%02x where a hello ack belongs", kind)
	}
	ack, err := decodeHelloAck(p)
	if err != nil {
		return nil, err
	}
	if err := refusal(ack.status, ack.reason); err != nil {
		return nil, fmt.Errorf("node %d refused the connection: %w", peer, err)
	}
	switch {
	case ack.version != EnvelopeVersion:
		return nil, fmt.Errorf("%w: this node speaks version %d, node %d answered with %d", ErrVersionMismatch, EnvelopeVersion, peer, ack.version)
	case ack.clusterID != t.cfg.ClusterID:
		return nil, fmt.Errorf("%w: this node is in cluster %d, %s answered from cluster %d", ErrClusterMismatch, t.cfg.ClusterID, raw.RemoteAddr(), ack.clusterID)
	case ack.node != peer:
		return nil, fmt.Errorf("%w: dialed node %d at %s, node %d answered", ErrWrongNode, peer, raw.RemoteAddr(), ack.node)
	}
	if !stop() {
		return nil, context.Cause(ctx)
	}
	if err := raw.SetDeadline(time.Time{}); err != nil {
		return nil, err
	}
	return conn, nil
}

// acceptHandshake runs the listener's side of the handshakes on raw and
// returns the connection to use, a reader of its frames, and the peer's
// Hello. An error means the peer was refused (and, when the handshake got
// that far, told why); the Hello is returned with it when one was read.
// An accepted snapshot stream holds one of the MaxSnapshotReceives slots.
func (t *TCP) acceptHandshake(raw net.Conn) (net.Conn, *frameReader, hello, error) {
	if err := raw.SetDeadline(time.Now().Add(t.cfg.DialTimeout)); err != nil {
		return nil, nil, hello{}, err
	}
	conn := raw
	var certID uint64
	var certErr error
	if t.serverTLS != nil {
		tc := tls.Server(raw, t.serverTLS)
		if err := tc.HandshakeContext(t.ctx); err != nil {
			return nil, nil, hello{}, fmt.Errorf("TLS handshake: %w", err)
		}
		certID, certErr = peerCertificateID(tc.ConnectionState())
		conn = tc
	}
	// Unbuffered until the peer is accepted: a dialer writes nothing more
	// before the ack, and a connection that never passes the handshake
	// costs no read buffer.
	fr := &frameReader{r: conn}
	kind, p, err := fr.next(maxHandshakePayload)
	if err != nil {
		return nil, nil, hello{}, fmt.Errorf("reading hello: %w", err)
	}
	if kind != kindHello {
		return nil, nil, hello{}, malformed("frame kind 0x%02x where a hello belongs", kind)
	}
	h, err := decodeHello(p)
	if err != nil {
		return nil, nil, hello{}, err
	}
	verdict := t.checkHello(h, certID, certErr)
	if verdict == nil && h.class == ClassSnapshot && !t.acquireSnapshotReceive() {
		verdict = fmt.Errorf("%w: %d incoming already", ErrBusy, t.cfg.MaxSnapshotReceives)
	}
	reason := ""
	if verdict != nil {
		reason = verdict.Error()
	}
	ack := helloAck{version: EnvelopeVersion, status: statusOf(verdict), clusterID: t.cfg.ClusterID, node: t.cfg.NodeID, reason: reason}
	if _, err := conn.Write(appendHelloAck(nil, ack)); err != nil {
		if verdict == nil && h.class == ClassSnapshot {
			t.releaseSnapshotReceive()
		}
		return nil, nil, h, fmt.Errorf("sending hello ack: %w", err)
	}
	if verdict != nil {
		return nil, nil, h, verdict
	}
	if err := raw.SetDeadline(time.Time{}); err != nil {
		if h.class == ClassSnapshot {
			t.releaseSnapshotReceive()
		}
		return nil, nil, h, err
	}
	return conn, &frameReader{r: newReader(conn)}, h, nil
}

// checkHello decides whether to accept a peer's Hello. certID is the node
// the peer's verified certificate binds (with TLS), certErr why it binds
// none.
func (t *TCP) checkHello(h hello, certID uint64, certErr error) error {
	switch {
	case h.version != EnvelopeVersion:
		return fmt.Errorf("%w: this node speaks version %d, the peer %d", ErrVersionMismatch, EnvelopeVersion, h.version)
	case h.clusterID != t.cfg.ClusterID:
		return fmt.Errorf("%w: this node is in cluster %d, the peer in cluster %d", ErrClusterMismatch, t.cfg.ClusterID, h.clusterID)
	case h.to != t.cfg.NodeID:
		return fmt.Errorf("%w: the peer dialed node %d, this is node %d", ErrWrongNode, h.to, t.cfg.NodeID)
	case h.from == 0 || h.from == t.cfg.NodeID:
		return fmt.Errorf("%w: the peer claims node id %d", ErrWrongNode, h.from)
	case h.class != ClassControl && h.class != ClassBulk && h.class != ClassSnapshot:
		return fmt.Errorf("%w: unknown connection class %d", ErrRefused, uint8(h.class))
	case t.serverTLS != nil && certErr != nil:
		return certErr
	case t.serverTLS != nil && certID != h.from:
		return fmt.Errorf("%w: the peer claims node %d, its certificate is for node %d", ErrIdentityMismatch, h.from, certID)
	}
	return nil
}
