# Pontoon developer targets. `make test` is what CI runs (see .ci/run).

GO ?= go
GOGO_DIR = $(shell $(GO) list -m -f '{{.Dir}}' github.com/gogo/protobuf)
PROTOC_GEN = $(CURDIR)/.bin/protoc-gen-gogofast

.PHONY: test test-core test-compat test-kvstore proto lint sim bench-compare bench-catchup bench-wal wal-sweep

# Everything: the library (with the fuzz seed corpora), the etcd/raft
# comparison modules and the kvstore example (a 20 s end-to-end run).
test: test-core test-compat test-kvstore

test-core:
	$(GO) test -race ./...

# compat/ and compat/v37 are separate modules (they depend on etcd/raft);
# -count=1 because their API check reads our sources, which Go's test cache
# does not track.
test-compat:
	cd compat && $(GO) vet ./... && $(GO) test -count=1 ./...
	cd compat/v37 && $(GO) vet ./... && $(GO) test -count=1 ./...

# examples/kvstore is its own module (Pebble, Prometheus).
test-kvstore:
	cd examples/kvstore && $(GO) vet ./... && KVSTORE_E2E_SECONDS=$${KVSTORE_E2E_SECONDS:-20} $(GO) test -race -count=1 ./...

# A larger simulator sweep than CI runs: 100,000 seeds on 5 nodes, every fault,
# nodes with and without AsyncStorageWrites, safe and lease reads.
sim:
	$(GO) run ./raftsim/cmd/raftsim -nodes 5 -seeds 100000 -steps 2000 -faults all -async random -readonly random

# Side-by-side benchmarks against etcd/raft (about 10 minutes on 2 cores):
# refreshes the machine and the table in BENCHMARKS.md, docs/bench-results.json
# and the two charts. See BENCHMARKS.md for the method.
bench-compare:
	mkdir -p docs
	cd compat && $(GO) run ./cmd/benchcompare -json ../docs/bench-results.json \
		-update ../BENCHMARKS.md -revision "$$(git describe --always --dirty)"
	cd compat && $(GO) run ./cmd/benchchart -in ../docs/bench-results.json -out ../docs/bench-throughput.svg -metric wall
	cd compat && $(GO) run ./cmd/benchchart -in ../docs/bench-results.json -out ../docs/bench-throughput-cpu.svg -metric cpu

lint:
	@out=$$(gofmt -l $$(git ls-files '*.go')); test -z "$$out" || { echo "gofmt: $$out"; exit 1; }
	$(GO) vet ./...

# Regenerate raftpb/raft.pb.go from raftpb/raft.proto with Debian's protoc and
# gogo's protoc-gen-gogofast, built from the gogo/protobuf version in go.mod.
# gogofast registers the types in gogo's own registry under the proto package
# pontoon.raftpb, so they never clash with etcd's raftpb in one binary.
proto: $(PROTOC_GEN)
	@command -v protoc >/dev/null || { \
		echo "protoc not found; installing Debian's protobuf-compiler"; \
		apt-get update -qq && apt-get install -y -qq protobuf-compiler; }
	protoc --plugin=protoc-gen-gogofast=$(PROTOC_GEN) \
		-I . -I $(GOGO_DIR) -I $(GOGO_DIR)/protobuf -I /usr/include \
		--gogofast_out=paths=source_relative,Mgogoproto/gogo.proto=github.com/gogo/protobuf/gogoproto:. \
		raftpb/raft.proto
	gofmt -w raftpb/raft.pb.go

$(PROTOC_GEN): go.mod
	$(GO) mod download github.com/gogo/protobuf
	GOBIN=$(CURDIR)/.bin $(GO) install github.com/gogo/protobuf/protoc-gen-gogofast

# Catching up a follower 100,000 entries behind, with and without compaction.
bench-catchup:
	$(GO) test -run '^$$' -bench CatchUp -benchmem -count 3 .

# The storage engines side by side, fsync on (bench/wal, a module of its
# own): Pontoon's wal, etcd's WAL, raft-boltdb and Pebble, 1/16/256 writers,
# 128 B and 4 KiB entries, then recovery of 1 GiB of log. About 10 minutes;
# `make bench-wal QUICK=1` takes about 2. See BENCHMARKS.md, "Storage engine
# (wal)". Go benchmarks of the engine alone:
#   go test -run '^$$' -bench . -benchmem ./wal
bench-wal:
	cd bench/wal && $(GO) run . $(if $(QUICK),-quick)

# A larger crash/fault sweep of the wal engine than `go test` runs.
wal-sweep:
	WAL_SEEDS=$${WAL_SEEDS:-20000} $(GO) test -run TestCrashSweep -count=1 -v -timeout 60m ./wal
