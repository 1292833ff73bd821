package v37

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	epb "go.etcd.io/raft/v3/raftpb"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"

	pb "github.com/pontoon-raft/raft/raftpb"
)

// sparsify clears every scalar field that holds its zero value, recursively,
// leaving m as v3.7 code that sets only what it needs would build it.
func sparsify(m protoreflect.Message) {
	m.Range(func(fd protoreflect.FieldDescriptor, v protoreflect.Value) bool {
		switch {
		case fd.IsList() && fd.Message() != nil:
			for i := 0; i < v.List().Len(); i++ {
				sparsify(v.List().Get(i).Message())
			}
		case fd.Message() != nil:
			sparsify(v.Message())
		case !fd.IsList() && fd.Kind() != protoreflect.BytesKind && v.Equal(fd.Default()):
			m.Clear(fd)
		}
		return true
	})
}

// TestSparseV37Encoding checks the v3.7 encoding that omits zero scalars:
// we decode it to the same value, and v3.7, decoding our always-written
// fields, keeps their presence and re-encodes our bytes exactly.
func TestSparseV37Encoding(t *testing.T) {
	for seed := int64(0); seed < int64(iterations(t)); seed++ {
		g := newGen(seed)
		m := g.message(g.messageType(), 2)
		sparse := MessageToV37(m)
		sparsify(sparse.ProtoReflect())
		b, err := proto.MarshalOptions{Deterministic: true}.Marshal(sparse)
		require.NoError(t, err)
		var got pb.Message
		require.NoError(t, got.Unmarshal(b), "seed %d", seed)
		require.Equal(t, m, got, "seed %d", seed)

		ob, err := m.Marshal()
		require.NoError(t, err)
		require.LessOrEqual(t, len(b), len(ob), "seed %d", seed)
		var v epb.Message
		require.NoError(t, proto.Unmarshal(ob, &v))
		again, err := proto.MarshalOptions{Deterministic: true}.Marshal(&v)
		require.NoError(t, err)
		require.Equal(t, ob, again, "seed %d", seed)
	}
}

// TestHeartbeatBytes pins the example of the spec: the same heartbeat is 20
// bytes from v3.6 and from us, 8 bytes from v3.7 code that sets only the
// non-zero fields, and both decode alike.
func TestHeartbeatBytes(t *testing.T) {
	hb := pb.Message{Type: pb.MsgHeartbeat, To: 2, From: 1, Term: 5}
	ours, err := hb.Marshal()
	require.NoError(t, err)
	assert.Equal(t, []byte{0x08, 0x08, 0x10, 0x02, 0x18, 0x01, 0x20, 0x05, 0x28, 0x00, 0x30, 0x00,
		0x40, 0x00, 0x50, 0x00, 0x58, 0x00, 0x68, 0x00}, ours)

	v := &epb.Message{Type: epb.MsgHeartbeat.Enum(), To: proto.Uint64(2), From: proto.Uint64(1), Term: proto.Uint64(5)}
	sparse, err := proto.Marshal(v)
	require.NoError(t, err)
	assert.Equal(t, []byte{0x08, 0x08, 0x10, 0x02, 0x18, 0x01, 0x20, 0x05}, sparse)

	var got pb.Message
	require.NoError(t, got.Unmarshal(sparse))
	assert.Equal(t, hb, got)
}
