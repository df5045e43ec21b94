package bridge

import "slices"

// bounded is a map that keeps only its newest max keys: the ids of sent
// and seen stanzas, remembered to match error replies, reflections and
// archive copies, without growing for ever.
type bounded[V any] struct {
	m     map[string]V
	order []string // keys, oldest first
	max   int
}

func newBounded[V any](max int) *bounded[V] {
	return &bounded[V]{m: make(map[string]V), max: max}
}

// put adds k (forgetting the oldest key when full) or replaces its value.
func (b *bounded[V]) put(k string, v V) {
	if _, ok := b.m[k]; !ok {
		if len(b.order) >= b.max {
			delete(b.m, b.order[0])
			b.order = b.order[1:]
		}
		b.order = append(b.order, k)
	}
	b.m[k] = v
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
	if i := slices.Index(b.order, k); i >= 0 {
		b.order = slices.Delete(b.order, i, i+1)
	}
}

func (b *bounded[V]) len() int { return len(b.m) }
