package bridge

import (
	"strings"
	"testing"
	"time"

	"xircd/xmpp"
)

// Messages from strangers are shown, reduced to one notice that they wrote
// (again only after a while), or ignored, as "set strangers" says; the
// setting is kept. Contacts and the user's own carbons are never held back.
func TestStrangersSetting(t *testing.T) {
	dir := t.TempDir()
	h := newHarness(t, Config{StateDir: dir})
	h.connect(item("alice@example.org", "Alice"))
	c := h.attach("me")
	c.take()
	fromZed := xmpp.Message{From: "zed@example.net/bot", Type: "chat", Body: "buy now"}

	h.event(fromZed)
	c.expect(":zed!zed@example.net PRIVMSG me :buy now")

	c.send("PRIVMSG &xmpp :set strangers sometimes")
	c.expect(":xircd!xircd@irc.test PRIVMSG &xmpp :strangers takes accept, notice or ignore. Usage: set strangers accept|notice|ignore")
	c.send("PRIVMSG &xmpp :set strangers notice")
	c.expect(":xircd!xircd@irc.test PRIVMSG &xmpp :strangers = notice")
	h.event(fromZed)
	h.event(fromZed)
	h.event(xmpp.Message{From: "alice@example.org/phone", Type: "chat", Body: "from a contact"})
	h.event(xmpp.Message{From: "me@example.org/laptop", To: "yan@example.net", Type: "chat", Body: "I wrote this", Carbon: xmpp.CarbonSent})
	c.expect(
		`:xircd!xircd@irc.test NOTICE &xmpp :zed@example.net, who is not in your contacts, wrote to you. Messages from strangers are set to "notice": to read them, "add zed@example.net" or "set strangers accept".`,
		":Alice!alice@example.org PRIVMSG me :from a contact",
		":me!user@localhost PRIVMSG yan :I wrote this",
	)
	h.b.now = func() time.Time { return fixedNow.Add(strangerNoticeEvery) }
	h.event(fromZed)
	c.expect(`:xircd!xircd@irc.test NOTICE &xmpp :zed@example.net, who is not in your contacts, wrote to you. Messages from strangers are set to "notice": to read them, "add zed@example.net" or "set strangers accept".`)

	c.send("PRIVMSG &xmpp :set strangers ignore")
	c.expect(":xircd!xircd@irc.test PRIVMSG &xmpp :strangers = ignore")
	h.event(fromZed)
	c.expect()

	// The setting outlives a restart; the configured value is the default.
	h.stop()
	h2 := newHarness(t, Config{StateDir: dir, Strangers: "accept"})
	h2.connect(item("alice@example.org", "Alice"))
	c2 := h2.attach("me")
	c2.take()
	h2.event(fromZed)
	c2.expect()
	c2.send("PRIVMSG &xmpp :set strangers")
	c2.expect(":xircd!xircd@irc.test PRIVMSG &xmpp :strangers = ignore")
}

// strangers = "ignore" in the configuration: nothing of a stranger reaches
// IRC, not even a nick, while the backlog keeps a contact's messages.
func TestStrangersIgnoredByConfig(t *testing.T) {
	h := newHarness(t, Config{Strangers: "ignore"})
	h.connect(item("alice@example.org", "Alice"))
	h.attach("me").detach()
	h.event(xmpp.Message{From: "zed@example.net/bot", Type: "chat", Body: "buy now"})
	h.event(xmpp.Message{From: "alice@example.org/phone", Type: "chat", Body: "hi"})
	c := h.attach("me")
	got := strings.Join(c.take(), "\n")
	if strings.Contains(got, "zed") || !strings.Contains(got, ":Alice!alice@example.org PRIVMSG me :[2026-03-04 05:06:07] hi") {
		t.Errorf("replay:\n%s", got)
	}
	if _, err := New(Config{Strangers: "maybe"}, newFakeXMPP()); err == nil {
		t.Error("strangers = maybe accepted")
	}
}
