package wal_test

import (
	"fmt"
	"io"
	"sync"
	"sync/atomic"
	"testing"

	pb "github.com/pontoon-raft/raft/raftpb"
	"github.com/pontoon-raft/raft/wal"
)

// memFS is a minimal in-memory FS without crash modelling: it lets the
// benchmarks measure the engine's own CPU time and allocations, with no
// disk and no fault bookkeeping.
type memFS struct {
	mu    sync.Mutex
	files map[string]*memFile
	free  [][]byte // blocks of removed files, reused so that writing does not fault in fresh pages
}

// memFile keeps its bytes in blocks, so that appending never copies what
// is already there.
type memFile struct {
	fs     *memFS
	mu     sync.RWMutex
	blocks [][]byte // each memBlockBytes long but the last
	size   int64
}

const memBlockBytes = 1 << 20

func newMemFS() *memFS { return &memFS{files: map[string]*memFile{}} }

func (m *memFS) Create(name string) (wal.File, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	f := &memFile{fs: m}
	m.files[name] = f
	return f, nil
}

func (m *memFS) Open(name string) (wal.File, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	f, ok := m.files[name]
	if !ok {
		return nil, fmt.Errorf("open %s: %w", name, errNotExist)
	}
	return f, nil
}

var errNotExist = wal.OSFS{}.Remove("/nonexistent/wal-bench")

func (m *memFS) Remove(name string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if f := m.files[name]; f != nil && len(m.free) < 1024 {
		for _, b := range f.blocks {
			m.free = append(m.free, b[:0])
		}
	}
	delete(m.files, name)
	return nil
}

func (m *memFS) Rename(o, n string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.files[n] = m.files[o]
	delete(m.files, o)
	return nil
}

func (m *memFS) List(dir string) ([]string, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var names []string
	for n := range m.files {
		if len(n) > len(dir) && n[:len(dir)] == dir {
			names = append(names, n[len(dir)+1:])
		}
	}
	return names, nil
}

func (m *memFS) MkdirAll(string) error          { return nil }
func (m *memFS) SyncDir(string) error           { return nil }
func (m *memFS) Lock(string) (io.Closer, error) { return io.NopCloser(nil), nil }
func (f *memFile) Sync() error                  { return nil }
func (f *memFile) Close() error                 { return nil }

func (f *memFile) Size() (int64, error) {
	f.mu.RLock()
	defer f.mu.RUnlock()
	return f.size, nil
}

func (f *memFile) Truncate(size int64) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	for f.size > size {
		last := f.blocks[len(f.blocks)-1]
		cut := min(int64(len(last)), f.size-size)
		f.blocks[len(f.blocks)-1] = last[:int64(len(last))-cut]
		f.size -= cut
		if len(f.blocks[len(f.blocks)-1]) == 0 {
			f.blocks = f.blocks[:len(f.blocks)-1]
		}
	}
	for f.size < size {
		_, _ = f.write(make([]byte, min(size-f.size, memBlockBytes)))
	}
	return nil
}

// WriteAt supports what the engine does: writing at the end, or over the
// allocated zeros before it.
func (f *memFile) WriteAt(p []byte, off int64) (int, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	total := len(p)
	if off < f.size {
		n := 0
		for n < len(p) && off < f.size {
			b := f.blocks[off/memBlockBytes][off%memBlockBytes:]
			k := copy(b, p[n:])
			n += k
			off += int64(k)
		}
		p = p[n:]
	}
	for off > f.size {
		_, _ = f.write(make([]byte, min(off-f.size, memBlockBytes)))
	}
	_, err := f.write(p)
	return total, err
}

func (f *memFile) Allocate(size int64) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	for f.size < size {
		_, _ = f.write(make([]byte, min(size-f.size, memBlockBytes)))
	}
	return nil
}

func (f *memFile) write(p []byte) (int, error) {
	n := len(p)
	for len(p) > 0 {
		if len(f.blocks) == 0 || len(f.blocks[len(f.blocks)-1]) == memBlockBytes {
			f.blocks = append(f.blocks, f.fs.block())
		}
		last := &f.blocks[len(f.blocks)-1]
		k := min(len(p), memBlockBytes-len(*last))
		*last = append(*last, p[:k]...)
		p = p[k:]
		f.size += int64(k)
	}
	return n, nil
}

func (f *memFile) ReadAt(p []byte, off int64) (int, error) {
	f.mu.RLock()
	defer f.mu.RUnlock()
	n := 0
	for n < len(p) && off < f.size {
		b := f.blocks[off/memBlockBytes][off%memBlockBytes:]
		k := copy(p[n:], b)
		n += k
		off += int64(k)
	}
	if n < len(p) {
		return n, io.EOF
	}
	return n, nil
}

func benchFS(b *testing.B, disk bool) (wal.FS, string) {
	if disk {
		return wal.OSFS{}, b.TempDir()
	}
	return newMemFS(), "/bench"
}

// BenchmarkSave measures one Save of one entry (and a HardState) for each
// of `groups` groups: one op is one Save, one write, one fsync (on disk).
func BenchmarkSave(b *testing.B) {
	for _, disk := range []bool{false, true} {
		for _, groups := range []int{1, 16, 256} {
			for _, size := range []int{128, 4096} {
				name := fmt.Sprintf("mem/groups=%d/entry=%d", groups, size)
				if disk {
					name = fmt.Sprintf("disk/groups=%d/entry=%d", groups, size)
				}
				b.Run(name, func(b *testing.B) { benchSave(b, disk, groups, size) })
			}
		}
	}
}

func benchSave(b *testing.B, disk bool, groups, size int) {
	fs, dir := benchFS(b, disk)
	e, err := wal.Open(dir, wal.Options{FS: fs, SegmentBytes: 16 << 20})
	if err != nil {
		b.Fatal(err)
	}
	defer e.Close()
	data := make([]byte, size)
	us := make([]wal.Update, groups)
	ents := make([]pb.Entry, groups)
	b.SetBytes(int64(groups * size))
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		idx := uint64(i + 1)
		for g := range us {
			ents[g] = pb.Entry{Index: idx, Term: 1, Data: data}
			us[g] = wal.Update{Group: uint64(g + 1), Entries: ents[g : g+1], HardState: pb.HardState{Term: 1, Commit: idx - 1}}
		}
		if err := e.Save(us); err != nil {
			b.Fatal(err)
		}
		if i%1000 == 999 {
			compactAll(b, e, groups, idx)
		}
	}
	b.ReportMetric(float64(b.N*groups)/b.Elapsed().Seconds(), "entries/s")
	b.ReportMetric(float64(e.Stats().BytesWritten)/float64(b.N*groups*size), "written/payload")
}

// compactAll records a snapshot at index and compacts every group, as an
// application would now and then, so the benchmark's log stays bounded.
func compactAll(b *testing.B, e *wal.Engine, groups int, index uint64) {
	us := make([]wal.Update, groups)
	for g := range us {
		us[g] = wal.Update{Group: uint64(g + 1), LocalSnapshot: pb.Snapshot{Metadata: pb.SnapshotMetadata{Index: index, Term: 1}}, CompactIndex: index}
	}
	if err := e.Save(us); err != nil {
		b.Fatal(err)
	}
}

// BenchmarkConcurrentSave has `writers` goroutines each Save one entry of
// its own group at a time, on disk: the writers share writes and fsyncs.
// One op is one Save.
func BenchmarkConcurrentSave(b *testing.B) {
	for _, writers := range []int{16, 256} {
		for _, size := range []int{128, 4096} {
			b.Run(fmt.Sprintf("writers=%d/entry=%d", writers, size), func(b *testing.B) {
				e, err := wal.Open(b.TempDir(), wal.Options{SegmentBytes: 16 << 20})
				if err != nil {
					b.Fatal(err)
				}
				defer e.Close()
				data := make([]byte, size)
				var next atomic.Int64
				var wg sync.WaitGroup
				b.SetBytes(int64(size))
				b.ReportAllocs()
				b.ResetTimer()
				for w := 0; w < writers; w++ {
					wg.Add(1)
					go func(g uint64) {
						defer wg.Done()
						ents := make([]pb.Entry, 1)
						for idx := uint64(1); next.Add(1) <= int64(b.N); idx++ {
							ents[0] = pb.Entry{Index: idx, Term: 1, Data: data}
							if err := e.Save([]wal.Update{{Group: g, Entries: ents, HardState: pb.HardState{Term: 1, Commit: idx - 1}}}); err != nil {
								b.Error(err)
								return
							}
						}
					}(uint64(w + 1))
				}
				wg.Wait()
				st := e.Stats()
				b.ReportMetric(float64(st.Writes)/float64(b.N), "fsyncs/save")
			})
		}
	}
}

// BenchmarkEntries reads 16 entries of 128 bytes: the most recent ones
// (tail cache) or older ones (segment files, on disk).
func BenchmarkEntries(b *testing.B) {
	for _, recent := range []bool{true, false} {
		b.Run(map[bool]string{true: "tail", false: "older"}[recent], func(b *testing.B) {
			e, err := wal.Open(b.TempDir(), wal.Options{})
			if err != nil {
				b.Fatal(err)
			}
			defer e.Close()
			var ents []pb.Entry
			for i := uint64(1); i <= 1024; i++ {
				ents = append(ents, pb.Entry{Index: i, Term: 1, Data: make([]byte, 128)})
			}
			if err := e.Save([]wal.Update{{Group: 1, Entries: ents}}); err != nil {
				b.Fatal(err)
			}
			lo := uint64(1024 - 15)
			if !recent {
				lo = 100
			}
			s := e.Storage(1)
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				got, err := s.Entries(lo, lo+16, 1<<20)
				if err != nil || len(got) != 16 {
					b.Fatal(err, len(got))
				}
			}
		})
	}
}

func (m *memFS) block() []byte {
	m.mu.Lock()
	defer m.mu.Unlock()
	if n := len(m.free); n > 0 {
		b := m.free[n-1]
		m.free = m.free[:n-1]
		return b
	}
	return make([]byte, 0, memBlockBytes)
}

// BenchmarkOpen reopens an engine holding 64 MiB of 4 KiB entries of 16
// groups (page cache warm): the cost of recovery. One op is one Open.
func BenchmarkOpen(b *testing.B) {
	dir := b.TempDir()
	e, err := wal.Open(dir, wal.Options{})
	if err != nil {
		b.Fatal(err)
	}
	data := make([]byte, 4096)
	const groups, perGroup = 16, 1024
	for i := uint64(1); i <= perGroup; i++ {
		us := make([]wal.Update, groups)
		for g := range us {
			us[g] = wal.Update{Group: uint64(g + 1), Entries: []pb.Entry{{Index: i, Term: 1, Data: data}}, HardState: pb.HardState{Term: 1, Commit: i - 1}}
		}
		if err := e.Save(us); err != nil {
			b.Fatal(err)
		}
	}
	if err := e.Close(); err != nil {
		b.Fatal(err)
	}
	b.SetBytes(groups * perGroup * 4096)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		e, err := wal.Open(dir, wal.Options{})
		if err != nil {
			b.Fatal(err)
		}
		if err := e.Close(); err != nil {
			b.Fatal(err)
		}
	}
}
