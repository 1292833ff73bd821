package mixed

import (
	"errors"

	etcdraft "go.etcd.io/raft/v3"
	epb "go.etcd.io/raft/v3/raftpb"

	"github.com/pontoon-raft/raft"
	"github.com/pontoon-raft/raft/compat/wire"
)

// etcdStorage lets an etcd node read a Pontoon raft.Storage. Values are
// converted through the wire; errors are mapped to etcd's sentinels, which
// etcd compares by identity.
type etcdStorage struct{ s raft.Storage }

var _ etcdraft.Storage = etcdStorage{}

// storageErrors pairs each Pontoon storage sentinel with etcd's.
var storageErrors = []struct{ ours, etcd error }{
	{raft.ErrCompacted, etcdraft.ErrCompacted},
	{raft.ErrSnapOutOfDate, etcdraft.ErrSnapOutOfDate},
	{raft.ErrUnavailable, etcdraft.ErrUnavailable},
	{raft.ErrSnapshotTemporarilyUnavailable, etcdraft.ErrSnapshotTemporarilyUnavailable},
}

func toEtcdStorageError(err error) error {
	for _, p := range storageErrors {
		if errors.Is(err, p.ours) {
			return p.etcd
		}
	}
	return err
}

func (e etcdStorage) InitialState() (epb.HardState, epb.ConfState, error) {
	hs, cs, err := e.s.InitialState()
	if err != nil {
		return epb.HardState{}, epb.ConfState{}, toEtcdStorageError(err)
	}
	ehs, err := wire.RecodeHardStateToEtcd(hs)
	if err != nil {
		return epb.HardState{}, epb.ConfState{}, err
	}
	ecs, err := wire.RecodeConfStateToEtcd(cs)
	return ehs, ecs, err
}

func (e etcdStorage) Entries(lo, hi, maxSize uint64) ([]epb.Entry, error) {
	ents, err := e.s.Entries(lo, hi, maxSize)
	if err != nil {
		return nil, toEtcdStorageError(err)
	}
	return wire.RecodeEntriesToEtcd(ents)
}

func (e etcdStorage) Term(i uint64) (uint64, error) {
	t, err := e.s.Term(i)
	return t, toEtcdStorageError(err)
}

func (e etcdStorage) LastIndex() (uint64, error) {
	i, err := e.s.LastIndex()
	return i, toEtcdStorageError(err)
}

func (e etcdStorage) FirstIndex() (uint64, error) {
	i, err := e.s.FirstIndex()
	return i, toEtcdStorageError(err)
}

func (e etcdStorage) Snapshot() (epb.Snapshot, error) {
	s, err := e.s.Snapshot()
	if err != nil {
		return epb.Snapshot{}, toEtcdStorageError(err)
	}
	return wire.RecodeSnapshotToEtcd(s)
}
