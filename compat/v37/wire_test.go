package v37

import (
	"fmt"
	"os"
	"strconv"
	"testing"

	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/proto"
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

// ours is what our generated types provide.
type ours interface {
	Marshal() ([]byte, error)
	Unmarshal([]byte) error
}

// v37Case checks values of one type both ways against v3.7: v3.7 decodes
// our bytes to a value whose getters give back the original; with every
// field set, v3.7's deterministic encoding is byte for byte ours; and we
// decode v3.7's bytes to the original.
type v37Case[O any, P interface {
	*O
	ours
}, V proto.Message] struct {
	name  string
	gen   func(g gen, i int) O
	to    func(O) V
	from  func(V) O
	fresh func() V
}

func (c v37Case[O, P, V]) run(t *testing.T) {
	t.Run(c.name, func(t *testing.T) {
		det := proto.MarshalOptions{Deterministic: true}
		n := iterations(t)
		for i := 0; i < n; i++ {
			seed := int64(i)
			o := c.gen(newGen(seed), i)
			replay := fmt.Sprintf("%s seed %d: %+v", c.name, seed, o)

			ob, err := P(&o).Marshal()
			require.NoError(t, err, replay)
			v := c.fresh()
			require.NoError(t, proto.Unmarshal(ob, v), replay)
			require.Equal(t, o, c.from(v), "v3.7 decoded our bytes differently: %s", replay)

			vb, err := det.Marshal(c.to(o))
			require.NoError(t, err, replay)
			require.Equal(t, ob, vb, "encodings differ: %s", replay)

			var back O
			require.NoError(t, P(&back).Unmarshal(vb), replay)
			require.Equal(t, o, back, "we decoded v3.7's bytes differently: %s", replay)
		}
	})
}
