package raftsim

import (
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/anishathalye/porcupine"
	pb "github.com/pontoon-raft/raft/raftpb"
)

// kvKeys is the number of keys the simulated clients write and read. Few
// keys make reads and writes of the same key overlap often, which is what
// a linearizability check needs to find anything.
const kvKeys = 5

// kvWriteData encodes a write of value to key as entry data, "k<key>=<value>".
func kvWriteData(key int, value string) []byte { return fmt.Appendf(nil, "k%d=%s", key, value) }

// parseKVWrite decodes entry data written by kvWriteData. Other data (the
// liveness probes, empty entries) is not a write.
func parseKVWrite(data []byte) (key, value string, ok bool) {
	if len(data) < 4 || data[0] != 'k' {
		return "", "", false
	}
	key, value, ok = strings.Cut(string(data), "=")
	return key, value, ok && value != ""
}

// kvMachine is the key-value map the simulator keeps beside a replica's own
// state machine when reads are simulated, so that reads work whatever
// StateMachine the run uses. It forwards every entry and its snapshots wrap
// the inner state machine's.
type kvMachine struct {
	inner  StateMachine
	values map[string]string
	// written holds every value ever applied. Values are unique per
	// proposal, so a proposal the network duplicated and the leader appended
	// twice takes effect once, as a client session table would make it.
	written map[string]bool
}

func newKVMachine(inner StateMachine) *kvMachine {
	return &kvMachine{inner: inner, values: map[string]string{}, written: map[string]bool{}}
}

// Apply implements StateMachine.
func (kv *kvMachine) Apply(e pb.Entry) {
	kv.inner.Apply(e)
	if e.Type != pb.EntryNormal {
		return
	}
	if key, value, ok := parseKVWrite(e.Data); ok && !kv.written[value] {
		kv.values[key] = value
		kv.written[value] = true
	}
}

// get returns the value of key, "" if it was never written.
func (kv *kvMachine) get(key string) string { return kv.values[key] }

// Snapshot implements StateMachine: the inner snapshot, then the map and
// the written set, every string length-prefixed, in sorted order so that
// equal states encode equally.
func (kv *kvMachine) Snapshot() []byte {
	b := appendBytes(nil, kv.inner.Snapshot())
	keys := sortedKeys(kv.values)
	b = binary.AppendUvarint(b, uint64(len(keys)))
	for _, k := range keys {
		b = appendBytes(b, []byte(k))
		b = appendBytes(b, []byte(kv.values[k]))
	}
	written := sortedKeys(kv.written)
	b = binary.AppendUvarint(b, uint64(len(written)))
	for _, w := range written {
		b = appendBytes(b, []byte(w))
	}
	return b
}

var errBadKVSnapshot = errors.New("raftsim: malformed key-value snapshot")

// Restore implements StateMachine.
func (kv *kvMachine) Restore(data []byte) error {
	r := byteReader{b: data}
	inner := r.bytes()
	values := map[string]string{}
	for n := r.uvarint(); n > 0 && r.err == nil; n-- {
		k := string(r.bytes())
		values[k] = string(r.bytes())
	}
	written := map[string]bool{}
	for n := r.uvarint(); n > 0 && r.err == nil; n-- {
		written[string(r.bytes())] = true
	}
	if r.err != nil || len(r.b) != 0 {
		return errBadKVSnapshot
	}
	if err := kv.inner.Restore(inner); err != nil {
		return err
	}
	kv.values, kv.written = values, written
	return nil
}

// unwrapStateMachine returns the application's own state machine behind a
// kvMachine.
func unwrapStateMachine(sm StateMachine) StateMachine {
	if kv, ok := sm.(*kvMachine); ok {
		return kv.inner
	}
	return sm
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

func appendBytes(b, s []byte) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

// byteReader decodes what appendBytes and AppendUvarint wrote; after the
// first error every read returns a zero value.
type byteReader struct {
	b   []byte
	err error
}

func (r *byteReader) uvarint() uint64 {
	if r.err != nil {
		return 0
	}
	v, n := binary.Uvarint(r.b)
	if n <= 0 {
		r.err = errBadKVSnapshot
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *byteReader) bytes() []byte {
	n := r.uvarint()
	if r.err != nil || n > uint64(len(r.b)) {
		r.err = errBadKVSnapshot
		return nil
	}
	s := r.b[:n]
	r.b = r.b[n:]
	return s
}

// kvInput is the input of an operation in the porcupine model: a write of
// value to key, or a read of key (whose output is the value read).
type kvInput struct {
	write      bool
	key, value string
}

// kvModel is a single register per key, the specification the clients'
// history must be linearizable against. The history is checked one key at
// a time, so the model itself is a single register.
var kvModel = porcupine.Model{
	Init: func() interface{} { return "" },
	Step: func(state, input, output interface{}) (bool, interface{}) {
		in := input.(kvInput)
		if in.write {
			return true, in.value
		}
		return output.(string) == state.(string), state
	},
	DescribeOperation: func(input, output interface{}) string {
		in := input.(kvInput)
		if in.write {
			return fmt.Sprintf("put(%s, %s)", in.key, in.value)
		}
		return fmt.Sprintf("get(%s) -> %q", in.key, output)
	},
}
