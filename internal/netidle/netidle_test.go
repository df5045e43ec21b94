package netidle

import (
	"runtime"
	"testing"
)

// The last buffers given back outlast collections, which empty a
// sync.Pool: a message after one does not cost new buffers.
func TestKeptBuffersOutlastCollections(t *testing.T) {
	var given [keep]*[BufferSize]byte
	for i := range given {
		given[i] = new([BufferSize]byte)
		Release(given[i])
	}
	runtime.GC()
	runtime.GC()
	for i := keep - 1; i >= 0; i-- {
		if b := Buffer(); b != given[i] {
			t.Fatalf("buffer %d given back was not kept", i)
		}
	}
}

// ReleaseSlice gives back a buffer's array, however much of it the slice
// holds, and not a slice that append grew.
func TestReleaseSlice(t *testing.T) {
	b := Buffer()
	ReleaseSlice(append(b[:0], "some"...))
	if got := Buffer(); got != b {
		t.Error("a buffer's slice was not given back")
	}
	grown := append(b[:0], make([]byte, BufferSize+1)...)
	ReleaseSlice(grown)
	if got := Buffer(); &got[0] == &grown[0] {
		t.Error("a grown slice was given back as a buffer")
	}
}
