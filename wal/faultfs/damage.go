package faultfs

import (
	"fmt"
	"io/fs"
	"sort"
)

// The functions below act behind the back of the program under test, as an
// operator, another program or a failing disk would: they are not counted
// as operations and inject no fault of their own.

// ReadFile returns the current contents of the named file.
func (f *FS) ReadFile(name string) ([]byte, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	ino := f.cur[clean(name)]
	if ino == nil {
		return nil, pathErr("open", name, fs.ErrNotExist)
	}
	return append([]byte(nil), ino.data...), nil
}

// WriteFile creates or replaces the named file with data, durably, as an
// operator or another program would behind the back of the one under
// test. It is not counted as an operation and injects no fault.
func (f *FS) WriteFile(name string, data []byte) error {
	name = clean(name)
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.checkDir(name); err != nil {
		return err
	}
	ino := &inode{data: append([]byte(nil), data...), durable: append([]byte(nil), data...)}
	f.cur[name], f.dur[name] = ino, ino
	f.stats.FilesAddedOrRemoved++
	return nil
}

// DeleteFile removes the named file durably, behind the back of the
// program under test.
func (f *FS) DeleteFile(name string) error {
	name = clean(name)
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.cur[name] == nil && f.dur[name] == nil {
		return pathErr("remove", name, fs.ErrNotExist)
	}
	delete(f.cur, name)
	delete(f.dur, name)
	f.stats.FilesAddedOrRemoved++
	return nil
}

// FlipBit flips bit (0-7) of the byte at offset of the named file, in its
// current and its durable contents: damage at rest, as a failing disk
// would do.
func (f *FS) FlipBit(name string, offset int64, bit uint) error {
	name = clean(name)
	f.mu.Lock()
	defer f.mu.Unlock()
	ino := f.cur[name]
	if ino == nil {
		return pathErr("flip", name, fs.ErrNotExist)
	}
	if offset < 0 || offset >= int64(len(ino.data)) {
		return pathErr("flip", name, fmt.Errorf("offset %d outside a file of %d bytes", offset, len(ino.data)))
	}
	ino.data[offset] ^= 1 << (bit & 7)
	if offset < int64(len(ino.durable)) {
		ino.durable[offset] ^= 1 << (bit & 7)
	}
	f.stats.BitFlips++
	return nil
}

// Files returns the names of all files, sorted.
func (f *FS) Files() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	names := make([]string, 0, len(f.cur))
	for n := range f.cur {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// Rand returns a number in [0, n) from the FS's random source, so a test
// can make its own choices (which file to damage, say) reproducibly.
func (f *FS) Rand(n int) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.rng.IntN(n)
}
