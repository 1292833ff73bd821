package raft

import (
	"context"
	"fmt"
	"io"
	"log"
	"log/slog"
	"os"
	"runtime"
	"sync"
	"time"
)

// Logger is what the library logs through. Fatal and Panic variants must not
// return (they exit or panic); the library calls them only for broken
// invariants.
type Logger interface {
	Debug(v ...interface{})
	Debugf(format string, v ...interface{})
	Error(v ...interface{})
	Errorf(format string, v ...interface{})
	Info(v ...interface{})
	Infof(format string, v ...interface{})
	Warning(v ...interface{})
	Warningf(format string, v ...interface{})
	Fatal(v ...interface{})
	Fatalf(format string, v ...interface{})
	Panic(v ...interface{})
	Panicf(format string, v ...interface{})
}

var (
	defaultLogger = &DefaultLogger{Logger: log.New(os.Stderr, "raft", log.LstdFlags)}
	discardLogger = &DefaultLogger{Logger: log.New(io.Discard, "", 0)}

	loggerMu   sync.Mutex
	raftLogger Logger = defaultLogger
)

// SetLogger replaces the package-wide logger used by nodes whose Config has
// no Logger. It is safe for concurrent use.
func SetLogger(l Logger) {
	loggerMu.Lock()
	raftLogger = l
	loggerMu.Unlock()
}

// ResetDefaultLogger restores the package-wide logger to the default, which
// writes to standard error with the prefix "raft".
func ResetDefaultLogger() { SetLogger(defaultLogger) }

func getLogger() Logger {
	loggerMu.Lock()
	defer loggerMu.Unlock()
	return raftLogger
}

// DefaultLogger is a Logger over the standard library's log.Logger. Debug
// output is off until EnableDebug is called.
type DefaultLogger struct {
	*log.Logger
	debug bool
}

// EnableTimestamps makes every line start with the date and time.
func (l *DefaultLogger) EnableTimestamps() {
	l.SetFlags(l.Flags() | log.Ldate | log.Ltime)
}

// EnableDebug turns on Debug and Debugf output.
func (l *DefaultLogger) EnableDebug() { l.debug = true }

func (l *DefaultLogger) emit(level string, msg string) {
	_ = l.Output(3, level+": "+msg)
}

// Debug logs at debug level when debug output is enabled.
func (l *DefaultLogger) Debug(v ...interface{}) {
	if l.debug {
		l.emit("DEBUG", fmt.Sprint(v...))
	}
}

// Debugf logs a formatted line at debug level when debug output is enabled.
func (l *DefaultLogger) Debugf(format string, v ...interface{}) {
	if l.debug {
		l.emit("DEBUG", fmt.Sprintf(format, v...))
	}
}

// Info logs at info level.
func (l *DefaultLogger) Info(v ...interface{}) { l.emit("INFO", fmt.Sprint(v...)) }

// Infof logs a formatted line at info level.
func (l *DefaultLogger) Infof(format string, v ...interface{}) {
	l.emit("INFO", fmt.Sprintf(format, v...))
}

// Warning logs at warning level.
func (l *DefaultLogger) Warning(v ...interface{}) { l.emit("WARN", fmt.Sprint(v...)) }

// Warningf logs a formatted line at warning level.
func (l *DefaultLogger) Warningf(format string, v ...interface{}) {
	l.emit("WARN", fmt.Sprintf(format, v...))
}

// Error logs at error level.
func (l *DefaultLogger) Error(v ...interface{}) { l.emit("ERROR", fmt.Sprint(v...)) }

// Errorf logs a formatted line at error level.
func (l *DefaultLogger) Errorf(format string, v ...interface{}) {
	l.emit("ERROR", fmt.Sprintf(format, v...))
}

// Fatal logs at fatal level and exits the process with status 1.
func (l *DefaultLogger) Fatal(v ...interface{}) {
	l.emit("FATAL", fmt.Sprint(v...))
	os.Exit(1)
}

// Fatalf logs a formatted line at fatal level and exits with status 1.
func (l *DefaultLogger) Fatalf(format string, v ...interface{}) {
	l.emit("FATAL", fmt.Sprintf(format, v...))
	os.Exit(1)
}

// Panic logs at panic level and panics with the message.
func (l *DefaultLogger) Panic(v ...interface{}) {
	msg := fmt.Sprint(v...)
	l.emit("PANIC", msg)
	panic(msg)
}

// Panicf logs a formatted line at panic level and panics with it.
func (l *DefaultLogger) Panicf(format string, v ...interface{}) {
	msg := fmt.Sprintf(format, v...)
	l.emit("PANIC", msg)
	panic(msg)
}

// SlogLogger adapts a *slog.Logger to the Logger interface. Fatal exits the
// process after logging; Panic panics after logging. Both log at error level.
type SlogLogger struct {
	L *slog.Logger
}

// NewSlogLogger returns a Logger writing through l.
func NewSlogLogger(l *slog.Logger) *SlogLogger { return &SlogLogger{L: l} }

// log emits msg at level. The record names the caller of the exported
// method as its source (what slog.Logger.Log would name is this adapter),
// and carries the wall-clock time, as slog.Logger.Log would; the state
// machine itself never reads the clock.
func (s *SlogLogger) log(level slog.Level, msg string) {
	ctx := context.Background()
	h := s.L.Handler()
	if !h.Enabled(ctx, level) {
		return
	}
	var pcs [1]uintptr
	// Skip runtime.Callers, log and the exported method.
	runtime.Callers(3, pcs[:])
	_ = h.Handle(ctx, slog.NewRecord(time.Now(), level, msg, pcs[0]))
}

// Debug logs at slog.LevelDebug.
func (s *SlogLogger) Debug(v ...interface{}) { s.log(slog.LevelDebug, fmt.Sprint(v...)) }

// Debugf logs a formatted message at slog.LevelDebug.
func (s *SlogLogger) Debugf(format string, v ...interface{}) {
	s.log(slog.LevelDebug, fmt.Sprintf(format, v...))
}

// Info logs at slog.LevelInfo.
func (s *SlogLogger) Info(v ...interface{}) { s.log(slog.LevelInfo, fmt.Sprint(v...)) }

// Infof logs a formatted message at slog.LevelInfo.
func (s *SlogLogger) Infof(format string, v ...interface{}) {
	s.log(slog.LevelInfo, fmt.Sprintf(format, v...))
}

// Warning logs at slog.LevelWarn.
func (s *SlogLogger) Warning(v ...interface{}) { s.log(slog.LevelWarn, fmt.Sprint(v...)) }

// Warningf logs a formatted message at slog.LevelWarn.
func (s *SlogLogger) Warningf(format string, v ...interface{}) {
	s.log(slog.LevelWarn, fmt.Sprintf(format, v...))
}

// Error logs at slog.LevelError.
func (s *SlogLogger) Error(v ...interface{}) { s.log(slog.LevelError, fmt.Sprint(v...)) }

// Errorf logs a formatted message at slog.LevelError.
func (s *SlogLogger) Errorf(format string, v ...interface{}) {
	s.log(slog.LevelError, fmt.Sprintf(format, v...))
}

// Fatal logs at slog.LevelError and exits the process with status 1.
func (s *SlogLogger) Fatal(v ...interface{}) {
	s.log(slog.LevelError, fmt.Sprint(v...))
	os.Exit(1)
}

// Fatalf logs a formatted message at slog.LevelError and exits with status 1.
func (s *SlogLogger) Fatalf(format string, v ...interface{}) {
	s.log(slog.LevelError, fmt.Sprintf(format, v...))
	os.Exit(1)
}

// Panic logs at slog.LevelError and panics with the message.
func (s *SlogLogger) Panic(v ...interface{}) {
	msg := fmt.Sprint(v...)
	s.log(slog.LevelError, msg)
	panic(msg)
}

// Panicf logs a formatted message at slog.LevelError and panics with it.
func (s *SlogLogger) Panicf(format string, v ...interface{}) {
	msg := fmt.Sprintf(format, v...)
	s.log(slog.LevelError, msg)
	panic(msg)
}
