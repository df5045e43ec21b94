package main

import (
	"context"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"xircd/internal/prosodytest"
	"xircd/ircd"
	"xircd/xmpp"
)

// A new user's first XMPP login that times out (a server too busy to
// answer) keeps the IRC login waiting: the client is told, the session
// tries again, and the login completes once the server answers.
func TestFirstLoginTimeoutIsTriedAgain(t *testing.T) {
	srv := prosodytest.StartT(t, prosodytest.Options{})
	jid, err := srv.Register("me", "secret")
	if err != nil {
		t.Fatal(err)
	}
	proxy := prosodytest.StartProxy(t, srv.Addr)
	cfg := defaultConfig()
	cfg.XMPP.Server, cfg.XMPP.CAFile = proxy.Addr, srv.CAFile
	cfg.MultiUser.Enabled, cfg.MultiUser.AllowedDomains = true, []string{srv.Domain}
	cfg.Bridge.StateDir = t.TempDir()
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	ctx, cancel := context.WithCancel(context.Background())
	us := newUsers(ctx, &cfg, logger, &metrics{})
	defer func() {
		cancel()
		us.close()
	}()
	us.capSwitch = func(ircd.Backend) func(string, bool) error { return func(string, bool) error { return nil } }
	us.newXMPP = func(jid, password string) (*xmpp.Session, error) {
		c := xmppConfig(&cfg, jid, password, logger)
		// Short, so that the frozen server times the attempt out soon, and
		// long enough for a login on a busy machine.
		c.ConnectTimeout, c.MinBackoff, c.MaxBackoff = 2*time.Second, 50*time.Millisecond, 200*time.Millisecond
		return xmpp.New(c)
	}

	proxy.Freeze(true) // the server swallows everything: the login times out
	notices := make(chan string, 100)
	done := make(chan error, 1)
	go func() {
		_, _, err := us.Login(context.Background(), ircd.Credentials{Account: jid, Password: "secret", Notice: func(text string) {
			select {
			case notices <- text:
			default:
			}
		}})
		done <- err
	}()
	select {
	case n := <-notices:
		if !strings.Contains(n, "timed out") || !strings.Contains(n, "trying again") {
			t.Errorf("notice %q", n)
		}
	case err := <-done:
		t.Fatalf("the login ended while the server did not answer: %v", err)
	case <-time.After(time.Minute):
		t.Fatal("no notice of the timed out attempt")
	}
	proxy.Freeze(false)
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("login once the server answers: %v", err)
		}
	case <-time.After(time.Minute):
		t.Fatal("the login did not complete once the server answered")
	}
}
