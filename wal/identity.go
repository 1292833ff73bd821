package wal

import (
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"io"
)

// The identity file records the engine id, so that an engine whose segment
// files have all disappeared is not mistaken for a new one, and segments of
// another engine are recognised even when they are the only ones. It holds
//
//	[0:8)   magic "PONTWALI"
//	[8:16)  engine id, little-endian
//	[16:20) CRC-32C of bytes [0:16)
const (
	identityName = "ENGINE"
	identitySize = 20
)

var identityMagic = [8]byte{'P', 'O', 'N', 'T', 'W', 'A', 'L', 'I'}

// readIdentity returns the engine id the directory's identity file holds;
// ok is false if there is no identity file.
func (e *Engine) readIdentity() (id uint64, ok bool, err error) {
	path := join(e.dir, identityName)
	f, err := e.fs.Open(path)
	if isNotExist(err) {
		return 0, false, nil
	}
	if err != nil {
		return 0, false, err
	}
	defer f.Close()
	b := make([]byte, identitySize+1)
	n, err := f.ReadAt(b, 0)
	if err != nil && err != io.EOF {
		return 0, false, err
	}
	b = b[:n]
	if n != identitySize || [8]byte(b[:8]) != identityMagic ||
		binary.LittleEndian.Uint32(b[16:]) != crc32.Checksum(b[:16], castagnoli) {
		return 0, false, corruptError(path, 0, "not a valid engine identity file")
	}
	return binary.LittleEndian.Uint64(b[8:]), true, nil
}

// writeIdentity durably writes the identity file for e.engineID.
func (e *Engine) writeIdentity() error {
	b := make([]byte, identitySize)
	copy(b, identityMagic[:])
	binary.LittleEndian.PutUint64(b[8:], e.engineID)
	binary.LittleEndian.PutUint32(b[16:], crc32.Checksum(b[:16], castagnoli))
	path := join(e.dir, identityName)
	tmp := path + tmpSuffix
	f, err := e.fs.Create(tmp)
	if err != nil {
		return err
	}
	_, err = f.WriteAt(b, 0)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = e.fs.Rename(tmp, path)
	}
	if err == nil {
		err = e.fs.SyncDir(e.dir)
	}
	if err != nil {
		return fmt.Errorf("wal: writing %s: %w", path, err)
	}
	return nil
}
