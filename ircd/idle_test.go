package ircd

import (
	"bytes"
	"fmt"
	"runtime"
	"strings"
	"testing"
	"time"
)

// connGoroutines returns the stacks of the goroutines running a client
// connection's code.
func connGoroutines() []string {
	buf := make([]byte, 1<<20)
	for {
		n := runtime.Stack(buf, true)
		if n < len(buf) {
			buf = buf[:n]
			break
		}
		buf = make([]byte, 2*len(buf))
	}
	var stacks []string
	for _, g := range bytes.Split(buf, []byte("\n\n")) {
		if bytes.Contains(g, []byte("xircd/ircd.(*conn)")) {
			stacks = append(stacks, string(g))
		}
	}
	return stacks
}

// Idle clients on sockets keep no goroutine: their readers wait in the
// poller, and go on once a client sends.
func TestIdleClientsKeepNoGoroutine(t *testing.T) {
	noConnGoroutines(t, "before the test (earlier tests' connections)")
	_, l := testServerOn(t, listenTCP(t), Config{}, newFakeBackend())
	const n = 20
	clients := make([]*client, n)
	for i := range clients {
		clients[i] = dial(t, l)
		clients[i].register(fmt.Sprintf("idle%d", i))
	}
	noConnGoroutines(t, fmt.Sprintf("for %d idle clients", n))
	for _, c := range clients {
		c.send("PING :back")
		c.until("PONG")
	}
}

// noConnGoroutines waits until no goroutine runs a connection's code, or
// fails the test with their stacks.
func noConnGoroutines(t *testing.T, when string) {
	t.Helper()
	deadline := time.Now().Add(waitTimeout)
	for stacks := connGoroutines(); len(stacks) > 0; stacks = connGoroutines() {
		if time.Now().After(deadline) {
			t.Fatalf("%d goroutines of connections %s, want 0:\n%s", len(stacks), when, strings.Join(stacks, "\n\n"))
		}
		time.Sleep(10 * time.Millisecond)
	}
}
