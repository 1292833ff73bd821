package server

import (
	"slices"
)

// Step is one change towards a balanced cluster, computed by NextStep.
type Step struct {
	// Shard is the shard changed (for a move or a reorder), MetaShard for
	// a move of a replica of the meta group.
	Shard int `json:"shard"`
	// From and To: move the replica of Shard on From to To (a learner
	// caught up, then promoted, then From removed).
	From uint64 `json:"from,omitempty"`
	To   uint64 `json:"to,omitempty"`
	// Reorder, if set, is Shard's replicas in a new order (a new preferred
	// leader); no data moves.
	Reorder []uint64 `json:"reorder,omitempty"`
	// Remove is a leaving member that holds nothing any more.
	Remove uint64 `json:"remove,omitempty"`
}

// NextStep returns the next step towards a cluster where no leaving member
// holds a replica, the members hold numbers of replicas that differ by at
// most one, and so do the numbers of shards they are the preferred leader
// of. It returns false when there is nothing to do. It depends only on m,
// so the same map always gives the same step; a move begun (m.Moving) comes
// first, so that a move cut short is finished even if the map changed
// meanwhile.
func NextStep(m *ClusterMap) (Step, bool) {
	if m.Moving != nil {
		return *m.Moving, true
	}
	var active []uint64
	for id := range m.Members {
		if !slices.Contains(m.Leaving, id) {
			active = append(active, id)
		}
	}
	slices.Sort(active)
	if len(active) == 0 {
		return Step{}, false
	}
	replicas, preferred := map[uint64]int{}, map[uint64]int{}
	for _, r := range m.Shards {
		for _, id := range r {
			replicas[id]++
		}
		preferred[r[0]]++
	}
	// fewest returns the active member with the fewest replicas that does
	// not hold shard s (or the meta group), nor has an old replica of it to
	// delete (lowest ID first), or 0.
	fewest := func(s int) uint64 {
		best := uint64(0)
		for _, id := range active {
			if !slices.Contains(m.group(s), id) && !m.dropping(id, s) && (best == 0 || replicas[id] < replicas[best]) {
				best = id
			}
		}
		return best
	}
	// 1. Move replicas off leaving members, the meta group's first.
	for _, l := range slices.Sorted(slices.Values(m.Leaving)) {
		if slices.Contains(m.Meta, l) {
			if to := fewest(MetaShard); to != 0 {
				return Step{Shard: MetaShard, From: l, To: to}, true
			}
		}
		for s, r := range m.Shards {
			if slices.Contains(r, l) {
				if to := fewest(s); to != 0 {
					return Step{Shard: s, From: l, To: to}, true
				}
			}
		}
	}
	// 2. Remove leaving members that hold nothing, and have deleted the
	// replicas moved off them.
	for _, l := range slices.Sorted(slices.Values(m.Leaving)) {
		if replicas[l] == 0 && !slices.Contains(m.Meta, l) && !m.hasDrops(l) {
			return Step{Remove: l}, true
		}
	}
	// 3. Even out replicas: from the member with the most to the one with
	// the fewest.
	most, least := extremes(active, replicas)
	if replicas[most]-replicas[least] > 1 {
		for s, r := range m.Shards {
			if slices.Contains(r, most) && !slices.Contains(r, least) && !m.dropping(least, s) {
				return Step{Shard: s, From: most, To: least}, true
			}
		}
	}
	// 4. Even out preferred leaderships, swapping the first replica with
	// another of the same shard.
	most, least = extremes(active, preferred)
	if preferred[most]-preferred[least] > 1 {
		for s, r := range m.Shards {
			if i := slices.Index(r, least); r[0] == most && i > 0 {
				next := slices.Clone(r)
				next[0], next[i] = next[i], next[0]
				return Step{Shard: s, Reorder: next}, true
			}
		}
	}
	return Step{}, false
}

// extremes returns the members with the highest and the lowest count (the
// lowest ID on ties).
func extremes(ids []uint64, count map[uint64]int) (most, least uint64) {
	most, least = ids[0], ids[0]
	for _, id := range ids[1:] {
		if count[id] > count[most] {
			most = id
		}
		if count[id] < count[least] {
			least = id
		}
	}
	return most, least
}

// movedReplicas returns the replicas of st.Shard (or of the meta group)
// after the move st: To takes From's place.
func (m *ClusterMap) movedReplicas(st Step) []uint64 {
	r := slices.Clone(m.group(st.Shard))
	r[slices.Index(r, st.From)] = st.To
	return r
}
