# Pontoon developer targets. `make test` is what CI runs (see .ci/run).

GO ?= go
SHELL := bash
.SHELLFLAGS := -o pipefail -ec
# Test output goes through internal/testprogress: a line per package started
# and finished, the packages still running every 20 s, failures in full.
PROGRESS = $(CURDIR)/.bin/testprogress
GOGO_DIR = $(shell $(GO) list -m -f '{{.Dir}}' github.com/gogo/protobuf)
PROTOC_GEN = $(CURDIR)/.bin/protoc-gen-gofast

.PHONY: test test-core test-compat test-kvstore demo proto lint sim bench-compare bench-catchup bench-transport bench-wal bench-host wal-sweep etcd-on-pontoon etcd-bench

# Everything: the library (with the fuzz seed corpora), the etcd/raft
# comparison modules and the kvstore example (a 20 s end-to-end run, and
# about 35 s of nodes joining and leaving, with faults and without).
test: test-core test-compat test-kvstore

test-core: $(PROGRESS)
	@echo "== the library and raftsim (its own module), with -race (about 6 minutes on 2 cores)"
	$(GO) test -race -json ./... | $(PROGRESS)
	$(GO) test -race -json -tags pontoon_etcd_names ./raftpb/ | $(PROGRESS)
	cd raftsim && $(GO) vet ./... && $(GO) test -race -json ./... | $(PROGRESS)

# compat/ and compat/v37 are separate modules (they depend on etcd/raft);
# -count=1 because their API check reads our sources, which Go's test cache
# does not track.
test-compat: $(PROGRESS)
	@echo "== compat/: against etcd/raft v3.6 and v3.7 (about a minute)"
	cd compat && $(GO) vet ./... && $(GO) test -count=1 -json ./... | $(PROGRESS)
	cd compat/v37 && $(GO) vet ./... && $(GO) test -count=1 -json ./... | $(PROGRESS)

# examples/kvstore is its own module (Pebble, Prometheus).
test-kvstore: $(PROGRESS)
	@echo "== examples/kvstore: unit tests, a $${KVSTORE_E2E_SECONDS:-20} s end-to-end run and about 35 s of replica moves (the first build compiles Pebble)"
	cd examples/kvstore && $(GO) vet ./... && KVSTORE_E2E_SECONDS=$${KVSTORE_E2E_SECONDS:-20} $(GO) test -race -count=1 -json ./... | $(PROGRESS)

$(PROGRESS): internal/testprogress/main.go
	$(GO) build -o $@ ./internal/testprogress

# The README's demo: build examples/kvstore with a line per compiled package
# (the first build compiles Pebble, about a minute on 2 cores), then run it.
demo:
	@echo "== building examples/kvstore"
	cd examples/kvstore && $(GO) build -v -o $(CURDIR)/.bin/kvstore . 2>&1 | awk '/^[^ :]+$$/ { n++; print "   compiled " n ": " $$0; next } { print }'
	@echo "== running the demo"
	cd examples/kvstore && $(CURDIR)/.bin/kvstore demo

# Larger simulator sweeps than CI runs: 100,000 seeds on 5 nodes, every fault
# and entry point, nodes with and without AsyncStorageWrites, safe and lease
# reads (15 to 30 minutes on 2 cores); then 10,000 seeds of whole hosts
# (package host on wal and the in-memory transport: crashes inside writes,
# failed fsyncs, partitions, clock drift, replica moves; about 50 minutes);
# then 10,000 seeds of nodes on the log engine (-storage wal: torn writes,
# bit flips, failed fsyncs, ENOSPC; about 3 minutes of CPU), and 1,000 ten
# times longer, in which the engines fill and rotate segments (about 4).
# Each prints progress every 10%.
sim:
	cd raftsim && $(GO) run ./cmd/raftsim -nodes 5 -seeds 100000 -steps 2000 -faults all -async random -readonly random
	cd raftsim && $(GO) run ./cmd/raftsim -nodes 5 -seeds 10000 -steps 2000 -faults all -async random -readonly random -storage wal
	cd raftsim && $(GO) run ./cmd/raftsim -nodes 5 -seeds 1000 -steps 20000 -faults all -async random -readonly random -storage wal
	cd raftsim && $(GO) run ./cmd/raftsim hosts -seeds 10000

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
	cd raftsim && $(GO) vet ./...

# Regenerate raftpb/raft.pb.go from raftpb/raft.proto with Debian's protoc and
# gogo's protoc-gen-gofast, built from the gogo/protobuf version in go.mod: the
# generator etcd/raft uses. Its code runs on github.com/golang/protobuf, so the
# types print with etcd's String() text and are registered in the global
# protobuf registry, under the proto package pontoon.raftpb so that they never
# clash with etcd's raftpb in one binary; with the pontoon_etcd_names build tag,
# under etcd's names instead (for builds that replace go.etcd.io/raft/v3 by
# Pontoon), see internal/protoregsplit.
proto: $(PROTOC_GEN)
	@command -v protoc >/dev/null || { \
		echo "protoc not found; installing Debian's protobuf-compiler"; \
		apt-get update -qq && apt-get install -y -qq protobuf-compiler; }
	protoc --plugin=protoc-gen-gofast=$(PROTOC_GEN) \
		-I . -I $(GOGO_DIR) -I $(GOGO_DIR)/protobuf -I /usr/include \
		--gofast_out=paths=source_relative,Mgogoproto/gogo.proto=github.com/gogo/protobuf/gogoproto:. \
		raftpb/raft.proto
	@# The same under etcd's names (package raftpb, file raft.proto), for the
	@# registration that the pontoon_etcd_names build tag selects.
	rm -rf .bin/proto-etcd && mkdir -p .bin/proto-etcd
	sed 's/^package pontoon.raftpb;/package raftpb;/' raftpb/raft.proto > .bin/proto-etcd/raft.proto
	protoc --plugin=protoc-gen-gofast=$(PROTOC_GEN) \
		-I .bin/proto-etcd -I $(GOGO_DIR) -I $(GOGO_DIR)/protobuf -I /usr/include \
		--gofast_out=paths=source_relative,Mgogoproto/gogo.proto=github.com/gogo/protobuf/gogoproto:.bin/proto-etcd \
		.bin/proto-etcd/raft.proto
	$(GO) run ./internal/protoregsplit -pb raftpb/raft.pb.go -etcd .bin/proto-etcd/raft.pb.go \
		-out-default raftpb/registry_pontoon.pb.go -out-etcd raftpb/registry_etcd.pb.go -tag pontoon_etcd_names
	gofmt -w raftpb/raft.pb.go raftpb/registry_pontoon.pb.go raftpb/registry_etcd.pb.go

$(PROTOC_GEN): go.mod
	$(GO) mod download github.com/gogo/protobuf
	GOBIN=$(CURDIR)/.bin $(GO) install github.com/gogo/protobuf/protoc-gen-gofast

# Catching up a follower 100,000 entries behind, with and without compaction.
bench-catchup:
	$(GO) test -run '^$$' -bench CatchUp -benchmem -count 3 .

# Package transport against the kvstore example's HTTP stream transport (a
# copy in bench/transport/baseline): two processes on loopback, 5 rounds with
# the transports alternating (about 5 minutes on 2 cores). Rewrites the
# generated tables of the Transport section of BENCHMARKS.md, then runs the
# codec's Go benchmarks.
bench-transport:
	cd bench/transport && $(GO) run . -update ../../BENCHMARKS.md
	$(GO) test -run '^$$' -bench 'EncodeBatch|DecodeBatch' -benchmem -count 5 ./transport

# etcd server v3.6.16 and its test module built on etcd/raft v3.6.0 and on
# Pontoon, the server packages that use raft and every integration package
# run on both, outcomes compared test by test (compat/cmd/etcdonpontoon).
# An hour or more on 2 cores. CI runs the bounded subset (-subset ci).
etcd-on-pontoon:
	cd compat && $(GO) run ./cmd/etcdonpontoon -json $(CURDIR)/.bin/etcd-on-pontoon.json

# etcd end to end (compat/etcdbench, a module of its own): etcd server
# v3.6.16 built on etcd/raft v3.6.0 and on Pontoon, three processes each on
# loopback with fsync, alternating runs of 1/16/128 clients (PUT, and half
# linearizable GETs), then 20 leader SIGKILLs per build. About 12 minutes on
# 2 cores (10-11 measured); the run length is ETCD_BENCH_FLAGS, e.g.
#   make etcd-bench ETCD_BENCH_FLAGS="-runs 5 -duration 20s -kills 50"
# See BENCHMARKS.md, "etcd end to end".
ETCD_BENCH_FLAGS ?=
etcd-bench:
	mkdir -p .bin
	cd compat/etcdbench && $(GO) run . -json $(CURDIR)/.bin/etcd-bench.json $(ETCD_BENCH_FLAGS)

# The storage engines side by side, fsync on (bench/wal, a module of its
# own): Pontoon's wal, etcd's WAL, raft-boltdb and Pebble, 1/16/256 writers,
# 128 B and 4 KiB entries, then recovery of 1 GiB of log. About 10 minutes;
# `make bench-wal QUICK=1` takes about 2. See BENCHMARKS.md, "Storage engine
# (wal)". Go benchmarks of the engine alone:
#   go test -run '^$$' -bench . -benchmem ./wal
bench-wal:
	cd bench/wal && $(GO) run . $(if $(QUICK),-quick)

# Package host with many groups (bench/host, a module of its own): three
# host processes on loopback over TCP with mutual TLS, fsync on. Idle
# (10,000 groups: CPU and heap per group), active (1 to 1,000 groups:
# proposals/s, fsyncs/s, CPU per proposal) and a single group against
# examples/kvstore as of KVSTORE_BASE (built from a worktree of that
# revision in .bin), 3 runs each; about 20 minutes on 2 cores. QUICK=1 runs
# each once with 1,000 idle groups. See BENCHMARKS.md, "Many groups (host)".
KVSTORE_BASE ?= 95bfdd6
bench-host:
	test -d .bin/kvstore-base || git worktree add --detach .bin/kvstore-base $(KVSTORE_BASE)
	cd .bin/kvstore-base/examples/kvstore && $(GO) build -o $(CURDIR)/.bin/kvstore-base-bin .
	cd bench/host && $(GO) run . -kvstore-bin $(CURDIR)/.bin/kvstore-base-bin \
		$(if $(QUICK),-runs 1 -idle-groups 1000 -idle-window 10s)

# A larger crash/fault sweep of the wal engine than `go test` runs.
wal-sweep:
	WAL_SEEDS=$${WAL_SEEDS:-20000} $(GO) test -run TestCrashSweep -count=1 -v -timeout 60m ./wal
