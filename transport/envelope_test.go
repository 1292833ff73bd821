package transport

import (
	"bytes"
	"encoding/hex"
	"io"
	"math/rand/v2"
	"strings"
	"testing"

	pb "github.com/pontoon-raft/raft/raftpb"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// unhex decodes a hex listing, ignoring spaces, newlines and comments after #.
func unhex(t *testing.T, listing string) []byte {
	t.Helper()
	var b strings.Builder
	for _, line := range strings.Split(listing, "\n") {
		line, _, _ = strings.Cut(line, "#")
		b.WriteString(strings.ReplaceAll(strings.ReplaceAll(line, " ", ""), "\t", ""))
	}
	out, err := hex.DecodeString(b.String())
	require.NoError(t, err)
	return out
}

// TestEnvelopeGolden pins the bytes of envelope version 1: a change here
// is a change of the wire format and needs a new EnvelopeVersion.
func TestEnvelopeGolden(t *testing.T) {
	hb := heartbeat(300, 1, 2).Message
	tests := []struct {
		name    string
		encoded []byte
		want    string
	}{
		{"hello", appendHello(nil, hello{version: 1, class: ClassBulk, clusterID: 0x0102, from: 3, to: 4}), `
			00 00 00 20          # length 32: kind and payload
			01                   # kind Hello
			50 4e 54 4e          # "PNTN"
			00 01                # version 1
			02                   # class bulk
			00 00 00 00 00 00 01 02  # cluster id
			00 00 00 00 00 00 00 03  # from
			00 00 00 00 00 00 00 04  # to`},
		{"hello ack", appendHelloAck(nil, helloAck{version: 1, status: statusCluster, clusterID: 5, node: 4, reason: "no"}), `
			00 00 00 16 02       # length 22, kind HelloAck
			00 01 02             # version 1, status cluster mismatch
			00 00 00 00 00 00 00 05  # cluster id
			00 00 00 00 00 00 00 04  # node
			6e 6f                # reason "no"`},
		{"batch", func() []byte {
			buf, start := beginFrame(nil, kindBatch)
			buf = appendBatchMessage(buf, 300, &hb, hb.Size())
			endFrame(buf, start)
			return buf
		}(), `
			00 00 00 18 10       # length 24, kind Batch
			ac 02                # group 300 (uvarint)
			14                   # message length 20 (uvarint)
			08 08 10 02 18 01 20 01 28 00 30 00 40 00 50 00 58 00 68 00  # raftpb MsgHeartbeat`},
		{"snapshot end", appendSnapEnd(nil, 0x10000, 0xdeadbeef), `
			00 00 00 0d 23       # length 13, kind SnapEnd
			00 00 00 00 00 01 00 00  # body length
			de ad be ef          # CRC-32C`},
		{"snapshot outcome", appendVerdict(nil, kindSnapOutcome, statusChecksum, ""), `
			00 00 00 02 24 07    # length 2, kind SnapOutcome, status checksum mismatch`},
	}
	for _, tt := range tests {
		assert.Equal(t, hex.EncodeToString(unhex(t, tt.want)), hex.EncodeToString(tt.encoded), tt.name)
	}
}

func TestFrameReader(t *testing.T) {
	var stream []byte
	payloads := [][]byte{{}, []byte("a"), bytes.Repeat([]byte("b"), 5000), []byte("c")}
	for i, p := range payloads {
		buf, start := beginFrame(stream, byte(0x30+i))
		stream = append(buf, p...)
		endFrame(stream, start)
	}
	fr := frameReader{r: bytes.NewReader(stream)}
	for i, p := range payloads {
		kind, got, err := fr.next(5000)
		require.NoError(t, err)
		assert.Equal(t, byte(0x30+i), kind)
		assert.Equal(t, p, append([]byte{}, got...))
	}
	_, _, err := fr.next(5000)
	assert.Equal(t, io.EOF, err, "a stream ending between frames ends cleanly")

	boundaries := map[int]bool{}
	for i, at := 0, 0; i <= len(payloads); i++ {
		boundaries[at] = true
		if i < len(payloads) {
			at += frameHeaderBytes + len(payloads[i])
		}
	}
	for cut := 0; cut < len(stream); cut++ {
		fr := frameReader{r: bytes.NewReader(stream[:cut])}
		var err error
		for err == nil {
			_, _, err = fr.next(5000)
		}
		if boundaries[cut] {
			assert.Equal(t, io.EOF, err, "cut between frames, after %d bytes", cut)
		} else {
			assert.ErrorIs(t, err, io.ErrUnexpectedEOF, "cut inside a frame, after %d bytes", cut)
		}
	}

	fr = frameReader{r: bytes.NewReader(stream)}
	_, _, _ = fr.next(5000)
	_, _, _ = fr.next(5000)
	_, _, err = fr.next(4999)
	assert.ErrorIs(t, err, ErrMalformed, "a payload over the limit")
	assert.Less(t, cap(fr.buf), 4999, "nothing of an oversized frame is allocated")
}

func TestFrameReaderReleasesLargeBuffers(t *testing.T) {
	big := frameOf(kindBatch, make([]byte, 2*frameBufferShrinkBytes))
	small := frameOf(kindBatch, []byte("x"))
	fr := frameReader{r: bytes.NewReader(append(big, small...))}
	_, _, err := fr.next(4 * frameBufferShrinkBytes)
	require.NoError(t, err)
	_, _, err = fr.next(4 * frameBufferShrinkBytes)
	require.NoError(t, err)
	assert.LessOrEqual(t, cap(fr.buf), frameBufferShrinkBytes)
}

// randomMessage returns a message with every field drawn from r.
func randomMessage(r *rand.Rand) pb.Message {
	m := pb.Message{
		Type: pb.MessageType(r.IntN(24)), To: r.Uint64(), From: r.Uint64(), Term: r.Uint64(),
		LogTerm: r.Uint64N(100), Index: r.Uint64(), Commit: r.Uint64N(1000), Vote: r.Uint64N(5),
		Reject: r.IntN(2) == 0, RejectHint: r.Uint64N(1000),
	}
	for i := 0; i < r.IntN(4); i++ {
		data := make([]byte, r.IntN(300))
		for j := range data {
			data[j] = byte(r.Uint32())
		}
		m.Entries = append(m.Entries, pb.Entry{Term: r.Uint64N(10), Index: r.Uint64(), Type: pb.EntryType(r.IntN(3)), Data: data})
	}
	if r.IntN(3) == 0 {
		m.Context = []byte("ctx")
	}
	if r.IntN(4) == 0 {
		m.Snapshot = &pb.Snapshot{Data: []byte("d"), Metadata: pb.SnapshotMetadata{Index: r.Uint64(), Term: 3,
			ConfState: pb.ConfState{Voters: []uint64{1, 2}}}}
	}
	return m
}

func TestBatchRoundTrip(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	for round := 0; round < 200; round++ {
		var msgs []GroupMessage
		var payload []byte
		for i := 0; i < 1+r.IntN(20); i++ {
			gm := GroupMessage{Group: r.Uint64() >> r.IntN(64), Message: randomMessage(r)}
			msgs = append(msgs, gm)
			payload = appendBatchMessage(payload, gm.Group, &gm.Message, gm.Message.Size())
		}
		got, err := decodeBatch(payload, DefaultMaxMessageBytes, nil)
		require.NoError(t, err)
		require.Equal(t, msgs, got, "round %d", round)
		payload[0] ^= 0xff // decoding copied everything out of the payload
		assert.Equal(t, msgs, got)
	}
}

func TestDecodeBatchAppendsToOut(t *testing.T) {
	hb := heartbeat(1, 1, 2)
	payload := appendBatchMessage(nil, 1, &hb.Message, hb.Message.Size())
	out := []GroupMessage{heartbeat(9, 9, 9)}
	out, err := decodeBatch(payload, 100, out)
	require.NoError(t, err)
	assert.Equal(t, []GroupMessage{heartbeat(9, 9, 9), hb}, out)

	_, err = decodeBatch(payload, hb.Message.Size()-1, nil)
	assert.ErrorIs(t, err, ErrMalformed, "a message over MaxMessageBytes")
}

func TestHelloRoundTrip(t *testing.T) {
	h := hello{version: EnvelopeVersion, class: ClassSnapshot, clusterID: 1 << 60, from: 7, to: 1<<64 - 1}
	fr := frameReader{r: bytes.NewReader(appendHello(nil, h))}
	kind, p, err := fr.next(maxHandshakePayload)
	require.NoError(t, err)
	require.Equal(t, kindHello, kind)
	got, err := decodeHello(p)
	require.NoError(t, err)
	assert.Equal(t, h, got)

	bad := [][]byte{nil, []byte("PNTN"), []byte("XNTN\x00\x01"), append(append([]byte{}, p...), 0), p[:len(p)-1]}
	for _, b := range bad {
		_, err := decodeHello(b)
		assert.ErrorIs(t, err, ErrMalformed, "%x", b)
	}
	future, err := decodeHello([]byte("PNTN\x00\x02"))
	require.NoError(t, err, "another version decodes to its number, whatever follows")
	assert.Equal(t, hello{version: 2}, future)
}

func TestHelloAckRoundTripClipsReasons(t *testing.T) {
	long := strings.Repeat("é", maxReasonBytes) // 2 bytes per rune: clipping must not split one
	a := helloAck{version: 1, status: statusIdentity, clusterID: 3, node: 9, reason: long}
	fr := frameReader{r: bytes.NewReader(appendHelloAck(nil, a))}
	_, p, err := fr.next(maxHandshakePayload)
	require.NoError(t, err)
	got, err := decodeHelloAck(p)
	require.NoError(t, err)
	assert.Equal(t, long[:maxReasonBytes], got.reason)
	got.reason = a.reason
	assert.Equal(t, a, got)
	_, err = decodeHelloAck(p[:ackFixedBytes-1])
	assert.ErrorIs(t, err, ErrMalformed)
}

func TestStatusesMapToErrors(t *testing.T) {
	for s := statusOK; s <= statusTooLarge+1; s++ {
		err := refusal(s, "why")
		if s == statusOK {
			assert.NoError(t, err)
			continue
		}
		require.Error(t, err)
		if s <= statusTooLarge && s != statusRefused {
			assert.Equal(t, s, statusOf(err), "status %d survives the round trip", s)
		}
		assert.Contains(t, err.Error(), `"why"`)
	}
}

func TestSnapHeaderRoundTrip(t *testing.T) {
	m := snapMsg(3, 1, 2, 40)
	fr := frameReader{r: bytes.NewReader(appendSnapHeader(nil, 1<<40, &m, m.Size()))}
	kind, p, err := fr.next(1 << 20)
	require.NoError(t, err)
	require.Equal(t, kindSnapHeader, kind)
	group, got, err := decodeSnapHeader(p)
	require.NoError(t, err)
	assert.Equal(t, uint64(1<<40), group)
	assert.Equal(t, m, got)
	_, _, err = decodeSnapHeader([]byte{0x80})
	assert.ErrorIs(t, err, ErrMalformed)
	_, _, err = decodeSnapEnd(make([]byte, 11))
	assert.ErrorIs(t, err, ErrMalformed)
	_, _, err = decodeVerdict(nil)
	assert.ErrorIs(t, err, ErrMalformed)
}
