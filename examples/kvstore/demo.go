package main

import (
	"context"
	"flag"
	"fmt"
	"net/http"
	"os"
	"time"
)

// demo starts a 3-node cluster of child processes on loopback, writes and
// reads keys, kills the leader with SIGKILL, shows the new leader and that
// no acknowledged write was lost, then restarts the old leader and shows it
// catching up.
func demo(args []string) error {
	fs := flag.NewFlagSet("demo", flag.ExitOnError)
	keep := fs.Bool("keep", false, "keep the data directories and logs")
	if err := fs.Parse(args); err != nil {
		return err
	}
	bin, err := os.Executable()
	if err != nil {
		return err
	}
	dir, err := os.MkdirTemp("", "kvstore-demo-")
	if err != nil {
		return err
	}
	if *keep {
		defer fmt.Printf("data and logs kept in %s\n", dir)
	} else {
		defer os.RemoveAll(dir)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()

	start := time.Now()
	say := func(format string, args ...interface{}) {
		fmt.Printf("[%6.2fs] %s\n", time.Since(start).Seconds(), fmt.Sprintf(format, args...))
	}
	c, err := newCluster(bin, dir, 3, "--tick", "50ms", "--snapshot-entries", "50", "--snapshot-catchup", "10")
	if err != nil {
		return err
	}
	defer c.stopAll()
	for _, id := range c.ids {
		if err := c.start(ctx, id); err != nil {
			return err
		}
		say("node %d started on %s (data in %s/node%d)", id, c.addrs[id], dir, id)
	}
	lead, term, err := c.waitLeader(ctx)
	if err != nil {
		return err
	}
	say("node %d elected leader in term %d", lead, term)

	acked := map[string]string{}
	write := func(through uint64, from, to int, round string) error {
		t0 := time.Now()
		for i := from; i < to; i++ {
			key, value := fmt.Sprintf("key-%03d", i), fmt.Sprintf("%s-value-%d", round, i)
			code, err := c.put(ctx, through, key, value)
			if err != nil || code != http.StatusNoContent {
				return fmt.Errorf("PUT %s through node %d: HTTP %d, %v", key, through, code, err)
			}
			acked[key] = value
		}
		say("wrote %d keys through node %d in %v (%.1f ms per write, fsync on)", to-from, through,
			time.Since(t0).Round(time.Millisecond), float64(time.Since(t0).Microseconds())/float64(to-from)/1000)
		return nil
	}
	follower := other(c.ids, lead)
	if err := write(lead, 0, 40, "first"); err != nil {
		return err
	}
	if err := write(follower, 40, 60, "first"); err != nil {
		return err
	}
	say("  (writes to follower %d are forwarded to the leader by raft and answered once applied on node %d)", follower, follower)
	t0 := time.Now()
	v, _, err := c.get(ctx, follower, "key-007", false)
	if err != nil {
		return err
	}
	say("linearizable GET key-007 on follower %d = %q (ReadIndex, %v)", follower, v, time.Since(t0).Round(time.Microsecond))

	say("SIGKILL leader node %d", lead)
	killed := lead
	t0 = time.Now()
	c.kill(killed)
	lead, term, err = c.waitLeader(ctx)
	if err != nil {
		return err
	}
	say("node %d elected leader in term %d, %v after the crash", lead, term, time.Since(t0).Round(time.Millisecond))
	if err := write(lead, 60, 80, "second"); err != nil {
		return err
	}

	t0 = time.Now()
	for key, want := range acked {
		got, code, err := c.get(ctx, lead, key, false)
		if err != nil || code != http.StatusOK || got != want {
			return fmt.Errorf("acknowledged write %s=%q lost: got %q (HTTP %d, %v)", key, want, got, code, err)
		}
	}
	say("all %d acknowledged writes read back linearizably from node %d (%v)", len(acked), lead, time.Since(t0).Round(time.Millisecond))

	ls, err := c.status(ctx, lead)
	if err != nil {
		return err
	}
	say("restarting node %d; the leader's commit index is %d", killed, ls.Commit)
	t0 = time.Now()
	if err := c.start(ctx, killed); err != nil {
		return err
	}
	if err := c.waitCaughtUp(ctx, killed, ls.Commit); err != nil {
		return err
	}
	ks, err := c.status(ctx, killed)
	if err != nil {
		return err
	}
	say("node %d recovered from its disk and caught up to index %d in %v, following node %d",
		killed, ks.Applied, time.Since(t0).Round(time.Millisecond), ks.Lead)
	v, _, err = c.get(ctx, killed, "key-079", true)
	if err != nil {
		return err
	}
	say("stale GET key-079 on node %d = %q (written while it was down)", killed, v)
	say("demo finished: no acknowledged write was lost")
	return nil
}

// other returns a member of ids that is not id.
func other(ids []uint64, id uint64) uint64 {
	for _, x := range ids {
		if x != id {
			return x
		}
	}
	return 0
}
