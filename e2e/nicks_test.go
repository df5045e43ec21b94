package e2e

import (
	"os"
	"strings"
	"testing"

	"gopkg.in/irc.v4"
)

// A contact whose roster name is the nick the client registers with does not
// cost the user the nick: the client gets it, the contact moves to a suffix
// and is reachable there.
func TestUserKeepsNickHeldByContact(t *testing.T) {
	e := newEnv(t, contact{user: "carol", name: "me"})
	carol := e.peer("carol", "phone")
	e.start()
	// The contact holds "me" before the user's client registers: a first
	// client with another nick sees it there, then leaves.
	scout := e.client("scout")
	waitContact(t, scout, "me")
	scout.send("QUIT")
	e.waitLog("client detached")

	c := dialIRC(t, e.ircAddr)
	c.send("NICK me")
	c.send("USER me 0 * :e2e test")
	if m := c.expect(func(m *irc.Message) bool { return m.Command == "001" || m.Command == "433" }); m.Command != "001" || m.Param(0) != "me" {
		t.Fatalf("registering as me: %s", stripTags(m))
	}
	c.expectLine("JOIN", "&xmpp")

	c.expectLine("NOTICE &xmpp", "carol@localhost is now me_2: me is your own nick")
	if n := namesOf(c, "&xmpp"); !hasName(n, "+me_2") || !hasName(n, "@me") || hasName(n, "+me") || hasName(n, "me") {
		t.Errorf("NAMES %v: want the user as @me and the contact as +me_2", n)
	}

	carol.send(e.userJID, "is that you?")
	m := c.expect(func(m *irc.Message) bool { return m.Command == "PRIVMSG" && m.Trailing() == "is that you?" })
	if m.Prefix.Name != "me_2" || m.Param(0) != "me" {
		t.Errorf("carol's message arrived as %q, want from me_2 to me", stripTags(m))
	}
	c.send("PRIVMSG me_2 :yes, it is")
	carol.expectMessage("yes, it is")
}

// waitLog waits until xircd's log holds text: for what a test cannot
// observe through IRC, such as a client's detach having been handled.
func (e *env) waitLog(text string) {
	e.t.Helper()
	waitFor(e.t, func() bool {
		b, _ := os.ReadFile(e.logFile)
		return strings.Contains(string(b), text)
	})
}
