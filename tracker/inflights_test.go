package tracker

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// contents lists the live entries oldest first, for comparisons that do not
// depend on where the ring currently starts.
func (in *Inflights) contents() []inflight {
	var out []inflight
	for i := 0; i < in.count; i++ {
		out = append(out, in.buffer[in.slot(i)])
	}
	return out
}

func addRange(in *Inflights, from, to uint64, bytes uint64) {
	for i := from; i <= to; i++ {
		in.Add(i, bytes)
	}
}

func TestInflightsCountBound(t *testing.T) {
	in := NewInflights(10, 0)
	for i := uint64(1); i <= 10; i++ {
		require.False(t, in.Full(), "before adding %d", i)
		in.Add(i, 100)
		assert.Equal(t, int(i), in.Count())
	}
	assert.True(t, in.Full())
	assert.Equal(t, uint64(1000), in.bytes)
	assert.Panics(t, func() { in.Add(11, 1) })

	in.FreeLE(1)
	assert.False(t, in.Full())
	assert.Equal(t, 9, in.Count())
	in.Add(11, 1)
	assert.True(t, in.Full())
}

func TestInflightsByteBound(t *testing.T) {
	tests := []struct {
		name     string
		maxBytes uint64
		adds     []uint64 // bytes of successive appends
		full     []bool   // Full() after each add
	}{
		{"below budget", 100, []uint64{10, 20, 30}, []bool{false, false, false}},
		{"reaching budget exactly", 100, []uint64{50, 50}, []bool{false, true}},
		{"one append may overshoot", 100, []uint64{10, 500}, []bool{false, true}},
		{"unbounded bytes", 0, []uint64{1 << 40, 1 << 40}, []bool{false, false}},
		{"zero-byte appends count", 100, []uint64{0, 0, 0, 0}, []bool{false, false, false, false}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := NewInflights(100, tt.maxBytes)
			for i, b := range tt.adds {
				in.Add(uint64(i+1), b)
				assert.Equal(t, tt.full[i], in.Full(), "after add %d", i)
			}
		})
	}

	in := NewInflights(100, 100)
	in.Add(1, 60)
	in.Add(2, 60)
	require.True(t, in.Full())
	assert.Panics(t, func() { in.Add(3, 0) })
	in.FreeLE(1)
	assert.False(t, in.Full())
	assert.Equal(t, uint64(60), in.bytes)
}

func TestInflightsAddRejectsNonIncreasingIndex(t *testing.T) {
	in := NewInflights(10, 0)
	in.Add(5, 1)
	assert.PanicsWithValue(t,
		"tracker: Inflights.Add(index=5) not above the newest inflight index 5",
		func() { in.Add(5, 1) })
	assert.Panics(t, func() { in.Add(4, 1) })
	in.FreeLE(5)
	// Once empty there is nothing to compare with.
	assert.NotPanics(t, func() { in.Add(3, 1) })
}

func TestInflightsWraparound(t *testing.T) {
	in := NewInflights(10, 0)
	addRange(in, 1, 10, 1)
	require.Len(t, in.buffer, 10)

	in.FreeLE(6) // 7..10 remain, at the end of the buffer
	assert.Equal(t, 6, in.start)
	addRange(in, 11, 16, 1) // wrap around to the front
	assert.True(t, in.Full())
	assert.Len(t, in.buffer, 10, "no growth beyond size")
	want := []inflight{}
	for i := uint64(7); i <= 16; i++ {
		want = append(want, inflight{index: i, bytes: 1})
	}
	assert.Equal(t, want, in.contents())

	in.FreeLE(12) // frees across the wrap point
	assert.Equal(t, 4, in.Count())
	assert.Equal(t, uint64(4), in.bytes)
	assert.Equal(t, []inflight{{13, 1}, {14, 1}, {15, 1}, {16, 1}}, in.contents())
}

func TestInflightsFreeLE(t *testing.T) {
	tests := []struct {
		name      string
		to        uint64
		wantCount int
		wantBytes uint64
		wantFirst uint64
	}{
		{"below oldest frees nothing", 4, 5, 5 * 10, 5},
		{"exactly oldest", 5, 4, 4 * 10, 6},
		{"between", 7, 2, 2 * 10, 8},
		{"exactly newest", 9, 0, 0, 0},
		{"beyond newest", 100, 0, 0, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := NewInflights(10, 0)
			addRange(in, 5, 9, 10)
			in.FreeLE(tt.to)
			assert.Equal(t, tt.wantCount, in.Count())
			assert.Equal(t, tt.wantBytes, in.bytes)
			if tt.wantCount > 0 {
				assert.Equal(t, tt.wantFirst, in.contents()[0].index)
			} else {
				assert.Zero(t, in.start, "an empty window restarts at slot 0")
			}
		})
	}

	var empty Inflights
	assert.NotPanics(t, func() { empty.FreeLE(10) })
}

func TestInflightsGrowsLazily(t *testing.T) {
	in := NewInflights(1_000_000, 0)
	assert.Nil(t, in.buffer, "no buffer before the first Add")
	in.Add(1, 1)
	assert.Len(t, in.buffer, minInflightsCapacity)
	addRange(in, 2, 100, 1)
	assert.Equal(t, 100, in.Count())
	assert.Len(t, in.buffer, 128, "capacity doubles as needed")

	small := NewInflights(3, 0)
	addRange(small, 1, 3, 1)
	assert.Len(t, small.buffer, 3, "capacity is capped at size")
}

func TestInflightsGrowKeepsOrderAcrossWrap(t *testing.T) {
	in := NewInflights(100, 0)
	addRange(in, 1, 8, 1) // fills the first buffer
	in.FreeLE(5)          // 6..8 live at the end
	addRange(in, 9, 13, 1)
	require.Len(t, in.buffer, 8, "still fits: wrapped, not grown")
	in.Add(14, 1) // grows while wrapped
	assert.Len(t, in.buffer, 16)
	var want []inflight
	for i := uint64(6); i <= 14; i++ {
		want = append(want, inflight{index: i, bytes: 1})
	}
	assert.Equal(t, want, in.contents())
	assert.Zero(t, in.start)
}

func TestInflightsClone(t *testing.T) {
	in := NewInflights(10, 1000)
	addRange(in, 1, 5, 10)
	in.FreeLE(2)

	c := in.Clone()
	assert.Equal(t, in.contents(), c.contents())
	assert.Equal(t, in.Count(), c.Count())
	assert.Equal(t, in.bytes, c.bytes)

	c.Add(6, 10)
	c.FreeLE(4)
	in.Add(6, 500)
	assert.Equal(t, []inflight{{3, 10}, {4, 10}, {5, 10}, {6, 500}}, in.contents())
	assert.Equal(t, []inflight{{5, 10}, {6, 10}}, c.contents())
	assert.Equal(t, uint64(530), in.bytes)
	assert.Equal(t, uint64(20), c.bytes)

	var none *Inflights
	assert.Nil(t, none.Clone())

	fresh := NewInflights(4, 0).Clone()
	assert.Nil(t, fresh.buffer)
	assert.False(t, fresh.Full())
}

func TestInflightsReset(t *testing.T) {
	in := NewInflights(4, 0)
	addRange(in, 1, 4, 5)
	in.reset()
	assert.Zero(t, in.Count())
	assert.Zero(t, in.bytes)
	assert.False(t, in.Full())
	assert.NotNil(t, in.buffer, "the buffer is kept for reuse")

	var nilInflights *Inflights
	assert.NotPanics(t, func() { nilInflights.reset() })
	assert.Zero(t, nilInflights.Count())
	assert.False(t, nilInflights.Full())
}

func TestInflightsZeroSizeIsAlwaysFull(t *testing.T) {
	in := NewInflights(0, 0)
	assert.True(t, in.Full())
	assert.Panics(t, func() { in.Add(1, 1) })
}
