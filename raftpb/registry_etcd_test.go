//go:build pontoon_etcd_names

package raftpb

import (
	"testing"

	"github.com/golang/protobuf/proto"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/reflect/protodesc"
	"google.golang.org/protobuf/reflect/protoregistry"
	"google.golang.org/protobuf/types/descriptorpb"
)

// TestRegisteredUnderEtcdNames: with the pontoon_etcd_names build tag the
// types are registered as etcd's raftpb registers them (package raftpb,
// file raft.proto), so that in a build which replaces go.etcd.io/raft/v3
// by Pontoon, etcd's own protobuf files that refer to them resolve. The
// file built here refers to raftpb.ConfState as etcd's walpb.Snapshot does.
func TestRegisteredUnderEtcdNames(t *testing.T) {
	for _, name := range []string{"Entry", "Snapshot", "Message", "HardState", "ConfState", "ConfChangeV2"} {
		assert.NotNil(t, proto.MessageType("raftpb."+name), name)
	}
	str := func(s string) *string { return &s }
	num := func(n int32) *int32 { return &n }
	walLike := &descriptorpb.FileDescriptorProto{
		Name:       str("walpb/record.proto"),
		Package:    str("walpb"),
		Dependency: []string{"raft.proto"},
		MessageType: []*descriptorpb.DescriptorProto{{
			Name: str("Snapshot"),
			Field: []*descriptorpb.FieldDescriptorProto{{
				Name:     str("conf_state"),
				Number:   num(3),
				Label:    descriptorpb.FieldDescriptorProto_LABEL_OPTIONAL.Enum(),
				Type:     descriptorpb.FieldDescriptorProto_TYPE_MESSAGE.Enum(),
				TypeName: str(".raftpb.ConfState"),
			}},
		}},
	}
	fd, err := protodesc.NewFile(walLike, protoregistry.GlobalFiles)
	require.NoError(t, err, "raftpb.ConfState in raft.proto resolves")
	assert.Equal(t, "raftpb.ConfState", string(fd.Messages().Get(0).Fields().Get(0).Message().FullName()))
}
