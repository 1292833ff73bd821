module github.com/pontoon-raft/raft/bench/transport

go 1.23

replace github.com/pontoon-raft/raft => ../..

require (
	github.com/pontoon-raft/raft v0.0.0-00010101000000-000000000000
	github.com/stretchr/testify v1.12.1
)

require (
	github.com/gogo/protobuf v1.3.2 // indirect
	github.com/golang/protobuf v1.5.4 // indirect
	go.yaml.in/yaml/v3 v3.0.5 // indirect
	google.golang.org/protobuf v1.33.0 // indirect
)
