package server

import (
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
)

// metrics are the node's Prometheus metrics. Each node has its own
// registry, so several nodes can live in one process.
type metrics struct {
	registry       *prometheus.Registry
	term           prometheus.Gauge
	isLeader       prometheus.Gauge
	appliedIndex   prometheus.Gauge
	leaderChanges  prometheus.Counter
	proposals      *prometheus.CounterVec
	commitLatency  prometheus.Histogram
	applyDuration  prometheus.Histogram
	readyDuration  prometheus.Histogram
	fsyncLatency   prometheus.Histogram
	snapshots      *prometheus.CounterVec
	transportDrops *prometheus.CounterVec
	reads          *prometheus.CounterVec
}

// latencyBuckets span 100µs to about 3s.
var latencyBuckets = prometheus.ExponentialBuckets(0.0001, 2, 16)

func newMetrics() *metrics {
	m := &metrics{
		registry: prometheus.NewRegistry(),
		term: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "kvstore_raft_term", Help: "Current raft term of this node."}),
		isLeader: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "kvstore_raft_is_leader", Help: "1 if this node is the leader, else 0."}),
		appliedIndex: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "kvstore_raft_applied_index", Help: "Index of the last applied log entry."}),
		leaderChanges: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "kvstore_raft_leader_changes_total", Help: "Times this node saw the leader change."}),
		proposals: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "kvstore_proposals_total", Help: "Proposals made by this node, by outcome."}, []string{"outcome"}),
		commitLatency: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "kvstore_commit_latency_seconds", Help: "From proposing a write on this node to seeing it committed.",
			Buckets: latencyBuckets}),
		applyDuration: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "kvstore_apply_duration_seconds", Help: "Time to apply the committed entries of one Ready.",
			Buckets: latencyBuckets}),
		readyDuration: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "kvstore_ready_loop_duration_seconds", Help: "Time to handle one Ready (persist, send, apply, advance).",
			Buckets: latencyBuckets}),
		fsyncLatency: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "kvstore_fsync_duration_seconds", Help: "Duration of synced Pebble batch commits.",
			Buckets: latencyBuckets}),
		snapshots: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "kvstore_snapshots_total", Help: "Snapshots created locally or installed from the leader."}, []string{"kind"}),
		transportDrops: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "kvstore_transport_queue_drops_total", Help: "Messages dropped because a peer's send queue was full."}, []string{"peer"}),
		reads: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "kvstore_reads_total", Help: "Reads served, by kind (linearizable or stale) and outcome."}, []string{"kind", "outcome"}),
	}
	m.registry.MustRegister(m.term, m.isLeader, m.appliedIndex, m.leaderChanges, m.proposals,
		m.commitLatency, m.applyDuration, m.readyDuration, m.fsyncLatency, m.snapshots,
		m.transportDrops, m.reads,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}
