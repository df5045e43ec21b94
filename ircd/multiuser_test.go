package ircd

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"gopkg.in/irc.v4"

	"xircd/internal/pipenet"
)

// fakeAccounts has one fakeBackend per account, each with its password.
type fakeAccounts struct {
	passwords map[string]string
	backends  map[string]*fakeBackend
}

func newFakeAccounts(passwords map[string]string) *fakeAccounts {
	a := &fakeAccounts{passwords: passwords, backends: map[string]*fakeBackend{}}
	for account := range passwords {
		a.backends[account] = newFakeBackend("service")
	}
	return a
}

func (a *fakeAccounts) Features() Features { return newFakeBackend().Features() }

func (a *fakeAccounts) Login(ctx context.Context, cred Credentials) (Backend, string, error) {
	if cred.Account == "" {
		cred.Account, cred.Password, _ = strings.Cut(cred.Password, ":")
	}
	if pw, ok := a.passwords[cred.Account]; !ok || pw != cred.Password {
		return nil, "", errors.New("wrong JID or password")
	}
	return a.backends[cred.Account], cred.Account, nil
}

func multiUserServer(t *testing.T, a Accounts) (*Server, *pipenet.Listener) {
	t.Helper()
	s := NewMultiUserServer(Config{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}, a)
	l := pipenet.Listen()
	done := make(chan error, 1)
	go func() { done <- s.Serve(l) }()
	t.Cleanup(func() {
		s.Shutdown("test over")
		select {
		case <-done:
		case <-time.After(waitTimeout):
			t.Error("Serve did not return after Shutdown")
		}
	})
	return s, l
}

// untilCapAck reads up to and including CAP ACK.
func (c *client) untilCapAck() {
	c.t.Helper()
	for {
		if m := c.next(); m.Command == "CAP" && len(m.Params) > 1 && m.Params[1] == "ACK" {
			return
		}
	}
}

// saslLogin registers a client with SASL PLAIN.
func (c *client) saslLogin(nick, account, password string) {
	c.t.Helper()
	c.send("CAP LS 302", "NICK "+nick, "USER u 0 * :R", "CAP REQ :sasl cap-notify server-time", "AUTHENTICATE PLAIN")
	c.untilCapAck()
	c.expect("AUTHENTICATE", "+")
	c.send("AUTHENTICATE " + saslPlain("", account, password))
	c.expect(RPL_LOGGEDIN, nick, nick+"!u@localhost", account)
	c.expect(RPL_SASLSUCCESS)
	c.send("CAP END")
	c.untilMOTDEnd()
}

func TestMultiUserRouting(t *testing.T) {
	a := newFakeAccounts(map[string]string{"ann@a.example": "pa", "bob@b.example": "pb"})
	_, l := multiUserServer(t, a)
	annB, bobB := a.backends["ann@a.example"], a.backends["bob@b.example"]

	ann1 := dial(t, l)
	ann1.saslLogin("ann", "ann@a.example", "pa")
	ann1Session := annB.waitAttach(t)
	if got := ann1Session.d.Account(); got != "ann@a.example" {
		t.Errorf("Account() = %q", got)
	}
	ann2 := dial(t, l)
	ann2.send("PASS ann@a.example:pa")
	ann2.register("ann")
	annB.waitAttach(t)
	bob := dial(t, l)
	bob.send("PASS bob@b.example:pb")
	bob.register("bob")
	bobSession := bobB.waitAttach(t)
	if got := bobSession.d.Account(); got != "bob@b.example" {
		t.Errorf("PASS Account() = %q", got)
	}

	// LUSERS counts only the clients of the same account.
	ann1.send("LUSERS")
	ann1.expect(irc.RPL_LUSERCLIENT, "ann", "There are 2 users and 0 invisible on 1 servers")
	ann1.until(RPL_GLOBALUSERS)
	bob.send("LUSERS")
	bob.expect(irc.RPL_LUSERCLIENT, "bob", "There are 1 users and 0 invisible on 1 servers")
	bob.until(RPL_GLOBALUSERS)

	// Every command reaches the backend of the client's account only.
	for _, cmd := range []string{"NAMES &xmpp", "WHOIS ann", "ISON ann bob", "WHO &xmpp", "LIST"} {
		bob.send(cmd)
		bob.roundtrip()
		if m := bobSession.waitHandled(t); m.Command != strings.Fields(cmd)[0] {
			t.Errorf("bob's backend got %q for %q", m, cmd)
		}
	}
	ann1.roundtrip()
	select {
	case m := <-ann1Session.handled:
		t.Errorf("ann's backend got bob's %q", m)
	default:
	}

	// A nick one backend reserves is free in the other's namespace... and
	// the service nick is reserved in both.
	bob.send("NICK service")
	bob.expect(irc.ERR_NICKNAMEINUSE, "bob", "service")
	annB.mu.Lock()
	annB.reserved[Casefold("bobsnick")] = true
	annB.mu.Unlock()
	bob.send("NICK bobsnick")
	if m := bobSession.waitHandled(t); m.Command != "NICK" {
		t.Errorf("bob's NICK: %q", m)
	}
	ann1.send("NICK bobsnick")
	ann1.expect(irc.ERR_NICKNAMEINUSE, "ann", "bobsnick")
}

func TestMultiUserLoginFailures(t *testing.T) {
	a := newFakeAccounts(map[string]string{"ann@a.example": "pa"})
	_, l := multiUserServer(t, a)

	sasl := dial(t, l)
	sasl.send("CAP LS 302")
	if ls := sasl.expect("CAP", "*", "LS"); !strings.Contains(ls.Trailing(), "sasl=PLAIN") {
		t.Errorf("multi-user server does not offer SASL: %q", ls)
	}
	sasl.send("NICK ann", "USER u 0 * :R", "CAP REQ sasl", "AUTHENTICATE PLAIN")
	sasl.untilCapAck()
	sasl.expect("AUTHENTICATE", "+")
	sasl.send("AUTHENTICATE " + saslPlain("", "ann@a.example", "guess"))
	sasl.expect(ERR_SASLFAIL, "ann", "SASL authentication failed: wrong JID or password")
	if reason := sasl.expectClosed(); reason != "Login failed: wrong JID or password" {
		t.Errorf("ERROR reason %q", reason)
	}

	pass := dial(t, l)
	pass.send("PASS ann@a.example:guess", "NICK ann", "USER u 0 * :R")
	pass.expect(irc.ERR_PASSWDMISMATCH, "ann", "Login failed: wrong JID or password")
	if reason := pass.expectClosed(); reason != "Login failed: wrong JID or password" {
		t.Errorf("ERROR reason %q", reason)
	}

	none := dial(t, l)
	none.send("NICK ann", "USER u 0 * :R")
	none.expect(irc.ERR_PASSWDMISMATCH, "ann")
	if reason := none.expectClosed(); reason != "Login required" {
		t.Errorf("ERROR reason %q", reason)
	}
	select {
	case s := <-a.backends["ann@a.example"].attached:
		t.Errorf("a failed login attached %v", s.d)
	default:
	}
}

func TestMultiUserCapSwitchPerAccount(t *testing.T) {
	a := newFakeAccounts(map[string]string{"ann@a.example": "pa", "bob@b.example": "pb"})
	s, l := multiUserServer(t, a)
	annB := a.backends["ann@a.example"]
	ann := dial(t, l)
	ann.saslLogin("ann", "ann@a.example", "pa")
	bob := dial(t, l)
	bob.saslLogin("bob", "bob@b.example", "pb")

	if err := s.CapSwitch(annB)("server-time", false); err != nil {
		t.Fatal(err)
	}
	ann.expect("CAP", "ann", "DEL", "server-time")
	bob.send("CAP LIST")
	if m := bob.expect("CAP", "bob", "LIST"); !strings.Contains(m.Trailing(), "server-time") {
		t.Errorf("bob lost server-time with ann's backend: %q", m)
	}

	// A client that logs in to ann's account loses what it withdrew.
	ann2 := dial(t, l)
	ann2.send("CAP LS 302", "NICK ann", "USER u 0 * :R", "CAP REQ :sasl cap-notify server-time", "AUTHENTICATE PLAIN")
	ann2.untilCapAck()
	ann2.expect("AUTHENTICATE", "+")
	ann2.send("AUTHENTICATE " + saslPlain("", "ann@a.example", "pa"))
	ann2.expect("CAP", "ann", "DEL", "server-time")
	ann2.expect(RPL_LOGGEDIN)
}

// noticeAccounts tells the client something while its login waits.
type noticeAccounts struct{ *fakeAccounts }

func (a noticeAccounts) Login(ctx context.Context, cred Credentials) (Backend, string, error) {
	cred.Notice("still logging in")
	return a.fakeAccounts.Login(ctx, cred)
}

// A login that keeps the client waiting can tell it why, before the
// registration completes.
func TestMultiUserLoginNotice(t *testing.T) {
	_, l := multiUserServer(t, noticeAccounts{newFakeAccounts(map[string]string{"ann@a.example": "pa"})})
	c := dial(t, l)
	c.send("PASS ann@a.example:pa", "NICK ann", "USER u 0 * :R")
	c.expect("NOTICE", "ann", "still logging in")
	c.expect(irc.RPL_WELCOME)
}
