package ircd

import (
	"sync"

	"xircd/internal/fifo"
)

// writeBatch is roughly how many bytes the writer gathers into one write.
const writeBatch = 16 * 1024

// sendQueue is a client's queue of outgoing lines, bounded in bytes rather
// than lines: a burst of many short lines (a big roster) fits, while the
// memory held for a client that stops reading stays bounded. Lines are
// stored as the strings FormatLines made; the queue's backing array grows
// with use and is dropped once it drains, so an idle client holds nothing.
//
// The queue also decides when its connection has a writer goroutine
// (conn.writeLoop): only while it holds lines. Both decisions are taken
// under mu, so that exactly one writer runs at a time and a line pushed
// while the writer finds the queue empty is never left behind: push starts
// a writer when none runs, and take, finding nothing, ends it.
type sendQueue struct {
	mu    sync.Mutex
	lines fifo.Queue[string] // keeps no array once drained
	bytes int                // queued bytes, each line counted with its CR LF

	// writing is set while a writer runs: from the push (or close) that
	// starts it to the take that finds the queue empty. Once closed is
	// set it stays set: that writer is the last one, and it ends the
	// connection.
	writing bool
	closed  bool
	// wrote, made only while a reply waits for room (conn.waitForRoom),
	// is closed after the writer's next write.
	wrote chan struct{}
}

// queuedSize is what lines count against the budget.
func queuedSize(lines []string) int {
	n := 0
	for _, l := range lines {
		n += len(l) + 2
	}
	return n
}

// push queues all of lines (n bytes, see queuedSize) or, when that would
// take the queue past budget bytes, none of them and reports false. The
// lines of one message therefore stay together. startWriter reports that
// no writer runs: the caller must start one.
func (q *sendQueue) push(lines []string, n, budget int) (ok, startWriter bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.bytes > 0 && q.bytes+n > budget {
		return false, false
	}
	q.lines.Push(lines...)
	q.bytes += n
	startWriter = !q.writing
	q.writing = true
	return true, startWriter
}

// take, for the writer, appends queued lines with CR LF to buf until it
// holds at least max bytes or the queue is empty, removes them from the
// queue and returns buf. When the queue is empty and not closed, the
// writer must end: the next push starts another. closed reports that the
// connection is closing.
func (q *sendQueue) take(buf []byte, max int) (_ []byte, closed bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.lines.Len() == 0 {
		if !q.closed {
			q.writing = false
		}
		return buf, q.closed
	}
	for q.lines.Len() > 0 && len(buf) < max {
		l, _ := q.lines.Pop()
		buf = append(append(buf, l...), '\r', '\n')
		q.bytes -= len(l) + 2
	}
	return buf, q.closed
}

// close marks the connection closing and reports whether no writer runs:
// the caller must then start the last one, which sends what is queued,
// ERROR, and closes the socket.
func (q *sendQueue) close() (startWriter bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.closed = true
	startWriter = !q.writing
	q.writing = true
	return startWriter
}

// waitRoom returns nil when n more bytes fit within limit (or the queue
// is empty), and otherwise a channel closed after the writer's next write,
// when the caller may ask again.
func (q *sendQueue) waitRoom(n, limit int) <-chan struct{} {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.bytes == 0 || q.bytes+n <= limit {
		return nil
	}
	if q.wrote == nil {
		q.wrote = make(chan struct{})
	}
	return q.wrote
}

// written, for the writer after each write, wakes a reply waiting for room.
func (q *sendQueue) written() {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.wrote != nil {
		close(q.wrote)
		q.wrote = nil
	}
}

// drop forgets every queued line, for a client being disconnected.
func (q *sendQueue) drop() {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.lines, q.bytes = fifo.Queue[string]{}, 0
}
