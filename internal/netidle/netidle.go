// Package netidle lets a connection's reader wait for data without
// holding a read buffer: the reader takes a buffer once data has come and
// gives it back once it has read everything, so that an idle connection,
// of which a server with many users has many, keeps none, and the few
// connections reading at once share what the others gave back. Writers
// take their buffers from the same pool.
package netidle

import "sync"

// BufferSize is the size of the buffers of Buffer.
const BufferSize = 1024

// keep is how many buffers given back are kept for good: enough for the
// few connections that read or write at once, so that a message does not
// cost a new buffer after each collection, which empties buffers.
const keep = 4

var (
	kept struct {
		sync.Mutex
		bufs [keep]*[BufferSize]byte
		n    int
	}
	buffers sync.Pool // what is given back beyond keep
)

// Buffer returns a buffer of BufferSize bytes: one given back by Release,
// the last first, or a new one.
func Buffer() *[BufferSize]byte {
	kept.Lock()
	if kept.n > 0 {
		kept.n--
		b := kept.bufs[kept.n]
		kept.bufs[kept.n] = nil
		kept.Unlock()
		return b
	}
	kept.Unlock()
	if b, ok := buffers.Get().(*[BufferSize]byte); ok {
		return b
	}
	return new([BufferSize]byte)
}

// Release gives b back, for Buffer to return again; b must not be used
// any more.
func Release(b *[BufferSize]byte) {
	kept.Lock()
	if kept.n < keep {
		kept.bufs[kept.n] = b
		kept.n++
		kept.Unlock()
		return
	}
	kept.Unlock()
	buffers.Put(b)
}

// ReleaseSlice gives back the array of b when it is one of Buffer's, as
// a slice of it is (one that append grew is bigger): a buffer that went
// from Buffer()[:0] to what it holds now, which must not be used any
// more.
func ReleaseSlice(b []byte) {
	if cap(b) == BufferSize {
		Release((*[BufferSize]byte)(b[:BufferSize]))
	}
}
