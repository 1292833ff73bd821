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
