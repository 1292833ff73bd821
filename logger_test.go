package raft

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log"
	"log/slog"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	pb "github.com/pontoon-raft/raft/raftpb"
)

var (
	_ Logger = (*DefaultLogger)(nil)
	_ Logger = (*SlogLogger)(nil)
)

// slogBuffer returns a SlogLogger writing "level=X msg=Y" lines (no time)
// into the returned buffer, at the given minimum level.
func slogBuffer(level slog.Level) (*SlogLogger, *bytes.Buffer) {
	var buf bytes.Buffer
	h := slog.NewTextHandler(&buf, &slog.HandlerOptions{
		Level: level,
		ReplaceAttr: func(groups []string, a slog.Attr) slog.Attr {
			if a.Key == slog.TimeKey && len(groups) == 0 {
				return slog.Attr{}
			}
			return a
		},
	})
	return NewSlogLogger(slog.New(h)), &buf
}

// logLines splits output into lines, dropping the final newline.
func logLines(buf *bytes.Buffer) []string {
	s := strings.TrimSuffix(buf.String(), "\n")
	if s == "" {
		return nil
	}
	return strings.Split(s, "\n")
}

func TestSlogLoggerLevels(t *testing.T) {
	l, buf := slogBuffer(slog.LevelDebug)
	l.Debug("d", 1)
	l.Debugf("d%d", 2)
	l.Info("i", 1)
	l.Infof("i%d", 2)
	l.Warning("w", 1)
	l.Warningf("w%d", 2)
	l.Error("e", 1)
	l.Errorf("e%d", 2)
	assert.Equal(t, []string{
		"level=DEBUG msg=d1",
		"level=DEBUG msg=d2",
		"level=INFO msg=i1",
		"level=INFO msg=i2",
		"level=WARN msg=w1",
		"level=WARN msg=w2",
		"level=ERROR msg=e1",
		"level=ERROR msg=e2",
	}, logLines(buf))

	buf.Reset()
	assert.PanicsWithValue(t, "boom 1", func() { l.Panic("boom ", 1) })
	assert.PanicsWithValue(t, "boom 2", func() { l.Panicf("boom %d", 2) })
	assert.Equal(t, []string{`level=ERROR msg="boom 1"`, `level=ERROR msg="boom 2"`}, logLines(buf))
}

func TestSlogLoggerRespectsHandlerLevel(t *testing.T) {
	l, buf := slogBuffer(slog.LevelWarn)
	l.Debugf("hidden %d", 1)
	l.Infof("hidden %d", 2)
	l.Warningf("shown %d", 3)
	l.Errorf("shown %d", 4)
	assert.Equal(t, []string{`level=WARN msg="shown 3"`, `level=ERROR msg="shown 4"`}, logLines(buf))
}

func TestSlogLoggerForNode(t *testing.T) {
	l, buf := slogBuffer(slog.LevelInfo)
	require.Same(t, slog.Default(), NewSlogLogger(slog.Default()).L)
	cfg := testConfig(1, newTestStorage(votersConf(1), pb.HardState{}))
	cfg.Logger = l
	rn, err := NewRawNode(cfg)
	require.NoError(t, err)
	require.NoError(t, rn.Campaign())
	out := buf.String()
	assert.Contains(t, out, `level=INFO msg="newRaft 1 [peers: [1], term: 0, commit: 0, applied: 0, lastindex: 0, lastterm: 0]"`)
	assert.Contains(t, out, `level=INFO msg="1 became candidate at term 1"`)
	assert.NotContains(t, out, "DEBUG")
}

func TestDefaultLoggerLevelsAndDebug(t *testing.T) {
	var buf bytes.Buffer
	l := &DefaultLogger{Logger: log.New(&buf, "raft ", 0)}
	l.Debug("hidden")
	l.Debugf("hidden %d", 1)
	l.Info("i", 1)
	l.Infof("i%d", 2)
	l.Warning("w")
	l.Warningf("w%d", 2)
	l.Error("e")
	l.Errorf("e%d", 2)
	assert.Equal(t, []string{
		"raft INFO: i1", "raft INFO: i2",
		"raft WARN: w", "raft WARN: w2",
		"raft ERROR: e", "raft ERROR: e2",
	}, logLines(&buf))

	buf.Reset()
	l.EnableDebug()
	l.Debug("d", 1)
	l.Debugf("d%d", 2)
	assert.Equal(t, []string{"raft DEBUG: d1", "raft DEBUG: d2"}, logLines(&buf))

	buf.Reset()
	assert.PanicsWithValue(t, "p1", func() { l.Panic("p", 1) })
	assert.PanicsWithValue(t, "p2", func() { l.Panicf("p%d", 2) })
	assert.Equal(t, []string{"raft PANIC: p1", "raft PANIC: p2"}, logLines(&buf))
}

func TestDefaultLoggerReportsCallerAndTimestamps(t *testing.T) {
	var buf bytes.Buffer
	l := &DefaultLogger{Logger: log.New(&buf, "", log.Lshortfile)}
	l.EnableDebug()
	l.Info("x")
	l.Debugf("y")
	for _, line := range logLines(&buf) {
		assert.True(t, strings.HasPrefix(line, "logger_test.go:"), "caller must be the code that logs: %q", line)
	}

	l.EnableTimestamps()
	assert.Equal(t, log.Lshortfile|log.Ldate|log.Ltime, l.Flags())
	buf.Reset()
	l.Info("z")
	// "2006/01/02 15:04:05 logger_test.go:NN: INFO: z"
	line := buf.String()
	_, err := time.Parse("2006/01/02 15:04:05", line[:19])
	assert.NoError(t, err, "line %q does not start with a timestamp", line)
	assert.True(t, strings.HasSuffix(line, "INFO: z\n"), "%q", line)
}

// TestLoggerFatalExits checks in a child process that Fatal and Fatalf log
// and exit with status 1.
func TestLoggerFatalExits(t *testing.T) {
	if which := os.Getenv("RT_FATAL_LOGGER"); which != "" {
		var l Logger = &DefaultLogger{Logger: log.New(os.Stderr, "", 0)}
		if strings.HasPrefix(which, "slog") {
			l = NewSlogLogger(slog.New(slog.NewTextHandler(os.Stderr, nil)))
		}
		if strings.HasSuffix(which, "f") {
			l.Fatalf("fatal %s", which)
		} else {
			l.Fatal("fatal ", which)
		}
		return // not reached
	}
	for _, which := range []string{"default", "defaultf", "slog", "slogf"} {
		t.Run(which, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^TestLoggerFatalExits$")
			cmd.Env = append(os.Environ(), "RT_FATAL_LOGGER="+which)
			var stderr bytes.Buffer
			cmd.Stderr = &stderr
			cmd.Stdout = io.Discard
			err := cmd.Run()
			var exitErr *exec.ExitError
			require.ErrorAs(t, err, &exitErr)
			assert.Equal(t, 1, exitErr.ExitCode())
			if strings.HasPrefix(which, "slog") {
				assert.Contains(t, stderr.String(), `level=ERROR msg="fatal `+which+`"`)
			} else {
				assert.Equal(t, "FATAL: fatal "+which+"\n", stderr.String())
			}
		})
	}
}

// recordingLogger collects Infof lines.
type recordingLogger struct {
	DefaultLogger
	mu    sync.Mutex
	infos []string
}

func (l *recordingLogger) Infof(format string, v ...interface{}) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.infos = append(l.infos, format)
}

func TestSetLoggerAndResetDefaultLogger(t *testing.T) {
	defer ResetDefaultLogger()
	require.Same(t, defaultLogger, getLogger())

	rec := &recordingLogger{DefaultLogger: DefaultLogger{Logger: log.New(io.Discard, "", 0)}}
	SetLogger(rec)
	assert.Same(t, rec, getLogger())

	// A Config without a Logger picks up the package logger when it is
	// validated.
	cfg := testConfig(1, newTestStorage(votersConf(1), pb.HardState{}))
	cfg.Logger = nil
	rn, err := NewRawNode(cfg)
	require.NoError(t, err)
	assert.Same(t, rec, cfg.Logger)
	require.NoError(t, rn.Campaign())
	rec.mu.Lock()
	assert.NotEmpty(t, rec.infos)
	rec.mu.Unlock()

	// A Config with a Logger keeps it.
	cfg = testConfig(1, newTestStorage(votersConf(1), pb.HardState{}))
	_, err = NewRawNode(cfg)
	require.NoError(t, err)
	assert.Same(t, testLogger, cfg.Logger)

	ResetDefaultLogger()
	assert.Same(t, defaultLogger, getLogger())
	assert.Equal(t, "raft", defaultLogger.Prefix())
	assert.Equal(t, log.LstdFlags, defaultLogger.Flags())

	// Setting and reading the logger concurrently is safe.
	var wg sync.WaitGroup
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			if i%2 == 0 {
				SetLogger(discardLogger)
			} else {
				_ = getLogger()
			}
		}(i)
	}
	wg.Wait()
}

// TestSlogLoggerReportsCaller: with AddSource, the source attribute names
// the code that logged, not the adapter.
func TestSlogLoggerReportsCaller(t *testing.T) {
	var buf bytes.Buffer
	l := NewSlogLogger(slog.New(slog.NewJSONHandler(&buf, &slog.HandlerOptions{AddSource: true, Level: slog.LevelDebug})))
	l.Debug("a")
	l.Debugf("b")
	l.Info("c")
	l.Infof("d")
	l.Warning("e")
	l.Warningf("f")
	l.Error("g")
	l.Errorf("h")
	assert.Panics(t, func() { l.Panic("i") })
	assert.Panics(t, func() { l.Panicf("j") })
	lines := logLines(&buf)
	require.Len(t, lines, 10)
	for _, line := range lines {
		var rec struct {
			Time   string
			Msg    string
			Source struct{ File string }
		}
		require.NoError(t, json.Unmarshal([]byte(line), &rec), line)
		assert.True(t, strings.HasSuffix(rec.Source.File, "/logger_test.go"), "%s logged from %s", rec.Msg, rec.Source.File)
		assert.NotEmpty(t, rec.Time, "records keep their time")
	}

	// A handler that filters a level out is not bothered.
	buf.Reset()
	l = NewSlogLogger(slog.New(slog.NewJSONHandler(&buf, &slog.HandlerOptions{AddSource: true, Level: slog.LevelError})))
	l.Info("hidden")
	assert.Empty(t, buf.String())
}
