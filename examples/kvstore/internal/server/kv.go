package server

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
)

// op is the kind of a command in a log entry.
type op byte

const (
	opPut    op = 1
	opDelete op = 2
)

// command is what a normal log entry carries: one write, tagged with the
// id of the request that proposed it so the proposing node can answer
// exactly that client once the entry is applied.
type command struct {
	Op        op
	RequestID uint64
	Key       string
	Value     string
}

// encode lays the command out as: op (1 byte), request id (8 bytes, big
// endian), key length (uvarint), key, value length (uvarint), value.
func (c command) encode() []byte {
	b := make([]byte, 0, 1+8+2*binary.MaxVarintLen64+len(c.Key)+len(c.Value))
	b = append(b, byte(c.Op))
	b = binary.BigEndian.AppendUint64(b, c.RequestID)
	b = binary.AppendUvarint(b, uint64(len(c.Key)))
	b = append(b, c.Key...)
	b = binary.AppendUvarint(b, uint64(len(c.Value)))
	return append(b, c.Value...)
}

var errBadCommand = errors.New("kvstore: malformed command in log entry")

func decodeCommand(b []byte) (command, error) {
	if len(b) < 9 {
		return command{}, errBadCommand
	}
	c := command{Op: op(b[0]), RequestID: binary.BigEndian.Uint64(b[1:9])}
	if c.Op != opPut && c.Op != opDelete {
		return command{}, fmt.Errorf("%w: op %d", errBadCommand, c.Op)
	}
	rest := b[9:]
	var fields [2]string
	for i := range fields {
		n, w := binary.Uvarint(rest)
		if w <= 0 || uint64(len(rest)-w) < n {
			return command{}, errBadCommand
		}
		fields[i] = string(rest[w : w+int(n)])
		rest = rest[w+int(n):]
	}
	if len(rest) != 0 {
		return command{}, errBadCommand
	}
	c.Key, c.Value = fields[0], fields[1]
	return c, nil
}

// kvState is the replicated state machine: the key-value map and the peer
// URLs of the members, both rebuilt from the snapshot and the log. The
// Raft loop writes it; HTTP handlers read it for stale reads.
type kvState struct {
	mu      sync.RWMutex
	data    map[string]string
	members map[uint64]string
}

func newKVState() *kvState {
	return &kvState{data: map[string]string{}, members: map[uint64]string{}}
}

func (s *kvState) apply(c command) {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch c.Op {
	case opPut:
		s.data[c.Key] = c.Value
	case opDelete:
		delete(s.data, c.Key)
	}
}

func (s *kvState) get(key string) (string, bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	v, ok := s.data[key]
	return v, ok
}

func (s *kvState) setMember(id uint64, url string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if url == "" {
		delete(s.members, id)
	} else {
		s.members[id] = url
	}
}

func (s *kvState) memberURLs() map[uint64]string {
	s.mu.RLock()
	defer s.mu.RUnlock()
	out := make(map[uint64]string, len(s.members))
	for id, u := range s.members {
		out[id] = u
	}
	return out
}

// snapshotData is the JSON form of the state in a snapshot.
type snapshotData struct {
	Data    map[string]string `json:"data"`
	Members map[uint64]string `json:"members"`
}

func (s *kvState) snapshot() ([]byte, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return json.Marshal(snapshotData{Data: s.data, Members: s.members})
}

func (s *kvState) restore(b []byte) error {
	var d snapshotData
	if err := json.Unmarshal(b, &d); err != nil {
		return fmt.Errorf("kvstore: decoding snapshot: %w", err)
	}
	if d.Data == nil {
		d.Data = map[string]string{}
	}
	if d.Members == nil {
		d.Members = map[uint64]string{}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.data, s.members = d.Data, d.Members
	return nil
}
