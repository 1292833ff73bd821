package wal

import (
	"os"
	"syscall"
)

// syncFile uses fdatasync: it flushes the data and the metadata needed to
// read it back (the size), and skips timestamps.
func syncFile(f *os.File) error {
	for {
		err := syscall.Fdatasync(int(f.Fd()))
		if err != syscall.EINTR {
			if err != nil {
				return &os.PathError{Op: "fdatasync", Path: f.Name(), Err: err}
			}
			return nil
		}
	}
}

// allocateFile reserves [from, size) with fallocate(2), extending the file;
// where the file system cannot, it extends the file with a hole.
func allocateFile(f *os.File, from, size int64) error {
	for {
		err := syscall.Fallocate(int(f.Fd()), 0, from, size-from)
		switch err {
		case nil:
			return nil
		case syscall.EINTR:
			continue
		case syscall.EOPNOTSUPP, syscall.ENOSYS:
			return f.Truncate(size)
		}
		return &os.PathError{Op: "fallocate", Path: f.Name(), Err: err}
	}
}
