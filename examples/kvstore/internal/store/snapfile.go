package store

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	pb "github.com/pontoon-raft/raft/raftpb"
)

// snapMagic starts every snapshot file, so a file of another kind is never
// mistaken for a snapshot.
var snapMagic = []byte("PKVSNAP1")

// snapFileName names the file that holds the snapshot at term and index.
func snapFileName(term, index uint64) string {
	return fmt.Sprintf("%016x-%016x.snap", term, index)
}

// writeSnapFile writes snap durably into dir: to a temporary file first,
// fsynced, then renamed into place and the directory fsynced, so a crash
// leaves either no file or a complete one under the final name.
func writeSnapFile(dir string, snap pb.Snapshot) error {
	payload, err := snap.Marshal()
	if err != nil {
		return err
	}
	name := filepath.Join(dir, snapFileName(snap.Metadata.Term, snap.Metadata.Index))
	tmp, err := os.CreateTemp(dir, "snap-*.tmp")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name()) // a no-op once renamed
	if _, err := tmp.Write(snapMagic); err != nil {
		tmp.Close()
		return err
	}
	if _, err := tmp.Write(frame(payload)); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp.Name(), name); err != nil {
		return err
	}
	return syncDir(dir)
}

// readSnapFile reads and checks the snapshot at term and index in dir.
func readSnapFile(dir string, term, index uint64) (pb.Snapshot, error) {
	name := snapFileName(term, index)
	raw, err := os.ReadFile(filepath.Join(dir, name))
	if err != nil {
		return pb.Snapshot{}, err
	}
	if !bytes.HasPrefix(raw, snapMagic) {
		return pb.Snapshot{}, fmt.Errorf("%w: snapshot file %s: bad magic", ErrCorrupt, name)
	}
	payload, err := unframe(raw[len(snapMagic):], "snapshot file "+name)
	if err != nil {
		return pb.Snapshot{}, err
	}
	var snap pb.Snapshot
	if err := snap.Unmarshal(payload); err != nil {
		return pb.Snapshot{}, fmt.Errorf("%w: snapshot file %s: %v", ErrCorrupt, name, err)
	}
	if snap.Metadata.Term != term || snap.Metadata.Index != index {
		return pb.Snapshot{}, fmt.Errorf("%w: snapshot file %s holds term %d index %d",
			ErrCorrupt, name, snap.Metadata.Term, snap.Metadata.Index)
	}
	return snap, nil
}

// removeSnapFilesExcept deletes every snapshot or temporary file in dir but
// keep (which may be empty): older snapshots and leftovers of a crash during
// writeSnapFile.
func removeSnapFilesExcept(dir, keep string) error {
	names, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	for _, de := range names {
		n := de.Name()
		if n == keep || !(strings.HasSuffix(n, ".snap") || strings.HasSuffix(n, ".tmp")) {
			continue
		}
		if err := os.Remove(filepath.Join(dir, n)); err != nil {
			return err
		}
	}
	return nil
}

// syncDir fsyncs a directory so that a rename in it is durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}
