package main

import (
	"context"
	"fmt"
	"sync"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
)

const (
	// writers is the number of goroutines writing during failover, so
	// that a write is issued every few milliseconds even while some hang.
	writers = 8
	// writeTimeout bounds one failover write.
	writeTimeout = 300 * time.Millisecond
	// statusPoll is the interval of the survivors' Status polls.
	statusPoll = 5 * time.Millisecond
)

// killResult is what one leader kill measured.
type killResult struct {
	NewLeader    time.Duration // kill to a survivor naming a new leader
	Unavailable  time.Duration // kill to the first ack of a write issued after it
	Acknowledged int           // writes acknowledged during the round
	// TermsTaken is the new leader's term minus the killed one's: 1 when
	// the first election won.
	TermsTaken uint64
	// RestartedWon says the new leader is the member restarted after the
	// previous kill (false in the first round).
	RestartedWon bool
}

// failoverRig is a cluster under continuous writes, with the keys of every
// acknowledged write.
type failoverRig struct {
	c     *cluster
	cli   *clientv3.Client // all endpoints
	mu    sync.Mutex
	acked []string
	seq   int
	// restarted is the member killed and restarted in the previous round.
	restarted *member
}

// writeSample is one acknowledged failover write.
type writeSample struct{ issued, acked time.Time }

// killLeader kills the leader of r's cluster while writers run, measures,
// restarts the member and waits for the cluster to be whole again.
func (r *failoverRig) killLeader() (killResult, error) {
	leader, err := r.c.waitReady(r.cli, 30*time.Second)
	if err != nil {
		return killResult{}, err
	}
	var oldTerm uint64
	if st, err := status(r.cli, leader, time.Second); err == nil {
		oldTerm = st.Header.RaftTerm
	}
	stop := make(chan struct{})
	samples := make(chan writeSample, 1<<16)
	var wg sync.WaitGroup
	for i := 0; i < writers; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r.write(stop, samples)
		}()
	}
	time.Sleep(300 * time.Millisecond)
	killed := time.Now()
	leader.kill()
	newLeader, newID, newTerm, err := r.awaitNewLeader(leader, oldTerm, killed)
	if err == nil {
		// Let the writers see the new leader before stopping them.
		time.Sleep(2 * time.Second)
	}
	close(stop)
	wg.Wait()
	close(samples)
	res := killResult{NewLeader: newLeader, Unavailable: -1, TermsTaken: newTerm - oldTerm,
		RestartedWon: r.restarted != nil && newID == r.restarted.id}
	for s := range samples {
		res.Acknowledged++
		if !s.issued.Before(killed) {
			if d := s.acked.Sub(killed); res.Unavailable < 0 || d < res.Unavailable {
				res.Unavailable = d
			}
		}
	}
	if err != nil {
		return res, err
	}
	if res.Unavailable < 0 {
		return res, fmt.Errorf("%s: no write succeeded within 2s of a new leader", r.c.variant)
	}
	if err := r.c.startMember(leader); err != nil {
		return res, err
	}
	r.restarted = leader
	_, err = r.c.waitReady(r.cli, 30*time.Second)
	return res, err
}

// write issues writes of unique keys until stop is closed, recording the
// acknowledged ones.
func (r *failoverRig) write(stop chan struct{}, samples chan<- writeSample) {
	for {
		select {
		case <-stop:
			return
		default:
		}
		r.mu.Lock()
		r.seq++
		key := fmt.Sprintf("failover-%08d", r.seq)
		r.mu.Unlock()
		ctx, cancel := context.WithTimeout(context.Background(), writeTimeout)
		issued := time.Now()
		_, err := r.cli.Put(ctx, key, "v")
		cancel()
		if err != nil {
			// Unknown outcome; a failing endpoint answers at once,
			// so pace the retries.
			time.Sleep(time.Millisecond)
			continue
		}
		samples <- writeSample{issued: issued, acked: time.Now()}
		r.mu.Lock()
		r.acked = append(r.acked, key)
		r.mu.Unlock()
	}
}

// awaitNewLeader polls the survivors until one names a leader other than
// old in a later term, and returns the time since killed, the new leader's
// ID and its term.
func (r *failoverRig) awaitNewLeader(old *member, oldTerm uint64, killed time.Time) (time.Duration, uint64, uint64, error) {
	deadline := killed.Add(30 * time.Second)
	for time.Now().Before(deadline) {
		for _, m := range r.c.members {
			if m == old {
				continue
			}
			st, err := status(r.cli, m, 100*time.Millisecond)
			if err == nil && st.Leader != 0 && st.Leader != old.id && st.RaftTerm > oldTerm {
				return time.Since(killed), st.Leader, st.RaftTerm, nil
			}
		}
		time.Sleep(statusPoll)
	}
	return 0, 0, 0, fmt.Errorf("%s: no new leader 30s after the kill", r.c.variant)
}

// verify checks that every acknowledged write is in the cluster, reading
// linearizably, and returns how many were checked.
func (r *failoverRig) verify() (int, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	resp, err := r.cli.Get(ctx, "failover-", clientv3.WithPrefix(), clientv3.WithKeysOnly())
	if err != nil {
		return 0, err
	}
	present := make(map[string]bool, len(resp.Kvs))
	for _, kv := range resp.Kvs {
		present[string(kv.Key)] = true
	}
	var lost []string
	for _, k := range r.acked {
		if !present[k] {
			lost = append(lost, k)
		}
	}
	if len(lost) > 0 {
		return len(r.acked), fmt.Errorf("%s: %d acknowledged writes lost, first %s", r.c.variant, len(lost), lost[0])
	}
	return len(r.acked), nil
}
