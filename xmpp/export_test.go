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
