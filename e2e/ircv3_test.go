package e2e

import (
	"strings"
	"testing"

	"gopkg.in/irc.v4"

	"xircd/xmpp"
)

// A contact as IRCv3 clients see it: MONITOR follows its presence, its
// messages and JOIN carry its bare JID as account, a roster name change is
// a SETNAME, and a no-implicit-names client gets no NAMES on attach.
func TestIRCv3ForContacts(t *testing.T) {
	e := newEnv(t, contact{user: "alice"})
	e.start()
	aliceJID := "alice@" + e.srv.Domain
	c := e.client("me", "account-tag", "extended-join", "setname", "extended-monitor", "away-notify", "message-tags", "no-implicit-names")
	c.expectLine("JOIN &xmpp")
	if n := c.count(func(m *irc.Message) bool { return m.Command == "353" || m.Command == "366" }); n > 0 {
		t.Errorf("%d NAMES lines after JOIN with no-implicit-names", n)
	}
	waitContact(t, c, "alice")

	c.send("MONITOR + alice")
	c.expect(func(m *irc.Message) bool { return m.Command == "731" && m.Trailing() == "alice" })

	alice := e.peer("alice", "phone")
	join := c.expect(func(m *irc.Message) bool { return m.Command == "JOIN" && m.Prefix.Name == "alice" })
	if join.Tags["account"] != aliceJID || join.Param(1) != aliceJID || join.Param(2) != aliceJID {
		t.Errorf("alice's JOIN = %q, want account and real name %s", join, aliceJID)
	}
	c.expect(func(m *irc.Message) bool { return m.Command == "730" && m.Trailing() == "alice!alice@"+e.srv.Domain })

	alice.send(e.userJID, "hello from alice")
	msg := c.expectLine("PRIVMSG me", "hello from alice")
	if msg.Tags["account"] != aliceJID {
		t.Errorf("message from alice = %q, want account=%s", msg, aliceJID)
	}
	c.send("WHOIS alice")
	c.expect(func(m *irc.Message) bool { return m.Command == "330" && m.Param(2) == aliceJID })

	// The user's other XMPP client names the contact; the nick stays, the
	// real name follows.
	other := e.peer("me", "other")
	if _, err := other.RosterSet(xmpp.RosterItem{JID: aliceJID, Name: "alice"}); err != nil {
		t.Fatal(err)
	}
	c.expect(func(m *irc.Message) bool {
		return m.Command == "SETNAME" && m.Prefix.Name == "alice" && m.Trailing() == "alice" && m.Tags["account"] == aliceJID
	})

	// Away is still online; offline is 731.
	if err := alice.SetPresence("away", "brb"); err != nil {
		t.Fatal(err)
	}
	c.expect(func(m *irc.Message) bool {
		return m.Command == "AWAY" && m.Prefix.Name == "alice" && strings.HasSuffix(m.Trailing(), "brb")
	})
	alice.Close()
	c.expect(func(m *irc.Message) bool { return m.Command == "731" && m.Trailing() == "alice" })

	// SETNAME from the user is confirmed.
	c.send("SETNAME :Me Myself")
	c.expect(func(m *irc.Message) bool {
		return m.Command == "SETNAME" && m.Prefix.Name == "me" && m.Trailing() == "Me Myself"
	})
	c.send("SETNAME :")
	c.expectLine("FAIL SETNAME INVALID_REALNAME")
}
