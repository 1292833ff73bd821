package transport

import (
	"net"
	"testing"

	"github.com/stretchr/testify/assert"
)

// writeLog is a net.Conn that records its Write calls.
type writeLog struct {
	net.Conn
	writes [][]byte
}

func (w *writeLog) Write(p []byte) (int, error) {
	w.writes = append(w.writes, append([]byte(nil), p...))
	return len(p), nil
}

func TestGatheringConnWritesOnceForManyRecords(t *testing.T) {
	log := &writeLog{}
	c := &gatheringConn{Conn: log}
	_, _ = c.Write([]byte("alert")) // outside gather: passes through
	n, err := c.gather(func() (int, error) {
		for _, rec := range []string{"rec1", "rec2", "rec3"} {
			_, _ = c.Write([]byte(rec))
		}
		return 12, nil
	})
	assert.NoError(t, err)
	assert.Equal(t, 12, n)
	assert.Equal(t, [][]byte{[]byte("alert"), []byte("rec1rec2rec3")}, log.writes)
	_, err = c.gather(func() (int, error) { return 0, nil })
	assert.NoError(t, err)
	assert.Len(t, log.writes, 2, "nothing gathered, nothing written")
}
