package e2e

import (
	"testing"

	"gopkg.in/irc.v4"
)

// When the XMPP server goes away the IRC client stays connected, is told,
// and sees contacts and presence restored once the session is back.
func TestXMPPReconnect(t *testing.T) {
	e := newEnv(t, contact{user: "alice"})
	e.peer("alice", "phone")
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
	// The peer's own session reconnects too; its presence comes back.
	waitFor(t, func() bool { return hasName(namesOf(c, "&xmpp"), "+alice") })
	// The IRC connection itself survived throughout.
	if n := c.count(func(m *irc.Message) bool { return m.Command == "ERROR" }); n != 0 {
		t.Errorf("IRC client got ERROR during the XMPP outage")
	}
}
