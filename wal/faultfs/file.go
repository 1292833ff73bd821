package faultfs

import (
	"io"
	"syscall"
)

// file is an open file of an FS.
type file struct {
	fs     *FS
	ino    *inode
	name   string
	gen    uint64
	closed bool
}

// live checks that the file may be used. The caller holds f.fs.mu.
func (f *file) live(op string) error {
	switch {
	case f.gen != f.fs.gen || f.fs.down:
		return ErrCrashed
	case f.closed:
		return pathErr(op, f.name, errClosed)
	}
	return nil
}

var errClosed = syscall.EBADF

// ReadAt reads from the current contents.
func (f *file) ReadAt(p []byte, off int64) (int, error) {
	f.fs.mu.Lock()
	defer f.fs.mu.Unlock()
	if err := f.live("read"); err != nil {
		return 0, err
	}
	if off < 0 {
		return 0, pathErr("read", f.name, syscall.EINVAL)
	}
	if off >= int64(len(f.ino.data)) {
		return 0, io.EOF
	}
	n := copy(p, f.ino.data[off:])
	if n < len(p) {
		return n, io.EOF
	}
	return n, nil
}

// WriteAt writes p at off, unsynced, extending the file with zeros if off
// is beyond its end. It may fail with ENOSPC after writing a prefix, or
// crash the FS after writing a prefix.
func (f *file) WriteAt(p []byte, off int64) (int, error) {
	f.fs.mu.Lock()
	defer f.fs.mu.Unlock()
	if err := f.live("write"); err != nil {
		return 0, err
	}
	if off < 0 {
		return 0, pathErr("write", f.name, syscall.EINVAL)
	}
	fs := f.fs
	if err := fs.step(); err != nil {
		if fs.down {
			// The crash cuts this write at a random byte.
			n := fs.rng.IntN(len(p) + 1)
			f.write(p[:n], off)
			fs.stats.CrashesInWrite++
		}
		return 0, err
	}
	room := int64(len(p))
	if c := fs.cfg.CapacityBytes; c > 0 {
		grow := max(0, off+int64(len(p))-int64(len(f.ino.data)))
		if free := max(0, c-fs.used()); grow > free {
			room = max(0, int64(len(p))-(grow-free))
		}
	}
	if room < int64(len(p)) || (len(p) > 0 && fs.rng.Float64() < fs.faults.NoSpaceRate) {
		n := fs.rng.Int64N(room + 1)
		if n == int64(len(p)) {
			n--
		}
		f.write(p[:n], off)
		fs.stats.NoSpaceErrors++
		return int(n), pathErr("write", f.name, syscall.ENOSPC)
	}
	f.write(p, off)
	return len(p), nil
}

func (f *file) write(p []byte, off int64) {
	if len(p) == 0 {
		return
	}
	if end := off + int64(len(p)); end > int64(len(f.ino.data)) {
		f.ino.data = resize(f.ino.data, end)
	}
	copy(f.ino.data[off:], p)
	f.ino.unsynced = append(f.ino.unsynced, change{off: off, data: append([]byte(nil), p...)})
}

// Sync makes the current contents durable, or fails with EIO and leaves
// them unsynced.
func (f *file) Sync() error {
	f.fs.mu.Lock()
	defer f.fs.mu.Unlock()
	if err := f.live("sync"); err != nil {
		return err
	}
	fs := f.fs
	if err := fs.step(); err != nil {
		return err
	}
	if fs.rng.Float64() < fs.faults.SyncErrorRate {
		fs.stats.SyncErrors++
		return pathErr("sync", f.name, syscall.EIO)
	}
	for _, c := range f.ino.unsynced {
		if c.truncate {
			f.ino.durable = resize(f.ino.durable, c.size)
			continue
		}
		end := c.off + int64(len(c.data))
		if int64(len(f.ino.durable)) < end {
			f.ino.durable = resize(f.ino.durable, end)
		}
		copy(f.ino.durable[c.off:], c.data)
	}
	f.ino.unsynced = nil
	return nil
}

// Truncate changes the size, unsynced.
func (f *file) Truncate(size int64) error {
	f.fs.mu.Lock()
	defer f.fs.mu.Unlock()
	if err := f.live("truncate"); err != nil {
		return err
	}
	if err := f.fs.step(); err != nil {
		return err
	}
	if size < 0 {
		return pathErr("truncate", f.name, syscall.EINVAL)
	}
	f.ino.data = resize(f.ino.data, size)
	f.ino.unsynced = append(f.ino.unsynced, change{truncate: true, size: size})
	return nil
}

// Allocate extends the file with zeros to size, unsynced, like a
// truncation that grows it. It fails with ENOSPC, allocating nothing, if
// that would exceed Config.CapacityBytes.
func (f *file) Allocate(size int64) error {
	f.fs.mu.Lock()
	defer f.fs.mu.Unlock()
	if err := f.live("allocate"); err != nil {
		return err
	}
	if err := f.fs.step(); err != nil {
		return err
	}
	grow := size - int64(len(f.ino.data))
	if c := f.fs.cfg.CapacityBytes; c > 0 && grow > c-f.fs.used() {
		f.fs.stats.NoSpaceErrors++
		return pathErr("allocate", f.name, syscall.ENOSPC)
	}
	if grow > 0 {
		f.ino.data = resize(f.ino.data, size)
		f.ino.unsynced = append(f.ino.unsynced, change{truncate: true, size: size})
	}
	return nil
}

// Size returns the current size.
func (f *file) Size() (int64, error) {
	f.fs.mu.Lock()
	defer f.fs.mu.Unlock()
	if err := f.live("stat"); err != nil {
		return 0, err
	}
	return int64(len(f.ino.data)), nil
}

// Close closes the file. Closing a file of an earlier generation is fine.
func (f *file) Close() error {
	f.fs.mu.Lock()
	defer f.fs.mu.Unlock()
	if f.closed {
		return pathErr("close", f.name, errClosed)
	}
	f.closed = true
	return nil
}
