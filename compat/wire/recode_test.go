package wire

import (
	"testing"

	"github.com/stretchr/testify/require"
)

// TestRecodeMatchesCopy checks that the Recode functions, which go through
// the wire, agree with the field-by-field Copy functions both ways.
func TestRecodeMatchesCopy(t *testing.T) {
	for seed := int64(0); seed < 500; seed++ {
		g := newGen(seed)
		m := g.message(g.messageType(), 2)
		em, err := RecodeMessageToEtcd(m)
		require.NoError(t, err)
		require.Equal(t, CopyMessageToEtcd(m), em, "seed %d", seed)
		back, err := RecodeMessageFromEtcd(em)
		require.NoError(t, err)
		require.Equal(t, m, back, "seed %d", seed)

		ents := g.entries()
		ee, err := RecodeEntriesToEtcd(ents)
		require.NoError(t, err)
		require.Equal(t, CopyEntriesToEtcd(ents), ee, "seed %d", seed)
		oe, err := RecodeEntriesFromEtcd(ee)
		require.NoError(t, err)
		require.Equal(t, ents, oe, "seed %d", seed)

		s := g.snapshot()
		es, err := RecodeSnapshotToEtcd(s)
		require.NoError(t, err)
		require.Equal(t, CopySnapshotToEtcd(s), es, "seed %d", seed)
		gotS, err := RecodeSnapshotFromEtcd(es)
		require.NoError(t, err)
		require.Equal(t, s, gotS, "seed %d", seed)

		hs := g.hardState()
		eh, err := RecodeHardStateToEtcd(hs)
		require.NoError(t, err)
		require.Equal(t, CopyHardStateToEtcd(hs), eh)
		oh, err := RecodeHardStateFromEtcd(eh)
		require.NoError(t, err)
		require.Equal(t, hs, oh)

		cs := g.confState()
		ec, err := RecodeConfStateToEtcd(cs)
		require.NoError(t, err)
		require.Equal(t, CopyConfStateToEtcd(cs), ec)
		oc, err := RecodeConfStateFromEtcd(ec)
		require.NoError(t, err)
		require.Equal(t, cs, oc)

		cc := g.confChange()
		require.Equal(t, cc, CopyConfChangeFromEtcd(CopyConfChangeToEtcd(cc)))
		v2 := g.confChangeV2()
		require.Equal(t, v2, CopyConfChangeV2FromEtcd(CopyConfChangeV2ToEtcd(v2)))
		require.Equal(t, cs, CopyConfStateFromEtcd(CopyConfStateToEtcd(cs)))
		require.Equal(t, ents, CopyEntriesFromEtcd(CopyEntriesToEtcd(ents)))
		require.Equal(t, m, CopyMessageFromEtcd(CopyMessageToEtcd(m)))
		require.Equal(t, hs, CopyHardStateFromEtcd(CopyHardStateToEtcd(hs)))
		require.Equal(t, s, CopySnapshotFromEtcd(CopySnapshotToEtcd(s)))
	}
}
