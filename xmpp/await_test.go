package xmpp

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"fmt"
	"math/big"
	"net"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"xircd/internal/netidle"
)

// tlsScripted starts a session whose scripted server is behind direct
// TLS (at most version maxVersion) on a loopback socket: it logs the
// session in, then hands the test its TLS connection and the socket
// under it. It returns once the session is connected and its reader
// waits for the socket.
func tlsScripted(t *testing.T, maxVersion uint16) (s *Session, server *tls.Conn, socket net.Conn) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "example.org"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		DNSNames: []string{"example.org"},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	s, err = New(Config{JID: "alice@example.org", Password: "pw", Server: ln.Addr().String(), TLS: TLSDirect,
		InsecureSkipVerify: true, ConnectTimeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	loggedIn := make(chan struct{})
	go func() {
		raw, err := ln.Accept()
		if err != nil {
			return
		}
		socket = &splitConn{Conn: raw}
		server = tls.Server(socket, &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key}}, MaxVersion: maxVersion})
		ss := &scriptedServer{t: t, conn: server}
		bind := ss.login(bindOnly)
		if bind == nil {
			t.Error("server: no bind request")
			raw.Close()
			return
		}
		ss.write("<iq type='result' id='" + idOf(bind) + "'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'><jid>alice@example.org/x</jid></bind></iq>")
		close(loggedIn)
		// What the client writes from now on is read and dropped.
		server.SetReadDeadline(time.Time{})
		for ss.next() != nil {
		}
	}()
	s.Start()
	t.Cleanup(func() {
		go func() {
			for range s.Events() {
			}
		}()
		s.Close()
	})
	waitEvent(t, s, func(ev Event) bool { _, ok := ev.(Connected); return ok })
	<-loggedIn
	WaitReaderIdle(t)
	return s, server, socket
}

// waitEvent returns the first event for which ok holds, failing the
// test if the stream goes down first or after 15 seconds.
func waitEvent(t *testing.T, s *Session, ok func(Event) bool) Event {
	t.Helper()
	deadline := time.After(15 * time.Second)
	for {
		select {
		case <-s.EventsReady():
			ev, open := s.NextEvent()
			if !open {
				t.Fatal("the session ended")
			}
			if ok(ev) {
				return ev
			}
			if d, down := ev.(Disconnected); down {
				t.Fatalf("disconnected: %v", d.Err)
			}
		case <-deadline:
			t.Fatal("timed out waiting for an event")
		}
	}
}

// chat is a chat message from bob whose body is padded so that the
// stanza is n bytes long.
func chat(t *testing.T, id string, n int) string {
	t.Helper()
	head := fmt.Sprintf("<message from='bob@example.org/x' to='alice@example.org/x' type='chat' id='%s'><body>%s", id, id)
	tail := "</body></message>"
	if pad := n - len(head) - len(tail); pad >= 0 {
		return head + strings.Repeat(".", pad) + tail
	}
	t.Fatalf("a message of %d bytes is too short", n)
	return ""
}

func waitBody(t *testing.T, s *Session, id string) {
	t.Helper()
	waitEvent(t, s, func(ev Event) bool { m, ok := ev.(Message); return ok && strings.HasPrefix(m.Body, id) })
}

// Once a stanza that ends where the decoder's buffer ends is handled,
// the rest of the TLS record is still delivered while the socket stays
// quiet: the reader must not wait for the socket while TLS holds data.
func TestIdleWaitTakesWhatTLSHolds(t *testing.T) {
	for _, v := range []uint16{tls.VersionTLS12, tls.VersionTLS13} {
		t.Run(tls.VersionName(v), func(t *testing.T) {
			s, server, _ := tlsScripted(t, v)
			// One record: the first stanza fills the buffer exactly.
			server.Write([]byte(chat(t, "first", netidle.BufferSize) + chat(t, "second", 200) + chat(t, "third", 3000)))
			for _, id := range []string{"first", "second", "third"} {
				waitBody(t, s, id)
			}
		})
	}
}

// Stanzas split across TLS records, and records split across TCP
// segments, are decoded whole.
func TestIdleWaitStanzasInPieces(t *testing.T) {
	for _, v := range []uint16{tls.VersionTLS12, tls.VersionTLS13} {
		t.Run(tls.VersionName(v), func(t *testing.T) {
			s, server, socket := tlsScripted(t, v)
			msg := chat(t, "records", 5000)
			for _, piece := range []string{msg[:10], msg[10:1030], msg[1030:1031], msg[1031:]} {
				server.Write([]byte(piece))
				time.Sleep(5 * time.Millisecond) // a segment of its own
			}
			waitBody(t, s, "records")
			socket.(*splitConn).split.Store(true)
			server.Write([]byte(chat(t, "segments", 3000)))
			waitBody(t, s, "segments")
			WaitReaderIdle(t)
		})
	}
}

// splitConn writes each write in two segments while split is set, and
// keeps what is written while hold is set.
type splitConn struct {
	net.Conn
	split atomic.Bool
	hold  atomic.Bool
	held  []byte // written by the test's goroutine only
}

func (c *splitConn) Write(p []byte) (int, error) {
	if c.hold.Load() {
		c.held = append(c.held, p...)
		return len(p), nil
	}
	if !c.split.Load() || len(p) < 2 {
		return c.Conn.Write(p)
	}
	n, err := c.Conn.Write(p[:len(p)/2])
	if err != nil {
		return n, err
	}
	time.Sleep(5 * time.Millisecond) // a segment of its own
	m, err := c.Conn.Write(p[len(p)/2:])
	return n + m, err
}

// With TLS 1.2, crypto/tls reads a close_notify alert that follows a
// record with the record's last data, and returns both: the timeout of
// a partial alert must not reach the decoder with that data. The stream
// ends only once the whole alert has come.
func TestIdleWaitDataThenPartialAlert(t *testing.T) {
	s, server, socket := tlsScripted(t, tls.VersionTLS12)
	split := socket.(*splitConn)
	split.hold.Store(true)
	server.Write([]byte(chat(t, "first", netidle.BufferSize) + chat(t, "second", 200)))
	server.CloseWrite()
	split.SetWriteDeadline(time.Time{}) // CloseWrite let no more writes through
	split.hold.Store(false)
	held := split.held
	split.Write(held[:len(held)-10])
	waitBody(t, s, "first")
	waitBody(t, s, "second")
	WaitReaderIdle(t)
	split.Write(held[len(held)-10:])
	d := waitEvent(t, s, func(ev Event) bool { _, ok := ev.(Disconnected); return ok }).(Disconnected)
	// Inside the stream's element, the end is an unexpected EOF.
	if d.Err == nil || !strings.Contains(d.Err.Error(), "unexpected EOF") && !strings.Contains(d.Err.Error(), "server closed the connection") {
		t.Errorf("the stream ended with %v, want the end the server's alert made", d.Err)
	}
}

// A stream that has read everything gives its read buffer back before it
// waits for the socket.
func TestIdleStreamHoldsNoReadBuffer(t *testing.T) {
	s, server, _ := tlsScripted(t, tls.VersionTLS13)
	body := strings.Repeat(".", 600) + "idle-token"
	fmt.Fprintf(server, "<message from='bob@example.org/x' to='alice@example.org/x' type='chat' id='m1'><body>%s</body></message>", body)
	waitEvent(t, s, func(ev Event) bool { m, ok := ev.(Message); return ok && m.Body == body })
	WaitReaderIdle(t)
	// The buffers given back last are kept: the stream's is among them,
	// with what it read.
	var taken []*[netidle.BufferSize]byte
	defer func() {
		for _, b := range taken {
			netidle.Release(b)
		}
	}()
	for range 4 {
		b := netidle.Buffer()
		taken = append(taken, b)
		if bytes.Contains(b[:], []byte("idle-token")) {
			return
		}
	}
	t.Error("the idle stream kept its read buffer")
}

// A message's fields do not carry over to the next message, which may be
// decoded into the same struct.
func TestMessageFieldsDoNotCarryOver(t *testing.T) {
	// One P: the next message finds the struct the last one gave back.
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1))
	s, server, _ := tlsScripted(t, tls.VersionTLS13)
	for i := range 10 {
		fmt.Fprintf(server, "<message from='bob@example.org/x' to='alice@example.org/x' type='chat' id='a%d'><body>first</body><subject>topic</subject><thread>t1</thread></message>", i)
		fmt.Fprintf(server, "<message from='bob@example.org/x' to='alice@example.org/x' type='chat' id='b%d'><body>second</body></message>", i)
		id := fmt.Sprintf("b%d", i)
		m := waitEvent(t, s, func(ev Event) bool { m, ok := ev.(Message); return ok && m.ID == id }).(Message)
		if m.Body != "second" || m.HasSubject || m.Thread != "" {
			t.Fatalf("message %d: body %q, subject %q (%v), thread %q: the first's carried over", i, m.Body, m.Subject, m.HasSubject, m.Thread)
		}
	}
}
