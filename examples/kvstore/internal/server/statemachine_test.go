package server

import (
	"bytes"
	"fmt"
	"io"
	"log/slog"
	"testing"

	"github.com/cockroachdb/pebble/v2"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/pontoon-raft/raft/host"
)

func openPebble(t *testing.T) *pebble.DB {
	t.Helper()
	db, err := pebble.Open(t.TempDir(), &pebble.Options{Logger: pebbleLogger{slog.New(slog.NewTextHandler(io.Discard, nil))}})
	require.NoError(t, err)
	t.Cleanup(func() { db.Close() })
	return db
}

func command(index uint64, ops ...Op) host.Command {
	return host.Command{Index: index, Data: encodeCommand(ops)}
}

func put(k, v string) Op { return Op{Kind: opPut, Key: k, Value: v} }

func value(t *testing.T, db *pebble.DB, shard uint32, key string) string {
	t.Helper()
	v, ok, err := get(db, shard, key)
	require.NoError(t, err)
	if !ok {
		return "<absent>"
	}
	return v
}

func TestApplyWritesShardsApartAndSkipsWhatPebbleHolds(t *testing.T) {
	db := openPebble(t)
	a, err := openShard(db, 1)
	require.NoError(t, err)
	b, err := openShard(db, 2)
	require.NoError(t, err)

	cmds := []host.Command{
		command(1, put("x", "1"), put("y", "1")),
		command(2, Op{Kind: opDelete, Key: "y"}, put("z", "2")),
		{Index: 3, Data: []byte("garbage")},
	}
	require.NoError(t, a.Apply(cmds))
	require.NoError(t, b.Apply([]host.Command{command(1, put("x", "other shard"))}))
	assert.Equal(t, "1", value(t, db, 1, "x"))
	assert.Equal(t, "<absent>", value(t, db, 1, "y"))
	assert.Equal(t, "2", value(t, db, 1, "z"))
	assert.Equal(t, "other shard", value(t, db, 2, "x"))
	assert.Equal(t, resultBadCommand, cmds[2].Result, "a malformed command changes nothing and says so")

	// Reopened, the shard knows what it applied: the host applying the log
	// again from an older index changes nothing.
	again, err := openShard(db, 1)
	require.NoError(t, err)
	assert.Equal(t, uint64(3), again.applied)
	require.NoError(t, again.Apply([]host.Command{command(1, put("x", "old")), command(4, put("x", "new"))}))
	assert.Equal(t, "new", value(t, db, 1, "x"))
}

func TestSnapshotStreamsIntoAnotherPebble(t *testing.T) {
	src := openPebble(t)
	m, err := openShard(src, 5)
	require.NoError(t, err)
	var cmds []host.Command
	for i := 1; i <= 500; i++ {
		cmds = append(cmds, command(uint64(i), put(fmt.Sprintf("k%03d", i), fmt.Sprintf("v%d", i))))
	}
	require.NoError(t, m.Apply(cmds))
	snap, err := m.PrepareSnapshot()
	require.NoError(t, err)
	// Applying after PrepareSnapshot does not change the snapshot.
	require.NoError(t, m.Apply([]host.Command{command(501, put("k001", "later"))}))
	var buf bytes.Buffer
	n, err := snap.WriteTo(&buf)
	require.NoError(t, err)
	assert.Equal(t, int64(buf.Len()), n)
	require.NoError(t, snap.Close())

	dst := openPebble(t)
	stale, err := openShard(dst, 5)
	require.NoError(t, err)
	require.NoError(t, stale.Apply([]host.Command{command(1, put("gone", "x"))}))
	require.NoError(t, stale.Restore(bytes.NewReader(buf.Bytes())))
	assert.Equal(t, "<absent>", value(t, dst, 5, "gone"), "a restore replaces the whole shard")
	assert.Equal(t, "v1", value(t, dst, 5, "k001"))
	assert.Equal(t, "v500", value(t, dst, 5, "k500"))
	assert.Equal(t, uint64(500), stale.applied)

	// A snapshot no newer than what Pebble holds changes nothing.
	require.NoError(t, m.Restore(bytes.NewReader(buf.Bytes())))
	assert.Equal(t, "later", value(t, src, 5, "k001"))

	// A snapshot cut short, or of another shard, is refused.
	fresh, err := openShard(openPebble(t), 5)
	require.NoError(t, err)
	assert.ErrorIs(t, fresh.Restore(bytes.NewReader(buf.Bytes()[:buf.Len()-3])), errBadSnapshot)
	other, err := openShard(openPebble(t), 6)
	require.NoError(t, err)
	assert.ErrorIs(t, other.Restore(bytes.NewReader(buf.Bytes())), errBadSnapshot)
}

func TestOpenClearsAShardLeftHalfRestored(t *testing.T) {
	db := openPebble(t)
	// Data with no applied index: what a crash in the middle of a restore
	// leaves.
	require.NoError(t, db.Set(dataKey(3, "half"), []byte("x"), pebble.Sync))
	require.NoError(t, db.Set(dataKey(4, "kept"), []byte("y"), pebble.Sync))
	_, err := openShard(db, 3)
	require.NoError(t, err)
	assert.Equal(t, "<absent>", value(t, db, 3, "half"))
	assert.Equal(t, "y", value(t, db, 4, "kept"), "other shards are untouched")
}
