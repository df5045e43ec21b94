package bridge

import (
	"context"
	"sync"

	"xircd/internal/fifo"
)

// owner is what runs a bridge's owner, the one goroutine at a time that
// touches the bridge's state, only while there is something to handle
// (see Start). It is apart from the Bridge, which every user keeps, so
// that the Bridge stays in its allocation size class.
type owner struct {
	mu      sync.Mutex
	ops     fifo.Queue[op] // posted, not yet handled
	woken   bool           // something came since the owner last looked
	started bool           // Start was called
	running bool           // an owner goroutine runs
	ended   bool           // the bridge has stopped: nothing is posted any more
	stopped func(error)    // Start's
	err     error          // why the bridge stopped, once done is closed
}

// Run processes XMPP events and IRC requests until ctx is done or the XMPP
// session's events end, and returns why: ctx's error, or nil. See Start.
func (b *Bridge) Run(ctx context.Context) error {
	b.Start(ctx, nil)
	<-b.done
	return b.owner.err
}

// Start has the bridge process XMPP events and IRC requests until ctx is
// done or the XMPP session's events end; then stopped (if not nil) is
// called with ctx's error, or nil. One goroutine at a time touches the
// bridge's state, the owner, and only while there is something to handle:
// an event, a request, a timer. It takes one event per turn, as it takes
// one request. An idle bridge keeps no goroutine, where one waiting in a
// select would keep its stack: a server in multi-user mode has many idle
// users. Start must be called once.
func (b *Bridge) Start(ctx context.Context, stopped func(error)) {
	b.owner.mu.Lock()
	b.runCtx, b.owner.stopped, b.owner.started = ctx, stopped, true
	b.owner.mu.Unlock()
	b.x.NotifyEvents(b.wake)
	context.AfterFunc(ctx, b.wake)
	b.wake()
}

// wake has the owner look for something to handle: it starts one unless
// one runs, which then looks again before it ends. Before Start, what
// comes waits for it.
func (b *Bridge) wake() {
	b.owner.mu.Lock()
	defer b.owner.mu.Unlock()
	b.owner.woken = true
	if b.owner.started && !b.owner.running && !b.owner.ended {
		b.owner.running = true
		go b.own()
	}
}

// own handles what waits, a request and an event a turn, until nothing
// does (or the bridge stops); see Start.
func (b *Bridge) own() {
	for {
		if err := b.runCtx.Err(); err != nil {
			b.stop(err)
			return
		}
		b.owner.mu.Lock()
		b.owner.woken = false
		o, haveOp := b.owner.ops.Pop()
		b.owner.mu.Unlock()
		if haveOp {
			b.handleOp(o)
			b.endTurn()
		}
		haveEvent := false
		select {
		case <-b.x.EventsReady():
			ev, ok := b.x.NextEvent()
			if !ok {
				b.stop(nil)
				return
			}
			haveEvent = true
			b.handleEvent(ev)
			b.endTurn()
		default:
		}
		if haveOp || haveEvent {
			continue
		}
		b.owner.mu.Lock()
		if !b.owner.woken {
			b.owner.running = false
			b.owner.mu.Unlock()
			return
		}
		b.owner.mu.Unlock()
	}
}

// endTurn follows every request and event: monitors, and the state files.
func (b *Bridge) endTurn() {
	b.safely("monitor", b.refreshMonitors)
	b.flushState()
	b.flushCatchUpState()
}

// stop ends the bridge for err: the files are written, nothing is posted
// any more, and done is closed.
func (b *Bridge) stop(err error) {
	b.flushState()
	b.closeCatchUp()
	b.files.flush()
	b.stopRotation()
	b.owner.mu.Lock()
	b.owner.ended, b.owner.running = true, false
	b.owner.ops = fifo.Queue[op]{}
	b.owner.mu.Unlock()
	b.owner.err = err
	close(b.done)
	if b.owner.stopped != nil {
		b.owner.stopped(err)
	}
}

// post hands o to the owner; false when the bridge has stopped. Whoever
// waits for o's answer also waits for done: an op posted just before the
// bridge stops is not handled.
func (b *Bridge) post(o op) bool {
	b.owner.mu.Lock()
	if b.owner.ended {
		b.owner.mu.Unlock()
		return false
	}
	b.owner.ops.Push(o)
	b.owner.mu.Unlock()
	b.wake()
	return true
}
