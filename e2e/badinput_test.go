package e2e

import (
	"strings"
	"testing"

	"gopkg.in/irc.v4"

	"xircd/xmpp"
)

// Bad input from IRC gets a clear error and reaches nobody: an overlong
// line, invalid UTF-8, a hostile target. The connection stays usable.
func TestBadIRCInput(t *testing.T) {
	e := newEnv(t, contact{user: "alice"})
	alice := e.peer("alice", "phone")
	e.start()
	c := e.client("me")
	waitContact(t, c, "alice")

	c.send("PRIVMSG alice :%s", strings.Repeat("x", 600))
	c.expect(func(m *irc.Message) bool { return m.Command == "417" })
	c.send("PRIVMSG alice :bad \xff\xfe bytes")
	c.expect(func(m *irc.Message) bool { return m.Command == "FAIL" && m.Param(1) == "INVALID_UTF8" })
	c.send("PRIVMSG alice@localhost</body> :injected?")
	c.expect(func(m *irc.Message) bool { return m.Command == "401" })
	c.send("PRIVMSG alice :still fine <>&")
	alice.expectMessage("still fine <>&")

	// Nothing else reached alice.
	alice.mu.Lock()
	defer alice.mu.Unlock()
	for _, ev := range alice.events {
		if m, ok := ev.(xmpp.Message); ok && m.Body != "" {
			t.Errorf("unexpected message reached the contact: %q", m.Body)
		}
	}
}
