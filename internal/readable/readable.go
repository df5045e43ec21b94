// Package readable runs a function once a connection's socket can be
// read (it has data, its end or an error), without a goroutine waiting
// for each socket. A goroutine blocked in a read keeps at least 4 KiB of
// stack for as long as its client is idle; a server in multi-user mode
// has many idle clients. On Linux one goroutine of the process waits for
// every socket (epoll), and a function runs only once its socket has
// something to read.
package readable

import (
	"net"
	"sync"
	"syscall"
	"time"
)

// Watch waits for one connection's socket. Its methods are safe for
// concurrent use; one Await may be pending at a time.
type Watch struct {
	socket syscall.RawConn // nil when there is no socket to wait for

	// Under poll.mu.
	f       func() // the pending Await's function, nil if none
	id      uint64 // the pending Await's id in poll.armed
	timer   *time.Timer
	woken   bool // Wake came while nothing was pending: the next Await runs at once
	stopped bool
	added   bool // the socket is in the poller's set
}

// New returns a Watch of nc's socket, found under any wrappers that
// give their connection with NetConn (crypto/tls does). With no socket
// (a net.Pipe) or no poller, Await runs its function at once, whose read
// then waits as usual.
func New(nc net.Conn) *Watch {
	for {
		if sc, ok := nc.(syscall.Conn); ok {
			socket, err := sc.SyscallConn()
			if err != nil || !poll.start() {
				return &Watch{}
			}
			return &Watch{socket: socket}
		}
		u, ok := nc.(interface{ NetConn() net.Conn })
		if !ok {
			return &Watch{}
		}
		nc = u.NetConn()
	}
}

// Waits reports whether Await waits for the socket; if not, its
// function runs at once and must wait in its read.
func (w *Watch) Waits() bool { return w.socket != nil }

// Await runs f on a goroutine of its own once the socket can be read,
// deadline (if not zero) has passed, Wake or Stop was called, or the
// socket could not be waited for. f reads as it would have: a read
// after the deadline returns the connection's timeout, a read after
// Stop its error.
func (w *Watch) Await(deadline time.Time, f func()) {
	if w.socket == nil {
		go f()
		return
	}
	poll.mu.Lock()
	if w.woken || w.stopped {
		w.woken = false
		poll.mu.Unlock()
		go f()
		return
	}
	poll.next++
	id := poll.next
	w.f, w.id = f, id
	poll.armed[id] = w
	if !deadline.IsZero() {
		w.timer = time.AfterFunc(time.Until(deadline), func() { poll.fire(id) })
	}
	added := w.added
	poll.mu.Unlock()

	var err error
	cerr := w.socket.Control(func(fd uintptr) { err = poll.arm(int(fd), id, added) })
	if err == nil && cerr == nil {
		poll.mu.Lock()
		w.added = true
		poll.mu.Unlock()
		return
	}
	poll.fire(id)
}

// Wake runs the pending Await's function now, or the next Await's at
// once: for a closing connection whose reader must see it.
func (w *Watch) Wake() {
	poll.mu.Lock()
	id, pending := w.id, w.f != nil
	if !pending {
		w.woken = true
	}
	poll.mu.Unlock()
	if pending {
		poll.fire(id)
	}
}

// Stop takes the socket out of the poller and wakes the pending Await;
// every later Await runs at once. Call it before the socket closes:
// once closed, its number may name another socket.
func (w *Watch) Stop() {
	if w.socket == nil {
		return
	}
	poll.mu.Lock()
	w.stopped = true
	id, pending, added := w.id, w.f != nil, w.added
	w.added = false
	poll.mu.Unlock()
	if added {
		w.socket.Control(func(fd uintptr) { poll.remove(int(fd)) })
	}
	if pending {
		poll.fire(id)
	}
}

// poller holds the pending Awaits by id; the id, not the socket's number,
// is what the kernel gives back, so that an event of a socket closed and
// its number reused finds nothing.
type poller struct {
	once  sync.Once
	ok    bool
	fd    int
	mu    sync.Mutex
	next  uint64
	armed map[uint64]*Watch
}

var poll = poller{armed: map[uint64]*Watch{}}

// fire runs the function of the Await id if it is still pending.
func (p *poller) fire(id uint64) {
	p.mu.Lock()
	w := p.armed[id]
	if w == nil {
		p.mu.Unlock()
		return
	}
	delete(p.armed, id)
	f, t := w.f, w.timer
	w.f, w.timer = nil, nil
	p.mu.Unlock()
	if t != nil {
		t.Stop()
	}
	go f()
}
