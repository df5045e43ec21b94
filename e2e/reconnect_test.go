package e2e

import (
	"fmt"
	"strings"
	"testing"

	"gopkg.in/irc.v4"

	"xircd/internal/prosodytest"
	"xircd/xmpp"
)

// When the XMPP server goes away the IRC client stays connected, is told,
// and sees contacts and presence restored once the session is back.
func TestXMPPReconnect(t *testing.T) {
	e := newEnv(t, contact{user: "alice"})
	alice := e.peer("alice", "phone")
	e.start()
	c := e.client("me")
	waitContact(t, c, "alice")
	waitFor(t, func() bool { return hasName(namesOf(c, "&xmpp"), "+alice") })

	if err := e.srv.Stop(); err != nil {
		t.Fatal(err)
	}
	c.expect(func(m *irc.Message) bool {
		return m.Command == "NOTICE" && m.Param(0) == "&xmpp" && containsFold(m.Trailing(), "disconnected from xmpp")
	})

	if err := e.srv.Restart(); err != nil {
		t.Fatal(err)
	}
	c.expectLine("NOTICE &xmpp", "Connected to XMPP")
	// The peer lost its stream too and logs in again; its presence comes
	// back.
	alice.expect(func(ev xmpp.Event) bool { _, ok := ev.(xmpp.Disconnected); return ok })
	e.peer("alice", "phone")
	waitFor(t, func() bool { return hasName(namesOf(c, "&xmpp"), "+alice") })
	// The IRC connection itself survived throughout.
	if n := c.count(func(m *irc.Message) bool { return m.Command == "ERROR" }); n != 0 {
		t.Errorf("IRC client got ERROR during the XMPP outage")
	}
}

// The TCP connection between xircd and the XMPP server is cut under a
// stream of messages both ways: the stream is resumed (XEP-0198) and every
// message arrives exactly once, on IRC and at the contact.
func TestXMPPConnectionCutUnderTraffic(t *testing.T) {
	e := newEnv(t, contact{user: "alice"})
	proxy := prosodytest.StartProxy(t, e.srv.Addr)
	e.xmppAddr = proxy.Addr
	alice := e.peer("alice", "phone")
	e.start()
	// With server-time, messages the server held are not stamped in the text.
	c := e.client("me", "server-time")
	waitContact(t, c, "alice")

	const n = 30
	body := func(dir string, i int) string { return fmt.Sprintf("%s-%02d", dir, i) }
	for i := range n {
		if i == n/2 {
			// What is in flight now is lost with the connection unless the
			// session sends it again.
			proxy.Freeze(true)
		}
		if i == n/2+5 {
			proxy.Cut()
			proxy.Freeze(false)
		}
		c.send("PRIVMSG alice :%s", body("up", i))
		alice.send(e.userJID, body("down", i))
	}
	// On IRC: each of alice's messages once.
	fromAlice := privmsgFrom("alice")
	waitFor(t, func() bool { return c.count(fromAlice) >= n })
	seen := map[string]int{}
	c.count(func(m *irc.Message) bool {
		if fromAlice(m) {
			seen[m.Trailing()]++
		}
		return false
	})
	for i := range n {
		if got := seen[body("down", i)]; got != 1 {
			t.Errorf("IRC got %q %d times", body("down", i), got)
		}
	}
	if c.count(lineWith("NOTICE &xmpp", "session resumed")) != 1 {
		t.Error("the XMPP stream was not resumed")
	}
	// At alice: each of the user's messages once.
	for i := range n {
		alice.expectMessage(body("up", i))
	}
	alice.mu.Lock()
	defer alice.mu.Unlock()
	for _, ev := range alice.events {
		if m, ok := ev.(xmpp.Message); ok && strings.HasPrefix(m.Body, "up-") {
			t.Errorf("alice got %q twice", m.Body)
		}
	}
}
