package wal

import (
	"crypto/rand"
	"errors"
	"fmt"
	"io"
)

// ErrInvalidOptions is wrapped by the error Open returns for invalid Options.
var ErrInvalidOptions = errors.New("wal: invalid options")

// Options tunes an Engine. The zero value is valid and gives the defaults
// documented on each field.
type Options struct {
	// FS is the file system to use. Default: OSFS.
	FS FS

	// SegmentBytes is the size at which the engine starts a new segment
	// file. Space is reclaimed a segment at a time, so it bounds how much
	// compacted log stays on disk. A single write larger than this gets a
	// segment of its own. Default 64 MiB; at least 4 KiB.
	SegmentBytes int64

	// TailCacheEntries and TailCacheBytes bound the cache of each group's
	// most recent entries, which Entries serves without reading the disk;
	// the cache of all groups together holds at most groups ×
	// TailCacheBytes of entry data. Defaults 64 entries and 64 KiB per
	// group; a negative value disables the cache.
	TailCacheEntries int
	TailCacheBytes   int

	// MaxSnapshotDataBytes bounds the Data of a snapshot recorded in the
	// engine. The engine keeps it in memory and copies it into every
	// segment's checkpoint, so it is meant for a small descriptor of the
	// snapshot (such as a SnapshotRef), not the snapshot itself.
	// Default 1 MiB.
	MaxSnapshotDataBytes int

	// Rand supplies the random engine id written into every segment when
	// the engine is created. Default crypto/rand; a simulation passes a
	// seeded source to be reproducible byte for byte.
	Rand io.Reader
}

const (
	defaultSegmentBytes         = 64 << 20
	minSegmentBytes             = 4 << 10
	defaultTailCacheEntries     = 64
	defaultTailCacheBytes       = 64 << 10
	defaultMaxSnapshotDataBytes = 1 << 20
)

// withDefaults validates o and fills in defaults.
func (o Options) withDefaults() (Options, error) {
	if o.FS == nil {
		o.FS = OSFS{}
	}
	switch {
	case o.SegmentBytes == 0:
		o.SegmentBytes = defaultSegmentBytes
	case o.SegmentBytes < minSegmentBytes || o.SegmentBytes > maxFramePayload:
		return o, fmt.Errorf("%w: SegmentBytes %d is outside [%d, %d]", ErrInvalidOptions, o.SegmentBytes, minSegmentBytes, maxFramePayload)
	}
	switch {
	case o.TailCacheEntries == 0:
		o.TailCacheEntries = defaultTailCacheEntries
	case o.TailCacheEntries < 0:
		o.TailCacheEntries = 0
	}
	switch {
	case o.TailCacheBytes == 0:
		o.TailCacheBytes = defaultTailCacheBytes
	case o.TailCacheBytes < 0:
		o.TailCacheEntries, o.TailCacheBytes = 0, 0
	}
	switch {
	case o.MaxSnapshotDataBytes == 0:
		o.MaxSnapshotDataBytes = defaultMaxSnapshotDataBytes
	case o.MaxSnapshotDataBytes < 0 || o.MaxSnapshotDataBytes > maxFramePayload/4:
		return o, fmt.Errorf("%w: MaxSnapshotDataBytes %d is outside [0, %d]", ErrInvalidOptions, o.MaxSnapshotDataBytes, maxFramePayload/4)
	}
	if o.Rand == nil {
		o.Rand = rand.Reader
	}
	return o, nil
}
