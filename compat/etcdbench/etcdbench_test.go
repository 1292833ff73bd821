package main

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestParseStatCPU(t *testing.T) {
	// The command name holds a space and a parenthesis; utime is 1500 and
	// stime 250.
	stat := "4242 (etcd (x) y) S 1 4242 4242 0 -1 4194560 100 0 0 0 1500 250 0 0 20 0 12 0 300 0 0"
	got, err := parseStatCPU(stat)
	require.NoError(t, err)
	assert.Equal(t, int64(1750), got)
	for _, bad := range []string{"", "4242 etcd S 1", "4242 (etcd) S 1 2 3", "4242 (etcd) S 1 4242 4242 0 -1 4194560 100 0 0 0 x 250 0"} {
		_, err := parseStatCPU(bad)
		assert.Error(t, err, bad)
	}
}

func TestParseMetricsSumsOverLabels(t *testing.T) {
	text := `# HELP etcd_network_peer_sent_bytes_total The total number of bytes sent to peers.
# TYPE etcd_network_peer_sent_bytes_total counter
etcd_network_peer_sent_bytes_total{To="a"} 100
etcd_network_peer_sent_bytes_total{To="b"} 2.5e+02
etcd_disk_wal_fsync_duration_seconds_count 7
`
	got, err := parseMetrics(strings.NewReader(text))
	require.NoError(t, err)
	assert.Equal(t, 350.0, got["etcd_network_peer_sent_bytes_total"])
	assert.Equal(t, 7.0, got["etcd_disk_wal_fsync_duration_seconds_count"])
	_, err = parseMetrics(strings.NewReader("novalue\n"))
	assert.Error(t, err)
	_, err = parseMetrics(strings.NewReader("name notanumber\n"))
	assert.Error(t, err)
}

func TestPercentileAndMedian(t *testing.T) {
	var ds []time.Duration
	for i := 1; i <= 1000; i++ {
		ds = append(ds, time.Duration(i))
	}
	assert.Equal(t, time.Duration(500), percentile(ds, 0.5))
	assert.Equal(t, time.Duration(990), percentile(ds, 0.99))
	assert.Equal(t, time.Duration(999), percentile(ds, 0.999))
	assert.Equal(t, time.Duration(1000), percentile(ds, 1))
	assert.Equal(t, time.Duration(7), percentile([]time.Duration{7}, 0.999))
	assert.Equal(t, time.Duration(0), percentile(nil, 0.5))
	assert.Equal(t, 2.0, median([]float64{3, 1, 2}))
	assert.Equal(t, 2.5, median([]float64{4, 1, 2, 3}))
	assert.Equal(t, 0.0, median(nil))
}

func TestParseClients(t *testing.T) {
	got, err := parseClients("1, 16,128")
	require.NoError(t, err)
	assert.Equal(t, []int{1, 16, 128}, got)
	for _, bad := range []string{"", "0", "1,x", "-3"} {
		_, err := parseClients(bad)
		assert.Error(t, err, bad)
	}
}
