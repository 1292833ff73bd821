package rafttest

import (
	"fmt"
	"strings"

	"github.com/pontoon-raft/raft"
)

// The log levels, indexes into levelNames and values of RedirectLogger.Lvl.
const (
	levelDebug = iota
	levelInfo
	levelWarn
	levelError
	levelFatal
	levelNone
)

// levelNames are the names the log-level command accepts (in any case) and
// the prefixes of logged lines.
var levelNames = [...]string{"DEBUG", "INFO", "WARN", "ERROR", "FATAL", "NONE"}

// RedirectLogger is the raft.Logger of every node of an InteractionEnv and
// the environment's output buffer: log lines and the commands' output are
// written into the same strings.Builder, in the order they happen. Each log
// line starts with its level name ("INFO ", "DEBUG ", ...).
//
// Lvl filters: 0 (DEBUG) shows everything, 1 INFO and above, 2 WARN and
// above, 3 ERROR and above, 4 FATAL only, and 5 (NONE) silences all output,
// the commands' own included. The Panic and Fatal methods log and then
// panic.
type RedirectLogger struct {
	*strings.Builder
	Lvl int // lowest level written: DEBUG 0, INFO 1, WARN 2, ERROR 3, FATAL 4; NONE 5 writes nothing
}

var _ raft.Logger = (*RedirectLogger)(nil)

// logf writes one line at level lvl if Lvl lets it through.
func (l *RedirectLogger) logf(lvl int, format string, args ...interface{}) {
	l.logLine(lvl, fmt.Sprintf(format, args...))
}

// log writes one line at level lvl, formatted like fmt.Sprintln.
func (l *RedirectLogger) log(lvl int, args ...interface{}) {
	l.logLine(lvl, strings.TrimSuffix(fmt.Sprintln(args...), "\n"))
}

func (l *RedirectLogger) logLine(lvl int, msg string) {
	if lvl < l.Lvl {
		return
	}
	l.WriteString(levelNames[lvl])
	l.WriteByte(' ')
	l.WriteString(msg)
	if !strings.HasSuffix(msg, "\n") {
		l.WriteByte('\n')
	}
}

// Debug logs at DEBUG level.
func (l *RedirectLogger) Debug(v ...interface{}) { l.log(levelDebug, v...) }

// Debugf logs at DEBUG level.
func (l *RedirectLogger) Debugf(format string, v ...interface{}) { l.logf(levelDebug, format, v...) }

// Info logs at INFO level.
func (l *RedirectLogger) Info(v ...interface{}) { l.log(levelInfo, v...) }

// Infof logs at INFO level.
func (l *RedirectLogger) Infof(format string, v ...interface{}) { l.logf(levelInfo, format, v...) }

// Warning logs at WARN level.
func (l *RedirectLogger) Warning(v ...interface{}) { l.log(levelWarn, v...) }

// Warningf logs at WARN level.
func (l *RedirectLogger) Warningf(format string, v ...interface{}) { l.logf(levelWarn, format, v...) }

// Error logs at ERROR level.
func (l *RedirectLogger) Error(v ...interface{}) { l.log(levelError, v...) }

// Errorf logs at ERROR level.
func (l *RedirectLogger) Errorf(format string, v ...interface{}) { l.logf(levelError, format, v...) }

// Fatal logs at FATAL level and panics with the message.
func (l *RedirectLogger) Fatal(v ...interface{}) {
	l.log(levelFatal, v...)
	panic(fmt.Sprint(v...))
}

// Fatalf logs at FATAL level and panics with the message.
func (l *RedirectLogger) Fatalf(format string, v ...interface{}) {
	l.logf(levelFatal, format, v...)
	panic(fmt.Sprintf(format, v...))
}

// Panic logs at FATAL level and panics with the message.
func (l *RedirectLogger) Panic(v ...interface{}) {
	l.log(levelFatal, v...)
	panic(fmt.Sprint(v...))
}

// Panicf logs at FATAL level and panics with the message.
func (l *RedirectLogger) Panicf(format string, v ...interface{}) {
	l.logf(levelFatal, format, v...)
	panic(fmt.Sprintf(format, v...))
}

// Quiet reports whether the level is NONE, which silences every write.
func (l *RedirectLogger) Quiet() bool { return l.Lvl == levelNone }

// Write appends p to the buffer unless the logger is Quiet, in which case
// it reports zero bytes written and no error.
func (l *RedirectLogger) Write(p []byte) (int, error) {
	if l.Quiet() {
		return 0, nil
	}
	return l.Builder.Write(p)
}

// WriteByte appends c to the buffer unless the logger is Quiet.
func (l *RedirectLogger) WriteByte(c byte) error {
	if l.Quiet() {
		return nil
	}
	return l.Builder.WriteByte(c)
}

// WriteRune appends r to the buffer unless the logger is Quiet, in which
// case it reports zero bytes written.
func (l *RedirectLogger) WriteRune(r rune) (int, error) {
	if l.Quiet() {
		return 0, nil
	}
	return l.Builder.WriteRune(r)
}

// WriteString appends s to the buffer unless the logger is Quiet, in which
// case it reports zero bytes written.
func (l *RedirectLogger) WriteString(s string) (int, error) {
	if l.Quiet() {
		return 0, nil
	}
	return l.Builder.WriteString(s)
}

// setLevel sets Lvl from a level name, in any case.
func (l *RedirectLogger) setLevel(name string) error {
	for lvl, n := range levelNames {
		if strings.EqualFold(n, name) {
			l.Lvl = lvl
			return nil
		}
	}
	return fmt.Errorf("unknown log level %q: want one of %s", name, strings.Join(levelNames[:], ", "))
}
