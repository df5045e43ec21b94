package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"xircd/internal/prosodytest"
	"xircd/ircd"
	"xircd/xmpp"
)

// frozenUsers is a multi-user xircd's users whose XMPP server is behind a
// proxy the test can freeze; logins time out after 2 seconds.
func frozenUsers(t *testing.T) (*users, *prosodytest.Server, *prosodytest.Proxy) {
	t.Helper()
	srv := prosodytest.StartT(t, prosodytest.Options{})
	proxy := prosodytest.StartProxy(t, srv.Addr)
	cfg := defaultConfig()
	cfg.XMPP.Server, cfg.XMPP.CAFile = proxy.Addr, srv.CAFile
	cfg.MultiUser.Enabled, cfg.MultiUser.AllowedDomains = true, []string{srv.Domain}
	cfg.Bridge.StateDir = t.TempDir()
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	ctx, cancel := context.WithCancel(context.Background())
	us := newUsers(ctx, &cfg, logger, &metrics{})
	t.Cleanup(func() {
		cancel()
		us.close()
	})
	us.capSwitch = func(ircd.Backend) func(string, bool) error { return func(string, bool) error { return nil } }
	us.xmppConfig = func(jid, password string) xmpp.Config {
		c := xmppConfig(&cfg, jid, password, logger)
		// Short, so that the frozen server times the attempt out soon, and
		// long enough for a login on a busy machine.
		c.ConnectTimeout, c.MinBackoff, c.MaxBackoff = 2*time.Second, 50*time.Millisecond, 200*time.Millisecond
		return c
	}
	return us, srv, proxy
}

// notices collects what a login tells its client.
type notices struct {
	mu   sync.Mutex
	text []string
	news chan struct{}
}

func newNotices() *notices { return &notices{news: make(chan struct{}, 1)} }

func (n *notices) notice(text string) {
	n.mu.Lock()
	n.text = append(n.text, text)
	n.mu.Unlock()
	select {
	case n.news <- struct{}{}:
	default:
	}
}

// waitFor waits for a notice containing want.
func (n *notices) waitFor(t *testing.T, want string) {
	t.Helper()
	deadline := time.After(time.Minute)
	for {
		n.mu.Lock()
		for _, s := range n.text {
			if strings.Contains(s, want) {
				n.mu.Unlock()
				return
			}
		}
		got := strings.Join(n.text, " | ")
		n.mu.Unlock()
		select {
		case <-n.news:
		case <-deadline:
			t.Fatalf("no notice with %q; got %q", want, got)
		}
	}
}

// login runs us.Login for jid in the background.
func login(us *users, ctx context.Context, jid, password string, n *notices) <-chan error {
	done := make(chan error, 1)
	go func() {
		_, _, err := us.Login(ctx, ircd.Credentials{Account: jid, Password: password, Notice: n.notice})
		done <- err
	}()
	return done
}

func wait(t *testing.T, done <-chan error) error {
	t.Helper()
	select {
	case err := <-done:
		return err
	case <-time.After(time.Minute):
		t.Fatal("the login did not end")
		return nil
	}
}

// A new user's first XMPP login that times out (a server too busy to
// answer) keeps the IRC login waiting: the client is told, the session
// tries again, and the login completes once the server answers.
func TestFirstLoginTimeoutIsTriedAgain(t *testing.T) {
	us, srv, proxy := frozenUsers(t)
	jid, err := srv.Register("me", "secret")
	if err != nil {
		t.Fatal(err)
	}
	proxy.Freeze(true) // the server swallows everything: the login times out
	n := newNotices()
	done := login(us, context.Background(), jid, "secret", n)
	n.waitFor(t, "timed out")
	n.waitFor(t, "trying again")
	proxy.Freeze(false)
	if err := wait(t, done); err != nil {
		t.Fatalf("login once the server answers: %v", err)
	}
}

// First logins take turns (maxFirstLogins at once); a client that stops
// waiting leaves its login under way, and its next connection takes it up.
func TestFirstLoginsTakeTurns(t *testing.T) {
	us, srv, proxy := frozenUsers(t)
	us.loginSlots = make(chan struct{}, 1)
	var mu sync.Mutex
	sessions := map[string]int{}
	xmppConfig := us.xmppConfig
	us.xmppConfig = func(jid, password string) xmpp.Config {
		mu.Lock()
		sessions[jid]++
		mu.Unlock()
		return xmppConfig(jid, password)
	}
	me, err := srv.Register("me", "secret")
	if err != nil {
		t.Fatal(err)
	}
	you, err := srv.Register("you", "secret")
	if err != nil {
		t.Fatal(err)
	}
	proxy.Freeze(true)
	mine, yours := newNotices(), newNotices()
	myLogin := login(us, context.Background(), me, "secret", mine)
	mine.waitFor(t, "trying again") // me holds the one turn
	impatient, giveUp := context.WithCancel(context.Background())
	yourLogin := login(us, impatient, you, "secret", yours)
	yours.waitFor(t, "waits its turn")
	giveUp()
	if err := wait(t, yourLogin); err == nil || !strings.Contains(err.Error(), "connect again") {
		t.Fatalf("a client that stopped waiting: %v", err)
	}
	proxy.Freeze(false)
	if err := wait(t, myLogin); err != nil {
		t.Fatalf("my login: %v", err)
	}
	if err := wait(t, login(us, context.Background(), you, "secret", yours)); err != nil {
		t.Fatalf("your next connection: %v", err)
	}
	mu.Lock()
	defer mu.Unlock()
	if sessions[you] != 1 {
		t.Errorf("%d XMPP sessions for you, want the one your next connection took up", sessions[you])
	}
}

// A logged-in user has no goroutine besides their XMPP stream's reader
// and writer and their bridge's owner loop: their events are counted for
// /metrics as the session queues them. Nor do they keep what their first
// login needed.
func TestUserGoroutines(t *testing.T) {
	srv := prosodytest.StartT(t, prosodytest.Options{})
	cfg, err := parseConfig("x.toml", fmt.Appendf(nil, "[xmpp]\nserver = %q\nca_file = %q\n[bridge]\nstate_dir = %q\n[multiuser]\nenabled = true\nallowed_domains = [%q]\n",
		srv.Addr, srv.CAFile, t.TempDir(), srv.Domain))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	us := newUsers(ctx, cfg, slog.New(slog.DiscardHandler), &metrics{})
	t.Cleanup(func() {
		cancel()
		us.close()
	})
	us.capSwitch = func(ircd.Backend) func(string, bool) error { return func(string, bool) error { return nil } }

	const users, perUser = 3, 0
	var jids []string
	for i := range users {
		jid, err := srv.Register(fmt.Sprintf("cost%d", i), "secret")
		if err != nil {
			t.Fatal(err)
		}
		jids = append(jids, jid)
	}
	before := runtime.NumGoroutine()
	for _, jid := range jids {
		if _, _, err := us.Login(context.Background(), ircd.Credentials{Account: jid, Password: "secret"}); err != nil {
			t.Fatal(err)
		}
	}
	us.mu.Lock()
	for jid, u := range us.byJID {
		if u.x.attempts != nil {
			t.Errorf("%s: its first login over, the session keeps the channel of its attempts", jid)
		}
	}
	us.mu.Unlock()
	// What the logins set off (requests waiting for their answers) ends
	// within moments.
	want := before + users*perUser
	for deadline := time.Now().Add(30 * time.Second); runtime.NumGoroutine() > want; time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("%d goroutines for %d users, want at most %d each", runtime.NumGoroutine()-before, users, perUser)
		}
	}
}
