package e2e

import (
	"encoding/base64"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"gopkg.in/irc.v4"

	"xircd/internal/prosodytest"
)

// newMultiUserEnv is an env whose xircd runs in multi-user mode with the
// [multiuser] keys extra. Besides "me" (with the contacts), the account
// "you" exists, with carol as its contact.
func newMultiUserEnv(t *testing.T, extra string, contacts ...contact) *env {
	t.Helper()
	e := newEnv(t, contacts...)
	e.multiUser = &extra
	if _, err := e.srv.Register("you", "you-pass"); err != nil {
		t.Fatal(err)
	}
	carol, err := e.srv.Register("carol", "carol-pass")
	if err != nil {
		t.Fatal(err)
	}
	you := "you@" + e.srv.Domain
	if err := e.srv.SetRoster("you", []prosodytest.RosterEntry{{JID: carol, Name: "carol", Subscription: "both"}}); err != nil {
		t.Fatal(err)
	}
	if err := e.srv.SetRoster("carol", []prosodytest.RosterEntry{{JID: you, Name: "you", Subscription: "both"}}); err != nil {
		t.Fatal(err)
	}
	return e
}

// saslLogin starts a client that logs in to account with SASL PLAIN and
// returns it after the numeric that ends the login (903 or 904).
func (e *env) saslLogin(nick, account, password string) (*ircClient, *irc.Message) {
	e.t.Helper()
	c := dialIRC(e.t, e.ircAddr)
	return c, c.saslLogin(nick, account, password)
}

// saslLogin logs in to account with SASL PLAIN and returns the numeric that
// ends the login (903 or 904).
func (c *ircClient) saslLogin(nick, account, password string) *irc.Message {
	c.t.Helper()
	c.send("CAP LS 302")
	c.send("CAP REQ :sasl")
	c.send("NICK %s", nick)
	c.send("USER %s 0 * :e2e test", nick)
	c.expect(func(m *irc.Message) bool { return m.Command == "CAP" && m.Param(1) == "ACK" })
	c.send("AUTHENTICATE PLAIN")
	c.expectLine("AUTHENTICATE +")
	c.send("AUTHENTICATE %s", base64.StdEncoding.EncodeToString([]byte("\x00"+account+"\x00"+password)))
	return c.expect(func(m *irc.Message) bool { return m.Command == "903" || m.Command == "904" })
}

// saslClient logs in with SASL PLAIN and registers.
func (e *env) saslClient(nick, account, password string) *ircClient {
	e.t.Helper()
	c := dialIRC(e.t, e.ircAddr)
	c.saslRegister(nick, account, password)
	return c
}

// saslRegister logs in with SASL PLAIN and ends the registration.
func (c *ircClient) saslRegister(nick, account, password string) {
	c.t.Helper()
	if m := c.saslLogin(nick, account, password); m.Command != "903" {
		c.t.Fatalf("SASL login of %s: %v", account, m)
	}
	c.send("CAP END")
	c.expect(func(m *irc.Message) bool { return m.Command == "376" || m.Command == "422" })
}

// passLogin starts a client that logs in with PASS jid:password and
// returns it after the end of its MOTD or its 464.
func (e *env) passLogin(nick, jidPassword string) (*ircClient, *irc.Message) {
	e.t.Helper()
	c := dialIRC(e.t, e.ircAddr)
	c.send("PASS %s", jidPassword)
	c.send("NICK %s", nick)
	c.send("USER %s 0 * :e2e test", nick)
	return c, c.expect(func(m *irc.Message) bool { return m.Command == "376" || m.Command == "422" || m.Command == "464" })
}

// expectError waits for the ERROR that closes the connection and returns
// its text.
func (c *ircClient) expectError() string {
	c.t.Helper()
	return c.expect(func(m *irc.Message) bool { return m.Command == "ERROR" }).Trailing()
}

// metrics returns the /metrics value of name.
func (e *env) metric(name string) string {
	e.t.Helper()
	resp, err := http.Get("http://" + e.metricsAddr + "/metrics")
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		e.t.Fatal(err)
	}
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, name+" "); ok {
			return v
		}
	}
	e.t.Fatalf("no %s in /metrics:\n%s", name, b)
	return ""
}

// Two users log in with their own accounts, one with SASL and one with
// PASS; each sees only their own contacts, messages and clients.
func TestMultiUserTwoUsersIsolated(t *testing.T) {
	e := newMultiUserEnv(t, "", contact{user: "alice"})
	alice := e.peer("alice", "phone")
	carol := e.peer("carol", "phone")
	e.start()
	you := "you@" + e.srv.Domain

	me := e.saslClient("me", e.userJID, userPass)
	waitContact(t, me, "alice")
	yours, m := e.passLogin("you", you+":you-pass")
	if m.Command == "464" {
		t.Fatalf("PASS login: %v", m)
	}
	waitContact(t, yours, "carol")

	if n := namesOf(me, "&xmpp"); hasName(n, "+carol") || !hasName(n, "+alice") || hasName(n, "you") {
		t.Errorf("me's NAMES %v", n)
	}
	if n := namesOf(yours, "&xmpp"); hasName(n, "+alice") || !hasName(n, "+carol") || hasName(n, "me") {
		t.Errorf("you's NAMES %v", n)
	}
	yours.send("WHOIS alice")
	yours.expect(func(m *irc.Message) bool { return m.Command == irc.ERR_NOSUCHNICK && m.Param(1) == "alice" })
	yours.send("ISON alice carol me")
	if m := yours.expect(func(m *irc.Message) bool { return m.Command == irc.RPL_ISON }); m.Trailing() != "carol" {
		t.Errorf("you's ISON answer %q", m.Trailing())
	}

	alice.send(e.userJID, "for me only")
	carol.send(you, "for you only")
	me.expect(func(m *irc.Message) bool { return m.Command == "PRIVMSG" && m.Trailing() == "for me only" })
	yours.expect(func(m *irc.Message) bool { return m.Command == "PRIVMSG" && m.Trailing() == "for you only" })
	if n := me.count(func(m *irc.Message) bool { return strings.Contains(m.Trailing(), "for you only") }); n != 0 {
		t.Errorf("me got you's message %d times", n)
	}
	if n := yours.count(func(m *irc.Message) bool { return strings.Contains(m.Trailing(), "for me only") }); n != 0 {
		t.Errorf("you got me's message %d times", n)
	}
	yours.send("PRIVMSG carol :hello carol")
	carol.expectMessage("hello carol")

	// A second client of the same user attaches with the same password...
	second, m := e.passLogin("me2", e.userJID+":"+userPass)
	if m.Command == "464" {
		t.Fatalf("second client: %v", m)
	}
	second.expectLine("NICK me")
	waitContact(t, second, "alice")
	me.send("LUSERS")
	me.expect(func(m *irc.Message) bool {
		return m.Command == irc.RPL_LUSERCLIENT && m.Trailing() == "There are 2 users and 0 invisible on 1 servers"
	})
	yours.send("LUSERS")
	yours.expect(func(m *irc.Message) bool {
		return m.Command == irc.RPL_LUSERCLIENT && m.Trailing() == "There are 1 users and 0 invisible on 1 servers"
	})
	// ...and is refused with another one.
	wrong, m := e.passLogin("me3", e.userJID+":not-"+userPass)
	if m.Command != "464" {
		t.Errorf("a wrong password for a running session: %v", m)
	}
	if reason := wrong.expectError(); !strings.Contains(reason, "authentication failed") {
		t.Errorf("ERROR %q", reason)
	}

	if v := e.metric("xircd_users"); v != "2" {
		t.Errorf("xircd_users %s, want 2", v)
	}
	if v := e.metric("xircd_irc_clients"); v != "3" {
		t.Errorf("xircd_irc_clients %s, want 3", v)
	}
	if v := e.metric("xircd_xmpp_connections"); v != "2" {
		t.Errorf("xircd_xmpp_connections %s, want 2", v)
	}
	if v := e.metric("xircd_messages_to_xmpp_total"); v != "1" {
		t.Errorf("xircd_messages_to_xmpp_total %s, want 1", v)
	}

	// Each user's state lives in its own directory.
	for _, jid := range []string{e.userJID, you} {
		if _, err := os.Stat(filepath.Join(e.dir, "state", jid)); err != nil {
			t.Errorf("state of %s: %v", jid, err)
		}
	}

	// SIGTERM: every client gets ERROR, every XMPP session closes.
	e.stop()
	for _, c := range []*ircClient{me, yours, second} {
		if reason := c.expectError(); reason != "xircd is shutting down" {
			t.Errorf("ERROR %q", reason)
		}
	}
	b, _ := os.ReadFile(e.logFile)
	if strings.Contains(string(b), "did not close in time") {
		t.Errorf("an XMPP session did not close:\n%s", tailString(string(b), 3000))
	}
}

// Logins that must fail: a wrong XMPP password, a domain not allowed,
// JIDs that are not JIDs; and repeated failures are throttled.
func TestMultiUserRefusedLogins(t *testing.T) {
	e := newMultiUserEnv(t, "")
	e.start()

	c, m := e.saslLogin("me", e.userJID, "wrong")
	if m.Command != "904" || !strings.Contains(m.Trailing(), "authentication failed") {
		t.Errorf("SASL with a wrong XMPP password: %v", m)
	}
	c.expectError()
	c, m = e.passLogin("me", e.userJID+":wrong")
	if m.Command != "464" || !strings.Contains(m.Trailing(), "authentication failed") {
		t.Errorf("PASS with a wrong XMPP password: %v", m)
	}
	c.expectError()

	c, m = e.saslLogin("me", "someone@example.com", "pw")
	if m.Command != "904" || !strings.Contains(m.Trailing(), "someone@example.com may not log in here") {
		t.Errorf("a domain not allowed: %v", m)
	}
	c.expectError()

	for _, hostile := range []string{"../x@" + e.srv.Domain, "x@../" + e.srv.Domain, strings.Repeat("a", 250) + "@" + e.srv.Domain, "me\x00@" + e.srv.Domain, "me@" + e.srv.Domain + "/../../etc"} {
		_, m := e.saslLogin("me", hostile, "pw")
		if m.Command != "904" {
			t.Errorf("%.40q: %v", hostile, m)
		}
	}
	if hostile := "../../x@" + e.srv.Domain; true {
		c, m := e.passLogin("me", hostile+":pw")
		if m.Command != "464" || !strings.Contains(m.Trailing(), "bad JID") {
			t.Errorf("%q: %v", hostile, m)
		}
		c.expectError()
	}
	entries, _ := os.ReadDir(e.dir)
	for _, de := range entries {
		if name := de.Name(); name != "state" && name != "xircd.toml" && name != "xircd.log" {
			t.Errorf("%s appeared in the test's directory", name)
		}
	}

	// Two failures so far from this address; three more, and even the right
	// password waits.
	for i := 0; i < 3; i++ {
		c, m := e.saslLogin("me", e.userJID, fmt.Sprintf("wrong%d", i))
		if m.Command != "904" || !strings.Contains(m.Trailing(), "authentication failed") {
			t.Errorf("failure %d: %v", i+3, m)
		}
		c.expectError()
	}
	c, m = e.saslLogin("me", e.userJID, userPass)
	if m.Command != "904" || !strings.Contains(m.Trailing(), "too many failed logins") {
		t.Errorf("after 5 failures: %v", m)
	}
	c.expectError()
	if v := e.metric("xircd_logins_throttled_total"); v != "1" {
		t.Errorf("xircd_logins_throttled_total %s, want 1", v)
	}
	if v := e.metric("xircd_users"); v != "0" {
		t.Errorf("xircd_users %s, want 0", v)
	}
}

// A user's first login costs the XMPP server one connection and one
// login: the session that stays is the one that checks the password. A
// refused login costs one connection too, and its session does not stay.
func TestMultiUserFirstLoginConnectsOnce(t *testing.T) {
	e := newMultiUserEnv(t, "")
	proxy := prosodytest.StartProxy(t, e.srv.Addr)
	e.xmppAddr = proxy.Addr
	e.start()

	c, m := e.saslLogin("me", e.userJID, "wrong")
	if m.Command != "904" {
		t.Fatalf("SASL with a wrong XMPP password: %v", m)
	}
	c.expectError()
	if n := proxy.Connections(); n != 1 {
		t.Errorf("a refused login made %d connections to the XMPP server, want 1", n)
	}

	first := e.saslClient("me", e.userJID, userPass)
	first.expect(func(m *irc.Message) bool { return m.Command == "JOIN" })
	e.saslClient("me2", e.userJID, userPass)
	if n := proxy.Connections(); n != 2 {
		t.Errorf("a refused login, a first login and a second client made %d connections to the XMPP server, want 2", n)
	}
	if v := e.metric("xircd_xmpp_connections"); v != "1" {
		t.Errorf("xircd_xmpp_connections %s, want 1", v)
	}
}

// One user's client that does not read never holds up another user's
// messages.
func TestMultiUserSlowClientDoesNotStallOthers(t *testing.T) {
	e := newMultiUserEnv(t, "", contact{user: "alice"})
	alice := e.peer("alice", "phone")
	carol := e.peer("carol", "phone")
	e.start()
	you := "you@" + e.srv.Domain

	// me's client registers and then stops reading.
	stalledClient(t, e.ircAddr, "me", e.userJID, userPass)
	gw := e.gatewayJID(alice)
	yours := e.saslClient("you", you, "you-pass")
	waitContact(t, yours, "carol")

	// More than the socket buffers hold (about 4 MiB on Linux), so that xircd's
	// writes to the stalled client block.
	long := strings.Repeat("x", 1000)
	const floods, messages = 5000, 50
	for i := 0; i < floods; i++ {
		alice.send(e.userJID, fmt.Sprintf("flood %d %s", i, long))
	}
	alice.synced(gw)
	for i := 0; i < messages; i++ {
		carol.send(you, fmt.Sprintf("message %d", i))
	}
	yours.expect(func(m *irc.Message) bool {
		return m.Command == "PRIVMSG" && m.Trailing() == fmt.Sprintf("message %d", messages-1)
	})
	if n := yours.count(func(m *irc.Message) bool {
		return m.Command == "PRIVMSG" && strings.HasPrefix(m.Trailing(), "message ")
	}); n != messages {
		t.Errorf("you got %d of %d messages", n, messages)
	}
}

// A login while the XMPP server cannot be reached is refused with the
// cause, and is no failure that throttles.
func TestMultiUserServerUnreachable(t *testing.T) {
	e := newMultiUserEnv(t, "")
	e.xmppAddr = freeAddr(t) // nobody listens there
	e.start()
	for i := 0; i < 6; i++ {
		c, m := e.saslLogin("me", e.userJID, userPass)
		if m.Command != "904" || !strings.Contains(m.Trailing(), "cannot reach "+e.xmppAddr) {
			t.Fatalf("attempt %d: %v", i, m)
		}
		if reason := c.expectError(); !strings.Contains(reason, "cannot reach") {
			t.Errorf("ERROR %q", reason)
		}
	}
}

// clients_per_user and rooms_per_user bound one user, not the others.
func TestMultiUserLimits(t *testing.T) {
	e := newMultiUserEnv(t, "clients_per_user = 1\nrooms_per_user = 1")
	e.start()
	me := e.saslClient("me", e.userJID, userPass)
	c, m := e.passLogin("me2", e.userJID+":"+userPass)
	if m.Command != "464" || !strings.Contains(m.Trailing(), "already has 1 clients attached") {
		t.Errorf("a second client beyond clients_per_user: %v", m)
	}
	c.expectError()
	e.saslClient("you", "you@"+e.srv.Domain, "you-pass")

	me.send("JOIN #one")
	me.expect(func(m *irc.Message) bool { return m.Command == "JOIN" && m.Param(0) == "#one" })
	me.send("JOIN #two")
	me.expect(func(m *irc.Message) bool { return m.Command == irc.ERR_TOOMANYCHANNELS && m.Param(1) == "#two" })

	// The first client gone, another may come.
	me.send("QUIT")
	me.expectError()
	waitFor(t, func() bool { return e.metric("xircd_irc_clients") == "1" })
	e.saslClient("me", e.userJID, userPass)
}
