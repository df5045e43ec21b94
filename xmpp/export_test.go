package xmpp

import (
	"context"
	"crypto/tls"
	"io"
	"runtime"
	"strings"
	"time"
)

// Check connects once, logs in and disconnects, returning the connect
// error (a *ConnectError naming the cause) if any: the login alone, for
// the tests. It does not emit events and needs no Start. It is bounded by
// ctx and Config.ConnectTimeout.
func (s *Session) Check(ctx context.Context) error {
	c, err := s.connect(ctx, nil)
	if err != nil {
		return err
	}
	c.netConn.SetWriteDeadline(time.Now().Add(time.Second))
	io.WriteString(c.netConn, "</stream:stream>")
	return c.netConn.Close()
}

// CAFilePool is caFilePool, for the test that the pool is shared.
var CAFilePool = caFilePool

// TLSConfig is the TLS configuration of the session's next stream.
func (s *Session) TLSConfig() (*tls.Config, error) { return s.tlsConfig() }

// WriterGoroutines counts the goroutines running a stream's writer, in
// every session of the process.
func WriterGoroutines() int {
	buf := make([]byte, 64*1024)
	for {
		n := runtime.Stack(buf, true)
		if n < len(buf) {
			return strings.Count(string(buf[:n]), "xmpp.(*conn).writer(")
		}
		buf = make([]byte, 2*len(buf))
	}
}

// StacksWith returns the stacks of the goroutines, in every session of
// the process, whose stack holds frame (such as "xmpp.(*conn).reader(").
func StacksWith(frame string) []string {
	buf := make([]byte, 64*1024)
	for {
		n := runtime.Stack(buf, true)
		if n < len(buf) {
			var found []string
			for _, g := range strings.Split(string(buf[:n]), "\n\n") {
				if strings.Contains(g, frame) {
					found = append(found, g)
				}
			}
			return found
		}
		buf = make([]byte, 2*len(buf))
	}
}

// WaitReaderIdle waits until no goroutine runs a stream's reader or the
// session's supervision: an idle stream waits for its socket in the
// poller. It fails the test with their stacks.
func WaitReaderIdle(t interface {
	Helper()
	Fatalf(string, ...any)
}) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		busy := append(StacksWith("xmpp.(*conn).read"), StacksWith("xmpp.(*Session).supervise")...)
		if len(busy) == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("want no goroutine reading an idle stream, have %d:\n%s", len(busy), strings.Join(busy, "\n\n"))
		}
		time.Sleep(5 * time.Millisecond)
	}
}
