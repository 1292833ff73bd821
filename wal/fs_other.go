//go:build !linux

package wal

import "os"

func syncFile(f *os.File) error { return f.Sync() }

// allocateFile extends the file with a hole: no space is reserved.
func allocateFile(f *os.File, _, size int64) error { return f.Truncate(size) }
