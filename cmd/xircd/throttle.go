package main

import (
	"sync"
	"time"
)

// throttle limits failed logins per key (a source address, a JID): each
// key may fail burst times, and is forgiven one failure per refill. It
// tracks at most maxKeys keys; when full it forgets those that have been
// forgiven everything, then any, so memory stays bounded under a flood of
// addresses.
type throttle struct {
	burst   int
	refill  time.Duration
	maxKeys int
	now     func() time.Time

	mu      sync.Mutex
	buckets map[string]*bucket
}

// bucket is one key's failures: tokens left when last updated at.
type bucket struct {
	tokens float64
	at     time.Time
}

func newThrottle(burst int, refill time.Duration, maxKeys int) *throttle {
	return &throttle{burst: burst, refill: refill, maxKeys: maxKeys, now: time.Now, buckets: map[string]*bucket{}}
}

// update refills b up to now.
func (t *throttle) update(b *bucket, now time.Time) {
	b.tokens = min(float64(t.burst), b.tokens+float64(now.Sub(b.at))/float64(t.refill))
	b.at = now
}

// wait returns how long key must wait before its next attempt; 0 allows
// it.
func (t *throttle) wait(key string) time.Duration {
	t.mu.Lock()
	defer t.mu.Unlock()
	b, ok := t.buckets[key]
	if !ok {
		return 0
	}
	now := t.now()
	t.update(b, now)
	if b.tokens >= 1 {
		return 0
	}
	return time.Duration((1 - b.tokens) * float64(t.refill))
}

// fail records a failed attempt of key.
func (t *throttle) fail(key string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	now := t.now()
	b, ok := t.buckets[key]
	if !ok {
		if len(t.buckets) >= t.maxKeys {
			t.evict(now)
		}
		b = &bucket{tokens: float64(t.burst), at: now}
		t.buckets[key] = b
	}
	t.update(b, now)
	b.tokens = max(0, b.tokens-1)
}

// evict forgets the keys that have been forgiven everything, or one key
// when none has.
func (t *throttle) evict(now time.Time) {
	for k, b := range t.buckets {
		t.update(b, now)
		if b.tokens >= float64(t.burst) {
			delete(t.buckets, k)
		}
	}
	for k := range t.buckets {
		if len(t.buckets) < t.maxKeys {
			return
		}
		delete(t.buckets, k)
	}
}
