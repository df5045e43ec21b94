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

// waitsShallow reports whether a reader's stack is its wait for the
// socket, not a read through the decoder and TLS.
func waitsShallow(stack string) bool {
	return strings.Contains(stack, "xmpp.(*conn).awaitData(") && !strings.Contains(stack, "crypto/tls.") && !strings.Contains(stack, "encoding/xml.")
}

// WaitReaderIdle waits until the process has one stream's reader and it
// waits for the socket, or fails the test with the reader's stack.
func WaitReaderIdle(t interface {
	Helper()
	Fatalf(string, ...any)
}) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		readers := StacksWith("xmpp.(*conn).reader(")
		if len(readers) == 1 && waitsShallow(readers[0]) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("want one reader waiting for its socket, have %d:\n%s", len(readers), strings.Join(readers, "\n\n"))
		}
		time.Sleep(5 * time.Millisecond)
	}
}
