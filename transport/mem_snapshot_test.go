package transport

import (
	"bytes"
	"errors"
	"testing"

	pb "github.com/pontoon-raft/raft/raftpb"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestMemSnapshotStoredBeforeDelivered(t *testing.T) {
	net, ts, rs := memCluster(t, MemConfig{Seed: 1, SnapshotChunkBytes: 7}, 2)
	data := bytes.Repeat([]byte("0123456789"), 10)
	b := &body{data: data}
	m := snapMsg(5, 1, 2, 40)
	var storedWhenDelivered []byte
	rs[1].onMessages = func(uint64, []GroupMessage) {
		rs[1].mu.Lock()
		storedWhenDelivered = rs[1].stored[5]
		rs[1].mu.Unlock()
	}
	ts[0].SendSnapshot(OutgoingSnapshot{Group: 5, Message: m, Body: b})
	assert.Empty(t, rs[0].snapshotReports(), "nothing happens before the driver steps")
	net.Advance(0)

	got := rs[1].messages()
	require.Len(t, got, 1)
	assert.Equal(t, GroupMessage{Group: 5, Message: m}, got[0].gm)
	assert.Equal(t, data, storedWhenDelivered, "the body is stored before the MsgSnap is handed over")
	assert.Equal(t, []snapshotReport{{to: 2, group: 5}}, rs[0].snapshotReports())
	assert.Equal(t, int32(1), b.closes.Load())
	assert.Equal(t, 1, net.Stats().SnapshotsDelivered)
}

func TestMemSnapshotViaSendHasEmptyBody(t *testing.T) {
	net, ts, rs := memCluster(t, MemConfig{Seed: 1}, 2)
	ts[0].Send([]GroupMessage{{Group: 3, Message: snapMsg(3, 1, 2, 9)}})
	net.Advance(0)
	require.Len(t, rs[1].messages(), 1)
	assert.Equal(t, []byte{}, append([]byte{}, rs[1].stored[3]...))
	assert.Equal(t, []snapshotReport{{to: 2, group: 3}}, rs[0].snapshotReports())
}

func TestMemSnapshotFailures(t *testing.T) {
	errDisk := errors.New("disk full")
	tests := []struct {
		name    string
		cfg     MemConfig
		prepare func(net *MemNetwork, r2 *recorder)
		snap    func() OutgoingSnapshot
		want    error
		aborted bool // the receiver's sink saw Abort
	}{
		{name: "receiver refuses", prepare: func(_ *MemNetwork, r2 *recorder) { r2.refuseSnapshot = errDisk }, want: ErrRefused},
		{name: "sink close fails", prepare: func(_ *MemNetwork, r2 *recorder) { r2.failClose = errDisk }, want: ErrRefused},
		{name: "injected break", cfg: MemConfig{Faults: Faults{SnapshotFailRate: 1}}, want: ErrInjectedFault, aborted: true},
		{name: "body too large", cfg: MemConfig{MaxSnapshotBytes: 50}, want: ErrSnapshotTooLarge, aborted: true},
		{name: "body read fails", snap: func() OutgoingSnapshot {
			return OutgoingSnapshot{Group: 1, Message: snapMsg(1, 1, 2, 5), Body: &body{data: []byte("ab"), readErr: errDisk}}
		}, want: errDisk, aborted: true},
		{name: "unknown group", prepare: func(_ *MemNetwork, r2 *recorder) { r2.maxGroup = 0xff }, snap: func() OutgoingSnapshot {
			return OutgoingSnapshot{Group: 0x100, Message: snapMsg(0x100, 1, 2, 5), Body: &body{}}
		}, want: ErrRefused},
		{name: "cut link", prepare: func(net *MemNetwork, _ *recorder) { net.Cut(1, 2) }, want: ErrUnreachable},
		{name: "receiver down", prepare: func(net *MemNetwork, _ *recorder) { net.SetDown(2, true) }, want: ErrUnreachable},
		{name: "not a MsgSnap", snap: func() OutgoingSnapshot {
			return OutgoingSnapshot{Group: 1, Message: heartbeat(1, 1, 2).Message, Body: &body{}}
		}, want: ErrInvalidSnapshot},
		{name: "unknown node", snap: func() OutgoingSnapshot {
			return OutgoingSnapshot{Group: 1, Message: snapMsg(1, 1, 9, 5), Body: &body{}}
		}, want: ErrUnknownPeer},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := tt.cfg
			cfg.Seed = 1
			net, ts, rs := memCluster(t, cfg, 2)
			if tt.prepare != nil {
				tt.prepare(net, rs[1])
			}
			s := OutgoingSnapshot{Group: 1, Message: snapMsg(1, 1, 2, 5), Body: &body{data: bytes.Repeat([]byte("x"), 1000)}}
			if tt.snap != nil {
				s = tt.snap()
			}
			ts[0].SendSnapshot(s)
			net.Advance(0)
			reports := rs[0].snapshotReports()
			require.Len(t, reports, 1)
			assert.ErrorIs(t, reports[0].err, tt.want)
			assert.Equal(t, s.Group, reports[0].group)
			assert.Empty(t, rs[1].messages(), "a failed snapshot is never stepped")
			assert.Equal(t, int32(1), s.Body.(*body).closes.Load(), "the body is closed once")
			rs[1].mu.Lock()
			assert.Equal(t, tt.aborted, len(rs[1].aborted) == 1, "aborted: %v", rs[1].aborted)
			rs[1].mu.Unlock()
			assert.Equal(t, 1, net.Stats().SnapshotsFailed)
		})
	}
}

func TestMemSnapshotStreamsBounded(t *testing.T) {
	net, ts, rs := memCluster(t, MemConfig{Seed: 1, MaxSnapshotStreams: 2}, 2)
	for g := uint64(1); g <= 3; g++ {
		ts[0].SendSnapshot(OutgoingSnapshot{Group: g, Message: snapMsg(g, 1, 2, 5), Body: &body{}})
	}
	net.Advance(0)
	reports := rs[0].snapshotReports()
	require.Len(t, reports, 3)
	var busy, ok int
	for _, r := range reports {
		switch {
		case r.err == nil:
			ok++
		case errors.Is(r.err, ErrBusy):
			busy++
			assert.Equal(t, uint64(3), r.group)
		}
	}
	assert.Equal(t, 2, ok)
	assert.Equal(t, 1, busy)

	ts[0].SendSnapshot(OutgoingSnapshot{Group: 4, Message: snapMsg(4, 1, 2, 5)})
	net.Advance(0)
	assert.NoError(t, rs[0].snapshotReports()[3].err, "slots are free again once the streams are done")
}

func TestMemSnapshotRejectsForgedSender(t *testing.T) {
	obs := newCountingObserver()
	net, err := NewMemNetwork(MemConfig{Seed: 1})
	require.NoError(t, err)
	r1 := newRecorder()
	t1, err := net.Join(1, r1, nil)
	require.NoError(t, err)
	_, err = net.Join(2, newRecorder(), obs)
	require.NoError(t, err)
	m := snapMsg(1, 3, 2, 5) // From: 3, sent by node 1
	t1.SendSnapshot(OutgoingSnapshot{Group: 1, Message: m})
	net.Advance(0)
	require.Len(t, r1.snapshotReports(), 1)
	assert.ErrorIs(t, r1.snapshotReports()[0].err, ErrRefused)
	obs.read(func(o *countingObserver) {
		assert.Equal(t, map[RejectReason]int{RejectForgedSender: 1}, o.rejected)
	})
}

func TestMemSnapshotBodyClosedAfterTransportClosed(t *testing.T) {
	net, ts, rs := memCluster(t, MemConfig{Seed: 1}, 2)
	b := &body{data: []byte("abc")}
	ts[0].SendSnapshot(OutgoingSnapshot{Group: 1, Message: snapMsg(1, 1, 2, 5), Body: b})
	require.NoError(t, ts[0].Close())
	net.Advance(0)
	assert.Equal(t, int32(1), b.closes.Load())
	assert.Empty(t, rs[0].snapshotReports(), "a closed transport's Handler is not called")

	late := &body{}
	ts[0].SendSnapshot(OutgoingSnapshot{Group: 1, Message: snapMsg(1, 1, 2, 6), Body: late})
	assert.Equal(t, int32(1), late.closes.Load(), "SendSnapshot after Close closes the body")
	assert.Equal(t, pb.MsgSnap, snapMsg(1, 1, 2, 5).Type)
}
