package xmpp

import (
	"context"
	"encoding/xml"
	"io"
	"net"
	"sync"
	"testing"
	"time"
)

// eventsEnd waits until the session's events have ended, failing the test
// after 15 seconds.
func eventsEnd(t *testing.T, s *Session) {
	t.Helper()
	ended := make(chan struct{})
	go func() {
		for range s.Events() {
		}
		close(ended)
	}()
	select {
	case <-ended:
	case <-time.After(15 * time.Second):
		t.Fatal("the session did not end after Close")
	}
}

// Close cancels a connection attempt under way: here the server never
// answers the stream header, and the attempt would wait an hour.
func TestCloseCancelsConnect(t *testing.T) {
	header := make(chan struct{})
	s := newScripted(t, func(ss *scriptedServer) {
		ss.conn.Read(make([]byte, 1))
		close(header)
		io.Copy(io.Discard, ss.conn) // until the client hangs up
	})
	s.cfg.ConnectTimeout = time.Hour
	s.Start()
	<-header
	s.Close()
	eventsEnd(t, s)
}

// endOfLogin calls hook the first time the session clears its connection's
// deadlines: once the login is done, before the stream is served.
type endOfLogin struct {
	net.Conn
	once sync.Once
	hook func()
}

func (c *endOfLogin) SetDeadline(t time.Time) error {
	if t.IsZero() {
		c.once.Do(c.hook)
	}
	return c.Conn.SetDeadline(t)
}

// A Close that comes after the login but before the stream is served
// still ends the stream, politely.
func TestCloseBetweenLoginAndStream(t *testing.T) {
	ended := make(chan struct{})
	var s *Session
	s = newScripted(t, func(ss *scriptedServer) {
		bind := ss.login(bindOnly)
		if bind == nil {
			t.Error("server: no bind request")
			return
		}
		ss.write("<iq type='result' id='" + idOf(bind) + "'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'><jid>alice@example.org/x</jid></bind></iq>")
		ss.conn.SetReadDeadline(time.Time{})
		for {
			tok, err := ss.dec.Token()
			if err != nil {
				return
			}
			if end, ok := tok.(xml.EndElement); ok && end.Name.Local == "stream" {
				close(ended)
				return
			}
		}
	})
	dial := s.dial
	s.dial = func(ctx context.Context, network, addr string) (net.Conn, error) {
		c, err := dial(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		return &endOfLogin{Conn: c, hook: func() {
			go s.Close()
			for !s.isClosing() {
				time.Sleep(time.Millisecond)
			}
		}}, nil
	}
	s.Start()
	select {
	case <-ended:
	case <-time.After(15 * time.Second):
		t.Fatal("the stream was not ended after Close")
	}
	eventsEnd(t, s)
}
