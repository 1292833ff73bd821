package wire

import (
	"fmt"

	epb "go.etcd.io/raft/v3/raftpb"

	pb "github.com/pontoon-raft/raft/raftpb"
)

// marshaler is what both generated packages provide.
type marshaler interface{ Marshal() ([]byte, error) }

// unmarshaler is what both generated packages provide on pointers.
type unmarshaler interface{ Unmarshal([]byte) error }

// recode encodes from and decodes the bytes into to.
func recode(from marshaler, to unmarshaler) error {
	b, err := from.Marshal()
	if err != nil {
		return fmt.Errorf("wire: encoding %T: %w", from, err)
	}
	if err := to.Unmarshal(b); err != nil {
		return fmt.Errorf("wire: decoding %T: %w", to, err)
	}
	return nil
}

// RecodeMessageToEtcd encodes m with Pontoon's encoder and decodes the
// bytes with etcd's decoder.
func RecodeMessageToEtcd(m pb.Message) (epb.Message, error) {
	var out epb.Message
	err := recode(&m, &out)
	return out, err
}

// RecodeMessageFromEtcd encodes m with etcd's encoder and decodes the bytes
// with Pontoon's decoder.
func RecodeMessageFromEtcd(m epb.Message) (pb.Message, error) {
	var out pb.Message
	err := recode(&m, &out)
	return out, err
}

// RecodeEntriesToEtcd recodes each entry; nil stays nil.
func RecodeEntriesToEtcd(ents []pb.Entry) ([]epb.Entry, error) {
	if ents == nil {
		return nil, nil
	}
	out := make([]epb.Entry, len(ents))
	for i := range ents {
		if err := recode(&ents[i], &out[i]); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// RecodeEntriesFromEtcd recodes each entry; nil stays nil.
func RecodeEntriesFromEtcd(ents []epb.Entry) ([]pb.Entry, error) {
	if ents == nil {
		return nil, nil
	}
	out := make([]pb.Entry, len(ents))
	for i := range ents {
		if err := recode(&ents[i], &out[i]); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// RecodeSnapshotToEtcd recodes a snapshot with its metadata and data.
func RecodeSnapshotToEtcd(s pb.Snapshot) (epb.Snapshot, error) {
	var out epb.Snapshot
	err := recode(&s, &out)
	return out, err
}

// RecodeSnapshotFromEtcd recodes a snapshot with its metadata and data.
func RecodeSnapshotFromEtcd(s epb.Snapshot) (pb.Snapshot, error) {
	var out pb.Snapshot
	err := recode(&s, &out)
	return out, err
}

// RecodeHardStateToEtcd recodes a HardState.
func RecodeHardStateToEtcd(hs pb.HardState) (epb.HardState, error) {
	var out epb.HardState
	err := recode(&hs, &out)
	return out, err
}

// RecodeHardStateFromEtcd recodes a HardState.
func RecodeHardStateFromEtcd(hs epb.HardState) (pb.HardState, error) {
	var out pb.HardState
	err := recode(&hs, &out)
	return out, err
}

// RecodeConfStateToEtcd recodes a ConfState.
func RecodeConfStateToEtcd(cs pb.ConfState) (epb.ConfState, error) {
	var out epb.ConfState
	err := recode(&cs, &out)
	return out, err
}

// RecodeConfStateFromEtcd recodes a ConfState.
func RecodeConfStateFromEtcd(cs epb.ConfState) (pb.ConfState, error) {
	var out pb.ConfState
	err := recode(&cs, &out)
	return out, err
}
