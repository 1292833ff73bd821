package wal

import (
	"fmt"
	"io"
)

// segmentBytes reads a segment file for recovery through a window that
// slides forward, so that recovery holds a few MiB of a segment at a time
// (or one frame, if larger), not the whole file with its allocated space.
type segmentBytes struct {
	f    File
	size int64
	buf  []byte // bytes [base, base+len(buf)) of the file
	base int64
}

// windowBytes is how much segmentBytes reads at a time.
const windowBytes = 4 << 20

// at returns the bytes from file offset off on, at least n of them (fewer
// only at the end of the file), and up to the end of the window.
func (d *segmentBytes) at(off int64, n int) ([]byte, error) {
	n = int(min(int64(n), d.size-off))
	if off >= d.base && off+int64(n) <= d.base+int64(len(d.buf)) {
		return d.buf[off-d.base:], nil
	}
	want := int(min(int64(max(n, windowBytes)), d.size-off))
	if cap(d.buf) < want {
		d.buf = make([]byte, want)
	}
	d.buf, d.base = d.buf[:want], off
	if _, err := d.f.ReadAt(d.buf, off); err != nil && err != io.EOF {
		return nil, fmt.Errorf("wal: reading segment at offset %d: %w", off, err)
	}
	return d.buf, nil
}

// frame parses the frame at file offset off; end is a file offset.
func (d *segmentBytes) frame(off int64, salt uint64) (kind byte, payload []byte, end int64, st frameStatus, err error) {
	b, err := d.at(off, frameHeaderSize)
	if err != nil {
		return 0, nil, 0, 0, err
	}
	kind, payload, e, st := parseFrame(b, 0, off, salt)
	if st == frameTruncated && off+int64(e) <= d.size {
		// The window ends inside the frame: read all of it.
		if b, err = d.at(off, e); err != nil {
			return 0, nil, 0, 0, err
		}
		kind, payload, e, st = parseFrame(b, 0, off, salt)
	}
	return kind, payload, off + int64(e), st, nil
}

// zeroFrom reports whether every byte from file offset off to the end of
// the file is zero.
func (d *segmentBytes) zeroFrom(off int64) (bool, error) {
	for off < d.size {
		b, err := d.at(off, 1)
		if err != nil {
			return false, err
		}
		if !allZero(b) {
			return false, nil
		}
		off += int64(len(b))
	}
	return true, nil
}
