package xmpp

import (
	"fmt"
	"io"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// take waits for q's next token and takes what it stands for.
func take(t *testing.T, q *eventQueue) (Event, bool) {
	t.Helper()
	select {
	case <-q.ready:
	case <-time.After(10 * time.Second):
		t.Fatal("no event ready")
	}
	ev, ok := q.next()
	if ok && ev == nil {
		t.Fatal("a token without an event")
	}
	return ev, ok
}

func numbered(i int) Event { return RequestDone{ID: strconv.Itoa(i)} }

// Events come out in the order they were put, also from several
// goroutines at once, one per token; at most maxWaitingEvents wait, the
// others' puts waiting for room; the end comes after the last event.
func TestEventQueueOrderAndBound(t *testing.T) {
	const producers, each = 4, 3 * maxWaitingEvents
	var most atomic.Int32 // the most events seen waiting at once
	var q *eventQueue
	q = newEventQueue(func(ev Event) bool {
		// Called with q.mu held, before ev is added; the last event may
		// go past the bound.
		if n := int32(q.waiting.Len() + 1); n > most.Load() && ev != (Disconnected{}) {
			most.Store(n)
		}
		return true
	})
	cancel := make(chan struct{})
	var wg sync.WaitGroup
	for p := range producers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				q.put(numbered(p*each+i), cancel)
			}
		}()
	}
	// Nobody takes yet: the producers fill the queue and wait.
	for deadline := time.Now().Add(10 * time.Second); most.Load() < maxWaitingEvents; time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("%d events wait, want %d", most.Load(), maxWaitingEvents)
		}
	}
	time.Sleep(50 * time.Millisecond) // a put past the bound would show by now
	go func() {
		wg.Wait()
		q.end(Disconnected{})
	}()
	next := make([]int, producers) // each producer's next number
	for range producers * each {
		ev, ok := take(t, q)
		if !ok {
			t.Fatal("the queue ended early")
		}
		n, _ := strconv.Atoi(ev.(RequestDone).ID)
		if p := n / each; n%each != next[p] {
			t.Fatalf("got %d from producer %d, want its %d", n%each, p, next[p])
		} else {
			next[p]++
		}
	}
	if n := most.Load(); n != maxWaitingEvents {
		t.Errorf("at most %d events waited, want %d", n, maxWaitingEvents)
	}
	if ev, ok := take(t, q); !ok || ev != (Disconnected{}) {
		t.Fatalf("after the events: %v, %v; want the last Disconnected", ev, ok)
	}
	for range 2 { // ready stays ready, as a closed channel would
		if ev, ok := take(t, q); ok {
			t.Fatalf("after the end: %v", ev)
		}
	}
	if q.waiting.Cap() > keepEventsCap {
		t.Errorf("the drained queue keeps room for %d events, want at most %d", q.waiting.Cap(), keepEventsCap)
	}
}

// A put waiting for room gives up when the session closes; the last event
// goes in even past the bound; OnEvent's false drops an event.
func TestEventQueueCancelEndAndDrop(t *testing.T) {
	q := newEventQueue(func(ev Event) bool { return ev != numbered(1) })
	cancel := make(chan struct{})
	for i := range maxWaitingEvents + 1 {
		q.put(numbered(i), cancel) // 1 is dropped: all fit
	}
	done := make(chan struct{})
	go func() {
		q.put(numbered(-1), cancel)
		close(done)
	}()
	close(cancel)
	<-done
	q.end(Disconnected{})
	var got []Event
	for {
		ev, ok := take(t, q)
		if !ok {
			break
		}
		got = append(got, ev)
	}
	if len(got) != maxWaitingEvents+1 || got[0] != numbered(0) || got[1] != numbered(2) || got[len(got)-1] != (Disconnected{}) {
		t.Errorf("got %d events: %v … %v", len(got), got[:2], got[len(got)-1])
	}
}

// While maxWaitingEvents events wait, the session stops reading its
// stream; once they are taken, everything arrives, in order.
func TestSessionStopsReadingWhileEventsWait(t *testing.T) {
	const messages = maxWaitingEvents + 100
	var written, queued atomic.Int32
	hold := make(chan struct{}) // the stream stays open until the test ends
	defer close(hold)
	s := newScriptedWith(t, Config{OnEvent: func(Event) bool { queued.Add(1); return true }}, func(ss *scriptedServer) {
		bind := ss.login(bindOnly)
		ss.write("<iq type='result' id='" + idOf(bind) + "'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'><jid>alice@example.org/x</jid></bind></iq>")
		go io.Copy(io.Discard, ss.conn)
		ss.conn.SetWriteDeadline(time.Time{})
		for i := range messages {
			if _, err := fmt.Fprintf(ss.conn, "<message from='bob@example.org/x' type='chat'><body>%d</body></message>", i); err != nil {
				return
			}
			written.Add(1)
		}
		<-hold
	})
	s.Start()
	defer s.Close()
	for deadline := time.Now().Add(10 * time.Second); queued.Load() < maxWaitingEvents; time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("%d events queued, want %d", queued.Load(), maxWaitingEvents)
		}
	}
	time.Sleep(100 * time.Millisecond) // the reader would have read on by now
	if n := queued.Load(); n != maxWaitingEvents {
		t.Errorf("%d events queued while nobody took any, want %d", n, maxWaitingEvents)
	}
	if n := written.Load(); n >= messages {
		t.Errorf("the server wrote all %d messages: the reader did not stop", n)
	}
	if ev, _ := take(t, s.events); ev != (Connected{JID: "alice@example.org/x", Mechanism: "PLAIN"}) {
		t.Fatalf("first event %#v, want Connected", ev)
	}
	for i := range messages {
		ev, _ := take(t, s.events)
		if m, ok := ev.(Message); !ok || m.Body != strconv.Itoa(i) {
			t.Fatalf("event %d: %#v, want message %d", i+1, ev, i)
		}
	}
}
