package e2e

import (
	"strings"
	"testing"

	"gopkg.in/irc.v4"
)

func namesOf(c *ircClient, channel string) []string {
	c.t.Helper()
	c.send("NAMES %s", channel)
	var names []string
	for {
		m := c.expect(func(m *irc.Message) bool {
			return (m.Command == "353" && m.Param(2) == channel) || (m.Command == "366" && m.Param(1) == channel)
		})
		if m.Command == "366" {
			return names
		}
		names = append(names, strings.Fields(m.Trailing())...)
	}
}

func hasName(names []string, want string) bool {
	for _, n := range names {
		if n == want {
			return true
		}
	}
	return false
}

// The roster becomes the control channel: available contacts voiced, away
// ones present without voice and marked away, offline ones absent; presence
// changes arrive live as MODE, AWAY, QUIT and JOIN.
func TestRosterAndPresence(t *testing.T) {
	e := newEnv(t, contact{user: "alice", name: "Alice Liddell"}, contact{user: "bob"}, contact{user: "carol"})
	alice := e.peer("alice", "phone")
	bob := e.peer("bob", "laptop")
	if err := bob.SetPresence("away", "at lunch"); err != nil {
		t.Fatal(err)
	}
	e.start()
	c := e.client("me", "away-notify", "multi-prefix")
	c.expectLine("JOIN", "&xmpp")

	// Presence arrives after the roster; wait until both have been seen.
	waitFor(t, func() bool {
		n := namesOf(c, "&xmpp")
		t.Logf("NAMES %v", n)
		return hasName(n, "+Alice_Liddell") && hasName(n, "bob")
	})
	n := namesOf(c, "&xmpp")
	if hasName(n, "carol") || hasName(n, "+carol") {
		t.Errorf("offline carol is in NAMES: %v", n)
	}
	c.send("WHO bob")
	who := c.expect(func(m *irc.Message) bool { return m.Command == "352" })
	if !strings.HasPrefix(who.Param(6), "G") {
		t.Errorf("WHO bob flags = %q, want G (away)", who.Param(6))
	}
	c.send("PRIVMSG bob :hello")
	if m := c.expect(func(m *irc.Message) bool { return m.Command == "301" }); !strings.Contains(m.Trailing(), "at lunch") {
		t.Errorf("301 away text = %q, want it to carry %q", m.Trailing(), "at lunch")
	}

	// Live changes.
	alice.SetPresence("dnd", "busy now")
	c.expectLine("MODE &xmpp -v Alice_Liddell")
	c.expect(func(m *irc.Message) bool {
		return m.Command == "AWAY" && m.Prefix.Name == "Alice_Liddell" && strings.HasSuffix(m.Trailing(), "busy now")
	})
	bob.SetPresence("", "")
	c.expectLine("MODE &xmpp +v bob")
	c.expect(func(m *irc.Message) bool { return m.Command == "AWAY" && m.Prefix.Name == "bob" && len(m.Params) == 0 })
	bob.Close()
	c.expect(func(m *irc.Message) bool { return m.Command == "QUIT" && m.Prefix.Name == "bob" })
	carol := e.peer("carol", "desk")
	_ = carol
	c.expect(func(m *irc.Message) bool { return m.Command == "JOIN" && m.Prefix.Name == "carol" })
	c.expectLine("MODE &xmpp +v carol")

	// WHOIS shows the JID and the resource.
	c.send("WHOIS Alice_Liddell")
	c.expectLine("alice@localhost")
	c.expectLine("phone")
	c.expect(func(m *irc.Message) bool { return m.Command == "318" })
}

// waitContact waits until the bridge knows nick (the roster has arrived):
// WHO nick answers with a 352.
func waitContact(t *testing.T, c *ircClient, nick string) {
	t.Helper()
	waitFor(t, func() bool {
		c.send("WHO %s", nick)
		found := false
		for {
			m := c.expect(func(m *irc.Message) bool { return m.Command == "352" || m.Command == "315" })
			if m.Command == "315" {
				return found
			}
			found = found || m.Param(5) == nick
		}
	})
}
