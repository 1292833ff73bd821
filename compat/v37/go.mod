module github.com/pontoon-raft/raft/compat/v37

go 1.26

replace github.com/pontoon-raft/raft => ../../

require (
	github.com/pontoon-raft/raft v0.0.0-00010101000000-000000000000
	github.com/stretchr/testify v1.12.1
	go.etcd.io/raft/v3 v3.7.0
	google.golang.org/protobuf v1.36.12
)

require (
	github.com/gogo/protobuf v1.3.2 // indirect
	github.com/golang/protobuf v1.5.4 // indirect
	go.yaml.in/yaml/v3 v3.0.5 // indirect
)
