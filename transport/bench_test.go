package transport

import (
	"math/rand/v2"
	"testing"
)

// benchBatch returns n MsgApps of 128-byte entries spread over 1000 groups,
// the shape the transport benchmark sends.
func benchBatch(n int) []GroupMessage {
	r := rand.New(rand.NewPCG(1, 1))
	msgs := make([]GroupMessage, n)
	for i := range msgs {
		msgs[i] = appendMsg(1+r.Uint64N(1000), 1, 2, uint64(1000+i), 128)
	}
	return msgs
}

func BenchmarkEncodeBatch(b *testing.B) {
	for _, n := range []int{1, 8, 64} {
		b.Run(sizeName(n), func(b *testing.B) {
			msgs := benchBatch(n)
			var buf []byte
			b.ReportAllocs()
			for i := 0; i < b.N; i++ {
				var start int
				buf, start = beginFrame(buf[:0], kindBatch)
				for j := range msgs {
					buf = appendBatchMessage(buf, msgs[j].Group, &msgs[j].Message, msgs[j].Message.Size())
				}
				endFrame(buf, start)
				b.SetBytes(int64(len(buf)))
			}
		})
	}
}

func BenchmarkDecodeBatch(b *testing.B) {
	for _, n := range []int{1, 8, 64} {
		b.Run(sizeName(n), func(b *testing.B) {
			msgs := benchBatch(n)
			var payload []byte
			for j := range msgs {
				payload = appendBatchMessage(payload, msgs[j].Group, &msgs[j].Message, msgs[j].Message.Size())
			}
			var out []GroupMessage
			b.SetBytes(int64(len(payload)))
			b.ReportAllocs()
			for i := 0; i < b.N; i++ {
				var err error
				out, err = decodeBatch(payload, DefaultMaxMessageBytes, out[:0])
				if err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/msg")
		})
	}
}

func sizeName(n int) string {
	return map[int]string{1: "msgs=1", 8: "msgs=8", 64: "msgs=64"}[n]
}
