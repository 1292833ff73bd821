//go:build !unix

package wal

import "os"

// lockFile does nothing where flock(2) is not available: two engines on one
// directory are then not prevented.
func lockFile(*os.File) error { return nil }
