module github.com/pontoon-raft/raft/compat

go 1.23

replace github.com/pontoon-raft/raft => ../

require (
	github.com/cockroachdb/datadriven v1.0.2
	github.com/pontoon-raft/raft v0.0.0-00010101000000-000000000000
	github.com/pontoon-raft/raft/raftsim v0.0.0-00010101000000-000000000000
	github.com/stretchr/testify v1.12.1
	go.etcd.io/raft/v3 v3.6.0
	golang.org/x/mod v0.3.0
)

require (
	github.com/anishathalye/porcupine v1.3.1 // indirect
	github.com/gogo/protobuf v1.3.2 // indirect
	github.com/golang/protobuf v1.5.4 // indirect
	github.com/pmezard/go-difflib v1.0.0 // indirect
	go.yaml.in/yaml/v3 v3.0.5 // indirect
	google.golang.org/protobuf v1.33.0 // indirect
)

replace github.com/pontoon-raft/raft/raftsim => ../raftsim
