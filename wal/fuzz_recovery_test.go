package wal_test

import (
	"encoding/binary"
	"errors"
	"hash/crc32"
	"testing"

	"github.com/pontoon-raft/raft/wal"
	"github.com/pontoon-raft/raft/wal/faultfs"
)

// FuzzRecovery opens an engine whose only segment holds arbitrary bytes,
// with an identity file naming the engine id the bytes claim. Open must
// not panic, and must either succeed or fail with ErrCorrupt; what it
// recovers must read back without error.
func FuzzRecovery(f *testing.F) {
	f.Fuzz(func(t *testing.T, seg []byte) {
		fs := faultfs.New(faultfs.Config{Seed: 1})
		if err := fs.MkdirAll(testDir); err != nil {
			t.Fatal(err)
		}
		id := uint64(1)
		if len(seg) >= 20 {
			id = binary.LittleEndian.Uint64(seg[12:])
		}
		ident := binary.LittleEndian.AppendUint64([]byte("PONTWALI"), id)
		ident = binary.LittleEndian.AppendUint32(ident, crc32.Checksum(ident, crc32.MakeTable(crc32.Castagnoli)))
		if err := fs.WriteFile(testDir+"/ENGINE", ident); err != nil {
			t.Fatal(err)
		}
		if err := fs.WriteFile(testDir+"/0000000000000001.wal", seg); err != nil {
			t.Fatal(err)
		}
		e, err := wal.Open(testDir, wal.Options{FS: fs})
		if err != nil {
			if !errors.Is(err, wal.ErrCorrupt) {
				t.Fatalf("Open: %v does not wrap ErrCorrupt", err)
			}
			return
		}
		defer e.Close()
		for _, id := range e.Groups() {
			s := e.Storage(id)
			first, _ := s.FirstIndex()
			last, _ := s.LastIndex()
			if last >= first {
				if _, err := s.Entries(first, last+1, 1<<30); err != nil {
					t.Fatalf("group %d: reading what recovery accepted: %v", id, err)
				}
			}
		}
	})
}
