package tracker

import "fmt"

// Inflights bounds the appends a leader has sent to one peer in
// StateReplicate and not yet seen acknowledged. Each entry records the last
// log index carried by an append and the payload size of that append. The
// window is full when it holds size entries, or when the recorded bytes reach
// maxBytes (if maxBytes is non-zero).
//
// Entries are kept in a ring buffer that grows on demand up to size, so a
// large size costs memory only when that many appends are actually in flight.
type Inflights struct {
	// buffer is the ring; len(buffer) is its current capacity and never
	// exceeds size. The live entries are buffer[start], buffer[start+1], ...
	// (wrapping around), count of them, with strictly increasing indexes.
	buffer []inflight
	start  int
	count  int
	// bytes is the sum of the bytes of the live entries.
	bytes uint64

	size     int    // bound on count
	maxBytes uint64 // bound on bytes; 0 means unbounded
}

// inflight is one unacknowledged append.
type inflight struct {
	index uint64 // last log index the append carried
	bytes uint64 // payload size of the append
}

// minInflightsCapacity is the capacity of the first buffer allocation.
const minInflightsCapacity = 8

// NewInflights returns an empty window holding at most size appends and, if
// maxBytes is non-zero, at most maxBytes bytes of payload (an append may push
// the total over maxBytes; the window is then full until it drains).
func NewInflights(size int, maxBytes uint64) *Inflights {
	return &Inflights{size: size, maxBytes: maxBytes}
}

// Clone returns an independent copy: later changes to either one do not
// affect the other. The clone of nil is nil.
func (in *Inflights) Clone() *Inflights {
	if in == nil {
		return nil
	}
	c := *in
	if in.buffer != nil {
		c.buffer = make([]inflight, len(in.buffer))
		copy(c.buffer, in.buffer)
	}
	return &c
}

// Add records an append whose last entry has the given index and whose
// payload is bytes long. Callers must check Full first, and must add indexes
// in strictly increasing order; breaking either rule is a bug in the caller
// and panics.
func (in *Inflights) Add(index, bytes uint64) {
	if in.Full() {
		panic(fmt.Sprintf("tracker: Inflights.Add(index=%d) on a full window (count=%d/%d, bytes=%d/%d)",
			index, in.count, in.size, in.bytes, in.maxBytes))
	}
	if in.count > 0 {
		if newest := in.buffer[in.slot(in.count-1)].index; index <= newest {
			panic(fmt.Sprintf("tracker: Inflights.Add(index=%d) not above the newest inflight index %d",
				index, newest))
		}
	}
	if in.count == len(in.buffer) {
		in.grow()
	}
	in.buffer[in.slot(in.count)] = inflight{index: index, bytes: bytes}
	in.count++
	in.bytes += bytes
}

// FreeLE forgets every append whose index is at most to: the peer has
// acknowledged them.
func (in *Inflights) FreeLE(to uint64) {
	freed := 0
	var freedBytes uint64
	for freed < in.count {
		e := in.buffer[in.slot(freed)]
		if e.index > to {
			break
		}
		freedBytes += e.bytes
		freed++
	}
	if freed == 0 {
		return
	}
	in.start = in.slot(freed)
	in.count -= freed
	in.bytes -= freedBytes
	if in.count == 0 {
		// Restarting at slot 0 keeps the live entries contiguous for as
		// long as possible.
		in.start = 0
	}
}

// Full reports whether no further append may be added: the count bound is
// reached, or maxBytes is set and the recorded bytes have reached it. A nil
// Inflights is never full.
func (in *Inflights) Full() bool {
	if in == nil {
		return false
	}
	return in.count >= in.size || (in.maxBytes > 0 && in.bytes >= in.maxBytes)
}

// Count returns the number of appends in flight; 0 for a nil Inflights.
func (in *Inflights) Count() int {
	if in == nil {
		return 0
	}
	return in.count
}

// reset empties the window, keeping the buffer for reuse. It is a no-op on a
// nil Inflights.
func (in *Inflights) reset() {
	if in == nil {
		return
	}
	in.start, in.count, in.bytes = 0, 0, 0
}

// slot maps the i-th live entry (0 = oldest) to its position in buffer.
func (in *Inflights) slot(i int) int {
	p := in.start + i
	if p >= len(in.buffer) {
		p -= len(in.buffer)
	}
	return p
}

// grow doubles the buffer capacity, up to size, and unrolls the live entries
// to the front of the new buffer.
func (in *Inflights) grow() {
	capacity := max(2*len(in.buffer), minInflightsCapacity)
	capacity = min(capacity, in.size)
	buffer := make([]inflight, capacity)
	for i := 0; i < in.count; i++ {
		buffer[i] = in.buffer[in.slot(i)]
	}
	in.buffer = buffer
	in.start = 0
}
