package bridge

// bounded is a map that keeps only its newest max keys: the ids of sent
// and seen stanzas, remembered to match error replies, reflections and
// archive copies, without growing for ever.
type bounded[V any] struct {
	m     map[string]V
	order ring[string] // the keys, oldest first
}

func newBounded[V any](max int) *bounded[V] {
	return &bounded[V]{order: ring[string]{max: max}} // the map comes with the first key
}

// put adds k (forgetting the oldest key when full) or replaces its value.
func (b *bounded[V]) put(k string, v V) {
	if _, ok := b.m[k]; !ok {
		if old, full := b.order.push(k); full {
			delete(b.m, old)
		}
	}
	putIn(&b.m, k, v)
}

func (b *bounded[V]) get(k string) (V, bool) {
	v, ok := b.m[k]
	return v, ok
}

func (b *bounded[V]) has(k string) bool {
	_, ok := b.m[k]
	return ok
}

// remove forgets k.
func (b *bounded[V]) remove(k string) {
	if _, ok := b.m[k]; !ok {
		return
	}
	delete(b.m, k)
	b.order.remove(func(o string) bool { return o == k })
}

func (b *bounded[V]) len() int { return len(b.m) }

// ring is a queue of at most max items, oldest first, whose storage
// grows as it fills and is then reused in place: a bounded store that
// took the oldest off the front of a slice would reallocate it again and
// again.
type ring[T any] struct {
	buf   []T // the items from start on, wrapping around
	start int
	n     int // items in buf
	max   int
}

// push adds v as the newest item; when the ring was full, the oldest
// makes room and is returned.
func (r *ring[T]) push(v T) (oldest T, full bool) {
	if r.max <= 0 {
		return v, true
	}
	if r.n == len(r.buf) && r.n < r.max {
		r.grow()
	}
	if r.n == r.max {
		oldest = r.buf[r.start]
		r.buf[r.start] = v
		r.start = (r.start + 1) % r.max
		return oldest, true
	}
	r.buf[(r.start+r.n)%len(r.buf)] = v
	r.n++
	return oldest, false
}

// grow doubles the storage (within max), the items put in order.
func (r *ring[T]) grow() {
	buf := make([]T, min(r.max, max(8, 2*len(r.buf))))
	k := copy(buf, r.buf[r.start:])
	copy(buf[k:], r.buf[:r.start])
	r.buf, r.start = buf, 0
}

// at is the i-th item, the oldest being the 0th.
func (r *ring[T]) at(i int) T { return r.buf[(r.start+i)%len(r.buf)] }

// remove removes the oldest item that match reports, the newer ones
// moving up.
func (r *ring[T]) remove(match func(T) bool) {
	for i := range r.n {
		if !match(r.at(i)) {
			continue
		}
		for j := i; j < r.n-1; j++ {
			r.buf[(r.start+j)%len(r.buf)] = r.at(j + 1)
		}
		var zero T
		r.buf[(r.start+r.n-1)%len(r.buf)] = zero
		r.n--
		return
	}
}
