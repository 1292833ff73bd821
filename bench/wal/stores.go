package main

import (
	"encoding/binary"
	"fmt"
	"os"
	"path/filepath"
	"sync/atomic"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/hashicorp/raft"
	raftboltdb "github.com/hashicorp/raft-boltdb/v2"
	"github.com/prometheus/client_golang/prometheus"
	etcdwal "go.etcd.io/etcd/server/v3/storage/wal"
	"go.etcd.io/etcd/server/v3/storage/wal/walpb"
	etcdpb "go.etcd.io/raft/v3/raftpb"
	"go.uber.org/zap"

	pb "github.com/pontoon-raft/raft/raftpb"
	"github.com/pontoon-raft/raft/wal"
)

// A store is one engine used the way an application with many Raft groups
// would use it. save makes count entries of group, from index first on,
// each holding data, durable before returning, with a HardState that
// commits the entry before first; each group is saved from one goroutine
// at a time, different groups concurrently.
type store interface {
	save(group int, first uint64, count int, data []byte) error
	// fsyncs returns the fsync and fdatasync calls made so far.
	fsyncs() uint64
	close() error
}

// engine describes how to open one kind of store and how to reopen it the
// way a restarting node does before it can serve.
type engine struct {
	name string
	// how tells, for the report, how the engine is used.
	how     string
	open    func(dir string, groups int) (store, error)
	recover func(dir string, groups int) error
}

var engines = []engine{
	{
		name: "wal",
		how:  "one Engine for all groups; each writer Saves its group's entry and HardState (concurrent Saves share writes and fsyncs)",
		open: openOurs,
		recover: func(dir string, groups int) error {
			e, err := wal.Open(dir, wal.Options{})
			if err != nil {
				return err
			}
			return e.Close()
		},
	},
	{
		name: "etcd-wal",
		how:  "one etcd WAL per group (16 MB segments); each writer calls WAL.Save with its entry and HardState; restart is Open and ReadAll of every WAL",
		open: openEtcd,
		recover: func(dir string, groups int) error {
			for g := 0; g < groups; g++ {
				w, err := etcdwal.Open(zap.NewNop(), groupDir(dir, g), walpb.Snapshot{})
				if err != nil {
					return err
				}
				if _, _, _, err := w.ReadAll(); err != nil {
					return err
				}
				if err := w.Close(); err != nil {
					return err
				}
			}
			return nil
		},
	},
	{
		name: "raft-boltdb",
		how:  "one raft-boltdb file per group; each writer calls StoreLogs with its entry (the HardState is not stored, which spares bolt a second transaction); restart opens every file and reads its last index",
		open: openBolt,
		recover: func(dir string, groups int) error {
			for g := 0; g < groups; g++ {
				s, err := raftboltdb.New(raftboltdb.Options{Path: groupDir(dir, g) + ".bolt"})
				if err != nil {
					return err
				}
				if _, err := s.LastIndex(); err != nil {
					return err
				}
				if err := s.Close(); err != nil {
					return err
				}
			}
			return nil
		},
	},
	{
		name: "pebble",
		how:  "one Pebble DB for all groups, keys prefixed by group; each writer commits a batch of its entry and HardState with pebble.Sync (Pebble shares WAL syncs among concurrent commits); restart is Open and reading every group's HardState",
		open: openPebble,
		recover: func(dir string, groups int) error {
			db, err := pebble.Open(dir, &pebble.Options{Logger: quietLogger{}})
			if err != nil {
				return err
			}
			for g := 0; g < groups; g++ {
				if _, closer, err := db.Get(hardStateKey(g)); err != nil {
					return err
				} else {
					closer.Close()
				}
			}
			return db.Close()
		},
	},
}

func groupDir(dir string, g int) string { return filepath.Join(dir, fmt.Sprintf("g%04d", g)) }

// ours

type oursStore struct{ e *wal.Engine }

func openOurs(dir string, _ int) (store, error) {
	e, err := wal.Open(dir, wal.Options{})
	return oursStore{e}, err
}

func (s oursStore) save(g int, first uint64, count int, data []byte) error {
	var one [1]pb.Entry
	ents := one[:0]
	for i := 0; i < count; i++ {
		ents = append(ents, pb.Entry{Index: first + uint64(i), Term: 1, Data: data})
	}
	return s.e.Save([]wal.Update{{Group: uint64(g + 1), Entries: ents, HardState: pb.HardState{Term: 1, Commit: first - 1}}})
}

func (s oursStore) fsyncs() uint64 { return s.e.Stats().Syncs }
func (s oursStore) close() error   { return s.e.Close() }

// etcd

type etcdStore struct{ wals []*etcdwal.WAL }

func openEtcd(dir string, groups int) (store, error) {
	etcdwal.SegmentSizeBytes = 16 << 20
	s := etcdStore{}
	for g := 0; g < groups; g++ {
		w, err := etcdwal.Create(zap.NewNop(), groupDir(dir, g), nil)
		if err != nil {
			return nil, err
		}
		s.wals = append(s.wals, w)
	}
	return s, nil
}

func (s etcdStore) save(g int, first uint64, count int, data []byte) error {
	ents := make([]etcdpb.Entry, count)
	for i := range ents {
		ents[i] = etcdpb.Entry{Index: first + uint64(i), Term: 1, Data: data}
	}
	return s.wals[g].Save(etcdpb.HardState{Term: 1, Commit: first - 1}, ents)
}

// fsyncs reads the etcd WAL's fsync histogram, which counts every fsync it
// makes (saves, segment cuts, directory syncs).
func (s etcdStore) fsyncs() uint64 {
	families, err := prometheus.DefaultGatherer.Gather()
	if err != nil {
		return 0
	}
	for _, f := range families {
		if f.GetName() == "etcd_disk_wal_fsync_duration_seconds" {
			return f.GetMetric()[0].GetHistogram().GetSampleCount()
		}
	}
	return 0
}

func (s etcdStore) close() error {
	for _, w := range s.wals {
		if err := w.Close(); err != nil {
			return err
		}
	}
	return nil
}

// raft-boltdb

type boltStore struct {
	dbs     []*raftboltdb.BoltStore
	commits *atomic.Uint64
}

func openBolt(dir string, groups int) (store, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	s := boltStore{commits: new(atomic.Uint64)}
	for g := 0; g < groups; g++ {
		db, err := raftboltdb.New(raftboltdb.Options{Path: groupDir(dir, g) + ".bolt"})
		if err != nil {
			return nil, err
		}
		s.dbs = append(s.dbs, db)
	}
	return s, nil
}

func (s boltStore) save(g int, first uint64, count int, data []byte) error {
	s.commits.Add(1)
	logs := make([]*raft.Log, count)
	for i := range logs {
		logs[i] = &raft.Log{Index: first + uint64(i), Term: 1, Type: raft.LogCommand, Data: data}
	}
	return s.dbs[g].StoreLogs(logs)
}

// fsyncs counts two per commit: bbolt fdatasyncs the data pages, then the
// meta page (growing the file adds more, not counted).
func (s boltStore) fsyncs() uint64 { return 2 * s.commits.Load() }

func (s boltStore) close() error {
	for _, db := range s.dbs {
		if err := db.Close(); err != nil {
			return err
		}
	}
	return nil
}

// pebble

type pebbleStore struct {
	db    *pebble.DB
	syncs *atomic.Uint64
}

func entryKey(g int, index uint64) []byte {
	k := binary.BigEndian.AppendUint64([]byte{'e'}, uint64(g))
	return binary.BigEndian.AppendUint64(k, index)
}

func hardStateKey(g int) []byte { return binary.BigEndian.AppendUint64([]byte{'h'}, uint64(g)) }

func openPebble(dir string, groups int) (store, error) {
	syncs := new(atomic.Uint64)
	db, err := pebble.Open(dir, &pebble.Options{Logger: quietLogger{}, FS: countingFS{vfs.Default, syncs}})
	if err != nil {
		return nil, err
	}
	s := pebbleStore{db: db, syncs: syncs}
	for g := 0; g < groups; g++ { // every group starts with a HardState, as in the other engines
		if err := db.Set(hardStateKey(g), make([]byte, 24), pebble.Sync); err != nil {
			return nil, err
		}
	}
	return s, nil
}

func (s pebbleStore) save(g int, first uint64, count int, data []byte) error {
	b := s.db.NewBatch()
	defer b.Close()
	hs := make([]byte, 24)
	binary.BigEndian.PutUint64(hs, 1)
	binary.BigEndian.PutUint64(hs[16:], first-1)
	for i := 0; i < count; i++ {
		if err := b.Set(entryKey(g, first+uint64(i)), data, nil); err != nil {
			return err
		}
	}
	if err := b.Set(hardStateKey(g), hs, nil); err != nil {
		return err
	}
	return b.Commit(pebble.Sync)
}

func (s pebbleStore) fsyncs() uint64 { return s.syncs.Load() }
func (s pebbleStore) close() error   { return s.db.Close() }

// countingFS counts the syncs of every file Pebble opens.
type countingFS struct {
	vfs.FS
	syncs *atomic.Uint64
}

type countingFile struct {
	vfs.File
	syncs *atomic.Uint64
}

func (f countingFile) Sync() error     { f.syncs.Add(1); return f.File.Sync() }
func (f countingFile) SyncData() error { f.syncs.Add(1); return f.File.SyncData() }
func (f countingFile) SyncTo(n int64) (bool, error) {
	f.syncs.Add(1)
	return f.File.SyncTo(n)
}

func (c countingFS) wrap(f vfs.File, err error) (vfs.File, error) {
	if err != nil {
		return nil, err
	}
	return countingFile{f, c.syncs}, nil
}

func (c countingFS) Create(name string, cat vfs.DiskWriteCategory) (vfs.File, error) {
	return c.wrap(c.FS.Create(name, cat))
}

func (c countingFS) OpenReadWrite(name string, cat vfs.DiskWriteCategory, opts ...vfs.OpenOption) (vfs.File, error) {
	return c.wrap(c.FS.OpenReadWrite(name, cat, opts...))
}

func (c countingFS) OpenDir(name string) (vfs.File, error) { return c.wrap(c.FS.OpenDir(name)) }

func (c countingFS) ReuseForWrite(old, name string, cat vfs.DiskWriteCategory) (vfs.File, error) {
	return c.wrap(c.FS.ReuseForWrite(old, name, cat))
}

// quietLogger drops Pebble's informational output.
type quietLogger struct{}

func (quietLogger) Infof(string, ...any) {}
func (quietLogger) Errorf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "pebble: "+format+"\n", args...)
}
func (quietLogger) Fatalf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "pebble: "+format+"\n", args...)
	os.Exit(1)
}
