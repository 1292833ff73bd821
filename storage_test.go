package raft

import (
	"fmt"
	"math"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	pb "github.com/pontoon-raft/raft/raftpb"
)

// The storage under test in most cases: compacted up to (3, 3), then entries
// 4 and 5 of terms 4 and 5.
func storage345(t *testing.T) *MemoryStorage {
	return newCompactedStorage(t, 3, 3, makeEnts(4, 4, 5))
}

func TestNewMemoryStorage(t *testing.T) {
	ms := NewMemoryStorage()
	first, err := ms.FirstIndex()
	require.NoError(t, err)
	last, err := ms.LastIndex()
	require.NoError(t, err)
	assert.Equal(t, uint64(1), first)
	assert.Equal(t, uint64(0), last)

	term, err := ms.Term(0)
	require.NoError(t, err)
	assert.Zero(t, term)
	_, err = ms.Term(1)
	assert.Equal(t, ErrUnavailable, err)

	_, err = ms.Entries(1, 1, math.MaxUint64)
	assert.Equal(t, ErrUnavailable, err)
	_, err = ms.Entries(0, 1, math.MaxUint64)
	assert.Equal(t, ErrCompacted, err)

	snap, err := ms.Snapshot()
	require.NoError(t, err)
	assert.True(t, snap.Metadata.Index == 0 && snap.Data == nil)
}

func TestMemoryStorageInitialState(t *testing.T) {
	ms := NewMemoryStorage()
	hs, cs, err := ms.InitialState()
	require.NoError(t, err)
	assert.Equal(t, pb.HardState{}, hs)
	assert.Equal(t, pb.ConfState{}, cs)

	want := pb.HardState{Term: 3, Vote: 2, Commit: 7}
	require.NoError(t, ms.SetHardState(want))
	conf := pb.ConfState{Voters: []uint64{1, 2, 3}, Learners: []uint64{4}}
	require.NoError(t, ms.ApplySnapshot(pb.Snapshot{Metadata: pb.SnapshotMetadata{Index: 5, Term: 2, ConfState: conf}}))

	hs, cs, err = ms.InitialState()
	require.NoError(t, err)
	assert.Equal(t, want, hs)
	assert.Equal(t, conf, cs)
}

func TestMemoryStorageTerm(t *testing.T) {
	ms := storage345(t)
	for _, tt := range []struct {
		i    uint64
		want uint64
		err  error
	}{
		{i: 2, err: ErrCompacted},
		{i: 3, want: 3}, // the snapshot's term stays readable
		{i: 4, want: 4},
		{i: 5, want: 5},
		{i: 6, err: ErrUnavailable},
		{i: math.MaxUint64, err: ErrUnavailable},
	} {
		t.Run(fmt.Sprint(tt.i), func(t *testing.T) {
			term, err := ms.Term(tt.i)
			assert.Equal(t, tt.err, err)
			assert.Equal(t, tt.want, term)
		})
	}
}

func TestMemoryStorageEntries(t *testing.T) {
	ents := entsWithData(4, 4, 4, 10) // indexes 4..7, 18 bytes each
	ms := newCompactedStorage(t, 3, 3, ents)
	one := entsSize(ents[:1])

	for _, tt := range []struct {
		name    string
		lo, hi  uint64
		maxSize uint64
		want    []pb.Entry
		err     error
	}{
		{name: "below snapshot", lo: 2, hi: 6, maxSize: math.MaxUint64, err: ErrCompacted},
		{name: "at snapshot", lo: 3, hi: 6, maxSize: math.MaxUint64, err: ErrCompacted},
		{name: "empty range", lo: 5, hi: 5, maxSize: math.MaxUint64, want: []pb.Entry{}},
		{name: "one", lo: 4, hi: 5, maxSize: math.MaxUint64, want: ents[:1]},
		{name: "all", lo: 4, hi: 8, maxSize: math.MaxUint64, want: ents},
		{name: "middle", lo: 5, hi: 7, maxSize: math.MaxUint64, want: ents[1:3]},
		{name: "limit 0 returns one", lo: 4, hi: 8, maxSize: 0, want: ents[:1]},
		{name: "limit below one entry returns one", lo: 4, hi: 8, maxSize: one / 2, want: ents[:1]},
		{name: "limit two", lo: 4, hi: 8, maxSize: 2 * one, want: ents[:2]},
		{name: "limit two and a half", lo: 4, hi: 8, maxSize: 2*one + one/2, want: ents[:2]},
		{name: "limit exactly all", lo: 4, hi: 8, maxSize: 4 * one, want: ents},
		{name: "limit from middle", lo: 6, hi: 8, maxSize: one, want: ents[2:3]},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ms.Entries(tt.lo, tt.hi, tt.maxSize)
			assert.Equal(t, tt.err, err)
			if tt.err != nil {
				assert.Nil(t, got)
				return
			}
			assert.Equal(t, tt.want, got)
			assert.Equal(t, len(got), cap(got), "the result must not expose spare capacity")
		})
	}
}

func TestMemoryStorageEntriesPanics(t *testing.T) {
	ms := storage345(t)
	assert.PanicsWithValue(t, "raft: MemoryStorage.Entries: hi 7 is beyond last index 5 + 1", func() {
		_, _ = ms.Entries(4, 7, math.MaxUint64)
	})
	assert.PanicsWithValue(t, "raft: MemoryStorage.Entries: lo 5 is greater than hi 4", func() {
		_, _ = ms.Entries(5, 4, math.MaxUint64)
	})
}

// Appending to a slice returned by Entries, as the Storage contract allows,
// must not change what the storage holds.
func TestMemoryStorageEntriesResultIsCallers(t *testing.T) {
	ms := newCompactedStorage(t, 0, 0, makeEnts(1, 1, 1, 1, 1))
	for _, maxSize := range []uint64{math.MaxUint64, 0} {
		got, err := ms.Entries(1, 3, maxSize)
		require.NoError(t, err)
		_ = append(got, pb.Entry{Index: 99, Term: 99})
		all, err := ms.Entries(1, 5, math.MaxUint64)
		require.NoError(t, err)
		assert.Equal(t, makeEnts(1, 1, 1, 1, 1), all, "maxSize %d", maxSize)
	}
}

func TestMemoryStorageFirstLastIndex(t *testing.T) {
	ms := storage345(t)
	check := func(wantFirst, wantLast uint64) {
		t.Helper()
		first, err := ms.FirstIndex()
		require.NoError(t, err)
		last, err := ms.LastIndex()
		require.NoError(t, err)
		assert.Equal(t, wantFirst, first, "first index")
		assert.Equal(t, wantLast, last, "last index")
	}
	check(4, 5)
	require.NoError(t, ms.Append(makeEnts(6, 5)))
	check(4, 6)
	require.NoError(t, ms.Compact(4))
	check(5, 6)
	require.NoError(t, ms.Compact(6))
	check(7, 6) // an empty log: first is one past last
}

func TestMemoryStorageCompact(t *testing.T) {
	for _, tt := range []struct {
		compact   uint64
		err       error
		wantFirst uint64
		wantTerm  uint64 // term still readable at the compact index
		wantLen   int    // len(ms.ents), dummy included
	}{
		{compact: 2, err: ErrCompacted, wantFirst: 4, wantTerm: 0, wantLen: 3},
		{compact: 3, err: ErrCompacted, wantFirst: 4, wantTerm: 3, wantLen: 3},
		{compact: 4, wantFirst: 5, wantTerm: 4, wantLen: 2},
		{compact: 5, wantFirst: 6, wantTerm: 5, wantLen: 1},
	} {
		t.Run(fmt.Sprint(tt.compact), func(t *testing.T) {
			ms := storage345(t)
			assert.Equal(t, tt.err, ms.Compact(tt.compact))
			first, err := ms.FirstIndex()
			require.NoError(t, err)
			assert.Equal(t, tt.wantFirst, first)
			assert.Len(t, ms.ents, tt.wantLen)
			if tt.err == nil {
				assert.Equal(t, pb.Entry{Index: tt.compact, Term: tt.wantTerm}, ms.ents[0])
				term, err := ms.Term(tt.compact)
				require.NoError(t, err)
				assert.Equal(t, tt.wantTerm, term)
			}
		})
	}

	ms := storage345(t)
	assert.PanicsWithValue(t, "raft: MemoryStorage.Compact: compact index 6 is beyond last index 5", func() {
		_ = ms.Compact(6)
	})
}

// Compaction must move the survivors to a new array no more than twice their
// size, so the old array and the payloads of compacted entries can be garbage
// collected.
func TestMemoryStorageCompactReleasesMemory(t *testing.T) {
	ms := newCompactedStorage(t, 0, 0, entsWithData(1, 1, 1000, 64))
	old := ms.ents
	require.NoError(t, ms.Compact(990))

	require.Len(t, ms.ents, 11) // dummy at 990 plus 991..1000
	assert.Equal(t, 2*len(ms.ents), cap(ms.ents), "room for as many entries as are kept, no more")
	for _, e := range ms.ents[len(ms.ents):cap(ms.ents)] {
		assert.Zero(t, e, "the spare capacity must not retain compacted entries")
	}
	assert.NotSame(t, &old[991], &ms.ents[1], "kept entries must live in a new array")
	assert.Equal(t, old[991:], ms.ents[1:])
	assert.Nil(t, ms.ents[0].Data, "the dummy entry must not retain a payload")

	ents, err := ms.Entries(991, 1001, math.MaxUint64)
	require.NoError(t, err)
	assert.Equal(t, old[991:], ents)
}

// An embedder that compacts as often as it appends (etcd compacts every 100
// applied entries down to the last 5,000) appends into the array Compact
// made: the survivors are copied once per Compact, not once more by the
// first Append after it.
func TestMemoryStorageAppendAfterCompactStaysInPlace(t *testing.T) {
	ms := newCompactedStorage(t, 0, 0, makeEnts(1, repeatTerm(1, 200)...))
	require.NoError(t, ms.Compact(100)) // 100 slots go (the dummy and 1..99), 101 stay
	array := &ms.ents[0]
	for i := uint64(201); i <= 300; i++ {
		require.NoError(t, ms.Append(makeEnts(i, 1)))
	}
	assert.Same(t, array, &ms.ents[0], "appending as many entries as were compacted must not move the log")

	ents, err := ms.Entries(101, 301, math.MaxUint64)
	require.NoError(t, err)
	assert.Equal(t, makeEnts(101, repeatTerm(1, 200)...), ents)
}

func TestMemoryStorageCreateSnapshot(t *testing.T) {
	cs := &pb.ConfState{Voters: []uint64{1, 2, 3}}
	data := []byte("state")
	for _, tt := range []struct {
		i    uint64
		err  error
		want pb.Snapshot
	}{
		{i: 3, err: ErrSnapOutOfDate},
		{i: 4, want: pb.Snapshot{Data: data, Metadata: pb.SnapshotMetadata{Index: 4, Term: 4, ConfState: *cs}}},
		{i: 5, want: pb.Snapshot{Data: data, Metadata: pb.SnapshotMetadata{Index: 5, Term: 5, ConfState: *cs}}},
	} {
		t.Run(fmt.Sprint(tt.i), func(t *testing.T) {
			ms := storage345(t)
			snap, err := ms.CreateSnapshot(tt.i, cs, data)
			assert.Equal(t, tt.err, err)
			assert.Equal(t, tt.want, snap)
			if err == nil {
				stored, err := ms.Snapshot()
				require.NoError(t, err)
				assert.Equal(t, tt.want, stored)
			}
		})
	}

	t.Run("nil ConfState keeps the previous one", func(t *testing.T) {
		ms := storage345(t)
		_, err := ms.CreateSnapshot(4, cs, nil)
		require.NoError(t, err)
		snap, err := ms.CreateSnapshot(5, nil, []byte("later"))
		require.NoError(t, err)
		assert.Equal(t, *cs, snap.Metadata.ConfState)
		assert.Equal(t, []byte("later"), snap.Data)
		_, err = ms.CreateSnapshot(5, nil, nil)
		assert.Equal(t, ErrSnapOutOfDate, err)
	})

	t.Run("index already compacted", func(t *testing.T) {
		ms := newCompactedStorage(t, 0, 0, makeEnts(1, 1, 1, 2, 2))
		require.NoError(t, ms.Compact(3))
		_, err := ms.CreateSnapshot(2, nil, nil)
		assert.Equal(t, ErrCompacted, err)
		snap, err := ms.CreateSnapshot(3, nil, nil) // the compact point's term is kept
		require.NoError(t, err)
		assert.Equal(t, uint64(2), snap.Metadata.Term)
	})

	t.Run("beyond last index panics", func(t *testing.T) {
		ms := storage345(t)
		assert.PanicsWithValue(t, "raft: MemoryStorage.CreateSnapshot: index 6 is beyond last index 5", func() {
			_, _ = ms.CreateSnapshot(6, nil, nil)
		})
	})
}

func TestMemoryStorageApplySnapshot(t *testing.T) {
	cs := pb.ConfState{Voters: []uint64{1, 2}}
	ms := storage345(t)

	snap := pb.Snapshot{Data: []byte("s"), Metadata: pb.SnapshotMetadata{Index: 8, Term: 6, ConfState: cs}}
	require.NoError(t, ms.ApplySnapshot(snap))
	got, err := ms.Snapshot()
	require.NoError(t, err)
	assert.Equal(t, snap, got)
	assert.Equal(t, []pb.Entry{{Index: 8, Term: 6}}, ms.ents)
	first, _ := ms.FirstIndex()
	last, _ := ms.LastIndex()
	assert.Equal(t, uint64(9), first)
	assert.Equal(t, uint64(8), last)
	term, err := ms.Term(8)
	require.NoError(t, err)
	assert.Equal(t, uint64(6), term)

	for _, index := range []uint64{8, 7} {
		err := ms.ApplySnapshot(pb.Snapshot{Metadata: pb.SnapshotMetadata{Index: index, Term: 9}})
		assert.Equal(t, ErrSnapOutOfDate, err, "index %d", index)
	}
	got, _ = ms.Snapshot()
	assert.Equal(t, snap, got, "a rejected snapshot must change nothing")

	// The log continues right after the snapshot.
	require.NoError(t, ms.Append(makeEnts(9, 6, 7)))
	last, _ = ms.LastIndex()
	assert.Equal(t, uint64(10), last)
}

func TestMemoryStorageAppend(t *testing.T) {
	for _, tt := range []struct {
		name string
		ents []pb.Entry
		want []pb.Entry // ms.ents afterwards, dummy included
	}{
		{"empty", nil, makeEnts(3, 3, 4, 5)},
		{"identical", makeEnts(3, 3, 4, 5), makeEnts(3, 3, 4, 5)},
		{"conflict from the first retained entry", makeEnts(4, 6, 6), makeEnts(3, 3, 6, 6)},
		{"conflict in the middle", makeEnts(5, 6, 6), makeEnts(3, 3, 4, 6, 6)},
		{"shorter replaces the suffix", makeEnts(4, 4), makeEnts(3, 3, 4)},
		{"extends", makeEnts(6, 5), makeEnts(3, 3, 4, 5, 5)},
		{"overlaps and extends", makeEnts(5, 5, 5), makeEnts(3, 3, 4, 5, 5)},
		{"compacted part is trimmed", makeEnts(2, 3, 3, 5), makeEnts(3, 3, 5)},
		{"entirely compacted is ignored", makeEnts(1, 1, 2, 3), makeEnts(3, 3, 4, 5)},
	} {
		t.Run(tt.name, func(t *testing.T) {
			ms := storage345(t)
			input := append([]pb.Entry(nil), tt.ents...)
			require.NoError(t, ms.Append(input))
			assert.Equal(t, tt.want, ms.ents)
			assert.Equal(t, tt.ents, input, "Append must not modify its argument")
		})
	}

	ms := storage345(t)
	assert.PanicsWithValue(t, "raft: MemoryStorage.Append: first new index 7 leaves a gap after last index 5", func() {
		_ = ms.Append(makeEnts(7, 5))
	})
}

// A slice handed out by Entries must stay intact when a later Append
// replaces the entries it covers, or extends the log.
func TestMemoryStorageAppendKeepsHandedOutSlices(t *testing.T) {
	ms := newCompactedStorage(t, 0, 0, makeEnts(1, 1, 1, 1, 1))
	got, err := ms.Entries(1, 5, math.MaxUint64)
	require.NoError(t, err)
	want := makeEnts(1, 1, 1, 1, 1)

	require.NoError(t, ms.Append(makeEnts(3, 2, 2, 2))) // replaces 3 and 4, adds 5
	assert.Equal(t, want, got)
	require.NoError(t, ms.Append(makeEnts(6, 2, 2, 2, 2))) // extends
	assert.Equal(t, want, got)

	all, err := ms.Entries(1, 10, math.MaxUint64)
	require.NoError(t, err)
	assert.Equal(t, makeEnts(1, 1, 1, 2, 2, 2, 2, 2, 2, 2), all)
}

// Run with -race: every method must be safe to call concurrently.
func TestMemoryStorageConcurrentUse(t *testing.T) {
	ms := NewMemoryStorage()
	const writes = 200
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := uint64(1); i <= writes; i++ {
			assert.NoError(t, ms.Append(makeEnts(i, i)))
			assert.NoError(t, ms.SetHardState(pb.HardState{Term: i, Commit: i}))
			if i%50 == 0 {
				_, err := ms.CreateSnapshot(i-10, nil, nil)
				assert.NoError(t, err)
				assert.NoError(t, ms.Compact(i-10))
			}
		}
	}()
	for r := 0; r < 4; r++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for n := 0; n < writes; n++ {
				first, err := ms.FirstIndex()
				assert.NoError(t, err)
				last, err := ms.LastIndex()
				assert.NoError(t, err)
				if last >= first {
					// A concurrent Compact may win the race; that is the
					// documented ErrCompacted, never a panic.
					ents, err := ms.Entries(first, last+1, 1024)
					if err == nil {
						assert.NotEmpty(t, ents)
						assert.Equal(t, ents[0].Index, ents[0].Term)
					} else {
						assert.Equal(t, ErrCompacted, err)
					}
				}
				_, _ = ms.Term(last)
				_, _, _ = ms.InitialState()
				_, _ = ms.Snapshot()
			}
		}()
	}
	wg.Wait()

	last, err := ms.LastIndex()
	require.NoError(t, err)
	assert.Equal(t, uint64(writes), last)
	hs, _, err := ms.InitialState()
	require.NoError(t, err)
	assert.Equal(t, uint64(writes), hs.Commit)
}

func TestStorageErrorTexts(t *testing.T) {
	// Applications match on these texts in logs; they must not drift.
	for err, want := range map[error]string{
		ErrCompacted:                      "requested index is unavailable due to compaction",
		ErrSnapOutOfDate:                  "requested index is older than the existing snapshot",
		ErrUnavailable:                    "requested entry at index is unavailable",
		ErrSnapshotTemporarilyUnavailable: "snapshot is temporarily unavailable",
	} {
		assert.Equal(t, want, err.Error())
	}
}

func ExampleMemoryStorage() {
	ms := NewMemoryStorage()

	// Entries 1..5, the last two written by a leader of term 2.
	_ = ms.Append([]pb.Entry{
		{Index: 1, Term: 1}, {Index: 2, Term: 1}, {Index: 3, Term: 1},
		{Index: 4, Term: 2}, {Index: 5, Term: 2},
	})
	// A new leader of term 3 overwrites entry 5 and adds 6.
	_ = ms.Append([]pb.Entry{{Index: 5, Term: 3}, {Index: 6, Term: 3}})

	ents, _ := ms.Entries(3, 7, math.MaxUint64)
	fmt.Println("entries 3..6:", indexTerms(ents))

	// Each entry here encodes to 6 bytes, so a 13-byte limit yields two.
	ents, _ = ms.Entries(3, 7, 13)
	fmt.Println("at most 13 bytes:", indexTerms(ents))

	// After snapshotting the state machine at index 4, the log up to 4 can go.
	_, _ = ms.CreateSnapshot(4, &pb.ConfState{Voters: []uint64{1, 2, 3}}, []byte("state at 4"))
	_ = ms.Compact(4)
	first, _ := ms.FirstIndex()
	last, _ := ms.LastIndex()
	term, _ := ms.Term(4)
	fmt.Printf("first=%d last=%d term(4)=%d\n", first, last, term)

	_, err := ms.Entries(4, 7, math.MaxUint64)
	fmt.Println("reading entry 4:", err)

	// Output:
	// entries 3..6: 3/1 4/2 5/3 6/3
	// at most 13 bytes: 3/1 4/2
	// first=5 last=6 term(4)=2
	// reading entry 4: requested index is unavailable due to compaction
}

// indexTerms renders entries as index/term pairs for the example.
func indexTerms(ents []pb.Entry) string {
	parts := make([]string, len(ents))
	for i, e := range ents {
		parts[i] = fmt.Sprintf("%d/%d", e.Index, e.Term)
	}
	return strings.Join(parts, " ")
}
