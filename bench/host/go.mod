module github.com/pontoon-raft/raft/bench/host

go 1.26.0

replace github.com/pontoon-raft/raft => ../..

require github.com/pontoon-raft/raft v0.0.0-00010101000000-000000000000

require (
	github.com/gogo/protobuf v1.3.2 // indirect
	github.com/golang/protobuf v1.5.4 // indirect
	google.golang.org/protobuf v1.33.0 // indirect
)
