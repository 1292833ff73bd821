package wal

import (
	"encoding/binary"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	pb "github.com/pontoon-raft/raft/raftpb"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// These tests damage the files of an engine on the OS file system at chosen
// places and check what Open makes of it.

type frameInfo struct {
	off, end int
	kind     byte
}

// segmentFrames parses the frames of a segment file.
func segmentFrames(t *testing.T, path string) []frameInfo {
	t.Helper()
	data, err := os.ReadFile(path)
	require.NoError(t, err)
	h, err := decodeSegmentHeader(data)
	require.NoError(t, err)
	salt := segmentSalt(h.engineID, h.number)
	var frames []frameInfo
	for pos := segmentHeaderSize; ; {
		kind, _, end, st := parseFrame(data, pos, 0, salt)
		if st != frameOK {
			return frames
		}
		frames = append(frames, frameInfo{pos, end, kind})
		pos = end
	}
}

func segmentPaths(t *testing.T, dir string) []string {
	t.Helper()
	paths, err := filepath.Glob(filepath.Join(dir, "*"+segmentSuffix))
	require.NoError(t, err)
	return paths
}

// fillEngine creates an engine in a new directory whose last Save is a
// large entry for group 1 (it spans several sectors), with at least three
// segments, and returns the directory and the last index of group 1.
func fillEngine(t *testing.T) (string, uint64) {
	dir := t.TempDir()
	e, err := Open(dir, Options{SegmentBytes: 4096})
	require.NoError(t, err)
	i := uint64(0)
	for len(e.segs) < 3 {
		i++
		data := []byte(strings.Repeat(fmt.Sprintf("entry %d ", i), 20))
		require.NoError(t, e.Save([]Update{
			{Group: 1, Entries: []pb.Entry{{Index: i, Term: 1, Data: data}}, HardState: pb.HardState{Term: 1, Commit: i}},
			{Group: 2, Entries: []pb.Entry{{Index: i, Term: 3, Data: data[:10]}}},
		}))
	}
	i++
	big := make([]byte, 2000)
	for k := range big {
		big[k] = byte(k%251 + 1)
	}
	require.NoError(t, e.Save([]Update{{Group: 1, Entries: []pb.Entry{{Index: i, Term: 1, Data: big}}}}))
	require.NoError(t, e.Close())
	return dir, i
}

func lastIndex(t *testing.T, e *Engine, group uint64) uint64 {
	t.Helper()
	last, err := e.Storage(group).LastIndex()
	require.NoError(t, err)
	return last
}

func modify(t *testing.T, path string, f func([]byte) []byte) {
	t.Helper()
	data, err := os.ReadFile(path)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(path, f(data), 0o644))
}

func TestRecoveryCutsTornTail(t *testing.T) {
	tests := []struct {
		name     string
		damage   func(data []byte, last frameInfo) []byte
		lostLast bool
	}{
		{"the file ends inside the last frame", func(d []byte, f frameInfo) []byte { return d[:f.off+700] }, true},
		{"the file ends inside the last frame's header", func(d []byte, f frameInfo) []byte { return d[:f.off+5] }, true},
		{"a sector of the last frame reads as zeros", func(d []byte, f frameInfo) []byte {
			block := (f.off/512 + 2) * 512
			clear(d[block : block+512])
			return d
		}, true},
		{"the last frame's first sector reads as zeros", func(d []byte, f frameInfo) []byte {
			clear(d[f.off:min((f.off/512+1)*512, f.end)])
			return d
		}, true},
		{"zeros follow the last frame", func(d []byte, f frameInfo) []byte { return append(d, make([]byte, 1000)...) }, false},
		{"the write stopped inside the last frame", func(d []byte, f frameInfo) []byte { clear(d[f.off+777 : f.end]); return d }, true},
		{"the write stopped inside the last frame's header", func(d []byte, f frameInfo) []byte { clear(d[f.off+7 : f.end]); return d }, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir, last := fillEngine(t)
			paths := segmentPaths(t, dir)
			newest := paths[len(paths)-1]
			frames := segmentFrames(t, newest)
			lastFrame := frames[len(frames)-1]
			var cut int
			modify(t, newest, func(d []byte) []byte {
				d = tt.damage(d, lastFrame)
				from := lastFrame.off
				if !tt.lostLast {
					from = lastFrame.end
				}
				cut = lastNonZero(d[from:]) // the torn bytes; zeros are allocated space
				return d
			})
			e, err := Open(dir, Options{SegmentBytes: 4096})
			require.NoError(t, err)
			want := last
			if tt.lostLast {
				want--
			}
			assert.Equal(t, want, lastIndex(t, e, 1))
			assert.Equal(t, int64(cut), e.Stats().TruncatedTailBytes)
			// The engine goes on where the log ends.
			require.NoError(t, e.Save([]Update{{Group: 1, Entries: []pb.Entry{{Index: want + 1, Term: 2}}}}))
			require.NoError(t, e.Close())
			e, err = Open(dir, Options{SegmentBytes: 4096})
			require.NoError(t, err)
			assert.Equal(t, want+1, lastIndex(t, e, 1))
			assert.Zero(t, e.Stats().TruncatedTailBytes)
			require.NoError(t, e.Close())
		})
	}
}

func TestRecoveryReportsCorruption(t *testing.T) {
	type target struct {
		segment int // index into the segment files, -1 for the newest
		frame   int // index into its frames, -1 for the last
	}
	tests := []struct {
		name   string
		where  target
		damage func(d []byte, f frameInfo) []byte
		offset func(f frameInfo) int // the offset the error must name
		says   string
	}{
		{"a flipped bit in the last record", target{-1, -1}, func(d []byte, f frameInfo) []byte { d[f.end-100] ^= 4; return d },
			func(f frameInfo) int { return f.off }, "not a torn write"},
		{"a flipped bit in the last record's length", target{-1, -1}, func(d []byte, f frameInfo) []byte { d[f.off+3] ^= 1; return d },
			func(f frameInfo) int { return f.off }, "not a torn write"},
		{"a flipped bit in an earlier record", target{-1, 1}, func(d []byte, f frameInfo) []byte { d[f.off+20] ^= 0x10; return d },
			func(f frameInfo) int { return f.off }, "a valid record follows"},
		{"zeros inside an earlier record", target{-1, 1}, func(d []byte, f frameInfo) []byte { clear(d[f.off+15 : f.end-1]); return d },
			func(f frameInfo) int { return f.off }, "a valid record follows"},
		{"a flipped bit in an older segment", target{0, 3}, func(d []byte, f frameInfo) []byte { d[f.end-2] ^= 1; return d },
			func(f frameInfo) int { return f.off }, "a valid record follows"},
		{"a damaged seal", target{0, -1}, func(d []byte, f frameInfo) []byte { d[f.end-3] ^= 0x40; return d },
			func(f frameInfo) int { return f.off }, "not a torn write"},
		{"a damaged checkpoint", target{0, 0}, func(d []byte, f frameInfo) []byte { d[f.off+14] ^= 1; return d },
			func(f frameInfo) int { return segmentHeaderSize }, "no valid checkpoint"},
		{"a damaged segment header", target{1, 0}, func(d []byte, f frameInfo) []byte { d[3] ^= 1; return d },
			func(f frameInfo) int { return 0 }, "checksum"},
		{"garbage after the last record", target{-1, -1}, func(d []byte, f frameInfo) []byte { copy(d[f.end:], "not a frame at all"); return d },
			func(f frameInfo) int { return f.end }, "not a torn write"},
		{"the last record's trailer", target{-1, -1}, func(d []byte, f frameInfo) []byte { d[f.end-1] ^= 0x80; return d },
			func(f frameInfo) int { return f.off }, "not a torn write"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir, _ := fillEngine(t)
			paths := segmentPaths(t, dir)
			si := tt.where.segment
			if si < 0 {
				si = len(paths) - 1
			}
			frames := segmentFrames(t, paths[si])
			fi := tt.where.frame
			if fi < 0 {
				fi = len(frames) - 1
			}
			modify(t, paths[si], func(d []byte) []byte { return tt.damage(d, frames[fi]) })
			_, err := Open(dir, Options{SegmentBytes: 4096})
			require.ErrorIs(t, err, ErrCorrupt)
			assert.Contains(t, err.Error(), fmt.Sprintf("%s at offset %d", paths[si], tt.offset(frames[fi])))
			assert.Contains(t, err.Error(), tt.says)
		})
	}
}

func TestRecoveryDetectsMissingAndForeignSegments(t *testing.T) {
	other, _ := fillEngine(t)
	otherPaths := segmentPaths(t, other)
	tests := []struct {
		name   string
		damage func(t *testing.T, dir string, paths []string)
		says   string
	}{
		{"a missing middle segment", func(t *testing.T, dir string, paths []string) {
			require.NoError(t, os.Remove(paths[1]))
		}, "is missing"},
		{"a missing newest segment", func(t *testing.T, dir string, paths []string) {
			require.NoError(t, os.Remove(paths[len(paths)-1]))
		}, "successor"},
		{"no segment at all", func(t *testing.T, dir string, paths []string) {
			for _, p := range paths {
				require.NoError(t, os.Remove(p))
			}
		}, "no segment files"},
		{"a copy under the next number", func(t *testing.T, dir string, paths []string) {
			data, err := os.ReadFile(paths[len(paths)-1])
			require.NoError(t, err)
			require.NoError(t, os.WriteFile(filepath.Join(dir, segmentName(uint64(len(paths)+1))), data, 0o644))
		}, "header names segment"},
		{"a segment of another engine", func(t *testing.T, dir string, paths []string) {
			data, err := os.ReadFile(otherPaths[len(otherPaths)-1])
			require.NoError(t, err)
			require.NoError(t, os.WriteFile(paths[len(paths)-1], data, 0o644))
		}, "engine"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir, _ := fillEngine(t)
			tt.damage(t, dir, segmentPaths(t, dir))
			_, err := Open(dir, Options{SegmentBytes: 4096})
			require.ErrorIs(t, err, ErrCorrupt)
			assert.Contains(t, err.Error(), tt.says)
		})
	}
}

// TestRecoveryRemovesLeftovers: segments a crash kept from being deleted
// and files whose creation did not finish are removed, not replayed.
func TestRecoveryRemovesLeftovers(t *testing.T) {
	dir := t.TempDir()
	e, err := Open(dir, Options{SegmentBytes: 4096})
	require.NoError(t, err)
	first, err := os.ReadFile(filepath.Join(dir, segmentName(1)))
	require.NoError(t, err)
	for i := uint64(1); e.Stats().SegmentsRemoved == 0; i++ {
		require.NoError(t, e.Save([]Update{{Group: 1, Entries: []pb.Entry{{Index: i, Term: 1, Data: make([]byte, 300)}},
			LocalSnapshot: pb.Snapshot{Metadata: pb.SnapshotMetadata{Index: i, Term: 1}}, CompactIndex: i}}))
	}
	require.NoError(t, e.Close())
	require.NoError(t, os.WriteFile(filepath.Join(dir, segmentName(1)), first, 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(dir, segmentName(99)+tmpSuffix), []byte("half"), 0o644))
	e, err = Open(dir, Options{SegmentBytes: 4096})
	require.NoError(t, err)
	require.NoError(t, e.Close())
	_, err = os.Stat(filepath.Join(dir, segmentName(1)))
	assert.True(t, os.IsNotExist(err), "the old segment is gone")
	_, err = os.Stat(filepath.Join(dir, segmentName(99)+tmpSuffix))
	assert.True(t, os.IsNotExist(err), "the temporary file is gone")
}

// TestRecoveryResealsSegments: a segment whose seal a crash lost is sealed
// again at recovery, so that losing its successor later is still noticed.
func TestRecoveryResealsSegments(t *testing.T) {
	dir, _ := fillEngine(t)
	paths := segmentPaths(t, dir)
	modify(t, paths[len(paths)-2], func(d []byte) []byte { return d[:len(d)-1] }) // a torn seal
	e, err := Open(dir, Options{SegmentBytes: 4096})
	require.NoError(t, err)
	last := lastIndex(t, e, 1)
	require.NoError(t, e.Save([]Update{{Group: 1, Entries: []pb.Entry{{Index: last + 1, Term: 1}}}}))
	require.NoError(t, e.Close())
	require.NoError(t, os.Remove(paths[len(paths)-1]))
	_, err = Open(dir, Options{SegmentBytes: 4096})
	require.ErrorIs(t, err, ErrCorrupt)
	assert.Contains(t, err.Error(), "successor")
}

// TestRecoveryChecksCheckpoints: a checkpoint that verifies but disagrees
// with the records before it is reported.
func TestRecoveryChecksCheckpoints(t *testing.T) {
	dir, _ := fillEngine(t)
	paths := segmentPaths(t, dir)
	modify(t, paths[1], func(d []byte) []byte {
		h, err := decodeSegmentHeader(d)
		require.NoError(t, err)
		_, payload, end, st := parseFrame(d, segmentHeaderSize, 0, segmentSalt(h.engineID, h.number))
		require.Equal(t, frameOK, st)
		ck, err := decodeCheckpointHead(payload)
		require.NoError(t, err)
		// Rewrite it with group 2's vote changed.
		groups := map[uint64]*group{}
		require.NoError(t, decodeGroupStates(ck.groups, 1<<20, func(id uint64, m groupMeta) error {
			if id == 2 {
				m.hs.Vote = 9
			}
			groups[id] = &group{meta: m}
			return nil
		}))
		p := binary.AppendUvarint(binary.AppendUvarint(nil, ck.nextSeq), ck.firstNeeded)
		frame := newFrame(appendGroupStates(p, groups))
		sealFrame(frame, kindCheckpoint, segmentSalt(h.engineID, h.number), segmentHeaderSize)
		require.Equal(t, len(frame), end-segmentHeaderSize, "same size, so the frames after it stay in place")
		copy(d[segmentHeaderSize:], frame)
		return d
	})
	_, err := Open(dir, Options{SegmentBytes: 4096})
	require.ErrorIs(t, err, ErrCorrupt)
	assert.Contains(t, err.Error(), "checkpoint disagrees")
}

func TestOpenLocksTheDirectory(t *testing.T) {
	dir := t.TempDir()
	e, err := Open(dir, Options{})
	require.NoError(t, err)
	_, err = Open(dir, Options{})
	assert.Error(t, err, "a second engine on the same directory")
	require.NoError(t, e.Close())
	e, err = Open(dir, Options{})
	require.NoError(t, err)
	require.NoError(t, e.Close())
}
