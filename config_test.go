package raft

import (
	"errors"
	"fmt"
	"math"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	pb "github.com/pontoon-raft/raft/raftpb"
)

// TestConfigValidation: every rule of Config is enforced by NewRawNode with
// an error wrapping ErrInvalidConfig (etcd/raft panics instead).
func TestConfigValidation(t *testing.T) {
	for _, tt := range []struct {
		name   string
		modify func(c *Config)
	}{
		{"zero ID", func(c *Config) { c.ID = None }},
		{"append thread ID", func(c *Config) { c.ID = LocalAppendThread }},
		{"apply thread ID", func(c *Config) { c.ID = LocalApplyThread }},
		{"zero HeartbeatTick", func(c *Config) { c.HeartbeatTick = 0 }},
		{"negative HeartbeatTick", func(c *Config) { c.HeartbeatTick = -1 }},
		{"ElectionTick equal to HeartbeatTick", func(c *Config) { c.ElectionTick = c.HeartbeatTick }},
		{"ElectionTick below HeartbeatTick", func(c *Config) { c.HeartbeatTick, c.ElectionTick = 5, 3 }},
		{"nil Storage", func(c *Config) { c.Storage = nil }},
		{"zero MaxInflightMsgs", func(c *Config) { c.MaxInflightMsgs = 0 }},
		{"negative MaxInflightMsgs", func(c *Config) { c.MaxInflightMsgs = -3 }},
		{"MaxInflightBytes below MaxSizePerMsg", func(c *Config) { c.MaxSizePerMsg, c.MaxInflightBytes = 1024, 1023 }},
		{"LeaseBased without CheckQuorum", func(c *Config) { c.ReadOnlyOption = ReadOnlyLeaseBased }},
		{"unknown ReadOnlyOption", func(c *Config) { c.ReadOnlyOption = 7 }},
		{"Applied beyond commit", func(c *Config) { c.Applied = 4 }},
	} {
		t.Run(tt.name, func(t *testing.T) {
			// Storage holds entries 1..5, of which 3 are committed.
			s := newTestStorage(votersConf(1, 2, 3), pb.HardState{Term: 1, Commit: 3}, 1, 1, 1, 1, 1)
			cfg := testConfig(1, s)
			tt.modify(cfg)
			rn, err := NewRawNode(cfg)
			assert.Nil(t, rn)
			require.Error(t, err)
			assert.ErrorIs(t, err, ErrInvalidConfig, "%v", err)
		})
	}
}

// TestConfigValidAndDefaults: boundary values are accepted and the
// zero-means-default limits are filled in.
func TestConfigValidAndDefaults(t *testing.T) {
	s := newTestStorage(votersConf(1, 2, 3), pb.HardState{Term: 1, Commit: 3}, 1, 1, 1, 1, 1)
	for _, tt := range []struct {
		name   string
		modify func(c *Config)
		check  func(t *testing.T, c *Config, r *raft)
	}{
		{"ElectionTick just above HeartbeatTick", func(c *Config) { c.ElectionTick = c.HeartbeatTick + 1 }, nil},
		{"Applied at commit", func(c *Config) { c.Applied = 3 }, func(t *testing.T, _ *Config, r *raft) {
			assert.Equal(t, uint64(3), r.raftLog.applied)
		}},
		{"MaxInflightBytes equal to MaxSizePerMsg", func(c *Config) { c.MaxSizePerMsg, c.MaxInflightBytes = 1024, 1024 }, nil},
		{"LeaseBased with CheckQuorum", func(c *Config) { c.ReadOnlyOption, c.CheckQuorum = ReadOnlyLeaseBased, true }, nil},
		{"zero limits mean defaults", func(c *Config) {
			c.MaxSizePerMsg, c.MaxCommittedSizePerReady, c.MaxUncommittedEntriesSize, c.MaxInflightBytes = 4096, 0, 0, 0
		}, func(t *testing.T, c *Config, r *raft) {
			assert.Equal(t, uint64(4096), c.MaxCommittedSizePerReady, "defaults to MaxSizePerMsg")
			assert.Equal(t, uint64(math.MaxUint64), c.MaxUncommittedEntriesSize)
			assert.Equal(t, uint64(math.MaxUint64), c.MaxInflightBytes)
			assert.Equal(t, uint64(4096), r.raftLog.maxApplyingEntsSize)
		}},
		{"nil Logger and Rand get defaults", func(c *Config) { c.Logger, c.Rand = nil, nil }, func(t *testing.T, c *Config, r *raft) {
			assert.NotNil(t, c.Logger)
			assert.NotNil(t, c.Rand)
			r.resetRandomizedElectionTimeout()
			assert.GreaterOrEqual(t, r.randomizedElectionTimeoutTicks, c.ElectionTick)
			assert.Less(t, r.randomizedElectionTimeoutTicks, 2*c.ElectionTick)
		}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			cfg := testConfig(1, s)
			tt.modify(cfg)
			rn, err := NewRawNode(cfg)
			require.NoError(t, err)
			if tt.check != nil {
				tt.check(t, cfg, rn.raft)
			}
		})
	}
}

// failingStorage fails InitialState.
type failingStorage struct{ *MemoryStorage }

var errStorageOnFire = errors.New("disk on fire")

func (failingStorage) InitialState() (pb.HardState, pb.ConfState, error) {
	return pb.HardState{}, pb.ConfState{}, errStorageOnFire
}

// TestNewRawNodeStorageErrors: storage failures and inconsistent storage
// are reported as errors, not as ErrInvalidConfig and not as panics.
func TestNewRawNodeStorageErrors(t *testing.T) {
	_, err := NewRawNode(testConfig(1, failingStorage{NewMemoryStorage()}))
	assert.ErrorIs(t, err, errStorageOnFire)
	assert.NotErrorIs(t, err, ErrInvalidConfig)

	// A HardState committing beyond the log.
	s := newTestStorage(votersConf(1), pb.HardState{Term: 1, Commit: 9}, 1)
	_, err = NewRawNode(testConfig(1, s))
	assert.Error(t, err)
}

// TestConfigAppliedBelowSnapshot: an application whose state machine is at
// index 3 while Storage's snapshot is at 8 would silently skip entries 4..8
// if Applied were raised to the snapshot. NewRawNode refuses it instead
// (etcd/raft panics). Applied 0 means "not given": the node starts at the
// snapshot, which the application restores.
func TestConfigAppliedBelowSnapshot(t *testing.T) {
	newStorage := func() *MemoryStorage {
		s := NewMemoryStorage()
		require.NoError(t, s.ApplySnapshot(pb.Snapshot{Metadata: pb.SnapshotMetadata{
			Index: 8, Term: 1, ConfState: pb.ConfState{Voters: []uint64{1, 2, 3}},
		}}))
		require.NoError(t, s.Append(makeEnts(9, 1, 1)))
		require.NoError(t, s.SetHardState(pb.HardState{Term: 1, Commit: 10}))
		return s
	}
	for _, tt := range []struct {
		applied     uint64
		wantErr     bool
		wantApplied uint64
	}{
		{applied: 3, wantErr: true},
		{applied: 7, wantErr: true},
		{applied: 0, wantApplied: 8},
		{applied: 8, wantApplied: 8},
		{applied: 9, wantApplied: 9},
	} {
		t.Run(fmt.Sprint("Applied ", tt.applied), func(t *testing.T) {
			cfg := testConfig(1, newStorage())
			cfg.Applied = tt.applied
			rn, err := NewRawNode(cfg)
			if tt.wantErr {
				assert.ErrorIs(t, err, ErrInvalidConfig)
				assert.ErrorContains(t, err, "below the snapshot index")
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.wantApplied, rn.raft.raftLog.applied)
		})
	}
}

// TestNewRawNodeNilConfig: a nil Config is an invalid config, not a crash.
func TestNewRawNodeNilConfig(t *testing.T) {
	var rn *RawNode
	var err error
	require.NotPanics(t, func() { rn, err = NewRawNode(nil) })
	assert.Nil(t, rn)
	assert.ErrorIs(t, err, ErrInvalidConfig)
}

// TestLeaseDriftTicksValidation: the lease lasts ElectionTick - 2 - LeaseDriftTicks
// ticks, which must leave at least one tick.
func TestLeaseDriftTicksValidation(t *testing.T) {
	s := newTestStorage(votersConf(1, 2, 3), pb.HardState{Term: 1, Commit: 1}, 1)
	for _, tt := range []struct {
		drift int
		lease bool
		ok    bool
	}{
		{0, true, true}, {7, true, true}, {8, true, false}, {-1, true, false}, {8, false, true},
	} {
		cfg := testConfig(1, s)
		cfg.LeaseDriftTicks = tt.drift
		if tt.lease {
			cfg.CheckQuorum, cfg.ReadOnlyOption = true, ReadOnlyLeaseBased
		}
		_, err := NewRawNode(cfg)
		if tt.ok {
			assert.NoError(t, err, "drift %d lease %t", tt.drift, tt.lease)
		} else {
			assert.ErrorIs(t, err, ErrInvalidConfig, "drift %d lease %t", tt.drift, tt.lease)
		}
	}
}
