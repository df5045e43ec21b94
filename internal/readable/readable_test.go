package readable

import (
	"net"
	"runtime"
	"testing"
	"time"
)

// pair returns both ends of a loopback TCP connection.
func pair(t *testing.T) (client, server net.Conn) {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	accepted := make(chan net.Conn, 1)
	go func() {
		c, _ := l.Accept()
		accepted <- c
	}()
	client, err = net.Dial("tcp", l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	server = <-accepted
	t.Cleanup(func() { client.Close(); server.Close() })
	return client, server
}

// ran returns a function for Await and a channel told when it runs.
func ran() (func(), chan struct{}) {
	done := make(chan struct{}, 2)
	return func() { done <- struct{}{} }, done
}

func waitRan(t *testing.T, done chan struct{}, what string) {
	t.Helper()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatalf("Await's function did not run %s", what)
	}
}

func notRan(t *testing.T, done chan struct{}, what string) {
	t.Helper()
	select {
	case <-done:
		t.Fatalf("Await's function ran %s", what)
	case <-time.After(100 * time.Millisecond):
	}
}

func TestAwaitRunsOnceDataArrives(t *testing.T) {
	client, server := pair(t)
	w := New(server)
	if !w.Waits() {
		t.Fatal("no socket found under a TCP connection")
	}
	f, done := ran()
	w.Await(time.Time{}, f)
	notRan(t, done, "before anything was sent")
	client.Write([]byte("x"))
	waitRan(t, done, "once data arrived")
	notRan(t, done, "twice")

	// Data not yet read: the next Await runs at once.
	w.Await(time.Time{}, f)
	waitRan(t, done, "with data left unread")
	var b [1]byte
	server.Read(b[:])
	w.Await(time.Time{}, f)
	notRan(t, done, "after the data was read")
	client.Close()
	waitRan(t, done, "once the peer closed")
}

func TestAwaitRunsAtItsDeadline(t *testing.T) {
	_, server := pair(t)
	w := New(server)
	f, done := ran()
	w.Await(time.Now().Add(50*time.Millisecond), f)
	waitRan(t, done, "at its deadline")
}

func TestWakeAndStop(t *testing.T) {
	_, server := pair(t)
	w := New(server)
	f, done := ran()
	w.Await(time.Time{}, f)
	w.Wake()
	waitRan(t, done, "on Wake")

	// A Wake while nothing is pending is for the next Await.
	w.Wake()
	w.Await(time.Time{}, f)
	waitRan(t, done, "after an earlier Wake")
	w.Await(time.Time{}, f)
	notRan(t, done, "on a Wake already used")

	w.Stop()
	waitRan(t, done, "on Stop")
	w.Await(time.Time{}, f)
	waitRan(t, done, "after Stop")
}

// A socket closed and its number reused by another must not wake the
// other's Await, nor lose it.
func TestClosedSocketsNumberReused(t *testing.T) {
	_, server := pair(t)
	w := New(server)
	f, done := ran()
	w.Await(time.Time{}, f)
	w.Stop()
	server.Close()
	waitRan(t, done, "on Stop")

	client2, server2 := pair(t)
	w2 := New(server2)
	f2, done2 := ran()
	w2.Await(time.Time{}, f2)
	notRan(t, done2, "before anything was sent")
	client2.Write([]byte("y"))
	waitRan(t, done2, "once data arrived on the new socket")
	notRan(t, done, "for the old socket")
}

// Pending Awaits keep no goroutine each.
func TestPendingAwaitsKeepNoGoroutine(t *testing.T) {
	const n = 50
	watches := make([]*Watch, n)
	clients := make([]net.Conn, n)
	for i := range watches {
		c, s := pair(t)
		clients[i], watches[i] = c, New(s)
	}
	done := make(chan struct{}, n)
	f := func() { done <- struct{}{} }
	before := runtime.NumGoroutine()
	for _, w := range watches {
		w.Await(time.Time{}, f)
	}
	time.Sleep(50 * time.Millisecond)
	if after := runtime.NumGoroutine(); after > before+1 {
		t.Fatalf("%d pending Awaits: %d goroutines more", n, after-before)
	}
	for _, c := range clients {
		c.Write([]byte("z"))
	}
	for range n {
		waitRan(t, done, "once data arrived")
	}
}

// Without a socket, Await's function runs at once and its read waits.
func TestAwaitWithoutASocket(t *testing.T) {
	a, b := net.Pipe()
	defer a.Close()
	defer b.Close()
	w := New(b)
	if w.Waits() {
		t.Fatal("a pipe has no socket to wait for")
	}
	f, done := ran()
	w.Await(time.Time{}, f)
	waitRan(t, done, "at once")
}
