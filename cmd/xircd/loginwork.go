package main

import (
	"context"
	"sync"
	"time"
)

// Pace of the users' login work (bridge.Config.LoginWork): publishing a
// new user's OMEMO bundle costs the XMPP server about as much as the whole
// login, so a thousand users logging in at once would log in half as fast
// if it came with each login.
const (
	loginWorkEvery   = 100 * time.Millisecond // one user's work per tick
	loginWorkQuiet   = 2 * time.Second        // after the last first login: its roster and presences
	loginWorkMaxWait = 2 * time.Minute        // then it starts even while logins go on
)

// loginWork is the queue of the work users' logins set off that nothing
// waits for. A user's work starts once no first login has been under way
// for loginWorkQuiet, one per tick in the order of the logins, or after
// loginWorkMaxWait whatever logins do.
type loginWork struct {
	now func() time.Time

	mu        sync.Mutex
	logins    int       // first logins under way
	lastLogin time.Time // when the last one ended
	queue     []loginJob
}

// loginJob is one user's work: start begins it.
type loginJob struct {
	start func()
	at    time.Time
}

func newLoginWork() *loginWork { return &loginWork{now: time.Now} }

// add queues start; it is bridge.Config.LoginWork.
func (w *loginWork) add(start func()) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.queue = append(w.queue, loginJob{start: start, at: w.now()})
}

// loginStarted and loginEnded bracket a user's first login.
func (w *loginWork) loginStarted() {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.logins++
}

func (w *loginWork) loginEnded() {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.logins--
	w.lastLogin = w.now()
}

// next is the job whose turn it is at a tick, if any.
func (w *loginWork) next() (func(), bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if len(w.queue) == 0 {
		return nil, false
	}
	now := w.now()
	busy := w.logins > 0 || now.Sub(w.lastLogin) < loginWorkQuiet
	if busy && now.Sub(w.queue[0].at) < loginWorkMaxWait {
		return nil, false
	}
	job := w.queue[0]
	w.queue[0] = loginJob{}
	w.queue = w.queue[1:]
	return job.start, true
}

// run starts one job per tick until ctx ends. A job only posts to its
// bridge, which may be busy: it does not hold up the others.
func (w *loginWork) run(ctx context.Context, tick <-chan time.Time) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick:
			if start, ok := w.next(); ok {
				go start()
			}
		}
	}
}
