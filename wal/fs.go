package wal

import (
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
)

// FS is the file system the engine and the snapshot store do all their I/O
// through. Names are slash- or OS-separated paths as the implementation
// understands them; the engine only ever builds them with filepath.Join from
// the directory it was opened on.
//
// The engine relies on these durability rules, which OSFS provides on Linux
// file systems with the usual ordered-data semantics (ext4 data=ordered,
// XFS, btrfs) and faultfs models exactly:
//   - bytes written to a file are durable once a later File.Sync on it
//     returns nil; before that any subset of them may survive a crash;
//   - bytes written over zeros (a region the file was extended or
//     allocated into) read as zeros if they did not survive a crash:
//     stale data is never exposed;
//   - a created, renamed or removed directory entry is durable once SyncDir
//     on its directory returns nil; before that the directory's changes
//     survive a crash as a prefix of the order they were made in.
type FS interface {
	// Create creates the named file, truncating it if it exists, and opens
	// it for reading and writing.
	Create(name string) (File, error)
	// Open opens an existing file for reading and writing.
	Open(name string) (File, error)
	// Remove deletes the named file.
	Remove(name string) error
	// Rename renames oldname to newname, replacing newname if it exists.
	Rename(oldname, newname string) error
	// List returns the names (not paths) of the entries of dir, sorted.
	List(dir string) ([]string, error)
	// MkdirAll creates dir and any missing parents.
	MkdirAll(dir string) error
	// SyncDir makes the entries of dir durable.
	SyncDir(dir string) error
	// Lock takes an exclusive lock on the named file (creating it if
	// needed) so that two engines never share a directory. The lock is
	// released by closing the returned Closer, or when the process exits.
	Lock(name string) (io.Closer, error)
}

// File is an open file of an FS. It is safe for concurrent ReadAt calls
// alongside one writer.
type File interface {
	io.ReaderAt
	// WriteAt writes p at offset off, extending the file if needed. On
	// error, any prefix of p may have been written.
	WriteAt(p []byte, off int64) (int, error)
	// Sync makes everything written so far durable, the size included.
	// After a failed Sync the state of the unsynced bytes is unknown; the
	// engine never retries.
	Sync() error
	// Truncate changes the size of the file; bytes it extends the file by
	// read as zeros.
	Truncate(size int64) error
	// Allocate makes the file at least size bytes long, the new bytes
	// reading as zeros, and reserves disk space for them where the system
	// can. The engine allocates each segment up front so that the fsync
	// after an append has no file size to update.
	Allocate(size int64) error
	// Size returns the current size of the file.
	Size() (int64, error)
	// Close closes the file.
	Close() error
}

// OSFS is the FS of the operating system. On Linux File.Sync uses
// fdatasync(2), which makes the data and the file size durable.
type OSFS struct{}

var _ FS = OSFS{}

// Create implements FS.
func (OSFS) Create(name string) (File, error) {
	f, err := os.OpenFile(name, os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return nil, err
	}
	return osFile{f}, nil
}

// Open implements FS.
func (OSFS) Open(name string) (File, error) {
	f, err := os.OpenFile(name, os.O_RDWR, 0)
	if err != nil {
		return nil, err
	}
	return osFile{f}, nil
}

// Remove implements FS.
func (OSFS) Remove(name string) error { return os.Remove(name) }

// Rename implements FS.
func (OSFS) Rename(oldname, newname string) error { return os.Rename(oldname, newname) }

// List implements FS.
func (OSFS) List(dir string) ([]string, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	names := make([]string, len(entries))
	for i, e := range entries {
		names[i] = e.Name()
	}
	sort.Strings(names)
	return names, nil
}

// MkdirAll implements FS.
func (OSFS) MkdirAll(dir string) error { return os.MkdirAll(dir, 0o755) }

// SyncDir implements FS.
func (OSFS) SyncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	return err
}

// Lock implements FS with flock(2) where the system has it.
func (OSFS) Lock(name string) (io.Closer, error) {
	f, err := os.OpenFile(name, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, err
	}
	if err := lockFile(f); err != nil {
		f.Close()
		return nil, &fs.PathError{Op: "lock", Path: name, Err: err}
	}
	return f, nil
}

type osFile struct{ *os.File }

// Sync implements File with fdatasync(2) on Linux, fsync(2) elsewhere.
func (f osFile) Sync() error { return syncFile(f.File) }

// Allocate implements File with fallocate(2) on Linux.
func (f osFile) Allocate(size int64) error {
	cur, err := f.Size()
	if err != nil || cur >= size {
		return err
	}
	return allocateFile(f.File, cur, size)
}

// Size implements File.
func (f osFile) Size() (int64, error) {
	st, err := f.Stat()
	if err != nil {
		return 0, err
	}
	return st.Size(), nil
}

// isNotExist reports whether err says a file or directory does not exist.
func isNotExist(err error) bool { return errors.Is(err, fs.ErrNotExist) }

// join builds a path inside dir.
func join(dir, name string) string { return filepath.Join(dir, name) }
