//go:build !pontoon_etcd_names

package raftpb

import (
	"testing"

	"github.com/golang/protobuf/proto"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
)

// TestRegisteredUnderPontoonNames: by default the types are in the global
// protobuf registry under Pontoon's proto package, so reflection-based code
// finds them and a binary can link etcd's raftpb (package raftpb) too.
func TestRegisteredUnderPontoonNames(t *testing.T) {
	for _, name := range []string{"Entry", "SnapshotMetadata", "Snapshot", "Message", "HardState",
		"ConfState", "ConfChange", "ConfChangeSingle", "ConfChangeV2"} {
		mt, err := protoregistry.GlobalTypes.FindMessageByName(protoreflect.FullName("pontoon.raftpb." + name))
		require.NoError(t, err, name)
		assert.Equal(t, protoreflect.Name(name), mt.Descriptor().Name())
		assert.NotNil(t, proto.MessageType("pontoon.raftpb."+name), name)
	}
	_, err := protoregistry.GlobalFiles.FindFileByPath("raftpb/raft.proto")
	assert.NoError(t, err)
	_, err = protoregistry.GlobalTypes.FindMessageByName("raftpb.Entry")
	assert.Error(t, err, "etcd's names are left free")
}
