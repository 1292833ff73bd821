package server

import (
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/pontoon-raft/raft"
	"github.com/pontoon-raft/raft/host"
	"github.com/pontoon-raft/raft/transport"
)

// metrics are the node's Prometheus metrics. Each node has its own
// registry, so several nodes can live in one process (tests).
type metrics struct {
	registry *prometheus.Registry

	isLeader      *prometheus.GaugeVec
	term          *prometheus.GaugeVec
	commitIndex   *prometheus.GaugeVec
	appliedIndex  *prometheus.GaugeVec
	leaderChanges prometheus.Counter
	transfers     prometheus.Counter
	proposals     *prometheus.CounterVec
	proposeTime   prometheus.Histogram
	saveTime      prometheus.Histogram
	savedEntries  prometheus.Counter
	quiesced      prometheus.Gauge
	reads         *prometheus.CounterVec

	sent, received   *prometheus.CounterVec
	dropped          *prometheus.CounterVec
	rejected         *prometheus.CounterVec
	connections      *prometheus.CounterVec
	handshakeFailed  *prometheus.CounterVec
	snapshotStreams  *prometheus.CounterVec
	snapshotBytes    *prometheus.CounterVec
	unauthorizedReqs prometheus.Counter
	moves            *prometheus.CounterVec
}

// latencyBuckets span 100µs to about 3s.
var latencyBuckets = prometheus.ExponentialBuckets(0.0001, 2, 16)

func newMetrics() *metrics {
	shard := []string{"shard"}
	m := &metrics{
		registry: prometheus.NewRegistry(),
		isLeader: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "kvstore_shard_is_leader", Help: "1 if this node leads the shard."}, shard),
		term: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "kvstore_shard_term", Help: "Raft term of this node's replica of the shard."}, shard),
		commitIndex: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "kvstore_shard_commit_index", Help: "Commit index of this node's replica of the shard."}, shard),
		appliedIndex: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "kvstore_shard_applied_index", Help: "Applied index of this node's replica of the shard."}, shard),
		leaderChanges: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "kvstore_leader_changes_total", Help: "Leader changes seen by this node's replicas."}),
		transfers: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "kvstore_leadership_transfers_total", Help: "Leaderships this node handed to a shard's preferred leader."}),
		proposals: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "kvstore_proposals_total", Help: "Proposals made by this node, by outcome."}, []string{"outcome"}),
		proposeTime: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "kvstore_proposal_seconds", Help: "From proposing a command to its result on this node.", Buckets: latencyBuckets}),
		saveTime: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "kvstore_log_save_seconds", Help: "One write and fsync of the log engine (all groups).", Buckets: latencyBuckets}),
		savedEntries: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "kvstore_log_saved_entries_total", Help: "Entries written to the log engine."}),
		quiesced: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "kvstore_quiesced_shards", Help: "Replicas of this node that are quiesced."}),
		reads: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "kvstore_reads_total", Help: "Reads served, by kind and outcome."}, []string{"kind", "outcome"}),
		sent: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "kvstore_transport_messages_sent_total", Help: "Messages sent to a peer."}, []string{"peer", "class"}),
		received: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "kvstore_transport_messages_received_total", Help: "Messages received from a peer."}, []string{"peer", "class"}),
		dropped: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "kvstore_transport_messages_dropped_total", Help: "Messages to a peer not sent."}, []string{"peer", "reason"}),
		rejected: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "kvstore_transport_messages_rejected_total", Help: "Messages from a peer rejected."}, []string{"peer", "reason"}),
		connections: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "kvstore_transport_connections_total", Help: "Connections with a peer that came up or went down."}, []string{"peer", "direction", "event"}),
		handshakeFailed: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "kvstore_transport_handshake_failures_total", Help: "Connections refused in their handshake (wrong certificate, cluster or node)."}, []string{"direction"}),
		snapshotStreams: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "kvstore_transport_snapshots_total", Help: "Snapshot streams finished, by direction and outcome."}, []string{"direction", "outcome"}),
		snapshotBytes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "kvstore_transport_snapshot_bytes_total", Help: "Snapshot body bytes streamed."}, []string{"direction"}),
		unauthorizedReqs: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "kvstore_http_unauthorized_total", Help: "API requests refused for a missing or wrong token."}),
		moves: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "kvstore_mover_steps_total", Help: "Steps of the mover (replica moves, reorders, removals) on this node, by outcome."}, []string{"outcome"}),
	}
	m.registry.MustRegister(m.isLeader, m.term, m.commitIndex, m.appliedIndex, m.leaderChanges, m.transfers,
		m.proposals, m.proposeTime, m.saveTime, m.savedEntries, m.quiesced, m.reads,
		m.sent, m.received, m.dropped, m.rejected, m.connections, m.handshakeFailed,
		m.snapshotStreams, m.snapshotBytes, m.unauthorizedReqs, m.moves,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// hostObserver feeds the host's measurements into the metrics.
type hostObserver struct {
	host.NopObserver
	m *metrics
	// leaders holds the leader each group last reported, to count changes.
	mu      sync.Mutex
	leaders map[uint64]uint64
}

func shardLabel(group uint64) string {
	if group == MetaGroup {
		return "meta"
	}
	return strconv.FormatUint(group-1, 10)
}

// GroupChanged implements host.Observer.
func (o *hostObserver) GroupChanged(group uint64, s host.GroupStatus) {
	l := shardLabel(group)
	leader := 0.0
	if s.Role == raft.StateLeader {
		leader = 1
	}
	o.m.isLeader.WithLabelValues(l).Set(leader)
	o.m.term.WithLabelValues(l).Set(float64(s.Term))
	o.mu.Lock()
	changed := o.leaders[group] != s.Leader
	o.leaders[group] = s.Leader
	o.mu.Unlock()
	if changed && s.Leader != 0 {
		o.m.leaderChanges.Inc()
	}
}

// Applied implements host.Observer.
func (o *hostObserver) Applied(group, commitIndex, appliedIndex uint64) {
	l := shardLabel(group)
	o.m.commitIndex.WithLabelValues(l).Set(float64(commitIndex))
	o.m.appliedIndex.WithLabelValues(l).Set(float64(appliedIndex))
}

// ProposalDone implements host.Observer.
func (o *hostObserver) ProposalDone(_ uint64, latency time.Duration, err error) {
	if err != nil {
		o.m.proposals.WithLabelValues("failed").Inc()
		return
	}
	o.m.proposals.WithLabelValues("applied").Inc()
	o.m.proposeTime.Observe(latency.Seconds())
}

// Saved implements host.Observer.
func (o *hostObserver) Saved(_, entries int, _ int64, took time.Duration) {
	o.m.saveTime.Observe(took.Seconds())
	o.m.savedEntries.Add(float64(entries))
}

// Quiesced implements host.Observer.
func (o *hostObserver) Quiesced(count int) { o.m.quiesced.Set(float64(count)) }

// transportObserver feeds the transport's events into the metrics, and
// tells the node which peers it hears from.
type transportObserver struct {
	transport.NopObserver
	m     *metrics
	heard func(peer uint64)
}

func peerLabel(peer uint64) string { return strconv.FormatUint(peer, 10) }

// MessagesSent implements transport.Observer.
func (o *transportObserver) MessagesSent(peer uint64, c transport.Class, messages, _ int) {
	o.m.sent.WithLabelValues(peerLabel(peer), c.String()).Add(float64(messages))
}

// MessagesReceived implements transport.Observer.
func (o *transportObserver) MessagesReceived(peer uint64, c transport.Class, messages, _ int) {
	o.heard(peer)
	o.m.received.WithLabelValues(peerLabel(peer), c.String()).Add(float64(messages))
}

// MessagesDropped implements transport.Observer.
func (o *transportObserver) MessagesDropped(peer uint64, r transport.DropReason, messages int) {
	o.m.dropped.WithLabelValues(peerLabel(peer), r.String()).Add(float64(messages))
}

// MessagesRejected implements transport.Observer.
func (o *transportObserver) MessagesRejected(peer uint64, r transport.RejectReason, messages int) {
	o.m.rejected.WithLabelValues(peerLabel(peer), r.String()).Add(float64(messages))
}

// ConnectionUp implements transport.Observer.
func (o *transportObserver) ConnectionUp(peer uint64, _ transport.Class, d transport.Direction) {
	o.m.connections.WithLabelValues(peerLabel(peer), d.String(), "up").Inc()
}

// ConnectionDown implements transport.Observer.
func (o *transportObserver) ConnectionDown(peer uint64, _ transport.Class, d transport.Direction, _ error) {
	o.m.connections.WithLabelValues(peerLabel(peer), d.String(), "down").Inc()
}

// HandshakeFailed implements transport.Observer.
func (o *transportObserver) HandshakeFailed(_ uint64, d transport.Direction, _ error) {
	o.m.handshakeFailed.WithLabelValues(d.String()).Inc()
}

// SnapshotFinished implements transport.Observer.
func (o *transportObserver) SnapshotFinished(_ uint64, d transport.Direction, bytes int64, err error) {
	outcome := "ok"
	if err != nil {
		outcome = "failed"
	}
	o.m.snapshotStreams.WithLabelValues(d.String(), outcome).Inc()
	o.m.snapshotBytes.WithLabelValues(d.String()).Add(float64(bytes))
}
