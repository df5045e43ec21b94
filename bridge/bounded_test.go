package bridge

import (
	"slices"
	"testing"
)

// ringItems are r's items, oldest first.
func ringItems[T any](r *ring[T]) []T {
	out := make([]T, r.n)
	for i := range out {
		out[i] = r.at(i)
	}
	return out
}

func TestBoundedKeepsTheNewest(t *testing.T) {
	b := newBounded[int](3)
	b.put("a", 1)
	b.put("b", 2)
	b.put("a", 10) // replaced, not added again
	b.put("c", 3)
	b.put("d", 4) // "a" is the oldest and goes
	if b.has("a") || b.len() != 3 || !slices.Equal(ringItems(&b.order), []string{"b", "c", "d"}) {
		t.Fatalf("after overflow: has a = %v, len %d, order %v", b.has("a"), b.len(), ringItems(&b.order))
	}
	if v, ok := b.get("d"); !ok || v != 4 {
		t.Fatalf("get d = %d, %v", v, ok)
	}
	b.remove("c")
	b.remove("nope")
	b.put("e", 5)
	b.put("f", 6) // "b" goes; the removed "c" holds no place
	if b.has("b") || b.has("c") || !slices.Equal(ringItems(&b.order), []string{"d", "e", "f"}) {
		t.Fatalf("after remove: order %v", ringItems(&b.order))
	}
}

// TestRingKeepsOrder checks the ring against a plain slice through
// growth, wrapping and removals anywhere.
func TestRingKeepsOrder(t *testing.T) {
	const max = 20
	r := ring[int]{max: max}
	var want []int
	for i := range 200 {
		if i%7 == 3 && len(want) > 0 {
			v := want[(i/7)%len(want)]
			r.remove(func(x int) bool { return x == v })
			want = slices.DeleteFunc(want, func(x int) bool { return x == v })
		}
		oldest, full := r.push(i)
		if len(want) == max {
			if !full || oldest != want[0] {
				t.Fatalf("push %d: oldest %d, full %v; want %d, true", i, oldest, full, want[0])
			}
			want = want[1:]
		} else if full {
			t.Fatalf("push %d: full with %d items", i, len(want))
		}
		want = append(want, i)
		if got := ringItems(&r); !slices.Equal(got, want) {
			t.Fatalf("after %d: %v, want %v", i, got, want)
		}
		if len(r.buf) > max {
			t.Fatalf("storage of %d for %d items at most", len(r.buf), max)
		}
	}
	if r.n != max {
		t.Fatalf("%d items, want %d", r.n, max)
	}
}
