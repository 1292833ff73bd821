package wire

import (
	"fmt"
	"os"
	"strconv"
	"testing"

	"github.com/stretchr/testify/require"
	epb "go.etcd.io/raft/v3/raftpb"

	pb "github.com/pontoon-raft/raft/raftpb"
)

// iterations returns how many random values each property test draws:
// WIRE_ITERATIONS, or 2,000.
func iterations(t *testing.T) int {
	if s := os.Getenv("WIRE_ITERATIONS"); s != "" {
		n, err := strconv.Atoi(s)
		require.NoError(t, err, "WIRE_ITERATIONS")
		return n
	}
	return 2000
}

// codec is the part of a generated type the tests use.
type codec interface {
	Marshal() ([]byte, error)
	Size() int
}

// wireCase checks one value in both directions: ours and etcd's encodings
// are the same bytes and of the reported size, etcd decodes our bytes to
// the field-by-field conversion of the value, and we decode etcd's bytes to
// the original value.
type wireCase[O any, E any] struct {
	name    string
	gen     func(g gen, i int) O
	toEtcd  func(O) E
	oursPtr func(*O) codec
	etcdPtr func(*E) codec
	decodeE func([]byte) (E, error)
	decodeO func([]byte) (O, error)
}

func (c wireCase[O, E]) run(t *testing.T) {
	t.Run(c.name, func(t *testing.T) {
		n := iterations(t)
		for i := 0; i < n; i++ {
			seed := int64(i)
			g := newGen(seed)
			ours := c.gen(g, i)
			etcd := c.toEtcd(ours)
			replay := fmt.Sprintf("%s seed %d: %+v", c.name, seed, ours)

			ob, err := c.oursPtr(&ours).Marshal()
			require.NoError(t, err, replay)
			eb, err := c.etcdPtr(&etcd).Marshal()
			require.NoError(t, err, replay)
			require.Equal(t, eb, ob, "encodings differ: %s", replay)
			require.Equal(t, c.etcdPtr(&etcd).Size(), c.oursPtr(&ours).Size(), "sizes differ: %s", replay)

			gotE, err := c.decodeE(ob)
			require.NoError(t, err, replay)
			require.Equal(t, etcd, gotE, "etcd decoded our bytes differently: %s", replay)

			gotO, err := c.decodeO(eb)
			require.NoError(t, err, replay)
			require.Equal(t, ours, gotO, "we decoded etcd's bytes differently: %s", replay)
		}
	})
}

func decoder[T any, P interface {
	*T
	Unmarshal([]byte) error
}]() func([]byte) (T, error) {
	return func(b []byte) (T, error) {
		var v T
		err := P(&v).Unmarshal(b)
		return v, err
	}
}

func TestWireInterop(t *testing.T) {
	wireCase[pb.Message, epb.Message]{
		name: "Message",
		// Cycle through every MessageType so each is drawn often.
		gen:     func(g gen, i int) pb.Message { return g.message(pb.MessageType(i%numMessageTypes), 2) },
		toEtcd:  CopyMessageToEtcd,
		oursPtr: func(v *pb.Message) codec { return v },
		etcdPtr: func(v *epb.Message) codec { return v },
		decodeE: decoder[epb.Message](),
		decodeO: decoder[pb.Message](),
	}.run(t)
	wireCase[pb.Message, epb.Message]{
		name:    "MessageAnyType",
		gen:     func(g gen, _ int) pb.Message { return g.message(g.messageType(), 3) },
		toEtcd:  CopyMessageToEtcd,
		oursPtr: func(v *pb.Message) codec { return v },
		etcdPtr: func(v *epb.Message) codec { return v },
		decodeE: decoder[epb.Message](),
		decodeO: decoder[pb.Message](),
	}.run(t)
	wireCase[pb.Entry, epb.Entry]{
		name:    "Entry",
		gen:     func(g gen, _ int) pb.Entry { return g.entry() },
		toEtcd:  CopyEntryToEtcd,
		oursPtr: func(v *pb.Entry) codec { return v },
		etcdPtr: func(v *epb.Entry) codec { return v },
		decodeE: decoder[epb.Entry](),
		decodeO: decoder[pb.Entry](),
	}.run(t)
	wireCase[pb.Snapshot, epb.Snapshot]{
		name:    "Snapshot",
		gen:     func(g gen, _ int) pb.Snapshot { return g.snapshot() },
		toEtcd:  CopySnapshotToEtcd,
		oursPtr: func(v *pb.Snapshot) codec { return v },
		etcdPtr: func(v *epb.Snapshot) codec { return v },
		decodeE: decoder[epb.Snapshot](),
		decodeO: decoder[pb.Snapshot](),
	}.run(t)
	wireCase[pb.SnapshotMetadata, epb.SnapshotMetadata]{
		name:    "SnapshotMetadata",
		gen:     func(g gen, _ int) pb.SnapshotMetadata { return g.snapshotMetadata() },
		toEtcd:  CopySnapshotMetadataToEtcd,
		oursPtr: func(v *pb.SnapshotMetadata) codec { return v },
		etcdPtr: func(v *epb.SnapshotMetadata) codec { return v },
		decodeE: decoder[epb.SnapshotMetadata](),
		decodeO: decoder[pb.SnapshotMetadata](),
	}.run(t)
	wireCase[pb.ConfState, epb.ConfState]{
		name:    "ConfState",
		gen:     func(g gen, _ int) pb.ConfState { return g.confState() },
		toEtcd:  CopyConfStateToEtcd,
		oursPtr: func(v *pb.ConfState) codec { return v },
		etcdPtr: func(v *epb.ConfState) codec { return v },
		decodeE: decoder[epb.ConfState](),
		decodeO: decoder[pb.ConfState](),
	}.run(t)
	wireCase[pb.HardState, epb.HardState]{
		name:    "HardState",
		gen:     func(g gen, _ int) pb.HardState { return g.hardState() },
		toEtcd:  CopyHardStateToEtcd,
		oursPtr: func(v *pb.HardState) codec { return v },
		etcdPtr: func(v *epb.HardState) codec { return v },
		decodeE: decoder[epb.HardState](),
		decodeO: decoder[pb.HardState](),
	}.run(t)
	wireCase[pb.ConfChange, epb.ConfChange]{
		name:    "ConfChange",
		gen:     func(g gen, _ int) pb.ConfChange { return g.confChange() },
		toEtcd:  CopyConfChangeToEtcd,
		oursPtr: func(v *pb.ConfChange) codec { return v },
		etcdPtr: func(v *epb.ConfChange) codec { return v },
		decodeE: decoder[epb.ConfChange](),
		decodeO: decoder[pb.ConfChange](),
	}.run(t)
	wireCase[pb.ConfChangeV2, epb.ConfChangeV2]{
		name:    "ConfChangeV2",
		gen:     func(g gen, _ int) pb.ConfChangeV2 { return g.confChangeV2() },
		toEtcd:  CopyConfChangeV2ToEtcd,
		oursPtr: func(v *pb.ConfChangeV2) codec { return v },
		etcdPtr: func(v *epb.ConfChangeV2) codec { return v },
		decodeE: decoder[epb.ConfChangeV2](),
		decodeO: decoder[pb.ConfChangeV2](),
	}.run(t)
	wireCase[pb.ConfChangeSingle, epb.ConfChangeSingle]{
		name:    "ConfChangeSingle",
		gen:     func(g gen, _ int) pb.ConfChangeSingle { return g.confChangeSingle() },
		toEtcd:  CopyConfChangeSingleToEtcd,
		oursPtr: func(v *pb.ConfChangeSingle) codec { return v },
		etcdPtr: func(v *epb.ConfChangeSingle) codec { return v },
		decodeE: decoder[epb.ConfChangeSingle](),
		decodeO: decoder[pb.ConfChangeSingle](),
	}.run(t)
}
