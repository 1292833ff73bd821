package raft

import (
	"math"

	pb "github.com/pontoon-raft/raft/raftpb"
)

// entsSize returns the protobuf-encoded size of ents, in bytes. This is the
// measure behind MaxSizePerMsg, MaxCommittedSizePerReady and the maxSize
// argument of Storage.Entries. It must equal the size etcd/raft computes, zero
// fields included, so that both cut batches at the same entries.
func entsSize(ents []pb.Entry) uint64 {
	var sizeBytes uint64
	for i := range ents {
		sizeBytes += uint64(ents[i].Size())
	}
	return sizeBytes
}

// limitSize returns the longest prefix of ents whose encoded size does not
// exceed maxSize. The first entry is always kept, whatever its size, so that
// a limit smaller than one entry still lets the log make progress: a maxSize
// of 0 therefore means "one entry", and math.MaxUint64 means "no limit".
//
// The result shares ents' backing array.
func limitSize(ents []pb.Entry, maxSize uint64) []pb.Entry {
	if len(ents) <= 1 || maxSize == math.MaxUint64 {
		return ents
	}
	sizeBytes := uint64(ents[0].Size())
	keep := 1
	for ; keep < len(ents); keep++ {
		sizeBytes += uint64(ents[keep].Size())
		if sizeBytes > maxSize {
			break
		}
	}
	return ents[:keep]
}

// payloadSize returns the size of the entry's application payload, in bytes.
// Unlike the encoded size it ignores framing, and is what the uncommitted-size
// and inflight-bytes limits count.
func payloadSize(e pb.Entry) uint64 {
	return uint64(len(e.Data))
}

// payloadsSize returns the sum of payloadSize over ents.
func payloadsSize(ents []pb.Entry) uint64 {
	var sizeBytes uint64
	for i := range ents {
		sizeBytes += uint64(len(ents[i].Data))
	}
	return sizeBytes
}

// extend returns dst with vals appended.
//
// When dst has room for vals the append happens in place, so the caller must
// own dst's spare capacity (Storage.Entries grants that to its caller).
// Otherwise the result is a fresh array of exactly len(dst)+len(vals) entries,
// where the built-in append would both over-allocate and, more importantly,
// leave the decision of whether to copy to the runtime. The fresh array never
// aliases dst's or vals' backing arrays, so writing into it later cannot
// change a slice that was handed out earlier (for example in a Ready, whose
// slices the application may hold on to), and vice versa.
func extend(dst, vals []pb.Entry) []pb.Entry {
	if cap(dst)-len(dst) >= len(vals) {
		return append(dst, vals...)
	}
	out := make([]pb.Entry, 0, len(dst)+len(vals))
	out = append(out, dst...)
	return append(out, vals...)
}
