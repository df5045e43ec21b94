package ircd

import (
	"bytes"
	"fmt"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"gopkg.in/irc.v4"

	"xircd/internal/netidle"
)

// A roster-sized burst from the backend (many short lines, faster than the
// client reads) reaches a client that keeps reading, complete and in order.
func TestBurstFromBackendIsDelivered(t *testing.T) {
	const lines = 20000
	b := newFakeBackend()
	_, l := testServer(t, Config{}, b)
	c := dial(t, l)
	c.register("me")
	s := b.waitAttach(t)

	go func() {
		for i := range lines / 2 {
			nick := fmt.Sprintf("c%d", i)
			s.d.Send(&irc.Message{Prefix: &irc.Prefix{Name: nick, User: nick, Host: "x"}, Command: "JOIN", Params: []string{"&xmpp"}})
			s.d.Send(&irc.Message{Prefix: &irc.Prefix{Name: "xircd"}, Command: "MODE", Params: []string{"&xmpp", "+v", nick}})
		}
	}()
	for i := range lines / 2 {
		nick := fmt.Sprintf("c%d", i)
		if m := c.next(); m.Command != "JOIN" || m.Prefix.Name != nick {
			t.Fatalf("line %d: got %q, want JOIN from %s", 2*i, m, nick)
		}
		if m := c.next(); m.Command != "MODE" || m.Trailing() != nick {
			t.Fatalf("line %d: got %q, want MODE +v %s", 2*i+1, m, nick)
		}
	}
	c.roundtrip()
	select {
	case r := <-b.detached:
		t.Fatalf("client detached: %q", r)
	default:
	}
}

func TestSendQueueBudget(t *testing.T) {
	var q sendQueue
	msg := []string{"PRIVMSG me :one", "PRIVMSG me :two"}
	n := queuedSize(msg)
	if n != 2*(len("PRIVMSG me :one")+2) {
		t.Fatalf("queuedSize = %d", n)
	}
	// Budget for three such messages.
	budget := 3 * n
	for i := range 3 {
		if ok, _ := q.push(msg, n, budget); !ok {
			t.Fatalf("push %d rejected within budget", i)
		}
	}
	if ok, _ := q.push([]string{"X"}, 3, budget); ok {
		t.Error("push beyond the budget accepted")
	}
	if q.bytes != budget {
		t.Errorf("size %d, want %d", q.bytes, budget)
	}
	b, _ := q.take(nil, 1<<20)
	if want := strings.Repeat("PRIVMSG me :one\r\nPRIVMSG me :two\r\n", 3); string(b) != want {
		t.Errorf("took %q, want %q", b, want)
	}
	if q.bytes != 0 {
		t.Errorf("size %d after draining", q.bytes)
	}
	// An empty queue takes one message even when it exceeds the budget.
	big := []string{strings.Repeat("a", 100)}
	if ok, _ := q.push(big, queuedSize(big), 10); !ok {
		t.Error("empty queue rejected a message larger than the budget")
	}
}

func TestSendQueueOrderAndRelease(t *testing.T) {
	var q sendQueue
	var want, got []string
	next := 0
	// Interleave pushes and partial takes so the queue both compacts and
	// grows, then drain it.
	for round := range 50 {
		for range 200 {
			l := fmt.Sprintf("L%d", next)
			next++
			want = append(want, l)
			if ok, _ := q.push([]string{l}, queuedSize([]string{l}), 1<<20); !ok {
				t.Fatal("push rejected")
			}
		}
		b, _ := q.take(nil, 100*(round%5))
		got = append(got, splitCRLF(b)...)
	}
	for {
		b, _ := q.take(nil, 64)
		if len(b) == 0 {
			break
		}
		got = append(got, splitCRLF(b)...)
	}
	if !slices.Equal(got, want) {
		t.Fatalf("lines out of order or lost: got %d lines, want %d", len(got), len(want))
	}
	if q.lines.Cap() != 0 {
		t.Errorf("drained queue keeps a backing array of %d lines", q.lines.Cap())
	}
}

// The queue has a writer only while it holds lines: the push to a queue
// without one starts it, the take that finds the queue empty ends it, and
// once closed a last writer runs and no other starts.
func TestSendQueueWriterLifetime(t *testing.T) {
	var q sendQueue
	push := func(l string) bool {
		t.Helper()
		ok, start := q.push([]string{l}, queuedSize([]string{l}), 1<<20)
		if !ok {
			t.Fatal("push rejected")
		}
		return start
	}
	take := func() string {
		t.Helper()
		b, closed := q.take(nil, 1<<20)
		if closed {
			t.Fatal("take reports closed")
		}
		return string(b)
	}
	if !push("a") {
		t.Fatal("push to an idle queue did not start a writer")
	}
	if push("b") {
		t.Fatal("second push started a second writer")
	}
	if got := take(); got != "a\r\nb\r\n" {
		t.Fatalf("took %q", got)
	}
	// The writer is writing what it took: it still runs.
	if push("c") {
		t.Fatal("push while the writer writes started a second writer")
	}
	if got := take(); got != "c\r\n" {
		t.Fatalf("took %q", got)
	}
	if got := take(); got != "" {
		t.Fatalf("took %q from an empty queue", got)
	}
	// That writer has ended.
	if !push("d") {
		t.Fatal("push after the writer ended did not start one")
	}
	if q.close() {
		t.Fatal("close started a second writer")
	}
	if b, closed := q.take(nil, 1<<20); string(b) != "d\r\n" || !closed {
		t.Fatalf("took %q, closed %v", b, closed)
	}
	if b, closed := q.take(nil, 1<<20); len(b) != 0 || !closed {
		t.Fatalf("took %q, closed %v", b, closed)
	}
	// The last writer still runs: nothing starts another.
	if push("late") {
		t.Fatal("push after close started a writer")
	}

	var idle sendQueue
	if !idle.close() {
		t.Fatal("closing a queue without a writer did not start the last one")
	}
}

// A line pushed just as the writer that took the line before finds the
// queue empty and ends is taken: by that writer, or by one the push starts.
func TestSendQueueLineRacingWriterExitIsTaken(t *testing.T) {
	var q sendQueue
	took := make(chan string, 1)
	write := func(done chan struct{}) {
		defer close(done)
		for {
			b, _ := q.take(nil, 1<<20)
			if len(b) == 0 {
				return
			}
			took <- string(b)
		}
	}
	var writer chan struct{} // closed when the last writer started ends
	for i := range 20000 {
		l := strconv.Itoa(i)
		ok, start := q.push([]string{l}, queuedSize([]string{l}), 1<<20)
		if !ok {
			t.Fatal("push rejected")
		}
		if start {
			writer = make(chan struct{})
			go write(writer)
		}
		var got string
		select {
		case got = <-took:
		case <-writer:
			select {
			case got = <-took:
			default:
				t.Fatalf("line %d left in the queue with no writer", i)
			}
		}
		if got != l+"\r\n" {
			t.Fatalf("took %q, want line %d", got, i)
		}
	}
}

// Lines pushed from several goroutines while writers come and go are all
// taken, each goroutine's in order, by one writer at a time: a push that
// races with the writer finding the queue empty is never left behind.
func TestSendQueueConcurrentPushAndWriterExit(t *testing.T) {
	const (
		pushers = 4
		each    = 5000
	)
	var (
		q       sendQueue
		mu      sync.Mutex
		taken   []string
		writers sync.WaitGroup
		running atomic.Int32
		started atomic.Int32
	)
	write := func() {
		defer writers.Done()
		for {
			b, _ := q.take(nil, 64)
			if len(b) == 0 {
				return
			}
			// Between two takes the writer writes: nobody else may.
			if running.Add(1) != 1 {
				t.Error("two writers at once")
			}
			mu.Lock()
			taken = append(taken, splitCRLF(b)...)
			mu.Unlock()
			running.Add(-1)
		}
	}
	var pushing sync.WaitGroup
	for p := range pushers {
		pushing.Go(func() {
			for i := range each {
				l := fmt.Sprintf("%d:%d", p, i)
				ok, start := q.push([]string{l}, queuedSize([]string{l}), 1<<30)
				if !ok {
					t.Error("push rejected")
					return
				}
				if start {
					started.Add(1)
					writers.Add(1)
					go write()
				}
				if i%7 == 0 {
					runtime.Gosched()
				}
			}
		})
	}
	pushing.Wait()
	writers.Wait()
	if q.bytes != 0 {
		t.Fatalf("%d bytes left in the queue with no writer", q.bytes)
	}
	next := make([]int, pushers)
	for _, l := range taken {
		var p, i int
		if _, err := fmt.Sscanf(l, "%d:%d", &p, &i); err != nil {
			t.Fatalf("line %q: %v", l, err)
		}
		if i != next[p] {
			t.Fatalf("from pusher %d got line %d, want %d", p, i, next[p])
		}
		next[p]++
	}
	for p, n := range next {
		if n != each {
			t.Errorf("pusher %d: %d of %d lines taken", p, n, each)
		}
	}
	t.Logf("%d writers started", started.Load())
}

func splitCRLF(b []byte) []string {
	s := strings.TrimSuffix(string(b), "\r\n")
	if s == "" {
		return nil
	}
	return strings.Split(s, "\r\n")
}

// writers counts the goroutines running a connection's writer, of any
// server: the tests before have shut theirs down.
func writers() int {
	buf := make([]byte, 1<<20)
	for {
		n := runtime.Stack(buf, true)
		if n < len(buf) {
			return strings.Count(string(buf[:n]), "ircd.(*conn).writeLoop(")
		}
		buf = make([]byte, 2*len(buf))
	}
}

// waitWriters waits until n writer goroutines run.
func waitWriters(t *testing.T, n int) {
	t.Helper()
	for deadline := time.Now().Add(waitTimeout); writers() != n; time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("%d writer goroutines, want %d", writers(), n)
		}
	}
}

// An idle client has no writer goroutine: one runs while lines wait for
// the client and ends once they are written.
func TestIdleClientHasNoWriter(t *testing.T) {
	b := newFakeBackend()
	_, l := testServer(t, Config{}, b)
	c := dial(t, l)
	c.register("me")
	s := b.waitAttach(t)
	waitWriters(t, 0)

	const lines = 2000
	for i := range lines {
		s.d.Send(&irc.Message{Prefix: &irc.Prefix{Name: "bob"}, Command: "NOTICE", Params: []string{"me", strconv.Itoa(i)}})
	}
	// The client has not read yet: the writer waits for it.
	waitWriters(t, 1)
	for i := range lines {
		c.expect("NOTICE", "me", strconv.Itoa(i))
	}
	waitWriters(t, 0)
	// A line to the idle client starts a writer again.
	s.d.Send(&irc.Message{Prefix: &irc.Prefix{Name: "bob"}, Command: "NOTICE", Params: []string{"me", "again"}})
	c.expect("NOTICE", "me", "again")
	waitWriters(t, 0)
}

// Lines sent while the writer drains the queue and ends reach the client:
// one at a time as the writer of the one before ends (a line left in the
// queue with no writer never comes), then from several goroutines at once,
// complete and each sender's in order.
func TestSendsRacingWriterExitAreDelivered(t *testing.T) {
	const (
		senders = 3
		each    = 2000
	)
	b := newFakeBackend()
	_, l := testServer(t, Config{}, b)
	c := dial(t, l)
	c.register("me")
	s := b.waitAttach(t)

	for i := range each {
		s.d.Send(&irc.Message{Prefix: &irc.Prefix{Name: "bob"}, Command: "NOTICE", Params: []string{"me", strconv.Itoa(i)}})
		c.expect("NOTICE", "me", strconv.Itoa(i))
	}
	for p := range senders {
		go func() {
			for i := range each {
				s.d.Send(&irc.Message{Prefix: &irc.Prefix{Name: "bob"}, Command: "NOTICE", Params: []string{"me", fmt.Sprintf("%d:%d", p, i)}})
				if i%5 == 0 {
					runtime.Gosched()
				}
			}
		}()
	}
	next := make([]int, senders)
	for range senders * each {
		m := c.expect("NOTICE", "me")
		var p, i int
		if _, err := fmt.Sscanf(m.Trailing(), "%d:%d", &p, &i); err != nil || p < 0 || p >= senders {
			t.Fatalf("unexpected %q", m)
		}
		if i != next[p] {
			t.Fatalf("from sender %d got line %d, want %d", p, i, next[p])
		}
		next[p]++
	}
	c.roundtrip()
	waitWriters(t, 0)
}

// A client closed after a burst it has not read yet gets all of it, then
// ERROR, then the close; no writer is left behind.
func TestCloseAfterBurstDeliversItThenError(t *testing.T) {
	b := newFakeBackend()
	_, l := testServer(t, Config{}, b)
	c := dial(t, l)
	c.register("me")
	s := b.waitAttach(t)

	const lines = 3000
	for i := range lines {
		s.d.Send(&irc.Message{Prefix: &irc.Prefix{Name: "bob"}, Command: "NOTICE", Params: []string{"me", strconv.Itoa(i)}})
	}
	s.d.Close("Closed by the gateway")
	for i := range lines {
		c.expect("NOTICE", "me", strconv.Itoa(i))
	}
	c.expect("ERROR", "Closed by the gateway")
	if reason := c.expectClosed(); reason != "" {
		t.Errorf("more after ERROR: %q", reason)
	}
	if r := b.waitDetach(t); r != "Closed by the gateway" {
		t.Errorf("Detach(%q)", r)
	}
	waitWriters(t, 0)
}

// An idle client closed gets ERROR and the close: the last writer is
// started for it.
func TestCloseIdleClient(t *testing.T) {
	b := newFakeBackend()
	_, l := testServer(t, Config{}, b)
	c := dial(t, l)
	c.register("me")
	s := b.waitAttach(t)
	waitWriters(t, 0)
	s.d.Close("Closed by the gateway")
	if reason := c.expectClosed(); reason != "Closed by the gateway" {
		t.Errorf("ERROR reason %q", reason)
	}
	b.waitDetach(t)
	waitWriters(t, 0)
}

// A writer that is done gives its buffer back to the pool the readers
// share, rather than leave it to the collector.
func TestWriterGivesItsBufferBack(t *testing.T) {
	// One P: what a goroutine gave back, the next Buffer finds.
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1))
	_, l := testServer(t, Config{}, newFakeBackend())
	c := dial(t, l)
	c.register("me")
	waitWriters(t, 0)
	// The pool may drop what it is given (at a collection, and at random
	// with the race detector): a few tries.
	for i := range 20 {
		token := fmt.Sprintf("token%d", i)
		c.send("PING :" + token)
		c.expect("PONG", DefaultServerName, token)
		waitWriters(t, 0)
		if b := netidle.Buffer(); bytes.Contains(b[:], []byte(token)) {
			return
		}
	}
	t.Fatal("no writer gave its buffer back")
}
