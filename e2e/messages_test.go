package e2e

import (
	"strings"
	"testing"
	"time"

	"gopkg.in/irc.v4"

	"xircd/xmpp"
)

func privmsgFrom(nick string) func(*irc.Message) bool {
	return func(m *irc.Message) bool {
		return m.Command == "PRIVMSG" && m.Prefix != nil && m.Prefix.Name == nick
	}
}

// Chat both ways: plain text, /me, multi-line, XML specials, a long unicode
// body, and hostile bodies that must never become anything but PRIVMSG text.
func TestChatBothWays(t *testing.T) {
	e := newEnv(t, contact{user: "alice"})
	alice := e.peer("alice", "phone")
	e.start()
	c := e.client("me", "server-time", "message-tags")
	waitContact(t, c, "alice")

	// IRC → XMPP. XML specials arrive as text.
	c.send("PRIVMSG alice :hello <b>&amp; \"you\"</b>")
	m := alice.expectMessage(`hello <b>&amp; "you"</b>`)
	if !strings.HasPrefix(m.From, e.userJID+"/") || m.Type != "chat" {
		t.Errorf("message from %q type %q", m.From, m.Type)
	}
	c.send("PRIVMSG alice :\x01ACTION waves\x01")
	alice.expectMessage("/me waves")

	// XMPP → IRC.
	alice.send(e.userJID, "hi <there> & welcome")
	got := c.expect(privmsgFrom("alice"))
	if got.Param(0) != "me" || got.Trailing() != "hi <there> & welcome" {
		t.Errorf("got %q", got.String())
	}
	alice.send(e.userJID, "/me smiles")
	if got := c.expect(privmsgFrom("alice")); got.Trailing() != "\x01ACTION smiles\x01" {
		t.Errorf("/me became %q", got.Trailing())
	}
	alice.send(e.userJID, "line one\nline two\r\nline three")
	for _, want := range []string{"line one", "line two", "line three"} {
		if got := c.expect(privmsgFrom("alice")); got.Trailing() != want {
			t.Errorf("multi-line: got %q, want %q", got.Trailing(), want)
		}
	}

	// A 3000-byte unicode body arrives whole, split into lines within IRC's
	// limits (the client checks every line it received when the test ends).
	long := strings.Repeat("Grüße 🌍 ", 300)[:0]
	for len(long) < 3000 {
		long += "Grüße 🌍 "
	}
	alice.send(e.userJID, long)
	var joined strings.Builder
	for joined.Len() < len(strings.TrimSpace(long))-20 {
		joined.WriteString(c.expect(privmsgFrom("alice")).Trailing())
	}
	if strings.ReplaceAll(joined.String(), " ", "") != strings.ReplaceAll(long, " ", "") {
		t.Errorf("long body did not arrive whole:\n got %q\nwant %q", joined.String(), long)
	}

	// Hostile bodies: CR/LF/NUL and IRC command text stay text from alice.
	c.roundtrip()
	before := len(c.rawLines())
	alice.send(e.userJID, "a\r\nQUIT :owned\x00\rPRIVMSG #x :y\n:evil!e@e KICK &xmpp me")
	c.expect(func(m *irc.Message) bool { return m.Command == "PRIVMSG" && strings.Contains(m.Trailing(), "KICK") })
	alice.send(e.userJID, "marker")
	c.expect(func(m *irc.Message) bool { return m.Command == "PRIVMSG" && m.Trailing() == "marker" })
	for _, raw := range c.rawLines()[before:] {
		msg, err := irc.ParseMessage(raw)
		if err != nil {
			t.Fatalf("unparsable line %q", raw)
		}
		if msg.Command != "PRIVMSG" || msg.Prefix.Name != "alice" || msg.Param(0) != "me" {
			t.Errorf("hostile body produced %q", raw)
		}
		if strings.ContainsAny(raw, "\r\n\x00") {
			t.Errorf("raw control character in %q", raw)
		}
	}
}

// A message sent while the user is offline reaches IRC with its original
// time: a server-time tag for clients with the cap, a visible time stamp for
// the others. Here xircd runs with no IRC client attached when the message is
// handed over, so this also covers the backlog.
func TestOfflineMessageKeepsItsTime(t *testing.T) {
	e := newEnv(t, contact{user: "alice"})
	alice := e.peer("alice", "phone")

	alice.send(e.userJID, "first while you were away")
	sent := time.Now()
	time.Sleep(1500 * time.Millisecond) // the stamp must differ from the delivery time
	e.start()
	c := e.client("me", "server-time")
	m := c.expect(func(m *irc.Message) bool {
		return m.Command == "PRIVMSG" && strings.Contains(m.Trailing(), "first while you were away")
	})
	stamp, err := time.Parse(time.RFC3339, m.Tags["time"])
	if err != nil {
		t.Fatalf("no server-time tag: %q", m.String())
	}
	if d := stamp.Sub(sent); d < -3*time.Second || d > time.Second {
		t.Errorf("time tag %s, message was sent at %s", stamp, sent)
	}
	if m.Trailing() != "first while you were away" {
		t.Errorf("with server-time the text must be unchanged, got %q", m.Trailing())
	}

	e.stop()
	// Only once the server has seen the session go is the next message
	// stored offline rather than routed to the closing stream.
	alice.expect(func(ev xmpp.Event) bool {
		p, ok := ev.(xmpp.Presence)
		return ok && strings.HasPrefix(p.From, e.userJID+"/") && p.Type == "unavailable"
	})
	alice.send(e.userJID, "second while you were away")
	sent = time.Now()
	time.Sleep(1500 * time.Millisecond)
	e.start()
	plain := e.client("me")
	m = plain.expect(func(m *irc.Message) bool {
		return m.Command == "PRIVMSG" && strings.Contains(m.Trailing(), "second while you were away")
	})
	if _, ok := m.Tags["time"]; ok {
		t.Errorf("time tag sent to a client without server-time: %q", m.String())
	}
	want := "[" + sent.UTC().Format("2006-01-02 15:04")
	if !strings.HasPrefix(m.Trailing(), want) && !strings.HasPrefix(m.Trailing(), "["+sent.Local().Format("2006-01-02 15:04")) {
		t.Errorf("no visible time stamp: %q, want prefix %q", m.Trailing(), want)
	}
}

// A message the user sent from another XMPP client shows up in the IRC query
// as sent by the user's own nick.
func TestCarbonOfOwnMessage(t *testing.T) {
	e := newEnv(t, contact{user: "alice"})
	alice := e.peer("alice", "phone")
	e.start()
	c := e.client("me")
	waitContact(t, c, "alice")
	phone := e.peer("me", "phone")
	phone.send(alice.jid, "sent from my phone")
	alice.expectMessage("sent from my phone")
	m := c.expect(func(m *irc.Message) bool { return m.Command == "PRIVMSG" && m.Trailing() == "sent from my phone" })
	if m.Prefix.Name != "me" || m.Param(0) != "alice" {
		t.Errorf("carbon shown as %q, want from me to alice", m.String())
	}
}

// An XMPP error reply becomes a NOTICE in the query, never silence.
func TestErrorReplyBecomesNotice(t *testing.T) {
	e := newEnv(t, contact{user: "alice"})
	e.start()
	c := e.client("me")
	waitContact(t, c, "alice")
	c.send("PRIVMSG xircd :add ghost@nowhere.invalid ghost")
	c.expectLine("ghost@nowhere.invalid", "added to the roster")
	c.send("PRIVMSG ghost :are you there?")
	n := c.expect(func(m *irc.Message) bool { return m.Command == "NOTICE" && m.Prefix != nil && m.Prefix.Name == "ghost" })
	t.Logf("error notice: %s", n.Trailing())
	// With s2s disabled Prosody answers not-allowed; the notice must quote
	// the message and carry the condition and the server's text.
	if !strings.Contains(n.Trailing(), "are you there?") || !strings.Contains(n.Trailing(), "not-allowed") || !strings.Contains(n.Trailing(), "remote domains") {
		t.Errorf("error notice %q does not name the reason", n.Trailing())
	}
}

// The user's AWAY reaches the contacts as XMPP presence.
func TestAwayBecomesPresence(t *testing.T) {
	e := newEnv(t, contact{user: "alice"})
	alice := e.peer("alice", "phone")
	e.start()
	c := e.client("me")
	waitContact(t, c, "alice")
	isMine := func(show, status string) func(xmpp.Event) bool {
		return func(ev xmpp.Event) bool {
			p, ok := ev.(xmpp.Presence)
			return ok && strings.HasPrefix(p.From, e.userJID+"/") && p.Show == show && p.Status == status
		}
	}
	c.send("AWAY :gone fishing")
	c.expect(func(m *irc.Message) bool { return m.Command == "306" })
	alice.expect(isMine("away", "gone fishing"))
	c.send("AWAY :dnd: in a meeting")
	alice.expect(isMine("dnd", "in a meeting"))
	c.send("AWAY :xa: on holiday")
	alice.expect(isMine("xa", "on holiday"))
	c.send("AWAY")
	c.expect(func(m *irc.Message) bool { return m.Command == "305" })
	alice.expect(isMine("", ""))
}
