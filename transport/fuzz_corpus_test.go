package transport

import (
	"flag"
	"fmt"
	"hash/crc32"
	"os"
	"path/filepath"
	"testing"

	pb "github.com/pontoon-raft/raft/raftpb"
	"github.com/stretchr/testify/require"
)

var updateFuzzCorpus = flag.Bool("update-fuzz-corpus", false, "rewrite testdata/fuzz from fuzzSeeds")

// fuzzSeeds returns the seed inputs of each fuzz target, by name.
func fuzzSeeds() map[string]map[string][]byte {
	hb := heartbeat(1, 1, 2)
	app := appendMsg(7, 1, 2, 5, 40)
	snap := snapMsg(3, 1, 2, 10)
	batch := func(msgs ...GroupMessage) []byte {
		var p []byte
		for i := range msgs {
			p = appendBatchMessage(p, msgs[i].Group, &msgs[i].Message, msgs[i].Message.Size())
		}
		return p
	}
	frame := func(kind byte, payload []byte) []byte { return frameOf(kind, payload) }
	helloTo2 := func(c Class, cluster uint64) []byte {
		return appendHello(nil, hello{version: EnvelopeVersion, class: c, clusterID: cluster, from: 1, to: 2})
	}
	body := []byte("the body of a small snapshot")
	snapStream := func(end []byte) []byte {
		s := helloTo2(ClassSnapshot, 9)
		s = appendSnapHeader(s, 3, &snap, snap.Size())
		s = append(s, frame(kindSnapChunk, body[:10])...)
		s = append(s, frame(kindSnapChunk, body[10:])...)
		return append(s, end...)
	}
	goodEnd := appendSnapEnd(nil, uint64(len(body)), crc32.Checksum(body, castagnoli))
	forged := heartbeat(1, 3, 2)
	unknownGroup := heartbeat(5000, 1, 2)
	return map[string]map[string][]byte{
		"FuzzFrameReader": {
			"two_frames":     append(helloTo2(ClassControl, 9), frame(kindBatch, batch(hb, app))...),
			"truncated":      helloTo2(ClassControl, 9)[:20],
			"zero_length":    {0, 0, 0, 0, 1},
			"huge_length":    {0xff, 0xff, 0xff, 0xff, 0x10, 1, 2, 3},
			"empty_payloads": {0, 0, 0, 1, 0x10, 0, 0, 0, 1, 0x22},
		},
		"FuzzDecodeBatch": {
			"three_messages":   batch(hb, app, GroupMessage{Group: 3, Message: snap}),
			"bad_group_varint": {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01},
			"length_overflow":  {1, 0xff, 0xff, 0xff, 0xff, 0x0f},
			"bad_protobuf":     {1, 2, 0x08, 0x80},
			"empty_message":    {1, 0},
		},
		"FuzzDecodeHandshake": {
			"hello":          helloTo2(ClassBulk, 9)[frameHeaderBytes:],
			"future_version": []byte("PNTN\x00\x02more"),
			"ack_refused": appendHelloAck(nil, helloAck{version: 1, status: statusIdentity, clusterID: 9, node: 2,
				reason: "certificate is for node 3"})[frameHeaderBytes:],
			"snap_header": appendSnapHeader(nil, 3, &snap, snap.Size())[frameHeaderBytes:],
			"snap_end":    goodEnd[frameHeaderBytes:],
			"verdict":     appendVerdict(nil, kindSnapOutcome, statusChecksum, "bad crc")[frameHeaderBytes:],
		},
		"FuzzAcceptStream": {
			"control_batches": append(append(helloTo2(ClassControl, 9),
				frame(kindBatch, batch(hb, forged, unknownGroup))...), frame(kindBatch, batch(hb))...),
			"bulk_append":        append(helloTo2(ClassBulk, 9), frame(kindBatch, batch(app))...),
			"snapshot":           snapStream(goodEnd),
			"snapshot_bad_crc":   snapStream(appendSnapEnd(nil, uint64(len(body)), 1)),
			"snapshot_truncated": snapStream(nil),
			"other_cluster":      append(helloTo2(ClassControl, 8), frame(kindBatch, batch(hb))...),
			"garbage_after":      append(helloTo2(ClassControl, 9), 0, 0, 0, 3, 0x10, 0xff, 0xff),
			"snapshot_in_batch":  append(helloTo2(ClassControl, 9), frame(kindBatch, batch(GroupMessage{Group: 3, Message: snap}))...),
			"local_type": append(helloTo2(ClassControl, 9), frame(kindBatch, batch(GroupMessage{Group: 1,
				Message: pb.Message{Type: pb.MsgStorageAppend, From: 1, To: 2}}))...),
		},
	}
}

func TestFuzzCorpusUpToDate(t *testing.T) {
	for target, seeds := range fuzzSeeds() {
		dir := filepath.Join("testdata", "fuzz", target)
		if *updateFuzzCorpus {
			require.NoError(t, os.RemoveAll(dir))
			require.NoError(t, os.MkdirAll(dir, 0o755))
			for name, data := range seeds {
				content := fmt.Sprintf("go test fuzz v1\n[]byte(%q)\n", data)
				require.NoError(t, os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644))
			}
			continue
		}
		entries, err := os.ReadDir(dir)
		require.NoError(t, err, "the seed corpus of %s is missing; run go test -run TestFuzzCorpusUpToDate -update-fuzz-corpus", target)
		require.Len(t, entries, len(seeds), "the seed corpus of %s is out of date; regenerate it", target)
	}
}
