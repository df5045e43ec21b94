package ircd

import (
	"bytes"
	"fmt"
	"runtime"
	"testing"
	"time"
)

// connGoroutines counts the goroutines running a client connection's
// code.
func connGoroutines() int {
	buf := make([]byte, 1<<20)
	for {
		n := runtime.Stack(buf, true)
		if n < len(buf) {
			buf = buf[:n]
			break
		}
		buf = make([]byte, 2*len(buf))
	}
	count := 0
	for _, g := range bytes.Split(buf, []byte("\n\n")) {
		if bytes.Contains(g, []byte("xircd/ircd.(*conn)")) {
			count++
		}
	}
	return count
}

// Idle clients on sockets keep no goroutine: their readers wait in the
// poller, and go on once a client sends.
func TestIdleClientsKeepNoGoroutine(t *testing.T) {
	_, l := testServerOn(t, listenTCP(t), Config{}, newFakeBackend())
	const n = 20
	clients := make([]*client, n)
	for i := range clients {
		clients[i] = dial(t, l)
		clients[i].register(fmt.Sprintf("idle%d", i))
	}
	deadline := time.Now().Add(waitTimeout)
	for connGoroutines() > 0 {
		if time.Now().After(deadline) {
			t.Fatalf("%d goroutines of connections for %d idle clients, want 0", connGoroutines(), n)
		}
		time.Sleep(10 * time.Millisecond)
	}
	for _, c := range clients {
		c.send("PING :back")
		c.until("PONG")
	}
}
