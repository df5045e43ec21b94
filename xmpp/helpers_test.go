package xmpp_test

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"os"
	"reflect"
	"testing"
	"time"

	goxmpp "github.com/xmppo/go-xmpp"

	"xircd/internal/prosodytest"
	"xircd/xmpp"
)

const waitTimeout = 15 * time.Second

// newSession returns a started session for user (password "pw") against
// srv, closed at the end of the test.
func newSession(t *testing.T, srv *prosodytest.Server, user string, tweak func(*xmpp.Config)) *xmpp.Session {
	t.Helper()
	cfg := xmpp.Config{
		JID:            user + "@" + srv.Domain,
		Password:       "pw",
		Server:         srv.Addr,
		CAFile:         srv.CAFile,
		Resource:       "gw",
		Priority:       3,
		ConnectTimeout: 10 * time.Second,
		DeadTimeout:    10 * time.Second,
		PingInterval:   2 * time.Second,
		MinBackoff:     50 * time.Millisecond,
		MaxBackoff:     500 * time.Millisecond,
	}
	if tweak != nil {
		tweak(&cfg)
	}
	s, err := xmpp.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		done := make(chan struct{})
		go func() {
			for range s.Events() {
			}
			close(done)
		}()
		s.Close()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			t.Error("the events did not end after Close")
		}
	})
	return s
}

// start starts s and waits for Connected and the Roster that follows.
func start(t *testing.T, s *xmpp.Session) (xmpp.Connected, xmpp.Roster) {
	t.Helper()
	s.Start()
	c := waitFor[xmpp.Connected](t, s, nil)
	r := waitFor[xmpp.Roster](t, s, nil)
	return c, r
}

// waitFor returns the next event of type T matching ok (nil: any),
// skipping other events; it fails the test after waitTimeout.
func waitFor[T xmpp.Event](t *testing.T, s *xmpp.Session, ok func(T) bool) T {
	t.Helper()
	deadline := time.After(waitTimeout)
	for {
		select {
		case <-s.EventsReady():
			ev, open := s.NextEvent()
			if !open {
				var zero T
				t.Fatalf("events ended while waiting for %T", zero)
			}
			if e, is := ev.(T); is && (ok == nil || ok(e)) {
				return e
			}
			if d, is := ev.(xmpp.Disconnected); is {
				t.Logf("event: Disconnected{%v, %v}", d.Err, d.RetryIn)
			}
		case <-deadline:
			var zero T
			t.Fatalf("timed out waiting for %T", zero)
			return zero
		}
	}
}

// answer returns the answer event of type T to the request that returned
// id and err.
func answer[T xmpp.Event](t *testing.T, s *xmpp.Session, id string, err error) T {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
	return waitFor(t, s, func(ev T) bool { return requestID(ev) == id })
}

// requestID is the request id an answer event carries.
func requestID(ev xmpp.Event) string {
	switch ev := ev.(type) {
	case xmpp.RequestDone:
		return ev.ID
	case xmpp.ArchivePage:
		return ev.ID
	case xmpp.RoomList:
		return ev.ID
	case xmpp.BookmarkList:
		return ev.ID
	case xmpp.DiscoInfo:
		return ev.ID
	case xmpp.DisplayedList:
		return ev.ID
	case xmpp.UploadService:
		return ev.ID
	case xmpp.UploadSlot:
		return ev.ID
	case xmpp.BlockList:
		return ev.ID
	case xmpp.OMEMODeviceList:
		return ev.ID
	case xmpp.OMEMOBundle:
		return ev.ID
	}
	return ""
}

// noEvent fails if an event of type T matching ok arrives within d.
func noEvent[T xmpp.Event](t *testing.T, s *xmpp.Session, d time.Duration, ok func(T) bool) {
	t.Helper()
	deadline := time.After(d)
	for {
		select {
		case <-s.EventsReady():
			ev, _ := s.NextEvent()
			if e, is := ev.(T); is && (ok == nil || ok(e)) {
				t.Fatalf("unexpected event %#v", e)
			}
		case <-deadline:
			return
		}
	}
}

// peer is another XMPP client (plain go-xmpp) used as the other side.
type peer struct {
	c   *goxmpp.Client
	jid string
	in  chan any
}

func newPeer(t *testing.T, srv *prosodytest.Server, user, resource string) *peer {
	t.Helper()
	pem, err := os.ReadFile(srv.CAFile)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(pem)
	opts := goxmpp.Options{
		Host:        srv.Addr,
		User:        user + "@" + srv.Domain,
		Password:    "pw",
		Resource:    resource,
		NoTLS:       true,
		StartTLS:    true,
		TLSConfig:   &tls.Config{ServerName: srv.Domain, RootCAs: pool},
		DialTimeout: 10 * time.Second,
	}
	c, err := opts.NewClient()
	if err != nil {
		t.Fatalf("peer %s/%s: %v", user, resource, err)
	}
	p := &peer{c: c, jid: c.JID(), in: make(chan any, 100)}
	go func() {
		for {
			st, err := c.Recv()
			if err != nil {
				close(p.in)
				return
			}
			p.in <- st
		}
	}()
	return p
}

func (p *peer) send(t *testing.T, format string, args ...any) {
	t.Helper()
	if _, err := p.c.SendOrg(fmt.Sprintf(format, args...)); err != nil {
		t.Fatalf("peer send: %v", err)
	}
}

// recv returns the next stanza of type T matching ok.
func recvPeer[T any](t *testing.T, p *peer, ok func(T) bool) T {
	t.Helper()
	deadline := time.After(waitTimeout)
	for {
		select {
		case st, open := <-p.in:
			if !open {
				t.Fatalf("peer %s disconnected", p.jid)
			}
			if e, is := st.(T); is && (ok == nil || ok(e)) {
				return e
			}
		case <-deadline:
			var zero T
			t.Fatalf("peer %s: timed out waiting for %v", p.jid, reflect.TypeOf(zero))
			return zero
		}
	}
}

// register creates accounts with password "pw".
func register(t *testing.T, srv *prosodytest.Server, users ...string) {
	t.Helper()
	for _, u := range users {
		if _, err := srv.Register(u, "pw"); err != nil {
			t.Fatal(err)
		}
	}
}

// mutual writes rosters in which a and b are subscribed to each other.
// aliceWithBob starts a server where alice and bob have each other in
// their rosters, and alice's session, connected.
func aliceWithBob(t *testing.T) (*prosodytest.Server, *xmpp.Session) {
	t.Helper()
	srv := prosodytest.StartT(t, prosodytest.Options{})
	register(t, srv, "alice", "bob")
	mutual(t, srv, "alice", "bob")
	s := newSession(t, srv, "alice", nil)
	start(t, s)
	return srv, s
}

func mutual(t *testing.T, srv *prosodytest.Server, a, b string) {
	t.Helper()
	d := "@" + srv.Domain
	if err := srv.SetRoster(a, []prosodytest.RosterEntry{{JID: b + d, Subscription: "both"}}); err != nil {
		t.Fatal(err)
	}
	if err := srv.SetRoster(b, []prosodytest.RosterEntry{{JID: a + d, Subscription: "both"}}); err != nil {
		t.Fatal(err)
	}
}
