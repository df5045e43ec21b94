package xmpp

import (
	"sync"

	"xircd/internal/fifo"
)

// maxWaitingEvents is how many events may wait for the receiver: while
// that many wait, the session stops reading its stream. A smaller bound
// made logins slower in a crowd of them: a reader whose receiver is
// behind in the login burst stops reading.
const maxWaitingEvents = 256

// keepEventsCap is the largest backing array the queue keeps once it is
// drained; a burst's bigger one is let go.
const keepEventsCap = 16

// eventQueue holds the session's events, in order, until the receiver
// takes them. It holds room only for the events waiting, where a buffered
// channel held room for maxWaitingEvents from the start.
type eventQueue struct {
	onEvent func(Event) bool // Config.OnEvent
	notify  func()           // NotifyEvents', under mu
	// ready holds a token while events wait or once the queue has ended.
	// Tokens are only put under mu, with an event or the end behind
	// them, so that each token the receiver takes has one.
	ready chan struct{}
	// room holds a token when an event was taken: a put that found the
	// queue full looks again.
	room chan struct{}

	mu      sync.Mutex
	waiting fifo.Queue[Event]
	ended   bool
}

func newEventQueue(onEvent func(Event) bool) *eventQueue {
	return &eventQueue{onEvent: onEvent, ready: make(chan struct{}, 1), room: make(chan struct{}, 1), waiting: fifo.Queue[Event]{KeepCap: keepEventsCap}}
}

// put queues ev, waiting while maxWaitingEvents wait; it gives up when
// cancel is closed.
func (q *eventQueue) put(ev Event, cancel <-chan struct{}) {
	for {
		q.mu.Lock()
		if q.waiting.Len() < maxWaitingEvents {
			q.add(ev)
			q.mu.Unlock()
			return
		}
		q.mu.Unlock()
		select {
		case <-q.room:
		case <-cancel:
			return
		}
	}
}

// end queues last, if not nil, even when the queue is full (nothing
// follows it), and ends the queue.
func (q *eventQueue) end(last Event) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if last != nil {
		q.add(last)
	}
	q.ended = true
	q.signalReady()
}

// add appends ev unless onEvent drops it; q.mu is held.
func (q *eventQueue) add(ev Event) {
	if q.onEvent != nil && !q.onEvent(ev) {
		return
	}
	q.waiting.Push(ev)
	q.signalReady()
}

// signalReady puts a token in ready for a new event or the end, and
// tells notify; q.mu is held.
func (q *eventQueue) signalReady() {
	signal(q.ready)
	if q.notify != nil {
		q.notify()
	}
}

// setNotify has f called at every signalReady from now on, and at once
// if a token waits.
func (q *eventQueue) setNotify(f func()) {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.notify = f
	if q.waiting.Len() > 0 || q.ended {
		f()
	}
}

// next takes the oldest waiting event. ok is false once the queue has
// ended and every event was taken; ev is nil when none waits yet, which
// cannot follow a token from ready.
func (q *eventQueue) next() (ev Event, ok bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	ev, ok = q.waiting.Pop()
	if !ok {
		if q.ended {
			signal(q.ready) // like a closed channel: ready from now on
		}
		return nil, !q.ended
	}
	if q.waiting.Len() > 0 || q.ended {
		signal(q.ready)
	}
	signal(q.room)
	return ev, true
}

// signal puts a token in c, a channel of capacity 1, unless one is there.
func signal(c chan struct{}) {
	select {
	case c <- struct{}{}:
	default:
	}
}
