// Package fifo provides a first-in first-out queue that holds room only
// for what waits, so that an idle queue costs next to nothing.
package fifo

// Queue is a first-in first-out queue in a slice. It reuses the room
// before its head instead of growing, and once drained lets go of a
// backing array bigger than KeepCap: a burst's big array does not stay.
// The zero value is an empty queue that keeps no array. A Queue is not
// safe for concurrent use.
type Queue[T any] struct {
	// KeepCap is the largest backing array kept once the queue drains.
	KeepCap int

	items []T // items[head:] wait, the oldest first
	head  int
}

// Len reports how many items wait.
func (q *Queue[T]) Len() int { return len(q.items) - q.head }

// Cap reports how many items the backing array has room for: what the
// queue holds in memory.
func (q *Queue[T]) Cap() int { return cap(q.items) }

// Push appends items after those waiting.
func (q *Queue[T]) Push(items ...T) {
	if len(q.items)+len(items) > cap(q.items) && q.head >= len(q.items)/2 {
		// Reuse the room before the head instead of growing.
		k := copy(q.items, q.items[q.head:])
		clear(q.items[k:])
		q.items, q.head = q.items[:k], 0
	}
	q.items = append(q.items, items...)
}

// Pop takes the oldest item; ok is false when none waits. The taken
// slot is zeroed, so that the queue keeps nothing reachable through it.
func (q *Queue[T]) Pop() (item T, ok bool) {
	if q.head == len(q.items) {
		return item, false
	}
	item = q.items[q.head]
	q.items[q.head] = *new(T)
	if q.head++; q.head == len(q.items) {
		q.items, q.head = q.items[:0], 0
		if cap(q.items) > q.KeepCap {
			q.items = nil
		}
	}
	return item, true
}

// TakeAll takes every waiting item, oldest first, and lets go of the
// backing array: the result uses it.
func (q *Queue[T]) TakeAll() []T {
	items := q.items[q.head:]
	q.items, q.head = nil, 0
	return items
}
