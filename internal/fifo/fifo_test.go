package fifo

import (
	"runtime"
	"slices"
	"testing"
	"weak"
)

// What a step does to the backing array.
type capChange int

const (
	anyCap  capChange = iota
	sameCap           // neither grown nor let go
	grownCap
	noCap // let go
)

// Items come out in the order pushed; the queue reuses the room before
// its head instead of growing once at least half of it is free; once
// drained it keeps an array of at most KeepCap and lets a bigger one go.
func TestQueue(t *testing.T) {
	type step struct {
		push, pop int
		want      capChange
	}
	for _, tc := range []struct {
		name    string
		keepCap int
		steps   []step
	}{
		{"order", 0, []step{{push: 3}, {pop: 1}, {push: 5}, {pop: 4}, {push: 1}, {pop: 4}}},
		{"reuse the room before the head", 0, []step{{push: 4}, {pop: 2}, {push: 2, want: sameCap}, {pop: 3, want: sameCap}, {push: 3, want: sameCap}, {pop: 4}}},
		{"grow while less than half is free", 0, []step{{push: 4}, {pop: 1}, {push: 1, want: grownCap}, {pop: 4, want: noCap}}},
		{"let go when drained", 0, []step{{push: 1}, {pop: 1, want: noCap}}},
		{"let go past the keep size", 2, []step{{push: 4}, {pop: 4, want: noCap}}},
		{"keep at the keep size", 4, []step{{push: 4}, {pop: 4, want: sameCap}, {push: 4, want: sameCap}, {pop: 4, want: sameCap}}},
		{"keep below the keep size", 16, []step{{push: 4}, {pop: 4, want: sameCap}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			q := Queue[int]{KeepCap: tc.keepCap}
			pushed, popped := 0, 0
			for i, s := range tc.steps {
				before := q.Cap()
				for range s.pop {
					got, ok := q.Pop()
					if !ok || got != popped {
						t.Fatalf("step %d: Pop = %d, %v; want %d, true", i, got, ok, popped)
					}
					popped++
				}
				more := make([]int, s.push)
				for k := range more {
					more[k] = pushed + k
				}
				q.Push(more...)
				pushed += s.push
				if q.Len() != pushed-popped {
					t.Fatalf("step %d: Len = %d, want %d", i, q.Len(), pushed-popped)
				}
				switch after := q.Cap(); {
				case s.want == sameCap && after != before:
					t.Errorf("step %d: room for %d items, want the %d before", i, after, before)
				case s.want == grownCap && after <= before:
					t.Errorf("step %d: room for %d items, want more than %d", i, after, before)
				case s.want == noCap && after != 0:
					t.Errorf("step %d: room for %d items kept, want none", i, after)
				}
			}
			if _, ok := q.Pop(); ok {
				t.Error("Pop from the drained queue took an item")
			}
		})
	}
}

// What the queue took out, by Pop or by moving items to reuse the room
// before its head, it keeps no reference to: it can be collected while
// the queue still holds others.
func TestQueueLetsGoOfTakenItems(t *testing.T) {
	type item struct{ _ [64]byte } // not a tiny allocation, which could share a block
	var q Queue[*item]
	var taken []weak.Pointer[item]
	push := func(n int) {
		for range n {
			it := new(item)
			taken = append(taken, weak.Make(it))
			q.Push(it)
		}
	}
	push(4)
	q.Pop()
	q.Pop()
	push(1) // moves the two waiting to the front
	q.Pop()
	q.Pop()
	runtime.GC()
	for i, w := range taken[:4] {
		if w.Value() != nil {
			t.Errorf("taken item %d is still reachable", i)
		}
	}
	if q.Len() != 1 || taken[4].Value() == nil {
		t.Fatal("the waiting item was lost")
	}
}

// TakeAll takes what waits, in order, and leaves an empty queue that
// holds no array.
func TestQueueTakeAll(t *testing.T) {
	q := Queue[string]{KeepCap: 16}
	q.Push("a", "b", "c")
	q.Pop()
	if got := q.TakeAll(); !slices.Equal(got, []string{"b", "c"}) {
		t.Errorf("TakeAll = %q, want [b c]", got)
	}
	if q.Len() != 0 || q.Cap() != 0 {
		t.Errorf("after TakeAll: Len %d, room for %d; want 0, 0", q.Len(), q.Cap())
	}
	if _, ok := q.Pop(); ok {
		t.Error("Pop after TakeAll took an item")
	}
	if got := q.TakeAll(); len(got) != 0 {
		t.Errorf("TakeAll of the empty queue = %q", got)
	}
}
