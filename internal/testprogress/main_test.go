package main

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestReport(t *testing.T) {
	clock := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	now := func() time.Time { return clock }
	in := strings.Join([]string{
		`{"Action":"start","Package":"p/a"}`,
		`{"Action":"run","Package":"p/a","Test":"TestOK"}`,
		`{"Action":"output","Package":"p/a","Test":"TestOK","Output":"noise\n"}`,
		`{"Action":"pass","Package":"p/a","Test":"TestOK"}`,
		`{"Action":"start","Package":"p/b"}`,
		`{"Action":"run","Package":"p/b","Test":"TestBad"}`,
		`{"Action":"output","Package":"p/b","Test":"TestBad","Output":"    b_test.go:3: wrong\n"}`,
		`{"Action":"fail","Package":"p/b","Test":"TestBad"}`,
		`{"Action":"output","Package":"p/b","Output":"FAIL\n"}`,
		`{"Action":"fail","Package":"p/b","Elapsed":0.5}`,
	}, "\n")
	var out strings.Builder
	r := newReporter(&out, now)
	require.NoError(t, r.run(strings.NewReader(in)))
	clock = clock.Add(30 * time.Second)
	r.remind()
	r.handle(event{Action: "pass", Package: "p/a", Elapsed: 31})
	assert.Equal(t, "... p/a\n... p/b\n--- FAIL p/b TestBad\n    b_test.go:3: wrong\nFAIL p/b 0.5s\nFAIL\n"+
		"    still running p/a: 1 tests passed, 30s\nok   p/a 31.0s (1 tests)\n", out.String())
	assert.True(t, r.failed)
}

func TestNotJSON(t *testing.T) {
	var out strings.Builder
	r := newReporter(&out, time.Now)
	assert.Error(t, r.run(strings.NewReader("{oops\n")))
	require.NoError(t, r.run(strings.NewReader("# a build error\n")))
	assert.Contains(t, out.String(), "# a build error")
}
