package mixed

import (
	"crypto/rand"
	"fmt"
	mrand "math/rand"
	"slices"

	"github.com/pontoon-raft/raft"
	"github.com/pontoon-raft/raft/raftsim"
)

// Factory returns a raftsim.NodeFactory that starts the nodes whose IDs are
// in etcdIDs as EtcdNodes and every other node as a Pontoon RawNode.
func Factory(etcdIDs []uint64) raftsim.NodeFactory {
	return func(cfg *raft.Config) (raftsim.Node, error) {
		if slices.Contains(etcdIDs, cfg.ID) {
			return EtcdNodeFactory(cfg)
		}
		return raftsim.RawNodeFactory(cfg)
	}
}

// PickEtcdNodes chooses k of the IDs 1..n to run etcd, as a function of
// seed, so that a sweep puts etcd nodes in every position over its seeds.
// The result is sorted.
func PickEtcdNodes(n, k int, seed int64) []uint64 {
	if k < 0 || k > n {
		panic(fmt.Sprintf("mixed: cannot pick %d etcd nodes out of %d", k, n))
	}
	ids := make([]uint64, n)
	for i := range ids {
		ids[i] = uint64(i + 1)
	}
	r := mrand.New(mrand.NewSource(seed))
	r.Shuffle(n, func(i, j int) { ids[i], ids[j] = ids[j], ids[i] })
	out := ids[:k]
	slices.Sort(out)
	return out
}

// seededReader is a reproducible stand-in for crypto/rand's Reader.
type seededReader struct{ r *mrand.Rand }

func (s seededReader) Read(p []byte) (int, error) { return s.r.Read(p) }

// Run runs one simulation (raftsim.Run) with the nodes in etcdIDs running
// etcd/raft; opts.NodeFactory is replaced. While it runs, crypto/rand's
// Reader, from which etcd draws its election timeouts, is a source seeded
// from opts.Seed, so the same arguments give the same run. Run must not be
// called concurrently with itself or with code that needs real randomness.
func Run(opts raftsim.Options, etcdIDs []uint64) (raftsim.Result, error) {
	saved := rand.Reader
	rand.Reader = seededReader{mrand.New(mrand.NewSource(opts.Seed ^ 0x5eed))}
	defer func() { rand.Reader = saved }()
	opts.NodeFactory = Factory(etcdIDs)
	return raftsim.Run(opts)
}
