package transport

import (
	"math/rand/v2"
	"sync"
	"time"
)

// Clock is the time source of the TCP transport's reconnect backoff, so a
// test can drive reconnects without waiting. Socket deadlines always use
// the real clock.
type Clock interface {
	// Now returns the current time.
	Now() time.Time
	// After returns a channel that receives once d has passed.
	After(d time.Duration) <-chan time.Time
}

// systemClock is the real clock.
type systemClock struct{}

func (systemClock) Now() time.Time                         { return time.Now() }
func (systemClock) After(d time.Duration) <-chan time.Time { return time.After(d) }

// jitter draws uniform fractions in [0, 1) from a source shared by every
// peer, which may be the test's seeded one.
type jitter struct {
	mu sync.Mutex
	r  *rand.Rand // nil: the runtime's goroutine-safe source
}

func newJitter(src rand.Source) *jitter {
	if src == nil {
		return &jitter{}
	}
	return &jitter{r: rand.New(src)}
}

func (j *jitter) float64() float64 {
	if j.r == nil {
		return rand.Float64()
	}
	j.mu.Lock()
	defer j.mu.Unlock()
	return j.r.Float64()
}

// backoffDelay returns the wait before dial attempt number attempt+1 after
// attempt consecutive failures (attempt >= 0): the base doubles from lo up
// to hi, and the delay is drawn from [base/2, base) by fraction u in [0, 1),
// so peers that failed together do not all dial again together, and a
// peer is never dialed again sooner than lo/2.
func backoffDelay(attempt int, lo, hi time.Duration, u float64) time.Duration {
	base := lo
	for i := 0; i < attempt && base < hi; i++ {
		base *= 2
	}
	base = min(base, hi)
	half := base / 2
	return half + time.Duration(u*float64(base-half))
}

// rateLimiter paces the snapshot bodies a node sends, all streams
// together: a token bucket of rate bytes per second holding at most burst
// bytes. Reservations may take it into debt, which later reservations wait
// out, so concurrent streams share the rate.
type rateLimiter struct {
	mu     sync.Mutex
	rate   float64 // bytes per second
	burst  float64
	tokens float64
	last   time.Time
}

func newRateLimiter(bytesPerSecond int64, burst int, now time.Time) *rateLimiter {
	return &rateLimiter{rate: float64(bytesPerSecond), burst: float64(burst), tokens: float64(burst), last: now}
}

// reserve takes n bytes at time now and returns how long to wait before
// sending them.
func (l *rateLimiter) reserve(now time.Time, n int) time.Duration {
	l.mu.Lock()
	defer l.mu.Unlock()
	if now.After(l.last) {
		l.tokens = min(l.burst, l.tokens+now.Sub(l.last).Seconds()*l.rate)
		l.last = now
	}
	l.tokens -= float64(n)
	if l.tokens >= 0 {
		return 0
	}
	return time.Duration(-l.tokens / l.rate * float64(time.Second))
}
