package transport

import (
	"crypto/tls"
	"net"
	"sync"
)

// gatheringConn sits under the tls.Conn of a dialed connection and turns
// the records of one application write into one write to the socket. A
// tls.Conn writes every record (at most 16 KiB) with a write call of its
// own, so a 256 KiB batch of messages would cost 16 system calls instead of
// one; that was most of what TLS added to the CPU per message.
type gatheringConn struct {
	net.Conn
	// mu orders the socket writes: gathered records are flushed under it,
	// so a record the tls.Conn writes on its own (an alert, a key update)
	// never overtakes records gathered before it.
	mu        sync.Mutex
	gathering bool
	buf       []byte
}

func (c *gatheringConn) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.gathering {
		c.buf = append(c.buf, p...)
		return len(p), nil
	}
	return c.Conn.Write(p)
}

// gather runs write, which writes through the tls.Conn above c, and sends
// the records it produced in one socket write.
func (c *gatheringConn) gather(write func() (int, error)) (int, error) {
	c.mu.Lock()
	c.gathering = true
	c.mu.Unlock()
	n, err := write()
	c.mu.Lock()
	defer c.mu.Unlock()
	c.gathering = false
	if len(c.buf) > 0 {
		if _, werr := c.Conn.Write(c.buf); err == nil {
			err = werr
		}
	}
	c.buf = c.buf[:0]
	if cap(c.buf) > frameBufferShrinkBytes {
		c.buf = nil
	}
	return n, err
}

// gatheringTLSConn is a dialed tls.Conn whose writes go out through its
// gatheringConn.
type gatheringTLSConn struct {
	*tls.Conn
	under *gatheringConn
}

func (c *gatheringTLSConn) Write(p []byte) (int, error) {
	return c.under.gather(func() (int, error) { return c.Conn.Write(p) })
}
