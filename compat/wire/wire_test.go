package wire

import (
	"fmt"
	"os"
	"strconv"
	"testing"

	"github.com/stretchr/testify/require"

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

// message is what the tests use of a generated type T, through *T.
type message[T any] interface {
	*T
	Marshal() ([]byte, error)
	Unmarshal([]byte) error
	Size() int
	String() string
}

// checkWire checks values drawn by gen in both directions: ours and etcd's
// encodings are the same bytes and of the reported size, String() prints
// the same text, etcd decodes our
// bytes to the field-by-field conversion of the value (toEtcd), and we
// decode etcd's bytes to the original value.
func checkWire[O any, PO message[O], E any, PE message[E]](t *testing.T, name string, gen func(g gen, i int) O, toEtcd func(O) E) {
	t.Run(name, func(t *testing.T) {
		n := iterations(t)
		for i := 0; i < n; i++ {
			seed := int64(i)
			g := newGen(seed)
			ours := gen(g, i)
			etcd := toEtcd(ours)
			replay := fmt.Sprintf("%s seed %d: %+v", name, seed, ours)

			ob, err := PO(&ours).Marshal()
			require.NoError(t, err, replay)
			eb, err := PE(&etcd).Marshal()
			require.NoError(t, err, replay)
			require.Equal(t, eb, ob, "encodings differ: %s", replay)
			require.Equal(t, PE(&etcd).Size(), PO(&ours).Size(), "sizes differ: %s", replay)
			// String() is etcd's text too, which log lines and test
			// output print.
			require.Equal(t, PE(&etcd).String(), PO(&ours).String(), "String() differs: %s", replay)

			var gotE E
			require.NoError(t, PE(&gotE).Unmarshal(ob), replay)
			require.Equal(t, etcd, gotE, "etcd decoded our bytes differently: %s", replay)

			var gotO O
			require.NoError(t, PO(&gotO).Unmarshal(eb), replay)
			require.Equal(t, ours, gotO, "we decoded etcd's bytes differently: %s", replay)
		}
	})
}

func TestWireInterop(t *testing.T) {
	// Cycle through every MessageType so each is drawn often.
	checkWire(t, "Message",
		func(g gen, i int) pb.Message { return g.message(pb.MessageType(i%numMessageTypes), 2) }, CopyMessageToEtcd)
	checkWire(t, "MessageAnyType",
		func(g gen, _ int) pb.Message { return g.message(g.messageType(), 3) }, CopyMessageToEtcd)
	checkWire(t, "Entry",
		func(g gen, _ int) pb.Entry { return g.entry() }, CopyEntryToEtcd)
	checkWire(t, "Snapshot",
		func(g gen, _ int) pb.Snapshot { return g.snapshot() }, CopySnapshotToEtcd)
	checkWire(t, "SnapshotMetadata",
		func(g gen, _ int) pb.SnapshotMetadata { return g.snapshotMetadata() }, CopySnapshotMetadataToEtcd)
	checkWire(t, "ConfState",
		func(g gen, _ int) pb.ConfState { return g.confState() }, CopyConfStateToEtcd)
	checkWire(t, "HardState",
		func(g gen, _ int) pb.HardState { return g.hardState() }, CopyHardStateToEtcd)
	checkWire(t, "ConfChange",
		func(g gen, _ int) pb.ConfChange { return g.confChange() }, CopyConfChangeToEtcd)
	checkWire(t, "ConfChangeV2",
		func(g gen, _ int) pb.ConfChangeV2 { return g.confChangeV2() }, CopyConfChangeV2ToEtcd)
	checkWire(t, "ConfChangeSingle",
		func(g gen, _ int) pb.ConfChangeSingle { return g.confChangeSingle() }, CopyConfChangeSingleToEtcd)
}
