package main

import (
	"context"
	"slices"
	"testing"
	"time"
)

// The users' login work waits while first logins are under way and
// loginWorkQuiet after (at most loginWorkMaxWait), then goes one job per
// tick in order.
func TestLoginWorkAfterTheLogins(t *testing.T) {
	now := time.Unix(1000, 0)
	w := newLoginWork()
	w.now = func() time.Time { return now }
	var started []int
	job := func(i int) func() { return func() { started = append(started, i) } }
	tick := func() {
		if start, ok := w.next(); ok {
			start()
		}
	}

	w.loginStarted()
	w.add(job(1))
	w.add(job(2))
	w.loginStarted()
	tick()
	w.loginEnded()
	tick() // one login still under way
	if len(started) != 0 {
		t.Fatalf("jobs %v started while logins were under way", started)
	}
	w.loginEnded()
	tick()
	if len(started) != 0 {
		t.Fatalf("jobs %v started right after the logins", started)
	}
	now = now.Add(loginWorkQuiet)
	tick()
	if !slices.Equal(started, []int{1}) {
		t.Fatalf("after the logins, one tick started %v, want [1]", started)
	}
	tick()
	tick()

	// A login that lasts: the job waits loginWorkMaxWait, no longer.
	w.loginStarted()
	w.add(job(3))
	now = now.Add(loginWorkMaxWait - time.Second)
	tick()
	if !slices.Equal(started, []int{1, 2}) {
		t.Fatalf("jobs started %v, want [1 2]", started)
	}
	now = now.Add(time.Second)
	tick()
	if !slices.Equal(started, []int{1, 2, 3}) {
		t.Fatalf("jobs started %v, want [1 2 3]", started)
	}
}

// run starts the job whose turn a tick gives.
func TestLoginWorkRun(t *testing.T) {
	w := newLoginWork()
	done := make(chan struct{})
	w.add(func() { close(done) })
	tick := make(chan time.Time)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go w.run(ctx, tick)
	tick <- time.Now()
	<-done
}
