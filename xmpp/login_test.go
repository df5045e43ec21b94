package xmpp_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	goxmpp "github.com/xmppo/go-xmpp"

	"xircd/internal/prosodytest"
	"xircd/xmpp"
)

// Prosody 0.12 stores SCRAM-SHA-1 keys only, so it offers neither
// SCRAM-SHA-256 nor its -PLUS variant: those are tested against a scripted
// server (TestNegotiationSCRAM). It binds channels with tls-unique only, so
// it offers SCRAM-SHA-1-PLUS over TLS 1.2 alone.
func TestLoginSCRAMMechanisms(t *testing.T) {
	for _, tc := range []struct {
		name string
		opts prosodytest.Options
		want string
	}{
		{"SCRAM-SHA-1 over TLS 1.3", prosodytest.Options{}, "SCRAM-SHA-1"},
		{"SCRAM-SHA-1-PLUS over TLS 1.2", prosodytest.Options{TLS12: true}, "SCRAM-SHA-1-PLUS"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := prosodytest.StartT(t, tc.opts)
			register(t, srv, "alice")
			s := newSession(t, srv, "alice", nil)
			c, _ := start(t, s)
			if c.Mechanism != tc.want {
				t.Errorf("logged in with %q, want %q", c.Mechanism, tc.want)
			}
		})
	}
}

// writeOtherCA writes a self-signed certificate that signed nothing the
// server has.
func writeOtherCA(t *testing.T) string {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(7), Subject: pkix.Name{CommonName: "localhost"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature, BasicConstraintsValid: true, IsCA: true,
		DNSNames: []string{"localhost"},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "other-ca.pem")
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestTLSWithWrongCA(t *testing.T) {
	srv := prosodytest.StartT(t, prosodytest.Options{DirectTLS: true})
	register(t, srv, "alice")
	for _, mode := range []string{"starttls", "direct"} {
		t.Run(mode, func(t *testing.T) {
			s := newSession(t, srv, "alice", func(c *xmpp.Config) {
				c.CAFile, c.TLS = writeOtherCA(t), mode
				if mode == "direct" {
					c.Server = srv.DirectTLSAddr
				}
			})
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			err := s.Check(ctx)
			var ce *xmpp.ConnectError
			if !errors.Is(err, xmpp.ErrTLS) || !errors.As(err, &ce) || ce.Stage != "tls" {
				t.Fatalf("Check with the wrong CA = %v, want ErrTLS at stage tls", err)
			}
			var unknown x509.UnknownAuthorityError
			if !errors.As(err, &unknown) {
				t.Errorf("the error does not carry the certificate problem: %v", err)
			}
		})
	}
}

// Every session naming one ca_file verifies with the same parsed pool,
// and a file changed in between is used from the next connection on.
func TestCAFileSharedAndReread(t *testing.T) {
	srv := prosodytest.StartT(t, prosodytest.Options{})
	register(t, srv, "alice")
	path := writeOtherCA(t)
	first, err := xmpp.CAFilePool(path)
	if err != nil {
		t.Fatal(err)
	}
	if again, err := xmpp.CAFilePool(path); err != nil || again != first {
		t.Errorf("the same ca_file read twice gave another pool (%v)", err)
	}
	s := newSession(t, srv, "alice", func(c *xmpp.Config) { c.CAFile = path })
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := s.Check(ctx); !errors.Is(err, xmpp.ErrTLS) {
		t.Fatalf("Check with the wrong CA = %v, want ErrTLS", err)
	}
	right, err := os.ReadFile(srv.CAFile)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, right, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := s.Check(ctx); err != nil {
		t.Fatalf("Check after ca_file was replaced by the server's CA: %v", err)
	}
	if now, err := xmpp.CAFilePool(path); err != nil || now == first {
		t.Errorf("the changed ca_file kept its old pool (%v)", err)
	}
}

// Sessions to one server with the same verification share one TLS
// configuration, which every stream keeps; another server, another
// verification or a changed ca_file gets its own.
func TestTLSConfigShared(t *testing.T) {
	path := writeOtherCA(t)
	config := func(jid string, insecure bool) *tls.Config {
		t.Helper()
		s, err := xmpp.New(xmpp.Config{JID: jid, Password: "secret", CAFile: path, InsecureSkipVerify: insecure})
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		tc, err := s.TLSConfig()
		if err != nil {
			t.Fatal(err)
		}
		return tc
	}
	first := config("alice@example.org", false)
	if config("bob@example.org", false) != first {
		t.Error("two sessions to one server have TLS configurations of their own")
	}
	if tc := config("carol@example.net", false); tc == first || tc.ServerName != "example.net" {
		t.Errorf("a session to another server has the first one's TLS configuration (server name %q)", tc.ServerName)
	}
	if config("dave@example.org", true) == first {
		t.Error("a session that does not verify has the TLS configuration of one that does")
	}
	other, err := os.ReadFile(writeOtherCA(t))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, other, 0o644); err != nil {
		t.Fatal(err)
	}
	if config("erin@example.org", false) == first {
		t.Error("a changed ca_file kept the old TLS configuration")
	}
}

// A cancelled connect returns at once, whatever the server does: here
// the client waits for the server's stream header.
func TestConnectCancelled(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	accepted := make(chan struct{}, 1)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			defer c.Close()
			// Read the client's stream header, then say nothing: the
			// client is waiting for the server's stream now.
			c.Read(make([]byte, 100))
			accepted <- struct{}{}
		}
	}()
	s, err := xmpp.New(xmpp.Config{JID: "alice@localhost", Password: "pw", Server: ln.Addr().String(), ConnectTimeout: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Check(ctx) }()
	<-accepted
	cancel()
	select {
	case err := <-done:
		if !errors.Is(err, context.Canceled) {
			t.Errorf("cancelled Check = %v, want context.Canceled", err)
		}
	case <-time.After(waitTimeout):
		t.Fatal("a cancelled Check does not return")
	}
}

// aliceThroughProxy starts a server with alice and bob in each other's
// rosters, alice's session going through a proxy the test can cut, and bob
// as an independent client.
func aliceThroughProxy(t *testing.T, opts prosodytest.Options) (*prosodytest.Server, *prosodytest.Proxy, *xmpp.Session, *peer) {
	t.Helper()
	srv := prosodytest.StartT(t, opts)
	register(t, srv, "alice", "bob")
	mutual(t, srv, "alice", "bob")
	bh := prosodytest.StartProxy(t, srv.Addr)
	s := newSession(t, srv, "alice", func(c *xmpp.Config) { c.Server = bh.Addr })
	start(t, s)
	bob := newPeer(t, srv, "bob", "desk")
	recvPeer(t, bob, func(p goxmpp.Presence) bool { return strings.HasPrefix(p.From, "alice@localhost/") })
	return srv, bh, s, bob
}

// sendAll sends the messages, waiting out a reconnect when the stream is
// down (as the bridge queues them).
func sendAll(t *testing.T, s *xmpp.Session, to string, bodies []string) {
	t.Helper()
	for _, body := range bodies {
		for {
			_, err := s.SendMessage(xmpp.OutMessage{To: to, Body: body})
			if err == nil {
				break
			}
			if !errors.Is(err, xmpp.ErrNotConnected) {
				t.Fatal(err)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
}

// expectOnce checks that bob receives each body exactly once.
func expectOnce(t *testing.T, bob *peer, bodies []string) {
	t.Helper()
	want := map[string]int{}
	for _, b := range bodies {
		want[b] = 0
	}
	for got := 0; got < len(bodies); {
		c := recvPeer(t, bob, func(c goxmpp.Chat) bool { _, ok := want[c.Text]; return ok })
		if want[c.Text]++; want[c.Text] > 1 {
			t.Fatalf("bob got %q twice", c.Text)
		}
		got++
	}
	// Nothing more comes: no duplicate after the last one either.
	deadline := time.After(time.Second)
	for {
		select {
		case st, open := <-bob.in:
			if c, ok := st.(goxmpp.Chat); ok && open {
				if _, mine := want[c.Text]; mine {
					t.Fatalf("bob got %q again", c.Text)
				}
			}
		case <-deadline:
			return
		}
	}
}

func bodies(prefix string, n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("%s-%02d", prefix, i)
	}
	return out
}

// The TCP connection is cut under a stream of messages both ways: the
// session resumes (no roster, no rejoin), and every message arrives
// exactly once.
func TestResumeAfterCut(t *testing.T) {
	srv, bh, s, bob := aliceThroughProxy(t, prosodytest.Options{})
	room := "resume@" + srv.MUCDomain
	if err := s.JoinRoom(room, "alice", "", 0, time.Time{}); err != nil {
		t.Fatal(err)
	}
	self := waitFor(t, s, func(p xmpp.Presence) bool { return p.MUC != nil && p.From == room+"/alice" })
	if hasCode(self.MUC.Codes, 201) {
		id, err := s.AcceptRoomDefaults(t.Context(), room)
		done(t, s, id, err)
	}

	out, in := bodies("out", 45), bodies("in", 45)
	fromBob := func(bodies []string) {
		for _, b := range bodies {
			bob.send(t, "<message to='alice@localhost' type='chat'><body>%s</body></message>", b)
		}
	}
	sendAll(t, s, "bob@localhost", out[:15])
	fromBob(in[:15])
	// Then the path swallows everything: what both sides write now is
	// lost with the connection and must be sent again after resuming.
	bh.Freeze(true)
	sendAll(t, s, "bob@localhost", out[15:30])
	fromBob(in[15:30])
	time.Sleep(200 * time.Millisecond) // let both write it into the void
	bh.Cut()
	bh.Freeze(false)
	fromBob(in[30:])
	sendAll(t, s, "bob@localhost", out[30:])

	// Every incoming message once; the reconnect in between is a resumed one.
	got := map[string]int{}
	resumed := false
	deadline := time.After(waitTimeout)
	for len(got) < len(in) || !resumed {
		select {
		case <-s.EventsReady():
			ev, _ := s.NextEvent()
			switch ev := ev.(type) {
			case xmpp.Message:
				if got[ev.Body]++; got[ev.Body] > 1 {
					t.Fatalf("alice got %q twice", ev.Body)
				}
			case xmpp.Connected:
				if !ev.Resumed {
					t.Fatalf("reconnected with a fresh session, want it resumed: %+v", ev)
				}
				resumed = true
			case xmpp.Roster:
				t.Fatal("the roster was loaded again on a resumed stream")
			case xmpp.Presence:
				if ev.From == room+"/alice" {
					t.Fatal("the room was joined again on a resumed stream")
				}
			}
		case <-deadline:
			t.Fatalf("alice got %d of %d messages (resumed: %v)", len(got), len(in), resumed)
		}
	}
	expectOnce(t, bob, out)

	// The room is still joined: its messages arrive without a rejoin.
	bob.send(t, "<presence to='%s/bob'><x xmlns='http://jabber.org/protocol/muc'/></presence>", room)
	bob.send(t, "<message to='%s' type='groupchat'><body>still here</body></message>", room)
	waitFor(t, s, func(m xmpp.Message) bool { return m.Type == "groupchat" && m.Body == "still here" })
}

// When the server lost the session (here: restarted), the resumption is
// refused: a fresh login follows, and the messages it never got are sent
// again, once, with their ids.
func TestResumeRefusedFallsBackToFreshLogin(t *testing.T) {
	srv, bh, s, _ := aliceThroughProxy(t, prosodytest.Options{})
	bh.Freeze(true) // what alice writes now never arrives
	lost := bodies("lost", 5)
	ids := map[string]string{}
	for _, b := range lost {
		id, err := s.SendMessage(xmpp.OutMessage{To: "bob@localhost", Body: b})
		if err != nil {
			t.Fatal(err)
		}
		ids[b] = id
	}
	if err := srv.Restart(); err != nil {
		t.Fatal(err)
	}
	bh.Cut()
	bh.Freeze(false)
	c := waitFor[xmpp.Connected](t, s, nil)
	if c.Resumed {
		t.Fatal("resumed a session the restarted server cannot have")
	}
	waitFor[xmpp.Roster](t, s, nil)
	bob := newPeer(t, srv, "bob", "desk2")
	expectOnce(t, bob, lost)
	_ = ids
}

// Without stream management, messages written after the last answer of
// the server are reported as unconfirmed when the stream is lost.
func TestUnconfirmedWithoutStreamManagement(t *testing.T) {
	_, bh, s, bob := aliceThroughProxy(t, prosodytest.Options{ExtraConfig: `modules_disabled = { "s2s", "limits", "smacks" }`})
	sendAll(t, s, "bob@localhost", []string{"confirmed"})
	recvPeer(t, bob, func(c goxmpp.Chat) bool { return c.Text == "confirmed" })
	// The session asks for a confirmation within a second; give it time.
	time.Sleep(3 * time.Second)

	bh.Freeze(true)
	lost := bodies("unconfirmed", 3)
	ids := map[string]bool{}
	for _, b := range lost {
		id, err := s.SendMessage(xmpp.OutMessage{To: "bob@localhost", Body: b})
		if err != nil {
			t.Fatal(err)
		}
		ids[id] = true
	}
	time.Sleep(100 * time.Millisecond) // written to the proxy
	bh.Cut()
	u := waitFor[xmpp.Unconfirmed](t, s, nil)
	var got []string
	for _, m := range u.Messages {
		got = append(got, m.Body)
		if !ids[m.ID] || m.To != "bob@localhost" {
			t.Errorf("unconfirmed message %+v: not one we sent", m)
		}
	}
	if strings.Join(got, " ") != strings.Join(lost, " ") {
		t.Errorf("unconfirmed = %q, want %q", got, lost)
	}
	d := waitFor[xmpp.Disconnected](t, s, nil)
	if d.Err == nil {
		t.Errorf("Disconnected after Unconfirmed = %+v", d)
	}
}
