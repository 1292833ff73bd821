package transport

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	pb "github.com/pontoon-raft/raft/raftpb"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// memCluster joins nodes 1..n to a new network, each with a recorder.
func memCluster(t *testing.T, cfg MemConfig, n int) (*MemNetwork, []*MemTransport, []*recorder) {
	t.Helper()
	net, err := NewMemNetwork(cfg)
	require.NoError(t, err)
	var ts []*MemTransport
	var rs []*recorder
	for id := uint64(1); id <= uint64(n); id++ {
		r := newRecorder()
		tr, err := net.Join(id, r, nil)
		require.NoError(t, err)
		ts = append(ts, tr)
		rs = append(rs, r)
	}
	return net, ts, rs
}

func TestMemDeliversOnlyWhenDriven(t *testing.T) {
	net, ts, rs := memCluster(t, MemConfig{Seed: 1}, 2)
	msgs := []GroupMessage{heartbeat(7, 1, 2), heartbeat(8, 1, 2), heartbeat(9, 1, 2)}
	ts[0].Send(msgs)
	assert.Empty(t, rs[1].messages(), "nothing arrives before the driver steps")
	assert.Equal(t, 1, net.Pending())

	require.True(t, net.Step())
	got := rs[1].messages()
	require.Len(t, got, 3)
	for i, d := range got {
		assert.Equal(t, uint64(1), d.from)
		assert.Equal(t, msgs[i], d.gm, "message %d arrives intact and in order", i)
		assert.Equal(t, 1, d.batch, "one Send to one node and class is one batch")
	}
	assert.False(t, net.Step())
}

func TestMemMessagesShareNoMemory(t *testing.T) {
	net, ts, rs := memCluster(t, MemConfig{Seed: 1}, 2)
	m := appendMsg(1, 1, 2, 5, 16)
	ts[0].Send([]GroupMessage{m})
	m.Message.Entries[0].Data[0] = 0xff // the sender's memory, after Send
	net.Step()
	got := rs[1].messages()
	require.Len(t, got, 1)
	assert.Equal(t, byte(5), got[0].gm.Message.Entries[0].Data[0], "the message travelled encoded, as sent")
}

func TestMemLatencyKeepsClassOrder(t *testing.T) {
	net, ts, rs := memCluster(t, MemConfig{Seed: 3, Faults: Faults{MinLatency: 10 * time.Millisecond, MaxLatency: 50 * time.Millisecond}}, 2)
	for i := uint64(1); i <= 20; i++ {
		ts[0].Send([]GroupMessage{appendMsg(1, 1, 2, i, 8)})
	}
	assert.Zero(t, net.Advance(9*time.Millisecond), "nothing is due before MinLatency")
	net.Advance(time.Second)
	got := rs[1].messages()
	require.Len(t, got, 20)
	for i, d := range got {
		assert.Equal(t, uint64(i+1), d.gm.Message.Entries[0].Index, "appends of one link stay in order despite random latency")
	}
	assert.Equal(t, time.Second+9*time.Millisecond, net.Now())
}

// runScript drives three nodes through a random workload with every fault
// on, and returns a transcript of every delivery and report.
func runScript(t *testing.T, seed uint64) string {
	net, err := NewMemNetwork(MemConfig{Seed: seed, QueueMessages: 50, Faults: Faults{
		MinLatency: time.Millisecond, MaxLatency: 20 * time.Millisecond,
		DropRate: 0.1, DuplicateRate: 0.1, DelayRate: 0.1, MaxDelay: 50 * time.Millisecond,
		ReorderRate: 0.2, SnapshotFailRate: 0.3,
	}})
	require.NoError(t, err)
	var log strings.Builder
	ts := map[uint64]*MemTransport{}
	for id := uint64(1); id <= 3; id++ {
		r := newRecorder()
		id := id
		r.onMessages = func(from uint64, msgs []GroupMessage) {
			for _, gm := range msgs {
				fmt.Fprintf(&log, "%v %d->%d g%d %v i%d\n", net.Now(), from, id, gm.Group, gm.Message.Type, gm.Message.Index)
				if gm.Message.Type == pb.MsgApp { // answer, from inside the Handler
					ts[id].Send([]GroupMessage{{Group: gm.Group, Message: pb.Message{Type: pb.MsgAppResp, From: id, To: from, Index: gm.Message.Index}}})
				}
			}
		}
		tr, err := net.Join(id, r, nil)
		require.NoError(t, err)
		ts[id] = tr
	}
	work := rand.New(rand.NewPCG(seed, 99))
	for step := 0; step < 300; step++ {
		from := 1 + work.Uint64N(3)
		to := 1 + (from+work.Uint64N(2))%3
		switch work.IntN(10) {
		case 0:
			ts[from].SendSnapshot(OutgoingSnapshot{Group: 1, Message: snapMsg(1, from, to, uint64(step)),
				Body: &body{data: []byte(strings.Repeat("s", 100))}})
		case 1:
			net.Cut(from, to)
		case 2:
			net.Heal()
		default:
			var batch []GroupMessage
			for i := 0; i < 1+work.IntN(5); i++ {
				batch = append(batch, appendMsg(uint64(1+work.IntN(4)), from, to, uint64(step*10+i), 4))
			}
			ts[from].Send(batch)
		}
		net.Advance(time.Duration(work.IntN(5)) * time.Millisecond)
	}
	net.Advance(time.Second)
	fmt.Fprintf(&log, "stats %+v\n", net.Stats())
	return log.String()
}

func TestMemDeterministicFromSeed(t *testing.T) {
	a, b := runScript(t, 42), runScript(t, 42)
	require.Equal(t, a, b, "the same seed replays the same run")
	assert.NotEqual(t, a, runScript(t, 43), "another seed gives another run")
	assert.Greater(t, strings.Count(a, "\n"), 100)
}

func TestMemFaults(t *testing.T) {
	const batches, perBatch = 50, 4
	tests := []struct {
		name   string
		faults Faults
		check  func(t *testing.T, s MemStats, got []delivered, r *recorder)
	}{
		{"drop", Faults{DropRate: 1}, func(t *testing.T, s MemStats, got []delivered, r *recorder) {
			assert.Empty(t, got)
			assert.Equal(t, batches*perBatch, s.Dropped)
			assert.Empty(t, r.unreachables(), "loss on the wire goes unreported, as on a real network")
		}},
		{"duplicate", Faults{DuplicateRate: 1}, func(t *testing.T, s MemStats, got []delivered, _ *recorder) {
			assert.Len(t, got, 2*batches*perBatch)
			assert.Equal(t, batches*perBatch, s.Duplicated)
		}},
		{"delay", Faults{DelayRate: 0.5, MaxDelay: 100 * time.Millisecond}, func(t *testing.T, s MemStats, got []delivered, _ *recorder) {
			assert.Len(t, got, batches*perBatch)
			assert.InDelta(t, batches/2, s.Delayed, batches/4)
			assert.False(t, inOrder(got), "delayed batches are overtaken")
		}},
		{"reorder", Faults{ReorderRate: 1}, func(t *testing.T, s MemStats, got []delivered, _ *recorder) {
			assert.Len(t, got, batches*perBatch)
			assert.Equal(t, batches, s.Reordered)
			assert.False(t, inOrder(got), "messages within batches are shuffled")
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			net, ts, rs := memCluster(t, MemConfig{Seed: 7, Faults: tt.faults}, 2)
			for b := 0; b < batches; b++ {
				var batch []GroupMessage
				for i := 0; i < perBatch; i++ {
					batch = append(batch, appendMsg(1, 1, 2, uint64(b*perBatch+i+1), 4))
				}
				ts[0].Send(batch)
				net.Advance(time.Millisecond)
			}
			net.Advance(time.Second)
			s := net.Stats()
			assert.Equal(t, batches*perBatch, s.Sent+s.Dropped)
			tt.check(t, s, rs[1].messages(), rs[0])
		})
	}
}

func inOrder(got []delivered) bool {
	for i := 1; i < len(got); i++ {
		if got[i].gm.Message.Entries[0].Index < got[i-1].gm.Message.Entries[0].Index {
			return false
		}
	}
	return true
}

func TestMemCutIsOneWay(t *testing.T) {
	net, ts, rs := memCluster(t, MemConfig{Seed: 1}, 2)
	net.Cut(1, 2)
	ts[0].Send([]GroupMessage{heartbeat(4, 1, 2), heartbeat(3, 1, 2), heartbeat(4, 1, 2)})
	ts[1].Send([]GroupMessage{heartbeat(5, 2, 1)})
	net.Advance(0)
	assert.Empty(t, rs[1].messages(), "1 -> 2 is cut")
	assert.Len(t, rs[0].messages(), 1, "2 -> 1 still works")
	assert.Equal(t, []unreachableReport{{to: 2, groups: []uint64{3, 4}}}, rs[0].unreachables(),
		"the sender hears which groups lost messages")
	assert.Equal(t, 3, net.Stats().Cut)

	net.Heal()
	ts[0].Send([]GroupMessage{heartbeat(4, 1, 2)})
	net.Advance(0)
	assert.Len(t, rs[1].messages(), 1)
}

func TestMemPartitionAndHeal(t *testing.T) {
	net, ts, rs := memCluster(t, MemConfig{Seed: 1}, 3)
	net.Partition(1)
	for from := uint64(1); from <= 3; from++ {
		for to := uint64(1); to <= 3; to++ {
			if from != to {
				ts[from-1].Send([]GroupMessage{heartbeat(1, from, to)})
			}
		}
	}
	net.Advance(0)
	assert.Empty(t, rs[0].messages(), "node 1 hears nobody")
	assert.Len(t, rs[1].messages(), 1, "node 2 hears node 3 only")
	assert.Len(t, rs[2].messages(), 1, "node 3 hears node 2 only")
	assert.Equal(t, 4, net.Stats().Cut)
}

func TestMemNodeDown(t *testing.T) {
	net, ts, rs := memCluster(t, MemConfig{Seed: 1}, 2)
	ts[0].Send([]GroupMessage{heartbeat(1, 1, 2)}) // in flight when 2 goes down
	net.SetDown(2, true)
	ts[1].Send([]GroupMessage{heartbeat(2, 2, 1)})
	net.Advance(0)
	assert.Empty(t, rs[1].messages())
	assert.Empty(t, rs[0].messages())
	assert.Equal(t, []unreachableReport{{to: 2, groups: []uint64{1}}}, rs[0].unreachables())
	assert.Equal(t, []unreachableReport{{to: 1, groups: []uint64{2}}}, rs[1].unreachables(), "a down node's own sends fail")

	net.SetDown(2, false)
	ts[0].Send([]GroupMessage{heartbeat(1, 1, 2)})
	net.Advance(0)
	assert.Len(t, rs[1].messages(), 1)
}

func TestMemNewIncarnationIsolatedFromTheOld(t *testing.T) {
	net, ts, rs := memCluster(t, MemConfig{Seed: 1, Faults: Faults{MinLatency: time.Millisecond, MaxLatency: time.Millisecond}}, 2)
	ts[0].Send([]GroupMessage{heartbeat(1, 1, 2)})
	ts[0].Send([]GroupMessage{heartbeat(1, 1, 9)}) // unknown node: reported to the first incarnation
	require.NoError(t, ts[1].Close())
	r2 := newRecorder()
	_, err := net.Join(2, r2, nil)
	require.NoError(t, err)
	require.NoError(t, ts[0].Close())
	r1 := newRecorder()
	_, err = net.Join(1, r1, nil)
	require.NoError(t, err)
	net.Advance(time.Second)
	assert.Empty(t, rs[1].messages())
	assert.Empty(t, r2.messages(), "a message to the old incarnation does not reach the new one")
	assert.Empty(t, r1.unreachables(), "reports for the old incarnation are not delivered to the new one")
	assert.Empty(t, rs[0].unreachables(), "nor to the closed one")

	_, err = net.Join(2, newRecorder(), nil)
	assert.ErrorIs(t, err, ErrInvalidConfig, "a node cannot join twice")
}

func TestMemSendDrops(t *testing.T) {
	obs := newCountingObserver()
	net, err := NewMemNetwork(MemConfig{Seed: 1, QueueMessages: 2, MaxMessageBytes: 100})
	require.NoError(t, err)
	r1 := newRecorder()
	t1, err := net.Join(1, r1, obs)
	require.NoError(t, err)
	_, err = net.Join(2, newRecorder(), nil)
	require.NoError(t, err)
	t1.Send([]GroupMessage{
		heartbeat(1, 1, 2), heartbeat(2, 1, 2), heartbeat(3, 1, 2), // the third overflows the link
		appendMsg(4, 1, 2, 1, 200), // too large
		heartbeat(5, 1, 7),         // unknown node
		heartbeat(6, 1, 1),         // itself
		{Group: 8, Message: pb.Message{Type: pb.MsgHup, From: 1, To: 2}}, // local type: dropped, not reported
	})
	net.Advance(0)
	obs.read(func(o *countingObserver) {
		assert.Equal(t, map[DropReason]int{DropQueueFull: 1, DropTooLarge: 1, DropUnknownPeer: 2, DropLocalType: 1}, o.dropped)
	})
	assert.Equal(t, []unreachableReport{{to: 2, groups: []uint64{3, 4}}, {to: 7, groups: []uint64{5}}, {to: 1, groups: []uint64{6}}},
		r1.unreachables())
	assert.Equal(t, 1, net.Stats().QueueFull)
}

func TestMemReceiveChecks(t *testing.T) {
	obs := newCountingObserver()
	net, err := NewMemNetwork(MemConfig{Seed: 1})
	require.NoError(t, err)
	t1, err := net.Join(1, newRecorder(), nil)
	require.NoError(t, err)
	r2 := newRecorder()
	r2.maxGroup = 10
	_, err = net.Join(2, r2, obs)
	require.NoError(t, err)
	_, err = net.Join(3, newRecorder(), nil)
	require.NoError(t, err)

	forged := heartbeat(1, 3, 2) // node 1 sends a message claiming to be from node 3
	t1.Send([]GroupMessage{heartbeat(1, 1, 2), forged, heartbeat(11, 1, 2), heartbeat(2, 1, 2)})
	net.Advance(0)
	got := r2.messages()
	require.Len(t, got, 2)
	assert.Equal(t, []uint64{1, 2}, []uint64{got[0].gm.Group, got[1].gm.Group})
	obs.read(func(o *countingObserver) {
		assert.Equal(t, map[RejectReason]int{RejectForgedSender: 1, RejectUnknownGroup: 1}, o.rejected)
	})
	assert.Equal(t, 2, net.Stats().Rejected)
}

func TestMemHandlerMaySendWhileDelivering(t *testing.T) {
	net, ts, rs := memCluster(t, MemConfig{Seed: 1, Faults: Faults{MinLatency: time.Millisecond, MaxLatency: time.Millisecond}}, 2)
	rs[1].onMessages = func(from uint64, msgs []GroupMessage) {
		ts[1].Send([]GroupMessage{{Group: 1, Message: pb.Message{Type: pb.MsgHeartbeatResp, From: 2, To: from}}})
	}
	ts[0].Send([]GroupMessage{heartbeat(1, 1, 2)})
	assert.Equal(t, 2, net.Advance(5*time.Millisecond), "the answer is due within the same Advance")
	got := rs[0].messages()
	require.Len(t, got, 1)
	assert.Equal(t, pb.MsgHeartbeatResp, got[0].gm.Message.Type)
}

func TestMemConfigValidation(t *testing.T) {
	bad := []MemConfig{
		{Faults: Faults{DropRate: 1.5}},
		{Faults: Faults{DuplicateRate: -0.1}},
		{Faults: Faults{MinLatency: 2, MaxLatency: 1}},
		{Faults: Faults{MaxDelay: -1}},
		{QueueMessages: -1},
		{MaxSnapshotBytes: -1},
	}
	for i, cfg := range bad {
		_, err := NewMemNetwork(cfg)
		assert.ErrorIs(t, err, ErrInvalidConfig, "config %d: %+v", i, cfg)
	}
	net, err := NewMemNetwork(MemConfig{})
	require.NoError(t, err)
	assert.ErrorIs(t, net.SetFaults(Faults{ReorderRate: 2}), ErrInvalidConfig)
	_, err = net.Join(0, newRecorder(), nil)
	assert.ErrorIs(t, err, ErrInvalidConfig)
	_, err = net.Join(1, nil, nil)
	assert.ErrorIs(t, err, ErrInvalidConfig)
}
