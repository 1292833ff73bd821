package main

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestParseTestJSON(t *testing.T) {
	out := strings.Join([]string{
		`{"Action":"run","Package":"p","Test":"TestA"}`,
		`{"Action":"pass","Package":"p","Test":"TestA/sub"}`,
		`{"Action":"pass","Package":"p","Test":"TestA"}`,
		`{"Action":"fail","Package":"p","Test":"TestB"}`,
		`{"Action":"skip","Package":"p","Test":"TestC"}`,
		`{"Action":"fail","Package":"p"}`,
		`{"Action":"fail","Package":"q"}`,
	}, "\n")
	got, err := parseTestJSON([]byte(out))
	require.NoError(t, err)
	assert.Equal(t, []outcome{{"p", "TestA", "pass"}, {"p", "TestB", "fail"}, {"p", "TestC", "skip"},
		{"p", "(package)", "fail"}, {"q", "(package)", "fail"}}, got)
	_, err = parseTestJSON([]byte("not json"))
	assert.Error(t, err)
}

func TestReportCountsAndRetries(t *testing.T) {
	res := results{}
	res.add(etcdRaft, []outcome{{"go.etcd.io/etcd/p", "TestA", "pass"}, {"go.etcd.io/etcd/p", "TestB", "fail"},
		{"go.etcd.io/etcd/p", "TestC", "pass"}, {"go.etcd.io/etcd/p", "TestD", "skip"}})
	res.add(pontoon, []outcome{{"go.etcd.io/etcd/p", "TestA", "pass"}, {"go.etcd.io/etcd/p", "TestB", "pass"},
		{"go.etcd.io/etcd/p", "TestC", "fail"}, {"go.etcd.io/etcd/p", "TestD", "skip"}})
	require.Equal(t, []difference{{"go.etcd.io/etcd/p", "TestB"}, {"go.etcd.io/etcd/p", "TestC"}}, res.differences())
	assert.Equal(t, 1, res.onlyOursFailed())
	// TestC passes on both when run again: a flaky test, not a difference.
	res.retried(etcdRaft, outcome{"go.etcd.io/etcd/p", "TestC", "pass"})
	res.retried(pontoon, outcome{"go.etcd.io/etcd/p", "TestC", "pass"})
	assert.Equal(t, 0, res.onlyOursFailed())
	var b strings.Builder
	report(&b, res)
	assert.Contains(t, b.String(), "| p | 4 | 2 | 0 | 0 | 1 | 1 | 1 |")
	assert.Contains(t, b.String(), "differs: p TestB: etcd-raft fail, pontoon pass")
}
