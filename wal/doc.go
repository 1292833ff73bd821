/*
Package wal is a durable log engine for Raft: it stores the logs, hard
states and snapshot metadata of any number of Raft groups, and gives each
group a raft.Storage for its RawNode to read. It is the durable half of the
Ready contract, written once so that no embedder has to.

The engine sits above the core: it imports raft and raftpb, the core never
imports it. It uses only the standard library, does all its I/O through the
small FS interface, starts no goroutines and reads no clock, so a
deterministic simulation can drive it over faultfs (an in-memory FS that
models crashes and injects faults) from a single goroutine.

# Use

Open an Engine on a directory, hand each group's Storage to its RawNode,
and persist each Ready with Save before sending its messages:

	engine, err := wal.Open(dir, wal.Options{})
	rn, err := raft.NewRawNode(&raft.Config{ID: id, Storage: engine.Storage(group), ...})
	for rn.HasReady() {
		rd := rn.Ready()
		err := engine.Save([]wal.Update{{Group: group,
			Snapshot: rd.Snapshot, Entries: rd.Entries, HardState: rd.HardState}})
		// send rd.Messages, apply rd.CommittedEntries, then:
		rn.Advance(rd)
	}

A host running many groups collects the Updates of every ready group and
calls Save once: all of them cost one write and one fsync. Concurrent Saves
from different goroutines are batched the same way (group commit): the
first caller writes and syncs everything queued while the others wait,
and one of those writes the next batch, after yielding the processor
(runtime.Gosched, never a timer) as long as more Saves keep joining it.

Snapshots of the application's state machine go into a SnapshotStore,
streamed to a temporary file, synced and renamed into place; their small
SnapshotRef, as pb.Snapshot.Data, is recorded in the engine with
Update.LocalSnapshot, together with the compaction it allows
(Update.CompactIndex), in one atomic Save. Engine.Compact and
Engine.RemoveGroup are one-update Saves.

# Guarantees

When Save returns nil, its updates are on disk (written and fsynced) and
the groups' Storages show them. A Save is atomic across its groups: after
any crash, recovery yields exactly the state after some prefix of the Saves
issued, which includes every acknowledged one; a Save whose write was cut
short is dropped whole. Storage reads may run concurrently with Saves.
Group storages follow raft.MemoryStorage: the same results and the same
errors (raft.ErrCompacted, raft.ErrUnavailable, raft.ErrSnapOutOfDate).
Where MemoryStorage panics on a range beyond the log, Entries returns an
error; and Save refuses, with ErrInvalidUpdate, what would break Raft's
invariants on disk: a gap in the log, a commit index beyond it (a removed
committed entry), a compaction beyond the snapshot.

Every byte the engine reads back is checked. Damage never becomes data:
recovery stops with an error wrapping ErrCorrupt that names the file and
offset, and an entry read later that fails its own checksum is an error of
that read.

After a write or an fsync fails, the engine fails every later Save with
ErrFailed and never retries: after a failed fsync, the kernel may have
dropped the data it still shows, so no later success could be trusted.
Reopen the engine to recover from what is on disk.

# On disk

The directory holds LOCK (an flock(2) lock), ENGINE (the engine's random
id), and the segment files 0000000000000001.wal, 0000000000000002.wal, and
so on. A segment starts with a 32-byte header (magic, format version,
engine id, segment number, CRC-32C) followed by frames:

	kind (1 byte) | payload length (4) | header CRC (4) | payload CRC (4) | payload | trailer 0xa5

Both checksums are CRC-32C seeded with the segment's salt and the frame's
file offset, so a frame copied from elsewhere never verifies. The first
frame of a segment is a checkpoint: the metadata of every group (HardState,
snapshot metadata and data, first and last index, term at the compaction
point), the sequence number of the segment's first batch, and the oldest
segment recovery needs. Then come batch frames, one per write: a sequence
number and the groups' ops (remove, install a snapshot, append entries,
set a HardState, record a snapshot, compact, or copy live entries forward),
with indexes coded relative to the group's last index. Every entry carries
its own CRC-32C over its group, index, term, type and data. A segment that
has a successor ends with a seal frame naming it.

A segment is allocated in full when it is created (fallocate), so that
the fsync after a write into it has no file size to update; the space
after the data reads as zeros. A new segment is written under a temporary
name, fsynced, renamed into place and the directory fsynced before the old
one is sealed and before any batch goes into it. Recovery reads the
checkpoint of the newest segment, replays the segments from the oldest one
it needs through a 4 MiB window, and checks each later checkpoint against
the state replayed so far.

# Crashes and damage

Each frame gets its own write and its own fsync, so at any crash at most
one frame is unsynced: the last one. Recovery cuts that frame off if it
shows what a write that did not fully reach the disk leaves: a verified
header claiming more bytes than the file has, a zero trailer or a zeroed
sector-aligned part of the frame (a lost sector, or the rest of a write
cut short), or an unverified header that is partly zeros or followed by
nothing but zeros. A frame never legitimately begins or ends with zeros.
Any other bad frame is damage and fails recovery: one followed by a valid
frame, or one whose bytes are all present but do not verify. Recovery also fails on a missing
segment (a gap, a sealed newest segment, or an identity file without
segments), on a segment of another engine, and on a checkpoint that
disagrees with the records before it. Leftovers of interrupted operations
are removed: temporary files, and segments older than the newest
checkpoint needs (their deletion is made durable before Open returns).

# Space

Entries are read back from the segments: the engine keeps, per retained
entry, 24 bytes of position and term in memory, plus a cache of each
group's most recent entries (Options.TailCacheEntries and TailCacheBytes)
so that reading what was just appended needs no disk read. Segments are
deleted oldest first once no group references an entry in them, at the
next rotation. When a lagging group's few entries would keep an old
segment alive, they are copied forward: after each rotation the oldest
segments whose live entries take at most 1/8 of Options.SegmentBytes are
copied, up to 1/4 of a segment per rotation, and deleted at the next one.

# Limits

  - The torn-write rule assumes a file system that never exposes stale
    data in a region an unsynced write extended a file into (it reads as
    zeros) and journals directory changes in order, as ext4 (data=ordered),
    XFS and btrfs do. faultfs models exactly that.
  - A bit flipped at rest in the final frame of the newest segment is
    mistaken for a torn write, and that frame's Save dropped, if the frame
    also holds a 512-byte aligned block of zeros of its own (entry data of
    zeros). Stray bytes written into the allocated space after the data,
    beyond the end of any frame, look like the sectors of a torn write
    whose header was lost, and are cut off. Damage anywhere else is always
    reported.
  - Snapshot Data is kept in memory and copied into every checkpoint: it is
    meant for a small descriptor such as a SnapshotRef
    (Options.MaxSnapshotDataBytes, 1 MiB by default).
  - A single Save encodes to at most 256 MiB; a segment file stays far
    below 4 GiB.
  - After a failed fsync, reopening reads back what the kernel shows, which
    may include data that never reached the disk; restarting the machine
    before reopening avoids that.
*/
package wal
