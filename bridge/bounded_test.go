package bridge

import (
	"slices"
	"testing"
)

func TestBoundedKeepsTheNewest(t *testing.T) {
	b := newBounded[int](3)
	b.put("a", 1)
	b.put("b", 2)
	b.put("a", 10) // replaced, not added again
	b.put("c", 3)
	b.put("d", 4) // "a" is the oldest and goes
	if b.has("a") || b.len() != 3 || !slices.Equal(b.order, []string{"b", "c", "d"}) {
		t.Fatalf("after overflow: has a = %v, len %d, order %v", b.has("a"), b.len(), b.order)
	}
	if v, ok := b.get("d"); !ok || v != 4 {
		t.Fatalf("get d = %d, %v", v, ok)
	}
	b.remove("c")
	b.remove("nope")
	b.put("e", 5)
	b.put("f", 6) // "b" goes; the removed "c" holds no place
	if b.has("b") || b.has("c") || !slices.Equal(b.order, []string{"d", "e", "f"}) {
		t.Fatalf("after remove: order %v", b.order)
	}
}
