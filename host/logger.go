package host

import (
	"fmt"

	"github.com/pontoon-raft/raft"
)

// groupLogger prefixes a replica's log lines with its group: the core logs
// under the node ID alone, which is the same for every replica of a host.
type groupLogger struct {
	l      raft.Logger
	prefix string
}

func newGroupLogger(l raft.Logger, group uint64) raft.Logger {
	if _, discard := l.(discardLogger); discard {
		return l
	}
	return &groupLogger{l: l, prefix: fmt.Sprintf("group %d: ", group)}
}

func (g *groupLogger) Debug(v ...interface{})   { g.l.Debug(g.prefix + fmt.Sprint(v...)) }
func (g *groupLogger) Info(v ...interface{})    { g.l.Info(g.prefix + fmt.Sprint(v...)) }
func (g *groupLogger) Warning(v ...interface{}) { g.l.Warning(g.prefix + fmt.Sprint(v...)) }
func (g *groupLogger) Error(v ...interface{})   { g.l.Error(g.prefix + fmt.Sprint(v...)) }
func (g *groupLogger) Fatal(v ...interface{})   { g.l.Fatal(g.prefix + fmt.Sprint(v...)) }
func (g *groupLogger) Panic(v ...interface{})   { g.l.Panic(g.prefix + fmt.Sprint(v...)) }

func (g *groupLogger) Debugf(f string, v ...interface{})   { g.l.Debugf(g.prefix+f, v...) }
func (g *groupLogger) Infof(f string, v ...interface{})    { g.l.Infof(g.prefix+f, v...) }
func (g *groupLogger) Warningf(f string, v ...interface{}) { g.l.Warningf(g.prefix+f, v...) }
func (g *groupLogger) Errorf(f string, v ...interface{})   { g.l.Errorf(g.prefix+f, v...) }
func (g *groupLogger) Fatalf(f string, v ...interface{})   { g.l.Fatalf(g.prefix+f, v...) }
func (g *groupLogger) Panicf(f string, v ...interface{})   { g.l.Panicf(g.prefix+f, v...) }
