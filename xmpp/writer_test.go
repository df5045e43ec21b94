package xmpp

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"math/rand/v2"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"xircd/internal/netidle"
)

// streamEnd is what loggedIn passes on for the client's </stream:stream>.
const streamEnd = "/stream"

// loggedIn starts a session whose scripted server logs it in (offering
// stream management when sm is set), then reads everything the client
// writes and passes each element on the returned channel, closed when
// the client hangs up. The server reads as long as read lets it (nil: no
// limit) without ever making the client wait, and writes what the test
// sends on the other channel. Once it is connected, the session's events
// are drained; it is closed at the end of the test.
func loggedIn(t *testing.T, sm bool, read <-chan struct{}) (*Session, <-chan *xmlAny, chan<- string) {
	t.Helper()
	in := make(chan *xmlAny, 4096)
	out := make(chan string, 16)
	features := bindOnly
	if sm {
		features += "<sm xmlns='urn:xmpp:sm:3'/>"
	}
	s := newScripted(t, func(ss *scriptedServer) {
		defer close(in)
		bind := ss.login(features)
		if bind == nil {
			t.Error("server: no bind request")
			return
		}
		ss.write("<iq type='result' id='" + idOf(bind) + "'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'><jid>alice@example.org/x</jid></bind></iq>")
		go func() {
			for st := range out {
				ss.write(st)
			}
		}()
		ss.conn.SetReadDeadline(time.Time{})
		for {
			if read != nil {
				<-read
			}
			tok, err := ss.dec.Token()
			if err != nil {
				return
			}
			switch tok := tok.(type) {
			case xml.StartElement:
				var el xmlAny
				if err := ss.dec.DecodeElement(&el, &tok); err != nil {
					return
				}
				in <- &el
			case xml.EndElement:
				in <- &xmlAny{XMLName: xml.Name{Local: streamEnd}}
			}
		}
	})
	s.Start()
	t.Cleanup(func() {
		s.Close()
		close(out)
	})
	for ev := range s.Events() {
		if _, ok := ev.(Connected); ok {
			break
		}
		if d, ok := ev.(Disconnected); ok {
			t.Fatalf("login: %v", d.Err)
		}
	}
	go func() {
		for range s.Events() {
		}
	}()
	return s, in, out
}

// nextElement returns the next element the server read, failing the test
// when the client hung up or after waitLimit.
func nextElement(t *testing.T, in <-chan *xmlAny) *xmlAny {
	t.Helper()
	select {
	case el, ok := <-in:
		if !ok {
			t.Fatal("the client hung up")
		}
		return el
	case <-time.After(waitLimit):
		t.Fatal("the client wrote nothing more")
		return nil
	}
}

const waitLimit = 10 * time.Second

// nextMessage returns the body of the next message the server read,
// skipping other elements.
func nextMessage(t *testing.T, in <-chan *xmlAny) string {
	t.Helper()
	for {
		if el := nextElement(t, in); el.XMLName.Local == "message" {
			return bodyOf(el)
		}
	}
}

func bodyOf(el *xmlAny) string {
	inner := string(el.Inner)
	start := strings.Index(inner, "<body>")
	end := strings.Index(inner, "</body>")
	if start < 0 || end < start {
		return ""
	}
	return inner[start+len("<body>") : end]
}

func sendBody(t *testing.T, s *Session, body string) {
	t.Helper()
	if _, err := s.SendMessage(OutMessage{To: "bob@example.org", Body: body}); err != nil {
		t.Fatalf("sending %q: %v", body, err)
	}
}

// waitNoWriter waits until no stream has a writer goroutine.
func waitNoWriter(t *testing.T) {
	t.Helper()
	for deadline := time.Now().Add(waitLimit); WriterGoroutines() > 0; time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("%d writer goroutines still run on an idle stream", WriterGoroutines())
		}
	}
}

// An idle stream has no writer goroutine: one comes with a burst and
// goes once it is written, and the session is back to the goroutines it
// had before.
func TestIdleStreamHasNoWriter(t *testing.T) {
	s, in, _ := loggedIn(t, false, nil)
	for range 3 { // roster, carbons, presence
		nextElement(t, in)
	}
	waitNoWriter(t)
	before := runtime.NumGoroutine()
	const n = 100
	for i := range n {
		sendBody(t, s, fmt.Sprint(i))
	}
	for i := range n {
		if got := nextMessage(t, in); got != fmt.Sprint(i) {
			t.Fatalf("message %d: got %q", i, got)
		}
	}
	waitNoWriter(t)
	for deadline := time.Now().Add(waitLimit); runtime.NumGoroutine() > before; time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("%d goroutines after the burst, %d before", runtime.NumGoroutine(), before)
		}
	}
}

// Sends racing with the writer's decision to end: every message arrives,
// each sender's in order, at most one writer runs at a time, and none is
// missing while items wait.
func TestSendsWhileTheWriterComesAndGoes(t *testing.T) {
	s, in, _ := loggedIn(t, true, nil)
	c, err := s.current()
	if err != nil {
		t.Fatal(err)
	}
	const senders, each = 4, 200
	var wg sync.WaitGroup
	quit := make(chan struct{})
	defer func() {
		close(quit) // when the test failed early
		wg.Wait()
	}()
	for k := range senders {
		wg.Go(func() {
			for i := range each {
				select {
				case <-quit:
					return
				default:
				}
				if _, err := s.SendMessage(OutMessage{To: "bob@example.org", Body: fmt.Sprintf("%d-%d", k, i)}); err != nil {
					t.Error(err)
					return
				}
				// Pauses of various lengths: the queue drains, the
				// writer ends, and the next send starts one, often just
				// as the last one decides to end.
				if i%4 != 0 {
					time.Sleep(time.Duration(rand.IntN(2000)) * time.Microsecond)
				}
			}
		})
	}
	// Meanwhile: items never wait without a writer (one that missed them
	// would leave them to the next send or timer), and two writers never
	// run at once.
	stranded, most := 0, 0
	stop, stopped := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(stopped)
		for n := 0; ; n++ {
			select {
			case <-stop:
				return
			default:
			}
			c.mu.Lock()
			if (c.queued.Len() > 0 || c.due != 0) && !c.writing {
				stranded++
			}
			c.mu.Unlock()
			if n%64 == 0 {
				// A writer that has just decided to end is still a
				// goroutine for a moment, beside the one the next send
				// starts: two are counted only when a second look, after
				// letting the first return, still finds them.
				if w := WriterGoroutines(); w > 1 {
					runtime.Gosched()
					time.Sleep(time.Millisecond)
					most = max(most, min(w, WriterGoroutines()))
				}
			}
			runtime.Gosched()
		}
	}()
	next := make([]int, senders)
	for range senders * each {
		var k, i int
		body := nextMessage(t, in)
		if _, err := fmt.Sscanf(body, "%d-%d", &k, &i); err != nil || k >= senders {
			t.Fatalf("unexpected message %q", body)
		}
		if i != next[k] {
			t.Fatalf("sender %d: got message %d, want %d", k, i, next[k])
		}
		next[k]++
	}
	close(stop)
	<-stopped
	if stranded > 0 {
		t.Errorf("items waited without a writer %d times", stranded)
	}
	if most > 1 {
		t.Errorf("%d writers ran at once", most)
	}
	waitNoWriter(t)
}

// Stream management goes on while the writer comes and goes: the ack
// timer asks for a confirmation of a few stanzas though nothing else is
// written, ackEvery stanzas ask at once, and the server's <r/> is
// answered with what the session handled.
func TestStreamManagementWithAnOnDemandWriter(t *testing.T) {
	s, in, out := loggedIn(t, true, nil)
	var names []string
	for range 4 { // roster, enable, carbons, presence
		names = append(names, nextElement(t, in).XMLName.Local)
	}
	if strings.Join(names, " ") != "iq enable iq presence" {
		t.Fatalf("after bind: %v", names)
	}
	out <- "<enabled xmlns='urn:xmpp:sm:3' id='sm-1' resume='true'/>"
	waitNoWriter(t)

	// Three stanzas (and carbons and presence before them): fewer than
	// ackEvery, so only the timer asks.
	for i := range 3 {
		sendBody(t, s, fmt.Sprint(i))
	}
	for i := range 3 {
		if got := nextMessage(t, in); got != fmt.Sprint(i) {
			t.Fatalf("message %d: got %q", i, got)
		}
	}
	if el := nextElement(t, in); el.XMLName.Local != "r" {
		t.Fatalf("after the messages: <%s>, want <r/>", el.XMLName.Local)
	}
	out <- "<a xmlns='urn:xmpp:sm:3' h='5'/>"

	for i := range ackEvery {
		sendBody(t, s, fmt.Sprint(i))
	}
	for i := range ackEvery {
		if got := nextMessage(t, in); got != fmt.Sprint(i) {
			t.Fatalf("message %d: got %q", i, got)
		}
	}
	if el := nextElement(t, in); el.XMLName.Local != "r" {
		t.Fatalf("after %d messages: <%s>, want <r/>", ackEvery, el.XMLName.Local)
	}
	out <- fmt.Sprintf("<a xmlns='urn:xmpp:sm:3' h='%d'/>", 5+ackEvery)

	out <- "<message from='bob@example.org/x' to='alice@example.org/x' type='chat'><body>hi</body></message>"
	out <- "<r xmlns='urn:xmpp:sm:3'/>"
	el := nextElement(t, in)
	for el.XMLName.Local == "r" { // the ack timer's, on a slow machine
		el = nextElement(t, in)
	}
	if el.XMLName.Local != "a" || attrOf(el, "h") != "1" {
		t.Fatalf("answer to <r/>: <%s %v>, want <a h='1'/>", el.XMLName.Local, el.Attrs)
	}
	// The answer came after the reader handled the server's <a/>.
	s.sent.mu.Lock()
	left := bodiesOf(s.sent.unacked)
	s.sent.mu.Unlock()
	if len(left) != 0 {
		t.Errorf("unacknowledged after the server's <a/>: %q", left)
	}
}

func attrOf(el *xmlAny, name string) string {
	for _, a := range el.Attrs {
		if a.Name.Local == name {
			return a.Value
		}
	}
	return ""
}

// Close writes what was queued, then ends the stream, and leaves no
// writer behind.
func TestCloseWritesWhatWasQueuedFirst(t *testing.T) {
	s, in, _ := loggedIn(t, false, nil)
	for range 3 {
		nextElement(t, in)
	}
	const n = 200
	for i := range n {
		sendBody(t, s, fmt.Sprint(i))
	}
	s.Close()
	if _, err := s.SendMessage(OutMessage{To: "bob@example.org", Body: "late"}); !errors.Is(err, ErrClosed) {
		t.Errorf("SendMessage after Close = %v, want ErrClosed", err)
	}
	got := 0
	for el := range in {
		switch el.XMLName.Local {
		case "message":
			if body := bodyOf(el); body != fmt.Sprint(got) {
				t.Fatalf("message %d: got %q", got, body)
			}
			got++
		case streamEnd:
			if got != n {
				t.Fatalf("the stream ended after %d of %d messages", got, n)
			}
			// The writer that wrote the end is still a goroutine for
			// a moment after its last write.
			waitNoWriter(t)
			return
		}
	}
	t.Fatalf("the client hung up without </stream:stream>, after %d of %d messages", got, n)
}

// A server that stops reading: sends are queued up to maxQueued more
// than the writer holds, then refused; once it reads again, every
// message that was accepted arrives, in order.
func TestSendQueueBound(t *testing.T) {
	read := make(chan struct{})
	stop, again := make(chan struct{}), make(chan struct{})
	go func() {
		for {
			select {
			case read <- struct{}{}:
			case <-stop:
				<-again
				close(read)
				return
			}
		}
	}()
	s, in, _ := loggedIn(t, false, read)
	for range 3 {
		nextElement(t, in)
	}
	waitNoWriter(t)
	close(stop)
	accepted := 0
	for {
		_, err := s.SendMessage(OutMessage{To: "bob@example.org", Body: fmt.Sprint(accepted)})
		if err != nil {
			if !strings.Contains(err.Error(), "queue full") {
				t.Fatalf("message %d: %v, want the queue full", accepted, err)
			}
			break
		}
		accepted++
	}
	if accepted < maxQueued {
		t.Fatalf("refused after %d messages, want at least %d", accepted, maxQueued)
	}
	close(again)
	for i := range accepted {
		if got := nextMessage(t, in); got != fmt.Sprint(i) {
			t.Fatalf("message %d: got %q", i, got)
		}
	}
}

// A writer that is done gives its buffer back to the pool the readers
// share, rather than leave it to the collector.
func TestWriterGivesItsBufferBack(t *testing.T) {
	// One P: what a goroutine gave back, the next Buffer finds.
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1))
	s, in, _ := loggedIn(t, false, nil)
	for range 3 { // roster, carbons, presence
		nextElement(t, in)
	}
	waitNoWriter(t)
	// The pool may drop what it is given (at a collection, and at random
	// with the race detector): a few tries.
	for i := range 20 {
		token := fmt.Sprintf("token%d", i)
		sendBody(t, s, token)
		if got := nextMessage(t, in); got != token {
			t.Fatalf("got %q, want %q", got, token)
		}
		waitNoWriter(t)
		if b := netidle.Buffer(); bytes.Contains(b[:], []byte(token)) {
			return
		}
	}
	t.Fatal("no writer gave its buffer back")
}
